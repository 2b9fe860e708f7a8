"""Latency of an exported ``explain`` signature, in a process without TensorFlow Quantum.

``tensorflow_quantum`` is made unimportable before TensorFlow loads, as in a TF Serving
deployment, so the SavedModel must run on core TensorFlow ops alone. ``qgcam benchmark``
runs this module in a subprocess; importing it has no such effect, only :func:`main` does
(so run :func:`main` in a fresh process).

With ``--classical`` a second export (the classical twin, exported the same way) is timed
beside the first, and each batch's ratio of the two is paired: their calls alternate
(:func:`~qgcam_tf.bench.timing.paired_ratio`), so a slow spell of a shared machine hits
both sides.

Usage (prints one JSON object on stdout):

    python -m qgcam_tf.bench.serve_latency EXPORT_DIR/1 --batches 1,64
    python -m qgcam_tf.bench.serve_latency HYBRID/1 --classical TWIN/1 --batches 1,64
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from qgcam_tf.bench.timing import paired_ratio, time_call

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
    """The command line: the SavedModel version directory, ``--classical`` (a second one,
    timed beside it), ``--batches``, ``--warmup``, ``--repeats``, ``--pairs``."""
    p = argparse.ArgumentParser(
        prog="python -m qgcam_tf.bench.serve_latency", description=__doc__.splitlines()[0]
    )
    p.add_argument("path", help="a SavedModel version directory")
    p.add_argument("--batches", type=_batches_arg, default=[1, 64], metavar="B,B,...")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument(
        "--classical",
        default=None,
        metavar="DIR",
        help="the classical twin's SavedModel version directory, timed beside PATH",
    )
    p.add_argument(
        "--pairs", type=int, default=15, help="interleaved pairs of the paired ratio (--classical)"
    )
    return p


def _explain_call(path: str, batch: int, rng):
    """A call of ``path``'s ``explain`` signature on ``batch`` random images (it blocks)."""
    import numpy as np
    import tensorflow as tf

    explain = tf.saved_model.load(path).signatures["explain"]
    with open(os.path.join(path, "assets.extra", "qgcam.json")) as f:
        shape = json.load(f)["input_shape"]  # the signature declares unknown rank
    images = tf.constant(rng.uniform(0, 1, [batch, *shape]).astype(np.float32))
    ci = tf.fill([batch], tf.constant(-1, tf.int64))
    return lambda: explain(images=images, class_index=ci)["heatmap"].numpy()


def main(argv=None) -> int:
    """Times the ``explain`` signature at each batch size; prints one JSON line:
    ``{"explain_latency_ms": {batch: median ms}, "tensorflow_quantum_loaded": bool}``; with
    ``--classical`` also ``"classical_explain_latency_ms": {batch: median ms}``,
    ``"hybrid_over_classical": {batch: median of per-pair ratios}`` and ``"pairs"``."""
    args = build_parser().parse_args(argv)
    # Any later import of tensorflow_quantum now raises ImportError (unless the caller had
    # it loaded already, which the result then reports): run this in a fresh process.
    sys.modules.setdefault("tensorflow_quantum", None)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import numpy as np

    rng = np.random.default_rng(0)
    out: dict = {"explain_latency_ms": {}}
    if args.classical:
        out.update(classical_explain_latency_ms={}, hybrid_over_classical={}, pairs=args.pairs)
    for b in args.batches:
        call = _explain_call(args.path, b, rng)
        timing = {"warmup": args.warmup, "repeats": args.repeats}
        out["explain_latency_ms"][str(b)] = time_call(call, **timing)["wall_ms"]
        if args.classical:
            twin = _explain_call(args.classical, b, rng)
            out["classical_explain_latency_ms"][str(b)] = time_call(twin, **timing)["wall_ms"]
            out["hybrid_over_classical"][str(b)] = paired_ratio(
                call, twin, pairs=args.pairs, warmup=1
            )
    out["tensorflow_quantum_loaded"] = any(
        name.startswith("tensorflow_quantum") and mod is not None
        for name, mod in sys.modules.items()
    )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
