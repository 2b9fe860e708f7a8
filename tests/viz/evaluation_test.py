"""Tests of qgcam_tf.viz.evaluation: the figures of ``qgcam evaluate``."""

import sys

import numpy as np
import pytest

from qgcam_tf.viz.evaluation import plot_curves


def test_plot_curves_only_for_present_metrics(tmp_path):
    """No deletion/insertion curves: no figure and False; deletion only: a one-panel figure."""
    none = {"qgradcam": {"values": {"avg_drop": np.ones(2)}, "curves": {}}}
    assert not plot_curves(none, str(tmp_path / "a.png"))
    assert not (tmp_path / "a.png").exists()
    one = {"qgradcam": {"values": {}, "curves": {"deletion": np.array([[1.0, 0.5, 0.0]])}}}
    assert plot_curves(one, str(tmp_path / "b.png"))
    import matplotlib.image as mpimg

    height, width = mpimg.imread(str(tmp_path / "b.png")).shape[:2]
    assert width < 1.5 * height  # one 5.5 x 4.2 inch panel, not two side by side


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
