"""The paper circuit with noise channels inserted, for the noisy executors.

Convention of :func:`noisy_circuit`: after *every* gate, on each qubit the gate acts on,
the channels depolarizing, then amplitude damping, then phase damping are applied (the
strengths of single-qubit gates after single-qubit gates, the ``two_qubit_*`` strengths
after the CNOTs); the readout bit flip is applied to every measured qubit at the end of the
circuit, where the measurement would be (it scales ``<Z_l>`` by ``1 - 2p``). Idle qubits
get no noise. A channel of strength 0 is not inserted, so a zero model gives exactly the
noiseless circuit.
"""

from __future__ import annotations

import cirq

from qgcam_tf.noise.model import CHANNELS, NoiseModel
from qgcam_tf.quantum.circuits import VQCSpec, build_vqc, vqc_qubits

__all__ = [
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
