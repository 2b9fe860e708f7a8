"""qgcam_tf.noise.circuits: where the channels go in the noisy circuit."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import cirq  # noqa: E402

from qgcam_tf.noise.circuits import (  # noqa: E402
    noisy_circuit,
    noisy_qubits,
    noisy_readout_operators,
)
from qgcam_tf.noise.model import NoiseModel  # noqa: E402
from qgcam_tf.quantum.circuits import VQCSpec  # noqa: E402


def test_channel_convention_after_every_gate():
    """Channels follow every gate on each of its qubits; readout flips end the circuit."""
    spec = VQCSpec(3, 1, 2)
    noise = NoiseModel(depolarizing=0.01, amplitude_damping=0.02, readout=0.03)
    ops = list(noisy_circuit(spec, noise)[0].all_operations())
    single, cnots = 3 * 3 + 3 * 3, 3  # H, RY, RZ + RZ RY RZ per qubit; the CNOT ring
    kinds = [type(op.gate) for op in ops]
    assert kinds.count(cirq.DepolarizingChannel) == single + 2 * cnots
    assert kinds.count(cirq.AmplitudeDampingChannel) == single + 2 * cnots
    assert kinds.count(cirq.PhaseDampingChannel) == 0
    flips = [op for op in ops if isinstance(op.gate, cirq.BitFlipChannel)]
    assert sorted(op.qubits[0] for op in flips) == cirq.LineQubit.range(2)
    for flip in flips:  # nothing acts on a flipped qubit afterwards
        after = ops[ops.index(flip) + 1 :]
        assert not any(flip.qubits[0] in op.qubits for op in after)
    first_cnot = next(i for i, op in enumerate(ops) if op.gate == cirq.CNOT)
    for q in ops[first_cnot].qubits:  # on each CNOT qubit: depolarizing, then damping
        on_q = [type(op.gate) for op in ops[first_cnot + 1 :] if q in op.qubits]
        assert on_q[:2] == [cirq.DepolarizingChannel, cirq.AmplitudeDampingChannel]


def test_wrong_per_qubit_length_raises():
    """A per-qubit strength with the wrong length gives one ValueError naming the counts."""
    spec = VQCSpec(3, 1, 3)
    with pytest.raises(ValueError, match="has 2 values for 3 qubits"):
        noisy_circuit(spec, NoiseModel(depolarizing=(0.1, 0.1)))


def test_placement_qubits_carry_the_circuit_and_the_readout():
    """With noise.qubits the circuit acts on those qubits in order, and the readout
    operators are Z on the first n_outputs of them; a wrong count is refused."""
    spec = VQCSpec(3, 1, 2)
    grid = (cirq.GridQubit(5, 1), cirq.GridQubit(5, 2), cirq.GridQubit(6, 2))
    noise = NoiseModel(depolarizing=0.01, qubits=grid)
    circuit, _, qubits = noisy_circuit(spec, noise)
    assert qubits == list(grid) == noisy_qubits(spec, noise)
    assert circuit.all_qubits() == set(grid)
    assert noisy_readout_operators(spec, noise) == [cirq.Z(grid[0]), cirq.Z(grid[1])]
    line = noisy_circuit(spec, NoiseModel(depolarizing=0.01))[0]
    assert circuit == line.transform_qubits(dict(zip(cirq.LineQubit.range(3), grid)))
    with pytest.raises(ValueError, match="noise.qubits has 2 qubits for n_qubits=3"):
        noisy_qubits(spec, NoiseModel(qubits=grid[:2]))


def test_per_edge_strengths_follow_their_cnot():
    """After ring CNOT i the control and the target get their own two-qubit strengths."""
    spec = VQCSpec(3, 1, 3)
    pairs = ((0.01, 0.02), (0.03, 0.04), (0.05, 0.06))
    ops = list(noisy_circuit(spec, NoiseModel(two_qubit_depolarizing=pairs))[0].all_operations())
    q = cirq.LineQubit.range(3)
    for i in range(3):
        at = ops.index(cirq.CNOT(q[i], q[(i + 1) % 3]))
        for side, k in enumerate((i, (i + 1) % 3)):  # the next operation on each of its qubits
            channel = next(op for op in ops[at + 1 :] if q[k] in op.qubits)
            assert isinstance(channel.gate, cirq.DepolarizingChannel)
            assert channel.gate.p == pairs[i][side]
    assert sum(isinstance(op.gate, cirq.DepolarizingChannel) for op in ops) == 6


def test_noisy_circuit_rejects_a_non_model():
    """A noise argument that is not a NoiseModel gives one TypeError naming its type."""
    with pytest.raises(TypeError, match="noise must be a NoiseModel, got float"):
        noisy_circuit(VQCSpec(3, 1, 3), 0.1)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
