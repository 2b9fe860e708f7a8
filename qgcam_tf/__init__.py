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
import importlib.util
import os
import sys

# TensorFlow Quantum's layers need Keras 2 (tf_keras); this must be set before TensorFlow
# is imported anywhere in the process.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

_EXPORTS = {
    "VQCSpec": "qgcam_tf.quantum.circuits",
    "build_vqc": "qgcam_tf.quantum.circuits",
    "VQCLayer": "qgcam_tf.model.layers",
    "CircuitLayer": "qgcam_tf.model.layers",
    "convert_to_tf": "qgcam_tf.model.convert",
    "build_hybrid_model": "qgcam_tf.model.hybrid",
    "build_classical_twin": "qgcam_tf.model.hybrid",
    "save_model": "qgcam_tf.model.run",
    "load_model": "qgcam_tf.model.run",
    "QGradCAM": "qgcam_tf.explain.qgradcam",
    "CAMResult": "qgcam_tf.explain.base",
    "export_saved_model": "qgcam_tf.serving.export",
    "CAM_METHODS": "qgcam_tf.explain.cams",
    "GradCAMPlusPlus": "qgcam_tf.explain.cams",
    "HiResCAM": "qgcam_tf.explain.cams",
    "LayerCAM": "qgcam_tf.explain.cams",
    "ScoreCAM": "qgcam_tf.explain.cams",
    "RandomCAM": "qgcam_tf.explain.cams",
    "CentreCAM": "qgcam_tf.explain.cams",
    "DeletionAUC": "qgcam_tf.evaluate.metrics",
    "InsertionAUC": "qgcam_tf.evaluate.metrics",
    "AverageDrop": "qgcam_tf.evaluate.metrics",
    "IncreaseInConfidence": "qgcam_tf.evaluate.metrics",
    "ROAD": "qgcam_tf.evaluate.metrics",
    "map_stability": "qgcam_tf.evaluate.metrics",
    "evaluate_methods": "qgcam_tf.evaluate.faithfulness",
    "NoiseModel": "qgcam_tf.noise.model",
    "make_noise": "qgcam_tf.noise.presets",
    "noisy_executor": "qgcam_tf.noise.executors",
    "NoisyExpectationProgram": "qgcam_tf.noise.executors",
    "add_noise": "qgcam_tf.noise.circuits",
    "presets": "qgcam_tf.noise.presets",
    "load_mnist": "qgcam_tf.data.mnist",
    "train_model": "qgcam_tf.model.training",
}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'qgcam_tf' has no attribute {name!r}")


class _RegisterKerasLayers:
    """Registers the project's Keras layers (VQCLayer, Scale) once ``tf_keras`` is imported.

    A run's ``model.keras`` names them; ``tf_keras.models.load_model`` opens it only when
    they are registered. Importing them here would load TensorFlow with ``qgcam_tf``, so
    this finder waits for ``tf_keras`` (already loaded: registered at once).
    """

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "tf_keras":
            return None
        sys.meta_path.remove(_RegisterKerasLayers)
        spec = importlib.util.find_spec(name)
        exec_module = spec.loader.exec_module

        def exec_and_register(module):
            exec_module(module)
            if "qgcam_tf.model.layers" not in sys.modules:  # else it is being imported now
                importlib.import_module("qgcam_tf.model.hybrid")  # registers VQCLayer, Scale

        spec.loader.exec_module = exec_and_register
        return spec


if "tf_keras" in sys.modules:
    importlib.import_module("qgcam_tf.model.hybrid")
else:
    sys.meta_path.insert(0, _RegisterKerasLayers)


def __dir__():
    """The public API, each name once (not the helpers this module imports)."""
    return sorted({*__all__, "__version__"})
