"""Tests of qgcam_tf.viz.common: overlay colours against a NumPy blend, figures written
atomically as readable PNGs."""

import os
import sys

import matplotlib
import matplotlib.image
import numpy as np
import pytest

from qgcam_tf.viz.common import overlay, pyplot, save_figure, save_grid, save_overlay


def test_overlay_hand_worked_jet_ends():
    """Grey 0.4 under jet's ends, half and half: (0.2, 0.2, 0.45) at 0 and (0.45, 0.2, 0.2) at 1
    (jet runs from (0, 0, 0.5) to (0.5, 0, 0))."""
    image = np.full((1, 2, 1), 0.4, np.float32)
    got = overlay(image, np.array([[0.0, 1.0]]), alpha=0.5)
    np.testing.assert_allclose(got[0, 0], [0.2, 0.2, 0.45], atol=1e-6)
    np.testing.assert_allclose(got[0, 1], [0.45, 0.2, 0.2], atol=1e-6)


def test_overlay_equals_numpy_blend():
    """RGB and grey images blend as (1 - alpha) image + alpha colour, the heatmap clipped to
    [0, 1] before the colour map."""
    rng = np.random.default_rng(0)
    rgb = rng.uniform(size=(5, 7, 3))
    heat = rng.uniform(-0.5, 1.5, size=(5, 7))
    colours = matplotlib.colormaps["viridis"](np.clip(heat, 0, 1))[..., :3]
    got = overlay(rgb, heat, alpha=0.3, cmap="viridis")
    np.testing.assert_allclose(got, 0.7 * rgb + 0.3 * colours, atol=1e-6)
    grey = rng.uniform(size=(5, 7))  # [H, W] is taken as one channel
    expected = 0.7 * np.repeat(grey[..., None], 3, axis=-1) + 0.3 * colours
    np.testing.assert_allclose(overlay(grey, heat, alpha=0.3, cmap="viridis"), expected, atol=1e-6)
    np.testing.assert_allclose(overlay(rgb, heat, alpha=0.0), rgb, atol=1e-6)


def test_overlay_rejects_bad_shapes_and_alpha():
    """A heatmap of another size, or alpha outside [0, 1], raises ValueError naming it."""
    with pytest.raises(ValueError, match=r"heatmap shape \(4, 4\) does not match"):
        overlay(np.zeros((5, 5, 3)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="alpha must be in"):
        overlay(np.zeros((5, 5, 3)), np.zeros((5, 5)), alpha=1.5)


def _figure(width=2.0, height=1.0):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(width, height))
    ax.imshow(np.linspace(0, 1, 12).reshape(3, 4))
    ax.axis("off")
    return fig


def test_save_figure_writes_a_readable_png_atomically(tmp_path):
    """The PNG has the figure's size in pixels, replaces an old file and leaves no temp."""
    path = tmp_path / "sub" / "fig.png"
    assert save_figure(_figure(), str(path), dpi=50, tight=False) == str(path)
    assert matplotlib.image.imread(str(path)).shape[:2] == (50, 100)
    save_figure(_figure(3.0, 1.0), str(path), dpi=50, tight=False)
    assert matplotlib.image.imread(str(path)).shape[:2] == (50, 150)
    assert os.listdir(tmp_path / "sub") == ["fig.png"]


def test_save_figure_that_fails_keeps_the_old_file(tmp_path):
    """A writer that dies halfway leaves the previous PNG whole and no temporary file."""
    path = tmp_path / "fig.png"
    save_figure(_figure(), str(path), dpi=40, tight=False)
    before = path.read_bytes()

    class Broken:
        def savefig(self, target, **kwargs):
            with open(target, "wb") as f:
                f.write(b"\x89PNG half")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_figure(Broken(), str(path))
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["fig.png"]


def test_save_overlay_shows_the_blend(tmp_path):
    """A black image under a heatmap of 1 is drawn as jet's top colour at half strength."""
    path = tmp_path / "one.png"
    save_overlay(np.zeros((16, 16, 1)), np.ones((16, 16)), str(path), title="x")
    pixels = matplotlib.image.imread(str(path))[..., :3]
    dark_red = np.all(np.abs(pixels - [0.25, 0.0, 0.0]) < 0.02, axis=-1)
    assert dark_red.sum() > 100  # the overlay panel
    assert np.all(np.abs(pixels - 0.0) < 0.02, axis=-1).sum() > 100  # the black input panel


def test_save_grid_rows_and_errors(tmp_path):
    """Seven pairs in three columns take three rows (taller than one row of three); unequal
    or empty inputs raise ValueError."""
    rng = np.random.default_rng(1)
    images, maps = rng.uniform(size=(7, 8, 8, 1)), rng.uniform(size=(7, 8, 8))
    save_grid(images, maps, str(tmp_path / "7.png"), columns=3, titles=list("abcdefg"))
    save_grid(images[:3], maps[:3], str(tmp_path / "3.png"), columns=3)
    tall = matplotlib.image.imread(str(tmp_path / "7.png")).shape
    short = matplotlib.image.imread(str(tmp_path / "3.png")).shape
    assert tall[0] > 2 * short[0] and abs(tall[1] - short[1]) < 0.2 * short[1]
    with pytest.raises(ValueError, match="need as many maps as images"):
        save_grid(images, maps[:2], str(tmp_path / "bad.png"))
    with pytest.raises(ValueError, match="need as many maps as images"):
        save_grid(images[:0], maps[:0], str(tmp_path / "bad.png"))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
