"""Hybrid models built the TensorFlow Quantum way, on circuits unlike the paper's, and a
``cirq.Simulator`` reference for them (``explain/qgradcam_test``, ``model/convert_test``).

Each :class:`CircuitCase` is a circuit whose symbols all come from the network (the
controller pattern of TFQ's tutorials), with multi-qubit Pauli-sum readouts that carry
coefficients; :func:`tfq_hybrid` puts one into a tiny functional tf_keras model (8x8
images, a 3x3 conv layer ``"conv"``, global average pooling, a dense layer ``"angles"``
giving the symbol values, the TFQ layer ``"q"`` and a softmax ``"probs"``) with one of
TFQ's layers; :func:`simulate` computes what the quantum layer should output, with Cirq.
:data:`GATE_FAMILIES` holds one operation of every parametrised gate family the compiler
supports, and :func:`family_circuit` puts one into a small circuit with Pauli-sum readouts
(``quantum/compiler_test``, ``quantum/shift_test``).
"""

from __future__ import annotations

import dataclasses

import cirq
import numpy as np
import sympy

__all__ = [
    "FAMILY_SYMBOLS",
    "GATE_FAMILIES",
    "KINDS",
    "CircuitCase",
    "circuit_cases",
    "family_circuit",
    "simulate",
    "tfq_hybrid",
]

KINDS = (
    "ControlledPQC",
    "NoisyControlledPQC",
    "Expectation",
    "SampledExpectation",
    "ExpectationOnInput",
)
"""How :func:`tfq_hybrid` wires the circuit: the TFQ layer, or ``"ExpectationOnInput"``
(an ``Expectation`` whose circuits come from the circuits input)."""


FAMILY_SYMBOLS = A, B = sympy.symbols("a b")
"""The two symbols of :data:`GATE_FAMILIES`."""
# One operation of every family in SUPPORTED_PARAMETRISED_GATES on 3 qubits, with global
# shifts and affine parameters (several symbols, offsets, qubits out of order).
GATE_FAMILIES = {
    "rx": lambda q: cirq.rx(2 * A - B + 0.3).on(q[1]),
    "ry": lambda q: cirq.ry(0.7 * A).on(q[0]),
    "rz": lambda q: cirq.rz(B + 1.0).on(q[2]),
    "xpow": lambda q: cirq.XPowGate(exponent=A, global_shift=0.2).on(q[0]),
    "ypow": lambda q: cirq.YPowGate(exponent=0.5 * B - A).on(q[1]),
    "zpow": lambda q: cirq.ZPowGate(exponent=2 * A, global_shift=-0.1).on(q[2]),
    "hpow": lambda q: cirq.HPowGate(exponent=A - 0.5 * B, global_shift=0.1).on(q[2]),
    "phasedx": lambda q: cirq.PhasedXPowGate(
        exponent=A, phase_exponent=0.3 * B + 0.1, global_shift=0.2
    ).on(q[1]),
    "phasedx_fixed_phase": lambda q: cirq.PhasedXPowGate(exponent=0.7 * A, phase_exponent=0.25).on(
        q[0]
    ),
    "cz": lambda q: cirq.CZPowGate(exponent=A + B, global_shift=0.3).on(q[0], q[2]),
    "cx": lambda q: cirq.CXPowGate(exponent=2 * A, global_shift=-0.2).on(q[2], q[0]),
    "xx": lambda q: cirq.XXPowGate(exponent=A, global_shift=0.15).on(q[0], q[1]),
    "yy": lambda q: cirq.YYPowGate(exponent=B - A, global_shift=-0.4).on(q[1], q[2]),
    "zz": lambda q: cirq.ZZPowGate(exponent=0.5 * A + 0.2, global_shift=0.15).on(q[2], q[0]),
    "swap": lambda q: cirq.SwapPowGate(exponent=A - B, global_shift=0.25).on(q[1], q[2]),
    "iswap": lambda q: cirq.ISwapPowGate(exponent=A, global_shift=0.25).on(q[0], q[1]),
    "phased_iswap": lambda q: cirq.PhasedISwapPowGate(exponent=A, phase_exponent=B - 0.1).on(
        q[2], q[1]
    ),
    "fsim": lambda q: cirq.FSimGate(theta=A, phi=0.5 * B - 0.2).on(q[0], q[2]),
}


def family_circuit(family: str) -> tuple[cirq.Circuit, list, list]:
    """A fixed random preparation, the family's gate (:data:`GATE_FAMILIES`) between
    entanglers, and Pauli-sum readouts in every basis (one with an identity term).

    Returns:
        ``(circuit, qubits, readouts)`` on three line qubits.
    """
    q = cirq.LineQubit.range(3)
    prep = [
        cirq.MatrixGate(cirq.testing.random_unitary(2, random_state=10 + i)).on(x)
        for i, x in enumerate(q)
    ]
    circuit = cirq.Circuit(
        prep,
        cirq.CNOT(q[0], q[1]),
        GATE_FAMILIES[family](q),
        [cirq.H(q[0]), cirq.S(q[1]), cirq.T(q[2])],
        cirq.CZ(q[1], q[2]),
    )
    readouts = [
        0.7 * cirq.X(q[0]) * cirq.Y(q[1]) * cirq.Z(q[2]) + 0.4 * cirq.Z(q[0]) - 0.2 * cirq.X(q[2]),
        cirq.Y(q[0]) * cirq.X(q[2]) + 0.5 * cirq.Y(q[1]) + 0.25,
        cirq.PauliString(cirq.Z(q[1])),
    ]
    return circuit, q, readouts


@dataclasses.dataclass(frozen=True)
class CircuitCase:
    """A circuit for a TFQ hybrid.

    Attributes:
        name: a short id for test names.
        circuit: the circuit; every symbol is fed by the network.
        symbols: the order in which an ``Expectation`` layer is given the symbols (not the
            sorted order ControlledPQC uses, on purpose).
        readouts: one ``cirq.PauliSum`` per class.
        prefix: a symbol-free circuit on the same qubits, fed as the circuits input.
    """

    name: str
    circuit: cirq.Circuit
    symbols: tuple
    readouts: tuple
    prefix: cirq.Circuit


def circuit_cases() -> list[CircuitCase]:
    """Three circuits unlike the paper's (3-4 qubits, 2-3 readouts).

    * ``cz_ladder``: identity-angle ``ry`` encoding, a CZ ladder, a ``rz``/``rx`` layer
      and a ``ZZPowGate``; LineQubits.
    * ``iswap``: Hadamards, a scaled ``rz(2 x)`` encoding, ``sqrt(iSWAP)`` entanglers, a
      symbolic ``ISwapPowGate`` exponent and ``PhasedXPowGate``; GridQubits.
    * ``fsim``: data re-uploading (``rx`` encoding twice) around fixed ``FSimGate``s and a
      symbolic ``YYPowGate``; symbol names whose string order differs from their numeric
      order (``c10`` sorts before ``c2``).
    """
    q = cirq.LineQubit.range(3)
    x = sympy.symbols("x0:3")
    w = sympy.symbols("w0:3")
    cz_ladder = CircuitCase(
        "cz_ladder",
        cirq.Circuit(
            [cirq.ry(x[i])(q[i]) for i in range(3)],
            cirq.CZ(q[0], q[1]),
            cirq.CZ(q[1], q[2]),
            [cirq.rz(w[i])(q[i]) for i in range(3)],
            [cirq.rx(0.4 * (i + 1))(q[i]) for i in range(3)],
            cirq.ZZPowGate(exponent=w[0] / np.pi)(q[0], q[2]),
            cirq.ry(0.7)(q[1]),
        ),
        (w[2], x[0], w[0], x[2], x[1], w[1]),
        (
            cirq.Z(q[0]) * cirq.Z(q[1]) + 0.5 * cirq.X(q[2]),
            -0.7 * cirq.Y(q[1]) * cirq.Z(q[2]) + 0.3 * cirq.Z(q[0]),
        ),
        cirq.Circuit(cirq.X(q[1]), cirq.H(q[2])),
    )
    g = cirq.GridQubit.rect(2, 2)
    a = sympy.symbols("a0:4")
    iswap = CircuitCase(
        "iswap",
        cirq.Circuit(
            [cirq.H(qb) for qb in g],
            [cirq.rz(2.0 * a[i])(g[i]) for i in range(4)],
            cirq.ISWAP(g[0], g[1]) ** 0.5,
            cirq.ISWAP(g[2], g[3]) ** 0.5,
            cirq.ISwapPowGate(exponent=sympy.Symbol("e"))(g[1], g[2]),
            cirq.PhasedXPowGate(phase_exponent=0.25, exponent=a[0])(g[3]),
            cirq.ry(0.3)(g[0]),
        ),
        (sympy.Symbol("e"), *reversed(a)),
        (
            cirq.X(g[0]) * cirq.X(g[1]) + cirq.Z(g[3]),
            0.5 * cirq.Y(g[2]) * cirq.Y(g[3]) - 0.25 * cirq.Z(g[0]) * cirq.Z(g[2]),
            cirq.PauliSum.from_pauli_strings([cirq.Z(g[1])]),
        ),
        cirq.Circuit(cirq.Y(g[0]) ** 0.5, cirq.CNOT(g[1], g[2])),
    )
    p = cirq.LineQubit.range(3)
    c = [sympy.Symbol(n) for n in ("c0", "c2", "c10")]
    fsim = CircuitCase(
        "fsim",
        cirq.Circuit(
            [cirq.rx(c[i])(p[i]) for i in range(3)],
            cirq.FSimGate(theta=0.4, phi=0.9)(p[0], p[1]),
            cirq.FSimGate(theta=1.1, phi=0.2)(p[1], p[2]),
            [cirq.rx(c[i])(p[i]) for i in range(3)],
            cirq.YYPowGate(exponent=0.5 * c[2])(p[0], p[2]),
            cirq.rz(0.6)(p[1]),
        ),
        tuple(c),
        (
            cirq.X(p[0]) * cirq.Z(p[1]) * cirq.Z(p[2]) - 0.4 * cirq.Y(p[1]),
            cirq.Z(p[0]) + 0.8 * cirq.Y(p[1]) * cirq.X(p[2]),
        ),
        cirq.Circuit(cirq.H(p[0]), cirq.CZ(p[0], p[2])),
    )
    return [cz_ladder, iswap, fsim]


def tfq_hybrid(case: CircuitCase, kind: str = "ControlledPQC", *, seed: int = 0):
    """A tiny functional tf_keras hybrid whose quantum layer ``"q"`` is TFQ's.

    Args:
        case: the circuit.
        kind: one of :data:`KINDS`. ``ControlledPQC``, ``NoisyControlledPQC`` and
            ``ExpectationOnInput`` models take ``[circuits, images]`` (circuits: a string
            input named ``"circuits"``); the others take the images alone.
        seed: seed of the classical weights.

    Returns:
        The model; the columns of ``"angles"`` are the symbol values: ``case.symbols`` for
        the Expectation kinds, the sorted symbols (the layer's ``symbols``) for the
        ControlledPQC kinds.
    """
    import tensorflow as tf
    import tensorflow_quantum as tfq
    import tf_keras as keras

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    keras.utils.set_random_seed(seed)
    images = keras.Input((8, 8, 1), name="images")
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(images)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    values = keras.layers.Dense(
        len(case.symbols), name="angles", kernel_initializer=keras.initializers.RandomNormal(0, 2)
    )(h)
    readouts = list(case.readouts)
    circuits = keras.Input((), dtype=tf.string, name="circuits")
    inputs = [circuits, images]
    if kind == "ControlledPQC":
        scores = tfq.layers.ControlledPQC(case.circuit, readouts, name="q")([circuits, values])
    elif kind == "NoisyControlledPQC":
        layer = tfq.layers.NoisyControlledPQC(
            case.circuit, readouts, repetitions=16, sample_based=False, name="q"
        )
        scores = layer([circuits, values])
    elif kind == "ExpectationOnInput":
        scores = tfq.layers.Expectation(name="q")(
            circuits, symbol_names=list(case.symbols), symbol_values=values, operators=readouts
        )
    else:
        inputs = images
        layer = getattr(tfq.layers, kind)(name="q")
        extra = {"repetitions": 2000} if kind == "SampledExpectation" else {}
        scores = layer(
            case.circuit,
            symbol_names=list(case.symbols),
            symbol_values=values,
            operators=readouts,
            **extra,
        )
    probs = keras.layers.Softmax(name="probs")(scores)
    return keras.Model(inputs, probs, name=f"{case.name}_{kind}")


def simulate(circuit: cirq.Circuit, symbols, values, readouts) -> np.ndarray:
    """Expectations of ``readouts`` for each row of ``values`` bound to ``symbols``, by
    ``cirq.Simulator`` (float64 ``[B, len(readouts)]``)."""
    sim = cirq.Simulator(dtype=np.complex128)
    qubits = sorted(circuit.all_qubits().union(*(r.qubits for r in readouts)))
    out = []
    for row in np.asarray(values, np.float64):
        resolver = cirq.ParamResolver({s: float(v) for s, v in zip(symbols, row)})
        ev = sim.simulate_expectation_values(
            circuit, observables=list(readouts), param_resolver=resolver, qubit_order=qubits
        )
        out.append(np.real(ev))
    return np.array(out)
