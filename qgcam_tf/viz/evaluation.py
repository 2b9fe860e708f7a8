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
from qgcam_tf.evaluate import sanity
from qgcam_tf.fileio import atomic_path, write_json_atomic
from qgcam_tf.model.hybrid import VQC_LAYER
from qgcam_tf.model.run import Run
from qgcam_tf.viz.common import pyplot, save_figure

__all__ = [
    "BAR_COLUMNS",
    "CURVE_PANELS",
    "plot_curves",
    "plot_examples",
    "plot_metric_bars",
    "plot_randomisation",
    "plot_model_comparison",
    "write_evaluation",
    "write_randomisation",
]


# The curves drawn by plot_curves, in panel order: (x label, y label, title, summary of a
# curve set [N, T] -> the number in the legend).
CURVE_PANELS = {
    "deletion": (
        "fraction of pixels removed",
        "probability of the explained class",
        "deletion (AUC, lower is better)",
        lambda c: qm.trapezoid_auc(c).mean(),
    ),
    "insertion": (
        "fraction of pixels inserted",
        "probability of the explained class",
        "insertion (AUC, higher is better)",
        lambda c: qm.trapezoid_auc(c).mean(),
    ),
    "pixel_flipping": (
        "fraction of pixels flipped to 0",
        "probability of the explained class",
        "pixel flipping (AUC, lower is better)",
        lambda c: qm.trapezoid_auc(c).mean() if c.shape[1] > 1 else c[:, 0].mean(),
    ),
    "region_perturbation": (
        "patches replaced by noise, most relevant first",
        "drop of the probability f(x) - f(x_k)",
        "region perturbation (AOPC, higher is better)",
        lambda c: c.mean(axis=1).mean(),
    ),
}
# The columns of the bar chart (plot_metric_bars): the standard metric set and localisation.
BAR_COLUMNS = (
    "faithfulness_correlation",
    "pixel_flipping",
    "region_perturbation",
    "max_sensitivity",
    "avg_sensitivity",
    "sparseness",
    "complexity",
    "randomisation",
    "energy_pointing",
    "ink_enrichment",
)


def _style(label: str) -> str:
    if label.startswith("twin"):
        return "--"
    return "-." if label.split(":")[-1] in ("random", "centre") else "-"


def _curve_x(name: str, curves: np.ndarray) -> np.ndarray:
    t = curves.shape[1]
    if name == "pixel_flipping":  # the curve starts after the first step
        return np.arange(1, t + 1) / t
    if name == "region_perturbation":
        return np.arange(t, dtype=np.float64)
    return np.linspace(0, 1, t)


def plot_curves(results: dict, path: str, *, title: str = "") -> bool:
    """Mean curves of every method: deletion, insertion, pixel flipping and region
    perturbation, one panel each for those present (two panels side by side, three or four
    in a 2 x 2 grid); the legend gives each method's mean AUC (AOPC for region
    perturbation).

    Returns:
        False (and writes nothing) when the results hold none of these curves.
    """
    plt = pyplot()

    names = [
        n
        for n in CURVE_PANELS
        if any(n in r.get("curves", {}) for k, r in results.items() if not k.startswith("_"))
    ]
    if not names:
        return False
    rows, cols = (1, len(names)) if len(names) <= 2 else (2, 2)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        xlabel, ylabel, panel_title, summary = CURVE_PANELS[name]
        for label, res in results.items():
            if label.startswith("_") or name not in res["curves"]:
                continue
            curves = res["curves"][name]
            ax.plot(
                _curve_x(name, curves),
                curves.mean(axis=0),
                _style(label),
                label=f"{label} ({summary(curves):.3f})",
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(panel_title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=110, tight=False)
    return True


def plot_metric_bars(rows: list[dict], path: str, *, title: str = "") -> bool:
    """Bar chart of the standard metrics: one panel per column of :data:`BAR_COLUMNS`
    present in ``rows``, one bar per method (mean) with its confidence interval.

    Args:
        rows: summary rows ``{method, metric, better, mean, ci, n}``
            (:func:`qgcam_tf.evaluate.faithfulness.summarize`).
        path: the PNG to write.
        title: the figure's title.

    Returns:
        False (and writes nothing) when no row is of those columns.
    """
    columns = [c for c in BAR_COLUMNS if any(r["metric"] == c for r in rows)]
    if not columns:
        return False
    plt = pyplot()
    methods = list(dict.fromkeys(r["method"] for r in rows if r["metric"] in columns))
    cell = {(r["method"], r["metric"]): r for r in rows}
    n_cols = min(4, len(columns))
    n_rows = -(-len(columns) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.6 * n_cols, 3.2 * n_rows), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    arrow = {"lower": "↓", "higher": "↑"}
    for ax, column in zip(axes.flat, columns):
        present = [m for m in methods if (m, column) in cell]
        means = [cell[(m, column)]["mean"] for m in present]
        cis = [cell[(m, column)]["ci"] for m in present]
        ax.bar(
            range(len(present)),
            means,
            yerr=cis,
            capsize=2,
            color=[colours[methods.index(m) % len(colours)] for m in present],
        )
        ax.set_xticks(range(len(present)))
        ax.set_xticklabels(present, rotation=60, ha="right", fontsize=7)
        better = cell[(present[0], column)]["better"]
        ax.set_title(f"{column} {arrow.get(better, '')}", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    for ax in list(axes.flat)[len(columns) :]:
        ax.set_visible(False)
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
        ``evaluate_maps.png``, ``evaluate_metrics.png`` (:func:`plot_metric_bars`, when a
        standard metric was asked), ``per_sample.npz`` and ``evaluation.json``.
        ``localisation`` is left out (with a log line) for datasets other than MNIST: its
        mask is the ink of a digit.

    Raises:
        ValueError: ``run_dir`` holds a classical model (no VQC layer: its rows would be
            labelled as the hybrid's; a twin goes in ``twin_dir``), ``twin_dir`` holds no
            classical twin, or a bad count, method or data file.
    """
    run = Run.open(run_dir)
    metrics = list(metrics)
    if "localisation" in metrics and run.dataset != "mnist":
        log(f"localisation left out: its mask is the ink of a digit, and {run.dataset} has none")
        metrics.remove("localisation")
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
    bars = os.path.join(out, "evaluate_metrics.png")
    has_bars = plot_metric_bars(rows, bars, title=f"{run.dataset}: {len(images)} test images")
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
    written = [csv_path, md_path] + ([curves] if has_curves else []) + [examples]
    written += ([bars] if has_bars else []) + [npz, summary]
    if diff_rows:
        with open(diff_md) as f:
            log("\nper-image difference to the random baseline of the same model (mean ± 95% CI):")
            log(f.read().rstrip("\n"))
        written += [diff_csv, diff_md]
    return written


# -- randomisation tests ------------------------------------------------------------------------
def _rand_markdown(rows: list[dict], steps: list[str], heading: str) -> str:
    """One method x step table per similarity, mean ± CI half-width."""
    cell = {(r["method"], r["step"], r["metric"]): r for r in rows}
    methods = list(dict.fromkeys(r["method"] for r in rows))
    out = []
    for metric in sanity.SIMILARITIES:
        out.append(f"{heading}, {metric} (mean ± 95 % CI half-width):\n")
        out.append("| method | " + " | ".join(f"`{s}`" for s in steps) + " |")
        out.append("|---" * (len(steps) + 1) + "|")
        for m in methods:
            cells = []
            for step in steps:
                r = cell.get((m, step, metric))
                cells.append("" if r is None else f"{r['mean']:.3f} ± {r['ci']:.3f}")
            out.append(f"| {m} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _write_rand_csv(rows: list[dict], path: str) -> None:
    import csv
    import io

    buf = io.StringIO()
    fields = ["method", "step", "metric", "mean", "ci", "n"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "mean": f"{r['mean']:.6f}", "ci": f"{r['ci']:.6f}"})
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(buf.getvalue())


def plot_randomisation(rows: list[dict], path: str, *, title: str = "") -> bool:
    """Similarity to the trained model's maps against the randomisation step.

    One row of panels per table (the parts one at a time; the cascade from the top), one
    column per similarity (:data:`~qgcam_tf.evaluate.sanity.SIMILARITIES`), one line per
    method with its confidence band (mean ± CI half-width). The x axis holds the steps of
    the method with the most parts (the hybrid's); a model with fewer parts (the twin:
    dense, conv) is placed by part name in the first table, and its shorter cascade ends
    where the hybrid's ends (``dense+conv`` under ``vqc+dense+conv``: everything but the
    output scale).

    Args:
        rows: rows ``{method, step, metric, mean, ci, n}`` of
            :func:`~qgcam_tf.evaluate.sanity.randomisation_test` (``mode="both"``, or one mode).
        path: the PNG to write.
        title: the figure's title.

    Returns:
        False (and writes nothing) for no rows.
    """
    if not rows:
        return False
    plt = pyplot()
    cell = {(r["method"], r["step"], r["metric"]): r for r in rows}
    methods = list(dict.fromkeys(r["method"] for r in rows))
    own = {m: list(dict.fromkeys(r["step"] for r in rows if r["method"] == m)) for m in methods}
    widest = max(own.values(), key=len)  # the hybrid's steps when it is there
    tables = [("independent", sanity.mode_steps(widest, "independent"))]
    if len(sanity.mode_steps(widest, "cascading")) > 2:
        tables.append(("cascading", sanity.mode_steps(widest, "cascading")))
    fig, axes = plt.subplots(
        len(tables), len(sanity.SIMILARITIES), figsize=(15, 4 * len(tables)), squeeze=False
    )
    for i, (mode, axis) in enumerate(tables):
        for j, metric in enumerate(sanity.SIMILARITIES):
            ax = axes[i, j]
            low = 0.0
            for method in methods:
                steps = sanity.mode_steps(own[method], mode)
                if mode == "independent":  # by part name (a twin has no vqc)
                    x = [axis.index(s) for s in steps if s in axis]
                    steps = [s for s in steps if s in axis]
                else:  # a shorter cascade (the twin's) ends where the widest one ends
                    x = [len(axis) - len(steps) + k for k in range(len(steps))]
                present = [(xi, s) for xi, s in zip(x, steps) if (method, s, metric) in cell]
                if not present:
                    continue
                x = [xi for xi, _ in present]
                mean = np.array([cell[(method, s, metric)]["mean"] for _, s in present])
                half = np.array([cell[(method, s, metric)]["ci"] for _, s in present])
                low = min(low, float((mean - half).min()))
                (line,) = ax.plot(x, mean, _style(method), marker="o", label=method)
                ax.fill_between(x, mean - half, mean + half, color=line.get_color(), alpha=0.2)
            ax.set_xticks(range(len(axis)))
            ax.set_xticklabels(axis, fontsize=8)
            ax.set_ylim(min(-0.15, low - 0.05), 1.05)
            where = "each part alone" if mode == "independent" else "cascade from the top"
            ax.set_xlabel(f"randomised: {where}")
            ax.set_ylabel(f"{metric} to the trained model's maps")
            ax.grid(alpha=0.3)
            if i == 0 and j == 0:
                ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=100, tight=False)
    return True


def plot_model_comparison(rows: list[dict], path: str, *, title: str = "") -> bool:
    """Bars of each method's map similarity between two models (the data-randomisation
    test): one panel per similarity, mean with its confidence interval.

    Returns:
        False (and writes nothing) for no rows.
    """
    if not rows:
        return False
    plt = pyplot()
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cell = {(r["method"], r["metric"]): r for r in rows}
    fig, axes = plt.subplots(1, len(sanity.SIMILARITIES), figsize=(13, 3.8), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes[0], sanity.SIMILARITIES):
        present = [m for m in methods if (m, metric) in cell]
        ax.bar(
            range(len(present)),
            [cell[(m, metric)]["mean"] for m in present],
            yerr=[cell[(m, metric)]["ci"] for m in present],
            capsize=2,
            color=[colours[methods.index(m) % len(colours)] for m in present],
        )
        ax.set_xticks(range(len(present)))
        ax.set_xticklabels(present, rotation=45, ha="right", fontsize=8)
        ax.set_ylim(-0.15, 1.05)
        ax.set_title(f"{metric} (lower: the maps depend on the labels)", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=100, tight=False)
    return True


def write_randomisation(
    run_dir: str,
    out: str,
    *,
    methods: Sequence[str],
    parts: bool = True,
    shuffled_dir: str | None = None,
    twin_dir: str | None = None,
    twin_methods: Sequence[str] = ("gradcam", "random"),
    count: int = 500,
    data_dir: str | None = None,
    batch_size: int = 64,
    backend: str = "tfq",
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> list[str]:
    """The randomisation tests of a run's CAMs on its test images: tables and figures.

    Args:
        run_dir: run directory of the hybrid model.
        out: output folder (created).
        methods: names from ``CAM_METHODS``, explained on the hybrid.
        parts: the model-parameter randomisation test per part
            (:func:`~qgcam_tf.evaluate.sanity.randomisation_test` with ``mode="both"``: the
            parts one at a time and the cascade from the top), for ``methods`` and, with
            ``twin_dir``, the twin's ``twin_methods``.
        shuffled_dir: a run of the same architecture trained on shuffled labels (e.g.
            ``scripts/shuffled_labels.py``): the data-randomisation test
            (:func:`~qgcam_tf.evaluate.sanity.compare_models`) of ``methods``.
        twin_dir / twin_methods: a classical twin and its methods (``gradcam`` is its
            Grad-CAM), for the per-part test.
        count / data_dir / seed: which test images (as :func:`write_evaluation`).
        batch_size / backend: images per CAM batch; the hybrid's VQC executor.
        log: where the tables go.

    Returns:
        The paths written: ``randomisation_parts.csv`` / ``.md`` / ``.png`` with
        ``parts``, ``randomisation_data.csv`` / ``.md`` / ``.png`` with ``shuffled_dir``,
        and ``randomisation.json`` (settings, the models' accuracy on these images, rows).

    Raises:
        ValueError: neither test asked, a run without a VQC layer as ``run_dir``, a
            ``twin_dir`` that is no classical twin, or a ``shuffled_dir`` whose model takes
            other inputs or has other outputs than the hybrid.
    """
    if not parts and not shuffled_dir:
        raise ValueError("write_randomisation needs parts=True or a shuffled_dir; got neither")
    run = Run.open(run_dir)
    model = run.model(backend=backend)
    if VQC_LAYER not in [layer.name for layer in model.layers]:
        raise ValueError(f"--model {run_dir!r} has no VQC layer: the hybrid goes in --model")
    twin = _load_twin(twin_dir, model) if twin_dir and parts else None
    shuffled = None
    if shuffled_dir:
        shuffled = Run.open(shuffled_dir).model(backend=backend)
        if tuple(shuffled.input_shape) != tuple(model.input_shape) or tuple(
            shuffled.output_shape
        ) != tuple(model.output_shape):
            raise ValueError(
                f"--randomisation-model {shuffled_dir!r} maps {shuffled.input_shape} -> "
                f"{shuffled.output_shape}, the model {model.input_shape} -> {model.output_shape}"
            )
    images, labels, _ = run.test_examples(count=count, seed=seed, data_dir=data_dir)
    os.makedirs(out, exist_ok=True)

    def accuracy(m) -> float:
        probs = np.concatenate(
            [
                np.asarray(m(images[i : i + batch_size], training=False))
                for i in range(0, len(images), batch_size)
            ]
        )
        return float(np.mean(np.argmax(probs, axis=1) == labels))

    written, summary = [], {"accuracy_on_these_images": {"hybrid": accuracy(model)}}
    kw = dict(batch_size=batch_size, seed=seed)
    title = f"{run.dataset}: {len(images)} test images"
    if parts:
        rows = sanity.randomisation_test(model, images, methods=list(methods), mode="both", **kw)
        if twin is not None:
            names = ["qgradcam" if m == "gradcam" else m for m in twin_methods]
            rows += sanity.randomisation_test(
                twin,
                images,
                methods=names,
                mode="both",
                score_layer="logits",
                labels={n: f"twin:{m}" for n, m in zip(names, twin_methods, strict=True)},
                **kw,
            )
            summary["accuracy_on_these_images"]["twin"] = accuracy(twin)
        paths = [os.path.join(out, f"randomisation_parts.{e}") for e in ("csv", "md", "png")]
        _write_rand_csv(rows, paths[0])
        hybrid_steps = [r["step"] for r in rows if not r["method"].startswith("twin:")]
        twin_steps = [r["step"] for r in rows if r["method"].startswith("twin:")]
        text = []
        for who, names in (("hybrid", hybrid_steps), ("twin", twin_steps)):
            if not names:
                continue
            subset = [r for r in rows if r["method"].startswith("twin:") == (who == "twin")]
            for mode in ("independent", "cascading"):
                heading = f"{who}, {'each part alone' if mode == 'independent' else 'cascade'}"
                text.append(_rand_markdown(subset, sanity.mode_steps(names, mode), heading))
        with atomic_path(paths[1]) as tmp, open(tmp, "w") as f:
            f.write("\n".join(text))
        plot_randomisation(rows, paths[2], title=title + ", randomised parts")
        log("\n".join(text))
        written += paths
        summary["parts"] = rows
    if shuffled is not None:
        rows = sanity.compare_models(model, shuffled, images, methods=list(methods), **kw)
        summary["accuracy_on_these_images"]["shuffled"] = accuracy(shuffled)
        paths = [os.path.join(out, f"randomisation_data.{e}") for e in ("csv", "md", "png")]
        _write_rand_csv(rows, paths[0])
        text = _rand_markdown(rows, ["data"], "trained vs shuffled-label model")
        with atomic_path(paths[1]) as tmp, open(tmp, "w") as f:
            f.write(text)
        plot_model_comparison(rows, paths[2], title=title + ", trained vs shuffled labels")
        log(text)
        written += paths
        summary["data"] = rows
    path = os.path.join(out, "randomisation.json")
    write_json_atomic(
        path,
        {
            "model": os.path.abspath(run_dir),
            "twin": os.path.abspath(twin_dir) if twin is not None else None,
            "shuffled": os.path.abspath(shuffled_dir) if shuffled_dir else None,
            "dataset": run.dataset,
            "count": len(images),
            "methods": list(methods),
            "twin_methods": list(twin_methods) if twin is not None else [],
            "backend": backend,
            "seed": seed,
            **summary,
        },
    )
    return [*written, path]
