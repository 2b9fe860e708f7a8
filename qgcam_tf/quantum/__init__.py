"""Circuit simulation tier: Cirq circuits, basis helpers, the pure-TF compiler, density
matrices, the paper and bond kernels, batch sharding. No Keras, nothing above it."""
