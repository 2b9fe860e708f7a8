"""Paper Fig. 5: photographs with the QGrad-CAM map of every class beside them.

NumPy + matplotlib (Agg) only; :func:`explain_photo_figures` is what ``qgcam explain``
draws for the Dogs vs Cats dataset (:func:`qgcam_tf.viz.datasets.explain_figures`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from qgcam_tf.viz.common import overlay, pyplot, save_figure

__all__ = [
    "save_photo_figure",
    "class_maps",
    "explain_photo_figures",
    "split_figure_maps",
    "test_split_figure",
]


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
    method_names: Sequence[str] | None = None,
) -> str:
    """One row per photo: the photo, then its CAM overlay for each class (for each method).

    Args:
        images: ``[B, H, W, 3]`` in [0, 1].
        maps: ``[C, B, H, W]`` in [0, 1], one map per class and photo; with
            ``method_names``, ``[M, C, B, H, W]``: the columns of each method side by side.
        class_names: ``C`` names (column titles).
        path: PNG to write.
        probabilities: ``[B, C]`` model output, shown in the titles.
        labels: ``[B]`` true classes, shown in the titles.
        alpha: weight of the heatmap in the overlay.
        dpi: resolution of the PNG.
        method_names: ``M`` names, one per method of ``maps`` (shown in the column titles).

    Returns:
        ``path``.

    Raises:
        ValueError: the shapes disagree.
    """
    plt = pyplot()

    images = np.asarray(images, np.float32)
    maps = np.asarray(maps, np.float32)
    methods = None if method_names is None else list(method_names)
    lead = () if methods is None else (len(methods),)
    if images.ndim != 4 or maps.shape != lead + (len(class_names),) + images.shape[:3]:
        want = "" if methods is None else f"{len(methods)}, "
        raise ValueError(
            f"need images [B, H, W, C] and maps [{want}{len(class_names)}, B, H, W]; "
            f"got {images.shape}, {maps.shape}"
        )
    columns = []  # (title, [B, H, W] maps)
    for m, name in enumerate(methods or [None]):
        for k, class_name in enumerate(class_names):
            title = f"map for '{class_name}'" if name is None else f"{name}: '{class_name}'"
            columns.append((title, maps[k] if name is None else maps[m, k]))
    n, c = len(images), len(columns)
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
        for k, (title, column) in enumerate(columns):
            axes[i, k + 1].imshow(overlay(images[i], column[i], alpha=alpha))
            axes[i, k + 1].set_title(title, fontsize=7)
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
        The PNG paths written (``out_dir/photos_METHOD.png``, METHOD the CAM's key of
        :data:`~qgcam_tf.explain.cams.CAM_METHODS`: ``photos_qgradcam.png`` by default).
    """
    names = metadata.get("class_names") or ["cat", "dog"]
    n = min(len(images), max_photos)
    maps, probs = class_maps(cam, images[:n], len(names))
    from qgcam_tf.explain.cams import method_name

    out = os.path.join(out_dir, f"photos_{method_name(cam)}.png")
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


def split_figure_maps(model, bundle, *, per_class: int = 2, seed: int = 0, methods=None):
    """The photos and maps of :func:`test_split_figure`: ``per_class`` test photos of each
    class (drawn with ``seed``) and every class's map by each CAM method.

    Returns:
        ``(picked indices into the test arrays, [M, C, B, H, W] maps, [B, C] probabilities)``.

    Raises:
        ValueError: the bundle has no test arrays; an unknown method.
    """
    from qgcam_tf.explain.cams import make_cam

    if bundle.test_arrays is None:
        raise ValueError("bundle has no test arrays")
    x, y = bundle.test_arrays
    rng = np.random.default_rng(seed)
    picked = []
    for c in range(len(bundle.class_names)):
        picked += rng.permutation(np.flatnonzero(y == c))[:per_class].tolist()
    maps, probs = [], None
    for method in methods or ("qgradcam",):
        m, probs = class_maps(make_cam(method, model), x[picked], len(bundle.class_names))
        maps.append(m)
    return picked, np.stack(maps), probs


def test_split_figure(
    model,
    bundle,
    path: str,
    *,
    per_class: int = 2,
    seed: int = 0,
    dpi: int = 100,
    methods: Sequence[str] | None = None,
) -> str:
    """Fig. 5 from a photo bundle's test split: ``per_class`` photos of each class with the
    map of every class; by QGrad-CAM, or by each CAM method of ``methods`` (names of
    :data:`~qgcam_tf.explain.cams.CAM_METHODS`) side by side.

    Raises:
        ValueError: the bundle has no test arrays; an unknown method.
    """
    picked, maps, probs = split_figure_maps(
        model, bundle, per_class=per_class, seed=seed, methods=methods
    )
    _, y = bundle.test_arrays
    x = bundle.test_arrays[0][picked]
    from qgcam_tf.explain import METHOD_TITLES

    names = None if methods is None else [METHOD_TITLES.get(m, m) for m in methods]
    return save_photo_figure(
        x,
        maps[0] if names is None else maps,
        bundle.class_names,
        path,
        probabilities=probs,
        labels=y[picked],
        dpi=dpi,
        method_names=names,
    )
