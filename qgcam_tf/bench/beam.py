"""Images explained per second by ``qgcam explain-batch`` on the DirectRunner, and in process.

:func:`explain_batch_images_per_second` times the whole Beam pipeline
(:func:`qgcam_tf.serving.batch.explain_batch`) with ``workers`` DirectRunner worker
processes (``multi_processing`` mode), from start to finished output: worker start-up
(importing TensorFlow, loading the SavedModel), reading and preprocessing the files, the
``explain`` calls and the writing. :func:`in_process_images_per_second` reads and explains
the same files in this process with the same signature and batch size, the model loaded
beforehand: the rate that the workers' start and Beam's data movement are measured against.

Usage (prints one JSON object; the rows of the issue's scaling table)::

    python -m qgcam_tf.bench.beam --export EXPORT_DIR --images 400 --workers 1,2 --out runs/b
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "explain_batch_images_per_second",
    "in_process_images_per_second",
    "main",
    "write_digits",
]


def write_digits(folder: str, count: int) -> list[str]:
    """Writes the first ``count`` MNIST test digits as 28x28 PNGs ``digit-NNNNN.png`` into
    ``folder`` (created); returns their paths, sorted.

    Raises:
        ValueError: ``count`` is not an int in [1, 10000].
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10000:
        raise ValueError(f"count must be an int in [1, 10000], got {count!r}")
    import tensorflow as tf

    from qgcam_tf.data.mnist import load_mnist

    _, (x_test, _) = load_mnist()
    pixels = np.round(np.asarray(x_test[:count]) * 255).astype(np.uint8).reshape(-1, 28, 28, 1)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i, image in enumerate(pixels):
        path = os.path.join(folder, f"digit-{i:05d}.png")
        tf.io.write_file(path, tf.io.encode_png(image))
        paths.append(path)
    return paths


def explain_batch_images_per_second(
    workers: int,
    *,
    export: str,
    pattern: str,
    out: str,
    batch_size: int = 32,
    running_mode: str = "multi_processing",
    clock: Callable[[], float] = time.perf_counter,
) -> dict:
    """Runs ``explain-batch`` over ``pattern`` with ``workers`` DirectRunner processes.

    Args:
        workers: worker processes (``multi_processing`` mode, also for 1).
        export: the export (:func:`qgcam_tf.serving.batch.resolve_export`).
        pattern: the input glob.
        out: the output folder (replaced if it exists).
        batch_size: the ``explain`` batch.
        running_mode: the DirectRunner's mode (``in_memory`` runs in this process, for
            tests).
        clock: wall clock in seconds.

    Returns:
        ``{"workers", "files", "explained", "seconds", "images_per_second"}``: the wall
        time of the whole pipeline, and explained files per second of it.

    Raises:
        ValueError: ``workers`` is not an int >= 1 (and the errors of ``explain_batch``).
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    from qgcam_tf.serving.batch import explain_batch

    start = clock()
    summary = explain_batch(
        export,
        pattern,
        out,
        batch_size=batch_size,
        direct_num_workers=workers,
        direct_running_mode=running_mode,
        force=True,
        log=None,
    )
    seconds = clock() - start
    return {
        "workers": workers,
        "files": summary["files_read"],
        "explained": summary["explained"],
        "seconds": seconds,
        "images_per_second": summary["explained"] / seconds,
    }


def in_process_images_per_second(
    export: str,
    paths: Sequence[str],
    *,
    batch_size: int = 32,
    clock: Callable[[], float] = time.perf_counter,
) -> dict:
    """Reads, preprocesses (as ``explain-batch`` does) and explains ``paths`` in this
    process, in batches of ``batch_size``, with the SavedModel loaded and called once first.

    Returns:
        ``{"files", "seconds", "images_per_second", "heatmaps"}`` (``heatmaps`` ``[N, H,
        W]``, for checks).

    Raises:
        ValueError: no paths, or ``batch_size`` below 1.
    """
    if not paths:
        raise ValueError("paths must name at least one file, got none")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    import tensorflow as tf

    from qgcam_tf.data.registry import get_adapter
    from qgcam_tf.serving.batch import preprocessing_for, resolve_export

    version_dir, metadata = resolve_export(export)
    spec = preprocessing_for(metadata)
    explain = tf.saved_model.load(version_dir).signatures["explain"]
    shape = [1, *spec["input_shape"]]
    explain(images=tf.zeros(shape), class_index=tf.constant([-1], tf.int64))  # warm up
    adapter = get_adapter(spec["dataset"])
    start = clock()
    heatmaps = []
    for i in range(0, len(paths), batch_size):
        images = np.concatenate([adapter.load_files([p], spec) for p in paths[i : i + batch_size]])
        index = tf.constant(np.full([len(images)], -1, np.int64))
        heatmaps.append(explain(images=tf.constant(images), class_index=index)["heatmap"].numpy())
    seconds = clock() - start
    return {
        "files": len(paths),
        "seconds": seconds,
        "images_per_second": len(paths) / seconds,
        "heatmaps": np.concatenate(heatmaps),
    }


def _workers(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated ints, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"must be ints >= 1, got {text!r}")
    return values


def main(argv=None) -> int:
    """Writes ``--images`` digits, then prints the in-process rate and one row per
    ``--workers`` count as one JSON object."""
    p = argparse.ArgumentParser(prog="python -m qgcam_tf.bench.beam", description=__doc__)
    p.add_argument("--export", required=True, help="export of qgcam export")
    p.add_argument("--images", type=int, default=400, help="MNIST test digits to explain")
    p.add_argument("--workers", type=_workers, default=[1, 2], metavar="N,N,...")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--out", required=True, help="scratch folder (digits and outputs)")
    p.add_argument(
        "--running-mode",
        choices=("multi_processing", "in_memory"),
        default="multi_processing",
        help="DirectRunner mode (in_memory: no worker processes, for tests)",
    )
    args = p.parse_args(argv)
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    paths = write_digits(os.path.join(args.out, "digits"), args.images)
    pattern = os.path.join(args.out, "digits", "*.png")
    report = {"images": args.images, "batch_size": args.batch_size, "rows": []}
    local = in_process_images_per_second(args.export, paths, batch_size=args.batch_size)
    report["in_process"] = {k: v for k, v in local.items() if k != "heatmaps"}
    for workers in args.workers:
        out = os.path.join(args.out, f"explained-{workers}")
        report["rows"].append(
            explain_batch_images_per_second(
                workers,
                export=args.export,
                pattern=pattern,
                out=out,
                batch_size=args.batch_size,
                running_mode=args.running_mode,
            )
        )
    from qgcam_tf.bench.timing import machine_info

    report["machine"] = machine_info()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
