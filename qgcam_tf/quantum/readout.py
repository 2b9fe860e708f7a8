"""Expectation values of Pauli sums (any basis, real coefficients) read from state vectors.

A Pauli string ``P`` on ``n`` qubits maps a basis state to one basis state:
``P|j> = i^y (-1)^{popcount(j & (y_mask | z_mask))} |j XOR x_mask>``, where ``x_mask`` has the
bits of the qubits with X or Y, ``y_mask`` / ``z_mask`` those with Y / Z and ``y`` the
number of Y factors. Hence

    <psi|P|psi> = Re( i^y * sum_j conj(psi[j XOR x_mask]) psi[j] s_P[j] ),  s_P[j] = +-1,

so no basis rotation and no second state are needed: the strings that flip the same bits
share one product ``c[j] = conj(psi[j XOR m]) psi[j]`` (for ``m = 0``, the probabilities),
and all their coefficients, signs and powers of ``i`` go into one real matrix applied to
``[Re c, Im c]`` by one matmul. A readout with ``G`` distinct flip masks costs ``G`` gathers
and ``G`` matmuls over ``2**n`` amplitudes; identity terms add their constant.

State layout: ``[batch, 2**n]`` complex64, big-endian (qubit 0 is the most significant
bit), the ordering of ``cirq.Simulator``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import cirq
import numpy as np
import tensorflow as tf

from qgcam_tf.quantum.basis import permute

__all__ = ["PauliReadout", "as_pauli_sum"]

# Re(i^k z) = a Re z + b Im z for k = 0..3
_RE_IM = {0: (1.0, 0.0), 1: (0.0, -1.0), 2: (-1.0, 0.0), 3: (0.0, 1.0)}


def as_pauli_sum(readout, name: str = "readout") -> cirq.PauliSum:
    """``readout`` (a ``cirq.PauliSum``, ``cirq.PauliString`` or Pauli operation) as a
    ``cirq.PauliSum`` whose coefficients are real.

    Raises:
        TypeError: ``readout`` is not Pauli-sum-like (the message names ``name`` and it).
        ValueError: a coefficient has a non-zero imaginary part (the operator is not
            Hermitian) or is symbolic.
    """
    if isinstance(readout, cirq.PauliSum):
        total = readout
    elif isinstance(readout, (cirq.PauliString, cirq.Operation)):
        try:
            total = cirq.PauliSum.wrap(readout)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{name} must be a cirq.PauliSum or cirq.PauliString, got {readout!r}"
            ) from err
    else:
        raise TypeError(f"{name} must be a cirq.PauliSum or cirq.PauliString, got {readout!r}")
    for term in total:
        c = term.coefficient
        if not isinstance(c, numbers.Number):
            raise ValueError(f"{name} {readout!r}: coefficient {c!r} must be a number")
        if abs(complex(c).imag) > 1e-12 * max(1.0, abs(complex(c))):
            raise ValueError(
                f"{name} {readout!r}: coefficient {c!r} is not real (the operator is not Hermitian)"
            )
    return total


class PauliReadout:
    """``<psi|O_l|psi>`` for Pauli sums ``O_l`` with real coefficients, from state vectors.

    Args:
        readouts: the operators ``O_l`` (``cirq.PauliSum``, ``cirq.PauliString`` or a Pauli
            operation such as ``cirq.Z(q)``), in output order.
        qubits: the qubit order of the state vectors (qubit 0 is the most significant bit);
            every qubit of every readout must be in it.

    Raises:
        TypeError / ValueError: a readout is not a real Pauli sum, or acts on a qubit not in
            ``qubits`` (the message names the readout and the qubit).
    """

    def __init__(self, readouts: Sequence, qubits: Sequence[cirq.Qid]):
        if isinstance(readouts, (cirq.PauliSum, cirq.PauliString, cirq.Operation)):
            raise TypeError(f"readouts must be a sequence of Pauli sums, got {readouts!r}")
        self.qubits = tuple(qubits)
        self.n_qubits = len(self.qubits)
        qindex = {q: i for i, q in enumerate(self.qubits)}
        if len(qindex) != self.n_qubits:
            raise ValueError(f"qubits must not repeat a qubit, got {list(self.qubits)}")
        self.readouts = tuple(
            as_pauli_sum(r, f"readouts[{l}]") for l, r in enumerate(list(readouts))
        )
        self.n_outputs = len(self.readouts)
        n = self.n_qubits
        idx = np.arange(2**n)
        self._const = np.zeros([self.n_outputs], np.float32)
        groups: dict[int, np.ndarray] = {}  # x_mask -> [2 * 2**n, L] float64 weights
        for l, total in enumerate(self.readouts):
            for term in total:
                coeff = float(complex(term.coefficient).real)
                x_mask = y_mask = z_mask = 0
                for q, pauli in term.items():
                    if q not in qindex:
                        raise ValueError(
                            f"readouts[{l}] {total!r} acts on qubit {q!r}, not in qubits"
                        )
                    bit = 1 << (n - 1 - qindex[q])
                    if pauli == cirq.X:
                        x_mask |= bit
                    elif pauli == cirq.Y:
                        x_mask |= bit
                        y_mask |= bit
                    else:
                        z_mask |= bit
                if x_mask == y_mask == z_mask == 0:
                    self._const[l] += coeff
                    continue
                parity = np.zeros_like(idx)
                masked = idx & (y_mask | z_mask)
                for q in range(n):
                    parity ^= (masked >> q) & 1
                signs = coeff * (1.0 - 2.0 * parity)
                a, b = _RE_IM[bin(y_mask).count("1") % 4]
                w = groups.setdefault(x_mask, np.zeros([2 * 2**n, self.n_outputs]))
                w[: 2**n, l] += a * signs
                w[2**n :, l] += b * signs
        # The tables, public for the density-matrix counterpart (same formula, rho[j, j^m]):
        # the constant of each output and, per flip mask m, the [2 * 2**n, L] weights on
        # [Re c, Im c] of c[j] = conj(psi[j ^ m]) psi[j].
        self.constants = self._const
        self.mask_weights = tuple((m, w.astype(np.float32)) for m, w in sorted(groups.items()))
        self._groups = [(m, idx ^ m, w) for m, w in self.mask_weights]

    def __call__(self, state: tf.Tensor) -> tf.Tensor:
        """The expectations ``[B, n_outputs]`` float32 of normalised state vectors
        ``[B, 2**n]`` (identity terms add their coefficient, assuming ``<psi|psi> = 1``).

        Differentiable with respect to ``state`` (``tf.GradientTape``) and traceable in
        ``tf.function`` and XLA.
        """
        psi = tf.convert_to_tensor(state, tf.complex64)
        batch = tf.shape(psi)[0]
        out = tf.broadcast_to(tf.constant(self._const)[None], [batch, self.n_outputs])
        for mask, src, w in self._groups:
            if mask == 0:
                probs = tf.math.square(tf.math.real(psi)) + tf.math.square(tf.math.imag(psi))
                out = out + tf.linalg.matmul(probs, tf.constant(w[: 2**self.n_qubits]))
                continue
            c = tf.math.conj(permute(psi, src, axis=1)) * psi
            parts = tf.concat([tf.math.real(c), tf.math.imag(c)], axis=1)
            out = out + tf.linalg.matmul(parts, tf.constant(w))
        return out
