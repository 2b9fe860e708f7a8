"""Tests of qgcam_tf.viz.speech: paper Figs. 6-7, spectrograms with their maps and speech band."""

import sys

import numpy as np
import pytest


def test_speech_figure_png_and_shape_errors(tmp_path):
    """Figs. 6-7 are written as a PNG; mismatched maps or marks are rejected."""
    import matplotlib.image

    from qgcam_tf.viz.speech import save_speech_figure

    rng = np.random.default_rng(0)
    spec, maps = rng.uniform(size=(2, 64, 64, 1)), rng.uniform(size=(2, 64, 64))
    marks = rng.uniform(size=(2, 64)) < 0.5
    path = save_speech_figure(spec, maps, marks, str(tmp_path / "fig.png"), titles=["a", "b"])
    assert matplotlib.image.imread(path).shape[0] > 100
    with pytest.raises(ValueError, match="speech"):
        save_speech_figure(spec, maps, marks[:, :10], str(tmp_path / "bad.png"))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
