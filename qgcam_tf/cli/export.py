"""``qgcam export``: a run directory -> a TF Serving SavedModel version (core TF ops only)."""

from __future__ import annotations

import json
import os

from qgcam_tf.cli.args import positive_int, run_dir
from qgcam_tf.explain import METHOD_NAMES
from qgcam_tf.fileio import remove_stale

NAME = "export"
HELP = "export a trained run as a SavedModel for TF Serving (serving_default + explain)"
# Every CAM method but the random baseline, whose generator is not part of the model
# (qgcam_tf.serving.export.exportable_methods; tests/cli/export_test.py checks they agree).
EXPORTABLE_METHODS = tuple(m for m in METHOD_NAMES if m != "random")
# qgcam_tf.model.hybrid.CONV_LAYER, named here without loading TensorFlow
# (tests/cli/export_test.py checks they agree).
DEFAULT_LAYER = "qgcam_conv"


def add_arguments(p) -> None:
    p.add_argument(
        "--model", required=True, type=run_dir, metavar="RUN_DIR", help="run of `qgcam train`"
    )
    p.add_argument(
        "--out", required=True, metavar="EXPORT_DIR", help="model base directory TF Serving watches"
    )
    p.add_argument("--version", type=positive_int, default=1, help="version sub-directory")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing version (swapped atomically once the new one is checked)",
    )
    p.add_argument(
        "--method",
        choices=EXPORTABLE_METHODS,
        default="qgradcam",
        help="the CAM method the explain signature computes",
    )
    p.add_argument(
        "--layer",
        default=DEFAULT_LAYER,
        metavar="NAME",
        help=f"the conv layer the explain signature explains (default {DEFAULT_LAYER}, the "
        f"name qgcam train gives it; a run saved from a model of your own names its own)",
    )


def validate(args) -> None:
    """``--layer`` against the layer names of the run's ``model.json``, read as JSON,
    before TensorFlow loads.

    Raises:
        ValueError: no layer of the run's model has that name.
    """
    with open(os.path.join(args.model, "model.json"), encoding="utf-8") as f:
        config = json.load(f)
    try:
        names = [layer["config"]["name"] for layer in config["keras_model"]["config"]["layers"]]
    except (KeyError, TypeError):
        return  # loading the model names what is wrong with it
    if not names:
        return  # likewise: a model of no layers
    if args.layer not in names:
        raise ValueError(f"--layer: the run's model has no layer {args.layer!r}; it has {names}")


def run(args) -> int:
    # What killed exports left goes first (an old version moved aside is put back), so
    # the version check below sees what a server sees.
    remove_stale(args.out)
    target = os.path.join(args.out, str(args.version))
    if os.path.exists(target) and not args.force:  # checked before any tracing
        raise FileExistsError(f"version {target!r} exists; pass --force to replace it")
    from qgcam_tf.serving.export import export_run

    check = export_run(
        args.model,
        args.out,
        version=args.version,
        force=args.force,
        log=_print_now,
        method=args.method,
        layer=args.layer,
    )
    print(
        f"verified: {check['ops']} op types, all in stock TensorFlow; probabilities "
        f"match the model (max |diff| {check['max_abs_diff']:.1e})"
    )
    return 0


def _print_now(message: str) -> None:
    print(message, flush=True)
