"""Parameter-shift derivatives of Pauli-sum expectations for any circuit the compiler takes,
and finite-shot estimates of Pauli expectations.

Quantum hardware gives expectations, not gradients. :class:`ShiftRule` computes
``d <O_l> / d v_i`` (``v`` the symbol values a network supplies) from expectations of the
same circuit with shifted gate parameters, the way hardware can:

* Every parametrised gate of :data:`~qgcam_tf.quantum.compiler.SUPPORTED_PARAMETRISED_GATES`
  is an exact product of Pauli power gates ``P**t`` (``P`` in X, Y, Z) with exponents
  ``t = c + sum_i a_i v_i`` and fixed gates
  (:func:`~qgcam_tf.quantum.compiler.parse_operations`). Up to a global phase,
  ``P**t = exp(-i pi t P / 2)``: a generator with the two eigenvalues ``+-pi/2``, so the
  two-term rule is exact for each such *occurrence* ``k``:
  ``d<O>/dt_k = pi/2 (<O>(t_k + 1/2) - <O>(t_k - 1/2))``.
* A gate whose generator has more than two eigenvalues (``ISwapPowGate``, ``SwapPowGate``,
  ``PhasedISwapPowGate``, ``FSimGate``'s ``theta``) is a product of commuting two-eigenvalue
  factors (``ISWAP**t = XX**(-t/2) YY**(-t/2)`` up to phase), so its derivative is the sum
  of the factors' two-term rules: four shifted circuits for an ``ISWAP`` exponent, as many
  as the four-term rule. A symbol that several gates use, or one gate in several places
  (``PhasedXPowGate``'s ``phase_exponent``), adds up over its occurrences by the chain rule:
  ``d<O>/dv_i = sum_k a_{k,i} d<O>/dt_k``.

Each shifted expectation runs on :class:`~qgcam_tf.quantum.compiler.ExpectationProgram`
(state vectors in TensorFlow). With ``shots`` it is what a device would report: every
Pauli term ``P_j`` of every readout is measured on its own, ``shots`` times per shifted
circuit (outcome ``+1`` with probability ``(1 + <P_j>)/2``, so ``2 k / shots - 1`` with
``k`` binomial, :func:`sample_expectations`), and the readout is ``sum_j c_j`` times the
estimates (identity terms are constants, not measured). Terms are not grouped into
commuting sets; each costs its own shots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cirq
import numpy as np
import sympy
import tensorflow as tf

from qgcam_tf.quantum.compiler import (
    ExpectationProgram,
    MultiGate,
    circuit_symbol_names,
    parse_operations,
    readouts_and_qubits,
)
from qgcam_tf.quantum.density import DensityCircuit, DensityReadout

__all__ = ["ShiftRule", "check_shots", "sample_expectations"]

_POWER = {"X": cirq.XPowGate, "Y": cirq.YPowGate, "Z": cirq.ZPowGate}
SHIFT = 0.5
"""The exponent shift of the two-term rule for ``P**t`` (an angle shift of ``pi/2``)."""


def _is_channel(op: cirq.Operation) -> bool:
    """A symbol-free single-qubit operation with Kraus operators and no unitary."""
    return (
        len(op.qubits) == 1
        and not cirq.is_measurement(op)
        and not cirq.is_parameterized(op)
        and not cirq.has_unitary(op)
        and cirq.has_kraus(op)
    )


def check_shots(shots) -> int | None:
    """``shots`` as an int, or None (exact expectations).

    Raises:
        ValueError: ``shots`` is not None and not an int >= 1 (the message names it).
    """
    if shots is None:
        return None
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise ValueError(f"shots must be an int >= 1 or None, got {shots!r}")
    return int(shots)


class ShiftRule:
    """``d <O_l> / d v_i`` by the parameter-shift rule, for any circuit
    :class:`~qgcam_tf.quantum.compiler.ExpectationProgram` compiles (see the module docs),
    noisy or not.

    The circuit is rewritten once with one symbol per parametrised Pauli-power occurrence
    (:attr:`occurrence_circuit`); its exponents are the affine map
    ``t = offsets + v @ coefficients.T`` of the symbol values. A call of :meth:`jacobian`
    evaluates ``2 K`` shifted circuits per sample (``K`` occurrences), each measured
    exactly or with ``shots`` per Pauli term.

    Noise: a circuit that holds single-qubit channels (as
    :func:`~qgcam_tf.noise.circuits.add_noise` inserts them after each gate) runs on exact
    density matrices (:class:`~qgcam_tf.quantum.density.DensityCircuit`, memory
    ``16 * 4**n`` bytes per circuit); the channels stay where they are, between the
    shifted gates. The rule stays exact because every channel is fixed and the two-term
    rule holds for any linear function of the state. ``readout_error`` flips each measured
    qubit's outcome: term ``P_j``'s outcomes then have mean ``f_j <P_j>``,
    ``f_j = prod_{q in P_j} (1 - 2 p_q)``, and its shots are drawn from that.

    Args:
        circuit: unitary gates (fixed gates of any size, and the parametrised families of
            :data:`~qgcam_tf.quantum.compiler.SUPPORTED_PARAMETRISED_GATES` with parameters
            linear in the symbols), and single-qubit channels without symbols.
        symbols: the symbols (``sympy.Symbol`` or names) in the column order of the symbol
            values.
        readouts: ``cirq.PauliSum`` / ``cirq.PauliString`` operators with real coefficients.
        qubits: the qubit order (default: the sorted qubits of the circuit and readouts).
        readout_error: the flip probability of each qubit of ``qubits`` (default: none).
        max_rows: circuits simulated per TensorFlow call (bounds memory; a density-matrix
            call also keeps under 512 MiB).

    Attributes:
        symbols: ``tuple[str, ...]``, the symbol value columns.
        readouts: the readouts as ``cirq.PauliSum``.
        qubits: the qubit order.
        n_outputs: the number of readouts.
        terms: the distinct non-identity Pauli strings of the readouts (coefficient 1),
            the observables a device measures.
        term_weights: ``[len(terms), n_outputs]`` float64, the readouts' coefficients.
        term_factors: ``[len(terms)]`` float64, the readout-error factors ``f_j`` (1
            without readout error); readout ``l`` is
            ``constants[l] + sum_j term_weights[j, l] f_j <terms[j]>``.
        constants: ``[n_outputs]`` float64, the identity terms.
        occurrence_circuit: ``circuit`` as Pauli power gates, fixed gates and its
            channels, each symbol-dependent exponent replaced by its own symbol
            ``t0, t1, ...``.
        offsets: ``[K]`` float64 constant parts of the occurrence exponents.
        coefficients: ``[K, len(symbols)]`` float64, ``d t_k / d v_i``.
        noisy: whether the circuit holds channels (density-matrix simulation).

    Raises:
        UnsupportedGateError: a gate cannot be compiled, a parameter is not linear in its
            symbols, or an operation is neither a gate nor a single-qubit channel (the
            message names it and its moment).
        ValueError: a circuit symbol missing from ``symbols`` or repeated there, a qubit
            missing from ``qubits``, a bad readout coefficient, ``readout_error`` of the
            wrong length or outside [0, 1], ``max_rows`` not an int >= 1.
        TypeError: ``circuit``, a symbol or a readout has the wrong type.
    """

    def __init__(
        self,
        circuit: cirq.AbstractCircuit,
        symbols: Sequence,
        readouts: Sequence,
        *,
        qubits: Sequence[cirq.Qid] | None = None,
        readout_error: Sequence[float] | None = None,
        max_rows: int = 4096,
    ):
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError(f"max_rows must be an int >= 1, got {max_rows!r}")
        names = circuit_symbol_names(circuit, symbols)
        self.readouts, self.qubits = readouts_and_qubits(circuit, readouts, qubits)
        self.n_outputs = len(self.readouts)
        self.symbols = tuple(names)
        flips = self._check_readout_error(readout_error)
        self._expand(circuit)
        self._split_terms(flips)
        n = len(self.qubits)
        self._max_rows = min(max_rows, max(1, 2**26 // 4**n)) if self.noisy else max_rows
        self._terms = None
        if self.terms:
            occ = [f"t{k}" for k in range(len(self.offsets))]
            if self.noisy:
                density = DensityCircuit(self.occurrence_circuit, occ, qubits=self.qubits)
                readout = DensityReadout(self.terms, self.qubits)
                self._terms = lambda t: readout(density.density_matrix(t))
            else:
                self._terms = ExpectationProgram(
                    self.occurrence_circuit, occ, self.terms, qubits=self.qubits
                )

    def _check_readout_error(self, readout_error) -> np.ndarray:
        n = len(self.qubits)
        if readout_error is None:
            return np.zeros(n)
        flips = np.asarray(readout_error, np.float64)
        if flips.shape != (n,) or not np.all((flips >= 0) & (flips <= 1)):
            raise ValueError(
                f"readout_error must be {n} probabilities in [0, 1] (one per qubit of "
                f"{list(self.qubits)}), got {readout_error!r}"
            )
        return flips

    def _expand(self, circuit) -> None:
        """Sets occurrence_circuit, offsets, coefficients and noisy."""
        qindex = {q: i for i, q in enumerate(self.qubits)}
        sindex = {sympy.Symbol(s): i for i, s in enumerate(self.symbols)}
        ops, offsets, rows = [], [], []
        self.noisy = False
        for m, moment in enumerate(circuit):
            for op in moment:
                if _is_channel(op):
                    ops.append(op)
                    self.noisy = True
                    continue
                try:
                    records = parse_operations(op, qindex, sindex)
                except ValueError as err:  # UnsupportedGateError is a ValueError
                    raise type(err)(f"moment {m}: {err}") from None
                for rec in records:
                    ops.append(self._record_op(rec, offsets, rows))
        self.occurrence_circuit = cirq.Circuit(ops)
        self.offsets = np.array(offsets, np.float64)
        self.coefficients = np.array(rows, np.float64).reshape(len(offsets), len(self.symbols))

    def _record_op(self, rec, offsets: list, rows: list) -> cirq.Operation:
        """The operation of one gate record; a symbol-dependent exponent gets its own symbol."""
        if isinstance(rec, MultiGate):
            return cirq.MatrixGate(rec.matrix).on(*(self.qubits[i] for i in rec.qubits))
        qubit = self.qubits[rec.qubit]
        if rec.matrix is not None:
            return cirq.MatrixGate(rec.matrix).on(qubit)
        exponent = rec.exponent.const
        if rec.exponent.coeffs:
            row = np.zeros(len(self.symbols))
            for i, a in rec.exponent.coeffs.items():
                row[i] += a
            exponent = sympy.Symbol(f"t{len(offsets)}")
            offsets.append(rec.exponent.const)
            rows.append(row)
        return _POWER[rec.pauli](exponent=exponent, global_shift=rec.global_shift).on(qubit)

    def _split_terms(self, flips: np.ndarray) -> None:
        """Sets terms, term_weights, term_factors and constants."""
        qindex = {q: i for i, q in enumerate(self.qubits)}
        index: dict = {}
        weights: list = []
        self.constants = np.zeros(self.n_outputs)
        for l, total in enumerate(self.readouts):
            for term in total:
                c = float(complex(term.coefficient).real)
                unit = term.with_coefficient(1)
                if len(unit) == 0:
                    self.constants[l] += c
                    continue
                if unit not in index:
                    index[unit] = len(index)
                    weights.append(np.zeros(self.n_outputs))
                weights[index[unit]][l] += c
        self.terms = tuple(index)
        self.term_weights = np.array(weights, np.float64).reshape(len(index), self.n_outputs)
        self.term_factors = np.array(
            [np.prod([1.0 - 2.0 * flips[qindex[q]] for q in unit.qubits]) for unit in self.terms]
        )

    def _values(self, symbol_values) -> np.ndarray:
        values = np.asarray(symbol_values, np.float64)
        if values.ndim != 2 or values.shape[1] != len(self.symbols):
            raise ValueError(
                f"symbol_values must be [batch, {len(self.symbols)}] (one column per symbol "
                f"of {self.symbols}), got shape {values.shape}"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError("symbol_values contain NaN or infinite values")
        return values

    def occurrence_values(self, symbol_values) -> np.ndarray:
        """The exponents ``t`` ``[B, K]`` of :attr:`occurrence_circuit` for symbol values
        ``[B, len(symbols)]``."""
        return self.offsets + self._values(symbol_values) @ self.coefficients.T

    def _measure(self, t: np.ndarray, shots, rng) -> np.ndarray:
        """Readout estimates ``[R, n_outputs]`` at occurrence exponents ``t`` ``[R, K]``."""
        if self._terms is None:
            return np.broadcast_to(self.constants, (len(t), self.n_outputs)).copy()
        parts = [
            self._terms(tf.constant(t[i : i + self._max_rows], tf.float32)).numpy()
            for i in range(0, len(t), self._max_rows)
        ]
        f = np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, len(self.terms)))
        f = f * self.term_factors  # what the device's outcomes average to
        if shots is not None:
            f = sample_expectations(f, shots, rng)
        return self.constants + f @ self.term_weights

    def expectations(self, symbol_values, *, shots=None, rng=None) -> np.ndarray:
        """``<O_l>`` ``[B, n_outputs]`` float64, exact or estimated with ``shots`` per term.

        Raises:
            ValueError: ``symbol_values`` is not ``[B, len(symbols)]`` and finite, or bad
                ``shots``.
        """
        shots = check_shots(shots)
        rng = np.random.default_rng() if rng is None else rng
        return self._measure(self.occurrence_values(symbol_values), shots, rng)

    def jacobian(self, symbol_values, *, wrt=None, shots=None, rng=None) -> np.ndarray:
        """``d <O_l> / d v_i`` ``[B, len(wrt), n_outputs]`` float64 by the shift rule.

        Only the occurrences that depend on a symbol of ``wrt`` are shifted, so asking for
        the inputs alone (not the trained weights) costs fewer circuits.

        Args:
            symbol_values: ``[B, len(symbols)]``.
            wrt: the column indices of the symbols to differentiate by (default all).
            shots: measurements per Pauli term of each shifted circuit (None: exact).
            rng: the ``np.random.Generator`` of the shots (default: a fresh one).

        Raises:
            ValueError: ``symbol_values`` is not ``[B, len(symbols)]`` and finite, bad
                ``shots``, or ``wrt`` not distinct column indices.
        """
        shots = check_shots(shots)
        rng = np.random.default_rng() if rng is None else rng
        n_symbols = len(self.symbols)
        columns = np.arange(n_symbols) if wrt is None else np.asarray(wrt)
        if (
            columns.ndim != 1
            or columns.dtype.kind not in "iu"
            or np.any((columns < 0) | (columns >= n_symbols))
            or len(set(columns.tolist())) != len(columns)
        ):
            raise ValueError(
                f"wrt must be distinct column indices in [0, {n_symbols}), got {wrt!r}"
            )
        t = self.occurrence_values(symbol_values)
        coefficients = self.coefficients[:, columns]
        used = np.flatnonzero(np.any(coefficients != 0.0, axis=1))
        batch, k = len(t), len(used)
        if k == 0:
            return np.zeros((batch, len(columns), self.n_outputs))
        shifted = np.broadcast_to(t, (2, k, batch, t.shape[1])).copy()
        shifted[0, np.arange(k), :, used] += SHIFT
        shifted[1, np.arange(k), :, used] -= SHIFT
        f = self._measure(shifted.reshape(2 * k * batch, -1), shots, rng)
        f = f.reshape(2, k, batch, self.n_outputs)
        dfdt = math.pi / 2.0 * (f[0] - f[1])  # [k, B, L]
        return np.einsum("ki,kbl->bil", coefficients[used], dfdt)


def sample_expectations(
    expectations: np.ndarray, shots: int, rng: np.random.Generator
) -> np.ndarray:
    """Finite-shot estimates of Pauli-Z expectations, as a quantum device would give them.

    Each ``<Z>`` is estimated from ``shots`` independent measurements whose outcome is +1
    with probability ``(1 + <Z>) / 2`` (else -1): ``2 k / shots - 1`` with ``k`` binomial.

    Args:
        expectations: exact ``<Z>`` values in [-1, 1], any shape.
        shots: measurements per expectation.
        rng: the generator the draws come from.

    Returns:
        float64 estimates of the same shape, multiples of ``2 / shots`` in [-1, 1].

    Raises:
        ValueError: ``shots`` is not an int >= 1.
    """
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise ValueError(f"shots must be an int >= 1, got {shots!r}")
    p = np.clip((1.0 + expectations) / 2.0, 0.0, 1.0)
    return 2.0 * rng.binomial(shots, p) / shots - 1.0
