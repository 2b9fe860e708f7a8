"""Heatmap overlays and figure grids (matplotlib, Agg backend; NumPy only, no TensorFlow)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from qgcam_tf.fileio import atomic_path

__all__ = ["overlay", "pyplot", "save_figure", "save_overlay", "save_grid"]


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def overlay(
    image: np.ndarray, heatmap: np.ndarray, *, alpha: float = 0.5, cmap: str = "jet"
) -> np.ndarray:
    """Blends a [0, 1] heatmap ``[H, W]`` onto an image ``[H, W, C]`` -> RGB float in [0, 1].

    Raises:
        ValueError: the shapes disagree or ``alpha`` is outside [0, 1].
    """
    import matplotlib

    image = np.asarray(image, np.float32)
    heatmap = np.asarray(heatmap, np.float32)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[:2] != heatmap.shape:
        raise ValueError(
            f"heatmap shape {heatmap.shape} does not match image shape {image.shape[:2]}"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
    colours = matplotlib.colormaps[cmap](np.clip(heatmap, 0.0, 1.0))[..., :3]
    return np.clip((1.0 - alpha) * rgb + alpha * colours, 0.0, 1.0)


def save_figure(fig, path: str, *, dpi: int = 120, tight: bool = True) -> str:
    """Writes ``fig`` as a PNG atomically (a reader never sees half a file) and closes it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight" if tight else None, format="png")
    pyplot().close(fig)
    return path


def save_overlay(image: np.ndarray, heatmap: np.ndarray, path: str, *, title: str = "") -> None:
    """Writes one ``input | overlay`` PNG."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(4.4, 2.4))
    _show_input(axes[0], image)
    axes[1].imshow(overlay(image, heatmap))
    for ax in axes:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


def _show_input(ax, image):
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        ax.imshow(np.clip(image, 0.0, 1.0))


def save_grid(
    images: np.ndarray,
    maps: np.ndarray,
    path: str,
    *,
    titles: Sequence[str] | None = None,
    columns: int = 5,
    suptitle: str = "",
    map_title: str = "QGrad-CAM",
) -> None:
    """Writes a grid of ``input | heatmap overlay`` pairs (the layout of the paper's Fig. 4).

    Args:
        images: ``[B, H, W, C]`` in [0, 1].
        maps: ``[B, H, W]`` heatmaps in [0, 1].
        path: output PNG path (written atomically).
        titles: one caption per pair.
        columns: pairs per row.
        suptitle: figure title.
        map_title: the title over every overlay (the CAM method).
    """
    images, maps = np.asarray(images), np.asarray(maps)
    if len(images) != len(maps) or len(images) == 0:
        raise ValueError(f"need as many maps as images (>0), got {len(images)} and {len(maps)}")
    plt = pyplot()
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(
        rows, 2 * columns, figsize=(2.0 * 2 * columns, 2.6 * rows), squeeze=False
    )
    for ax in axes.ravel():
        ax.axis("off")
    for i, (image, heat) in enumerate(zip(images, maps)):
        r, c = divmod(i, columns)
        _show_input(axes[r, 2 * c], image)
        axes[r, 2 * c + 1].imshow(overlay(image, heat))
        if titles is not None:
            axes[r, 2 * c].set_title(titles[i], fontsize=8)
            axes[r, 2 * c + 1].set_title(map_title, fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
