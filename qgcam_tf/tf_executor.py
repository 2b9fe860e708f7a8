"""A Cirq circuit compiled into plain TensorFlow ops (state-vector simulation).

Why: a SavedModel that holds TensorFlow Quantum ops does not load in stock TensorFlow or TF
Serving, so the exported model runs the same circuit with core TensorFlow ops only. It is
also differentiable with ``tf.GradientTape`` (backpropagation through the simulation) and
compiles with XLA.

How the gates are applied decides the speed. The compiler walks the circuit once and
emits a short program:

* the first single-qubit gates on each qubit act on ``|0>``, so the opening state is a
  product state built by Kronecker products (no gate is applied to ``2**n`` amplitudes);
* runs of single-qubit gates on one qubit are fused into one 2x2 matrix, batched when it
  depends on per-sample symbols and shared across the batch otherwise;
* runs of permutation/phase gates (CNOT, CZ, SWAP, X, Z, ...) are fused into one
  monomial matrix, applied as a single gather and multiply;
* all ``<Z>`` products are read from one probability vector with one matmul.

State layout: ``[batch, 2**n]`` complex64, big-endian (qubit 0 is the most significant
bit), the ordering of ``cirq.Simulator``.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence

import cirq
import numpy as np
import sympy
import tensorflow as tf

__all__ = ["CompiledCircuit", "UnsupportedGateError"]


class UnsupportedGateError(ValueError):
    """The circuit holds a gate the TensorFlow executor cannot compile."""


@dataclasses.dataclass
class _Angle:
    """An affine function of the symbols: ``const + sum coeff[s] * value[s]``."""

    const: float
    coeffs: dict[int, float]


@dataclasses.dataclass
class _Single:
    """One single-qubit gate ``e^{i pi t s} ((1+w)/2 I + (1-w)/2 P)``, ``w = e^{i pi t}``."""

    qubit: int
    matrix: np.ndarray | None  # fixed 2x2, or None when parametrised
    pauli: str = ""  # "X" | "Y" | "Z" for a parametrised power gate
    exponent: _Angle | None = None
    global_shift: float = 0.0


@dataclasses.dataclass
class _Multi:
    """A fixed multi-qubit gate."""

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


def _affine(expr, index: dict[sympy.Symbol, int], op) -> _Angle:
    expr = sympy.sympify(expr)
    unknown = expr.free_symbols - set(index)
    if unknown:
        names = ", ".join(sorted(str(s) for s in unknown))
        raise ValueError(f"symbols {names} of {op} are not in symbol_names")
    coeffs = {}
    for s in expr.free_symbols:
        d = sympy.diff(expr, s)
        if d.free_symbols:
            raise UnsupportedGateError(f"{op}: exponent {expr} is not linear in its symbols")
        coeffs[index[s]] = float(d)
    const = float(expr.subs({s: 0 for s in expr.free_symbols}))
    return _Angle(const, coeffs)


def _parse(circuit: cirq.Circuit, qindex, sindex) -> list:
    ops = []
    for op in circuit.all_operations():
        gate = op.gate
        qs = tuple(qindex[q] for q in op.qubits)
        if gate is None or cirq.is_measurement(op):
            raise UnsupportedGateError(f"unsupported operation {op!r}: only unitary gates")
        if cirq.is_parameterized(op):
            kind = _PAULI.get(type(gate))
            if kind is None:
                raise UnsupportedGateError(
                    f"unsupported parametrised gate {gate!r} on {op.qubits}: the TF executor "
                    "supports symbolic rx/ry/rz and X/Y/ZPowGate exponents"
                )
            ops.append(
                _Single(
                    qs[0],
                    None,
                    kind,
                    _affine(gate.exponent, sindex, op),
                    float(gate.global_shift),
                )
            )
        elif not cirq.has_unitary(op):
            raise UnsupportedGateError(f"unsupported operation {op!r}: it has no unitary")
        elif len(qs) == 1:
            ops.append(_Single(qs[0], cirq.unitary(op).astype(np.complex128)))
        else:
            ops.append(_Multi(qs, cirq.unitary(op).astype(np.complex128)))
    return ops


def _monomial(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(src, phase)`` with ``(M v)[i] = phase[i] * v[src[i]]``, or None if M is not one."""
    nz = np.abs(matrix) > 1e-12
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


class CompiledCircuit:
    """A Cirq circuit compiled to TensorFlow ops.

    Args:
        circuit: a circuit of unitary gates; parametrised gates must be rx/ry/rz or
            X/Y/ZPowGate with exponents linear in the symbols.
        symbol_names: the symbols, in the column order of ``symbol_values``.
        qubits: qubit order (default: ``sorted(circuit.all_qubits())``).

    Raises:
        UnsupportedGateError: a gate cannot be compiled (the message names it).
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
        self._program = self._schedule(_parse(circuit, qindex, sindex))

    # ----------------------------------------------------------------- compile
    def _schedule(self, ops) -> list:
        """Orders gates into few, large steps while keeping each qubit's gate order.

        A topological sort of the gate DAG that alternates two phases: emit every ready
        multi-qubit gate (consecutive monomial ones fuse into one gather), then every ready
        single-qubit gate (fused per qubit). The single-qubit gates that come before any
        multi-qubit gate on a qubit form the opening product state.
        """
        n = self.n_qubits
        wires = [op.qubits if isinstance(op, _Multi) else (op.qubit,) for op in ops]
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
                while queues[q] and isinstance(ops[queues[q][0]], _Single):
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
                    if isinstance(ops[i], _Single) or any(queues[p][0] != i for p in wires[i]):
                        continue
                    pop(i)
                    progressed = True
                    self._emit_multi(program, ops[i])
            blocks = take_singles()
            if blocks:
                program.append(("single", blocks))
        return program

    def _emit_multi(self, program: list, op: _Multi) -> None:
        mono = _monomial(op.matrix)
        if mono is None:
            program.append(("dense", op))
            return
        src, phase = _embed_monomial(op.qubits, *mono, self.n_qubits)
        if program and program[-1][0] == "monomial":
            src0, ph0 = program[-1][1]
            program[-1] = ("monomial", (src0[src], phase * ph0[src]))
        else:
            program.append(("monomial", (src, phase)))

    # ---------------------------------------------------------------- execute
    def _gate_matrix(self, g: _Single, values: tf.Tensor):
        """2x2 matrix of one gate: [2, 2] when fixed, [B, 2, 2] when parametrised."""
        if g.matrix is not None:
            return tf.constant(g.matrix, tf.complex64)
        t = tf.fill([tf.shape(values)[0]], tf.constant(g.exponent.const, tf.float32))
        for i, c in g.exponent.coeffs.items():
            t = t + c * values[:, i]
        half = 0.5 * np.pi * t
        # w = e^{i pi t}: (1+w)/2 = e^{i half} cos(half), (1-w)/2 = -i e^{i half} sin(half)
        phase = tf.exp(tf.complex(tf.zeros_like(half), half * (1.0 + 2.0 * g.global_shift)))
        c = tf.complex(tf.cos(half), tf.zeros_like(half)) * phase
        s = tf.complex(tf.zeros_like(half), -tf.sin(half)) * phase
        eye = tf.constant(np.eye(2), tf.complex64)
        pauli = tf.constant(_PAULI_MATRIX[g.pauli], tf.complex64)
        return c[:, None, None] * eye + s[:, None, None] * pauli

    def _fused(self, gates: list[_Single], values: tf.Tensor):
        """Product of a run of 2x2 gates; ``matmul`` broadcasts [2, 2] against [B, 2, 2]."""
        m = self._gate_matrix(gates[0], values)
        for g in gates[1:]:
            m = tf.linalg.matmul(self._gate_matrix(g, values), m)
        return m

    def state(self, symbol_values: tf.Tensor) -> tf.Tensor:
        """Final state vectors ``[B, 2**n]`` complex64 for ``symbol_values`` [B, S]."""
        values = tf.convert_to_tensor(symbol_values, tf.float32)
        batch = tf.shape(values)[0]
        n = self.n_qubits
        state = None
        for q in range(n):
            if q in self._opening:
                m = self._fused(self._opening[q], values)
                v = m[..., :, 0]
                if v.shape.rank == 1:
                    v = tf.tile(v[None], [batch, 1])
            else:
                v = tf.tile(tf.constant([[1, 0]], tf.complex64), [batch, 1])
            state = v if state is None else tf.reshape(state[:, :, None] * v[:, None, :], [batch, -1])
        for kind, payload in self._program:
            if kind == "monomial":
                src, phase = payload
                state = tf.gather(state, src, axis=1)
                if not np.allclose(phase, 1.0):
                    state = state * tf.constant(phase, tf.complex64)
            elif kind == "single":
                for q, gates in payload:
                    state = self._apply_1q(state, self._fused(gates, values), q)
            else:
                state = self._apply_dense(state, payload)
        return state

    def _apply_1q(self, state, m, q):
        n = self.n_qubits
        shaped = tf.reshape(state, [-1, 2**q, 2, 2 ** (n - q - 1)])
        if m.shape.rank == 2:
            out = tf.einsum("ij,bajc->baic", m, shaped)
        else:
            out = tf.einsum("bij,bajc->baic", m, shaped)
        return tf.reshape(out, [-1, 2**n])

    def _apply_dense(self, state, op: _Multi):
        n, k = self.n_qubits, len(op.qubits)
        t = tf.reshape(state, [-1] + [2] * n)
        axes = [1 + q for q in op.qubits]
        rest = [a for a in range(1, n + 1) if a not in axes]
        t = tf.transpose(t, [0] + axes + rest)
        t = tf.reshape(t, [-1, 2**k, 2 ** (n - k)])
        t = tf.einsum("ij,bjc->bic", tf.constant(op.matrix, tf.complex64), t)
        t = tf.reshape(t, [-1] + [2] * n)
        inverse = np.argsort([0] + axes + rest)
        return tf.reshape(tf.transpose(t, inverse), [-1, 2**n])

    def z_signs(self, observables: Sequence[Sequence[int]]) -> np.ndarray:
        """``[2**n, L]`` eigenvalues of the Z products on the given qubit index lists."""
        n = self.n_qubits
        idx = np.arange(2**n)
        cols = []
        for qs in observables:
            parity = np.zeros_like(idx)
            for q in qs:
                parity ^= (idx >> (n - 1 - q)) & 1
            cols.append(1.0 - 2.0 * parity)
        return np.stack(cols, axis=1).astype(np.float32)

    def expectation_z(self, symbol_values: tf.Tensor, signs: np.ndarray) -> tf.Tensor:
        """``<Z...>`` [B, L] for the sign matrix of :meth:`z_signs`."""
        psi = self.state(symbol_values)
        probs = tf.math.square(tf.math.real(psi)) + tf.math.square(tf.math.imag(psi))
        return tf.linalg.matmul(probs, tf.constant(signs, tf.float32))
