"""PauliReadout against cirq's Pauli-sum expectations, matrices and finite differences."""

from __future__ import annotations

import sys

import cirq
import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.quantum.readout import PauliReadout, as_pauli_sum

PAULIS = (cirq.X, cirq.Y, cirq.Z)


def _random_sum(qubits, rng, terms: int) -> cirq.PauliSum:
    """A Pauli sum of random strings (1 to 4 factors, any basis), coefficients and constant."""
    total = cirq.PauliSum.from_pauli_strings([float(rng.normal()) * cirq.PauliString()])
    for _ in range(terms):
        k = int(rng.integers(1, min(4, len(qubits)) + 1))
        support = rng.choice(len(qubits), size=k, replace=False)
        string = cirq.PauliString({qubits[int(i)]: PAULIS[int(rng.integers(3))] for i in support})
        total += float(rng.normal()) * string
    return total


def _random_states(n: int, batch: int, rng) -> np.ndarray:
    psi = rng.normal(size=(batch, 2**n)) + 1j * rng.normal(size=(batch, 2**n))
    return psi / np.linalg.norm(psi, axis=1, keepdims=True)


@pytest.mark.parametrize("n", [3, 5, 8])
def test_expectations_equal_cirqs(n):
    """<psi|O|psi> of random Pauli sums on random states equals cirq's
    PauliSum.expectation_from_state_vector, for readouts on a subset of qubits too."""
    rng = np.random.default_rng(n)
    qubits = cirq.LineQubit.range(n)
    readouts = [_random_sum(qubits, rng, terms=6) for _ in range(4)]
    readouts.append(cirq.PauliSum.wrap(0.5 * cirq.Y(qubits[-1]) * cirq.Y(qubits[0])))
    readout = PauliReadout(readouts, qubits)
    assert readout.n_outputs == 5
    psi = _random_states(n, 3, rng)
    got = readout(tf.constant(psi, tf.complex64)).numpy()
    qmap = {q: i for i, q in enumerate(qubits)}
    for b in range(3):
        want = [np.real(r.expectation_from_state_vector(psi[b], qmap)) for r in readouts]
        np.testing.assert_allclose(got[b], want, atol=1e-5)


def test_qubit_order_is_the_state_order():
    """With qubits given in a scrambled order the readout follows it, as cirq's qubit map."""
    rng = np.random.default_rng(7)
    qubits = [cirq.GridQubit(0, 2), cirq.GridQubit(1, 0), cirq.GridQubit(0, 1)]
    readouts = [_random_sum(qubits, rng, terms=5) for _ in range(2)]
    psi = _random_states(3, 2, rng)
    got = PauliReadout(readouts, qubits)(tf.constant(psi, tf.complex64)).numpy()
    qmap = {q: i for i, q in enumerate(qubits)}
    for b in range(2):
        want = [np.real(r.expectation_from_state_vector(psi[b], qmap)) for r in readouts]
        np.testing.assert_allclose(got[b], want, atol=1e-5)


def test_gradient_equals_finite_differences():
    """d<psi(t)|O|psi(t)>/dt for the normalised psi(t) ~ psi0 + t psi1 equals central
    differences of the float64 quadratic form with cirq's matrix of O."""
    n = 4
    rng = np.random.default_rng(11)
    qubits = cirq.LineQubit.range(n)
    readouts = [_random_sum(qubits, rng, terms=6) for _ in range(3)]
    readout = PauliReadout(readouts, qubits)
    psi0, psi1 = _random_states(n, 2, rng)
    t = tf.Variable(0.3)
    weights = rng.normal(size=3)
    with tf.GradientTape() as tape:
        v = tf.constant(psi0, tf.complex64) + tf.complex(t, 0.0) * tf.constant(psi1, tf.complex64)
        norm = tf.sqrt(tf.reduce_sum(tf.math.real(v * tf.math.conj(v))))
        psi = v / tf.complex(norm, 0.0)
        total = tf.reduce_sum(readout(psi[None])[0] * weights.astype(np.float32))
    grad = tape.gradient(total, t).numpy()
    mats = [r.matrix(qubits) for r in readouts]

    def f(x):
        v = psi0 + x * psi1
        v = v / np.linalg.norm(v)
        return sum(w * np.real(v.conj() @ m @ v) for w, m in zip(weights, mats))

    step = 1e-4
    np.testing.assert_allclose(grad, (f(0.3 + step) - f(0.3 - step)) / (2 * step), atol=1e-4)


def test_as_pauli_sum_and_bad_readouts():
    """Strings and Pauli operations become sums; a complex or symbolic coefficient, a
    non-Pauli operation and a qubit outside qubits raise naming the readout."""
    q = cirq.LineQubit.range(2)
    assert as_pauli_sum(cirq.X(q[0])) == cirq.PauliSum.wrap(cirq.X(q[0]))
    assert as_pauli_sum(2.0 * cirq.Z(q[0]) * cirq.Z(q[1])).qubits == tuple(q)
    with pytest.raises(ValueError, match=r"readouts\[1\] .*coefficient 0.5j is not real"):
        PauliReadout([cirq.Z(q[0]), 0.5j * cirq.X(q[1])], q)
    with pytest.raises(TypeError, match=r"readouts\[0\] must be a cirq.PauliSum.*cirq.H"):
        PauliReadout([cirq.H(q[0])], q)
    with pytest.raises(TypeError, match=r"readouts\[0\] must be a cirq.PauliSum.*'Z0'"):
        PauliReadout(["Z0"], q)
    with pytest.raises(ValueError, match=r"acts on qubit cirq.LineQubit\(1\), not in qubits"):
        PauliReadout([cirq.X(q[1])], q[:1])
    with pytest.raises(TypeError, match="readouts must be a sequence of Pauli sums"):
        PauliReadout(cirq.X(q[0]) + cirq.Z(q[1]), q)
    with pytest.raises(ValueError, match="qubits must not repeat a qubit"):
        PauliReadout([cirq.X(q[0])], [q[0], q[0]])


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
