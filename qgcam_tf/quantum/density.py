"""Exact noisy simulation: a Cirq circuit with channels, compiled to density-matrix TF ops.

The density-matrix sibling of :class:`qgcam_tf.quantum.compiler.CompiledCircuit`: it parses the
same gates (with that module's public gate records and helpers, every gate family of
:func:`~qgcam_tf.quantum.compiler.parse_operations` included) plus single-qubit channels, and runs
``rho -> sum_k K_k rho K_k^dagger`` in plain TensorFlow, batched over symbol values and
differentiable with ``tf.GradientTape``. Memory is ``16 * 4**n`` bytes per sample, so it is
meant for small circuits (up to about 8 qubits; 10 qubits still run, slowly).

Every single-qubit operation, gate or channel, is a 4x4 *superoperator* ``S`` acting on
the qubit's index pair of ``rho``:
``S[(i, j), (a, b)] = sum_k K_k[i, a] conj(K_k[j, b])``. Runs of them on one qubit fuse
into one 4x4 matrix (batched when a gate depends on the symbols), so a run of gates and
channels costs one pass over ``rho``. Before the first multi-qubit gate ``rho`` is a
product of 2x2 matrices and is built by Kronecker products. Permutation gates (CNOT)
are two gathers, ``rho[src][:, src]``.

Layout: ``rho`` is ``[batch, 2**n, 2**n]`` complex64, big-endian (qubit 0 is the most
significant bit), as ``cirq.DensityMatrixSimulator``.

Readouts: :meth:`DensityCircuit.expectation_z` reads ``<Z>`` products from the diagonal;
:class:`DensityReadout` reads Pauli sums in any basis, ``Tr(rho P)``. A Pauli string maps
``P|j> = i^y s_P[j] |j XOR x_mask>`` (``s_P[j] = +-1``, ``x_mask`` the qubits with X or Y,
``y`` the number of Y factors), so ``Tr(rho P) = Re(i^y sum_j s_P[j] rho[j, j XOR x_mask])``:
one gather of ``2**n`` entries of ``rho`` per distinct ``x_mask`` and one matmul.
"""

from __future__ import annotations

from collections.abc import Sequence

import cirq
import numpy as np
import sympy
import tensorflow as tf

from qgcam_tf.quantum.compiler import (
    MultiGate,
    SingleGate,
    UnsupportedGateError,
    append_multi_gate,
    apply_dense_gate,
    gate_matrix,
    parse_operations,
    z_signs,
)
from qgcam_tf.quantum.readout import PauliReadout

__all__ = ["DensityCircuit", "DensityReadout", "superoperator"]

_ZERO = np.array([1, 0, 0, 0], dtype=np.complex128)  # |0><0| as a vector over (i, j)


def superoperator(kraus: Sequence[np.ndarray]) -> np.ndarray:
    """The 4x4 matrix of ``rho -> sum_k K rho K^dagger`` over index pairs ``(i, j)``."""
    return sum(np.kron(k, k.conj()) for k in kraus)


class DensityCircuit:
    """A Cirq circuit of unitary gates and single-qubit channels, as TF density-matrix ops.

    Args:
        circuit: unitary gates as accepted by :class:`~qgcam_tf.quantum.compiler.CompiledCircuit`
            (every family of :data:`~qgcam_tf.quantum.compiler.SUPPORTED_PARAMETRISED_GATES`),
            plus single-qubit channels with Kraus operators and no symbols (depolarizing,
            amplitude/phase damping, bit flip, ...).
        symbol_names: the symbols, in the column order of ``symbol_values``.
        qubits: qubit order (default: ``sorted(circuit.all_qubits())``).

    Raises:
        UnsupportedGateError: an operation cannot be compiled (the message names it).
        ValueError: a symbol of the circuit is not in ``symbol_names``.
    """

    def __init__(self, circuit: cirq.Circuit, symbol_names: Sequence, *, qubits=None):
        qubits = list(qubits) if qubits is not None else sorted(circuit.all_qubits())
        self.n_qubits = len(qubits)
        self.symbol_names = tuple(sympy.Symbol(str(s)) for s in symbol_names)
        qindex = {q: i for i, q in enumerate(qubits)}
        missing = circuit.all_qubits() - set(qindex)
        if missing:
            raise ValueError(f"circuit acts on qubits {sorted(missing)} not in qubits")
        sindex = {s: i for i, s in enumerate(self.symbol_names)}
        self._program = self._compile(circuit, qindex, sindex)

    def z_signs(self, observables: Sequence[Sequence[int]]) -> np.ndarray:
        """``[2**n, L]`` eigenvalues of the Z products on the given qubit index lists
        (:func:`~qgcam_tf.quantum.compiler.z_signs` on this circuit's qubits)."""
        return z_signs(self.n_qubits, observables)

    # ----------------------------------------------------------------- compile
    def _compile(self, circuit, qindex, sindex) -> list:
        """A program of steps: ``open`` (product state), ``single``, ``monomial``, ``dense``.

        Single-qubit operations wait in a per-qubit run until a multi-qubit gate needs the
        qubit (they commute with everything on other qubits), then run as one fused step.
        """
        pending: dict[int, list] = {q: [] for q in range(self.n_qubits)}
        program: list = []
        opened = False

        def flush(qs):
            blocks = [(q, _fold(pending[q])) for q in qs if pending[q]]
            for q in qs:
                pending[q] = []
            return blocks

        for op in circuit.all_operations():
            if cirq.is_measurement(op):
                raise UnsupportedGateError(
                    f"unsupported operation {op!r}: expectations need no measurement"
                )
            if cirq.is_parameterized(op) or cirq.has_unitary(op):
                records = parse_operations(op, qindex, sindex)
            elif len(op.qubits) == 1 and cirq.has_kraus(op):
                q = qindex[op.qubits[0]]
                pending[q].append(superoperator(cirq.kraus(op)))
                continue
            else:
                raise UnsupportedGateError(
                    f"unsupported operation {op!r}: the density executor takes unitary gates "
                    "and single-qubit channels"
                )
            for parsed in records:
                if isinstance(parsed, SingleGate):
                    pending[parsed.qubit].append(
                        parsed if parsed.matrix is None else _unitary_superop(parsed.matrix)
                    )
                    continue
                if not opened:
                    program.append(("open", dict(flush(range(self.n_qubits)))))
                    opened = True
                else:
                    blocks = flush(parsed.qubits)
                    if blocks:
                        program.append(("single", blocks))
                append_multi_gate(program, parsed, self.n_qubits)
        if not opened:
            program.append(("open", dict(flush(range(self.n_qubits)))))
        else:
            blocks = flush(range(self.n_qubits))
            if blocks:
                program.append(("single", blocks))
        return program

    # ---------------------------------------------------------------- execute
    def _run_superop(self, run: list, values: tf.Tensor) -> tf.Tensor:
        """Product of a fused run: ``[4, 4]``, or ``[B, 4, 4]`` when a gate uses symbols."""
        total = None
        for factor in run:
            if isinstance(factor, SingleGate):
                u = gate_matrix(factor, values)  # [B, 2, 2]
                s = tf.reshape(
                    u[:, :, None, :, None] * tf.math.conj(u)[:, None, :, None, :], [-1, 4, 4]
                )
            else:
                s = tf.constant(factor, tf.complex64)
            total = s if total is None else tf.linalg.matmul(s, total)
        return total

    def _apply_superop(self, rho: tf.Tensor, s: tf.Tensor, q: int) -> tf.Tensor:
        n = self.n_qubits
        a, c = 2**q, 2 ** (n - q - 1)
        shaped = tf.reshape(rho, [-1, a, 2, c, a, 2, c])
        if s.shape.rank == 2:
            out = tf.einsum("ijkl,xakybld->xaiybjd", tf.reshape(s, [2, 2, 2, 2]), shaped)
        else:
            out = tf.einsum("xijkl,xakybld->xaiybjd", tf.reshape(s, [-1, 2, 2, 2, 2]), shaped)
        return tf.reshape(out, [-1, 2**n, 2**n])

    def density_matrix(self, symbol_values: tf.Tensor) -> tf.Tensor:
        """Final density matrices ``[B, 2**n, 2**n]`` complex64 for ``symbol_values`` [B, S]."""
        values = tf.convert_to_tensor(symbol_values, tf.float32)
        batch = tf.shape(values)[0]
        rho = None
        for kind, payload in self._program:
            if kind == "open":
                rho = self._product_state(payload, values, batch)
            elif kind == "single":
                for q, run in payload:
                    rho = self._apply_superop(rho, self._run_superop(run, values), q)
            elif kind == "monomial":
                src, phase = payload
                rho = tf.gather(tf.gather(rho, src, axis=1), src, axis=2)
                if not np.allclose(phase, 1.0):
                    ph = tf.constant(phase, tf.complex64)
                    rho = rho * ph[:, None] * tf.math.conj(ph)[None, :]
            else:  # U rho U^dagger = U (U rho)^dagger for Hermitian rho
                rho = self._rows(self._rows(rho, payload), payload, adjoint=True)
        return rho

    def _rows(self, rho, op: MultiGate, *, adjoint: bool = False):
        """``U @ rho`` (``U @ rho^dagger`` with ``adjoint``), via the state-vector gate code."""
        d = 2**self.n_qubits
        m = tf.linalg.adjoint(rho) if adjoint else rho
        cols = tf.reshape(tf.transpose(m, [0, 2, 1]), [-1, d])
        out = tf.reshape(apply_dense_gate(cols, op, self.n_qubits), [-1, d, d])
        return tf.transpose(out, [0, 2, 1])

    def _product_state(self, runs: dict, values, batch) -> tf.Tensor:
        rho = None
        for q in range(self.n_qubits):
            if q in runs:
                r = tf.linalg.matvec(
                    self._run_superop(runs[q], values), tf.constant(_ZERO, tf.complex64)
                )
            else:
                r = tf.constant(_ZERO, tf.complex64)
            r = tf.reshape(r, [-1, 2, 2])
            if r.shape[0] == 1:
                r = tf.tile(r, [batch, 1, 1])
            if rho is None:
                rho = r
            else:
                d = tf.shape(rho)[1]
                rho = tf.reshape(
                    rho[:, :, None, :, None] * r[:, None, :, None, :], [-1, 2 * d, 2 * d]
                )
        return rho

    def expectation_z(self, symbol_values: tf.Tensor, signs: np.ndarray) -> tf.Tensor:
        """``<Z...>`` [B, L] for the sign matrix of :meth:`z_signs`."""
        rho = self.density_matrix(symbol_values)
        probs = tf.math.real(tf.linalg.diag_part(rho))
        return tf.linalg.matmul(probs, tf.constant(signs, tf.float32))

    def expectation(self, symbol_values: tf.Tensor, readout: DensityReadout) -> tf.Tensor:
        """``Tr(rho O_l)`` [B, L] of the readout's Pauli sums (built on this circuit's qubits)."""
        if readout.n_qubits != self.n_qubits:
            raise ValueError(
                f"readout is on {readout.n_qubits} qubits, the circuit has {self.n_qubits}"
            )
        return readout(self.density_matrix(symbol_values))


class DensityReadout:
    """``Tr(rho O_l)`` for Pauli sums ``O_l`` with real coefficients, from density matrices.

    The density-matrix counterpart of :class:`~qgcam_tf.quantum.readout.PauliReadout` (see
    the module docstring for the formula).

    Args:
        readouts: the operators (``cirq.PauliSum``, ``cirq.PauliString`` or a Pauli
            operation), in output order.
        qubits: the qubit order of the density matrices; it must hold every readout qubit.

    Raises:
        TypeError / ValueError: a readout is not a real Pauli sum, or acts on a qubit not in
            ``qubits`` (the message names the readout and the qubit).
    """

    def __init__(self, readouts: Sequence, qubits: Sequence[cirq.Qid]):
        table = PauliReadout(readouts, qubits)  # its checks and its weight tables
        self.qubits, self.n_qubits = table.qubits, table.n_qubits
        self.readouts, self.n_outputs = table.readouts, table.n_outputs
        self._const = table.constants
        idx = np.arange(2**self.n_qubits)
        # rho[j, j XOR m] is entry j * 2**n + (j XOR m) of the flattened matrix
        self._groups = [(m, idx * 2**self.n_qubits + (idx ^ m), w) for m, w in table.mask_weights]

    def __call__(self, rho: tf.Tensor) -> tf.Tensor:
        """The expectations ``[B, n_outputs]`` float32 of density matrices
        ``[B, 2**n, 2**n]`` (identity terms add their coefficient, assuming ``Tr rho = 1``);
        differentiable with respect to ``rho``."""
        rho = tf.convert_to_tensor(rho, tf.complex64)
        d = 2**self.n_qubits
        batch = tf.shape(rho)[0]
        out = tf.broadcast_to(tf.constant(self._const)[None], [batch, self.n_outputs])
        flat = tf.reshape(rho, [-1, d * d])
        for mask, entries, w in self._groups:
            if mask == 0:
                probs = tf.math.real(tf.linalg.diag_part(rho))
                out = out + tf.linalg.matmul(probs, tf.constant(w[:d]))
                continue
            c = tf.gather(flat, entries, axis=1)
            parts = tf.concat([tf.math.real(c), tf.math.imag(c)], axis=1)
            out = out + tf.linalg.matmul(parts, tf.constant(w))
        return out


def _unitary_superop(u: np.ndarray) -> np.ndarray:
    return superoperator([u])


def _fold(run: list) -> list:
    """Multiplies neighbouring fixed superoperators of a run at compile time."""
    out: list = []
    for factor in run:
        if out and not isinstance(factor, SingleGate) and not isinstance(out[-1], SingleGate):
            out[-1] = factor @ out[-1]
        else:
            out.append(factor)
    return out
