"""qgcam_tf.bench.noisy: one tiny run of noisy_rows whose numbers must agree with each other
and with the maps they time."""

from __future__ import annotations

import os
import statistics
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

from qgcam_tf.bench.noisy import NoisyParams, noisy_rows  # noqa: E402

TINY = NoisyParams(
    ns=(2,),
    batch=3,
    depth=1,
    image_shape=(6, 6, 1),
    strength=0.05,
    repetitions=100,
    pairs=4,
    warmup=1,
    sweep_presets=("depolarizing", "rainbow"),
    sweep_n=2,
    sweep_batch=3,
)


def test_params_are_checked():
    """A bad field is one ValueError naming it and the value."""
    with pytest.raises(ValueError, match=r"ns must be ints in \[2, 10\], got \(12,\)"):
        noisy_rows(NoisyParams(ns=(12,)))
    with pytest.raises(ValueError, match="batch must be an int >= 1, got 0"):
        noisy_rows({"batch": 0})


@pytest.fixture(scope="module")
def tiny_rows():
    """One run of noisy_rows on 2 qubits, 3 maps, 4 pairs."""
    return noisy_rows(TINY)


def test_ratios_and_rates_are_the_recorded_timings(tiny_rows):
    """The speedup is the median of the recorded per-pair trajectories/density ratios, and
    the rates are the batch over the median recorded seconds."""
    pairs = tiny_rows["pairs"]["2"]
    assert len(pairs) == TINY.pairs and all(a > 0 and b > 0 for a, b in pairs)
    want = statistics.median(b / a for a, b in pairs)
    assert tiny_rows["paired"]["density_over_trajectories"]["2"] == pytest.approx(want, rel=1e-12)
    rates = tiny_rows["noisy_maps_per_s"]
    assert rates["density"]["2"] == pytest.approx(
        TINY.batch / statistics.median(a for a, _ in pairs), rel=1e-12
    )
    assert rates["trajectories"]["2"] == pytest.approx(
        TINY.batch / statistics.median(b for _, b in pairs), rel=1e-12
    )
    assert tiny_rows["peak_mb"]["density"]["2"] > 0


def test_density_and_trajectory_maps_agree_within_their_standard_error(tiny_rows):
    """The exact maps lie within a few standard errors of the mean trajectory maps (RMS over
    pixels; 1 expected, and a chi of 4 over 4 pairs would be a real disagreement)."""
    chi = tiny_rows["agreement"]["2"]
    assert np.isfinite(chi) and chi < 4.0, chi


def test_sweep_rows_cover_each_preset_with_its_time(tiny_rows):
    """Every sweep preset has a rate equal to its batch over its recorded seconds, run by the
    exact method that "auto" picks at 2 qubits."""
    for preset in TINY.sweep_presets:
        seconds = tiny_rows["noise_sweep_seconds"][preset]
        assert tiny_rows["noise_sweep_maps_per_s"][preset] == pytest.approx(
            TINY.sweep_batch / seconds, rel=1e-12
        )
        assert tiny_rows["noise_sweep_method"][preset] == "density"
    assert tiny_rows["params"]["ns"] == (2,)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
