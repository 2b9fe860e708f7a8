"""qgcam_tf.noise.circuits: where the channels go in the noisy circuit."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import cirq  # noqa: E402

from qgcam_tf.noise.circuits import noisy_circuit  # noqa: E402
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


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
