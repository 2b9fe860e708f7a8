"""Peer measurements, run in the peers' own virtualenv (benchmarks/.venv-bench).

Stand-alone on purpose: the peers' environment has PennyLane and tensorcircuit-ng beside
TensorFlow 2.18.1, but not qgcam_tf's stack (Cirq, TensorFlow Quantum). The circuit is the
paper's (DESIGN.md), written out here for each peer. The one piece of qgcam_tf imported
here are ``qgcam_tf.quantum.paper_kernel`` and ``qgcam_tf.bench.timing.paired_ratio`` (TensorFlow
and NumPy only), so the tensorcircuit-ng row
can also be timed against the ``tf`` executor with XLA call by call, in one process:

    encoding H, RY(atan x_k), RZ(atan x_k^2); depth x (CNOT ring, RZ RY RZ per qubit); <Z_l>

Usage (prints one JSON object on stdout; ``qgcam benchmark`` runs it as a subprocess):

    benchmarks/.venv-bench/bin/python benchmarks/peers.py tensorcircuit --ns 10,12
    benchmarks/.venv-bench/bin/python benchmarks/peers.py pennylane --n 10 --steps 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# qgcam_tf's TensorFlow-only pieces (paper_kernel, benchmark.paired_ratio) from this checkout.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _time(fn, *, warmup: int, repeats: int) -> dict:
    """Median wall and CPU milliseconds of ``fn()`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"wall_ms": 1e3 * statistics.median(wall), "cpu_ms": 1e3 * statistics.median(cpu)}


def _signs(n: int, n_out: int):
    import numpy as np

    idx = np.arange(2**n)
    return np.stack([1 - 2 * ((idx >> (n - 1 - l)) & 1) for l in range(n_out)]).astype(np.float32)


def tensorcircuit_vqc(ns, batch: int, depth: int, warmup: int, repeats: int) -> dict:
    """VQC forward+backward (batch, XLA) with tensorcircuit-ng's TensorFlow backend.

    The state is read once and every <Z_l> taken from its probabilities (as the qgcam
    executors do); ``expectation_ps`` per output is ~7x slower here.
    """
    import tensorcircuit as tc
    import tensorflow as tf

    backend = tc.set_backend("tensorflow")
    tc.set_dtype("complex64")
    out, paired = {}, {}
    for n in ns:
        n_out = min(10, n)
        signs = tf.constant(_signs(n, n_out))

        def circuit(x, theta, n=n, signs=signs):
            c = tc.Circuit(n)
            for k in range(n):
                c.h(k)
                c.ry(k, theta=tf.atan(x[k]))
                c.rz(k, theta=tf.atan(x[k] ** 2))
            for d in range(depth):
                for i in range(n):
                    c.cnot(i, (i + 1) % n)
                for k in range(n):
                    c.rz(k, theta=theta[d, k, 0])
                    c.ry(k, theta=theta[d, k, 1])
                    c.rz(k, theta=theta[d, k, 2])
            psi = c.state()
            probs = tf.math.real(psi) ** 2 + tf.math.imag(psi) ** 2
            return tf.linalg.matvec(signs, probs)

        batched = backend.vmap(circuit, vectorized_argnums=0)
        theta = tf.Variable(tf.random.uniform([depth, n, 3], 0.0, 6.28, seed=1))
        x = tf.random.normal([batch, n], seed=2)

        @tf.function(jit_compile=True)
        def step(x, batched=batched, theta=theta):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = batched(x, theta)
                loss = tf.reduce_sum(y * y)
            return tape.gradient(loss, [x, theta])

        tc_call = lambda: [g.numpy() for g in step(x)]  # noqa: E731
        out[str(n)] = _time(tc_call, warmup=warmup, repeats=repeats)
        ours = _qgcam_xla_step(n, batch, depth, x)
        if ours is not None:
            from qgcam_tf.bench.timing import paired_ratio  # stdlib + NumPy only

            paired[str(n)] = paired_ratio(ours, tc_call, pairs=2 * repeats + 1, warmup=warmup)
        print(
            f"tensorcircuit n={n}: {out[str(n)]['wall_ms']:.2f} ms; qgcam tf+XLA / tensorcircuit "
            f"paired {paired.get(str(n), float('nan')):.2f}",
            file=sys.stderr,
            flush=True,
        )
    return {
        "tensorcircuit_version": tc.__version__,
        "vqc_fwd_bwd": out,
        "tf_xla_over_tensorcircuit_paired": paired,
    }


def _qgcam_xla_step(n: int, batch: int, depth: int, x):
    """The ``tf`` executor's VQC fwd+bwd with XLA (as ``qgcam benchmark``), or None."""
    import types

    import tensorflow as tf

    try:
        from qgcam_tf.quantum.paper_kernel import PaperKernel
    except ImportError as e:
        print(
            f"qgcam_tf.quantum.paper_kernel not importable ({e}): no paired ratio", file=sys.stderr
        )
        return None
    spec = types.SimpleNamespace(n_qubits=n, depth=depth, n_outputs=min(10, n), ansatz="paper")
    kernel = PaperKernel(spec)
    theta = tf.Variable(tf.random.uniform([depth, n, 3], 0.0, 6.28, seed=1))

    @tf.function(jit_compile=True)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = kernel(x, theta)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, theta])

    return lambda: [g.numpy() for g in step(x)]


def pennylane_train(
    n: int, batch: int, depth: int, warmup: int, repeats: int, vqc_only: bool
) -> dict:
    """Training throughput of the MNIST default model with a PennyLane TF-interface QNode.

    default.qubit, backprop, parameter broadcasting over the batch, in a tf_keras layer;
    one optimizer step per call inside ``tf.function``.
    """
    import numpy as np
    import pennylane as qml
    import tensorflow as tf
    import tf_keras as keras

    dev = qml.device("default.qubit", wires=n)
    n_out = 10

    @qml.qnode(dev, interface="tf", diff_method="backprop")
    def qnode(x, theta):
        for k in range(n):
            qml.Hadamard(wires=k)
            qml.RY(tf.atan(x[:, k]), wires=k)
            qml.RZ(tf.atan(x[:, k] ** 2), wires=k)
        for d in range(depth):
            for i in range(n):
                qml.CNOT(wires=[i, (i + 1) % n])
            for k in range(n):
                qml.RZ(theta[d, k, 0], wires=k)
                qml.RY(theta[d, k, 1], wires=k)
                qml.RZ(theta[d, k, 2], wires=k)
        return [qml.expval(qml.PauliZ(l)) for l in range(n_out)]

    class PennyLaneVQC(keras.layers.Layer):
        def build(self, input_shape):
            self.theta = self.add_weight(
                name="theta",
                shape=(depth, n, 3),
                initializer=keras.initializers.RandomUniform(0.0, 2 * np.pi),
            )

        def call(self, x):
            return tf.cast(tf.stack(qnode(x, self.theta), axis=-1), tf.float32)

    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(
                name="scale", shape=(), initializer=keras.initializers.Constant(5.0)
            )

        def call(self, x):
            return x * self.scale

    images = keras.Input((28, 28, 1))
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(images)
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.BatchNormalization()(h)
    x_layer = keras.layers.Dense(n)(h)
    scores = PennyLaneVQC()(x_layer)
    probs = keras.layers.Softmax()(Scale()(scores))
    model = keras.Model(images, probs)
    opt = keras.optimizers.Adam(1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    rng = np.random.default_rng(0)
    xb = tf.constant(rng.uniform(0, 1, [batch, 28, 28, 1]).astype(np.float32))
    yb = tf.constant(rng.integers(0, 10, [batch]))

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    t = _time(lambda: train_step(xb, yb).numpy(), warmup=warmup, repeats=repeats)
    result = {
        "pennylane_version": qml.__version__,
        "train_step": t,
        "train_images_per_s": batch / (t["wall_ms"] / 1e3),
    }
    if vqc_only:
        vqc = model.layers[-3]
        x = tf.random.normal([batch, n], seed=2)

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = vqc(x)
                loss = tf.reduce_sum(y * y)
            return tape.gradient(loss, [x, vqc.theta])

        result["vqc_fwd_bwd"] = {
            str(n): _time(lambda: [g.numpy() for g in step(x)], warmup=1, repeats=repeats)
        }
    print(
        f"pennylane n={n}: {result['train_images_per_s']:.1f} images/s", file=sys.stderr, flush=True
    )
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="peer", required=True)
    t = sub.add_parser("tensorcircuit")
    t.add_argument("--ns", default="10,12")
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--depth", type=int, default=2)
    t.add_argument("--warmup", type=int, default=2)
    t.add_argument("--repeats", type=int, default=7)
    q = sub.add_parser("pennylane")
    q.add_argument("--n", type=int, default=10)
    q.add_argument("--batch", type=int, default=64)
    q.add_argument("--depth", type=int, default=2)
    q.add_argument("--warmup", type=int, default=1)
    q.add_argument("--repeats", type=int, default=3)
    q.add_argument("--vqc-only", action="store_true", help="also time the VQC alone")
    args = p.parse_args(argv)
    if args.peer == "tensorcircuit":
        ns = [int(v) for v in args.ns.split(",")]
        result = tensorcircuit_vqc(ns, args.batch, args.depth, args.warmup, args.repeats)
    else:
        result = pennylane_train(
            args.n, args.batch, args.depth, args.warmup, args.repeats, args.vqc_only
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
