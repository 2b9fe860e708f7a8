"""Paper Fig. 5: photographs with the QGrad-CAM map of every class beside them.

NumPy + matplotlib (Agg) only; :func:`explain_photo_figures` is what ``qgcam explain``
draws for the Dogs vs Cats dataset (:func:`qgcam_tf.viz.datasets.explain_figures`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from qgcam_tf.viz.common import overlay, pyplot, save_figure

__all__ = ["save_photo_figure", "class_maps", "explain_photo_figures", "test_split_figure"]


def class_maps(cam, images: np.ndarray, n_classes: int):
    """Maps of every class: ``([C, B, H, W] maps, [B, C] probabilities)`` from a CAM object."""
    results = [cam(images, class_index=c) for c in range(n_classes)]
    return np.stack([r.maps for r in results]), results[0].probabilities


def save_photo_figure(
    images: np.ndarray,
    maps: np.ndarray,
    class_names: Sequence[str],
    path: str,
    *,
    probabilities: np.ndarray | None = None,
    labels: Sequence[int] | None = None,
    alpha: float = 0.45,
    dpi: int = 100,
) -> str:
    """One row per photo: the photo, then its QGrad-CAM overlay for each class.

    Args:
        images: ``[B, H, W, 3]`` in [0, 1].
        maps: ``[C, B, H, W]`` in [0, 1], one map per class and photo.
        class_names: ``C`` names (column titles).
        path: PNG to write.
        probabilities: ``[B, C]`` model output, shown in the titles.
        labels: ``[B]`` true classes, shown in the titles.
        alpha: weight of the heatmap in the overlay.
        dpi: resolution of the PNG.

    Returns:
        ``path``.

    Raises:
        ValueError: the shapes disagree.
    """
    plt = pyplot()

    images = np.asarray(images, np.float32)
    maps = np.asarray(maps, np.float32)
    if images.ndim != 4 or maps.shape != (len(class_names),) + images.shape[:3]:
        raise ValueError(
            f"need images [B, H, W, C] and maps [{len(class_names)}, B, H, W]; "
            f"got {images.shape}, {maps.shape}"
        )
    n, c = len(images), len(class_names)
    fig, axes = plt.subplots(n, c + 1, figsize=(1.7 * (c + 1), 1.8 * n), squeeze=False)
    for i in range(n):
        head = "photo"
        if labels is not None:
            head = f"true {class_names[int(labels[i])]}"
        if probabilities is not None:
            head += (
                f", p({class_names[int(np.argmax(probabilities[i]))]})={probabilities[i].max():.2f}"
            )
        axes[i, 0].imshow(np.clip(images[i], 0, 1))
        axes[i, 0].set_title(head, fontsize=7)
        for k in range(c):
            axes[i, k + 1].imshow(overlay(images[i], maps[k, i], alpha=alpha))
            axes[i, k + 1].set_title(f"map for '{class_names[k]}'", fontsize=7)
        for ax in axes[i]:
            ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path, dpi=dpi, tight=False)
    return path


def explain_photo_figures(
    out_dir, images, cam, result, metadata, labels=None, *, max_photos: int = 6
) -> list[str]:
    """``qgcam explain``'s Dogs vs Cats figure: each photo with its maps for every class
    (paper Fig. 5).

    Returns:
        The PNG paths written (``out_dir/photos_qgradcam.png``).
    """
    names = metadata.get("class_names") or ["cat", "dog"]
    n = min(len(images), max_photos)
    maps, probs = class_maps(cam, images[:n], len(names))
    out = os.path.join(out_dir, "photos_qgradcam.png")
    return [
        save_photo_figure(
            images[:n],
            maps,
            names,
            out,
            probabilities=probs,
            labels=None if labels is None else labels[:n],
        )
    ]


def test_split_figure(
    model, bundle, path: str, *, per_class: int = 2, seed: int = 0, dpi: int = 100
) -> str:
    """Fig. 5 from a photo bundle's test split: ``per_class`` photos of each class with the
    map of every class.

    Raises:
        ValueError: the bundle has no test arrays.
    """
    from qgcam_tf.explain.qgradcam import QGradCAM

    if bundle.test_arrays is None:
        raise ValueError("bundle has no test arrays")
    x, y = bundle.test_arrays
    rng = np.random.default_rng(seed)
    picked = []
    for c in range(len(bundle.class_names)):
        picked += rng.permutation(np.flatnonzero(y == c))[:per_class].tolist()
    maps, probs = class_maps(QGradCAM(model), x[picked], len(bundle.class_names))
    return save_photo_figure(
        x[picked], maps, bundle.class_names, path, probabilities=probs, labels=y[picked], dpi=dpi
    )
