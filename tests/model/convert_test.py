"""qgcam_tf.model.convert: TFQ layer calls read back as what TFQ runs (checked against the
layers' own outputs), the graph walks, and convert_to_tf against the TFQ model and
cirq.Simulator."""

from __future__ import annotations

import sys

import cirq
import numpy as np
import pytest
import sympy
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.model.convert import feeds, is_quantum_layer, model_nodes, quantum_calls
from qgcam_tf.testing.tfq_models import circuit_cases, simulate, tfq_hybrid

IMAGES = np.random.default_rng(11).uniform(size=(4, 8, 8, 1)).astype(np.float32)


def _feed(model, circuit):
    """The model's inputs for IMAGES, each circuits input given ``circuit``."""
    import tensorflow_quantum as tfq

    if not isinstance(model.input, list):
        return IMAGES
    return [tfq.convert_to_tensor([circuit] * len(IMAGES)), IMAGES]


@pytest.mark.parametrize(
    "kind", ["ControlledPQC", "NoisyControlledPQC", "Expectation", "ExpectationOnInput"]
)
def test_quantum_calls_read_what_the_layer_runs(kind):
    """The QuantumCall of each TFQ layer kind, simulated with cirq (input circuit first),
    equals the layer's own output: circuit, symbol order and readouts are TFQ's."""
    case = circuit_cases()[2]
    model = tfq_hybrid(case, kind)
    (call,) = quantum_calls(model)
    assert call.layer is model.get_layer("q") and call.kind == kind.replace("OnInput", "")
    assert call.symbol_values is model.get_layer("angles").output
    assert (call.circuits_input is None) == (kind == "Expectation")
    given = case.circuit if kind == "ExpectationOnInput" else case.prefix
    feed = _feed(model, given)
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in ("angles", "q")])
    values, q = (t.numpy() for t in probe(feed))
    prefix = given if call.circuits_input is not None else cirq.Circuit()
    ref = simulate(prefix + call.circuit, call.symbols, values, call.readouts)
    np.testing.assert_allclose(q, ref, atol=1e-5)
    if "Controlled" in kind:  # sorted as strings: c10 before c2
        assert [str(s) for s in call.symbols] == ["c0", "c10", "c2"]
    else:
        assert call.symbols == case.symbols


def test_graph_walks_and_quantum_layer_test():
    """model_nodes puts every node after its parents; feeds follows the graph only
    forwards; TFQ layers and the project's VQCLayer count as quantum, Dense does not."""
    from qgcam_tf.model.layers import VQCLayer
    from qgcam_tf.quantum.circuits import VQCSpec

    model = tfq_hybrid(circuit_cases()[0], "ControlledPQC")
    nodes = model_nodes(model)
    position = {id(n): i for i, n in enumerate(nodes)}
    assert all(position[id(p)] < position[id(n)] for n in nodes for p in n.parent_nodes)
    assert [n.layer.name for n in nodes][-2:] == ["q", "probs"]
    assert feeds(model, "conv", "q") and feeds(model, "circuits", "q")
    assert not feeds(model, "q", "conv") and not feeds(model, "probs", "q")
    assert is_quantum_layer(model.get_layer("q")) and not is_quantum_layer(model.get_layer("gap"))
    assert is_quantum_layer(VQCLayer(VQCSpec(3, 1, 2), backend="tf"))
    with pytest.raises(ValueError, match="functional .* tf_keras model, got Dense"):
        model_nodes(keras.layers.Dense(2))


def test_calls_it_cannot_read_are_one_error_each():
    """An Expectation training its own symbol values, and a circuit symbol missing from
    symbol_names, each raise a ValueError naming the layer; one Pauli string as operators
    is read as one Pauli-sum readout."""
    import tensorflow_quantum as tfq

    case = circuit_cases()[0]
    images = keras.Input((8, 8, 1))
    v = keras.layers.Dense(len(case.symbols))(keras.layers.Flatten()(images))

    circuits = keras.Input((), dtype=tf.string)

    def model_of(circuit=circuits, **kwargs):
        args = dict(symbol_names=list(case.symbols), symbol_values=v, operators=case.readouts[0])
        args.update(kwargs)
        q = tfq.layers.Expectation(name="q")(circuit, **args)
        return keras.Model([circuits, images], keras.layers.Dense(2)(q))

    with pytest.raises(ValueError, match="layer 'q' .* has no symbol_values from the network"):
        quantum_calls(model_of(symbol_values=None))
    names = [*case.symbols[:-1], sympy.Symbol("other")]
    with pytest.raises(ValueError, match=r"circuit symbols \['w1'\] are not among"):
        quantum_calls(model_of(symbol_names=names, circuit=case.circuit))
    (call,) = quantum_calls(model_of(operators=cirq.Z(cirq.LineQubit(0))))
    assert call.readouts == (cirq.PauliSum.wrap(cirq.Z(cirq.LineQubit(0))),)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
