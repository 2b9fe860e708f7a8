"""One VQC row per process: the executors and the peers, checked, timed, peak memory read.

``qgcam benchmark`` runs this module once per (name, n), as ``python -m
qgcam_tf.bench.peers vqc --name NAME --n N``: the ``tfq``, ``tf`` and ``tf_xla`` rows with
the main interpreter, the peers' rows with the peers' virtualenv (``benchmarks/.venv-bench``,
made by ``bash benchmarks/setup_peers.sh``; see :func:`qgcam_tf.bench.suite.run_module_json`
for how the child finds this package). One process per row makes the peak memory of a row
its own: ``peak_mb`` is the process's RSS high-water mark (``resource.getrusage`` maxrss),
read after the row, beside ``baseline_mb``, the same mark after the libraries loaded.

The module itself imports the standard library, NumPy and :mod:`qgcam_tf.bench.timing`
only; each row imports its own library inside its function.

Names (:data:`NAMES`):

* ``tfq``: qgcam's VQCLayer on TensorFlow Quantum (qsim inside, adjoint gradients).
* ``tf``, ``tf_xla``: qgcam's ``tf`` executor (:class:`~qgcam_tf.quantum.paper_kernel.PaperKernel`),
  without and with XLA over the whole step.
* ``tensorcircuit``: tensorcircuit-ng, JAX backend, ``jax.jit`` of ``vmap`` + ``value_and_grad``.
* ``tensorcircuit_tf``: tensorcircuit-ng, TensorFlow backend, ``tf.function(jit_compile=True)``.
* ``pennylane_jax``: PennyLane ``default.qubit``, JAX interface, ``jax.jit``, backprop, the
  batch by parameter broadcasting.
* ``lightning``: PennyLane ``lightning.qubit``, ``diff_method="adjoint"``, JAX interface under
  ``jax.jit``; PennyLane runs a broadcast batch on lightning as one tape per row.
* ``qsim``: ``qsimcirq.QSimSimulator``: forward by ``simulate_expectation_values_sweep``,
  the gradient by the parameter-shift rule (two more sweeps per symbol, in the same call).

The circuit is the paper's, written out here for each peer:

    encoding H, RY(atan x_k), RZ(atan x_k^2); depth x (CNOT ring, RZ RY RZ per qubit); <Z_l>

and the loss of every row is ``sum(<Z>^2)``, differentiated w.r.t. the inputs ``x`` and the
weights ``theta [depth, n, 3]``. Before a row is timed its values and gradients are compared
with :func:`reference_vqc` (complex128 NumPy, adjoint-method gradients) by
:func:`check_against_reference` (within 1e-5; the weight gradient as that of the batch-mean
loss), for ``n <= --check-max-n``; a row that fails is still timed
and shown, marked, but :mod:`qgcam_tf.bench.suite` leaves it out of every comparison.

Usage (each prints one JSON object on stdout; progress goes to stderr):

    PYTHONPATH=DIR_ABOVE_QGCAM_TF benchmarks/.venv-bench/bin/python -m qgcam_tf.bench.peers \\
        vqc --name pennylane_jax --n 10
    PYTHONPATH=... benchmarks/.venv-bench/bin/python -m qgcam_tf.bench.peers \\
        pair --a tf_xla --b tensorcircuit --n 12
    PYTHONPATH=... benchmarks/.venv-bench/bin/python -m qgcam_tf.bench.peers train --n 10
    PYTHONPATH=... benchmarks/.venv-bench/bin/python -m qgcam_tf.bench.peers train \\
        --model classical    # the peer's classical twin (the same CNN, a dense softmax head)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable

import numpy as np

from qgcam_tf.bench.timing import paired_ratio, time_call

__all__ = [
    "CHECK_TOLERANCE",
    "MAIN_NAMES",
    "NAMES",
    "PEER_NAMES",
    "TRAIN_CONV_FILTERS",
    "TRAIN_MODELS",
    "build_parser",
    "check_against_reference",
    "main",
    "peak_rss_mb",
    "pennylane_jax_train",
    "reference_vqc",
    "row_inputs",
    "run_pair",
    "run_vqc_row",
    "vqc_call",
    "z_signs",
]

MAIN_NAMES = ("tfq", "tf", "tf_xla")
PEER_NAMES = ("tensorcircuit", "tensorcircuit_tf", "pennylane_jax", "lightning", "qsim")
NAMES = MAIN_NAMES + PEER_NAMES
# A row passes when max|got - ref| <= CHECK_TOLERANCE * max(1, max|ref|) for each per-sample
# part (the <Z> values, the input gradients) and for the weight gradient of the batch-mean
# loss (check_against_reference says why the mean, not the sum).
CHECK_TOLERANCE = 1e-5


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


def row_inputs(n: int, batch: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """The inputs every row uses: ``x [batch, n]`` N(0, 1) and ``theta [depth, n, 3]``
    U(0, 2 pi), float32, from a fixed seed (so every name sees the same numbers)."""
    rng = np.random.default_rng(1234 + n)
    x = rng.normal(size=(batch, n)).astype(np.float32)
    theta = rng.uniform(0.0, 2 * np.pi, size=(depth, n, 3)).astype(np.float32)
    return x, theta


# --------------------------------------------------------------------------- reference
def _apply_1q(state: np.ndarray, u: np.ndarray, k: int, n: int) -> np.ndarray:
    """``u`` ``[2, 2]`` or per row ``[B, 2, 2]`` on qubit ``k`` of ``state [B, 2**n]``."""
    b = state.shape[0]
    s = state.reshape(b, 2**k, 2, 2 ** (n - k - 1))
    s0, s1 = s[:, :, 0, :], s[:, :, 1, :]
    if u.ndim == 2:
        u = np.broadcast_to(u, (b, 2, 2))
    c = [[u[:, i, j][:, None, None] for j in range(2)] for i in range(2)]
    out = np.stack([c[0][0] * s0 + c[0][1] * s1, c[1][0] * s0 + c[1][1] * s1], axis=2)
    return out.reshape(b, 2**n)


def _ry(a) -> np.ndarray:
    a = np.asarray(a, np.float64)
    c, s = np.cos(a / 2), np.sin(a / 2)
    return np.moveaxis(np.array([[c, -s], [s, c]], np.complex128), (0, 1), (-2, -1))


def _rz(a) -> np.ndarray:
    a = np.asarray(a, np.float64)
    zero = np.zeros_like(a)
    m = np.array([[np.exp(-0.5j * a), zero], [zero, np.exp(0.5j * a)]], np.complex128)
    return np.moveaxis(m, (0, 1), (-2, -1))


_PAULI = {
    "ry": np.array([[0, -1j], [1j, 0]], np.complex128),
    "rz": np.diag([1.0, -1.0]).astype(np.complex128),
}


def reference_vqc(
    x: np.ndarray, theta: np.ndarray, n_out: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper circuit in complex128 NumPy: ``<Z_l>`` and the exact gradients of
    ``sum(<Z>^2)``.

    The gradients come from the adjoint method (one backward sweep of the state and of
    ``O |psi>``, ``O = sum_l 2 <Z_l> Z_l``), which is exact; the tests compare it with
    finite differences and the values with Cirq's simulator.

    Args:
        x: inputs ``[B, n]``.
        theta: weights ``[depth, n, 3]`` (RZ, RY, RZ of each qubit and layer).
        n_out: readouts ``<Z_0> ... <Z_{n_out-1}>``.

    Returns:
        ``(values [B, n_out], grad_x [B, n], grad_theta [depth, n, 3])``, float64.

    Raises:
        ValueError: shapes that do not fit, or ``n_out`` outside ``[1, n]``.
    """
    x = np.asarray(x, np.float64)
    theta = np.asarray(theta, np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be [batch, n], got shape {x.shape}")
    b, n = x.shape
    if theta.ndim != 3 or theta.shape[1:] != (n, 3):
        raise ValueError(f"theta must be [depth, {n}, 3], got shape {theta.shape}")
    signs = z_signs(n, n_out).astype(np.float64)
    depth = theta.shape[0]
    enc_y, enc_z = np.arctan(x), np.arctan(x**2)
    idx = np.arange(2**n)
    # gates: (kind, qubit, angle [B] or scalar, where its gradient goes)
    gates: list = []
    for k in range(n):
        gates.append(("h", k, None, None))
        gates.append(("ry", k, enc_y[:, k], ("y", k)))
        gates.append(("rz", k, enc_z[:, k], ("z", k)))
    for d in range(depth):
        for i in range(n):
            gates.append(("cnot", i, (i + 1) % n, None))
        for k in range(n):
            for j, kind in enumerate(("rz", "ry", "rz")):
                gates.append((kind, k, theta[d, k, j], ("t", d, k, j)))
    hadamard = np.array([[1, 1], [1, -1]], np.complex128) / np.sqrt(2)

    def cnot_perm(c, t):
        return idx ^ (((idx >> (n - 1 - c)) & 1) << (n - 1 - t))

    def apply(state, gate, inverse=False):
        kind, k, a, _ = gate
        if kind == "h":
            return _apply_1q(state, hadamard, k, n)
        if kind == "cnot":
            return state[:, cnot_perm(k, a)]
        u = (_ry if kind == "ry" else _rz)(-a if inverse else a)
        return _apply_1q(state, u, k, n)

    psi = np.zeros((b, 2**n), np.complex128)
    psi[:, 0] = 1.0
    for g in gates:
        psi = apply(psi, g)
    probs = np.abs(psi) ** 2
    values = probs @ signs.T
    lam = psi * ((2 * values) @ signs)  # O |psi>, O = sum_l 2 <Z_l> Z_l (diagonal)
    grad_y, grad_z = np.zeros((b, n)), np.zeros((b, n))
    grad_theta = np.zeros_like(theta)
    for g in reversed(gates):
        kind, k, _, where = g
        if where is not None:
            # d<psi|O|psi>/da = 2 Re <lam| (-i P / 2) |psi> = Re <lam| -i P |psi>
            p_psi = _apply_1q(psi, _PAULI[kind], k, n)
            g_rows = np.real(np.sum(np.conj(lam) * (-1j) * p_psi, axis=1))
            if where[0] == "y":
                grad_y[:, k] = g_rows
            elif where[0] == "z":
                grad_z[:, k] = g_rows
            else:
                grad_theta[where[1:]] = g_rows.sum()
        psi = apply(psi, g, inverse=True)
        lam = apply(lam, g, inverse=True)
    grad_x = grad_y / (1 + x**2) + grad_z * 2 * x / (1 + x**4)
    return values, grad_x, grad_theta


def check_against_reference(
    got: tuple, x: np.ndarray, theta: np.ndarray, n_out: int, *, tolerance: float = CHECK_TOLERANCE
) -> dict:
    """Compares a row's ``(values, grad_x, grad_theta)`` with :func:`reference_vqc`.

    Each part passes when ``max|got - ref| <= tolerance * max(1, max|ref|)``, where for
    ``grad_theta`` both sides are first divided by the batch size ``B``: the weight gradient
    is compared as the gradient of the batch-mean loss, the one training uses.

    Why the mean: ``values`` and ``grad_x`` are per sample, each an O(1) float32 number
    whose rounding error is about 1e-7 to 1e-6 of its size. ``grad_theta`` of the summed
    loss is a sum of ``B`` such per-sample gradients, so its rounding error grows with ``B``
    (up to ``B`` times a sample's), while its magnitude does not (the samples' terms have
    both signs and cancel): at ``B = 64`` a correct float32 row misses an absolute 1e-5 on
    the sum, which would ask each sample for ~1e-7, float32's own resolution. Divided by
    ``B``, the error is the average per-sample error, held to the same 1e-5 as ``values``
    and ``grad_x``. A wrong gradient still fails: one sample left out of the sum (or counted
    twice) moves the mean by that sample's gradient over ``B``, orders of magnitude above
    1e-5 for any O(1) per-sample gradient; a sign error moves it by twice the gradient; a
    perturbation of 1e-3 on the sum, at any ``B`` below 100, moves the mean by more than
    1e-5.

    Args:
        got: the row's values ``[B, n_out]``, ``grad_x [B, n]``, ``grad_theta [depth, n, 3]``
            (of the loss ``sum(<Z>^2)`` over the batch).
        x: the inputs the row was given.
        theta: the weights the row was given.
        n_out: readouts.
        tolerance: see above (:data:`CHECK_TOLERANCE`).

    Returns:
        ``{"passed", "tolerance", "reference": "numpy complex128 (adjoint gradients)",
        "max_error": {part: err}, "scale": {part: max(1, max|ref|)}, "grad_theta_of":
        "batch-mean loss", "grad_theta_sum_max_error"}``: ``max_error`` and ``scale`` are
        the compared ones (``grad_theta``'s divided by ``B``; the undivided error is kept
        beside); a part of the wrong shape fails with ``"shape_error"`` naming it.
    """
    ref = reference_vqc(x, theta, n_out)
    batch = max(1, int(np.shape(x)[0]))
    out = {
        "passed": True,
        "tolerance": tolerance,
        "reference": "numpy complex128 (adjoint gradients)",
        "max_error": {},
        "scale": {},
        "grad_theta_of": "batch-mean loss",
    }
    for part, g, r in zip(("values", "grad_x", "grad_theta"), got, ref):
        g = np.asarray(g, np.float64)
        if g.shape != r.shape:
            out["passed"] = False
            out["shape_error"] = f"{part}: shape {g.shape}, expected {r.shape}"
            continue
        err = float(np.max(np.abs(g - r))) if r.size else 0.0
        scale = max(1.0, float(np.max(np.abs(r)))) if r.size else 1.0
        if part == "grad_theta":
            out["grad_theta_sum_max_error"] = err
            err = err / batch
            scale = max(1.0, float(np.max(np.abs(r))) / batch) if r.size else 1.0
        out["max_error"][part], out["scale"][part] = err, scale
        if not err <= tolerance * scale:  # NaN fails too
            out["passed"] = False
    return out


# --------------------------------------------------------------------------- the rows
def _tf_step(loss_and_values, variables, jit: bool):
    import tensorflow as tf

    x_var, theta_var = variables

    def step():
        with tf.GradientTape() as tape:
            tape.watch(x_var)
            values = loss_and_values(x_var, theta_var)
            loss = tf.reduce_sum(values * values)
        gx, gt = tape.gradient(loss, [x_var, theta_var])
        return values, gx, gt

    fn = tf.function(step, jit_compile=jit)

    def call():
        return tuple(np.asarray(t) for t in fn())

    if jit:
        call.optimized_hlo = lambda: fn.experimental_get_compiler_ir()(stage="optimized_hlo")
    return call


def _tfq_version() -> str:
    """The installed TensorFlow Quantum's version, as the other rows report theirs."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"tensorflow-quantum {version('tensorflow-quantum')}"
    except PackageNotFoundError:
        return "tensorflow-quantum (version unknown)"


def _vqc_tf(name, n, depth, n_out, x, theta):
    import types

    import tensorflow as tf

    xt = tf.constant(x)
    if name == "tfq":
        from qgcam_tf.model.layers import VQCLayer
        from qgcam_tf.quantum.circuits import VQCSpec

        layer = VQCLayer(VQCSpec(n_qubits=n, depth=depth, n_outputs=n_out), "tfq")
        layer(xt)
        layer.theta.assign(np.reshape(theta, layer.theta.shape))
        return _tf_step(lambda xv, tv: layer(xv), (xt, layer.theta), False), _tfq_version()
    from qgcam_tf.quantum.paper_kernel import PaperKernel

    spec = types.SimpleNamespace(n_qubits=n, depth=depth, n_outputs=n_out, ansatz="paper")
    kernel = PaperKernel(spec)
    tv = tf.Variable(theta)
    return _tf_step(kernel, (xt, tv), name == "tf_xla"), tf.__version__


def _jax_step(values_fn, x, theta):
    import jax
    import jax.numpy as jnp

    def loss(xv, tv):
        v = values_fn(xv, tv)
        return jnp.sum(v * v), v

    step = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
    xj, tj = jnp.asarray(x), jnp.asarray(theta)

    def call():
        (_, v), (gx, gt) = step(xj, tj)
        return np.asarray(v), np.asarray(gx), np.asarray(gt)

    call.optimized_hlo = lambda: step.lower(xj, tj).compile().as_text()
    return call


def _tensorcircuit_state(tc, n, depth, xr, tv, atan):
    """The paper's VQC as a tensorcircuit-ng circuit on one input ``xr`` with weights ``tv``
    ``[depth, n, 3]``; ``atan`` is the backend's arctangent. Returns the final state."""
    c = tc.Circuit(n)
    for k in range(n):
        c.h(k)
        c.ry(k, theta=atan(xr[k]))
        c.rz(k, theta=atan(xr[k] ** 2))
    for d in range(depth):
        for i in range(n):
            c.cnot(i, (i + 1) % n)
        for k in range(n):
            c.rz(k, theta=tv[d, k, 0])
            c.ry(k, theta=tv[d, k, 1])
            c.rz(k, theta=tv[d, k, 2])
    return c.state()


def _vqc_tensorcircuit(n, depth, n_out, x, theta):
    import jax
    import jax.numpy as jnp
    import tensorcircuit as tc

    tc.set_backend("jax")
    tc.set_dtype("complex64")
    signs = jnp.asarray(z_signs(n, n_out))

    def circuit(xr, tv):
        psi = _tensorcircuit_state(tc, n, depth, xr, tv, jnp.arctan)
        return signs @ (jnp.real(psi) ** 2 + jnp.imag(psi) ** 2)

    batched = jax.vmap(circuit, in_axes=(0, None))
    return _jax_step(batched, x, theta), tc.__version__


def _vqc_tensorcircuit_tf(n, depth, n_out, x, theta):
    import tensorcircuit as tc
    import tensorflow as tf

    backend = tc.set_backend("tensorflow")
    tc.set_dtype("complex64")
    signs = tf.constant(z_signs(n, n_out))

    def circuit(xr, tv):
        psi = _tensorcircuit_state(tc, n, depth, xr, tv, tf.atan)
        probs = tf.math.real(psi) ** 2 + tf.math.imag(psi) ** 2
        return tf.linalg.matvec(signs, probs)

    batched = backend.vmap(circuit, vectorized_argnums=0)
    tv = tf.Variable(theta)
    return _tf_step(batched, (tf.constant(x), tv), True), tc.__version__


def _pennylane_qnode(n, depth, n_out, device: str, diff_method: str):
    import jax.numpy as jnp
    import pennylane as qml

    dev = qml.device(device, wires=n)

    @qml.qnode(dev, interface="jax", diff_method=diff_method)
    def qnode(xv, tv):
        for k in range(n):
            qml.Hadamard(wires=k)
            qml.RY(jnp.arctan(xv[:, k]), wires=k)
            qml.RZ(jnp.arctan(xv[:, k] ** 2), wires=k)
        for d in range(depth):
            for i in range(n):
                qml.CNOT(wires=[i, (i + 1) % n])
            for k in range(n):
                qml.RZ(tv[d, k, 0], wires=k)
                qml.RY(tv[d, k, 1], wires=k)
                qml.RZ(tv[d, k, 2], wires=k)
        return [qml.expval(qml.PauliZ(l)) for l in range(n_out)]

    return qnode


def _vqc_pennylane(name, n, depth, n_out, x, theta):
    import jax.numpy as jnp
    import pennylane as qml

    if name == "pennylane_jax":
        qnode = _pennylane_qnode(n, depth, n_out, "default.qubit", "backprop")
    else:
        qnode = _pennylane_qnode(n, depth, n_out, "lightning.qubit", "adjoint")
    version = qml.__version__
    if name == "lightning":
        from importlib.metadata import version as dist_version

        version = f"{version} (lightning {dist_version('pennylane_lightning')})"
    return _jax_step(lambda xv, tv: jnp.stack(qnode(xv, tv), axis=-1), x, theta), version


def _vqc_qsim(n, depth, n_out, x, theta):
    import cirq
    import qsimcirq
    import sympy

    q = cirq.LineQubit.range(n)
    a = sympy.symbols(f"a0:{n}")
    c = sympy.symbols(f"c0:{n}")
    t = [[sympy.symbols(f"t{d}_{k}_0:3") for k in range(n)] for d in range(depth)]
    circuit = cirq.Circuit()
    for k in range(n):
        circuit.append([cirq.H(q[k]), cirq.ry(a[k])(q[k]), cirq.rz(c[k])(q[k])])
    for d in range(depth):
        circuit.append(cirq.CNOT(q[i], q[(i + 1) % n]) for i in range(n))
        for k in range(n):
            circuit.append(
                [cirq.rz(t[d][k][0])(q[k]), cirq.ry(t[d][k][1])(q[k]), cirq.rz(t[d][k][2])(q[k])]
            )
    names = [str(s) for s in (*a, *c)] + [str(s) for d in t for k in d for s in k]
    observables = [cirq.Z(q[l]) for l in range(n_out)]
    sim = qsimcirq.QSimSimulator(qsimcirq.QSimOptions(cpu_threads=os.cpu_count() or 1))
    b = x.shape[0]
    x64 = x.astype(np.float64)
    base = np.concatenate(
        [np.arctan(x64), np.arctan(x64**2), np.broadcast_to(theta.reshape(-1), (b, theta.size))],
        axis=1,
    )
    n_sym = base.shape[1]

    def call():
        # rows: the batch, then for each symbol s the batch with s + pi/2 and with s - pi/2
        shifted = np.repeat(base[None], 1 + 2 * n_sym, axis=0)
        for s in range(n_sym):
            shifted[1 + 2 * s, :, s] += np.pi / 2
            shifted[2 + 2 * s, :, s] -= np.pi / 2
        params = [cirq.ParamResolver(dict(zip(names, row))) for row in shifted.reshape(-1, n_sym)]
        ev = sim.simulate_expectation_values_sweep(circuit, observables, params)
        ev = np.real(np.asarray(ev)).reshape(1 + 2 * n_sym, b, n_out)
        values = ev[0]
        dvals = (ev[1::2] - ev[2::2]) / 2  # [S, B, n_out]: d<Z_l>/ds, parameter shift
        dloss = np.einsum("sbl,bl->bs", dvals, 2 * values)  # [B, S]
        gx = dloss[:, :n] / (1 + x64**2) + dloss[:, n : 2 * n] * 2 * x64 / (1 + x64**4)
        gt = dloss[:, 2 * n :].sum(axis=0).reshape(theta.shape)
        return values, gx, gt

    return call, f"{qsimcirq.__version__} (cirq {cirq.__version__})"


def vqc_call(
    name: str, n: int, depth: int, n_out: int, x: np.ndarray, theta: np.ndarray
) -> tuple[Callable[[], tuple], str]:
    """A ready-to-time call of the row ``name``: ``() -> (values, grad_x, grad_theta)``.

    Each call runs the forward pass and the gradient of ``sum(<Z>^2)`` w.r.t. ``x`` and
    ``theta`` and returns them as NumPy arrays (so it blocks until they are ready).

    Args:
        name: one of :data:`NAMES`.
        n: qubits.
        depth: layers.
        n_out: readouts.
        x: inputs ``[B, n]`` float32.
        theta: weights ``[depth, n, 3]`` float32.

    Returns:
        ``(call, version)``: the call and the version string of the library that runs it.
        The call of a row compiled by XLA as one step (``tf_xla`` and the rows run by
        ``jax.jit``) also has ``call.optimized_hlo()``: the text of the compiled step's
        optimised HLO module (what ``benchmarks/profile_row.py hlo`` counts).

    Raises:
        ValueError: an unknown ``name``.
        ImportError: the row's library is not installed in this interpreter.
    """
    if name in MAIN_NAMES:
        return _vqc_tf(name, n, depth, n_out, x, theta)
    if name == "tensorcircuit":
        return _vqc_tensorcircuit(n, depth, n_out, x, theta)
    if name == "tensorcircuit_tf":
        return _vqc_tensorcircuit_tf(n, depth, n_out, x, theta)
    if name in ("pennylane_jax", "lightning"):
        return _vqc_pennylane(name, n, depth, n_out, x, theta)
    if name == "qsim":
        return _vqc_qsim(n, depth, n_out, x, theta)
    raise ValueError(f"name must be one of {NAMES}, got {name!r}")


def peak_rss_mb() -> float:
    """This process's RSS high-water mark in MiB (``getrusage(RUSAGE_SELF).ru_maxrss``)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 2**20


def run_vqc_row(
    name: str,
    n: int,
    *,
    batch: int = 64,
    depth: int = 2,
    warmup: int = 2,
    repeats: int = 7,
    check_max_n: int = 12,
    max_seconds: float = 30.0,
) -> dict:
    """Checks the row ``name`` at ``n`` qubits against the reference, then times it.

    Returns:
        ``{"name", "n", "batch", "version", "check", "timing", "peak_mb", "baseline_mb",
        "memory": "ru_maxrss"}``: ``check`` is :func:`check_against_reference`'s result, or
        ``{"passed": None, "why": ...}`` above ``check_max_n``; ``timing`` is
        :func:`~qgcam_tf.bench.timing.time_call`'s (also when the check failed: the suite
        leaves such a row out of every comparison). ``baseline_mb`` is the RSS high-water
        mark after the row was built, before it first ran.
    """
    n_out = min(10, n)
    x, theta = row_inputs(n, batch, depth)
    call, version = vqc_call(name, n, depth, n_out, x, theta)
    baseline = peak_rss_mb()
    out = {"name": name, "n": n, "batch": batch, "version": version, "memory": "ru_maxrss"}
    t0 = time.perf_counter()
    got = call()  # the first call (tracing, compilation) is also the checked one
    first_s = time.perf_counter() - t0
    if n <= check_max_n:
        out["check"] = check_against_reference(got, x, theta, n_out)
    else:
        out["check"] = {"passed": None, "why": f"n > {check_max_n}: reference not run"}
    # Timed even when the check fails (the table shows it, marked); the suite leaves such a
    # row out of every comparison, so a fast wrong answer cannot win.
    out["timing"] = time_call(
        call, warmup=max(warmup - 1, 0), repeats=repeats, max_seconds=max_seconds
    )
    out["first_call_s"] = first_s
    out["baseline_mb"] = baseline
    out["peak_mb"] = peak_rss_mb()
    return out


def run_pair(
    a: str, b: str, n: int, *, batch: int = 64, depth: int = 2, pairs: int = 15, warmup: int = 2
) -> dict:
    """The paired ratio time(a) / time(b) of two rows built in this one process.

    Returns:
        ``{"a", "b", "n", "batch", "pairs", "ratio", "method"}``: ``ratio`` is the median of
        the per-pair ratios (:func:`~qgcam_tf.bench.timing.paired_ratio`), calls alternating
        a, b, a, b ...
    """
    n_out = min(10, n)
    x, theta = row_inputs(n, batch, depth)
    call_a, _ = vqc_call(a, n, depth, n_out, x, theta)
    call_b, _ = vqc_call(b, n, depth, n_out, x, theta)
    ratio = paired_ratio(call_a, call_b, pairs=pairs, warmup=warmup)
    return {
        "a": a,
        "b": b,
        "n": n,
        "batch": batch,
        "pairs": pairs,
        "ratio": ratio,
        "method": "median of per-pair ratios, calls interleaved in one process",
    }


# --------------------------------------------------------------------------- training
def _init_dense(key, fan_in, shape):
    import jax

    limit = np.sqrt(6.0 / (fan_in + shape[-1]))
    return jax.random.uniform(key, shape, minval=-limit, maxval=limit)


TRAIN_MODELS = ("hybrid", "classical", "vqc")
# build_hybrid_model's default backbone (qgcam_tf.model.hybrid), which the peer's CNN copies.
TRAIN_CONV_FILTERS = (32, 64)


def pennylane_jax_train(
    n: int = 10,
    batch: int = 64,
    depth: int = 2,
    image_size: int = 28,
    *,
    model: str = "hybrid",
    conv_filters: tuple[int, int] = TRAIN_CONV_FILTERS,
):
    """A training step of the MNIST default model with a PennyLane-JAX QNode, ready to time.

    The model is qgcam's hybrid written in JAX: conv 3x3 (``conv_filters[0]``) + ReLU,
    max-pool 2, conv 3x3 (``conv_filters[1]``) + ReLU, global average pool, batch
    normalisation (batch statistics), dense to ``n``, the QNode (default.qubit, backprop,
    broadcast batch) reading ``min(10, n)`` ``<Z>``, a trainable scale, softmax
    cross-entropy; Adam (lr 1e-3). The whole step is ``jax.jit``-ed. The default filters
    are those of ``build_hybrid_model`` (:data:`TRAIN_CONV_FILTERS`), so the two CNNs have
    the same weights' shapes.

    Args:
        n: qubits.
        batch: images per step.
        depth: VQC layers.
        image_size: the side of the square one-channel images.
        model: ``"hybrid"`` (the above); ``"classical"``, the peer's classical twin: the
            same CNN with a dense softmax head (``min(10, n)`` classes) instead of the dense,
            QNode and scale, as ``build_classical_twin``; ``"vqc"``, the QNode alone: the
            VQC forward + backward call of ``peers vqc --name pennylane_jax`` (loss
            ``sum(<Z>^2)``, gradients w.r.t. the inputs and the weights, batch ``batch``).
        conv_filters: the two convs' filters.

    Returns:
        ``(step, versions)``: ``step()`` runs one optimizer step on a fixed batch (for
        ``"vqc"``, one forward + backward call) and blocks until it is done; ``versions``
        names PennyLane's and JAX's, and ``"parameters"`` the number of trainable values.

    Raises:
        ValueError: an unknown ``model`` or ``conv_filters`` that are not two ints >= 1.
    """
    if model not in TRAIN_MODELS:
        raise ValueError(f"model must be one of {TRAIN_MODELS}, got {model!r}")
    if (
        not isinstance(conv_filters, (tuple, list))
        or len(conv_filters) != 2
        or any(isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in conv_filters)
    ):
        raise ValueError(f"conv_filters must be two ints >= 1, got {conv_filters!r}")
    import jax
    import jax.numpy as jnp
    import pennylane as qml

    n_out = min(10, n)
    if model == "vqc":
        x, theta = row_inputs(n, batch, depth)
        call, _ = _vqc_pennylane("pennylane_jax", n, depth, n_out, x, theta)
        versions = {"pennylane": qml.__version__, "jax": jax.__version__}
        return call, {**versions, "parameters": int(theta.size)}
    f1, f2 = conv_filters
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    params = {
        "c1": _init_dense(keys[0], 9, (3, 3, 1, f1)),
        "b1": jnp.zeros(f1),
        "c2": _init_dense(keys[1], 9 * f1, (3, 3, f1, f2)),
        "b2": jnp.zeros(f2),
        "gamma": jnp.ones(f2),
        "beta": jnp.zeros(f2),
    }
    if model == "hybrid":
        qnode = _pennylane_qnode(n, depth, n_out, "default.qubit", "backprop")
        params.update(
            w=_init_dense(keys[2], f2, (f2, n)),
            bw=jnp.zeros(n),
            theta=jax.random.uniform(keys[3], (depth, n, 3), minval=0.0, maxval=2 * np.pi),
            scale=jnp.asarray(5.0),
        )
    else:
        params.update(w=_init_dense(keys[2], f2, (f2, n_out)), bw=jnp.zeros(n_out))
    dn = ("NHWC", "HWIO", "NHWC")

    def forward(p, images):
        h = jax.lax.conv_general_dilated(images, p["c1"], (1, 1), "SAME", dimension_numbers=dn)
        h = jax.nn.relu(h + p["b1"])
        h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        h = jax.lax.conv_general_dilated(h, p["c2"], (1, 1), "SAME", dimension_numbers=dn)
        h = jax.nn.relu(h + p["b2"]).mean(axis=(1, 2))
        mean, var = h.mean(axis=0), h.var(axis=0)
        h = (h - mean) / jnp.sqrt(var + 1e-3) * p["gamma"] + p["beta"]
        z = h @ p["w"] + p["bw"]
        if model == "classical":
            return jax.nn.log_softmax(z)
        scores = jnp.stack(qnode(z, p["theta"]), axis=-1).astype(jnp.float32)
        return jax.nn.log_softmax(scores * p["scale"])

    def loss_fn(p, images, labels):
        logp = forward(p, images)
        return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))

    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7

    @jax.jit
    def train_step(p, m, v, k, images, labels):
        loss, g = jax.value_and_grad(loss_fn)(p, images, labels)
        k = k + 1
        m = jax.tree_util.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)
        v = jax.tree_util.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
        step = lr * jnp.sqrt(1 - b2**k) / (1 - b1**k)
        p = jax.tree_util.tree_map(
            lambda p_, m_, v_: p_ - step * m_ / (jnp.sqrt(v_) + eps), p, m, v
        )
        return p, m, v, k, loss

    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.uniform(0, 1, (batch, image_size, image_size, 1)).astype(np.float32))
    labels = jnp.asarray(rng.integers(0, n_out, batch))
    state = {
        "p": params,
        "m": jax.tree_util.tree_map(jnp.zeros_like, params),
        "v": jax.tree_util.tree_map(jnp.zeros_like, params),
        "k": jnp.asarray(0.0),
    }

    def step():
        p, m, v, k, loss = train_step(
            state["p"], state["m"], state["v"], state["k"], images, labels
        )
        state.update(p=p, m=m, v=v, k=k)
        return float(loss)

    count = int(sum(np.size(a) for a in jax.tree_util.tree_leaves(params)))
    return step, {"pennylane": qml.__version__, "jax": jax.__version__, "parameters": count}


def _serve_train(args) -> int:
    """The training rounds protocol: build, warm up, print ``{"ready": versions}``; then for
    each line ``time`` on stdin, time ``--repeats`` steps and print their timing; ``quit``
    (or end of input) exits. The parent interleaves these rounds with its own."""
    step, versions = pennylane_jax_train(
        args.n,
        args.batch,
        args.depth,
        args.image_size,
        model=args.model,
        conv_filters=args.conv_filters,
    )
    for _ in range(max(args.warmup, 1)):
        step()
    print(json.dumps({"ready": versions}), flush=True)
    for line in sys.stdin:
        if line.strip() != "time":
            break
        t = time_call(step, warmup=0, repeats=args.repeats)
        t["images_per_s"] = args.batch / (t["wall_ms"] / 1e3)
        t["peak_mb"] = peak_rss_mb()
        print(json.dumps(t), flush=True)
    return 0


# --------------------------------------------------------------------------- command line
def _name(text: str) -> str:
    if text not in NAMES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(NAMES)}, got {text!r}")
    return text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}")
    return value


def _filters(text: str) -> tuple[int, int]:
    try:
        value = tuple(int(f) for f in text.split(","))
    except ValueError:
        value = ()
    if len(value) != 2 or min(value) < 1:
        raise argparse.ArgumentTypeError(f"expected two ints >= 1 as A,B, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``vqc --name NAME --n N``, ``pair --a NAME --b NAME --n N`` and
    ``train --n N [--model hybrid|classical|vqc] [--conv-filters A,B]``, each with
    ``--batch``, ``--depth``, ``--warmup`` and ``--repeats``."""
    p = argparse.ArgumentParser(
        prog="python -m qgcam_tf.bench.peers", description=__doc__.splitlines()[0]
    )
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("vqc", help="check and time one row")
    v.add_argument("--name", type=_name, required=True)
    v.add_argument("--check-max-n", type=int, default=12)
    v.add_argument("--max-seconds", type=float, default=30.0)
    pr = sub.add_parser("pair", help="paired ratio of two rows in one process")
    pr.add_argument("--a", type=_name, required=True)
    pr.add_argument("--b", type=_name, required=True)
    pr.add_argument("--pairs", type=_positive, default=15)
    t = sub.add_parser("train", help="PennyLane-JAX training rounds (stdin: time | quit)")
    t.add_argument("--image-size", type=_positive, default=28)
    t.add_argument("--model", choices=TRAIN_MODELS, default="hybrid")
    t.add_argument("--conv-filters", type=_filters, default=TRAIN_CONV_FILTERS)
    for s, n_default, repeats in ((v, 10, 7), (pr, 10, 7), (t, 10, 5)):
        s.add_argument("--n", type=_positive, default=n_default)
        s.add_argument("--batch", type=_positive, default=64)
        s.add_argument("--depth", type=_positive, default=2)
        s.add_argument("--warmup", type=int, default=2)
        s.add_argument("--repeats", type=_positive, default=repeats)
    return p


def main(argv=None) -> int:
    """Runs one command and prints its result as one JSON line on stdout."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow loads
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    if args.command == "train":
        return _serve_train(args)
    if args.command == "vqc":
        result = run_vqc_row(
            args.name,
            args.n,
            batch=args.batch,
            depth=args.depth,
            warmup=args.warmup,
            repeats=args.repeats,
            check_max_n=args.check_max_n,
            max_seconds=args.max_seconds,
        )
    else:
        result = run_pair(
            args.a,
            args.b,
            args.n,
            batch=args.batch,
            depth=args.depth,
            pairs=args.pairs,
            warmup=args.warmup,
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
