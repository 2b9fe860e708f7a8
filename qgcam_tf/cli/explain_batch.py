"""``qgcam explain-batch``: explain every file of a glob with an export, on Apache Beam.

The arguments are checked before Beam or TensorFlow load (:func:`validate`): the export and
its metadata, the glob (it must match a file), the output folder, the class index against
the export's classes, and the runner. Beam pipeline options that the runner needs
(``--flink_master=...``, ``--project=...``) follow a ``--`` at the end of the command.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import warnings

from qgcam_tf.cli.args import bounded_int, class_index, output_dir, run_dir, run_metadata

NAME = "explain-batch"
HELP = "explain every file of a glob with an export, on Apache Beam RunInference (Parquet out)"
# qgcam_tf.serving.batch.RUNNERS, named here so that parsing loads no Beam
# (tests/cli/explain_batch_test.py checks that they agree).
RUNNERS = ("DirectRunner", "FlinkRunner", "SparkRunner", "DataflowRunner")
MAX_BATCH = 4096
MAX_WORKERS = 256


def add_arguments(p) -> None:
    p.add_argument(
        "--export",
        required=True,
        metavar="EXPORT_DIR",
        help="model base directory (its highest version) or version directory of qgcam export",
    )
    p.add_argument(
        "--input",
        required=True,
        metavar="GLOB",
        help="files to explain, quoted: 'photos/*.jpg', 'clips/**/*.wav' (** is recursive)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="OUT",
        help="output folder: results/*.parquet, dead_letter/*.jsonl, summary.json, overlays/",
    )
    p.add_argument("--runner", choices=RUNNERS, default="DirectRunner", help="Beam runner")
    p.add_argument(
        "--batch-size",
        type=bounded_int(1, MAX_BATCH),
        default=32,
        help="images per explain call",
    )
    p.add_argument(
        "--class-index",
        type=class_index,
        default=-1,
        help="class to explain, -1: each file's predicted class",
    )
    p.add_argument(
        "--direct-num-workers",
        type=bounded_int(1, MAX_WORKERS),
        default=1,
        help="DirectRunner worker processes (more than 1: multi_processing mode)",
    )
    p.add_argument(
        "--overlay", action="store_true", help="also write a PNG overlay per explained file"
    )
    p.add_argument("--force", action="store_true", help="replace an existing OUT")
    p.add_argument(
        "--run",
        type=run_dir,
        metavar="RUN_DIR",
        help="the run the export came from: its metadata says how training preprocessed "
        "inputs (needed for speech exports; default: inferred from the export's input shape)",
    )
    p.add_argument(
        "beam_args",
        nargs=argparse.REMAINDER,
        metavar="-- BEAM_OPTION",
        help="Beam pipeline options for the runner, after --",
    )


def validate(args) -> None:
    """Every argument, before Beam or TensorFlow loads.

    Raises:
        ValueError: Beam options not after ``--``, ``--direct-num-workers`` with another
            runner, a glob that matches no file, an ``--out`` that exists (without
            ``--force``) or cannot be written, no export or export metadata at
            ``--export``, a ``--class-index`` outside the export's classes, or audio files
            without the speech run (``--run``).
    """
    from qgcam_tf.serving.batch import (
        AUDIO_EXTENSIONS,
        match_inputs,
        preprocessing_for,
        resolve_export,
    )

    extra = list(args.beam_args or [])
    if extra and extra[0] == "--":
        extra = extra[1:]
    elif extra:
        raise ValueError(
            f"unknown argument {extra[0]!r}: quote the --input glob (else the shell expands "
            f"it); Beam pipeline options go after --"
        )
    args.beam_args = extra
    if args.direct_num_workers != 1 and args.runner != "DirectRunner":
        raise ValueError(f"--direct-num-workers is a DirectRunner option, not {args.runner}'s")
    if "://" not in args.input:  # a glob of a remote filesystem is matched by the runner
        match_inputs(args.input)
    _check_out(args.out, args.force)
    _, metadata = resolve_export(args.export)
    n = metadata["n_classes"]
    if args.class_index >= n:
        raise ValueError(
            f"--class-index: must be a class index in [0, {n - 1}] (the export has {n} "
            f"classes) or -1 for the predicted class, got {args.class_index}"
        )
    args.run_metadata = run_metadata(args.run) if args.run else None
    spec = preprocessing_for(metadata, args.run_metadata)
    audio = args.input.lower().endswith(AUDIO_EXTENSIONS)
    if audio and spec["dataset"] != "speech":
        raise ValueError(
            "--run: audio files need the speech run the export came from (its spectrogram "
            "settings are not in the export)"
        )


def _check_out(out: str, force: bool) -> None:
    if "://" in out:
        raise ValueError(f"--out {out!r}: must be a path on a filesystem every worker mounts")
    if os.path.lexists(out) and not force:
        raise ValueError(f"--out {out!r} exists; pass --force to replace it")
    try:
        output_dir(out)
    except argparse.ArgumentTypeError as e:
        raise ValueError(f"--out: {e}") from None


def run(args) -> int:
    from qgcam_tf.serving.batch import explain_batch

    with _quiet_beam():
        explain_batch(
            args.export,
            args.input,
            args.out,
            runner=args.runner,
            batch_size=args.batch_size,
            class_index=args.class_index,
            direct_num_workers=args.direct_num_workers,
            overlay=args.overlay,
            force=args.force,
            run_metadata=getattr(args, "run_metadata", None),
            pipeline_args=getattr(args, "beam_args", None) or (),
            log=_print_now,
        )
    return 0


@contextlib.contextmanager
def _quiet_beam():
    """Errors only from Beam's loggers (a line per bundle and stage) and absl's (TensorFlow's
    warning that the export's custom gradients were not saved: nothing here differentiates
    through it), and no FutureWarning of google-api-core (a Beam dependency) in the worker
    processes or this one; all restored afterwards."""
    import logging

    loggers = [logging.getLogger(name) for name in (None, "apache_beam", "absl")]
    levels = [logger.level for logger in loggers]
    saved = os.environ.get("PYTHONWARNINGS")
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    os.environ["PYTHONWARNINGS"] = saved or "ignore::FutureWarning"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if saved is None:
            del os.environ["PYTHONWARNINGS"]


def _print_now(message: str) -> None:
    print(message, flush=True)
