"""Shared fixtures. TF_USE_LEGACY_KERAS must be set before TensorFlow is imported."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")


def shared_data(*parts: str) -> str:
    """Path under ../shared/data; the test is skipped when it is absent."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"test data {path} not available")
    return path


@pytest.fixture
def rng():
    """A seeded NumPy generator (tests stay deterministic)."""
    return np.random.default_rng(1234)


@pytest.fixture
def tiny_images(rng):
    """Six 8x8 grey images in [0, 1]."""
    return rng.uniform(size=(6, 8, 8, 1)).astype(np.float32)
