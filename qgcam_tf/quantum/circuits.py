"""The variational quantum circuit of QGrad-CAM, as one Cirq circuit with sympy symbols.

:class:`VQCSpec` names the circuit: its sizes, its family (``ansatz``, one of
:data:`ANSATZE`) and its input encoding (one of :data:`ENCODINGS`); :func:`build_vqc` builds
it and :func:`variational_circuit` returns it as a
:class:`~qgcam_tf.quantum.ansatz.VariationalCircuit` (circuit, symbols, readouts,
encoding). The families other than the paper's (hardware-efficient, data re-uploading) are
described in :mod:`qgcam_tf.quantum.ansatz`; the rest of this docstring is the paper's.

This module is the single source of truth for the circuit: both executors of
:mod:`qgcam_tf.quantum.executors` (TensorFlow Quantum, and plain TensorFlow through
:mod:`qgcam_tf.quantum.compiler`) run the circuit built here, fed :func:`symbol_values`.
TensorFlow Quantum is fed :func:`compact_vqc`, the same circuit in fewer gates (tested equal
up to global phases that no expectation sees).

The paper's ansatz (Lin et al., arXiv 2408.05899) on ``n`` qubits with inputs
:math:`x_0..x_{n-1}` and weights :math:`\\theta \\in \\mathbb{R}^{depth \\times n \\times 3}`:

1. encoding, each qubit :math:`k`: :math:`H`, :math:`R_Y(\\arctan x_k)`,
   :math:`R_Z(\\arctan x_k^2)`;
2. ``depth`` times: a ring of CNOTs :math:`CNOT(q_i, q_{(i+1) \\bmod n})`, then on every
   qubit :math:`R_Z(\\phi) R_Y(\\vartheta) R_Z(\\omega)` applied in that order;
3. readout :math:`\\langle Z_l \\rangle` for :math:`l < n_{outputs}`.

The encoding angles are symbols of their own (``enc_ry_k``, ``enc_rz_k``): TensorFlow
Quantum resolves only linear symbol expressions, so :func:`encoding_angles` computes the
arctangents in TensorFlow and feeds them as symbol values (:func:`symbol_values`).
Gradients still reach ``x``.
"""

from __future__ import annotations

import dataclasses
import math

import cirq
import numpy as np
import sympy
import tensorflow as tf

from qgcam_tf.quantum import ANSATZE, ENCODINGS
from qgcam_tf.quantum.ansatz import (
    VariationalCircuit,
    encode,
    hardware_efficient_circuit,
    reuploading_circuit,
)

__all__ = [
    "ANSATZE",
    "ENCODINGS",
    "VQCSpec",
    "build_vqc",
    "compact_vqc",
    "encoding_angles",
    "readout_operators",
    "symbol_values",
    "variational_circuit",
    "vqc_qubits",
]


@dataclasses.dataclass(frozen=True)
class VQCSpec:
    """Shape of the variational quantum circuit.

    Args:
        n_qubits: number of qubits ``n`` (at least 2: the CNOT ring needs two); the
            layer's input has one value per qubit.
        depth: number of entangling + rotation layers (at least 1).
        n_outputs: number of measured ``<Z_l>`` scores, ``1 <= n_outputs <= n_qubits``.
        ansatz: circuit family, one of :data:`ANSATZE`: ``"paper"`` (the default, arXiv
            2408.05899; fast kernels), ``"hardware_efficient"`` or ``"reuploading"``
            (:mod:`qgcam_tf.quantum.ansatz`).
        encoding: input encoding, one of :data:`ENCODINGS` (default ``"paper"``:
            ``atan(x), atan(x**2)``); the paper's ansatz takes only ``"paper"``.

    Raises:
        TypeError: a size is not an int.
        ValueError: a size is out of range, the ansatz or encoding is unknown, or the
            paper's ansatz is given another encoding.
    """

    n_qubits: int = 10
    depth: int = 2
    n_outputs: int = 10
    ansatz: str = "paper"
    encoding: str = "paper"

    def __post_init__(self):
        for name in ("n_qubits", "depth", "n_outputs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"VQCSpec.{name} must be an int, got {value!r}")
        if not 2 <= self.n_qubits <= 24:
            raise ValueError(f"VQCSpec.n_qubits must be in [2, 24], got {self.n_qubits}")
        if self.depth < 1:
            raise ValueError(f"VQCSpec.depth must be >= 1, got {self.depth}")
        if not 1 <= self.n_outputs <= self.n_qubits:
            raise ValueError(
                f"VQCSpec.n_outputs must be in [1, n_qubits={self.n_qubits}], got {self.n_outputs}"
            )
        if not isinstance(self.ansatz, str) or self.ansatz not in ANSATZE:
            raise ValueError(f"VQCSpec.ansatz must be one of {ANSATZE}, got {self.ansatz!r}")
        if not isinstance(self.encoding, str) or self.encoding not in ENCODINGS:
            raise ValueError(f"VQCSpec.encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.ansatz == "paper" and self.encoding != "paper":
            raise ValueError(
                f"VQCSpec.encoding must be 'paper' for the 'paper' ansatz (its fast kernels "
                f"hard-code it), got {self.encoding!r}"
            )

    @property
    def theta_shape(self) -> tuple[int, int, int]:
        """Shape of the trainable weights: ``(depth, n_qubits, 3)`` for the paper's ansatz,
        ``(depth, n_qubits, 2)`` for the others."""
        return (self.depth, self.n_qubits, 3 if self.ansatz == "paper" else 2)

    def to_dict(self) -> dict:
        """The spec as a plain dict; ``encoding`` is left out when it is ``"paper"``, so a
        paper spec's dict (and every saved model config) is the one written before
        encodings existed."""
        config = dataclasses.asdict(self)
        if config["encoding"] == "paper":
            del config["encoding"]
        return config

    @classmethod
    def from_dict(cls, config: dict) -> VQCSpec:
        """The spec of :meth:`to_dict`'s dict; missing keys take their defaults (a dict
        without ``ansatz`` or ``encoding`` is the paper's).

        Raises:
            TypeError: ``config`` is not a dict.
            ValueError: an unknown key (the message names it), or a bad value.
        """
        if not isinstance(config, dict):
            raise TypeError(f"VQCSpec config must be a dict, got {config!r}")
        unknown = sorted(set(config) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"VQCSpec config has unknown keys {unknown}: {config!r}")
        return cls(**config)


def vqc_qubits(spec: VQCSpec) -> list[cirq.LineQubit]:
    """The qubits of the circuit, ``LineQubit(0) .. LineQubit(n-1)`` (big-endian order)."""
    return cirq.LineQubit.range(spec.n_qubits)


def build_vqc(
    spec: VQCSpec,
) -> tuple[cirq.Circuit, tuple[sympy.Symbol, ...], tuple[sympy.Symbol, ...]]:
    """Builds the circuit of ``spec`` (the paper's, or the family ``spec.ansatz`` names).

    Args:
        spec: the circuit's shape.

    Returns:
        ``(circuit, input_symbols, weight_symbols)``. For the paper's ansatz,
        ``input_symbols`` holds the ``2n`` encoding angles
        ``enc_ry_0..enc_ry_{n-1}, enc_rz_0..enc_rz_{n-1}`` in the order
        :func:`encoding_angles` produces them, and ``weight_symbols`` holds
        ``theta_{d}_{k}_{j}`` in the row-major order of ``theta`` ``[depth, n, 3]``, with
        ``j = 0, 1, 2`` for ``(phi, th, om)``. The other families:
        :func:`~qgcam_tf.quantum.ansatz.hardware_efficient_circuit` and
        :func:`~qgcam_tf.quantum.ansatz.reuploading_circuit` (inputs in the column order of
        :func:`~qgcam_tf.quantum.ansatz.encode`, ``theta`` ``[depth, n, 2]``).
    """
    if not isinstance(spec, VQCSpec):
        raise TypeError(f"spec must be a VQCSpec, got {type(spec).__name__}")
    if spec.ansatz == "hardware_efficient":
        return hardware_efficient_circuit(spec.n_qubits, spec.depth, spec.encoding)
    if spec.ansatz == "reuploading":
        return reuploading_circuit(spec.n_qubits, spec.depth, spec.encoding)
    n = spec.n_qubits
    qubits = vqc_qubits(spec)
    ry_in = sympy.symbols(f"enc_ry_0:{n}")
    rz_in = sympy.symbols(f"enc_rz_0:{n}")
    weights = [
        [[sympy.Symbol(f"theta_{d}_{k}_{j}") for j in range(3)] for k in range(n)]
        for d in range(spec.depth)
    ]
    circuit = cirq.Circuit()
    circuit.append(cirq.H(q) for q in qubits)
    circuit.append(cirq.ry(ry_in[k]).on(q) for k, q in enumerate(qubits))
    circuit.append(cirq.rz(rz_in[k]).on(q) for k, q in enumerate(qubits))
    for d in range(spec.depth):
        # The ring is appended gate by gate so Cirq keeps the paper's sequential order.
        for i in range(n):
            circuit.append(
                cirq.CNOT(qubits[i], qubits[(i + 1) % n]), strategy=cirq.InsertStrategy.NEW
            )
        for k, q in enumerate(qubits):
            phi, th, om = weights[d][k]
            circuit.append([cirq.rz(phi).on(q), cirq.ry(th).on(q), cirq.rz(om).on(q)])
    weight_symbols = tuple(s for layer in weights for qubit in layer for s in qubit)
    return circuit, tuple(ry_in) + tuple(rz_in), weight_symbols


@dataclasses.dataclass(frozen=True)
class CompactVQC:
    """:func:`build_vqc`'s circuit in fewer gates, and how to feed it.

    Resolving ``circuit`` at ``values @ matrix + offset`` gives, for the readout
    :func:`readout_operators`, the same expectations as :func:`build_vqc`'s circuit at
    ``values`` (row vectors in the order ``input_symbols + weight_symbols``).
    """

    circuit: cirq.Circuit
    symbols: tuple[sympy.Symbol, ...]
    matrix: np.ndarray  # [S, S'] float64
    offset: np.ndarray  # [S'] float64


def compact_vqc(spec: VQCSpec) -> CompactVQC:
    """The paper's circuit with ~45 % fewer gates, for gate-by-gate simulators (TFQ).

    Equal up to a global phase per gate, which no expectation sees (``Y**t``, ``Z**t`` and
    ``PhasedXPowGate`` differ from ``ry``/``rz`` only by such phases):

    - encoding: ``R_Z(b) R_Y(a) H |0>`` is ``PhasedX(p/pi, t/pi) |0>`` with
      ``t = a + pi/2`` (``H |0> = R_Y(pi/2) |0>``) and ``p = b + pi/2``;
    - each rotation ``R_Z(om) R_Y(th) R_Z(phi)`` is ``Z**(z/pi) PhasedX(p/pi, t/pi)`` with
      ``p = pi/2 - phi``, ``t = th``, ``z = om + phi``;
    - the last layer's ``Z**(z/pi)`` is dropped: it commutes with the ``<Z_l>`` readout.

    The new symbols are angles in radians, like the old ones. Measured: with symbols in
    units of pi (``exponent=t``), TFQ's adjoint gradients came out up to 2.7e-5 off a
    float64 finite difference (the tests allow 2e-5); in radians (``exponent=t/pi``)
    they pass.

    At ``n = 10``, depth 2 that is 60 gates instead of 110. Every new symbol value is an
    affine function of the old ones, so gradients reach ``x`` and ``theta`` unchanged.
    """
    if not isinstance(spec, VQCSpec):
        raise TypeError(f"spec must be a VQCSpec, got {type(spec).__name__}")
    if spec.ansatz != "paper":
        raise ValueError(f"compact_vqc knows only the 'paper' ansatz, got {spec.ansatz!r}")
    n, depth = spec.n_qubits, spec.depth
    qubits = vqc_qubits(spec)
    n_in = 2 * n + 3 * depth * n
    columns: list[tuple[sympy.Symbol, dict[int, float], float]] = []

    def symbol(name: str, weights: dict[int, float], offset: float) -> sympy.Symbol:
        columns.append((sympy.Symbol(name), weights, offset))
        return columns[-1][0]

    def theta_index(d: int, k: int, j: int) -> int:
        return 2 * n + (d * n + k) * 3 + j

    circuit = cirq.Circuit()
    for k, q in enumerate(qubits):
        p = symbol(f"enc_p_{k}", {n + k: 1.0}, math.pi / 2)
        t = symbol(f"enc_t_{k}", {k: 1.0}, math.pi / 2)
        circuit.append(cirq.PhasedXPowGate(phase_exponent=p / math.pi, exponent=t / math.pi).on(q))
    for d in range(depth):
        for i in range(n):
            circuit.append(
                cirq.CNOT(qubits[i], qubits[(i + 1) % n]), strategy=cirq.InsertStrategy.NEW
            )
        for k, q in enumerate(qubits):
            p = symbol(f"p_{d}_{k}", {theta_index(d, k, 0): -1.0}, math.pi / 2)
            t = symbol(f"t_{d}_{k}", {theta_index(d, k, 1): 1.0}, 0.0)
            circuit.append(
                cirq.PhasedXPowGate(phase_exponent=p / math.pi, exponent=t / math.pi).on(q)
            )
        if d < depth - 1:
            for k, q in enumerate(qubits):
                z = symbol(
                    f"z_{d}_{k}",
                    {theta_index(d, k, 0): 1.0, theta_index(d, k, 2): 1.0},
                    0.0,
                )
                circuit.append(cirq.ZPowGate(exponent=z / math.pi).on(q))
    matrix = np.zeros((n_in, len(columns)))
    for c, (_, weights, _) in enumerate(columns):
        for row, w in weights.items():
            matrix[row, c] = w
    offset = np.array([o for _, _, o in columns])
    return CompactVQC(circuit, tuple(s for s, _, _ in columns), matrix, offset)


def readout_operators(spec: VQCSpec) -> list[cirq.PauliString]:
    """The measured observables ``Z_0 .. Z_{n_outputs-1}``."""
    qubits = vqc_qubits(spec)
    return [cirq.Z(qubits[l]) for l in range(spec.n_outputs)]


def encoding_angles(x: tf.Tensor) -> tf.Tensor:
    """Maps inputs ``x`` [B, n] to the encoding angles [B, 2n] of :func:`build_vqc`.

    Returns ``concat(atan(x), atan(x**2))`` so that gradients flow back to ``x``.
    """
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    return tf.concat([tf.atan(x), tf.atan(tf.square(x))], axis=-1)


def symbol_values(x: tf.Tensor, theta: tf.Tensor, encoding: str = "paper") -> tf.Tensor:
    """Symbol values ``[B, S]`` for inputs ``x`` [B, n] and ``theta``.

    The column order is that of ``input_symbols + weight_symbols`` from ``build_vqc``
    (``S = 2n + 3 depth n`` for the paper's circuit): the angles of ``encoding`` (default
    the paper's, :func:`encoding_angles`), then ``ravel(theta)`` on every row.
    """
    angles = encoding_angles(x) if encoding == "paper" else encode(x, encoding)
    flat = tf.reshape(tf.cast(theta, tf.float32), [1, -1])
    return tf.concat([angles, tf.tile(flat, [tf.shape(angles)[0], 1])], axis=1)


def variational_circuit(spec: VQCSpec) -> VariationalCircuit:
    """The circuit of ``spec`` with its symbols, its ``<Z_l>`` readouts, its encoding and
    ``theta_shape``, as one :class:`~qgcam_tf.quantum.ansatz.VariationalCircuit`.

    Raises:
        TypeError: ``spec`` is not a :class:`VQCSpec`.
    """
    circuit, inputs, weights = build_vqc(spec)
    return VariationalCircuit(
        circuit, inputs, weights, tuple(readout_operators(spec)), spec.encoding, spec.theta_shape
    )
