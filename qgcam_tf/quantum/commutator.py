"""Derivatives of Pauli-sum expectations as expectations of commutators (the Lie-bracket
form of arXiv 2408.05899), in NumPy complex128.

The paper announces an explicit formula of feature-map importance (its abstract), derived
by a density-matrix expansion and Lie brackets (docs/paper.md says what of this its
available text supports). For a circuit ``U = V G(a) W`` with one parametrised factor
``G(a) = e^{i c(a)} exp(-i a P / 2)`` (``P`` a Pauli string, ``c(a)`` a global phase),
``rho = W |0><0| W^dagger`` the state before the gate and ``O' = V^dagger O V`` the
observable moved back through the gates after it (the Heisenberg picture):

* ``rho(a) = G rho G^dagger``, so ``d rho(a) / da = -(i/2) [P, rho(a)]`` (the phase drops
  out of ``G rho G^dagger``);
* ``<O>(a) = tr(O' rho(a))``, so
  ``d<O>/da = -(i/2) tr(O' [P, rho(a)]) = (i/2) tr([P, O'] rho(a))``, by the cyclic trace;
* ``G`` commutes with ``P``, so ``tr([P, O'] rho(a)) = tr([P, G^dagger O' G] rho)``: the
  bracket can be taken on either side of the gate.

For a pure state ``|phi> = G(a) W |0>`` this is
``d<O>/da = (i/2) (<phi| P O' |phi> - <phi| O' P |phi>)``: a real number (``i`` times an
imaginary one), and with ``P^2 = 1`` the same as the parameter-shift rule
``(<O>(a + pi/2) - <O>(a - pi/2)) / 2`` (docs/paper.md derives both).

:class:`CommutatorRule` evaluates it for every circuit that
:class:`~qgcam_tf.quantum.shift.ShiftRule` takes without channels: each parametrised
gate is an exact product of Pauli-power factors ``P**t = e^{i pi t (s + 1/2)}
exp(-i pi t P / 2)`` (:func:`~qgcam_tf.quantum.compiler.parse_operations`), so each
factor ``k`` is one bracket with angle ``a_k = pi t_k``, and a symbol that several
factors use sums over them by the chain rule,
``d<O>/dv_i = sum_k (d t_k / d v_i) pi d<O>/da_k``.

How: one forward pass gives the final state; each readout gives ``O_l |psi_N>``; one
backward pass undoes the gates one at a time, carrying ``|phi_k>`` (the state just after
factor ``k``) and ``O'_l |phi_k>`` (the Heisenberg-evolved observable applied to it), and
at every factor reads ``(i/2) <phi_k| [P_k, O'_l] |phi_k>`` from ``P_k |phi_k>`` and
``O'_l |phi_k>``. No dense ``2**n x 2**n`` matrix is formed; :func:`bracket_derivative`
is the dense form of one bracket, for small checks.

State layout: ``[batch, 2, ..., 2]`` complex128, qubit 0 first (big-endian, the ordering of
``cirq.Simulator``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cirq
import numpy as np
import sympy

from qgcam_tf.quantum.compiler import (
    MultiGate,
    circuit_symbol_names,
    parse_operations,
    readouts_and_qubits,
)

__all__ = ["CommutatorRule", "bracket_derivative", "heisenberg_observable"]

_PAULI = {
    "X": np.array([[0, 1], [1, 0]], dtype=np.complex128),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=np.complex128),
    "Z": np.array([[1, 0], [0, -1]], dtype=np.complex128),
}


def heisenberg_observable(unitary: np.ndarray, observable: np.ndarray) -> np.ndarray:
    """``O' = V^dagger O V``: the observable ``O`` measured after the gates ``V``, moved
    back to before them (dense ``2**n x 2**n`` matrices).

    Raises:
        ValueError: the matrices are not square of one size.
    """
    v = np.asarray(unitary, np.complex128)
    o = np.asarray(observable, np.complex128)
    if v.ndim != 2 or v.shape[0] != v.shape[1] or o.shape != v.shape:
        raise ValueError(
            f"unitary and observable must be square matrices of one size, got shapes "
            f"{v.shape} and {o.shape}"
        )
    return v.conj().T @ o @ v


def bracket_derivative(state: np.ndarray, generator: np.ndarray, observable: np.ndarray) -> float:
    """``d<O>/da = (i/2) tr([P, O'] rho)`` for a gate ``exp(-i a P / 2)``, dense.

    Args:
        state: the state just before or just after the gate (either gives the same value):
            a state vector ``[2**n]`` or a density matrix ``[2**n, 2**n]``.
        generator: ``P``, a Hermitian ``2**n x 2**n`` matrix (a Pauli string's matrix for
            the parameter-shift rule to hold as well).
        observable: ``O'``, the measured observable moved back to the gate
            (:func:`heisenberg_observable`).

    Returns:
        The derivative, a float (the bracket's expectation is imaginary; ``i/2`` times it
        is real).

    Raises:
        ValueError: shapes that do not fit.
    """
    p = np.asarray(generator, np.complex128)
    o = np.asarray(observable, np.complex128)
    s = np.asarray(state, np.complex128)
    dim = p.shape[0] if p.ndim == 2 else -1
    if p.shape != (dim, dim) or o.shape != (dim, dim) or s.shape not in ((dim,), (dim, dim)):
        raise ValueError(
            f"state must be [d] or [d, d] and generator, observable [d, d] for one d, got "
            f"shapes {s.shape}, {p.shape}, {o.shape}"
        )
    rho = np.outer(s, s.conj()) if s.ndim == 1 else s
    bracket = p @ o - o @ p
    return float((0.5j * np.trace(bracket @ rho)).real)


def _apply(
    state: np.ndarray, matrix: np.ndarray, qubits: Sequence[int], lead: int = 1
) -> np.ndarray:
    """``matrix`` (``[2**k, 2**k]``, or ``[B, 2**k, 2**k]`` per sample along axis 0) on
    ``qubits`` of ``state`` ``[B, ..., 2, ..., 2]`` (``lead`` axes before the qubits').

    Basis slices of ``state`` are combined with the matrix's non-zero entries, so a
    permutation gate (CNOT) costs one pass and no transpose."""
    k = len(qubits)
    axes = [lead + q for q in qubits]

    def index(r: int) -> tuple:
        idx = [slice(None)] * state.ndim
        for pos, ax in enumerate(axes):
            idx[ax] = (r >> (k - 1 - pos)) & 1
        return tuple(idx)

    parts = [state[index(c)] for c in range(2**k)]
    per_sample = matrix.ndim == 3
    shape = (len(matrix),) + (1,) * (parts[0].ndim - 1) if per_sample else None
    nonzero = np.any(matrix != 0, axis=0) if per_sample else matrix != 0
    out = np.zeros_like(state)
    for r in range(2**k):
        acc = out[index(r)]
        for c in range(2**k):
            if nonzero[r, c]:
                m = matrix[:, r, c].reshape(shape) if per_sample else matrix[r, c]
                acc += m * parts[c]
    return out


def _apply_pauli_string(state: np.ndarray, unit: dict[int, str]) -> np.ndarray:
    for q, p in unit.items():
        state = _apply(state, _PAULI[p], [q])
    return state


class CommutatorRule:
    """``d<O_l>/dv_i`` as expectations of commutators, exact in complex128 (see the module
    docs), for any circuit of unitary gates that
    :class:`~qgcam_tf.quantum.shift.ShiftRule` takes.

    Args:
        circuit: fixed gates of any size and the parametrised families of
            :data:`~qgcam_tf.quantum.compiler.SUPPORTED_PARAMETRISED_GATES` with parameters
            linear in the symbols (no channels: a noisy circuit needs the shift rule).
        symbols: the symbols (``sympy.Symbol`` or names) in the column order of the symbol
            values.
        readouts: ``cirq.PauliSum`` / ``cirq.PauliString`` operators with real coefficients.
        qubits: the qubit order (default: the sorted qubits of the circuit and readouts).

    Attributes:
        symbols: ``tuple[str, ...]``, the symbol value columns.
        readouts: the readouts as ``cirq.PauliSum``.
        qubits: the qubit order.
        n_outputs: the number of readouts.
        generators: ``[K]`` the Pauli (``"X"``, ``"Y"``, ``"Z"``) of each parametrised
            Pauli-power factor, in time order.
        generator_qubits: ``[K]`` the qubit index of each factor.
        offsets: ``[K]`` float64 constant parts of the factors' exponents ``t_k``.
        coefficients: ``[K, len(symbols)]`` float64, ``d t_k / d v_i`` (the angle is
            ``a_k = pi t_k``).

    Raises:
        UnsupportedGateError: a gate cannot be compiled, a parameter is not linear in its
            symbols, or an operation is not a unitary gate (a channel or a measurement; the
            message names it and its moment).
        ValueError: a circuit symbol missing from ``symbols`` or repeated there, a qubit
            missing from ``qubits``, or a readout coefficient that is not real.
        TypeError: ``circuit``, a symbol or a readout has the wrong type.
    """

    def __init__(
        self,
        circuit: cirq.AbstractCircuit,
        symbols: Sequence,
        readouts: Sequence,
        *,
        qubits: Sequence[cirq.Qid] | None = None,
    ):
        self.symbols = circuit_symbol_names(circuit, symbols)
        self.readouts, self.qubits = readouts_and_qubits(circuit, readouts, qubits)
        self.n_outputs = len(self.readouts)
        qindex = {q: i for i, q in enumerate(self.qubits)}
        sindex = {sympy.Symbol(s): i for i, s in enumerate(self.symbols)}
        self._steps: list = []  # ("fixed", matrix, qubits) or ("power", k)
        generators, where, shifts, offsets, rows = [], [], [], [], []
        for m, moment in enumerate(circuit):
            for op in moment:
                try:
                    records = parse_operations(op, qindex, sindex)
                except ValueError as err:  # UnsupportedGateError is a ValueError
                    raise type(err)(f"moment {m}: {err}") from None
                for rec in records:
                    if isinstance(rec, MultiGate):
                        self._steps.append(("fixed", rec.matrix, rec.qubits))
                    elif rec.matrix is not None:
                        self._steps.append(("fixed", rec.matrix, (rec.qubit,)))
                    else:
                        row = np.zeros(len(self.symbols))
                        for i, a in rec.exponent.coeffs.items():
                            row[i] += a
                        self._steps.append(("power", len(offsets)))
                        generators.append(rec.pauli)
                        where.append(rec.qubit)
                        shifts.append(rec.global_shift)
                        offsets.append(rec.exponent.const)
                        rows.append(row)
        self.generators = tuple(generators)
        self.generator_qubits = tuple(where)
        self._shifts = np.array(shifts, np.float64)
        self.offsets = np.array(offsets, np.float64)
        self.coefficients = np.array(rows, np.float64).reshape(len(offsets), len(self.symbols))
        self._terms = [
            [
                (
                    float(complex(term.coefficient).real),
                    {qindex[q]: str(p) for q, p in term.with_coefficient(1).items()},
                )
                for term in total
            ]
            for total in self.readouts
        ]

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

    def _power(self, k: int, t: np.ndarray, adjoint: bool = False) -> np.ndarray:
        """``[B, 2, 2]`` matrices of factor ``k``, ``P**t`` with its global shift (Cirq's
        ``e^{i pi t s} ((1 + w)/2 I + (1 - w)/2 P)``, ``w = e^{i pi t}``)."""
        w = np.exp(1j * math.pi * t)[:, None, None]
        phase = np.exp(1j * math.pi * t * self._shifts[k])[:, None, None]
        m = phase * ((1 + w) / 2 * np.eye(2) + (1 - w) / 2 * _PAULI[self.generators[k]])
        return np.conj(np.swapaxes(m, 1, 2)) if adjoint else m

    def _forward(self, t: np.ndarray) -> np.ndarray:
        """The final states ``[B, 2, ..., 2]`` at factor exponents ``t`` ``[B, K]``."""
        n = len(self.qubits)
        state = np.zeros((len(t), 2**n), np.complex128)
        state[:, 0] = 1.0
        state = state.reshape((len(t),) + (2,) * n)
        for step in self._steps:
            if step[0] == "fixed":
                state = _apply(state, step[1], step[2])
            else:
                state = _apply(
                    state, self._power(step[1], t[:, step[1]]), [self.generator_qubits[step[1]]]
                )
        return state

    def _observe(self, state: np.ndarray, l: int) -> np.ndarray:
        """``O_l |state>``."""
        out = np.zeros_like(state)
        for c, unit in self._terms[l]:
            out += c * _apply_pauli_string(state, unit)
        return out

    def exponents(self, symbol_values) -> np.ndarray:
        """The factor exponents ``t`` ``[B, K]`` (angles ``a = pi t``) at symbol values
        ``[B, len(symbols)]``.

        Raises:
            ValueError: ``symbol_values`` is not ``[B, len(symbols)]`` and finite.
        """
        return self.offsets + self._values(symbol_values) @ self.coefficients.T

    def expectations(self, symbol_values) -> np.ndarray:
        """``<O_l>`` ``[B, n_outputs]`` float64 (exact state vectors).

        Raises:
            ValueError: ``symbol_values`` is not ``[B, len(symbols)]`` and finite.
        """
        final = self._forward(self.exponents(symbol_values))
        batch = len(final)
        psi = final.reshape(batch, -1)
        return np.stack(
            [
                np.einsum("bj,bj->b", psi.conj(), self._observe(final, l).reshape(batch, -1)).real
                for l in range(self.n_outputs)
            ],
            axis=1,
        ).reshape(batch, self.n_outputs)

    def angle_derivatives(self, symbol_values, factors: Sequence[int] | None = None) -> np.ndarray:
        """``d<O_l>/da_k = (i/2) <phi_k| [P_k, O'_l] |phi_k>`` ``[B, K, n_outputs]`` float64
        for every Pauli-power factor ``k`` (angle ``a_k = pi t_k``), by one backward pass
        of Heisenberg-evolved readouts (see the module docs).

        Args:
            symbol_values: ``[B, len(symbols)]``.
            factors: compute only these factors (the others are 0, and the backward pass
                stops at the earliest of them); default all.

        Raises:
            ValueError: ``symbol_values`` is not ``[B, len(symbols)]`` and finite, or
                ``factors`` are not factor indices.
        """
        t = self.exponents(symbol_values)
        n_factors = len(self.offsets)
        wanted = np.arange(n_factors) if factors is None else np.asarray(factors)
        if wanted.ndim != 1 or (
            len(wanted)
            and (wanted.dtype.kind not in "iu" or wanted.min() < 0 or wanted.max() >= n_factors)
        ):
            raise ValueError(f"factors must be indices in [0, {n_factors}), got {factors!r}")
        batch = len(t)
        out = np.zeros((batch, n_factors, self.n_outputs))
        if len(wanted) == 0 or self.n_outputs == 0:
            return out
        wanted_set = set(wanted.tolist())
        first = min(i for i, s in enumerate(self._steps) if s[0] == "power" and s[1] in wanted_set)
        phi = self._forward(t)  # |phi_N>
        # [B, 1 + L, 2, ..., 2]: |phi> and O'_l |phi>, undone gate by gate together
        stack = np.stack([phi] + [self._observe(phi, l) for l in range(self.n_outputs)], axis=1)
        for i in range(len(self._steps) - 1, first - 1, -1):
            step = self._steps[i]
            if step[0] == "power":
                k = step[1]
                q = self.generator_qubits[k]
                if k in wanted_set:
                    p_phi = _apply(stack[:, 0], _PAULI[self.generators[k]], [q])
                    # <phi|P O'|phi> = <P phi|O' phi>; <phi|O' P|phi> is its conjugate
                    po = np.einsum(
                        "bj,blj->bl",
                        p_phi.reshape(batch, -1).conj(),
                        stack[:, 1:].reshape(batch, self.n_outputs, -1),
                    )
                    out[:, k, :] = (0.5j * (po - po.conj())).real
                stack = _apply(stack, self._power(k, t[:, k], adjoint=True), [q], lead=2)
            else:
                stack = _apply(stack, step[1].conj().T, step[2], lead=2)
        return out

    def jacobian(self, symbol_values, *, wrt=None) -> np.ndarray:
        """``d<O_l>/dv_i`` ``[B, len(wrt), n_outputs]`` float64: the brackets of every factor
        that depends on a symbol of ``wrt``, summed by the chain rule
        ``sum_k (d t_k / d v_i) pi d<O>/da_k``.

        Args:
            symbol_values: ``[B, len(symbols)]``.
            wrt: the column indices of the symbols to differentiate by (default all).

        Raises:
            ValueError: ``symbol_values`` is not ``[B, len(symbols)]`` and finite, or
                ``wrt`` not distinct column indices.
        """
        n_symbols = len(self.symbols)
        columns = np.arange(n_symbols) if wrt is None else np.asarray(wrt)
        if (
            columns.ndim != 1
            or (len(columns) and columns.dtype.kind not in "iu")
            or np.any((columns < 0) | (columns >= n_symbols))
            or len(set(columns.tolist())) != len(columns)
        ):
            raise ValueError(
                f"wrt must be distinct column indices in [0, {n_symbols}), got {wrt!r}"
            )
        coefficients = self.coefficients[:, columns]
        used = np.flatnonzero(np.any(coefficients != 0.0, axis=1))
        dda = self.angle_derivatives(symbol_values, used)
        return math.pi * np.einsum("ki,bkl->bil", coefficients, dda)
