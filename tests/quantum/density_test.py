"""DensityCircuit (plain-TF density-matrix simulation) against cirq.DensityMatrixSimulator."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import cirq  # noqa: E402
import numpy as np  # noqa: E402
import sympy  # noqa: E402
import tensorflow as tf  # noqa: E402

from qgcam_tf.quantum.compiler import CompiledCircuit, UnsupportedGateError  # noqa: E402
from qgcam_tf.quantum.density import (  # noqa: E402
    DensityCircuit,
    DensityReadout,
    HeisenbergExpectation,
    superoperator,
)

A, B, C = sympy.symbols("a b c")


def _mixed_circuit(qubits):
    """Symbolic rotations, permutation and dense two-qubit gates, and five channel kinds."""
    q0, q1, q2 = qubits
    return cirq.Circuit(
        cirq.H(q0),
        cirq.rx(A).on(q1),
        cirq.ry(2 * B + 0.3).on(q2),
        cirq.depolarize(0.05).on(q0),
        cirq.CNOT(q0, q1),
        cirq.amplitude_damp(0.1).on(q1),
        cirq.rz(C).on(q1),
        cirq.T(q2),
        cirq.CZ(q1, q2),
        cirq.phase_damp(0.2).on(q2),
        cirq.SWAP(q0, q2),
        cirq.FSimGate(0.4, 0.7).on(q0, q1),
        cirq.bit_flip(0.07).on(q0),
        cirq.generalized_amplitude_damp(0.3, 0.2).on(q1),
        cirq.XPowGate(exponent=A).on(q2),
        cirq.CNOT(q2, q0),
        cirq.ry(B).on(q0),
    )


def _reference(circuit, qubits, symbols, values):
    sim = cirq.DensityMatrixSimulator(dtype=np.complex128)
    out = []
    for row in values:
        resolver = cirq.ParamResolver(dict(zip(symbols, map(float, row))))
        out.append(sim.simulate(circuit, resolver, qubit_order=qubits).final_density_matrix)
    return np.stack(out)


def test_density_matrix_matches_cirq(rng):
    """Final density matrices of gates and channels agree with Cirq within 1e-5."""
    qubits = cirq.LineQubit.range(3)
    circuit = _mixed_circuit(qubits)
    values = rng.uniform(-np.pi, np.pi, size=(5, 3)).astype(np.float32)
    got = (
        DensityCircuit(circuit, [A, B, C], qubits=qubits)
        .density_matrix(tf.constant(values))
        .numpy()
    )
    np.testing.assert_allclose(got, _reference(circuit, qubits, [A, B, C], values), atol=1e-5)


def test_grid_qubits_and_qubit_order(rng):
    """A circuit on grid qubits, simulated in a permuted qubit order, still matches Cirq."""
    grid = [cirq.GridQubit(5, 3), cirq.GridQubit(5, 4), cirq.GridQubit(6, 4)]
    circuit = _mixed_circuit(grid)
    order = [grid[2], grid[0], grid[1]]
    values = rng.uniform(-np.pi, np.pi, size=(3, 3)).astype(np.float32)
    got = (
        DensityCircuit(circuit, [A, B, C], qubits=order).density_matrix(tf.constant(values)).numpy()
    )
    np.testing.assert_allclose(got, _reference(circuit, order, [A, B, C], values), atol=1e-5)


def test_noiseless_matches_state_vector_executor(rng):
    """Without channels, <Z> from rho equals the state-vector executor's within 1e-5."""
    qubits = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(
        op
        for op in _mixed_circuit(qubits).all_operations()
        if cirq.has_unitary(op) or cirq.is_parameterized(op)
    )
    values = tf.constant(rng.uniform(-3, 3, size=(4, 3)).astype(np.float32))
    dens = DensityCircuit(circuit, [A, B, C], qubits=qubits)
    vec = CompiledCircuit(circuit, [A, B, C], qubits=qubits)
    signs = vec.z_signs([[0], [1], [2], [0, 2]])
    np.testing.assert_allclose(
        dens.expectation_z(values, signs), vec.expectation_z(values, signs), atol=1e-5
    )


def test_gradients_match_finite_differences(rng):
    """d<Z_0 Z_1>/d symbols through the noisy simulation equals Cirq central differences."""
    qubits = cirq.LineQubit.range(3)
    circuit = _mixed_circuit(qubits)
    dens = DensityCircuit(circuit, [A, B, C], qubits=qubits)
    signs = dens.z_signs([[0, 1]])
    values = tf.constant(rng.uniform(-2, 2, size=(2, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(values)
        out = tf.reduce_sum(dens.expectation_z(values, signs))
    grad = tape.gradient(out, values).numpy()
    z01 = np.diag(np.kron(np.kron(np.diag([1, -1]), np.diag([1, -1])), np.eye(2))).real
    eps = 1e-4
    for j in range(3):
        shift = np.zeros(3)
        shift[j] = eps
        plus = _reference(circuit, qubits, [A, B, C], values.numpy() + shift)
        minus = _reference(circuit, qubits, [A, B, C], values.numpy() - shift)
        fd = (np.einsum("bii,i->b", plus, z01) - np.einsum("bii,i->b", minus, z01)).real / (2 * eps)
        np.testing.assert_allclose(grad[:, j], fd, atol=1e-3)


def _families_circuit(q):
    """Every multi-record gate family with symbols (linear, with offsets) and channels."""
    return cirq.Circuit(
        cirq.H.on_each(*q),
        cirq.PhasedXPowGate(phase_exponent=0.3, exponent=A).on(q[0]),
        cirq.ISwapPowGate(exponent=B).on(q[0], q[1]),
        cirq.depolarize(0.04).on(q[1]),
        cirq.FSimGate(theta=C, phi=0.5 * A + 0.2).on(q[1], q[2]),
        cirq.amplitude_damp(0.08).on(q[2]),
        cirq.CZPowGate(exponent=2 * B, global_shift=0.1).on(q[2], q[3]),
        cirq.XXPowGate(exponent=C - 0.4).on(q[0], q[3]),
        cirq.YYPowGate(exponent=A).on(q[1], q[3]),
        cirq.phase_damp(0.1).on(q[3]),
        cirq.ZZPowGate(exponent=B).on(q[0], q[2]),
        cirq.PhasedISwapPowGate(phase_exponent=0.2, exponent=C).on(q[3], q[1]),
        cirq.HPowGate(exponent=A).on(q[2]),
    )


def test_multi_record_gate_families_match_cirq(rng):
    """Symbolic iSWAP/FSim/CZ/XX/YY/ZZ/PhasedX/PhasedISwap/H powers with channels: rho equals
    cirq.DensityMatrixSimulator within 1e-5, d<readout>/d symbols its central differences."""
    q = cirq.GridQubit.rect(2, 2)
    circuit = _families_circuit(q)
    values = rng.uniform(-2, 2, size=(3, 3)).astype(np.float32)
    dens = DensityCircuit(circuit, [A, B, C], qubits=q)
    got = dens.density_matrix(tf.constant(values)).numpy()
    np.testing.assert_allclose(got, _reference(circuit, q, [A, B, C], values), atol=1e-5)
    readout = DensityReadout([cirq.X(q[0]) * cirq.Y(q[2]) + 0.5 * cirq.Z(q[3])], q)
    matrix = readout.readouts[0].matrix(q)
    x = tf.constant(values[:2])
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reduce_sum(dens.expectation(x, readout))
    grad = tape.gradient(out, x).numpy()
    eps = 1e-4
    for j in range(3):
        shift = np.zeros(3)
        shift[j] = eps
        plus = _reference(circuit, q, [A, B, C], values[:2] + shift)
        minus = _reference(circuit, q, [A, B, C], values[:2] - shift)
        fd = np.einsum("bij,ji->b", plus - minus, matrix).real / (2 * eps)
        np.testing.assert_allclose(grad[:, j], fd, atol=1e-3)


def test_density_readout_equals_the_trace_with_the_pauli_sum_matrix(rng):
    """Tr(rho O) of Pauli sums in every basis, with coefficients and an identity term, equals
    NumPy's trace with cirq's matrix of O on random mixed states (1e-5)."""
    q = cirq.LineQubit.range(3)
    readouts = [
        cirq.X(q[0]) * cirq.Y(q[1]) * cirq.Z(q[2]) - 0.3 * cirq.Y(q[0]),
        0.7 * cirq.Y(q[1]) * cirq.Y(q[2]) + 0.2 * cirq.X(q[2]) + 1.5,
        cirq.PauliSum.from_pauli_strings([cirq.Z(q[0]) * cirq.Z(q[1])]),
    ]
    a = rng.normal(size=(4, 8, 8)) + 1j * rng.normal(size=(4, 8, 8))
    rho = a @ np.conj(np.transpose(a, [0, 2, 1]))
    rho /= np.trace(rho, axis1=1, axis2=2)[:, None, None]
    got = DensityReadout(readouts, q)(tf.constant(rho, tf.complex64)).numpy()
    want = np.array([[np.trace(r @ o.matrix(q)).real for o in readouts] for r in rho])
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError, match=r"acts on qubit cirq.LineQubit\(5\), not in qubits"):
        DensityReadout([cirq.Z(cirq.LineQubit(5))], q)


def test_heisenberg_expectation_matches_cirq(rng):
    """HeisenbergExpectation (gates, channels, a two-qubit channel and a Toffoli after the
    product part, Pauli sums in every basis) equals Tr(rho O) of cirq's complex128 density
    matrices within 1e-5, on rows that differ in the prefix symbol only."""
    q = cirq.LineQubit.range(3)
    e = sympy.Symbol("e")
    encoding = cirq.Circuit(cirq.ry(e).on(q[0]), cirq.rz(2 * e - 0.4).on(q[1]))
    circuit = (
        encoding
        + _mixed_circuit(q)
        + cirq.Circuit(cirq.TOFFOLI(*q), cirq.depolarize(0.02, n_qubits=2).on(q[0], q[2]))
    )
    readouts = [
        cirq.X(q[0]) * cirq.Y(q[1]) * cirq.Z(q[2]) - 0.3 * cirq.Y(q[0]),
        0.7 * cirq.Y(q[1]) * cirq.Y(q[2]) + 0.2 * cirq.X(q[2]) + 1.5,
        cirq.Z(q[1]),
    ]
    h = HeisenbergExpectation(circuit, [A, B, C, e], readouts, qubits=q)
    assert h.fixed_columns == (0, 1, 2)  # a, b, c act after a CNOT; e only before
    values = rng.uniform(-np.pi, np.pi, size=(4, 4)).astype(np.float32)
    values[:, :3] = values[0, :3]
    rho = _reference(circuit, q, [A, B, C, e], values)
    want = np.array([[np.trace(r @ o.matrix(q)).real for o in readouts] for r in rho])
    np.testing.assert_allclose(h(values).numpy(), want, atol=1e-5)
    np.testing.assert_allclose(h(values, max_rows=3).numpy(), want, atol=1e-5)


def test_heisenberg_expectation_refuses_rows_that_differ_after_the_product_part(rng):
    """Rows that differ on a symbol of the entangled part are refused (applies() is False)."""
    q = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.ry(A).on(q[0]), cirq.CNOT(*q), cirq.rx(B).on(q[1]))
    h = HeisenbergExpectation(circuit, [A, B], [cirq.Z(q[1])], qubits=q)
    values = np.array([[0.1, 0.2], [0.3, 0.4]], np.float32)
    assert not h.applies(values)
    with pytest.raises(ValueError, match=r"symbol_values: the rows differ on the columns \[1\]"):
        h(values)


def test_superoperator_of_depolarizing_channel():
    """The superoperator maps rho to (1 - 4p/3) rho + (2p/3) I (closed form of depolarize)."""
    p = 0.3
    s = superoperator(cirq.kraus(cirq.depolarize(p)))
    rho = np.array([[0.7, 0.2 - 0.1j], [0.2 + 0.1j, 0.3]])
    out = (s @ rho.reshape(-1)).reshape(2, 2)
    np.testing.assert_allclose(out, (1 - 4 * p / 3) * rho + (2 * p / 3) * np.eye(2), atol=1e-12)


def test_unsupported_operations_raise():
    """Two-qubit channels and measurements are rejected with an error naming them."""
    q = cirq.LineQubit.range(2)
    with pytest.raises(UnsupportedGateError, match="depolarize"):
        DensityCircuit(cirq.Circuit(cirq.depolarize(0.1, n_qubits=2).on(*q)), [])
    with pytest.raises(UnsupportedGateError, match="unsupported operation"):
        DensityCircuit(cirq.Circuit(cirq.measure(q[0])), [])
    with pytest.raises(ValueError, match="not in symbol_names"):
        DensityCircuit(cirq.Circuit(cirq.rx(A).on(q[0])), [B])


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
