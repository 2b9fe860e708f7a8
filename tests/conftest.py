"""Shared fixtures. TF_USE_LEGACY_KERAS must be set before TensorFlow is imported."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    """A seeded NumPy generator (tests stay deterministic)."""
    return np.random.default_rng(1234)


@pytest.fixture
def tiny_images(rng):
    """Six 8x8 grey images in [0, 1]."""
    return rng.uniform(size=(6, 8, 8, 1)).astype(np.float32)


@pytest.fixture
def tiny_noisy_cam():
    """A 3-qubit, depth-1 hybrid on 8x8 images (tf executor, seed 3) and its QGrad-CAM:
    small enough for exact density-matrix noise."""
    import tf_keras as keras

    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.model.hybrid import build_hybrid_model
    from qgcam_tf.quantum.circuits import VQCSpec

    keras.utils.set_random_seed(3)
    model = build_hybrid_model((8, 8, 1), 3, vqc=VQCSpec(3, 1, 3), backend="tf", conv_filters=(4,))
    return model, QGradCAM(model)
