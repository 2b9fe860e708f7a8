"""Tests of qgcam_tf.viz.photos: paper Fig. 5, each photo with the map of every class."""

import sys

import numpy as np
import pytest


def test_photo_figure_png_and_shape_errors(tmp_path):
    """Fig. 5 is written as a PNG with one overlay per class; mismatched maps are rejected."""
    import matplotlib.image

    from qgcam_tf.viz.photos import save_photo_figure

    rng = np.random.default_rng(0)
    images, maps = rng.uniform(size=(2, 16, 16, 3)), rng.uniform(size=(2, 2, 16, 16))
    path = save_photo_figure(
        images,
        maps,
        ("cat", "dog"),
        str(tmp_path / "fig.png"),
        probabilities=np.array([[0.7, 0.3], [0.2, 0.8]]),
        labels=[0, 1],
    )
    assert matplotlib.image.imread(path).shape[0] > 100
    with pytest.raises(ValueError, match="maps"):
        save_photo_figure(images, maps[:1], ("cat", "dog"), str(tmp_path / "bad.png"))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
