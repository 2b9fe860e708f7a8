"""qgcam_tf.quantum.executors: both executors against cirq.Simulator (float64) and the
parameter-shift rule on Cirq, and make_executor's backend check."""

from __future__ import annotations

import sys

import cirq
import numpy as np
import pytest
import sympy
import tensorflow as tf

from qgcam_tf.quantum.ansatz import VariationalCircuit
from qgcam_tf.quantum.circuits import (
    VQCSpec,
    build_vqc,
    symbol_values,
    variational_circuit,
    vqc_qubits,
)
from qgcam_tf.quantum.compiler import ExpectationProgram
from qgcam_tf.quantum.executors import (
    BACKENDS,
    TFExecutor,
    TFQCircuitExecutor,
    TFQExecutor,
    make_circuit_executor,
    make_executor,
)

ATOL = 1e-5


def _cirq_expectations(spec: VQCSpec, values: np.ndarray) -> np.ndarray:
    """``<Z_l>`` [B, n_outputs] of build_vqc's circuit resolved at each row of ``values``."""
    circuit, inputs, weights = build_vqc(spec)
    names = [str(s) for s in inputs + weights]
    qubits = vqc_qubits(spec)
    observables = [cirq.Z(qubits[l]) for l in range(spec.n_outputs)]
    sim = cirq.Simulator(dtype=np.complex128)
    out = [
        sim.simulate_expectation_values(
            circuit, observables, dict(zip(names, map(float, row))), qubit_order=qubits
        )
        for row in values
    ]
    return np.real(np.array(out))


def _inputs(spec: VQCSpec, seed: int, batch: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, spec.n_qubits)).astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape).astype(np.float32)
    return x, theta


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n,depth,n_out", [(3, 1, 3), (4, 2, 2)])
def test_executor_matches_cirq(backend, n, depth, n_out):
    """make_executor(spec, backend) on symbol_values gives cirq.Simulator's <Z_l> (1e-5)."""
    spec = VQCSpec(n, depth, n_out)
    x, theta = _inputs(spec, seed=n + depth)
    values = symbol_values(x, theta)
    got = make_executor(spec, backend)(values).numpy()
    assert got.shape == (3, n_out)
    np.testing.assert_allclose(got, _cirq_expectations(spec, values.numpy()), atol=ATOL)


def test_tf_forward_equals_cirq():
    """TFExecutor.forward (the paper kernel, weights apart) gives cirq.Simulator's <Z_l>."""
    spec = VQCSpec(4, 2, 4)
    x, theta = _inputs(spec, seed=5)
    got = TFExecutor(spec).forward(tf.constant(x), tf.constant(theta)).numpy()
    want = _cirq_expectations(spec, symbol_values(x, theta).numpy())
    np.testing.assert_allclose(got, want, atol=ATOL)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_equal_the_parameter_shift_rule_on_cirq(backend):
    """d<Z_l>/d(symbol) of each executor equals Cirq's parameter-shift gradient (every symbol
    is the angle of one rx/ry/rz, so (f(v + pi/2) - f(v - pi/2)) / 2 is exact)."""
    spec = VQCSpec(3, 1, 2)
    x, theta = _inputs(spec, seed=8, batch=1)
    values = symbol_values(x, theta).numpy()
    weights = np.array([0.7, -1.3], np.float32)
    v = tf.Variable(values)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(make_executor(spec, backend)(v) * weights)
    got = tape.gradient(loss, v).numpy()[0]
    shift = np.eye(values.shape[1]) * (np.pi / 2)
    plus = _cirq_expectations(spec, values[0] + shift) @ weights
    minus = _cirq_expectations(spec, values[0] - shift) @ weights
    np.testing.assert_allclose(got, (plus - minus) / 2, atol=5e-5)


def test_tfq_shards_give_the_one_op_result():
    """TFQExecutor with the batch in 3 independent ops gives the one-op outputs (1e-6)."""
    spec = VQCSpec(3, 2, 3)
    x, theta = _inputs(spec, seed=2, batch=5)
    values = symbol_values(x, theta)
    one = TFQExecutor(spec, shards=1)(values).numpy()
    np.testing.assert_allclose(TFQExecutor(spec, shards=3)(values).numpy(), one, atol=1e-6)


def test_make_executor_returns_the_backends_class():
    """'tfq' gives a TFQExecutor and 'tf' a TFExecutor."""
    spec = VQCSpec(2, 1, 2)
    assert isinstance(make_executor(spec, "tfq"), TFQExecutor)
    assert isinstance(make_executor(spec, "tf"), TFExecutor)


@pytest.mark.parametrize("backend", ["qiskit", "TF", None])
def test_make_executor_rejects_an_unknown_backend(backend):
    """An unknown backend raises one ValueError naming the choices and the value."""
    with pytest.raises(ValueError, match=rf"backend must be one of .*'tfq'.*got {backend!r}"):
        make_executor(VQCSpec(2, 1, 2), backend)


def _family(ansatz: str) -> VQCSpec:
    return VQCSpec(3, 2, 2, ansatz=ansatz, encoding="identity")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("ansatz", ["hardware_efficient", "reuploading"])
def test_family_executors_match_cirq(backend, ansatz):
    """make_executor on another family gives the generic executor of the backend, whose
    outputs equal cirq.Simulator's <Z_l> (1e-5)."""
    spec = _family(ansatz)
    x, theta = _inputs(spec, seed=7)
    values = symbol_values(x, theta, spec.encoding)
    run = make_executor(spec, backend)
    assert isinstance(run, TFQCircuitExecutor if backend == "tfq" else ExpectationProgram)
    np.testing.assert_allclose(
        run(values).numpy(), _cirq_expectations(spec, values.numpy()), atol=ATOL
    )


def test_tfq_circuit_executor_pauli_sums_and_shards():
    """TFQCircuitExecutor reads Pauli sums with coefficients like cirq.Simulator, and a batch
    in 3 ops equals one op (outputs and gradients)."""
    q = cirq.LineQubit.range(3)
    a, b, w = sympy.symbols("a b w")
    circuit = cirq.Circuit(
        cirq.ry(a)(q[0]), cirq.rx(b)(q[1]), cirq.ISWAP(q[0], q[1]) ** w, cirq.CZ(q[1], q[2])
    )
    readouts = [0.5 * cirq.X(q[0]) * cirq.Y(q[1]) - cirq.Z(q[2]), cirq.Y(q[1]) + 0.25]
    vc = VariationalCircuit(circuit, [a, b], [w], readouts)
    values = tf.constant(np.random.default_rng(3).normal(size=(5, 3)).astype(np.float32))
    sim = cirq.Simulator(dtype=np.complex128)
    want = [
        sim.simulate_expectation_values(
            circuit, list(vc.readouts), dict(zip("abw", map(float, row))), qubit_order=q
        )
        for row in values.numpy()
    ]
    outs = []
    for shards in (1, 3):
        run = TFQCircuitExecutor(circuit, vc.symbols, vc.readouts, shards=shards)
        with tf.GradientTape() as tape:
            tape.watch(values)
            y = run(values)
        outs.append((y.numpy(), tape.gradient(y, values).numpy()))
    np.testing.assert_allclose(outs[0][0], np.real(want), atol=ATOL)
    np.testing.assert_allclose(outs[1][0], outs[0][0], atol=1e-6)
    np.testing.assert_allclose(outs[1][1], outs[0][1], atol=1e-6)
    np.testing.assert_allclose(
        make_circuit_executor(vc, "tf")(values).numpy(), outs[0][0], atol=ATOL
    )


def test_make_circuit_executor_and_make_executor_reject_bad_arguments():
    """A non-VariationalCircuit, a non-spec and an unknown backend are named."""
    with pytest.raises(TypeError, match="circuit must be a VariationalCircuit, got VQCSpec"):
        make_circuit_executor(VQCSpec(2, 1, 2), "tf")
    with pytest.raises(TypeError, match="spec must be a VQCSpec, got dict"):
        make_executor({"n_qubits": 2}, "tf")
    with pytest.raises(ValueError, match="backend must be one of .*got 'cpu'"):
        make_circuit_executor(variational_circuit(_family("reuploading")), "cpu")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
