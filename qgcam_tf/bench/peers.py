"""Peer measurements, run in the peers' own virtualenv (benchmarks/.venv-bench).

Self-contained on purpose: the peers' environment has PennyLane and tensorcircuit-ng
beside TensorFlow 2.18.1, but neither qgcam_tf's stack (Cirq, TensorFlow Quantum) nor
qgcam_tf itself. ``qgcam benchmark`` runs this module there as ``python -m
qgcam_tf.bench.peers`` with ``PYTHONPATH`` pointing at this package
(:func:`qgcam_tf.bench.suite.run_module_json`); it imports the standard library, NumPy,
the peer libraries and :mod:`qgcam_tf.bench.timing` only, plus, where it imports,
``qgcam_tf.quantum.paper_kernel`` (TensorFlow and NumPy only), so the tensorcircuit-ng
row is also timed against the ``tf`` executor with XLA call by call, in one process.

The circuit is the paper's, written out here for each peer:

    encoding H, RY(atan x_k), RZ(atan x_k^2); depth x (CNOT ring, RZ RY RZ per qubit); <Z_l>

Usage (prints one JSON object on stdout; progress goes to stderr):

    PYTHONPATH=DIR_ABOVE_QGCAM_TF benchmarks/.venv-bench/bin/python -m qgcam_tf.bench.peers \\
        tensorcircuit --ns 10,12
    PYTHONPATH=... benchmarks/.venv-bench/bin/python -m qgcam_tf.bench.peers pennylane --n 10
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from qgcam_tf.bench.timing import paired_ratio, time_call

__all__ = [
    "build_parser",
    "main",
    "pennylane_qnode",
    "pennylane_train",
    "tensorcircuit_expectations",
    "tensorcircuit_vqc",
    "z_signs",
]


def z_signs(n: int, n_out: int) -> np.ndarray:
    """``[n_out, 2**n]`` float32: row ``l`` is the eigenvalue of ``Z_l`` on each basis state.

    Qubit 0 is the most significant bit of the basis index (Cirq's order), so
    ``z_signs(n, n_out) @ probabilities`` gives ``<Z_0> ... <Z_{n_out-1}>``.

    Raises:
        ValueError: ``n < 1`` or ``n_out`` outside ``[1, n]``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 1 <= n_out <= n:
        raise ValueError(f"n_out must be in [1, {n}], got {n_out}")
    idx = np.arange(2**n)
    return np.stack([1 - 2 * ((idx >> (n - 1 - l)) & 1) for l in range(n_out)]).astype(np.float32)


def tensorcircuit_expectations(n: int, depth: int, n_out: int):
    """The paper circuit in tensorcircuit-ng (TensorFlow backend, complex64), ``vmap``-ed.

    The state is read once and every <Z_l> taken from its probabilities (as the qgcam
    executors do), not with one ``expectation_ps`` per output.

    Returns:
        ``f(x [B, n], theta [depth, n, 3]) -> <Z_0..Z_{n_out-1}> [B, n_out]``.
    """
    import tensorcircuit as tc
    import tensorflow as tf

    backend = tc.set_backend("tensorflow")
    tc.set_dtype("complex64")
    signs = tf.constant(z_signs(n, n_out))

    def circuit(x, theta):
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

    return backend.vmap(circuit, vectorized_argnums=0)


def tensorcircuit_vqc(ns, batch: int, depth: int, warmup: int, repeats: int) -> dict:
    """VQC forward+backward (batch, XLA) with tensorcircuit-ng's TensorFlow backend.

    The circuit is :func:`tensorcircuit_expectations` with ``min(10, n)`` outputs; loss
    ``sum(<Z>^2)``, gradients w.r.t. the inputs and the weights.

    Returns:
        ``{"tensorcircuit_version", "vqc_fwd_bwd": {n: timing},
        "tf_xla_over_tensorcircuit_paired": {n: ratio}}`` (the ratio where the ``tf``
        executor imports).
    """
    import tensorcircuit as tc
    import tensorflow as tf

    out, paired = {}, {}
    for n in ns:
        batched = tensorcircuit_expectations(n, depth, min(10, n))
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
        out[str(n)] = time_call(tc_call, warmup=warmup, repeats=repeats)
        ours = _qgcam_xla_step(n, batch, depth, x)
        if ours is not None:
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


def pennylane_qnode(n: int, depth: int, n_out: int):
    """The paper circuit as a PennyLane QNode: default.qubit, TF interface, backprop.

    Returns:
        ``qnode(x [B, n], theta [depth, n, 3])``: a list of ``n_out`` tensors ``[B]``,
        ``<Z_l>`` with parameter broadcasting over the batch.
    """
    import pennylane as qml
    import tensorflow as tf

    dev = qml.device("default.qubit", wires=n)

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

    return qnode


def pennylane_train(
    n: int, batch: int, depth: int, warmup: int, repeats: int, vqc_only: bool
) -> dict:
    """Training throughput of the MNIST default model with a PennyLane TF-interface QNode.

    :func:`pennylane_qnode` with 10 outputs (``n >= 10``) in a tf_keras layer; one optimizer
    step per call inside ``tf.function``.

    Returns:
        ``{"pennylane_version", "train_step": timing, "train_images_per_s"}``, and
        ``"vqc_fwd_bwd": {n: timing}`` with ``vqc_only``.
    """
    import pennylane as qml
    import tensorflow as tf
    import tf_keras as keras

    qnode = pennylane_qnode(n, depth, 10)

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

    t = time_call(lambda: train_step(xb, yb).numpy(), warmup=warmup, repeats=repeats)
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
            str(n): time_call(lambda: [g.numpy() for g in step(x)], warmup=1, repeats=repeats)
        }
    print(
        f"pennylane n={n}: {result['train_images_per_s']:.1f} images/s", file=sys.stderr, flush=True
    )
    return result


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected ints >= 1, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``tensorcircuit --ns N,N,...`` or ``pennylane --n N``, both with
    ``--batch``, ``--depth``, ``--warmup`` and ``--repeats``."""
    p = argparse.ArgumentParser(
        prog="python -m qgcam_tf.bench.peers", description=__doc__.splitlines()[0]
    )
    sub = p.add_subparsers(dest="peer", required=True)
    t = sub.add_parser("tensorcircuit")
    t.add_argument("--ns", type=_int_list, default=[10, 12], metavar="N,N,...")
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
    return p


def main(argv=None) -> int:
    """Runs one peer and prints its measurements as one JSON line on stdout."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow loads
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    if args.peer == "tensorcircuit":
        result = tensorcircuit_vqc(args.ns, args.batch, args.depth, args.warmup, args.repeats)
    else:
        result = pennylane_train(
            args.n, args.batch, args.depth, args.warmup, args.repeats, args.vqc_only
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
