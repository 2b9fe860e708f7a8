"""Splitting a batch into independent ops, so TensorFlow runs them on all cores.

TensorFlow runs independent ops of a graph side by side on its inter-op threads, but a
chain of dependent ops runs one op at a time, and small ops use one core each. Such chains
here: a TensorFlow Quantum op over a batch of circuits (exact or noisy), and the ``tf``
executor's state-vector kernel. Cutting the batch into row blocks gives independent
chains; the results (and gradients) are those of one call.
"""

from __future__ import annotations

import os

import tensorflow as tf

__all__ = ["kernel_shards", "run_in_shards", "tfq_shards", "usable_cores"]


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def tfq_shards() -> int:
    """How many independent TFQ ops a batch is split into: twice the usable cores, <= 16.

    One TFQ op over a batch of circuits keeps about one core busy; independent ops on parts
    of the batch run side by side on TensorFlow's inter-op threads (measurements:
    ``docs/performance.md``, "`tfq`: fewer gates, and the batch in parallel ops").
    """
    return max(1, min(16, 2 * usable_cores()))


def kernel_shards() -> int:
    """How many row blocks the ``tf`` executor's state-vector kernel runs as: 2 on two or
    more cores, else 1.

    Its ops are a serial chain whose matrix products and elementwise passes each keep one
    core busy, so two blocks (sharing the weight products) let two cores work; more blocks
    were slower on two cores (``docs/performance.md``, "QGrad-CAM on `tf`").
    """
    return 2 if usable_cores() >= 2 else 1


def run_in_shards(fn, values: tf.Tensor, shards: int) -> tf.Tensor:
    """``fn(values)`` computed as ``shards`` independent calls on consecutive row blocks.

    ``fn`` maps ``[N, ...]`` to ``[N, ...]`` row by row (each row its own circuit), so the
    result equals one call; the blocks differ in size by at most one row and may be empty
    (a batch smaller than ``shards``). The batch may be unknown when traced.
    """
    if shards <= 1:
        return fn(values)
    rows = values.shape[0]
    if rows is not None:
        shards = min(shards, max(rows, 1))
        if shards == 1:
            return fn(values)
    batch = tf.shape(values, out_type=tf.int32)[0]
    base, extra = batch // shards, batch % shards
    sizes = base + tf.cast(tf.range(shards) < extra, tf.int32)
    parts = tf.split(values, sizes, num=shards, axis=0)
    return tf.concat([fn(part) for part in parts], axis=0)
