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

from qgcam_tf.explain.qgradcam import QGradCAM
from qgcam_tf.model.convert import (
    convert_to_tf,
    feeds,
    is_quantum_layer,
    model_nodes,
    quantum_calls,
)
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
    forwards; TFQ expectation layers, VQCLayer and CircuitLayer count as quantum, pooling
    and TFQ's AddCircuit do not."""
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
    converted = convert_to_tf(model)
    assert is_quantum_layer(converted.get_layer("q"))  # a CircuitLayer
    import tensorflow_quantum as tfq

    assert not is_quantum_layer(tfq.layers.AddCircuit())  # builds circuits, no expectations
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


def _no_tfq(model):
    """Asserts ``model`` has no TFQ layer and its traced graph no TFQ op (TfqSimulate...)."""
    assert not [l.name for l in model.layers if "tensorflow_quantum" in type(l).__module__]
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
    graph = tf.function(lambda x: model(x)).get_concrete_function(spec).graph
    ops = {op.type for op in graph.get_operations()}
    ops |= {n.op for f in graph.as_graph_def().library.function for n in f.node_def}
    assert not [op for op in ops if op.lower().startswith("tfq")], ops


@pytest.mark.parametrize("kind", ["ControlledPQC", "Expectation"])
@pytest.mark.parametrize("case", circuit_cases(), ids=lambda c: c.name)
def test_converted_model_equals_tfq_and_cirq(case, kind):
    """convert_to_tf (circuits=C folded in) takes images alone and equals the TFQ model
    given C and softmax(cirq.Simulator) within 1e-5 on probabilities, and QGrad-CAM on
    both within 1e-4 on maps; the classical weights are equal and the result has no TFQ
    layer or op."""
    model = tfq_hybrid(case, kind)
    controlled = kind == "ControlledPQC"
    converted = convert_to_tf(model, circuits=case.prefix if controlled else None)
    _no_tfq(converted)
    assert not isinstance(converted.input, list) and converted.get_layer("q").name == "q"
    for a, b in zip(model.get_weights(), converted.get_weights()):
        np.testing.assert_array_equal(a, b)
    feed = _feed(model, case.prefix)
    probs = converted(IMAGES).numpy()
    np.testing.assert_allclose(probs, model(feed).numpy(), atol=1e-5)
    values = keras.Model(model.inputs, model.get_layer("angles").output)(feed).numpy()
    circuit = case.prefix + case.circuit if controlled else case.circuit
    symbols = sorted(case.symbols, key=str) if controlled else case.symbols
    ref = tf.nn.softmax(simulate(circuit, symbols, values, case.readouts)).numpy()
    np.testing.assert_allclose(probs, ref, atol=1e-5)
    extra = {"circuits": case.prefix} if controlled else {}
    want = QGradCAM(model, layer="conv", **extra)(IMAGES, class_index=1)
    got = QGradCAM(converted, layer="conv")(IMAGES, class_index=1)
    np.testing.assert_allclose(got.maps, want.maps, atol=1e-4)
    np.testing.assert_allclose(got.weights, want.weights, atol=1e-5)


@pytest.mark.parametrize("kind", ["NoisyControlledPQC", "SampledExpectation", "ExpectationOnInput"])
def test_sampled_and_input_fed_layers_convert_to_exact_expectations(kind):
    """NoisyControlledPQC and SampledExpectation convert to exact expectations (cirq within
    1e-5; the sampled TFQ model within its shot noise), an Expectation on the circuits
    input to the folded circuit; the JSON config round-trips the converted model."""
    case = circuit_cases()[0]
    model = tfq_hybrid(case, kind)
    given = case.circuit if kind == "ExpectationOnInput" else case.prefix
    folded = {} if kind == "SampledExpectation" else {"circuits": given}
    converted = convert_to_tf(model, **folded)
    _no_tfq(converted)
    feed = _feed(model, given)
    values = keras.Model(model.inputs, model.get_layer("angles").output)(feed).numpy()
    controlled = "Controlled" in kind
    symbols = sorted(case.symbols, key=str) if controlled else case.symbols
    circuit = {"NoisyControlledPQC": case.prefix + case.circuit}.get(kind, case.circuit)
    ref = tf.nn.softmax(simulate(circuit, symbols, values, case.readouts)).numpy()
    probs = converted(IMAGES).numpy()
    np.testing.assert_allclose(probs, ref, atol=1e-5)
    np.testing.assert_allclose(model(feed).numpy(), probs, atol=0.05)  # 2000 shots
    again = keras.models.model_from_json(converted.to_json())
    again.set_weights(converted.get_weights())
    np.testing.assert_allclose(again(IMAGES).numpy(), probs, atol=1e-6)


def test_converted_model_is_independent_and_fits():
    """Training the converted model changes its weights, not the original's: the converted
    layers are copies; gradients reach the conv kernel through the circuit."""
    model = tfq_hybrid(circuit_cases()[1], "Expectation")
    before = [w.copy() for w in model.get_weights()]
    converted = convert_to_tf(model)
    converted.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    kernel = converted.get_layer("conv").kernel.numpy().copy()
    converted.fit(IMAGES, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    assert np.abs(converted.get_layer("conv").kernel.numpy() - kernel).max() > 1e-6
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_convert_rejects_what_it_cannot_fold():
    """circuits of the wrong type, circuits for a model without a circuits input, no
    circuits for a layer whose whole circuit comes from that input, and a circuits input
    read by a non-TFQ layer are one error each, naming the problem."""
    case = circuit_cases()[0]
    with pytest.raises(TypeError, match="circuits must be a cirq.Circuit or None, got 3"):
        convert_to_tf(tfq_hybrid(case, "ControlledPQC"), circuits=3)
    with pytest.raises(ValueError, match="circuits was given but model .* no circuits"):
        convert_to_tf(tfq_hybrid(case, "Expectation"), circuits=case.prefix)
    with pytest.raises(ValueError, match="layer 'q' takes its whole circuit .* circuits is"):
        convert_to_tf(tfq_hybrid(case, "ExpectationOnInput"))
    images = keras.Input((8, 8, 1))
    circuits = keras.Input((), dtype=tf.string, name="circuits")
    length = keras.layers.Lambda(lambda c: tf.strings.length(c)[:, None], name="length")
    out = keras.layers.Concatenate()(
        [keras.layers.Flatten()(images), tf.cast(length(circuits), tf.float32)]
    )
    with pytest.raises(ValueError, match="layer 'length' reads the circuits input 'circuits'"):
        convert_to_tf(keras.Model([circuits, images], out))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
