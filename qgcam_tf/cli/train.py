"""``qgcam train``: train a hybrid CNN + VQC classifier with Keras ``fit``."""

from __future__ import annotations

import argparse
import json

NAME = "train"
HELP = "train a hybrid CNN + VQC model (resumes a killed run in the same --out)"


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    from qgcam_tf.data.registry import dataset_names

    p.add_argument(
        "--dataset", default="mnist", choices=dataset_names(), help="dataset (default mnist)"
    )
    p.add_argument("--data-dir", help="dataset files (MNIST: .npz / IDX folder; default: embedded)")
    p.add_argument("--out", required=True, help="run directory to write (or resume)")
    p.add_argument("--epochs", type=_positive(int), default=2)
    p.add_argument("--limit", type=_positive(int), help="use only this many training examples")
    p.add_argument("--qubits", type=_positive(int), default=10)
    p.add_argument("--depth", type=_positive(int), default=2)
    p.add_argument("--backend", choices=("tfq", "tf"), default="tfq", help="VQC executor")
    p.add_argument("--classical", action="store_true", help="train the classical twin (Dense head)")
    p.add_argument("--batch-size", type=_positive(int), default=64)
    p.add_argument("--learning-rate", type=_positive(float), default=5e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="replace a finished run in --out")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dataset option (e.g. noise-dir=..., snr-db=5); repeatable",
    )
    p.add_argument("--noise-dir", help="speech: folder of background-noise recordings")
    p.add_argument("--snr-db", help="speech: SNR of the noisy clips in dB, a number or LOW:HIGH")
    p.add_argument(
        "--image-size", type=_positive(int), help="dogs-vs-cats: side of the square input"
    )
    p.add_argument(
        "--no-recalibrate-bn",
        dest="recalibrate_bn",
        action="store_false",
        help="keep BatchNorm's moving statistics as training left them (default: "
        "recompute them on the training data with the final weights)",
    )


def dataset_options(args) -> dict:
    """Options for a dataset adapter from the parsed arguments."""
    options = {
        "data_dir": args.data_dir,
        "limit": args.limit,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--option must be KEY=VALUE, got {item!r}")
        options[key.replace("-", "_")] = value
    for key in ("noise_dir", "snr_db", "image_size"):
        if getattr(args, key, None) is not None:
            options[key] = getattr(args, key)
    return options


def run(args) -> int:
    from qgcam_tf.data.registry import get_adapter
    from qgcam_tf.evaluate.attention import dataset_metrics
    from qgcam_tf.model.training import train_model

    adapter = get_adapter(args.dataset)
    bundle = adapter.load(dataset_options(args))
    metrics = train_model(
        bundle,
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
