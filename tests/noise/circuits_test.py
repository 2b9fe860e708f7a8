"""qgcam_tf.noise.circuits: where the channels go in the noisy circuit."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import cirq  # noqa: E402
import sympy  # noqa: E402

from qgcam_tf.noise.circuits import (  # noqa: E402
    add_noise,
    interaction_pairs,
    noisy_circuit,
    noisy_qubits,
    noisy_readout_operators,
)
from qgcam_tf.noise.model import NoiseModel  # noqa: E402
from qgcam_tf.quantum.circuits import VQCSpec  # noqa: E402
from qgcam_tf.testing.tfq_models import circuit_cases  # noqa: E402


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


@pytest.mark.parametrize("case", circuit_cases(), ids=lambda c: c.name)
def test_add_noise_with_a_zero_model_is_the_circuit(case):
    """A zero model adds no channel: the circuit's operations and the readouts unchanged."""
    noisy = add_noise(case.circuit, NoiseModel(), case.readouts)
    assert noisy.circuit == cirq.Circuit(case.circuit.all_operations())
    assert noisy.readouts == tuple(case.readouts)
    assert noisy.qubits == tuple(sorted(case.circuit.all_qubits()))


def test_add_noise_follows_the_gate_convention():
    """After a one-qubit gate its qubit gets depolarizing, amplitude and phase damping at the
    single-qubit strengths; after a two-qubit gate each qubit gets the two-qubit ones;
    a gate on three qubits gets the scalar two-qubit strengths on each of its qubits."""
    q = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(cirq.rx(sympy.Symbol("a"))(q[0]), cirq.ISWAP(q[0], q[2]), cirq.CCZ(*q))
    noise = NoiseModel(
        depolarizing=(0.01, 0.02, 0.03),
        amplitude_damping=0.04,
        phase_damping=0.05,
        two_qubit_depolarizing=0.06,
        two_qubit_amplitude_damping=0.07,
    )
    ops = list(add_noise(circuit, noise, [cirq.Z(q[0])]).circuit.all_operations())

    def after(gate_op):
        at = ops.index(gate_op)
        return {
            k: [op.gate for op in ops[at + 1 :] if op.qubits == (q[k],)][:3]
            for k in range(3)
            if q[k] in gate_op.qubits
        }

    assert after(circuit[0].operations[0]) == {
        0: [cirq.depolarize(0.01), cirq.amplitude_damp(0.04), cirq.phase_damp(0.05)]
    }
    two = [cirq.depolarize(0.06), cirq.amplitude_damp(0.07), cirq.phase_damp(0.05)]
    assert after(cirq.ISWAP(q[0], q[2])) == {0: two, 2: two}
    assert after(cirq.CCZ(*q)) == {0: two, 1: two, 2: two}
    assert len(ops) == 3 + 3 + 6 + 9  # three gates; channels on one, two, three qubits


def test_readout_error_scales_each_term_by_its_measured_qubits():
    """Each term c P becomes c prod_q (1 - 2 p_q) over the qubits of P (X/Y terms too);
    the identity term keeps its coefficient; no bit flip enters the circuit."""
    q = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(cirq.H.on_each(*q))
    readouts = [cirq.Z(q[0]) * cirq.Z(q[1]) + 0.5 * cirq.X(q[2]) - 2.0, 0.3 * cirq.Y(q[1])]
    noise = NoiseModel(readout=(0.1, 0.2, 0.05))
    noisy = add_noise(circuit, noise, readouts)
    f = [0.8, 0.6, 0.9]
    assert noisy.readouts[0] == cirq.PauliSum.from_pauli_strings(
        [f[0] * f[1] * cirq.Z(q[0]) * cirq.Z(q[1]), 0.5 * f[2] * cirq.X(q[2]), -2.0 * cirq.I(q[0])]
    )
    assert noisy.readouts[1] == cirq.PauliSum.from_pauli_strings([0.3 * f[1] * cirq.Y(q[1])])
    assert noisy.circuit == circuit


def test_add_noise_places_the_circuit_on_the_models_qubits():
    """With noise.qubits the circuit and the readouts move to the device qubits, in the
    order of the circuit's sorted qubits."""
    q = cirq.LineQubit.range(2)
    grid = (cirq.GridQubit(3, 4), cirq.GridQubit(3, 5))
    circuit = cirq.Circuit(cirq.CZ(q[1], q[0]), cirq.X(q[1]))
    noisy = add_noise(circuit, NoiseModel(qubits=grid), [cirq.X(q[1])])
    assert noisy.qubits == grid
    assert noisy.circuit == cirq.Circuit(cirq.CZ(grid[1], grid[0]), cirq.X(grid[1]))
    assert noisy.readouts == (cirq.PauliSum.from_pauli_strings([cirq.X(grid[1])]),)


def test_per_edge_strengths_follow_the_models_edges():
    """Per-edge two-qubit strengths are looked up by NoiseModel.edges, sides swapped for a
    gate listed the other way round; a pair the edges lack is refused, naming it."""
    q = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(cirq.CZ(q[2], q[0]), cirq.FSimGate(0.3, 0.4)(q[0], q[1]))
    noise = NoiseModel(two_qubit_depolarizing=((0.01, 0.02), 0.03), edges=((0, 2), (0, 1)))
    ops = list(add_noise(circuit, noise, []).circuit.all_operations())
    got = {(op.qubits[0], op.gate.p) for op in ops if isinstance(op.gate, cirq.DepolarizingChannel)}
    assert got == {(q[2], 0.02), (q[0], 0.01), (q[0], 0.03), (q[1], 0.03)}
    with pytest.raises(ValueError, match=r"not for the pair \(1, 2\) of qubits"):
        add_noise(cirq.Circuit(cirq.CZ(q[1], q[2])), noise, [], qubits=q)
    with pytest.raises(ValueError, match="defined for two-qubit gates only"):
        add_noise(cirq.Circuit(cirq.CCZ(*q)), noise, [], qubits=q)


def test_add_noise_rejects_bad_input():
    """Measurements, channels, a wrong placement length and a non-model are refused, each
    with one error naming it."""
    q = cirq.LineQubit.range(2)
    with pytest.raises(ValueError, match="measurement"):
        add_noise(cirq.Circuit(cirq.measure(q[0])), NoiseModel(), [])
    with pytest.raises(ValueError, match="not a unitary gate"):
        add_noise(cirq.Circuit(cirq.depolarize(0.1)(q[0])), NoiseModel(), [])
    with pytest.raises(ValueError, match=r"noise.qubits places 1 qubits, the circuit has 2"):
        add_noise(cirq.Circuit(cirq.CZ(*q)), NoiseModel(qubits=(cirq.GridQubit(0, 0),)), [])
    with pytest.raises(TypeError, match="noise must be a NoiseModel, got str"):
        add_noise(cirq.Circuit(), "rainbow", [])


def test_interaction_pairs_of_gates_on_two_and_more_qubits():
    """Every pair of qubits that share a gate on two or more qubits, sorted, sub-circuits
    flattened; single-qubit gates add none."""
    q = cirq.LineQubit.range(5)
    inner = cirq.FrozenCircuit(cirq.ISWAP(q[4], q[3]))
    circuit = cirq.Circuit(
        cirq.H(q[0]),
        cirq.CCZ(q[0], q[1], q[2]),
        cirq.CircuitOperation(inner, use_repetition_ids=False),
        cirq.CZ(q[1], q[0]),
    )
    assert interaction_pairs(circuit) == ((0, 1), (0, 2), (1, 2), (3, 4))
    assert interaction_pairs(circuit, q[::-1]) == ((0, 1), (2, 3), (2, 4), (3, 4))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
