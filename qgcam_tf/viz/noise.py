"""What ``qgcam noise`` writes: accuracy and map agreement against noise strength, one
image's map at every configuration of the sweep, and the rows as CSV and JSON.

The rows and the example they draw are those of :func:`qgcam_tf.evaluate.robustness.run_sweep`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence

import numpy as np
from tqdm import tqdm

from qgcam_tf.evaluate import robustness as rb
from qgcam_tf.evaluate.robustness import MAP_METRICS
from qgcam_tf.fileio import write_json_atomic
from qgcam_tf.model.hybrid import CONV_LAYER
from qgcam_tf.model.run import Run
from qgcam_tf.viz.common import overlay, pyplot, save_figure

__all__ = ["circuit_label", "plot_maps", "plot_sweep", "write_noise_sweep"]


def circuit_label(target: rb.QuantumTarget) -> str:
    """The swept circuit in words: ``"10 qubits, depth 2"`` for the paper's,
    ``"4 qubits, depth 1, hardware_efficient"`` for another family, ``"3 qubits, 7 gates"``
    for any other circuit."""
    spec = getattr(target.layer, "spec", None)
    if spec is not None:
        family = "" if spec.ansatz == "paper" else f", {spec.ansatz}"
        return f"{spec.n_qubits} qubits, depth {spec.depth}{family}"
    gates = len(list(target.circuit.all_operations()))
    return f"{target.n_qubits} qubits, {gates} gates"


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


def write_noise_sweep(
    run_dir: str,
    out: str,
    *,
    presets: Sequence[str] = ("depolarizing", "rainbow"),
    strengths: Sequence[float] = (0.0, 0.01, 0.02, 0.05),
    scales: Sequence[float] = (1.0,),
    shots: Sequence[int | None] = (None,),
    count: int = 100,
    repeats: int = 3,
    method: str = "auto",
    repetitions: int = 100,
    data_dir: str | None = None,
    seed: int = 0,
    layer: str = CONV_LAYER,
    score_layer: str | None = None,
    log: Callable[[str], None] = print,
) -> list[str]:
    """Sweeps a run's noisy accuracy and QGrad-CAM maps and writes the results.

    The run's quantum layer may run the paper's circuit, another circuit family
    (``qgcam train --ansatz``) or any circuit (a ``VQCLayer.from_circuit`` or a converted
    ``CircuitLayer`` saved with ``save_model``); hardware presets place it on the device by
    its connectivity (:func:`qgcam_tf.evaluate.robustness.noise_configs`), before any image
    is read.

    Args:
        run_dir: run directory of a hybrid model.
        out: output folder (created).
        presets / strengths / scales / shots / method / repetitions: the sweep
            (:func:`qgcam_tf.evaluate.robustness.noise_configs`).
        count: test images, spread over the classes (``seed`` picks them).
        repeats: runs of each random configuration (trajectories or shots).
        data_dir: a moved copy of the run's data.
        layer: the conv layer the maps explain.
        score_layer: the quantum layer (default: the model's one quantum layer).
        log: where one line per configuration goes.

    Returns:
        The paths written: ``noise.csv``, ``noise.png``, ``noise_maps.png``, ``noise.json``.

    Raises:
        ValueError: the run has no quantum layer, a bad preset or strength, or a hardware
            preset on a circuit that does not fit the device.
    """
    run = Run.open(run_dir)
    model = run.model()
    try:
        target = rb.quantum_target(model, score_layer)
    except ValueError as e:
        raise ValueError(f"--model {run_dir!r}: noise needs a hybrid model ({e})") from e
    configs = rb.noise_configs(
        target,
        presets=presets,
        strengths=strengths,
        scales=scales,
        shots=shots,
        method=method,
        repetitions=repetitions,
    )
    images, labels, _ = run.test_examples(count=count, seed=seed, data_dir=data_dir)
    total = sum(repeats if rb.is_random(c, target) else 1 for c in configs)
    with tqdm(total=total, desc="noise sweep", unit="run") as bar:
        rows, example = rb.run_sweep(
            model,
            images,
            labels,
            configs,
            repeats=repeats,
            seed=seed,
            progress=bar,
            layer=layer,
            score_layer=target.layer.name,
        )
    os.makedirs(out, exist_ok=True)
    paths = {
        name: os.path.join(out, name)
        for name in ("noise.csv", "noise.png", "noise_maps.png", "noise.json")
    }
    rb.write_csv(rows, paths["noise.csv"])
    title = f"{run.dataset}: {len(images)} test images, {circuit_label(target)}"
    plot_sweep(rows, paths["noise.png"], title=title)
    plot_maps(example, paths["noise_maps.png"])
    write_json_atomic(
        paths["noise.json"],
        {
            "model": os.path.abspath(run_dir),
            "dataset": run.dataset,
            "circuit": circuit_label(target),
            "count": len(images),
            "presets": list(presets),
            "strengths": list(strengths),
            "scales": list(scales),
            "shots": list(shots),
            "repeats": repeats,
            "method": method,
            "repetitions": repetitions,
            "seed": seed,
            "rows": rows,
        },
    )
    for r in rows:
        exact = f"{r['shots']} shots" if r["shots"] else "exact"
        log(
            f"{r['preset']:>17} {r['strength']:<6g} {exact:>11}  acc {r['accuracy_mean']:.3f}  "
            f"pearson {r['pearson_mean']:.3f}±{r['pearson_std']:.3f}  iou {r['iou_mean']:.3f}  "
            f"ssim {r['ssim_mean']:.3f}  ({r['seconds']} s)"
        )
    return list(paths.values())
