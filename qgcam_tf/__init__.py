"""qgcam_tf: Quantum Grad-CAM for hybrid CNN + variational quantum circuit classifiers."""

import os

# TensorFlow Quantum's layers need Keras 2 (tf_keras); this must be set before TensorFlow
# is imported anywhere in the process.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from qgcam_tf.circuits import VQCSpec, build_vqc  # noqa: E402

__all__ = ["VQCSpec", "build_vqc"]
__version__ = "0.1.0"
