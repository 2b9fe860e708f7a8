"""Datasets: MNIST (embedded default), Dogs vs Cats photos, speech in noise."""

# The built-in datasets by name, known without importing TensorFlow (the CLI offers them
# as choices before anything loads); the registry must hold exactly these (tests/cli).
BUILTIN_DATASETS = ("dogs-vs-cats", "mnist", "speech")
