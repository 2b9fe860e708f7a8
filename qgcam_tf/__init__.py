"""qgcam_tf: Quantum Grad-CAM for hybrid CNN + variational quantum circuit classifiers.

    import qgcam_tf as qg
    spec  = qg.VQCSpec(n_qubits=10, depth=2, n_outputs=10)
    model = qg.build_hybrid_model((28, 28, 1), 10, vqc=spec, backend="tfq")
    cam   = qg.QGradCAM(model, layer="qgcam_conv")
    res   = cam(images)               # res.maps [B, H, W] in [0, 1]

Names are imported on first use, so ``import qgcam_tf`` (and the ``qgcam`` CLI) can set
up the environment before TensorFlow loads.
"""

import importlib
import os

# TensorFlow Quantum's layers need Keras 2 (tf_keras); this must be set before TensorFlow
# is imported anywhere in the process.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

_EXPORTS = {
    "VQCSpec": "qgcam_tf.circuits",
    "build_vqc": "qgcam_tf.circuits",
    "VQCLayer": "qgcam_tf.layers",
    "build_hybrid_model": "qgcam_tf.models",
    "build_classical_twin": "qgcam_tf.models",
    "save_model": "qgcam_tf.models",
    "load_model": "qgcam_tf.models",
    "QGradCAM": "qgcam_tf.gradcam",
    "CAMResult": "qgcam_tf.gradcam",
    "export_saved_model": "qgcam_tf.export",
    "CAM_METHODS": "qgcam_tf.cams",
    "GradCAMPlusPlus": "qgcam_tf.cams",
    "HiResCAM": "qgcam_tf.cams",
    "LayerCAM": "qgcam_tf.cams",
    "ScoreCAM": "qgcam_tf.cams",
    "RandomCAM": "qgcam_tf.cams",
    "CentreCAM": "qgcam_tf.cams",
    "DeletionAUC": "qgcam_tf.metrics",
    "InsertionAUC": "qgcam_tf.metrics",
    "AverageDrop": "qgcam_tf.metrics",
    "IncreaseInConfidence": "qgcam_tf.metrics",
    "ROAD": "qgcam_tf.metrics",
    "map_stability": "qgcam_tf.metrics",
    "evaluate_methods": "qgcam_tf.evaluation",
    "NoiseModel": "qgcam_tf.noise",
    "make_noise": "qgcam_tf.noise",
    "noisy_executor": "qgcam_tf.noise",
    "presets": "qgcam_tf.noise",
    "load_mnist": "qgcam_tf.data.mnist",
    "train_model": "qgcam_tf.training",
}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'qgcam_tf' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
