"""Evaluating CAM methods with the faithfulness metrics: per-sample values, tables, curves.

:func:`evaluate_methods` explains a set of images with each CAM method (the model's own
predicted class per image), scores every map with the metrics of :mod:`qgcam_tf.evaluate.metrics`
and returns per-sample values; :func:`summarize` turns them into mean and 95 % confidence
interval per method and metric; :func:`write_tables` writes the CSV and Markdown tables that
``qgcam evaluate`` produces (its figures are drawn by :mod:`qgcam_tf.viz.evaluation`).
"""

from __future__ import annotations

import csv
import io

import numpy as np
import tensorflow as tf

from qgcam_tf.evaluate import METRIC_NAMES, sanity
from qgcam_tf.evaluate import metrics as qm
from qgcam_tf.evaluate import standard as qs
from qgcam_tf.explain.base import two_class_model
from qgcam_tf.explain.cams import CAM_METHODS
from qgcam_tf.fileio import atomic_path

__all__ = [
    "METRICS",
    "COLUMNS",
    "REGION_PATCH",
    "evaluate_methods",
    "summarize",
    "paired_differences",
    "write_tables",
]

# the names, listed once in the package (the CLI reads them without TensorFlow)
METRICS = METRIC_NAMES
# (column, better direction) in table order; one metric may fill several columns.
COLUMNS = {
    "deletion": [("deletion", "lower")],
    "insertion": [("insertion", "higher")],
    "avg_drop": [("avg_drop", "lower")],
    "increase": [("increase", "higher")],
    "road": [("road_morf", "lower"), ("road_lerf", "higher"), ("road", "higher")],
    "stability": [("stability_pearson", "higher"), ("stability_iou", "higher")],
    "faithfulness_correlation": [("faithfulness_correlation", "higher")],
    "pixel_flipping": [("pixel_flipping", "lower")],
    "max_sensitivity": [("max_sensitivity", "lower")],
    "avg_sensitivity": [("avg_sensitivity", "lower")],
    "sparseness": [("sparseness", "higher")],
    "complexity": [("complexity", "lower")],
    "randomisation": [("randomisation", "lower")],
    "region_perturbation": [("region_perturbation", "higher")],
    "localisation": [("energy_pointing", "higher"), ("ink_enrichment", "higher")],
}
# Runs of Faithfulness Correlation (Quantus's default) and perturbed copies per image of the
# sensitivities (Quantus draws 200; each copy costs one CAM batch).
FAITHFULNESS_RUNS = 100
SENSITIVITY_SAMPLES = 10
SENSITIVITY_RADIUS = 0.2
# Region Perturbation's square patches (Quantus's default patch_size is 8 on 224 x 224
# ImageNet images; 4 x 4 gives 49 patches on a 28 x 28 digit).
REGION_PATCH = 4


def make_predict_fn(model):
    """``images -> probabilities`` of a Keras model, traced once per batch shape."""
    fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return lambda images: fn(tf.convert_to_tensor(images, tf.float32))


def _check_names(kind: str, names, known) -> list[str]:
    names = list(names)
    bad = [n for n in names if n not in known]
    if not names or bad:
        raise ValueError(f"{kind} must be among {sorted(known)}, got {bad or names!r}")
    return names


def evaluate_methods(
    model,
    images: np.ndarray,
    *,
    methods=tuple(CAM_METHODS),
    metrics=METRICS,
    score_layer: str | None = None,
    batch_size: int = 64,
    steps: int = 28,
    noise_std: float = 0.05,
    seed: int = 0,
    labels: dict | None = None,
    progress=None,
    aug_smooth: bool = False,
    eigen_smooth: bool = False,
) -> dict:
    """Per-sample metric values of each CAM method on ``images``.

    Args:
        model: a Keras model (hybrid or classical twin) with a ``qgcam_conv`` layer.
        images: ``[N, H, W, C]`` float32 images.
        methods: keys of :data:`~qgcam_tf.explain.cams.CAM_METHODS`.
        metrics: names in :data:`METRICS`. The standard set
            (:mod:`qgcam_tf.evaluate.standard`): ``faithfulness_correlation`` (Quantus's 100
            runs, subsets of min(224, H * W / 2) pixels), ``pixel_flipping`` (``steps`` steps),
            ``max_sensitivity`` / ``avg_sensitivity`` (:data:`SENSITIVITY_SAMPLES` copies
            with uniform noise of radius :data:`SENSITIVITY_RADIUS`), ``sparseness``,
            ``complexity``; ``randomisation`` is the Spearman correlation of each map with
            the map of the same method on the model with every layer re-initialised
            (:func:`qgcam_tf.evaluate.sanity.randomised_model`; lower is better);
            ``region_perturbation`` is the AOPC of
            :class:`~qgcam_tf.evaluate.standard.RegionPerturbation` (:data:`REGION_PATCH`
            square patches, all of them, uniform noise; its curves are kept);
            ``localisation`` fills ``energy_pointing`` and ``ink_enrichment``
            (:class:`~qgcam_tf.evaluate.standard.EnergyPointingGame` on the ink of each
            image, :func:`~qgcam_tf.evaluate.standard.ink_masks`: meaningful for digits on a
            dark background).
        score_layer: the score layer for the CAMs (None: ``vqc`` or ``logits``).
        batch_size: images per batch.
        steps: steps of the deletion / insertion curves.
        noise_std: std of the Gaussian input noise for the stability metric.
        seed: seeds the random baseline, ROAD's noise and the stability noise.
        labels: row label for each method (default: the method name).
        progress: a tqdm-like bar to advance by one per (method, batch), or None.
        aug_smooth / eigen_smooth: the CAMs' smoothing
            (:class:`~qgcam_tf.explain.base.BaseCAM`).

    Returns:
        ``{row label: {"values": {column: [N]}, "curves": {"deletion": [N, T], ...},
        "maps_example": [min(N, 8), H, W]}}`` plus key ``"_class_index"`` ([N], the
        predicted class explained) and ``"_probabilities"`` ([N, C]).

    Raises:
        ValueError: unknown method or metric names, or a bad batch size.
    """
    methods = _check_names("methods", methods, CAM_METHODS)
    metrics = _check_names("metrics", metrics, METRICS)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    images = np.asarray(images, np.float32)
    # A one-output model's probabilities as two columns [1 - p, p] (class 0 / class 1).
    predict = make_predict_fn(two_class_model(model))
    probs = np.concatenate(
        [predict(images[i : i + batch_size]).numpy() for i in range(0, len(images), batch_size)]
    )
    ci = np.argmax(probs, axis=1).astype(np.int64)
    noisy = np.clip(
        images + np.random.default_rng(seed).normal(0, noise_std, images.shape), 0, 1
    ).astype(np.float32)
    scorers = {
        "deletion": qm.DeletionAUC(steps=steps),
        "insertion": qm.InsertionAUC(steps=steps),
        "avg_drop": qm.AverageDrop(),
        "increase": qm.IncreaseInConfidence(),
        "road": qm.ROAD(seed=seed),
        "faithfulness_correlation": qs.FaithfulnessCorrelation(
            runs=FAITHFULNESS_RUNS,
            subset_size=min(224, max(1, images.shape[1] * images.shape[2] // 2)),
            seed=seed,
        ),
        "pixel_flipping": qs.PixelFlipping(
            features_in_step=max(1, -(-images.shape[1] * images.shape[2] // steps))
        ),
        "region_perturbation": qs.RegionPerturbation(patch_size=REGION_PATCH, seed=seed),
        "sparseness": lambda _predict, _x, maps, _c: qs.Sparseness()(maps),
        "complexity": lambda _predict, _x, maps, _c: qs.Complexity()(maps),
    }
    random_model = (
        sanity.randomised_model(model, (*sanity.PARTS, "other"), seed=seed)
        if "randomisation" in metrics
        else None
    )
    out = {"_class_index": ci, "_probabilities": probs}
    columns = {col for name in metrics for col, _ in COLUMNS[name]}
    first_sensitivity = next((n for n in metrics if n.endswith("_sensitivity")), None)
    for method in methods:
        kwargs = {"seed": seed} if method == "random" else {}
        cam = CAM_METHODS[method](
            model,
            score_layer=score_layer,
            batch_size=batch_size,
            aug_smooth=aug_smooth,
            eigen_smooth=eigen_smooth,
            **kwargs,
        )
        random_cam = (
            None
            if random_model is None
            else CAM_METHODS[method](
                random_model,
                score_layer=score_layer,
                batch_size=batch_size,
                aug_smooth=aug_smooth,
                eigen_smooth=eigen_smooth,
                **kwargs,
            )
        )
        values, curves, examples = {}, {}, []
        for start in range(0, len(images), batch_size):
            sl = slice(start, start + batch_size)
            x, c = images[sl], ci[sl]
            maps = cam(x, class_index=c).maps
            if start == 0:
                examples = maps[:8]
            for name in metrics:
                if name == "stability":
                    st = qm.map_stability(maps, cam(noisy[sl], class_index=c).maps)
                    values.setdefault("stability_pearson", []).append(st["pearson"])
                    values.setdefault("stability_iou", []).append(st["iou"])
                    continue
                if name in ("max_sensitivity", "avg_sensitivity"):
                    if name == first_sensitivity:  # one set of perturbed maps serves both
                        sens = qs.sensitivities(
                            lambda xs, cs: cam(xs, class_index=cs).maps,
                            x,
                            maps,
                            c,
                            samples=SENSITIVITY_SAMPLES,
                            perturb=qs.uniform_noise(SENSITIVITY_RADIUS, seed=seed),
                        )
                        values.setdefault("max_sensitivity", []).append(sens.max(axis=1))
                        values.setdefault("avg_sensitivity", []).append(sens.mean(axis=1))
                    continue
                if name == "randomisation":
                    sim = sanity.map_similarity(maps, random_cam(x, class_index=c).maps)
                    values.setdefault("randomisation", []).append(sim["spearman"])
                    continue
                if name == "localisation":
                    ink = qs.ink_masks(x)
                    for column, enrichment in (
                        ("energy_pointing", False),
                        ("ink_enrichment", True),
                    ):
                        score = qs.EnergyPointingGame(enrichment=enrichment)(maps, ink)
                        values.setdefault(column, []).append(score.values)
                    continue
                res = scorers[name](predict, x, maps, c)
                values.setdefault(name, []).append(res.values)
                if name in ("deletion", "insertion", "pixel_flipping", "region_perturbation"):
                    curves.setdefault(name, []).append(res.curves)
                if name == "road":
                    values.setdefault("road_morf", []).append(res.extra["morf"].mean(axis=1))
                    values.setdefault("road_lerf", []).append(res.extra["lerf"].mean(axis=1))
            if progress is not None:
                progress.update(1)
        label = (labels or {}).get(method, method)
        out[label] = {
            "values": {
                k: np.concatenate(v)
                for k, v in values.items()
                if k in columns  # the sensitivities fill both columns when either is asked
            },
            "curves": {k: np.concatenate(v) for k, v in curves.items()},
            "maps_example": examples,
        }
    return out


def summarize(results: dict, *, confidence: float = 0.95) -> list[dict]:
    """Rows ``{method, metric, better, mean, ci, n}`` (ci = half-width of the interval)."""
    rows = []
    for label, res in results.items():
        if label.startswith("_"):
            continue
        for column, values in res["values"].items():
            rows.append(_summary_row(label, column, values, confidence))
    return rows


def paired_differences(results: dict, *, confidence: float = 0.95) -> list[dict]:
    """Per-image differences to the random baseline of the same model, as summary rows.

    ``twin:<method>`` rows are paired with ``twin:random``, the others with ``random``; the
    same images are scored by both, so the paired interval is much tighter than comparing
    two independent intervals. Rows: ``{method, metric, better, mean, ci, n}`` of
    ``method - random``; methods without a random row of their model are left out.
    """
    rows = []
    for label, res in results.items():
        prefix = label.split(":")[0] + ":" if ":" in label else ""
        reference = results.get(prefix + "random")
        if label.startswith("_") or label == prefix + "random" or reference is None:
            continue
        for column, values in res["values"].items():
            if column.startswith("stability") or column not in reference["values"]:
                continue  # random maps are not meant to be stable; a difference says nothing
            diff = values - reference["values"][column]
            rows.append(_summary_row(label, column, diff, confidence))
    return rows


def _summary_row(method: str, column: str, values, confidence: float) -> dict:
    """``{method, metric, better, mean, ci, n}`` of one column's per-image values."""
    direction = {col: d for cols in COLUMNS.values() for col, d in cols}
    mean, half = qm.mean_ci(values, confidence=confidence)
    return dict(
        method=method, metric=column, better=direction[column], mean=mean, ci=half, n=len(values)
    )


def _markdown(rows: list[dict]) -> str:
    methods = list(dict.fromkeys(r["method"] for r in rows))
    columns = [
        c for cols in COLUMNS.values() for c, _ in cols if any(r["metric"] == c for r in rows)
    ]
    arrow = {"lower": "↓", "higher": "↑"}
    better = {r["metric"]: r["better"] for r in rows}
    cell = {(r["method"], r["metric"]): r for r in rows}
    lines = ["| method | " + " | ".join(f"{c} {arrow[better[c]]}" for c in columns) + " |"]
    lines.append("|---" * (len(columns) + 1) + "|")
    for m in methods:
        cells = []
        for c in columns:
            r = cell.get((m, c))
            cells.append("" if r is None else f"{r['mean']:.3f} ± {r['ci']:.3f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_tables(rows: list[dict], csv_path: str, md_path: str) -> None:
    """Writes the rows as CSV (long form) and as a method x metric Markdown table."""
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=["method", "metric", "better", "mean", "ci", "n"], lineterminator="\n"
    )
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "mean": f"{r['mean']:.6f}", "ci": f"{r['ci']:.6f}"})
    with atomic_path(csv_path) as tmp, open(tmp, "w") as f:
        f.write(buf.getvalue())
    with atomic_path(md_path) as tmp, open(tmp, "w") as f:
        f.write(_markdown(rows))
