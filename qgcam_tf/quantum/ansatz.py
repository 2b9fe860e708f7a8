"""Input encodings, the circuit families beyond the paper's, and any Cirq circuit as a VQC.

A variational quantum circuit here is a Cirq circuit with two kinds of symbols: *input*
symbols, whose values are the encoding angles of the layer's inputs ``x`` (computed in
TensorFlow, so gradients reach ``x``), and *weight* symbols, the trained ``theta``. Its
scores are the expectations of Pauli-sum readouts. :class:`VariationalCircuit` holds the
four (circuit, input symbols, weight symbols, readouts) with the encoding, checked once;
:class:`~qgcam_tf.model.layers.VQCLayer` runs one on either backend.

Encodings (:data:`ENCODINGS`; ``x`` is ``[B, n]``, the angles are ``[B, width * n]``,
block ``j`` of ``n`` columns feeding gate ``ENCODING_GATES[encoding][j]`` of every qubit):

* ``"paper"``: ``concat(atan(x), atan(x**2))``, fed to ``R_Y`` then ``R_Z`` (width 2; the
  encoding of arXiv 2408.05899);
* ``"identity"``: ``x`` itself as the ``R_Y`` angle (width 1);
* ``"atan"``: ``atan(x)`` as the ``R_Y`` angle (width 1; bounded like the paper's).

Families (:data:`ANSATZE`; the paper's own circuit is built by
:func:`qgcam_tf.quantum.circuits.build_vqc`), on qubits ``LineQubit(0..n-1)`` with weights
``theta`` ``[depth, n, 2]``; a *block* ``d`` is a CZ ladder ``CZ(q_i, q_{i+1})``,
``i < n - 1``, then ``R_Z(theta[d, k, 0])`` and ``R_Y(theta[d, k, 1])`` on every qubit ``k``:

* ``"hardware_efficient"`` (:func:`hardware_efficient_circuit`): the encoding once, then
  ``depth`` blocks: only nearest-neighbour CZs and single-qubit rotations, the gates of
  superconducting hardware;
* ``"reuploading"`` (:func:`reuploading_circuit`, data re-uploading): ``depth`` times the
  encoding followed by a block, so the same input symbols appear ``depth`` times.

Symbol names: input symbols ``enc_<gate>_<k>`` (``enc_ry_3``), weights ``theta_<d>_<k>_<j>``
in the row-major order of ``theta``. The readouts of a family are ``<Z_l>``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import cirq
import sympy
import tensorflow as tf

from qgcam_tf.quantum import ANSATZE, ENCODINGS
from qgcam_tf.quantum.compiler import parse_circuit
from qgcam_tf.quantum.readout import as_pauli_sum

__all__ = [
    "ANSATZE",
    "ENCODINGS",
    "ENCODING_GATES",
    "VariationalCircuit",
    "encode",
    "encoding_ops",
    "encoding_symbols",
    "encoding_width",
    "hardware_efficient_circuit",
    "reuploading_circuit",
]

ENCODING_GATES = {"paper": ("ry", "rz"), "identity": ("ry",), "atan": ("ry",)}
"""The rotation each block of encoding angles feeds, per encoding (``"ry"`` or ``"rz"``)."""

_GATES = {"ry": cirq.ry, "rz": cirq.rz}


def _check_encoding(encoding) -> str:
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    return encoding


def encoding_width(encoding: str) -> int:
    """Angles per input of ``encoding`` (2 for ``"paper"``, 1 for the others).

    Raises:
        ValueError: unknown encoding.
    """
    return len(ENCODING_GATES[_check_encoding(encoding)])


def encode(x: tf.Tensor, encoding: str) -> tf.Tensor:
    """The encoding angles ``[B, width * n]`` of inputs ``x`` ``[B, n]`` (differentiable).

    Raises:
        ValueError: unknown encoding.
    """
    _check_encoding(encoding)
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    if encoding == "paper":
        return tf.concat([tf.atan(x), tf.atan(tf.square(x))], axis=-1)
    if encoding == "atan":
        return tf.atan(x)
    return x


def encoding_symbols(n_inputs: int, encoding: str) -> tuple[sympy.Symbol, ...]:
    """The input symbols of ``n_inputs`` inputs in the column order of :func:`encode`:
    ``enc_<gate>_0 .. enc_<gate>_{n-1}`` for each gate of ``ENCODING_GATES[encoding]``."""
    return tuple(
        sympy.Symbol(f"enc_{gate}_{k}")
        for gate in ENCODING_GATES[_check_encoding(encoding)]
        for k in range(n_inputs)
    )


def encoding_ops(
    qubits: Sequence[cirq.Qid], symbols: Sequence[sympy.Symbol], encoding: str
) -> list[cirq.Operation]:
    """The encoding gates: on qubit ``k``, gate ``j`` of ``ENCODING_GATES[encoding]`` with
    angle ``symbols[j * n + k]`` (``n = len(qubits)``), in that order."""
    gates = ENCODING_GATES[_check_encoding(encoding)]
    n = len(qubits)
    return [
        _GATES[gate](symbols[j * n + k]).on(q)
        for k, q in enumerate(qubits)
        for j, gate in enumerate(gates)
    ]


def _weights(n_qubits: int, depth: int) -> list[list[list[sympy.Symbol]]]:
    return [
        [[sympy.Symbol(f"theta_{d}_{k}_{j}") for j in range(2)] for k in range(n_qubits)]
        for d in range(depth)
    ]


def _block(circuit: cirq.Circuit, qubits, weights) -> None:
    """A CZ ladder, then ``R_Z(w[k][0])`` and ``R_Y(w[k][1])`` on every qubit."""
    for i in range(len(qubits) - 1):
        circuit.append(cirq.CZ(qubits[i], qubits[i + 1]))
    for k, q in enumerate(qubits):
        circuit.append([cirq.rz(weights[k][0]).on(q), cirq.ry(weights[k][1]).on(q)])


def _check_sizes(n_qubits, depth) -> None:
    for name, value, low in (("n_qubits", n_qubits, 1), ("depth", depth, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def hardware_efficient_circuit(
    n_qubits: int, depth: int, encoding: str = "paper"
) -> tuple[cirq.Circuit, tuple[sympy.Symbol, ...], tuple[sympy.Symbol, ...]]:
    """The hardware-efficient family: the encoding, then ``depth`` blocks (CZ ladder, RZ, RY).

    Returns:
        ``(circuit, input_symbols, weight_symbols)``; ``weight_symbols`` in the row-major
        order of ``theta`` ``[depth, n_qubits, 2]``.

    Raises:
        ValueError: a size below 1 or an unknown encoding.
    """
    _check_sizes(n_qubits, depth)
    qubits = cirq.LineQubit.range(n_qubits)
    inputs = encoding_symbols(n_qubits, encoding)
    weights = _weights(n_qubits, depth)
    circuit = cirq.Circuit(encoding_ops(qubits, inputs, encoding))
    for d in range(depth):
        _block(circuit, qubits, weights[d])
    return circuit, inputs, tuple(s for layer in weights for qubit in layer for s in qubit)


def reuploading_circuit(
    n_qubits: int, depth: int, encoding: str = "paper"
) -> tuple[cirq.Circuit, tuple[sympy.Symbol, ...], tuple[sympy.Symbol, ...]]:
    """The data re-uploading family: ``depth`` times the encoding, then a block.

    Every input symbol appears ``depth`` times (each encoding gate once per layer);
    gradients with respect to an input sum over its occurrences.

    Returns:
        ``(circuit, input_symbols, weight_symbols)``; ``weight_symbols`` in the row-major
        order of ``theta`` ``[depth, n_qubits, 2]``.

    Raises:
        ValueError: a size below 1 or an unknown encoding.
    """
    _check_sizes(n_qubits, depth)
    qubits = cirq.LineQubit.range(n_qubits)
    inputs = encoding_symbols(n_qubits, encoding)
    weights = _weights(n_qubits, depth)
    circuit = cirq.Circuit()
    for d in range(depth):
        circuit.append(encoding_ops(qubits, inputs, encoding))
        _block(circuit, qubits, weights[d])
    return circuit, inputs, tuple(s for layer in weights for qubit in layer for s in qubit)


def _symbols(name: str, symbols) -> tuple[sympy.Symbol, ...]:
    if isinstance(symbols, (str, sympy.Basic)) or not isinstance(symbols, Sequence):
        raise TypeError(f"{name} must be a sequence of sympy.Symbol or str, got {symbols!r}")
    out = []
    for s in symbols:
        if not isinstance(s, (str, sympy.Symbol)):
            raise TypeError(f"{name} must hold sympy.Symbol or str, got {s!r}")
        out.append(sympy.Symbol(str(s)))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class VariationalCircuit:
    """A Cirq circuit with input symbols, weight symbols, readouts and an input encoding.

    For inputs ``x`` ``[B, n]`` and weights ``theta`` (``theta_shape``), the circuit is
    resolved at ``input_symbols = encode(x, encoding)`` (column ``c`` to
    ``input_symbols[c]``) and ``weight_symbols = ravel(theta)`` (row-major), and the scores
    are the expectations of ``readouts``. With the ``"paper"`` encoding, the first ``n``
    input symbols take ``atan(x)`` and the last ``n`` take ``atan(x**2)``. A symbol may
    appear in several gates (data re-uploading).

    Checked on construction: every circuit symbol is an input or weight symbol, no symbol is
    both or repeated, the number of input symbols is a multiple of the encoding's width, the
    readouts are real Pauli sums on qubits of the circuit, and every gate compiles to the
    pure-TF executor (:mod:`qgcam_tf.quantum.compiler`), so a model trained on TFQ can be
    saved and served without it.

    Attributes:
        circuit: the ``cirq.Circuit``.
        input_symbols: ``tuple[sympy.Symbol, ...]`` in the column order of :func:`encode`.
        weight_symbols: ``tuple[sympy.Symbol, ...]`` in the row-major order of ``theta``.
        readouts: ``tuple[cirq.PauliSum, ...]``, one score each.
        encoding: one of :data:`ENCODINGS`.
        theta_shape: the shape of ``theta`` (default ``(len(weight_symbols),)``).

    Raises:
        TypeError: a field has the wrong type (the message names it).
        ValueError / UnsupportedGateError: one of the checks above fails (the message names
            the symbol, readout or gate).
    """

    circuit: cirq.AbstractCircuit
    input_symbols: tuple
    weight_symbols: tuple
    readouts: tuple
    encoding: str = "identity"
    theta_shape: tuple | None = None

    def __post_init__(self):
        if not isinstance(self.circuit, cirq.AbstractCircuit):
            raise TypeError(f"circuit must be a cirq.Circuit, got {self.circuit!r}")
        inputs = _symbols("input_symbols", self.input_symbols)
        weights = _symbols("weight_symbols", self.weight_symbols)
        names = [str(s) for s in inputs + weights]
        repeated = sorted({s for s in names if names.count(s) > 1})
        if repeated:
            raise ValueError(
                f"input_symbols and weight_symbols must not repeat a symbol, got {repeated}"
            )
        width = encoding_width(self.encoding)
        if not inputs or len(inputs) % width:
            raise ValueError(
                f"encoding {self.encoding!r} feeds {width} angle(s) per input, so input_symbols "
                f"must be a non-empty multiple of {width}, got {len(inputs)}"
            )
        missing = sorted(cirq.parameter_names(self.circuit) - set(names))
        if missing:
            raise ValueError(
                f"symbols {missing} of the circuit are neither input_symbols nor weight_symbols"
            )
        readouts = self.readouts
        if isinstance(readouts, (str, cirq.PauliSum, cirq.PauliString, cirq.Operation)) or (
            not isinstance(readouts, Sequence)
        ):
            raise TypeError(f"readouts must be a sequence of Pauli sums, got {readouts!r}")
        sums = tuple(as_pauli_sum(r, f"readouts[{l}]") for l, r in enumerate(readouts))
        if not sums:
            raise ValueError("readouts must hold at least one Pauli sum, got none")
        qubits = sorted(self.circuit.all_qubits())
        for l, total in enumerate(sums):
            outside = sorted(set(total.qubits) - set(qubits))
            if outside:
                raise ValueError(
                    f"readouts[{l}] {total!r} acts on qubits {outside} the circuit does not use"
                )
        shape = (len(weights),) if self.theta_shape is None else self.theta_shape
        if (
            not isinstance(shape, Sequence)
            or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape)
            or math.prod(shape) != len(weights)
        ):
            raise ValueError(
                f"theta_shape must be ints whose product is len(weight_symbols)={len(weights)}, "
                f"got {self.theta_shape!r}"
            )
        parse_circuit(
            self.circuit,
            {q: i for i, q in enumerate(qubits)},
            {s: i for i, s in enumerate(inputs + weights)},
        )
        object.__setattr__(self, "input_symbols", inputs)
        object.__setattr__(self, "weight_symbols", weights)
        object.__setattr__(self, "readouts", sums)
        object.__setattr__(self, "theta_shape", tuple(shape))

    @property
    def symbols(self) -> tuple[sympy.Symbol, ...]:
        """``input_symbols + weight_symbols``: the columns of :meth:`symbol_values`."""
        return self.input_symbols + self.weight_symbols

    @property
    def n_inputs(self) -> int:
        """The width ``n`` of the inputs ``x``."""
        return len(self.input_symbols) // encoding_width(self.encoding)

    @property
    def n_outputs(self) -> int:
        """The number of readouts (scores)."""
        return len(self.readouts)

    @property
    def qubits(self) -> tuple[cirq.Qid, ...]:
        """The circuit's qubits, sorted (the order of TFQ and of the pure-TF executor)."""
        return tuple(sorted(self.circuit.all_qubits()))

    def symbol_values(self, x: tf.Tensor, theta: tf.Tensor) -> tf.Tensor:
        """Per-sample symbol values ``[B, len(symbols)]`` for inputs ``x`` ``[B, n]`` and
        ``theta``: ``encode(x, encoding)`` then ``ravel(theta)`` on every row."""
        angles = encode(x, self.encoding)
        flat = tf.reshape(tf.cast(theta, tf.float32), [1, -1])
        return tf.concat([angles, tf.tile(flat, [tf.shape(angles)[0], 1])], axis=1)
