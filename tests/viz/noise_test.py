"""Tests of qgcam_tf.viz.noise: the figures of ``qgcam noise``."""

import sys

import matplotlib.image
import numpy as np
import pytest

from qgcam_tf.evaluate.robustness import MAP_METRICS, NoiseConfig
from qgcam_tf.viz import noise as viz_noise
from qgcam_tf.viz.noise import plot_maps, plot_sweep


def _row(preset, x, shots, value):
    row = {"preset": preset, "strength": x, "x": x, "shots": shots}
    for name in ("accuracy",) + MAP_METRICS:
        row.update({f"{name}_mean": value, f"{name}_std": 0.03, f"{name}_ci95": 0.04})
    return row


def test_plot_sweep_draws_one_line_per_preset_and_shots(tmp_path, monkeypatch):
    """Rows are grouped by (preset, shots), sorted by strength, with error bars
    sqrt(std^2 + ci95^2) = 0.05; the PNG is readable."""
    rows = [
        _row("depolarizing", 0.05, "", 0.7),
        _row("depolarizing", 0.0, "", 0.9),
        _row("depolarizing", 0.0, 100, 0.8),
        _row("rainbow", 0.01, "", 0.85),
    ]
    plt = viz_noise.pyplot()
    drawn = []
    real_errorbar = plt.Axes.errorbar

    def recording_errorbar(ax, x, y, yerr=None, **kwargs):
        drawn.append((kwargs["label"], list(x), list(y), list(yerr)))
        return real_errorbar(ax, x, y, yerr=yerr, **kwargs)

    monkeypatch.setattr(plt.Axes, "errorbar", recording_errorbar)
    path = tmp_path / "noise.png"
    plot_sweep(rows, str(path), title="t")
    assert len(drawn) == 4 * 3  # four panels, three lines each
    first_panel = {label: (x, y, err) for label, x, y, err in drawn[:3]}
    assert first_panel["depolarizing"] == ([0.0, 0.05], [0.9, 0.7], pytest.approx([0.05] * 2))
    assert first_panel["depolarizing, 100 shots"][:2] == ([0.0], [0.8])
    assert first_panel["rainbow"][:2] == ([0.01], [0.85])
    assert matplotlib.image.imread(str(path)).ndim == 3


def test_plot_maps_one_panel_per_configuration(tmp_path):
    """The input, the noiseless map and one panel per configuration: a wider PNG for more."""
    rng = np.random.default_rng(0)
    configs = [NoiseConfig("depolarizing", s, s, None) for s in (0.0, 0.01, 0.02, 0.05)]
    example = {
        "image": rng.uniform(size=(8, 8, 1)),
        "reference": rng.uniform(size=(8, 8)),
        "maps": [(c, rng.uniform(size=(8, 8))) for c in configs],
    }
    plot_maps(example, str(tmp_path / "four.png"))
    plot_maps({**example, "maps": example["maps"][:1]}, str(tmp_path / "one.png"))
    wide = matplotlib.image.imread(str(tmp_path / "four.png")).shape[1]
    narrow = matplotlib.image.imread(str(tmp_path / "one.png")).shape[1]
    assert 1.7 < wide / narrow < 2.3  # 6 panels against 3


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
