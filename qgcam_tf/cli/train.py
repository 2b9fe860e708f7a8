"""``qgcam train``: train a hybrid CNN + VQC classifier with Keras ``fit``."""

from __future__ import annotations

import argparse
import json

from qgcam_tf.cli.args import add_backend, positive_float, positive_int
from qgcam_tf.data import BUILTIN_DATASETS, COMMON_OPTIONS, DATASET_OPTIONS

NAME = "train"
HELP = "train a hybrid CNN + VQC model (resumes a killed run in the same --out)"


def _options_epilog() -> str:
    lines = ["dataset options (--option KEY=VALUE, repeatable):"]
    for dataset, options in DATASET_OPTIONS.items():
        if not options:
            lines.append(f"  {dataset}: none")
        for key, text in options.items():
            lines.append(f"  {dataset}: {key.replace('_', '-')}: {text}")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = _options_epilog()
    p.add_argument("--dataset", default="mnist", choices=BUILTIN_DATASETS, help="dataset")
    p.add_argument(
        "--data-dir", help="dataset files (MNIST: .npz or IDX folder; default: embedded copy)"
    )
    p.add_argument("--out", required=True, help="run directory to write (or resume)")
    p.add_argument("--epochs", type=positive_int, default=2, help="epochs of training in all")
    p.add_argument("--limit", type=positive_int, help="use only this many training examples")
    p.add_argument("--qubits", type=positive_int, default=10, help="qubits of the VQC")
    p.add_argument("--depth", type=positive_int, default=2, help="layers of the VQC")
    add_backend(p, default="tfq")
    p.add_argument("--classical", action="store_true", help="train the classical twin instead")
    p.add_argument("--batch-size", type=positive_int, default=64, help="examples per step")
    p.add_argument("--learning-rate", type=positive_float, default=5e-3, help="Adam's step size")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, shuffling and splits")
    p.add_argument("--force", action="store_true", help="replace a finished run in --out")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a dataset option (listed below); repeatable",
    )
    p.add_argument(
        "--no-recalibrate-bn",
        dest="recalibrate_bn",
        action="store_false",
        help="keep BatchNorm's moving statistics as training left them (default: recompute "
        "them on the training data with the final weights)",
    )


def dataset_options(args) -> dict:
    """The dataset loader's options from the parsed arguments.

    Raises:
        ValueError: an ``--option`` is not KEY=VALUE, or its key is not an option of the
            chosen dataset (the message lists the dataset's options).
    """
    known = DATASET_OPTIONS[args.dataset]
    options = {
        "data_dir": args.data_dir,
        "limit": args.limit,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    for item in args.option:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"--option must be KEY=VALUE, got {item!r}")
        if key in COMMON_OPTIONS:
            flag = "--" + key.replace("_", "-")
            raise ValueError(f"--option {item!r}: use {flag} for {key.replace('_', '-')}")
        if key not in known:
            names = ", ".join(k.replace("_", "-") for k in known) or "none"
            raise ValueError(
                f"--option {item!r}: {args.dataset} has no option {key.replace('_', '-')!r} "
                f"(its options: {names})"
            )
        options[key] = value
    return options


def run(args) -> int:
    options = dataset_options(args)  # checked before anything loads
    from qgcam_tf.data.registry import get_adapter
    from qgcam_tf.evaluate.attention import dataset_metrics
    from qgcam_tf.model.training import train_model

    metrics = train_model(
        get_adapter(args.dataset).load(options),
        args.out,
        epochs=args.epochs,
        n_qubits=args.qubits,
        depth=args.depth,
        backend=args.backend,
        classical=args.classical,
        learning_rate=args.learning_rate,
        seed=args.seed,
        force=args.force,
        recalibrate_bn=args.recalibrate_bn,
        extra_metrics=dataset_metrics(args.dataset),  # e.g. speech: background_attention
    )
    print(json.dumps(metrics, indent=2))
    return 0
