"""``qgcam evaluate``: faithfulness of the CAM family (and of a classical twin's Grad-CAM)."""

from __future__ import annotations

import argparse
import os

NAME = "evaluate"
HELP = "score CAM methods with faithfulness metrics (table CSV/Markdown, deletion/insertion curves)"


def _names(known):
    def parse(text):
        names = [t for t in text.split(",") if t]
        bad = [n for n in names if n not in known]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(known)}; got {text!r}")
        return names

    return parse


def add_arguments(p) -> None:
    from qgcam_tf.evaluate.faithfulness import METRICS
    from qgcam_tf.explain.cams import CAM_METHODS

    p.add_argument(
        "--model", required=True, help="run directory of the hybrid model (`qgcam train`)"
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--methods",
        nargs="+",
        type=_names(tuple(CAM_METHODS)),
        default=[list(CAM_METHODS)],
        help=f"CAM methods, space or comma separated (default: all of {', '.join(CAM_METHODS)})",
    )
    p.add_argument(
        "--metrics",
        nargs="+",
        type=_names(METRICS),
        default=[list(METRICS)],
        help=f"metrics (default: all of {', '.join(METRICS)})",
    )
    p.add_argument(
        "--count", type=int, default=500, help="test images (spread over classes; default 500)"
    )
    p.add_argument("--twin", help="run directory of a classical twin (`qgcam train --classical`)")
    twin = ["gradcam" if m == "qgradcam" else m for m in CAM_METHODS]
    p.add_argument(
        "--twin-methods",
        nargs="+",
        type=_names(tuple(twin)),
        default=[["gradcam", "random"]],
        help="methods run on the twin (default: gradcam random)",
    )
    p.add_argument("--data-dir", help="dataset files (default: the embedded/default location)")
    p.add_argument("--steps", type=int, default=28, help="steps of the deletion/insertion curves")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--backend", choices=("tfq", "tf"), default="tfq", help="VQC executor (same weights)"
    )
    p.add_argument("--seed", type=int, default=0)


def _flat(groups) -> list[str]:
    return list(dict.fromkeys(n for g in groups for n in g))


def run(args) -> int:
    import numpy as np
    from tqdm import tqdm

    from qgcam_tf.data.registry import test_examples
    from qgcam_tf.evaluate import faithfulness as ev
    from qgcam_tf.fileio import atomic_path, write_json_atomic
    from qgcam_tf.model.run import load_model, read_metadata
    from qgcam_tf.viz.evaluation import plot_curves, plot_examples

    for name, value in (
        ("--count", args.count),
        ("--steps", args.steps),
        ("--batch-size", args.batch_size),
    ):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    methods, metrics = _flat(args.methods), _flat(args.metrics)
    twin_methods = _flat(args.twin_methods)
    metadata = read_metadata(args.model)
    model = load_model(args.model, backend=args.backend)
    twin = None
    if args.twin:
        twin = load_model(args.twin)
        if "logits" not in [layer.name for layer in twin.layers]:
            raise ValueError(f"--twin {args.twin!r} is not a classical twin (no 'logits' layer)")
        if tuple(twin.input_shape[1:]) != tuple(model.input_shape[1:]):
            raise ValueError(
                f"--twin takes inputs {twin.input_shape[1:]}, the model {model.input_shape[1:]}"
            )
    dataset = metadata.get("dataset", "mnist")
    images, labels, idx = test_examples(
        metadata, count=args.count, seed=args.seed, data_dir=args.data_dir
    )

    n_batches = -(-len(images) // args.batch_size)
    total = n_batches * (len(methods) + (len(twin_methods) if twin is not None else 0))
    common = dict(metrics=metrics, batch_size=args.batch_size, steps=args.steps, seed=args.seed)
    with tqdm(total=total, desc="evaluate", unit="batch") as bar:
        bar.set_postfix_str(f"hybrid: {', '.join(methods)}")
        results = ev.evaluate_methods(model, images, methods=methods, progress=bar, **common)
        accuracy = {"hybrid": float(np.mean(results["_class_index"] == labels))}
        if twin is not None:
            bar.set_postfix_str(f"twin: {', '.join(twin_methods)}")
            names = ["qgradcam" if m == "gradcam" else m for m in twin_methods]
            labels_twin = {n: f"twin:{m}" for n, m in zip(names, twin_methods)}
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
    os.makedirs(args.out, exist_ok=True)
    csv_path, md_path = (
        os.path.join(args.out, "evaluation.csv"),
        os.path.join(args.out, "evaluation.md"),
    )
    ev.write_tables(rows, csv_path, md_path)
    diff_rows = ev.paired_differences(results)
    diff_csv, diff_md = (
        os.path.join(args.out, f"evaluation_vs_random.{ext}") for ext in ("csv", "md")
    )
    if diff_rows:
        ev.write_tables(diff_rows, diff_csv, diff_md)
    curves = os.path.join(args.out, "evaluate_curves.png")
    has_curves = plot_curves(
        results, curves, title=f"{dataset}: {len(images)} test images, mean curves (AUC)"
    )
    examples = os.path.join(args.out, "evaluate_maps.png")
    plot_examples(images, results, examples)
    npz = os.path.join(args.out, "per_sample.npz")
    arrays = {"indices": idx, "labels": labels}
    for label, res in results.items():
        if label.startswith("_"):
            continue
        arrays.update({f"{label}/{k}": v for k, v in res["values"].items()})
        arrays.update({f"{label}/curve_{k}": v for k, v in res["curves"].items()})
    with atomic_path(npz, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    summary = os.path.join(args.out, "evaluation.json")
    write_json_atomic(
        summary,
        {
            "model": os.path.abspath(args.model),
            "twin": os.path.abspath(args.twin) if args.twin else None,
            "dataset": dataset,
            "count": len(images),
            "accuracy_on_these_images": accuracy,
            "methods": methods,
            "twin_methods": twin_methods if twin is not None else [],
            "metrics": metrics,
            "steps": args.steps,
            "backend": args.backend,
            "seed": args.seed,
            "rows": rows,
            "vs_random": diff_rows,
        },
    )
    with open(md_path) as f:
        print(f.read(), end="")
    written = [csv_path, md_path] + ([curves] if has_curves else []) + [examples, npz, summary]
    if diff_rows:
        with open(diff_md) as f:
            print(
                "\nper-image difference to the random baseline of the same model (mean ± 95% CI):"
            )
            print(f.read(), end="")
        written += [diff_csv, diff_md]
    for path in written:
        print(f"wrote {path}")
    return 0
