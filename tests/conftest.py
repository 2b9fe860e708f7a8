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
