"""The paper's circuit as two half states joined by a bond index, for shallow circuits.

A state-vector simulator touches all ``2**n`` amplitudes per gate. The paper's circuit is
shallow: cut the ring into two arcs, ``A = q_0 .. q_(a-1)`` and ``B = q_a .. q_(n-1)``, and
only two CNOTs of each ring cross the cut, ``CNOT(q_(a-1), q_a)`` and ``CNOT(q_(n-1), q_0)``.
A crossing CNOT is ``sum_s P_s (x) X**s``: the projector ``P_s`` on the control's value
``s`` times ``X**s`` on the target. So after ``d`` layers the state is exactly

    |psi> = sum_k |A_k> (x) |B_k>,   k < K = 4**d,

and the kernel keeps ``K`` vectors of ``2**a`` and ``K`` of ``2**(n-a)`` amplitudes per
sample instead of ``2**n``: at ``n = 12``, depth 2, 2 x 16 x 64 against 4096. Each layer
doubles the bond twice, ``k -> (k, s1, s2)``:

* arc A: its own CNOT chain, then ``P_s1`` on ``q_(a-1)`` (control of the first crossing)
  and ``X**s2`` on ``q_0`` (target of the second); one gather of rows per ``s2``;
* arc B: ``X**s1`` on ``q_a``, its own chain, then ``P_s2`` on ``q_(n-1)``;
* then every qubit's ``R_Z(om) R_Y(th) R_Z(phi)``. A projected qubit is in a basis state,
  so its rotation is a column of the gate: the arc's rotation is one matrix product over
  the other ``a - 1`` qubits (a quarter of the work) and an outer product with that column.

Readout never builds ``|psi>``. With the Gram matrix ``G_B[k, l] = <B_l|B_k>``, the
probabilities on arc A are ``p_A(i) = sum_kl conj(A_l[i]) G_B[k, l] A_k[i]``, and ``<Z_q>``
for ``q`` in A is a signed sum of ``p_A``; arc B's qubits likewise. The last layer's
rotations on B leave ``G_B`` unchanged (unitary), and its projector makes ``G_B``
block-diagonal in ``s2``, so the Grams come from the smaller pre-rotation vectors. The
last ``R_Z(om)`` commutes with the readout and is skipped.

The work grows as ``4**depth * 2**(n/2)`` instead of ``2**n``:
:func:`prefer_bond` says where that wins (measured, ``docs/performance.md``). All
arithmetic is complex64, which XLA compiles; gradients are TensorFlow's, except for the
row gathers (see :func:`_gather_rows`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from qgcam_tf.quantum.basis import chain_source, z_eigenvalues

if TYPE_CHECKING:
    from qgcam_tf.quantum.circuits import VQCSpec

__all__ = ["BondKernel", "prefer_bond"]


def prefer_bond(spec: VQCSpec, xla: bool) -> bool:
    """Whether :class:`BondKernel` beats the state-vector kernel for ``spec``.

    The bond has ``4**depth`` terms of ``2**(n//2)`` amplitudes. In the forward + backward
    timings of ``docs/performance.md`` ("the bond kernel") it wins under XLA from
    ``2 depth <= n//2 - 1``; without XLA the tie sits one qubit later, so one more qubit
    is asked there.
    """
    margin = 1 if xla else 2
    return spec.n_qubits >= 6 and 2 * spec.depth <= spec.n_qubits // 2 - margin


def _gather_rows(x: tf.Tensor, forward: tf.Tensor, inverses: list[tf.Tensor]) -> tf.Tensor:
    """``out[..., s, i] = x[..., src_s[i]]`` for permutations ``src_s``: ``[..., R]`` to
    ``[..., S, R]``. ``forward`` is ``concat(src_0 .. src_(S-1))``, ``inverses`` their
    inverse permutations (int32 constants, see :meth:`BondKernel._row_sources`).

    One gather for all permutations; the gradient is one inverse gather per permutation,
    summed: TensorFlow's own gradient of a gather scatter-adds, which XLA runs as a
    serial loop.
    """
    count = len(inverses)
    rows = forward.shape[0] // count  # static, even where the input's width is not

    @tf.custom_gradient
    def gather(t):
        shape = tf.shape(t)
        out_shape = tf.concat([shape[:-1], [count, rows]], 0)
        out = tf.reshape(tf.gather(t, forward, axis=-1), out_shape)

        def grad(dy):
            parts = [tf.gather(dy[..., s, :], inv, axis=-1) for s, inv in enumerate(inverses)]
            return tf.add_n(parts)

        return out, grad

    return gather(x)


def _rotations(theta_d: tf.Tensor, last: bool) -> tf.Tensor:
    """``[n, 2, 2]`` complex64: each qubit's ``R_Z(om) R_Y(th) R_Z(phi)`` (``om = 0`` if last)."""
    phi, th, om = tf.unstack(theta_d, axis=1)
    if last:
        om = tf.zeros_like(om)
    c = tf.complex(tf.cos(0.5 * th), 0.0)
    s = tf.complex(tf.sin(0.5 * th), 0.0)
    p0 = tf.complex(tf.cos(0.5 * phi), -tf.sin(0.5 * phi))  # exp(-i phi/2)
    o0 = tf.complex(tf.cos(0.5 * om), -tf.sin(0.5 * om))
    p1, o1 = tf.math.conj(p0), tf.math.conj(o0)
    rows = [tf.stack([o0 * c * p0, -o0 * s * p1], -1), tf.stack([o1 * s * p0, o1 * c * p1], -1)]
    return tf.stack(rows, -2)


def _kron_transposed(gates: tf.Tensor) -> tf.Tensor:
    """``[m, 2, 2]`` to the transpose of ``gates[0] (x) .. (x) gates[m-1]``, ``[2**m, 2**m]``.

    Transposed, so that it multiplies row vectors: ``state [N, 2**m] @ result``.
    """
    factors = tf.unstack(tf.transpose(gates, [0, 2, 1]))
    out = factors[0]
    for f in factors[1:]:
        d = out.shape[0]
        out = tf.reshape(out[:, None, :, None] * f[None, :, None, :], [2 * d, 2 * d])
    return out


def _product_state(v0: tf.Tensor, v1: tf.Tensor) -> tf.Tensor:
    """``[B, m]`` amplitudes of ``|0>`` and ``|1>`` per qubit to the product ``[B, 2**m]``."""
    state = tf.stack([v0[:, 0], v1[:, 0]], -1)
    for q in range(1, v0.shape[1]):
        qubit = tf.stack([v0[:, q], v1[:, q]], -1)
        state = tf.reshape(state[:, :, None] * qubit[:, None, :], [tf.shape(state)[0], -1])
    return state


class BondKernel:
    """``<Z_l>`` of the paper's circuit as two arcs joined by a bond (module docstring).

    Args:
        spec: the circuit's shape (``n_qubits >= 4``, ansatz ``"paper"``).
        cut: qubits in arc A (default ``n // 2``); both arcs need at least 2.

    Raises:
        ValueError: another ansatz, or an arc with fewer than 2 qubits.
    """

    def __init__(self, spec: VQCSpec, cut: int | None = None):
        if spec.ansatz != "paper":
            raise ValueError(f"BondKernel runs the 'paper' ansatz only, got {spec.ansatz!r}")
        n = spec.n_qubits
        a = n // 2 if cut is None else int(cut)
        if a < 2 or n - a < 2:
            raise ValueError(f"BondKernel needs two arcs of >= 2 qubits, got {a} and {n - a}")
        self.spec, self.a, self.b = spec, a, n - a
        chain_a, chain_b = chain_source(a), chain_source(self.b)
        rows_a, rows_b = np.arange(2**a), np.arange(2**self.b)
        # arc A by s2: the chain, then X on its first qubit; arc B by s1: X on its first
        # qubit, then the chain. The projectors act on the last qubit of each arc.
        self._src_a = self._row_sources([chain_a[rows_a], chain_a[rows_a ^ (1 << (a - 1))]])
        self._src_b = self._row_sources([chain_b[rows_b], chain_b[rows_b] ^ (1 << (self.b - 1))])

        out_a = min(spec.n_outputs, a)
        self._signs_a = tf.constant(z_eigenvalues(a)[:, :out_a])
        out_b = spec.n_outputs - out_a
        self._signs_b = tf.constant(z_eigenvalues(self.b)[:, :out_b]) if out_b else None

    @staticmethod
    def _row_sources(srcs: list[np.ndarray]) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """The arguments of :func:`_gather_rows` for permutations ``srcs``, built once."""
        forward = tf.constant(np.concatenate(srcs).astype(np.int32))
        return forward, [tf.constant(np.argsort(s).astype(np.int32)) for s in srcs]

    def __call__(self, x: tf.Tensor, theta: tf.Tensor) -> tf.Tensor:
        """``<Z_l>`` [B, n_outputs] float32 for inputs ``x`` [B, n] and ``theta``.

        Its ops are named under ``bond_kernel/``, so a traced graph shows whether the bond
        ran (``PaperKernel(method="auto")`` decides per trace).
        """
        with tf.name_scope("bond_kernel"):
            return self._forward(x, theta)

    def _forward(self, x: tf.Tensor, theta: tf.Tensor) -> tf.Tensor:
        spec, a, b = self.spec, self.a, self.b
        n = spec.n_qubits
        x = tf.convert_to_tensor(x, tf.float32)
        theta = tf.convert_to_tensor(theta, tf.float32)
        batch = tf.shape(x)[0]

        # Encoding R_Z(atan x^2) R_Y(atan x) H |0> per qubit, then each arc's product state.
        half = 0.5 * tf.atan(x)
        c, s = tf.cos(half), tf.sin(half)
        enc_rz = 0.5 * tf.atan(tf.square(x))
        phase = tf.complex(tf.cos(enc_rz), -tf.sin(enc_rz))
        v0 = tf.complex((c - s) * math.sqrt(0.5), 0.0) * phase
        v1 = tf.complex((s + c) * math.sqrt(0.5), 0.0) * tf.math.conj(phase)
        arc_a = _product_state(v0[:, :a], v1[:, :a])[:, None, :]  # [B, K, 2**a]
        arc_b = _product_state(v0[:, a:], v1[:, a:])[:, None, :]  # [B, K, 2**b]

        half_a, half_b = 2 ** (a - 1), 2 ** (b - 1)
        need_b = self._signs_b is not None
        k = 1
        for d in range(spec.depth):
            last = d == spec.depth - 1
            gates = _rotations(theta[d], last)  # [n, 2, 2]
            # Arc A: rows by s2, then keep the rows whose last qubit equals s1.
            rows = _gather_rows(arc_a, *self._src_a)  # [B, k, s2, 2**a]
            pre_a = tf.transpose(tf.reshape(rows, [batch, k, 2, half_a, 2]), [0, 1, 4, 2, 3])
            rest = tf.linalg.matmul(
                tf.reshape(pre_a, [-1, half_a]), _kron_transposed(gates[: a - 1])
            )
            column = tf.transpose(gates[a - 1])[:, None, None, :]  # [s1, 1, 1, bit]
            arc_a = tf.reshape(
                tf.reshape(rest, [batch, k, 2, 2, half_a, 1]) * column, [batch, 4 * k, 2**a]
            )  # bond (k, s1, s2)
            # Arc B: rows by s1, then keep the rows whose last qubit equals s2.
            rows = _gather_rows(arc_b, *self._src_b)  # [B, k, s1, 2**b]
            pre_b = tf.transpose(tf.reshape(rows, [batch, k, 2, half_b, 2]), [0, 1, 2, 4, 3])
            if not last or need_b:
                rest = tf.linalg.matmul(
                    tf.reshape(pre_b, [-1, half_b]), _kron_transposed(gates[a : n - 1])
                )
                column = tf.transpose(gates[n - 1])[:, None, :]  # [s2, 1, bit]
                arc_b = tf.reshape(
                    tf.reshape(rest, [batch, k, 2, 2, half_b, 1]) * column, [batch, 4 * k, 2**b]
                )
            k *= 4

        prev = k // 4  # bond before the last layer; the last split is (s1, s2)
        # G_B blocked by s2: [B, s2, (k', s1), (l', s1')] from the pre-rotation vectors.
        blocks_b = tf.reshape(tf.transpose(pre_b, [0, 3, 1, 2, 4]), [batch, 2, 2 * prev, half_b])
        out = [self._marginal_z(arc_a, blocks_b, [0, 3, 1, 2, 4], prev, self._signs_a)]
        if need_b:
            blocks_a = tf.reshape(
                tf.transpose(pre_a, [0, 2, 1, 3, 4]), [batch, 2, 2 * prev, half_a]
            )
            out.append(self._marginal_z(arc_b, blocks_a, [0, 2, 1, 3, 4], prev, self._signs_b))
        return tf.concat(out, axis=1)

    @staticmethod
    def _marginal_z(arc, other_blocks, order, prev, signs) -> tf.Tensor:
        """``<Z_q>`` [B, L] for the qubits of ``arc`` [B, 4 prev, R].

        ``other_blocks`` [B, 2, 2 prev, R']: the other arc's vectors, grouped by the last
        split index under which its Gram matrix is block-diagonal; ``order`` brings the
        same index of ``arc``'s bond to the front.
        """
        batch, rows = tf.shape(arc)[0], arc.shape[-1]
        gram = tf.linalg.matmul(other_blocks, other_blocks, adjoint_b=True)  # [B, 2, k, l] = <l|k>
        grouped = tf.reshape(
            tf.transpose(tf.reshape(arc, [batch, prev, 2, 2, rows]), order),
            [batch, 2, 2 * prev, rows],
        )
        mixed = tf.linalg.matmul(gram, grouped, transpose_a=True)  # sum_k G[k, l] arc_k
        probs = tf.math.real(tf.reduce_sum(tf.math.conj(grouped) * mixed, axis=[1, 2]))
        return tf.linalg.matmul(probs, signs)
