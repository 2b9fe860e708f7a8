"""Noise channels inserted into the paper circuit (:func:`noisy_circuit`) or any circuit
(:func:`add_noise`), for the noisy executors.

Convention of :func:`noisy_circuit`: after *every* gate, on each qubit the gate acts on,
the channels depolarizing, then amplitude damping, then phase damping are applied (the
strengths of single-qubit gates after single-qubit gates, the ``two_qubit_*`` strengths
after the CNOTs); the readout bit flip is applied to every measured qubit at the end of the
circuit, where the measurement would be (it scales ``<Z_l>`` by ``1 - 2p``). Idle qubits
get no noise. A channel of strength 0 is not inserted, so a zero model gives exactly the
noiseless circuit.

:func:`add_noise` follows the same convention on any circuit: after each operation, on each
of its qubits, the single-qubit strengths after a one-qubit gate and the ``two_qubit_*``
strengths after a gate on two or more qubits (see
:meth:`~qgcam_tf.noise.model.NoiseModel.two_qubit_pair`). The channels follow the gate as
the user wrote it (one FSim gate, one set of channels), not the records the compilers
decompose it into. Readout error is a property of the measurement, so it is applied to the
readouts instead of the circuit: each qubit of a Pauli term is measured in the term's basis
(X and Y terms after their basis rotation) and its outcome flips with its probability
``p_q``, so the expectation of a term ``c P`` becomes ``c prod_{q in P} (1 - 2 p_q) <P>``
(``<Z_a Z_b>`` scales by ``(1 - 2p)^2``; identity terms are not measured and keep their
coefficient). For readouts of Z strings alone this equals the bit flips at the end of the
circuit that :func:`noisy_circuit` inserts.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import cirq

from qgcam_tf.noise.model import CHANNELS, NoiseModel
from qgcam_tf.quantum.circuits import VQCSpec, build_vqc, vqc_qubits
from qgcam_tf.quantum.readout import as_pauli_sum

__all__ = [
    "NoisyCircuit",
    "add_noise",
    "circuit_operations",
    "interaction_pairs",
    "noisy_circuit",
    "noisy_qubits",
    "noisy_readout_operators",
]


def noisy_qubits(spec: VQCSpec, noise: NoiseModel) -> list:
    """Qubit order of the noisy circuit: the placement's device qubits, else line qubits."""
    if noise.qubits is None:
        return vqc_qubits(spec)
    if len(noise.qubits) != spec.n_qubits:
        raise ValueError(
            f"noise.qubits has {len(noise.qubits)} qubits for n_qubits={spec.n_qubits}"
        )
    return list(noise.qubits)


def _channels(dep: float, amp: float, phase: float, qubit) -> list:
    out = []
    if dep > 0:
        out.append(cirq.depolarize(dep).on(qubit))
    if amp > 0:
        out.append(cirq.amplitude_damp(amp).on(qubit))
    if phase > 0:
        out.append(cirq.phase_damp(phase).on(qubit))
    return out


def noisy_circuit(spec: VQCSpec, noise: NoiseModel) -> tuple[cirq.Circuit, tuple, list]:
    """The paper circuit of :func:`~qgcam_tf.quantum.circuits.build_vqc` with noise channels.

    Channels follow the convention of the module docstring: after each gate on each of its
    qubits depolarizing, amplitude damping, phase damping; readout bit flips at the end.

    Args:
        spec: the circuit.
        noise: the noise model.

    Returns:
        ``(circuit, symbols, qubits)``: the noisy circuit (on ``qubits``), the symbols in
        the column order of :func:`~qgcam_tf.quantum.circuits.symbol_values`, and the qubit order.

    Raises:
        TypeError: ``noise`` is not a :class:`~qgcam_tf.noise.model.NoiseModel`.
        ValueError: a per-qubit strength or the placement has the wrong length.
    """
    if not isinstance(noise, NoiseModel):
        raise TypeError(f"noise must be a NoiseModel, got {type(noise).__name__}")
    n = spec.n_qubits
    base, inputs, weights = build_vqc(spec)
    line = vqc_qubits(spec)
    qubits = noisy_qubits(spec, noise)
    index = {q: i for i, q in enumerate(line)}
    single = {c: noise.per_qubit(c, n) for c in CHANNELS}
    edges = {c: noise.per_edge(c, n) for c in CHANNELS[:3]}
    ops = []
    for op in base.all_operations():
        ks = [index[q] for q in op.qubits]
        ops.append(op.transform_qubits(lambda q: qubits[index[q]]))
        if len(ks) == 1:
            k = ks[0]
            ops += _channels(*(single[c][k] for c in CHANNELS[:3]), qubits[k])
        else:
            edge = ks[0]
            if ks[1] != (edge + 1) % n:
                raise ValueError(f"two-qubit gate {op} is not a ring CNOT of the paper circuit")
            for side, k in enumerate(ks):
                ops += _channels(*(edges[c][edge][side] for c in CHANNELS[:3]), qubits[k])
    for l in range(spec.n_outputs):
        if single["readout"][l] > 0:
            ops.append(cirq.bit_flip(single["readout"][l]).on(qubits[l]))
    circuit = cirq.Circuit(ops, strategy=cirq.InsertStrategy.EARLIEST)
    return circuit, inputs + weights, qubits


def noisy_readout_operators(spec: VQCSpec, noise: NoiseModel) -> list[cirq.PauliString]:
    """``Z_0 .. Z_{n_outputs-1}`` on the qubits of :func:`noisy_qubits`."""
    qubits = noisy_qubits(spec, noise)
    return [cirq.Z(qubits[l]) for l in range(spec.n_outputs)]


def circuit_operations(circuit: cirq.AbstractCircuit) -> list[cirq.Operation]:
    """The operations of ``circuit`` in order, ``cirq.CircuitOperation`` flattened.

    Raises:
        TypeError: ``circuit`` is not a Cirq circuit.
    """
    if not isinstance(circuit, cirq.AbstractCircuit):
        raise TypeError(f"circuit must be a cirq.Circuit, got {circuit!r}")
    flat = cirq.unroll_circuit_op(cirq.Circuit(circuit), deep=True, tags_to_check=None)
    return list(flat.all_operations())


def interaction_pairs(
    circuit: cirq.AbstractCircuit, qubits: Sequence[cirq.Qid] | None = None
) -> tuple[tuple[int, int], ...]:
    """The circuit's interaction graph: pairs ``(a, b)``, ``a < b``, of indices into
    ``qubits`` whose qubits share a gate on two or more qubits (a gate on ``k`` qubits
    couples every pair of them), sorted.

    Args:
        circuit: the circuit.
        qubits: the qubit order (default ``sorted(circuit.all_qubits())``).

    Raises:
        ValueError: a qubit of the circuit is not in ``qubits``.
    """
    ops = circuit_operations(circuit)
    order = sorted(circuit.all_qubits()) if qubits is None else list(qubits)
    index = {q: i for i, q in enumerate(order)}
    pairs = set()
    for op in ops:
        missing = [q for q in op.qubits if q not in index]
        if missing:
            raise ValueError(f"operation {op!r} acts on {missing[0]!r}, not in qubits")
        for a, b in itertools.combinations(sorted(index[q] for q in op.qubits), 2):
            pairs.add((a, b))
    return tuple(sorted(pairs))


@dataclasses.dataclass(frozen=True)
class NoisyCircuit:
    """A circuit with noise channels, and its readouts with readout error (:func:`add_noise`).

    Attributes:
        circuit: the circuit with channels, on ``qubits``.
        readouts: one ``cirq.PauliSum`` per readout on ``qubits``, each term's coefficient
            scaled by its readout error ``prod (1 - 2 p_q)``.
        qubits: the simulation's qubit order: the device qubits of the model's placement in
            the order of the circuit qubits (the circuit's own qubits without a placement).
    """

    circuit: cirq.Circuit
    readouts: tuple
    qubits: tuple


def _after_gate(noise: NoiseModel, n: int, ks: list[int], op) -> list[list[float]]:
    """``[depolarizing, amplitude, phase]`` strengths on each qubit of a multi-qubit gate."""
    if len(ks) == 2:
        sides = [noise.two_qubit_pair(c, n, ks[0], ks[1]) for c in CHANNELS[:3]]
        return [[side[j] for side in sides] for j in range(2)]
    out = []
    for k in ks:
        row = []
        for c in CHANNELS[:3]:
            value = getattr(noise, f"two_qubit_{c}")
            if isinstance(value, tuple):
                raise ValueError(
                    f"NoiseModel.two_qubit_{c} has per-edge values, defined for two-qubit "
                    f"gates only; {op!r} acts on {len(ks)} qubits (give one value instead)"
                )
            row.append(noise.per_qubit(c, n)[k] if value is None else value)
        out.append(row)
    return out


def add_noise(
    circuit: cirq.AbstractCircuit,
    noise: NoiseModel,
    readouts: Sequence,
    *,
    qubits: Sequence[cirq.Qid] | None = None,
) -> NoisyCircuit:
    """Any circuit with the model's channels after every gate, and readout error on its
    readouts (the convention of the module docstring).

    Per-qubit strengths and the model's placement (``noise.qubits``) are indexed in the
    order ``qubits``; per-edge ``two_qubit_*`` strengths by ``noise.edges`` (as
    :func:`~qgcam_tf.noise.hardware.hardware_noise` sets them for a circuit). With a
    placement the result acts on the device qubits. A model of zero strengths returns the
    circuit's operations unchanged (no channel) and the readouts unchanged.

    Args:
        circuit: unitary gates (parametrised or not); ``cirq.CircuitOperation`` is flattened.
        noise: the noise model.
        readouts: ``cirq.PauliSum`` / ``cirq.PauliString`` operators with real coefficients.
        qubits: the circuit-qubit order (default: the sorted qubits of the circuit and the
            readouts, the order of :class:`~qgcam_tf.quantum.compiler.ExpectationProgram`).

    Raises:
        TypeError: ``noise`` is not a :class:`~qgcam_tf.noise.model.NoiseModel`, or
            ``circuit`` / a readout has the wrong type.
        ValueError: the circuit holds a measurement or a channel, a qubit is missing from
            ``qubits``, a per-qubit strength or the placement has the wrong length, or a
            gate couples a pair the model's per-edge strengths do not cover.
    """
    if not isinstance(noise, NoiseModel):
        raise TypeError(f"noise must be a NoiseModel, got {type(noise).__name__}")
    ops = circuit_operations(circuit)
    if isinstance(readouts, (cirq.PauliSum, cirq.PauliString, cirq.Operation)):
        raise TypeError(f"readouts must be a sequence of Pauli sums, got {readouts!r}")
    sums = [as_pauli_sum(r, f"readouts[{l}]") for l, r in enumerate(list(readouts))]
    used = set(circuit.all_qubits()).union(*(total.qubits for total in sums))
    order = sorted(used) if qubits is None else list(qubits)
    absent = used - set(order)
    if absent:
        raise ValueError(f"qubits {order} lack {sorted(absent)} of the circuit or the readouts")
    n = len(order)
    index = {q: i for i, q in enumerate(order)}
    if noise.qubits is None:
        placed = list(order)
    elif len(noise.qubits) != n:
        raise ValueError(
            f"noise.qubits places {len(noise.qubits)} qubits, the circuit has {n} ({order})"
        )
    else:
        placed = list(noise.qubits)
    move = {q: placed[i] for i, q in enumerate(order)}
    single = {c: noise.per_qubit(c, n) for c in CHANNELS}
    out = []
    for op in ops:
        if cirq.is_measurement(op):
            raise ValueError(f"circuit holds measurement {op!r}: expectations need none")
        if not cirq.is_parameterized(op) and not cirq.has_unitary(op):
            raise ValueError(
                f"circuit holds {op!r}, which is not a unitary gate (add_noise "
                "adds the channels itself)"
            )
        out.append(op.transform_qubits(lambda q: move[q]))
        ks = [index[q] for q in op.qubits]
        if len(ks) == 1:
            out += _channels(*(single[c][ks[0]] for c in CHANNELS[:3]), placed[ks[0]])
        elif len(ks) > 1:
            for k, strengths in zip(ks, _after_gate(noise, n, ks, op)):
                out += _channels(*strengths, placed[k])
    noisy_readouts = []
    for total in sums:
        terms = []
        for term in total:
            factor = 1.0
            for q in term.qubits:
                factor *= 1.0 - 2.0 * single["readout"][index[q]]
            moved = term.transform_qubits(lambda q: move[q])
            terms.append(moved if factor == 1.0 else moved * factor)
        noisy_readouts.append(cirq.PauliSum.from_pauli_strings(terms))
    return NoisyCircuit(
        cirq.Circuit(out, strategy=cirq.InsertStrategy.EARLIEST),
        tuple(noisy_readouts),
        tuple(placed),
    )
