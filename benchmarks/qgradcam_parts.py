"""What QGrad-CAM on ``tf`` costs beyond classical Grad-CAM, part by part (paired ratios).

Usage (from the checkout, main venv)::

    python benchmarks/qgradcam_parts.py [--n 10] [--batch 64] [--pairs 25] [--image-size 28]

Each part is timed against ``qgcam benchmark``'s classical Grad-CAM call on the twin
(``suite.explain_call("classical")``), the two calls alternating (``timing.paired_ratio``,
median of per-pair ratios), so every ratio is in units of one Grad-CAM batch. The parts:
QGrad-CAM on the ``tf`` hybrid (the benchmark's call), the hybrid's forward pass, its CNN up
to the VQC's input, the VQC's forward pass alone, the VQC's forward pass plus the gradient of
one class score per sample with respect to its inputs (what QGrad-CAM needs from the
circuit), the same with the VQC layer under XLA (the ``tf_xla`` model: the gradient is a
second compiled cluster), and the same forward and gradient compiled as one XLA cluster.
The gradients of the three VQC variants are compared before timing (printed, then a
non-zero exit if they differ by more than 1e-5).
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOLERANCE = 1e-5


def vqc_parts(model_tf, model_xla, batch: int, seed: int = 1) -> dict:
    """The VQC calls of the table, ready to time: ``{label: call}``, and the largest
    difference of their scores and input gradients from the ``tf`` call's, ``"max_diff"``."""
    import numpy as np
    import tensorflow as tf

    from qgcam_tf.model.hybrid import VQC_LAYER

    rng = np.random.default_rng(seed)
    vqc = model_tf.get_layer(VQC_LAYER)
    n_in, n_out = int(vqc.input_shape[-1]), int(vqc.output_shape[-1])
    x = tf.constant(rng.uniform(-1, 1, (batch, n_in)).astype(np.float32))
    ci = tf.constant(rng.integers(0, n_out, batch))
    model_xla.get_layer(VQC_LAYER).set_weights(vqc.get_weights())

    def fwd_dx(layer):
        def body(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                scores = layer(x)
                target = tf.gather(scores, ci, axis=1, batch_dims=1)
            return scores, tape.gradient(target, x)

        return body

    fns = {
        "VQC forward": tf.function(lambda x: vqc(x)),
        "VQC forward + d f_c/dx": tf.function(fwd_dx(vqc)),
        "VQC forward + d f_c/dx, VQC layer under XLA": tf.function(
            fwd_dx(model_xla.get_layer(VQC_LAYER))
        ),
        "VQC forward + d f_c/dx, one XLA cluster": tf.function(fwd_dx(vqc), jit_compile=True),
    }
    ref = fns["VQC forward + d f_c/dx"](x)
    diff = 0.0
    for label, fn in fns.items():
        out = fn(x)
        if isinstance(out, tuple):
            diff = max(diff, *(float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(out, ref)))
    calls = {
        label: (lambda fn=fn: tf.nest.map_structure(lambda t: t.numpy(), fn(x)))
        for label, fn in fns.items()
    }
    return {"calls": calls, "max_diff": diff}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10, help="qubits (the MNIST default model's: 10)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--pairs", type=int, default=25)
    p.add_argument("--image-size", type=int, default=28)
    args = p.parse_args(argv)
    if args.n < 2 or args.batch < 1 or args.pairs < 1 or args.image_size < 4:
        p.error("--n >= 2, --batch >= 1, --pairs >= 1 and --image-size >= 4")

    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from qgcam_tf.bench.suite import BenchConfig, explain_call
    from qgcam_tf.bench.timing import paired_ratio, time_call
    from qgcam_tf.model.hybrid import VQC_LAYER, build_hybrid_model
    from qgcam_tf.quantum.circuits import VQCSpec

    side = args.image_size
    cfg = BenchConfig(batch=args.batch, image_shape=(side, side, 1), train_n=args.n)
    load = os.getloadavg()
    gradcam = explain_call("classical", cfg)
    spec = VQCSpec(n_qubits=args.n, depth=cfg.depth, n_outputs=min(10, args.n))

    def hybrid(xla: bool):  # the benchmark's MNIST default model (its tf / tf_xla rows)
        return build_hybrid_model(
            cfg.image_shape, spec.n_outputs, vqc=spec, backend="tf", jit_compile=xla
        )

    model = hybrid(False)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 1, (args.batch, side, side, 1)).astype(np.float32))
    cnn = keras.Model(model.inputs, model.get_layer(VQC_LAYER).input)
    forward = tf.function(lambda im: model(im, training=False))
    cnn_forward = tf.function(lambda im: cnn(im, training=False))
    parts = vqc_parts(model, hybrid(True), args.batch)
    print(f"VQC variants agree: largest difference {parts['max_diff']:.1e} (limit {TOLERANCE})")
    if parts["max_diff"] > TOLERANCE:
        return 1
    calls = {
        "QGrad-CAM, tf hybrid": explain_call("tf", cfg),
        "hybrid forward": lambda: forward(images).numpy(),
        "CNN up to the VQC input": lambda: cnn_forward(images).numpy(),
        **parts["calls"],
    }
    gradcam_ms = time_call(gradcam, warmup=2, repeats=max(args.pairs, 3))["wall_ms"]
    print(f"n={args.n}, batch {args.batch}: Grad-CAM on the twin {gradcam_ms:.2f} ms per batch")
    print("| part | x Grad-CAM on the twin (paired) |")
    print("|---|---:|")
    for label, call in calls.items():
        ratio = paired_ratio(call, gradcam, pairs=args.pairs, warmup=2)
        print(f"| {label} | {ratio:.3f} |", flush=True)
    end = os.getloadavg()
    print(f"load average at start {load[0]:.1f}, at end {end[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
