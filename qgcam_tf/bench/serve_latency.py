"""Latency of an exported ``explain`` signature, in a process without TensorFlow Quantum.

``tensorflow_quantum`` is made unimportable before TensorFlow loads, as in a TF Serving
deployment, so the SavedModel must run on core TensorFlow ops alone. ``qgcam benchmark``
runs this module in a subprocess; importing it has no such effect, only :func:`main` does
(so run :func:`main` in a fresh process).

Usage (prints one JSON object on stdout):

    python -m qgcam_tf.bench.serve_latency EXPORT_DIR/1 --batches 1,64
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from qgcam_tf.bench.timing import time_call

__all__ = ["build_parser", "main", "parse_batches"]


def parse_batches(text: str) -> list[int]:
    """``"1,64"`` -> ``[1, 64]``: the batch sizes to time, each >= 1.

    Raises:
        ValueError: an empty item, a non-integer or a batch below 1, naming ``--batches``.
    """
    try:
        batches = [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"--batches must be comma-separated ints, got {text!r}") from None
    if any(b < 1 for b in batches):
        raise ValueError(f"--batches must all be >= 1, got {text!r}")
    return batches


def _batches_arg(text: str) -> list[int]:
    try:
        return parse_batches(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    """The command line: the SavedModel version directory, ``--batches``, ``--warmup``,
    ``--repeats``."""
    p = argparse.ArgumentParser(
        prog="python -m qgcam_tf.bench.serve_latency", description=__doc__.splitlines()[0]
    )
    p.add_argument("path", help="a SavedModel version directory")
    p.add_argument("--batches", type=_batches_arg, default=[1, 64], metavar="B,B,...")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    return p


def main(argv=None) -> int:
    """Times the ``explain`` signature at each batch size; prints one JSON line:
    ``{"explain_latency_ms": {batch: median ms}, "tensorflow_quantum_loaded": bool}``."""
    args = build_parser().parse_args(argv)
    # Any later import of tensorflow_quantum now raises ImportError (unless the caller had
    # it loaded already, which the result then reports): run this in a fresh process.
    sys.modules.setdefault("tensorflow_quantum", None)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import numpy as np
    import tensorflow as tf

    loaded = tf.saved_model.load(args.path)
    explain = loaded.signatures["explain"]
    with open(os.path.join(args.path, "assets.extra", "qgcam.json")) as f:
        shape = json.load(f)["input_shape"]  # the signature declares unknown rank
    rng = np.random.default_rng(0)
    latency = {}
    for b in args.batches:
        images = tf.constant(rng.uniform(0, 1, [b, *shape]).astype(np.float32))
        ci = tf.fill([b], tf.constant(-1, tf.int64))
        t = time_call(
            lambda images=images, ci=ci: explain(images=images, class_index=ci)["heatmap"].numpy(),
            warmup=args.warmup,
            repeats=args.repeats,
        )
        latency[str(b)] = t["wall_ms"]
    loaded_tfq = any(
        name.startswith("tensorflow_quantum") and mod is not None
        for name, mod in sys.modules.items()
    )
    print(json.dumps({"explain_latency_ms": latency, "tensorflow_quantum_loaded": loaded_tfq}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
