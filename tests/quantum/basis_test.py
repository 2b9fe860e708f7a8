"""qgcam_tf.quantum.basis: the CNOT permutations and Z eigenvalues against Cirq's unitaries,
and permute against NumPy indexing and its transpose."""

from __future__ import annotations

import sys

import cirq
import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.quantum.basis import chain_source, permute, ring_source, z_eigenvalues


def _as_matrix(src: np.ndarray) -> np.ndarray:
    """The permutation ``(P psi)[i] = psi[src[i]]`` as a matrix."""
    matrix = np.zeros((len(src), len(src)))
    matrix[np.arange(len(src)), src] = 1.0
    return matrix


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_ring_source_is_cirqs_cnot_ring(n):
    """The unitary of CNOT(q_i, q_(i+1) mod n), i = 0..n-1, in that order."""
    q = cirq.LineQubit.range(n)
    ring = cirq.Circuit(cirq.CNOT(q[i], q[(i + 1) % n]) for i in range(n))
    np.testing.assert_array_equal(np.real(cirq.unitary(ring)), _as_matrix(ring_source(n)))


@pytest.mark.parametrize("m", [2, 3, 5])
def test_chain_source_is_cirqs_cnot_chain(m):
    """The unitary of CNOT(q_0, q_1) .. CNOT(q_(m-2), q_(m-1)), in that order."""
    q = cirq.LineQubit.range(m)
    chain = cirq.Circuit(cirq.CNOT(q[i], q[i + 1]) for i in range(m - 1))
    np.testing.assert_array_equal(np.real(cirq.unitary(chain)), _as_matrix(chain_source(m)))


def test_one_qubit_chain_is_the_identity():
    """On one qubit the chain has no CNOT, so its source table is the identity."""
    np.testing.assert_array_equal(chain_source(1), [0, 1])


def test_z_eigenvalues_are_cirqs_z_diagonals():
    """Column q is the diagonal of Z on qubit q (big-endian)."""
    q = cirq.LineQubit.range(3)
    for k in range(3):
        diag = np.real(np.diag(cirq.unitary(cirq.Circuit(cirq.Z(q[k]), cirq.I.on_each(*q)))))
        np.testing.assert_array_equal(z_eigenvalues(3)[:, k], diag)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_permute_gathers_along_axis(axis):
    """``permute`` equals NumPy's ``take`` at ``src`` along each axis, exactly."""
    rng = np.random.default_rng(axis)
    x = rng.normal(size=(4, 8, 3)).astype(np.float32)
    src = rng.permutation(x.shape[axis])
    got = permute(tf.constant(x), src, axis=axis).numpy()
    np.testing.assert_array_equal(got, np.take(x, src, axis=axis))


@pytest.mark.parametrize("axis", [0, 1])
def test_permute_gradient_is_the_inverse_gather(axis):
    """The gradient of ``sum(w * permute(x))`` is ``w`` scattered back: ``w[argsort(src)]``
    along ``axis`` (the transpose of the permutation matrix), for the ring's table too."""
    rng = np.random.default_rng(10 + axis)
    src = ring_source(3) if axis == 0 else rng.permutation(6)
    shape = (8, 5) if axis == 0 else (2, 6)
    x = tf.Variable(rng.normal(size=shape), dtype=tf.float64)
    w = rng.normal(size=shape)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.constant(w) * permute(x, src, axis=axis))
    got = tape.gradient(loss, x).numpy()
    np.testing.assert_allclose(got, np.take(w, np.argsort(src), axis=axis), atol=1e-12)


def test_permute_of_complex_states_is_cirqs_cnot_ring():
    """Permuting a complex state vector by ``ring_source`` applies the CNOT ring's unitary."""
    n = 4
    rng = np.random.default_rng(7)
    psi = (rng.normal(size=2**n) + 1j * rng.normal(size=2**n)).astype(np.complex64)
    q = cirq.LineQubit.range(n)
    ring = cirq.Circuit(cirq.CNOT(q[i], q[(i + 1) % n]) for i in range(n))
    got = permute(tf.constant(psi[None]), ring_source(n), axis=1).numpy()[0]
    np.testing.assert_allclose(got, cirq.unitary(ring) @ psi, atol=1e-6)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
