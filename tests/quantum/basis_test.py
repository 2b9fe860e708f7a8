"""qgcam_tf.quantum.basis: the CNOT permutations and Z eigenvalues, against Cirq's unitaries."""

from __future__ import annotations

import sys

import cirq
import numpy as np
import pytest

from qgcam_tf.quantum.basis import chain_source, ring_source, z_eigenvalues


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
    np.testing.assert_array_equal(chain_source(1), [0, 1])


def test_z_eigenvalues_are_cirqs_z_diagonals():
    """Column q is the diagonal of Z on qubit q (big-endian)."""
    q = cirq.LineQubit.range(3)
    for k in range(3):
        diag = np.real(np.diag(cirq.unitary(cirq.Circuit(cirq.Z(q[k]), cirq.I.on_each(*q)))))
        np.testing.assert_array_equal(z_eigenvalues(3)[:, k], diag)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
