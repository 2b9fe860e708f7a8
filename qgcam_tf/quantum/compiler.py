"""A Cirq circuit compiled into plain TensorFlow ops (state-vector simulation).

Why: a SavedModel that holds TensorFlow Quantum ops does not load in stock TensorFlow or TF
Serving, so the exported model runs the same circuit with core TensorFlow ops only. It is
also differentiable with ``tf.GradientTape`` (backpropagation through the simulation) and
compiles with XLA.

What it takes (what Cirq users write, and what TFQ resolves):

* fixed gates of any size (anything with a ``cirq.unitary``), global phases and ``cirq.I``
  included; ``cirq.CircuitOperation`` is flattened;
* parametrised gates of the families in :data:`SUPPORTED_PARAMETRISED_GATES` (rx/ry/rz,
  X/Y/Z/HPowGate, PhasedXPowGate, CZPowGate, CXPowGate, XX/YY/ZZPowGate, SwapPowGate,
  ISwapPowGate, PhasedISwapPowGate, FSimGate), with any global shift, whose parameters
  are linear in the symbols (``a * s + b`` and sums of such terms). Every family other
  than the Pauli powers is an exact decomposition (global phase included) into Pauli power
  gates with linear exponents and fixed gates (H, S, CNOT), see :func:`parse_operations`,
  so the fast paths below run it unchanged;
* readouts: :class:`ExpectationProgram` reads Pauli sums with real coefficients in any
  basis (:class:`~qgcam_tf.quantum.readout.PauliReadout`); :meth:`CompiledCircuit.expectation_z`
  reads ``<Z>`` products.

Anything else is refused with one :class:`UnsupportedGateError` that names the operation,
its moment index and, for a non-linear parameter, the expression: measurements (an
expectation needs none; remove them), channels, other parametrised gates (e.g. a symbolic
``CCZPowGate`` or ``PhasedFSimGate``) and parameters such as ``s**2``, ``sin(s)`` or
``s * t``. A symbol of the circuit missing from the given symbols is a ValueError naming it.

How the gates are applied decides the speed: at 10 qubits and batch 64 the state is only
64 x 1024 amplitudes, so the cost is the number of TensorFlow ops (and their gradients),
not arithmetic. The compiler walks the circuit once and emits a short program:

* every parametrised angle of the circuit comes from one matmul of the symbol values with a
  fixed coefficient matrix, and every rotation matrix from one vectorised formula;
* the first single-qubit gates on each qubit act on ``|0>``, so the opening state is a
  product state built by Kronecker products (no gate is applied to ``2**n`` amplitudes);
* runs of single-qubit gates on one qubit are fused into one 2x2 matrix (all qubits of a
  layer at once), and the 2x2 matrices of neighbouring qubits are joined by Kronecker
  products into one matrix of up to ``2**max_chunk_qubits`` rows, applied with one
  ``matmul`` on a reshaped state (no transposes);
* gates whose angles depend only on *shared* symbols (trained weights, the same for every
  sample) give one matrix for the whole batch instead of one per sample;
* runs of permutation/phase gates (CNOT, CZ, SWAP, X, Z, ...) are fused into one
  monomial matrix, applied as a single gather (whose gradient is the inverse gather, not a
  scatter) and a multiply;
* all ``<Z>`` products are read from one probability vector with one matmul.

State layout: ``[batch, 2**n]`` complex64, big-endian (qubit 0 is the most significant
bit), the ordering of ``cirq.Simulator``.

Other simulators of the same gates (:mod:`qgcam_tf.quantum.density`) build on the public
pieces below, which keep their behaviour whatever :class:`CompiledCircuit` does inside:

* the gate records :class:`Angle`, :class:`SingleGate` and :class:`MultiGate`, produced by
  :func:`parse_operations` (all records of one operation), :func:`parse_operation` (an
  operation that is one record) and :func:`parse_circuit`;
* :func:`gate_matrix` (a single-qubit gate's 2x2 matrices for given symbol values),
  :func:`append_multi_gate` (a multi-qubit gate as a program step, neighbouring
  permutation/phase gates fused), :func:`apply_dense_gate` (a dense multi-qubit gate on
  state vectors) and :func:`z_signs` (the readout sign matrix).
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Mapping, Sequence

import cirq
import numpy as np
import sympy
import tensorflow as tf

from qgcam_tf.quantum.basis import permute
from qgcam_tf.quantum.readout import PauliReadout, as_pauli_sum

__all__ = [
    "SUPPORTED_PARAMETRISED_GATES",
    "Angle",
    "CompiledCircuit",
    "ExpectationProgram",
    "MultiGate",
    "SingleGate",
    "UnsupportedGateError",
    "append_multi_gate",
    "apply_dense_gate",
    "circuit_symbol_names",
    "gate_matrix",
    "readouts_and_qubits",
    "parse_circuit",
    "parse_operation",
    "parse_operations",
    "symbol_values_tensor",
    "z_signs",
]

_ATOL = 1e-12


class UnsupportedGateError(ValueError):
    """The circuit holds a gate the TensorFlow executor cannot compile."""


@dataclasses.dataclass
class Angle:
    """An affine function of the symbol values: ``const + sum(coeffs[i] * values[:, i])``.

    Attributes:
        const: the constant term.
        coeffs: column index of a symbol (in the ``sindex`` given to :func:`parse_operation`)
            -> its coefficient; symbols absent from the dict have coefficient 0.
    """

    const: float
    coeffs: dict[int, float]


@dataclasses.dataclass
class SingleGate:
    """One single-qubit gate, as :func:`parse_operation` records it.

    Either fixed (``matrix`` is its 2x2 unitary) or a parametrised power gate
    ``e^{i pi t s} ((1+w)/2 I + (1-w)/2 P)`` with ``w = e^{i pi t}``, ``t`` the
    ``exponent``, ``s`` the ``global_shift`` and ``P`` the Pauli ``pauli``. Records are not
    modified after parsing, so callers may keep and share them.

    Attributes:
        qubit: index of the qubit (in the ``qindex`` given to :func:`parse_operation`).
        matrix: the fixed 2x2 complex128 unitary, or None when the gate is parametrised.
        pauli: ``"X"``, ``"Y"`` or ``"Z"`` for a parametrised gate, else ``""``.
        exponent: the exponent ``t`` as an :class:`Angle` of the symbols (parametrised only).
        global_shift: Cirq's ``global_shift`` ``s`` (rx/ry/rz: -0.5; parametrised only).
    """

    qubit: int
    matrix: np.ndarray | None
    pauli: str = ""
    exponent: Angle | None = None
    global_shift: float = 0.0


@dataclasses.dataclass
class MultiGate:
    """A fixed (symbol-free) gate on two or more qubits.

    Attributes:
        qubits: qubit indices, in the order of the matrix's tensor factors (the first is the
            most significant bit of the matrix's row index, as in ``cirq.unitary``).
        matrix: the ``2**k x 2**k`` complex128 unitary.
    """

    qubits: tuple[int, ...]
    matrix: np.ndarray


_PAULI = {
    cirq.XPowGate: "X",
    cirq.YPowGate: "Y",
    cirq.ZPowGate: "Z",
    cirq.Rx: "X",
    cirq.Ry: "Y",
    cirq.Rz: "Z",
}
_PAULI_MATRIX = {
    "X": np.array([[0, 1], [1, 0]], dtype=np.complex128),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=np.complex128),
    "Z": np.array([[1, 0], [0, -1]], dtype=np.complex128),
}


def _affine(expr, index: Mapping[sympy.Symbol, int], origin) -> Angle:
    """``expr`` (linear in its symbols) as an :class:`Angle`; ``origin`` names it in errors."""
    expr = sympy.sympify(expr)
    unknown = expr.free_symbols - set(index)
    if unknown:
        names = ", ".join(sorted(str(s) for s in unknown))
        raise ValueError(f"symbols {names} of {origin!r} are not in symbol_names")
    coeffs = {}
    for s in expr.free_symbols:
        d = sympy.diff(expr, s)
        if d.free_symbols:
            raise UnsupportedGateError(
                f"{origin!r}: parameter {expr} is not linear in its symbols (the TF executor "
                "supports a * s + b and sums of such terms, as TFQ resolves them)"
            )
        coeffs[index[s]] = float(d)
    const = float(expr.subs({s: 0 for s in expr.free_symbols}))
    return Angle(const, coeffs)


def _value(expr):
    """A float for a symbol-free expression, else the sympy expression itself."""
    if isinstance(expr, sympy.Basic):
        return float(expr) if not expr.free_symbols else expr
    return float(expr)


def _z(expr, q, shift: float = 0.0) -> cirq.Operation:
    return cirq.ZPowGate(exponent=_value(expr), global_shift=shift).on(q)


def _zz(t, s: float, a, b) -> list:
    """``ZZPowGate(t, global_shift=s)``: ``diag(1, w, w, 1) e^{i pi t s}``, ``w = e^{i pi t}``."""
    return [cirq.CNOT(a, b), _z(t, b, s), cirq.CNOT(a, b)]


def _xx(t, s: float, a, b) -> list:
    return [cirq.H(a), cirq.H(b), *_zz(t, s, a, b), cirq.H(a), cirq.H(b)]


def _yy(t, s: float, a, b) -> list:
    # V = S H maps Z to Y (V Z V^dagger = Y); YY^t = (V x V) ZZ^t (V x V)^dagger
    into = [cirq.S(a) ** -1, cirq.S(b) ** -1, cirq.H(a), cirq.H(b)]
    return [*into, *_zz(t, s, a, b), cirq.H(a), cirq.H(b), cirq.S(a), cirq.S(b)]


def _cz(t, s: float, a, b) -> list:
    # phase w^(ab) with ab = (a + b - (a XOR b)) / 2; the global phase e^{i pi t s} rides on
    # the first Z^(t/2) (its global shift 2s gives e^{i pi (t/2)(2s)})
    return [_z(t / 2, a, 2.0 * s), _z(t / 2, b), *_zz(-t / 2, 0.0, a, b)]


def _iswap(t, s: float, a, b) -> list:
    # ISWAP^t = exp(i pi t/4 (XX + YY)) = e^{i pi t/2} XX^(-t/2) YY^(-t/2); the phases
    # e^{i pi t/2} e^{i pi t s} ride on the XX part: global shift g with (-t/2) g = t/2 + t s
    return [*_xx(-t / 2, -(1.0 + 2.0 * s), a, b), *_yy(-t / 2, 0.0, a, b)]


def _swap(t, s: float, a, b) -> list:
    # SWAP^t = exp(i pi t (1 - SWAP)/2) = e^{-i pi t/2} XX^(t/2) YY^(t/2) ZZ^(t/2), since
    # SWAP = (1 + XX + YY + ZZ)/2 and the three commute; the phases ride on the ZZ part
    return [*_xx(t / 2, 0.0, a, b), *_yy(t / 2, 0.0, a, b), *_zz(t / 2, 2.0 * s - 1.0, a, b)]


def _decomposition(gate, qs) -> list | None:
    """A parametrised gate of a supported family as Pauli power gates (symbolic exponents
    linear in the gate's parameters) and fixed gates, in time order; None if unsupported.
    Every step is exact, global phase included."""
    t = getattr(gate, "exponent", None)
    s = float(getattr(gate, "global_shift", 0.0) or 0.0)
    kind = type(gate)
    if kind is cirq.PhasedXPowGate:
        p, (q,) = gate.phase_exponent, qs
        x = cirq.XPowGate(exponent=_value(t), global_shift=s).on(q)
        return [_z(-p, q), x, _z(p, q)]
    if kind is cirq.HPowGate:
        (q,) = qs
        x = cirq.XPowGate(exponent=_value(t), global_shift=s).on(q)
        return [cirq.Y(q) ** 0.25, x, cirq.Y(q) ** -0.25]
    if kind is cirq.CZPowGate:
        return _cz(t, s, *qs)
    if kind is cirq.CXPowGate:
        a, b = qs
        return [cirq.H(b), *_cz(t, s, a, b), cirq.H(b)]
    if kind is cirq.ZZPowGate:
        return _zz(t, s, *qs)
    if kind is cirq.XXPowGate:
        return _xx(t, s, *qs)
    if kind is cirq.YYPowGate:
        return _yy(t, s, *qs)
    if kind is cirq.ISwapPowGate:
        return _iswap(t, s, *qs)
    if kind is cirq.SwapPowGate:
        return _swap(t, s, *qs)
    if kind is cirq.PhasedISwapPowGate:
        p, (a, b) = gate.phase_exponent, qs
        inner = _iswap(t, s, a, b)
        return [_z(p, a), _z(-p, b), *inner, _z(-p, a), _z(p, b)]
    if kind is cirq.FSimGate:
        # FSim(theta, phi) = ISWAP^(-2 theta/pi) CZ^(-phi/pi) (they commute)
        a, b = qs
        return [
            *_iswap(-2 * gate.theta / sympy.pi, 0.0, a, b),
            *_cz(-gate.phi / sympy.pi, 0.0, a, b),
        ]
    return None


_PARAMETERS = ("exponent", "phase_exponent", "theta", "phi")
SUPPORTED_PARAMETRISED_GATES: tuple[type, ...] = (
    cirq.Rx,
    cirq.Ry,
    cirq.Rz,
    cirq.XPowGate,
    cirq.YPowGate,
    cirq.ZPowGate,
    cirq.HPowGate,
    cirq.PhasedXPowGate,
    cirq.CZPowGate,
    cirq.CXPowGate,
    cirq.XXPowGate,
    cirq.YYPowGate,
    cirq.ZZPowGate,
    cirq.SwapPowGate,
    cirq.ISwapPowGate,
    cirq.PhasedISwapPowGate,
    cirq.FSimGate,
)
"""The gate classes (exact types) that may carry symbols; their parameters must be linear."""
_SUPPORTED_NAMES = ", ".join(g.__name__ for g in SUPPORTED_PARAMETRISED_GATES)


def _single_power(op: cirq.Operation, qs, sindex, origin) -> SingleGate:
    gate = op.gate
    return SingleGate(
        qs[0],
        None,
        _PAULI[type(gate)],
        _affine(gate.exponent, sindex, origin),
        float(gate.global_shift),
    )


def parse_operations(
    op: cirq.Operation, qindex: Mapping[cirq.Qid, int], sindex: Mapping[sympy.Symbol, int]
) -> list[SingleGate | MultiGate]:
    """The gate records of one unitary operation, in time order.

    A fixed gate (any size) is one record with its ``cirq.unitary``; a parametrised
    rx/ry/rz or X/Y/ZPowGate is one parametrised :class:`SingleGate`; the other
    parametrised families (:data:`SUPPORTED_PARAMETRISED_GATES`) are exact decompositions
    into parametrised X/Y/Z power gates and fixed gates (H, S, CNOT), global phase included.
    Every parameter (exponent, phase exponent, FSim angles) must be linear in the symbols,
    ``a * s + b`` or a sum of such terms, as TFQ resolves them. A global phase gate becomes
    a fixed phase on the first qubit (nothing when ``qindex`` is empty); a
    ``cirq.CircuitOperation`` is flattened.

    Args:
        op: the operation.
        qindex: qubit -> index (0 is the most significant bit of a basis index).
        sindex: symbol -> column of the symbol values.

    Raises:
        UnsupportedGateError: a measurement, a channel, a parametrised gate of another
            family, or a parameter that is not linear in its symbols (the message names the
            operation and the expression).
        ValueError: a symbol of ``op`` is not in ``sindex``.
    """
    if isinstance(op.untagged, cirq.CircuitOperation):
        inner = op.untagged.mapped_circuit(deep=True)
        return [r for sub in inner.all_operations() for r in parse_operations(sub, qindex, sindex)]
    gate = op.gate
    if gate is None or cirq.is_measurement(op):
        raise UnsupportedGateError(
            f"unsupported operation {op!r}: only unitary gates (expectation values need no "
            "measurement)"
        )
    if cirq.is_parameterized(op) and not cirq.parameter_names(op):
        op = cirq.resolve_parameters(op, cirq.ParamResolver({}))  # sympy numbers -> floats
    qs = tuple(qindex[q] for q in op.qubits)
    if not cirq.is_parameterized(op):
        if not cirq.has_unitary(op):
            raise UnsupportedGateError(f"unsupported operation {op!r}: it has no unitary")
        matrix = cirq.unitary(op).astype(np.complex128)
        if not qs:  # a global phase
            return [SingleGate(0, matrix[0, 0] * np.eye(2))] if qindex else []
        if len(qs) == 1:
            return [SingleGate(qs[0], matrix)]
        return [MultiGate(qs, matrix)]
    kind = type(gate)
    if kind in _PAULI:
        return [_single_power(op, qs, sindex, op)]
    parts = _decomposition(gate, op.qubits)
    if parts is None:
        raise UnsupportedGateError(
            f"unsupported parametrised gate {op!r}: the TF executor supports "
            f"symbolic {_SUPPORTED_NAMES}"
        )
    for name in _PARAMETERS:  # check the gate's own expressions, so errors quote them
        expr = getattr(gate, name, None)
        if isinstance(expr, sympy.Basic):
            _affine(expr, sindex, op)
    records = []
    for sub in parts:
        if cirq.is_parameterized(sub):
            records.append(_single_power(sub, (qindex[sub.qubits[0]],), sindex, op))
        elif len(sub.qubits) == 1:
            records.append(
                SingleGate(qindex[sub.qubits[0]], cirq.unitary(sub).astype(np.complex128))
            )
        else:
            records.append(
                MultiGate(
                    tuple(qindex[q] for q in sub.qubits), cirq.unitary(sub).astype(np.complex128)
                )
            )
    return records


def parse_operation(
    op: cirq.Operation, qindex: Mapping[cirq.Qid, int], sindex: Mapping[sympy.Symbol, int]
) -> SingleGate | MultiGate:
    """The gate record of an operation that is one record (see :func:`parse_operations`).

    Args:
        op: a unitary operation: a parametrised rx/ry/rz or X/Y/ZPowGate whose exponent is
            affine in its symbols, or any gate with a unitary.
        qindex: qubit -> index (0 is the most significant bit of a basis index).
        sindex: symbol -> column of the symbol values.

    Returns:
        A :class:`SingleGate` for a one-qubit operation, else a :class:`MultiGate`.

    Raises:
        UnsupportedGateError: a measurement, a channel, or a parametrised gate that
            :func:`parse_operations` decomposes into several records.
        ValueError: a symbol of ``op`` is not in ``sindex``.
    """
    records = parse_operations(op, qindex, sindex)
    if len(records) != 1:
        raise UnsupportedGateError(
            f"unsupported operation {op!r}: it is {len(records)} gate records, not one "
            "(parse_operations returns them all)"
        )
    return records[0]


def parse_circuit(
    circuit: cirq.Circuit, qindex: Mapping[cirq.Qid, int], sindex: Mapping[sympy.Symbol, int]
) -> list[SingleGate | MultiGate]:
    """:func:`parse_operations` of each operation, concatenated, in
    ``circuit.all_operations()`` order.

    Raises:
        UnsupportedGateError: as :func:`parse_operations`, the message prefixed with the
            moment index (``"moment 3: ..."``).
        ValueError: a symbol is not in ``sindex`` (the message names the moment too).
    """
    records: list[SingleGate | MultiGate] = []
    for m, moment in enumerate(circuit):
        for op in moment:
            try:
                records.extend(parse_operations(op, qindex, sindex))
            except ValueError as err:  # UnsupportedGateError is a ValueError
                raise type(err)(f"moment {m}: {err}") from None
    return records


def _monomial(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(src, phase)`` with ``(M v)[i] = phase[i] * v[src[i]]``, or None if M is not one."""
    nz = np.abs(matrix) > _ATOL
    if not np.all(nz.sum(axis=1) == 1):
        return None
    src = np.argmax(nz, axis=1)
    return src, matrix[np.arange(len(src)), src]


def _embed_monomial(qubits: Sequence[int], src_small, phase_small, n: int):
    """Lifts a monomial gate on ``qubits`` to the full ``2**n`` space."""
    dim = 2**n
    idx = np.arange(dim)
    k = len(qubits)
    bits = [(idx >> (n - 1 - q)) & 1 for q in qubits]
    local = sum(b << (k - 1 - j) for j, b in enumerate(bits))
    src_local = src_small[local]
    src = idx.copy()
    for j, q in enumerate(qubits):
        shift = n - 1 - q
        bit = (src_local >> (k - 1 - j)) & 1
        src = (src & ~(1 << shift)) | (bit << shift)
    return src, phase_small[local]


def append_multi_gate(program: list, gate: MultiGate, n_qubits: int) -> None:
    """Appends a multi-qubit gate to a program of steps ``(kind, payload)``, in place.

    A permutation/phase gate becomes ``("monomial", (src, phase))``, meaning
    ``psi'[i] = phase[i] * psi[src[i]]`` on ``2**n_qubits`` amplitudes; it is fused into the
    program's last step when that is a monomial step too (so a run of CNOTs is one gather).
    Any other gate becomes ``("dense", gate)``. Steps of other kinds are left alone, and
    no other step is ever changed.
    """
    mono = _monomial(gate.matrix)
    if mono is None:
        program.append(("dense", gate))
        return
    src, phase = _embed_monomial(gate.qubits, *mono, n_qubits)
    if program and program[-1][0] == "monomial":
        src0, ph0 = program[-1][1]
        program[-1] = ("monomial", (src0[src], phase * ph0[src]))
    else:
        program.append(("monomial", (src, phase)))


def apply_dense_gate(state: tf.Tensor, gate: MultiGate, n_qubits: int) -> tf.Tensor:
    """``gate`` applied to state vectors ``[B, 2**n_qubits]`` complex64 (big-endian)."""
    n, k = n_qubits, len(gate.qubits)
    t = tf.reshape(state, [-1] + [2] * n)
    axes = [1 + q for q in gate.qubits]
    rest = [a for a in range(1, n + 1) if a not in axes]
    t = tf.transpose(t, [0] + axes + rest)
    t = tf.reshape(t, [-1, 2**k, 2 ** (n - k)])
    t = tf.einsum("ij,bjc->bic", tf.constant(gate.matrix, tf.complex64), t)
    t = tf.reshape(t, [-1] + [2] * n)
    inverse = np.argsort([0] + axes + rest)
    return tf.reshape(tf.transpose(t, inverse), [-1, 2**n])


def _rotations(angles: tf.Tensor, paulis: np.ndarray, shifts: np.ndarray) -> tf.Tensor:
    """``[..., G, 2, 2]`` matrices ``e^{i pi t s}((1+w)/2 I + (1-w)/2 P)`` for ``angles`` t."""
    half = (0.5 * np.pi) * angles
    # w = e^{i pi t}: (1+w)/2 = e^{i half} cos(half), (1-w)/2 = -i e^{i half} sin(half)
    cos = tf.expand_dims(tf.expand_dims(tf.complex(tf.cos(half), tf.zeros_like(half)), -1), -1)
    sin = tf.expand_dims(tf.expand_dims(tf.complex(tf.zeros_like(half), -tf.sin(half)), -1), -1)
    m = cos * tf.constant(np.eye(2), tf.complex64) + sin * tf.constant(paulis, tf.complex64)
    if np.allclose(shifts, 0.0):  # rx/ry/rz: global_shift -1/2, no phase
        return m
    phase = tf.exp(tf.complex(tf.zeros_like(half), half * tf.constant(shifts)))
    return phase[..., None, None] * m


def gate_matrix(gate: SingleGate, values: tf.Tensor) -> tf.Tensor:
    """The 2x2 matrix of one single-qubit gate, complex64.

    Args:
        gate: a record from :func:`parse_operation`.
        values: float32 ``[B, S]`` symbol values, columns as in its ``sindex``.

    Returns:
        ``[2, 2]`` for a fixed gate; ``[B, 2, 2]`` (one matrix per row) for a parametrised one.
    """
    if gate.matrix is not None:
        return tf.constant(gate.matrix, tf.complex64)
    t = tf.fill([tf.shape(values)[0]], tf.constant(gate.exponent.const, tf.float32))
    for i, c in gate.exponent.coeffs.items():
        t = t + c * values[:, i]
    shift = np.array([1.0 + 2.0 * gate.global_shift], np.float32)
    return _rotations(t[:, None], _PAULI_MATRIX[gate.pauli][None], shift)[:, 0]


def z_signs(n_qubits: int, observables: Sequence[Sequence[int]]) -> np.ndarray:
    """``[2**n_qubits, L]`` float32: the eigenvalue (+1 / -1) of each Z product on each
    basis state; observable ``l`` is the product of ``Z_q`` over its qubit indices ``q``."""
    n = n_qubits
    idx = np.arange(2**n)
    cols = []
    for qs in observables:
        parity = np.zeros_like(idx)
        for q in qs:
            parity ^= (idx >> (n - 1 - q)) & 1
        cols.append(1.0 - 2.0 * parity)
    return np.stack(cols, axis=1).astype(np.float32)


def _kron(mats: tf.Tensor) -> tf.Tensor:
    """Kronecker product of ``[..., k, 2, 2]`` along the ``k`` axis: ``[..., 2**k, 2**k]``."""
    factors = tf.unstack(mats, axis=-3)  # one op (its gradient: one stack), not k slices
    out = factors[0]
    for m in factors[1:]:
        d = out.shape[-1]
        lead = tf.shape(out)[:-2]
        # reshapes, not strided slices: their gradients are reshapes too
        a = tf.reshape(out, tf.concat([lead, [d, 1, d, 1]], axis=0))
        b = tf.reshape(m, tf.concat([tf.shape(m)[:-2], [1, 2, 1, 2]], axis=0))
        out = tf.reshape(a * b, tf.concat([lead, [2 * d, 2 * d]], axis=0))
    return out


def _kron_vectors(vecs: tf.Tensor) -> tf.Tensor:
    """Kronecker product of ``[B, k, 2]`` along ``k``, as a balanced tree: ``[B, 2**k]``."""
    parts = tf.unstack(vecs, axis=1)
    while len(parts) > 1:
        joined = []
        for a, b in zip(parts[0::2], parts[1::2]):
            outer = tf.expand_dims(a, 2) * tf.expand_dims(b, 1)
            joined.append(tf.reshape(outer, [-1, a.shape[1] * b.shape[1]]))
        if len(parts) % 2:
            joined.append(parts[-1])
        parts = joined
    return parts[0]


def _consecutive_runs(qubits: list[int]) -> list[tuple[int, list[int]]]:
    """``(position, run)`` of each maximal run of consecutive qubit indices in ``qubits``."""
    runs: list[tuple[int, list[int]]] = []
    for pos, q in enumerate(qubits):
        if runs and runs[-1][1][-1] == q - 1:
            runs[-1][1].append(q)
        else:
            runs.append((pos, [q]))
    return runs


@dataclasses.dataclass
class _Block:
    """Fused single-qubit gates on some qubits: ``table[l, j]`` indexes the gate pool."""

    qubits: list[int]
    table: np.ndarray  # [run length, len(qubits)] int32 into the pool
    batched: bool
    chunks: list[tuple[int, int]]  # (first position in ``qubits``, size) of each matmul


class CompiledCircuit:
    """A Cirq circuit compiled to TensorFlow ops.

    Args:
        circuit: a circuit of unitary gates; parametrised gates must be of the families in
            :data:`SUPPORTED_PARAMETRISED_GATES` with parameters linear in the symbols.
        symbol_names: the per-sample symbols, in the column order of ``symbol_values``.
        qubits: qubit order (default: ``sorted(circuit.all_qubits())``).
        shared_symbol_names: symbols whose values are the same for every sample (e.g.
            trained weights), given to :meth:`state` as ``shared_values`` [S']. Gates that
            depend on these alone get one matrix for the whole batch, which is faster.
        max_chunk_qubits: neighbouring single-qubit gates are joined into one matrix on
            up to this many qubits (1 applies every qubit's gate on its own).

    Raises:
        UnsupportedGateError: a gate cannot be compiled (the message names it).
        ValueError: a symbol of the circuit is in neither symbol list, or a bad option.
    """

    def __init__(
        self,
        circuit: cirq.Circuit,
        symbol_names: Sequence,
        *,
        qubits=None,
        shared_symbol_names: Sequence = (),
        max_chunk_qubits: int = 5,
    ):
        if (
            isinstance(max_chunk_qubits, bool)
            or not isinstance(max_chunk_qubits, int)
            or max_chunk_qubits < 1
        ):
            raise ValueError(f"max_chunk_qubits must be an int >= 1, got {max_chunk_qubits!r}")
        qubits = list(qubits) if qubits is not None else sorted(circuit.all_qubits())
        self.n_qubits = len(qubits)
        self.symbol_names = tuple(sympy.Symbol(str(s)) for s in symbol_names)
        self.shared_symbol_names = tuple(sympy.Symbol(str(s)) for s in shared_symbol_names)
        both = self.symbol_names + self.shared_symbol_names
        if len(set(both)) != len(both):
            raise ValueError("symbol_names and shared_symbol_names must not repeat a symbol")
        self._max_chunk = max_chunk_qubits
        qindex = {q: i for i, q in enumerate(qubits)}
        missing = circuit.all_qubits() - set(qindex)
        if missing:
            raise ValueError(f"circuit acts on qubits {sorted(missing)} not in qubits")
        sindex = {s: i for i, s in enumerate(both)}
        self._program = self._schedule(parse_circuit(circuit, qindex, sindex))
        self._tabulate()

    # ----------------------------------------------------------------- compile
    def _schedule(self, ops) -> list:
        """Orders gates into few, large steps while keeping each qubit's gate order.

        A topological sort of the gate DAG that alternates two phases: emit every ready
        multi-qubit gate (consecutive monomial ones fuse into one gather), then every ready
        single-qubit gate (fused per qubit). The single-qubit gates that come before any
        multi-qubit gate on a qubit form the opening product state.
        """
        n = self.n_qubits
        wires = [op.qubits if isinstance(op, MultiGate) else (op.qubit,) for op in ops]
        queues: list[collections.deque] = [collections.deque() for _ in range(n)]
        for i, qs in enumerate(wires):
            for q in qs:
                queues[q].append(i)

        def pop(i):
            for q in wires[i]:
                queues[q].popleft()

        def take_singles() -> list:
            blocks = []
            for q in range(n):
                run = []
                while queues[q] and isinstance(ops[queues[q][0]], SingleGate):
                    run.append(ops[queues[q][0]])
                    pop(queues[q][0])
                if run:
                    blocks.append((q, run))
            return blocks

        self._opening = dict(take_singles())
        program: list = []
        while any(queues):
            progressed = True
            while progressed:
                progressed = False
                for q in range(n):
                    if not queues[q]:
                        continue
                    i = queues[q][0]
                    if isinstance(ops[i], SingleGate) or any(queues[p][0] != i for p in wires[i]):
                        continue
                    pop(i)
                    progressed = True
                    append_multi_gate(program, ops[i], n)
            blocks = take_singles()
            if blocks:
                program.append(("single", blocks))
        return program

    def _tabulate(self) -> None:
        """Turns the gates of the program into index tables over one pool of 2x2 matrices.

        Pool order: batched rotations, then shared rotations, then fixed matrices (the
        identity first). A block is batched when one of its gates depends on a per-sample
        symbol.
        """
        n_batch_symbols = len(self.symbol_names)
        n_symbols = n_batch_symbols + len(self.shared_symbol_names)
        batched, shared, fixed = [], [], [np.eye(2, dtype=np.complex128)]

        def is_batched(g: SingleGate) -> bool:
            return g.matrix is None and any(i < n_batch_symbols for i in g.exponent.coeffs)

        slots = {}  # id(gate) -> ("b" | "s" | "f", index)
        for g in self._all_singles():
            if g.matrix is not None:
                slots[id(g)] = ("f", len(fixed))
                fixed.append(g.matrix)
            elif is_batched(g):
                slots[id(g)] = ("b", len(batched))
                batched.append(g)
            else:
                slots[id(g)] = ("s", len(shared))
                shared.append(g)
        offset = {"b": 0, "s": len(batched), "f": len(batched) + len(shared)}

        def coefficients(gates):
            coeff = np.zeros([n_symbols, len(gates)], np.float32)
            const = np.zeros([len(gates)], np.float32)
            for j, g in enumerate(gates):
                const[j] = g.exponent.const
                for i, c in g.exponent.coeffs.items():
                    coeff[i, j] = c
            paulis = np.stack([_PAULI_MATRIX[g.pauli] for g in gates]) if gates else None
            shifts = np.array([1.0 + 2.0 * g.global_shift for g in gates], np.float32)
            return coeff, const, paulis, shifts

        self._rot_batched = coefficients(batched)
        self._rot_shared = coefficients(shared)
        self._fixed = np.stack(fixed)
        self._n_batched, self._n_shared = len(batched), len(shared)
        self._any_batched_block = False

        def block(runs: dict[int, list]) -> _Block:
            qs = sorted(runs)
            length = max(len(r) for r in runs.values())
            table = np.full([length, len(qs)], offset["f"], np.int32)  # identity padding
            for j, q in enumerate(qs):
                for l, g in enumerate(runs[q]):
                    kind, i = slots[id(g)]
                    table[l, j] = offset[kind] + i
            is_b = any(is_batched(g) for r in runs.values() for g in r)
            if not is_b:  # the shared pool has no batched rotations in front
                table -= len(batched)
            chunks = []
            for run in _consecutive_runs(qs):  # balanced pieces of at most max_chunk qubits
                pieces = -(-len(run[1]) // self._max_chunk)
                sizes = [len(run[1]) // pieces + (i < len(run[1]) % pieces) for i in range(pieces)]
                start = run[0]
                for size in sizes:
                    chunks.append((start, size))
                    start += size
            return _Block(qs, table, is_b, chunks)

        opening = {q: self._opening.get(q, []) for q in range(self.n_qubits)}
        self._open_block = (
            block({q: r if r else [] for q, r in opening.items()})
            if any(opening.values())
            else None
        )
        steps = []
        for kind, payload in self._program:
            if kind == "single":
                b = block(dict(payload))
                self._any_batched_block |= b.batched
                steps.append(("single", b))
            else:
                steps.append((kind, payload))
        self._steps = steps

    def _all_singles(self):
        for runs in self._opening.values():
            yield from runs
        for kind, payload in self._program:
            if kind == "single":
                for _, runs in payload:
                    yield from runs

    # ---------------------------------------------------------------- execute
    def _pools(self, values, shared):
        """The 2x2 matrices every block gathers from: ``[P, 2, 2]`` and ``[B, P, 2, 2]``."""
        fixed = tf.constant(self._fixed, tf.complex64)
        n_b = len(self.symbol_names)
        parts = []
        if self._n_shared:
            coeff, const, paulis, shifts = self._rot_shared
            t = tf.constant(const)
            if shared is not None:
                t = t + tf.linalg.matvec(tf.constant(coeff[n_b:]), shared, transpose_a=True)
            parts.append(_rotations(t, paulis, shifts))
        pool_shared = tf.concat(parts + [fixed], axis=0) if parts else fixed
        pool_batched = None
        if self._n_batched:
            coeff, const, paulis, shifts = self._rot_batched
            t = tf.linalg.matmul(values, tf.constant(coeff[:n_b])) + const
            if shared is not None and np.any(coeff[n_b:]):
                t = t + tf.linalg.matvec(tf.constant(coeff[n_b:]), shared, transpose_a=True)
            rot = _rotations(t, paulis, shifts)
            batch = tf.shape(values)[0]
            tiled = tf.broadcast_to(
                pool_shared[None], tf.concat([[batch], tf.shape(pool_shared)], 0)
            )
            pool_batched = tf.concat([rot, tiled], axis=1)
        return pool_shared, pool_batched

    @staticmethod
    def _fuse(pool: tf.Tensor, table: np.ndarray, batched: bool) -> tf.Tensor:
        """Products over a block's runs: ``[(B,) k, 2, 2]`` (gate ``l`` acts after ``l-1``)."""
        g = tf.gather(pool, tf.constant(table), axis=1 if batched else 0)
        steps = tf.unstack(g, axis=1 if batched else 0)
        m = steps[0]
        for step in steps[1:]:
            m = tf.linalg.matmul(step, m)
        return m

    def state(self, symbol_values: tf.Tensor, shared_values: tf.Tensor | None = None) -> tf.Tensor:
        """Final state vectors ``[B, 2**n]`` complex64.

        Args:
            symbol_values: float32 ``[B, S]``, the values of ``symbol_names``.
            shared_values: float32 ``[S']``, the values of ``shared_symbol_names`` (the
                same for every sample); required when there are shared symbols.
        """
        values = tf.convert_to_tensor(symbol_values, tf.float32)
        if self.shared_symbol_names:
            if shared_values is None:
                raise ValueError("shared_values is required: the circuit has shared_symbol_names")
            shared = tf.reshape(tf.convert_to_tensor(shared_values, tf.float32), [-1])
        else:
            shared = None
        batch = tf.shape(values)[0]
        n = self.n_qubits
        pool_s, pool_b = self._pools(values, shared)

        if self._open_block is None:
            vecs = tf.tile(tf.constant([[[1, 0]]], tf.complex64), [batch, n, 1])
        elif self._open_block.batched:
            vecs = self._fuse(pool_b, self._open_block.table, True)[..., 0]  # [B, n, 2]
        else:
            v = self._fuse(pool_s, self._open_block.table, False)[..., 0]  # [n, 2]
            vecs = tf.tile(v[None], [batch, 1, 1])
        state = _kron_vectors(vecs)
        for kind, payload in self._steps:
            if kind == "monomial":
                src, phase = payload
                if not np.array_equal(src, np.arange(len(src))):
                    state = permute(state, src, axis=1)
                if not np.allclose(phase, 1.0):
                    state = state * tf.constant(phase, tf.complex64)
            elif kind == "single":
                state = self._apply_block(state, payload, pool_b if payload.batched else pool_s)
            elif kind == "dense":
                state = apply_dense_gate(state, payload, n)
        return state

    def _apply_block(self, state, block: _Block, pool):
        n = self.n_qubits
        mats = self._fuse(pool, block.table, block.batched)  # [(B,) k, 2, 2]
        if not block.batched and block.qubits == list(range(n)) and len(block.chunks) > 1:
            return self._apply_layer_cycling(state, mats, block)
        for start, size in block.chunks:
            q0 = block.qubits[start]
            sub = mats[..., start : start + size, :, :] if len(block.chunks) > 1 else mats
            m = _kron(sub) if size > 1 else sub[..., 0, :, :]  # [(B,) C, C]
            c, rest = 2**size, 2 ** (n - q0 - size)
            if rest == 1:
                shaped = tf.reshape(state, [-1, 2**q0, c] if block.batched else [-1, c])
                out = tf.linalg.matmul(shaped, m, transpose_b=True)
            else:
                if block.batched:
                    shaped = tf.reshape(state, [-1, 2**q0, c, rest])
                    out = tf.linalg.matmul(m[:, None], shaped)
                else:
                    shaped = tf.reshape(state, [-1, c, rest])
                    out = tf.linalg.matmul(m, shaped)
            state = tf.reshape(out, [-1, 2**n])
        return state

    def _apply_layer_cycling(self, state, mats, block: _Block):
        """A batch-shared layer on every qubit: one plain 2-D matmul per chunk.

        The last chunk's qubits are the fastest-varying index, so ``[B * rest, C] @ M^T``
        applies its matrix; a transpose then moves them to the front, which makes the
        previous chunk the last. After every chunk the qubit order is back where it began.
        Plain matmuls (and their gradients) beat broadcast batched ones several times over.
        """
        n = self.n_qubits
        for start, size in reversed(block.chunks):
            sub = mats[start : start + size]
            m = _kron(sub) if size > 1 else sub[0]  # [C, C]
            c = 2**size
            out = tf.linalg.matmul(tf.reshape(state, [-1, c]), m, transpose_b=True)
            out = tf.transpose(tf.reshape(out, [-1, 2 ** (n - size), c]), [0, 2, 1])
            state = tf.reshape(out, [-1, 2**n])
        return state

    def z_signs(self, observables: Sequence[Sequence[int]]) -> np.ndarray:
        """``[2**n, L]`` eigenvalues of the Z products on the given qubit index lists
        (:func:`z_signs` on this circuit's qubits)."""
        return z_signs(self.n_qubits, observables)

    def expectation_z(
        self, symbol_values: tf.Tensor, signs: np.ndarray, shared_values: tf.Tensor | None = None
    ) -> tf.Tensor:
        """``<Z...>`` [B, L] for the sign matrix of :meth:`z_signs`."""
        psi = self.state(symbol_values, shared_values)
        probs = tf.math.square(tf.math.real(psi)) + tf.math.square(tf.math.imag(psi))
        return tf.linalg.matmul(probs, tf.constant(signs, tf.float32))


def circuit_symbol_names(circuit: cirq.AbstractCircuit, symbols: Sequence) -> tuple[str, ...]:
    """The names of ``symbols``, checked against ``circuit``: the order of the value columns
    of every program that takes a circuit and its symbols.

    Raises:
        TypeError: ``circuit`` is not a Cirq circuit, or ``symbols`` is not a sequence of
            ``sympy.Symbol`` / ``str``.
        ValueError: a name repeats, or a symbol of the circuit is not in ``symbols``
            (symbols the circuit does not use are allowed).
    """
    if not isinstance(circuit, cirq.AbstractCircuit):
        raise TypeError(f"circuit must be a cirq.Circuit, got {circuit!r}")
    if isinstance(symbols, (str, sympy.Basic)):
        raise TypeError(f"symbols must be a sequence of symbols or names, got {symbols!r}")
    names = []
    for s in symbols:
        if not isinstance(s, (str, sympy.Symbol)):
            raise TypeError(f"symbols must be sympy.Symbol or str, got {s!r}")
        names.append(str(s))
    if len(set(names)) != len(names):
        raise ValueError(f"symbols must not repeat a name, got {names}")
    missing = sorted(cirq.parameter_names(circuit) - set(names))
    if missing:
        raise ValueError(f"symbols {missing} of the circuit are not in symbols {tuple(names)}")
    return tuple(names)


def symbol_values_tensor(symbol_values, symbols: Sequence[str]) -> tf.Tensor:
    """``symbol_values`` as a float32 tensor ``[batch, len(symbols)]``, one column per symbol.

    Raises:
        ValueError: a statically known rank or width that does not fit (the message names
            the symbols).
    """
    symbols = tuple(symbols)
    values = tf.convert_to_tensor(symbol_values, tf.float32)
    if values.shape.rank is not None and (
        values.shape.rank != 2 or (values.shape[1] is not None and values.shape[1] != len(symbols))
    ):
        raise ValueError(
            f"symbol_values must be [batch, {len(symbols)}] (one column per symbol "
            f"of {symbols}), got shape {values.shape}"
        )
    return values


def readouts_and_qubits(
    circuit: cirq.AbstractCircuit, readouts: Sequence, qubits: Sequence[cirq.Qid] | None
) -> tuple[tuple[cirq.PauliSum, ...], tuple[cirq.Qid, ...]]:
    """The readouts as Pauli sums, and the qubit order of a program that measures them.

    Args:
        circuit: the circuit.
        readouts: a sequence of Pauli sums, strings or Z operations (one per output).
        qubits: the qubit order, or None for the sorted qubits of the circuit and readouts.

    Returns:
        ``(sums, qubits)``.

    Raises:
        TypeError: ``readouts`` is one Pauli sum, string or operation instead of a sequence,
            or a readout has the wrong type.
        ValueError: ``qubits`` lacks a qubit of the circuit or the readouts, or a readout
            coefficient is not real.
    """
    if isinstance(readouts, (cirq.PauliSum, cirq.PauliString, cirq.Operation)):
        raise TypeError(f"readouts must be a sequence of Pauli sums, got {readouts!r}")
    sums = tuple(as_pauli_sum(r, f"readouts[{l}]") for l, r in enumerate(list(readouts)))
    used = set(circuit.all_qubits()).union(*(total.qubits for total in sums))
    order = tuple(sorted(used) if qubits is None else qubits)
    absent = used - set(order)
    if absent:
        raise ValueError(
            f"qubits {list(order)} lack {sorted(absent)} of the circuit or the readouts"
        )
    return sums, order


class ExpectationProgram:
    """Expectation values of Pauli-sum readouts after a Cirq circuit, in core TensorFlow ops.

    The TFQ-free counterpart of ``tfq.layers.Expectation`` with analytic expectations: the
    circuit runs as a :class:`CompiledCircuit` (every symbol per sample) and the readouts
    as a :class:`~qgcam_tf.quantum.readout.PauliReadout`. Calls are differentiable with
    ``tf.GradientTape`` with respect to the symbol values, traceable in ``tf.function``
    and free of TensorFlow Quantum ops (so a SavedModel holding one loads in stock
    TensorFlow).

    Args:
        circuit: unitary gates: fixed gates of any size, and parametrised gates of the
            families in :data:`SUPPORTED_PARAMETRISED_GATES` whose parameters are linear in
            the symbols. Measurements are refused (expectations need none).
        symbols: the symbols (``sympy.Symbol`` or names), in the column order of the
            symbol values. Symbols the circuit does not use are allowed (ignored).
        readouts: ``cirq.PauliSum`` / ``cirq.PauliString`` operators with real coefficients,
            on any qubits, in any basis (X, Y, Z); one output column each.
        qubits: the qubit order of the state (default: the sorted qubits of the circuit
            and the readouts); it must hold every qubit of both.

    Attributes:
        symbols: ``tuple[str, ...]``, the names of the symbol value columns.
        n_outputs: the number of readouts.
        qubits: the qubit order, a tuple.
        circuit: the circuit.
        readouts: the readouts, as ``cirq.PauliSum``.

    Raises:
        UnsupportedGateError: a gate cannot be compiled, or a parameter is not linear in its
            symbols (the message names the gate, its moment index and the expression).
        ValueError: a symbol of the circuit is not in ``symbols`` (the message names it),
            ``symbols`` repeats a name, or a qubit is missing from ``qubits``.
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
        names = circuit_symbol_names(circuit, symbols)
        sums, qubits = readouts_and_qubits(circuit, readouts, qubits)
        self.circuit = circuit
        self.symbols = tuple(names)
        self.qubits = tuple(qubits)
        self._compiled = CompiledCircuit(circuit, names, qubits=self.qubits)
        self._readout = PauliReadout(sums, self.qubits)
        self.readouts = self._readout.readouts
        self.n_outputs = self._readout.n_outputs

    def state(self, symbol_values: tf.Tensor) -> tf.Tensor:
        """Final state vectors ``[B, 2**n]`` complex64 (big-endian, ``qubits`` order)."""
        return self._compiled.state(symbol_values_tensor(symbol_values, self.symbols))

    def __call__(self, symbol_values: tf.Tensor) -> tf.Tensor:
        """``<psi|O_l|psi>`` ``[B, n_outputs]`` float32 for ``symbol_values`` ``[B, S]``."""
        return self._readout(self.state(symbol_values))
