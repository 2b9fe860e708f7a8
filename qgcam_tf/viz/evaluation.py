"""What ``qgcam evaluate`` writes: the tables, mean deletion / insertion curves, each
method's maps, and the per-image values.

The results they draw are those of :func:`qgcam_tf.evaluate.faithfulness.evaluate_methods`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
from tqdm import tqdm

from qgcam_tf.evaluate import faithfulness as ev
from qgcam_tf.evaluate import metrics as qm
from qgcam_tf.fileio import atomic_path, write_json_atomic
from qgcam_tf.model.hybrid import VQC_LAYER
from qgcam_tf.model.run import Run
from qgcam_tf.viz.common import pyplot, save_figure

__all__ = ["plot_curves", "plot_examples", "write_evaluation"]


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


def _load_twin(twin_dir: str, model):
    twin = Run.open(twin_dir).model()
    if "logits" not in [layer.name for layer in twin.layers]:
        raise ValueError(f"--twin {twin_dir!r} is not a classical twin (no 'logits' layer)")
    if tuple(twin.input_shape[1:]) != tuple(model.input_shape[1:]):
        raise ValueError(
            f"--twin takes inputs {twin.input_shape[1:]}, the model {model.input_shape[1:]}"
        )
    return twin


def write_evaluation(
    run_dir: str,
    out: str,
    *,
    methods: Sequence[str],
    metrics: Sequence[str],
    count: int = 500,
    twin_dir: str | None = None,
    twin_methods: Sequence[str] = ("gradcam", "random"),
    data_dir: str | None = None,
    steps: int = 28,
    batch_size: int = 64,
    backend: str = "tfq",
    seed: int = 0,
    aug_smooth: bool = False,
    eigen_smooth: bool = False,
    log: Callable[[str], None] = print,
) -> list[str]:
    """Scores CAM methods on a run's test images and writes tables, figures and values.

    Args:
        run_dir: run directory of the hybrid model.
        out: output folder (created).
        methods / metrics: names from ``CAM_METHODS`` and ``faithfulness.METRICS``.
        count: test images, spread over the classes (``seed`` picks them).
        twin_dir: run directory of a classical twin, scored with ``twin_methods``
            (``gradcam`` is the twin's Grad-CAM).
        data_dir: a moved copy of the run's data.
        steps / batch_size: deletion/insertion steps; images per batch.
        backend: the hybrid's VQC executor.
        aug_smooth / eigen_smooth: smooth every method's maps
            (:class:`~qgcam_tf.explain.base.BaseCAM`).
        log: where the tables and progress lines go.

    Returns:
        The paths written: ``evaluation.csv`` / ``.md`` (mean and 95 % interval),
        ``evaluation_vs_random.*`` (paired differences), ``evaluate_curves.png``,
        ``evaluate_maps.png``, ``per_sample.npz`` and ``evaluation.json``.

    Raises:
        ValueError: ``run_dir`` holds a classical model (no VQC layer: its rows would be
            labelled as the hybrid's; a twin goes in ``twin_dir``), ``twin_dir`` holds no
            classical twin, or a bad count, method or data file.
    """
    run = Run.open(run_dir)
    model = run.model(backend=backend)
    if VQC_LAYER not in [layer.name for layer in model.layers]:
        # Its rows would be labelled hybrid and QGrad-CAM while they are the twin's Grad-CAM.
        raise ValueError(
            f"--model {run_dir!r} has no VQC layer: it is a classical model, and evaluate "
            "scores a hybrid's CAMs; pass a classical twin as --twin beside its hybrid --model"
        )
    twin = _load_twin(twin_dir, model) if twin_dir else None
    images, labels, idx = run.test_examples(count=count, seed=seed, data_dir=data_dir)

    n_batches = -(-len(images) // batch_size)
    total = n_batches * (len(methods) + (len(twin_methods) if twin is not None else 0))
    common = dict(
        metrics=list(metrics),
        batch_size=batch_size,
        steps=steps,
        seed=seed,
        aug_smooth=aug_smooth,
        eigen_smooth=eigen_smooth,
    )
    with tqdm(total=total, desc="evaluate", unit="batch") as bar:
        bar.set_postfix_str(f"hybrid: {', '.join(methods)}")
        results = ev.evaluate_methods(model, images, methods=list(methods), progress=bar, **common)
        accuracy = {"hybrid": float(np.mean(results["_class_index"] == labels))}
        if twin is not None:
            bar.set_postfix_str(f"twin: {', '.join(twin_methods)}")
            names = ["qgradcam" if m == "gradcam" else m for m in twin_methods]
            labels_twin = {n: f"twin:{m}" for n, m in zip(names, twin_methods, strict=True)}
            twin_results = ev.evaluate_methods(
                twin,
                images,
                methods=names,
                score_layer="logits",
                labels=labels_twin,
                progress=bar,
                **common,
            )
            accuracy["twin"] = float(np.mean(twin_results["_class_index"] == labels))
            results.update({k: v for k, v in twin_results.items() if not k.startswith("_")})

    rows = ev.summarize(results)
    os.makedirs(out, exist_ok=True)
    csv_path, md_path = (os.path.join(out, f"evaluation.{ext}") for ext in ("csv", "md"))
    ev.write_tables(rows, csv_path, md_path)
    diff_rows = ev.paired_differences(results)
    diff_csv, diff_md = (os.path.join(out, f"evaluation_vs_random.{ext}") for ext in ("csv", "md"))
    if diff_rows:
        ev.write_tables(diff_rows, diff_csv, diff_md)
    curves = os.path.join(out, "evaluate_curves.png")
    title = f"{run.dataset}: {len(images)} test images, mean curves (AUC)"
    has_curves = plot_curves(results, curves, title=title)
    examples = os.path.join(out, "evaluate_maps.png")
    plot_examples(images, results, examples)
    npz = os.path.join(out, "per_sample.npz")
    arrays = {"indices": idx, "labels": labels}
    for label, res in results.items():
        if label.startswith("_"):
            continue
        arrays.update({f"{label}/{k}": v for k, v in res["values"].items()})
        arrays.update({f"{label}/curve_{k}": v for k, v in res["curves"].items()})
    with atomic_path(npz, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    summary = os.path.join(out, "evaluation.json")
    write_json_atomic(
        summary,
        {
            "model": os.path.abspath(run_dir),
            "twin": os.path.abspath(twin_dir) if twin_dir else None,
            "dataset": run.dataset,
            "count": len(images),
            "accuracy_on_these_images": accuracy,
            "methods": list(methods),
            "twin_methods": list(twin_methods) if twin is not None else [],
            "metrics": list(metrics),
            "steps": steps,
            "backend": backend,
            "seed": seed,
            "rows": rows,
            "vs_random": diff_rows,
        },
    )
    with open(md_path) as f:
        log(f.read().rstrip("\n"))
    written = [csv_path, md_path] + ([curves] if has_curves else []) + [examples, npz, summary]
    if diff_rows:
        with open(diff_md) as f:
            log("\nper-image difference to the random baseline of the same model (mean ± 95% CI):")
            log(f.read().rstrip("\n"))
        written += [diff_csv, diff_md]
    return written
