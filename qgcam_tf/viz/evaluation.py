"""Figures of ``qgcam evaluate``: mean deletion / insertion curves and each method's maps.

The results they draw are those of :func:`qgcam_tf.evaluate.faithfulness.evaluate_methods`.
"""

from __future__ import annotations

import numpy as np

from qgcam_tf.evaluate import metrics as qm
from qgcam_tf.viz.common import pyplot, save_figure

__all__ = ["plot_curves", "plot_examples"]


def plot_curves(results: dict, path: str, *, title: str = "") -> bool:
    """Mean deletion and insertion curves of every method (one PNG, one panel per metric).

    Returns:
        False (and writes nothing) when the results hold neither curve.
    """
    plt = pyplot()

    names = [
        n
        for n in ("deletion", "insertion")
        if any(n in r.get("curves", {}) for k, r in results.items() if not k.startswith("_"))
    ]
    if not names:
        return False
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        for label, res in results.items():
            if label.startswith("_") or name not in res["curves"]:
                continue
            curves = res["curves"][name]
            x = np.linspace(0, 1, curves.shape[1])
            auc = curves.mean(axis=0)
            style = (
                "--"
                if label.startswith("twin")
                else ("-." if label in ("random", "centre") else "-")
            )
            ax.plot(x, auc, style, label=f"{label} ({qm.trapezoid_auc(curves).mean():.3f})")
        ax.set_xlabel("fraction of pixels " + ("removed" if name == "deletion" else "inserted"))
        ax.set_ylabel("probability of the explained class")
        ax.set_title(f"{name} (AUC {'lower' if name == 'deletion' else 'higher'} is better)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=110, tight=False)
    return True


def plot_examples(images: np.ndarray, results: dict, path: str, *, columns: int = 6) -> None:
    """The first images (top row) and each method's maps for them (one row per method)."""
    plt = pyplot()

    rows = [k for k in results if not k.startswith("_")]
    n = min(columns, len(images), *(len(results[r]["maps_example"]) for r in rows))
    fig, axes = plt.subplots(
        len(rows) + 1, n, figsize=(1.3 * n + 1.2, 1.3 * (len(rows) + 1)), squeeze=False
    )
    for j in range(n):
        img = images[j]
        axes[0, j].imshow(
            img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None
        )
        for i, label in enumerate(rows, start=1):
            axes[i, j].imshow(img[..., 0] if img.shape[-1] == 1 else img.mean(-1), cmap="gray")
            axes[i, j].imshow(
                results[label]["maps_example"][j], cmap="jet", alpha=0.5, vmin=0, vmax=1
            )
    for i, label in enumerate(["input"] + rows):
        axes[i, 0].set_ylabel(label, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    save_figure(fig, path, dpi=100, tight=False)
