"""Index arithmetic on computational basis states, shared by the ``tf`` executor's kernels.

Qubit 0 is the most significant bit of a basis index (Cirq's big-endian order). The index
tables are NumPy arrays, which the kernels turn into constants once, when they are built;
:func:`permute` applies such a table to a tensor (used by
:class:`~qgcam_tf.quantum.compiler.CompiledCircuit` and
:class:`~qgcam_tf.quantum.paper_kernel.PaperKernel`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["chain_source", "permute", "ring_source", "z_eigenvalues"]


def _cnot_sequence_source(m: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    """``src`` with ``(C psi)[i] = psi[src[i]]`` for ``CNOT(c, t)`` over ``pairs``, applied
    in order on ``m`` qubits: each CNOT sees the bits the previous ones wrote."""
    idx = np.arange(2**m)
    bits = [(idx >> (m - 1 - q)) & 1 for q in range(m)]
    for control, target in pairs:
        bits[target] = bits[target] ^ bits[control]
    image = sum(b << (m - 1 - q) for q, b in enumerate(bits))
    src = np.empty_like(idx)
    src[image] = idx
    return src


def ring_source(n: int) -> np.ndarray:
    """``src`` for the ring ``CNOT(q_i, q_(i+1) mod n)``, i = 0..n-1, in that order."""
    return _cnot_sequence_source(n, [(i, (i + 1) % n) for i in range(n)])


def chain_source(m: int) -> np.ndarray:
    """``src`` for the open chain ``CNOT(q_0, q_1) .. CNOT(q_(m-2), q_(m-1))``, in order."""
    return _cnot_sequence_source(m, [(i, i + 1) for i in range(m - 1)])


def z_eigenvalues(n: int) -> np.ndarray:
    """``[2**n, n]`` float32: the eigenvalue (+1 / -1) of ``Z_q`` on each basis state."""
    idx = np.arange(2**n)
    signs = [1.0 - 2.0 * ((idx >> (n - 1 - q)) & 1) for q in range(n)]
    return np.stack(signs, axis=1).astype(np.float32)


def permute(x: tf.Tensor, src: np.ndarray, axis: int = 0) -> tf.Tensor:
    """``x`` gathered at ``src`` along ``axis``: ``out[..., i, ...] = x[..., src[i], ...]``.

    Its gradient is the inverse gather, not TensorFlow's scatter-add (a gather is cheaper
    and deterministic).

    Args:
        x: any tensor.
        src: a permutation of ``range(x.shape[axis])``, e.g. from :func:`ring_source`.
        axis: the axis to permute.

    Returns:
        The permuted tensor, of ``x``'s shape and dtype.
    """
    forward = tf.constant(src.astype(np.int32))
    inverse = tf.constant(np.argsort(src).astype(np.int32))

    @tf.custom_gradient
    def gather(t):
        def grad(dy):
            return tf.gather(dy, inverse, axis=axis)

        return tf.gather(t, forward, axis=axis), grad

    return gather(x)
