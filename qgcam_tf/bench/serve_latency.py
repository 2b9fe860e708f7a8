"""Latency of an exported ``explain`` signature, in a process without TensorFlow Quantum.

``tensorflow_quantum`` is made unimportable before TensorFlow loads, as in a TF Serving
deployment, so the SavedModel must run on core TensorFlow ops alone.

Usage (prints one JSON object on stdout):

    python benchmarks/serve_latency.py EXPORT_DIR/1 --batches 1,64
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.modules["tensorflow_quantum"] = None  # any import of it now raises ImportError
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", help="a SavedModel version directory")
    p.add_argument("--batches", default="1,64")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    loaded = tf.saved_model.load(args.path)
    explain = loaded.signatures["explain"]
    with open(os.path.join(args.path, "assets.extra", "qgcam.json")) as f:
        shape = json.load(f)["input_shape"]  # the signature declares unknown rank
    rng = np.random.default_rng(0)
    latency = {}
    for b in (int(v) for v in args.batches.split(",")):
        images = tf.constant(rng.uniform(0, 1, [b, *shape]).astype(np.float32))
        ci = tf.fill([b], tf.constant(-1, tf.int64))
        for _ in range(args.warmup):
            explain(images=images, class_index=ci)["heatmap"].numpy()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            explain(images=images, class_index=ci)["heatmap"].numpy()
            times.append(time.perf_counter() - t0)
        latency[str(b)] = 1e3 * statistics.median(times)
    loaded_tfq = any(
        name.startswith("tensorflow_quantum") and mod is not None
        for name, mod in sys.modules.items()
    )
    print(json.dumps({"explain_latency_ms": latency, "tensorflow_quantum_loaded": loaded_tfq}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
