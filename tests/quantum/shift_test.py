"""Tests for qgcam_tf.quantum.shift: finite-shot estimates against the binomial law."""

import sys

import numpy as np
import pytest

from qgcam_tf.quantum.shift import sample_expectations


def test_sample_expectations_are_binomial_shot_estimates():
    """Shot estimates: exact at <Z> = +-1, multiples of 2/shots, unbiased within 4 sigma."""
    rng = np.random.default_rng(0)
    exact = np.array([[-1.0, -0.5, 0.0, 0.3, 1.0]])
    assert np.array_equal(sample_expectations(np.array([-1.0, 1.0]), 7, rng), [-1.0, 1.0])
    shots = 200
    draws = sample_expectations(np.repeat(exact, 2000, axis=0), shots, rng)  # [2000, 5]
    k = (draws + 1.0) * shots / 2.0
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)
    sigma = np.sqrt((1 - exact**2) / shots / len(draws))  # std of the mean of the estimates
    assert np.all(np.abs(draws.mean(axis=0) - exact) <= 4 * sigma + 1e-12)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="shots must be an int >= 1"):
            sample_expectations(exact, bad, rng)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
