"""``qgcam export``: a run directory -> a TF Serving SavedModel version (core TF ops only)."""

from __future__ import annotations

import os

from qgcam_tf.cli.args import positive_int, run_dir
from qgcam_tf.explain import METHOD_NAMES
from qgcam_tf.fileio import remove_stale

NAME = "export"
HELP = "export a trained run as a SavedModel for TF Serving (serving_default + explain)"
# Every CAM method but the random baseline, whose generator is not part of the model
# (qgcam_tf.serving.export.exportable_methods; tests/cli/export_test.py checks they agree).
EXPORTABLE_METHODS = tuple(m for m in METHOD_NAMES if m != "random")


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
    )
    print(
        f"verified: {check['ops']} op types, all in stock TensorFlow; probabilities "
        f"match the model (max |diff| {check['max_abs_diff']:.1e})"
    )
    return 0


def _print_now(message: str) -> None:
    print(message, flush=True)
