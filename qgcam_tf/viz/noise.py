"""Figures of ``qgcam noise``: accuracy and map agreement against noise strength, and one
image's map at every configuration of the sweep.

The rows and the example they draw are those of :func:`qgcam_tf.evaluate.robustness.run_sweep`.
"""

from __future__ import annotations

import math

import numpy as np

from qgcam_tf.evaluate.robustness import MAP_METRICS
from qgcam_tf.viz.common import overlay, pyplot, save_figure

__all__ = ["plot_sweep", "plot_maps"]


def plot_sweep(rows: list[dict], path: str, *, title: str = "") -> None:
    """``noise.png``: accuracy and map agreement vs strength, one line per preset and shots."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    lines: dict[tuple, list[dict]] = {}
    for row in rows:
        lines.setdefault((row["preset"], row["shots"]), []).append(row)
    for ax, name in zip(axes, ("accuracy",) + MAP_METRICS):
        for (preset, shots), group in lines.items():
            group = sorted(group, key=lambda r: r["x"])
            x = [r["x"] for r in group]
            y = [r[f"{name}_mean"] for r in group]
            err = [math.hypot(r[f"{name}_std"], r[f"{name}_ci95"]) for r in group]
            label = preset + (f", {shots} shots" if shots else "")
            style = "s--" if preset in ("rainbow", "weber") else "o-"
            ax.errorbar(x, y, yerr=err, fmt=style, capsize=3, label=label, markersize=4)
        ax.set_xlabel("noise strength p")
        ax.set_title(
            {
                "accuracy": "test accuracy",
                "pearson": "Pearson r vs noiseless map",
                "iou": "IoU of top-20% pixels",
                "ssim": "SSIM vs noiseless map",
            }[name]
        )
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    note = (
        "hardware presets (squares) at their mean two-qubit depolarizing p; "
        "bars: repeat std (+) 95% CI over images"
    )
    fig.suptitle(f"{title}\n{note}" if title else note, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=110, tight=False)


def plot_maps(example: dict, path: str) -> None:
    """One image's QGrad-CAM map without noise and at each configuration of the sweep."""

    plt = pyplot()
    panels = [("noiseless", example["reference"])] + [
        (f"{c.preset} {c.strength:g}" + (f"\n{c.shots} shots" if c.shots else ""), m)
        for c, m in example["maps"]
    ]
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(1.9 * (len(panels) + 1), 2.3))
    image = np.asarray(example["image"])
    axes[0].imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
    axes[0].set_title("input", fontsize=8)
    for ax, (label, m) in zip(axes[1:], panels):
        ax.imshow(overlay(image, m))
        ax.set_title(label, fontsize=8)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path, dpi=110, tight=False)
