"""Circuit simulation tier: Cirq circuits, basis helpers, the pure-TF compiler, density
matrices, parameter-shift and commutator derivatives, the paper and bond kernels, batch
sharding. No Keras, nothing above it."""

# The circuit families of VQCSpec.ansatz and the input encodings of VQCSpec.encoding /
# VQCLayer, known without importing TensorFlow or Cirq (the CLI offers them as choices
# before anything loads). qgcam_tf.quantum.ansatz builds them.
ANSATZE = ("paper", "hardware_efficient", "reuploading")
ENCODINGS = ("paper", "identity", "atan")
