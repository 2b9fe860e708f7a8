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

Product inputs: :class:`HeisenbergExpectation` computes the same expectations for circuits
whose symbol-dependent gates all act before each qubit's first multi-qubit gate (the paper
circuit's encoding) faster. The rest of the circuit is a fixed channel ``E`` once its
symbols are resolved, so ``<O> = Tr(E^dagger(O) rho_in)`` with ``rho_in`` a product of
2x2 matrices: ``E^dagger(O)`` is evolved once per value of the fixed symbols (by this
module's density-matrix code run on the adjoint circuit), written in the Pauli basis, and
each row costs one contraction of its ``4**n`` real coefficients with the qubits' Bloch
vectors (two matmuls) instead of a density-matrix evolution.
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

__all__ = ["DensityCircuit", "DensityReadout", "HeisenbergExpectation", "superoperator"]

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


# The Pauli basis of one qubit: I, X, Y, Z.
_PAULIS = np.array(
    [[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], np.complex128
)


class HeisenbergExpectation:
    """``<O_l>`` of a noisy circuit whose symbol-dependent part acts on a product state.

    Splits the circuit into a per-qubit *prefix* (the single-qubit gates and channels before
    the qubit's first multi-qubit operation) and the *rest*. When the symbols of the rest
    have one value across the rows (the trained weights of a model), the rest is a fixed
    channel ``E``; ``E^dagger(O_l)`` is evolved once for that value (cached, the last few
    values kept) and every row's expectation is the contraction of its ``4**n`` Pauli
    coefficients with the prefix's Bloch vectors ``(1, <X>, <Y>, <Z>)`` of each qubit. The
    results equal :class:`DensityCircuit` with :class:`DensityReadout` (complex64 rounding).

    Memory: ``8 * L * 4**n`` bytes kept for the ``L`` evolved observables (two float32
    copies; n = 10, 10 readouts: 80 MiB) and about as much again while evolving them,
    independent of the batch; time per row ``2 * L * 4**n`` flops.

    Args:
        circuit: as :class:`DensityCircuit` (unitary gates, single-qubit channels).
        symbol_names: the symbols, in the column order of the symbol values.
        readouts: Pauli sums with real coefficients (as :class:`DensityReadout`).
        qubits: the qubit order (default: ``sorted(circuit.all_qubits())``).

    Attributes:
        fixed_columns: columns of the symbols the rest of the circuit uses; rows must agree
            on them (:meth:`applies`).

    Raises:
        UnsupportedGateError / ValueError / TypeError: as :class:`DensityCircuit` and
            :class:`DensityReadout`.
    """

    def __init__(self, circuit: cirq.Circuit, symbol_names: Sequence, readouts, *, qubits=None):
        qubits = list(qubits) if qubits is not None else sorted(circuit.all_qubits())
        missing = circuit.all_qubits() - set(qubits)
        if missing:
            raise ValueError(f"circuit acts on qubits {sorted(missing)} not in qubits")
        self.qubits = tuple(qubits)
        self.n_qubits = len(qubits)
        self.symbol_names = tuple(sympy.Symbol(str(s)) for s in symbol_names)
        self._readout = DensityReadout(readouts, qubits)
        self.n_outputs = self._readout.n_outputs
        entangled: set = set()
        prefix: dict = {q: [] for q in qubits}
        self._rest: list = []
        for op in circuit.all_operations():
            if len(op.qubits) == 1 and op.qubits[0] not in entangled and op.qubits[0] in prefix:
                prefix[op.qubits[0]].append(op)
                continue
            self._rest.append(op)
            if len(op.qubits) > 1:
                entangled.update(op.qubits)
        self._prefix = [
            DensityCircuit(cirq.Circuit(prefix[q]), self.symbol_names, qubits=[q])
            if prefix[q]
            else None
            for q in qubits
        ]
        names = {str(s) for op in self._rest for s in cirq.parameter_names(op)}
        index = {str(s): i for i, s in enumerate(self.symbol_names)}
        missing = sorted(names - set(index))
        if missing:
            raise ValueError(f"circuit symbols {missing} are not in symbol_names")
        self.fixed_columns = tuple(sorted(index[name] for name in names))
        self._initial = np.zeros((self.n_outputs,) + (4,) * self.n_qubits, np.float32)
        pauli_index = {cirq.X: 1, cirq.Y: 2, cirq.Z: 3}
        qindex = {q: i for i, q in enumerate(qubits)}
        for l, total in enumerate(self._readout.readouts):
            for term in total:
                p = [0] * self.n_qubits
                for q, pauli in term.items():
                    p[qindex[q]] = pauli_index[pauli]
                self._initial[(l, *p)] += float(np.real(term.coefficient))
        self._cache: dict = {}
        self._flat: dict = {}
        self._rows = None

    def applies(self, symbol_values) -> bool:
        """Whether the rows of ``symbol_values`` agree on :attr:`fixed_columns`."""
        values = np.asarray(symbol_values)
        if values.ndim != 2 or not len(values):
            return False
        fixed = values[:, self.fixed_columns]
        return bool(np.all(fixed == fixed[:1]))

    def coefficients(self, fixed_values) -> tf.Tensor:
        """The Pauli coefficients ``[L, 4**h, 4**(n-h)]`` float32 (``h = ceil(n / 2)``) of
        ``E^dagger(O_l) = sum_p c[l, p] P_p`` for the values of :attr:`fixed_columns`.

        The evolution runs in the Pauli basis (real numbers): every multi-qubit operation,
        with the single-qubit operations between it and the qubits' next multi-qubit
        operation fused in, is one real ``4**k x 4**k`` transfer matrix on ``k`` axes.
        """
        fixed_values = np.asarray(fixed_values, np.float32)
        key = fixed_values.tobytes()
        if key in self._cache:
            return self._cache[key]
        resolver = cirq.ParamResolver(
            {str(self.symbol_names[c]): float(v) for c, v in zip(self.fixed_columns, fixed_values)}
        )
        n, L = self.n_qubits, self.n_outputs
        index = {q: i for i, q in enumerate(self.qubits)}
        c = self._initial  # float32: the evolution is memory-bound, its rounding ~1e-7
        pending: dict[int, np.ndarray] = {}
        for op in reversed(self._rest):  # E^dagger applies the last operation first
            op = cirq.resolve_parameters(op, resolver)
            if not op.qubits:  # a global phase cancels in U^dagger O U
                continue
            ks = [index[q] for q in op.qubits]
            transfer = _transfer_matrix(op)
            if len(ks) == 1:
                k = ks[0]
                pending[k] = transfer @ pending[k] if k in pending else transfer
                continue
            order = sorted(range(len(ks)), key=lambda i: ks[i])
            axes = [ks[i] for i in order]
            transfer = _permute_transfer(transfer, order)
            later = np.ones((1, 1))
            for k in axes:  # the fused single-qubit maps of the later operations
                later = np.kron(later, pending.pop(k, np.eye(4)))
            c = _apply_transfer(c, transfer @ later, axes)
        for k, transfer in sorted(pending.items()):
            c = _apply_transfer(c, transfer, [k])
        h = (n + 1) // 2
        c = c.reshape(L, 4**h, 4 ** (n - h))
        coeffs = tf.constant(c)
        if len(self._cache) >= 4:
            old = self._cache.pop(next(iter(self._cache)))
            del self._flat[old.ref()]
        self._cache[key] = coeffs
        # [4**h, L * 4**(n-h)]: the right operand of the rows' matmul
        self._flat[coeffs.ref()] = tf.constant(
            np.ascontiguousarray(c.transpose(1, 0, 2)).reshape(4**h, -1)
        )
        return coeffs

    def bloch_vectors(self, symbol_values) -> tf.Tensor:
        """``[B, n, 4]`` float32: ``(1, <X>, <Y>, <Z>)`` of each qubit after its prefix."""
        values = tf.convert_to_tensor(symbol_values, tf.float32)
        batch = tf.shape(values)[0]
        paulis = tf.constant(_PAULIS, tf.complex64)
        out = []
        for dc in self._prefix:
            if dc is None:
                out.append(tf.tile(tf.constant([[1.0, 0.0, 0.0, 1.0]]), [batch, 1]))
                continue
            rho = dc.density_matrix(values)  # [B, 2, 2]
            out.append(tf.math.real(tf.einsum("bij,pji->bp", rho, paulis)))
        return tf.stack(out, axis=1)

    def __call__(self, symbol_values, *, max_rows: int = 1024) -> tf.Tensor:
        """``<O_l>`` ``[B, L]`` float32 for rows that agree on :attr:`fixed_columns`.

        Raises:
            ValueError: the rows differ on :attr:`fixed_columns`.
        """
        values = np.asarray(symbol_values, np.float32)
        if not self.applies(values):
            raise ValueError(
                "symbol_values: the rows differ on the columns "
                f"{list(self.fixed_columns)} that the circuit uses after its first "
                "multi-qubit gate; run DensityCircuit instead"
            )
        coeffs = self.coefficients(values[0, list(self.fixed_columns)])
        flat = self._flat[coeffs.ref()]
        if self._rows is None:  # one graph for every batch size (the ops are many and small)
            spec = [
                tf.TensorSpec([None, len(self.symbol_names)], tf.float32),
                tf.TensorSpec(flat.shape, tf.float32),
            ]
            self._rows = tf.function(self._contract, input_signature=spec)
        parts = [
            self._rows(tf.constant(values[start : start + max_rows]), flat)
            for start in range(0, len(values), max_rows)
        ]
        # identity terms are in the coefficients: E^dagger(I) = I for a trace-preserving E
        return tf.concat(parts, axis=0) if parts else tf.zeros([0, self.n_outputs])

    def _contract(self, values, flat):
        n, L = self.n_qubits, self.n_outputs
        h = (n + 1) // 2
        v = self.bloch_vectors(values)  # [b, n, 4]
        left, right = _kron_rows(v[:, :h]), _kron_rows(v[:, h:])
        t = tf.reshape(tf.linalg.matmul(left, flat), [-1, L, 4 ** (n - h)])
        return tf.einsum("blc,bc->bl", t, right)


def _pauli_basis(k: int) -> list[np.ndarray]:
    """The ``4**k`` Pauli strings on ``k`` qubits as matrices, qubit 0 the most significant."""
    out = [np.ones((1, 1), np.complex128)]
    for _ in range(k):
        out = [np.kron(a, p) for a in out for p in _PAULIS]
    return out


def _transfer_matrix(op: cirq.Operation) -> np.ndarray:
    """The real ``4**k x 4**k`` matrix ``R[P, Q] = Tr(P E^dagger(Q)) / 2**k`` of the
    Heisenberg map of a resolved gate or channel on ``k`` qubits (in ``op.qubits`` order)."""
    k = len(op.qubits)
    if cirq.is_parameterized(op):
        raise ValueError(f"operation {op!r} still has symbols after resolving")
    if cirq.has_unitary(op):
        kraus = [cirq.unitary(op)]
    elif cirq.has_kraus(op):
        kraus = list(cirq.kraus(op))
    else:
        raise UnsupportedGateError(f"unsupported operation {op!r}: it has no unitary or Kraus")
    if k > 3:
        raise UnsupportedGateError(
            f"unsupported operation {op!r}: HeisenbergExpectation takes gates on <= 3 qubits"
        )
    basis = _pauli_basis(k)
    out = np.zeros((4**k, 4**k))
    for j, q in enumerate(basis):
        image = sum(m.conj().T @ q @ m for m in kraus)  # E^dagger(Q)
        for i, p in enumerate(basis):
            out[i, j] = np.real(np.trace(p @ image)) / 2**k
    return out


def _permute_transfer(transfer: np.ndarray, order: list[int]) -> np.ndarray:
    """``transfer`` over its qubits re-ordered: new axis ``i`` is old axis ``order[i]``."""
    k = len(order)
    t = transfer.reshape((4,) * (2 * k))
    t = np.transpose(t, order + [k + i for i in order])
    return t.reshape(4**k, 4**k)


def _apply_transfer(c: np.ndarray, transfer: np.ndarray, axes: list[int]) -> np.ndarray:
    """``c[l, .., p_a, .., p_b, ..] -> sum_q R[(p_a, p_b), (q_a, q_b)] c[l, .., q_a, .., q_b, ..]``
    over the qubit ``axes`` (in the order of ``transfer``) of ``c`` ``[L, 4, .., 4]``."""
    k = len(axes)
    r = transfer.astype(c.dtype).reshape((4,) * (2 * k))
    out = np.tensordot(r, c, axes=(list(range(k, 2 * k)), [1 + a for a in axes]))
    return np.moveaxis(out, list(range(k)), [1 + a for a in axes])


def _kron_rows(v: tf.Tensor) -> tf.Tensor:
    """``[B, k, 4] -> [B, 4**k]``: the Kronecker product of each row's vectors, qubit 0 the
    most significant."""
    out = tf.ones([tf.shape(v)[0], 1])
    for q in range(v.shape[1]):
        out = tf.reshape(out[:, :, None] * v[:, q, None, :], [tf.shape(v)[0], -1])
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
