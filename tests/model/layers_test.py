"""Tests for qgcam_tf.model.layers (VQCLayer, CircuitLayer) against cirq.Simulator and
finite differences."""

import json
import sys

import cirq
import numpy as np
import pytest
import sympy
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.model.hybrid import backend_config, model_from_config
from qgcam_tf.model.layers import CircuitLayer, VQCLayer
from qgcam_tf.quantum.circuits import (
    VQCSpec,
    build_vqc,
    symbol_values,
    variational_circuit,
    vqc_qubits,
)
from qgcam_tf.quantum.compiler import ExpectationProgram, UnsupportedGateError
from qgcam_tf.quantum.executors import TFExecutor, TFQCircuitExecutor, TFQExecutor
from qgcam_tf.testing.tfq_models import circuit_cases, simulate


def cirq_expectations(spec, x, theta):
    """<Z_l> of the resolved circuit from cirq.Simulator in float64 (the reference)."""
    circuit, inputs, weights = build_vqc(spec)
    values = np.concatenate([np.arctan(x), np.arctan(x**2)])
    resolver = dict(zip(map(str, inputs), values)) | dict(zip(map(str, weights), np.ravel(theta)))
    psi = (
        cirq.Simulator(dtype=np.complex128)
        .simulate(circuit, resolver, qubit_order=vqc_qubits(spec))
        .final_state_vector
    )
    probs = np.abs(psi) ** 2
    idx = np.arange(2**spec.n_qubits)
    return np.array(
        [probs @ (1 - 2 * ((idx >> (spec.n_qubits - 1 - l)) & 1)) for l in range(spec.n_outputs)]
    )


def make_layer(spec, backend, theta, **kwargs):
    layer = VQCLayer(spec, backend, **kwargs)
    layer.build((None, spec.n_qubits))
    layer.theta.assign(theta.astype(np.float32))
    return layer


CASES = [(2, 1), (2, 3), (4, 1), (4, 2), (6, 2), (6, 3)]


@pytest.mark.parametrize("backend", ["tfq", "tf"])
@pytest.mark.parametrize("n,depth", CASES)
def test_expectations_match_cirq(backend, n, depth, rng):
    """Both executors equal cirq.Simulator within 1e-5 for random x and theta."""
    spec = VQCSpec(n, depth, n)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape)
    x = rng.normal(scale=1.5, size=(3, n))
    got = make_layer(spec, backend, theta)(x.astype(np.float32)).numpy()
    ref = np.stack([cirq_expectations(spec, xi, theta) for xi in x])
    np.testing.assert_allclose(got, ref, atol=1e-5)


def _fd(fun, point, h=1e-4):
    grads = np.zeros_like(point)
    for i in np.ndindex(point.shape):
        up, down = point.copy(), point.copy()
        up[i] += h
        down[i] -= h
        grads[i] = (fun(up) - fun(down)) / (2 * h)
    return grads


@pytest.mark.parametrize("backend", ["tfq", "tf"])
@pytest.mark.parametrize("n,depth", [(2, 2), (4, 1), (4, 3)])
def test_gradients_match_finite_differences(backend, n, depth, rng):
    """d<Z_l>/dx and d<Z_l>/dtheta equal central differences of the cirq reference."""
    spec = VQCSpec(n, depth, n)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape)
    x = rng.normal(size=n)
    l = int(rng.integers(n))
    layer = make_layer(spec, backend, theta)
    xt = tf.constant(x[None].astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt)[0, l]
    gx, gtheta = tape.gradient(out, [xt, layer.theta])
    ref_x = _fd(lambda p: cirq_expectations(spec, p, theta)[l], x)
    ref_theta = _fd(lambda p: cirq_expectations(spec, x, p)[l], theta)
    np.testing.assert_allclose(gx.numpy()[0], ref_x, atol=2e-5)
    np.testing.assert_allclose(gtheta.numpy(), ref_theta, atol=2e-5)


def test_backends_share_weights_and_agree(rng):
    """Weights trained on tfq run unchanged on tf (and with XLA): same outputs."""
    spec = VQCSpec(5, 2, 3)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    outs = [
        make_layer(spec, b, theta, **kw)(x).numpy()
        for b, kw in [("tfq", {}), ("tf", {}), ("tf", {"jit_compile": True})]
    ]
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)
    np.testing.assert_allclose(outs[1], outs[2], atol=1e-5)


@pytest.mark.parametrize("shards", [2, 3, 7])
def test_tfq_shards_equal_one_op(shards, rng):
    """A batch of 5 in 2, 3 or 7 TFQ ops (uneven and empty parts, batch unknown when
    traced): outputs and gradients equal those of one op to 1e-6."""
    spec = VQCSpec(4, 2, 3)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape)
    x = tf.constant(rng.normal(size=(5, 4)).astype(np.float32))
    layer = make_layer(spec, "tfq", theta)

    def run(n_shards):
        layer.executor.shards = n_shards

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def f(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
                loss = tf.reduce_sum(y * tf.range(1.0, 4.0))
            return [y, *tape.gradient(loss, [x, layer.theta])]

        return [t.numpy() for t in f(x)]

    for got, want in zip(run(shards), run(1)):
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("backend,kind", [("tf", TFExecutor), ("tfq", TFQExecutor)])
def test_executor_is_the_backends_and_read_only(backend, kind, rng):
    """``layer.executor`` is the backend's executor, gives the layer's outputs from
    symbol_values, and cannot be replaced."""
    spec = VQCSpec(3, 1, 2)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape)
    layer = make_layer(spec, backend, theta)
    assert isinstance(layer.executor, kind)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    got = layer.executor(symbol_values(x, layer.theta)).numpy()
    np.testing.assert_allclose(got, layer(x).numpy(), atol=1e-5)
    with pytest.raises(AttributeError):
        layer.executor = None


def test_config_round_trip_and_output_shape():
    """get_config rebuilds an equal layer; compute_output_shape gives [B, n_outputs]."""
    layer = VQCLayer(VQCSpec(4, 2, 3), "tf", name="vqc")
    clone = VQCLayer.from_config(layer.get_config())
    assert clone.spec == layer.spec and clone.backend == "tf"
    assert layer.compute_output_shape((7, 4)).as_list() == [7, 3]


def test_layer_errors():
    """Unknown backends, XLA on tfq and a wrong input width raise ValueError naming them."""
    with pytest.raises(ValueError, match="backend must be one of"):
        VQCLayer(VQCSpec(2, 1, 2), "qiskit")
    with pytest.raises(ValueError, match="jit_compile=True needs backend='tf'"):
        VQCLayer(VQCSpec(2, 1, 2), "tfq", jit_compile=True)
    with pytest.raises(ValueError, match="n_qubits=3, got 4"):
        keras.Sequential([keras.Input((4,)), VQCLayer(VQCSpec(3, 1, 2), "tf")])


@pytest.mark.parametrize("case", circuit_cases(), ids=lambda c: c.name)
def test_circuit_layer_equals_cirq_forward_and_gradient(case):
    """CircuitLayer on any circuit: outputs equal cirq.Simulator within 1e-5 and input
    gradients of a weighted output sum equal float64 central differences within 1e-4."""
    rng = np.random.default_rng(5)
    values = rng.uniform(-2, 2, size=(3, len(case.symbols)))
    layer = CircuitLayer(case.circuit, case.symbols, case.readouts)
    mix = np.linspace(-1, 1, len(case.readouts))
    x = tf.Variable(values.astype(np.float32))
    with tf.GradientTape() as tape:
        out = layer(x)
        loss = tf.reduce_sum(out * mix)
    grad = tape.gradient(loss, x).numpy()
    np.testing.assert_allclose(
        out.numpy(), simulate(case.circuit, case.symbols, values, case.readouts), atol=1e-5
    )
    h, fd = 1e-4, np.zeros_like(values)
    for i in range(values.shape[1]):
        step = np.zeros_like(values)
        step[:, i] = h
        up = simulate(case.circuit, case.symbols, values + step, case.readouts) @ mix
        down = simulate(case.circuit, case.symbols, values - step, case.readouts) @ mix
        fd[:, i] = (up - down) / (2 * h)
    np.testing.assert_allclose(grad, fd, atol=1e-4)


def test_circuit_layer_config_round_trips_through_json():
    """get_config holds the circuit and readouts as cirq JSON and the symbols as strings;
    a model holding the layer round-trips through to_json / model_from_json unchanged."""
    case = circuit_cases()[1]
    inputs = keras.Input((len(case.symbols),))
    model = keras.Model(inputs, CircuitLayer(case.circuit, case.symbols, case.readouts)(inputs))
    config = model.layers[-1].get_config()
    assert config["symbols"] == [str(s) for s in case.symbols]
    assert cirq.read_json(json_text=config["circuit"]) == case.circuit
    assert [cirq.read_json(json_text=r) for r in config["readouts"]] == list(case.readouts)
    again = keras.models.model_from_json(model.to_json())
    x = np.random.default_rng(2).uniform(size=(2, len(case.symbols))).astype(np.float32)
    np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), atol=1e-7)


def test_circuit_layer_rejects_a_wrong_input_width_and_bad_readouts():
    """An input narrower than the symbols, one readout not in a list, and a circuit symbol
    missing from symbols raise clear errors."""
    case = circuit_cases()[2]
    layer = CircuitLayer(case.circuit, case.symbols, case.readouts, name="cl")
    with pytest.raises(ValueError, match=r"CircuitLayer 'cl' binds 3 symbols .* width 2"):
        layer(np.zeros((1, 2), np.float32))
    with pytest.raises(TypeError, match="readouts must be a list of Pauli sums"):
        CircuitLayer(case.circuit, case.symbols, case.readouts[0])
    with pytest.raises(ValueError, match="c10"):
        CircuitLayer(case.circuit, case.symbols[:2], case.readouts)


# ------------------------------------------------------------------ other circuit families

FAMILIES = [
    ("hardware_efficient", "paper"),
    ("hardware_efficient", "atan"),
    ("reuploading", "identity"),
    ("reuploading", "paper"),
]


def _np_encode(x, encoding):
    """The encoding angles in NumPy float64 (independent of qgcam_tf.quantum.ansatz.encode)."""
    x = np.asarray(x, np.float64)
    if encoding == "paper":
        return np.concatenate([np.arctan(x), np.arctan(x**2)], axis=-1)
    return np.arctan(x) if encoding == "atan" else x


def vc_reference(vc, x, theta):
    """The layer's outputs [B, L] by cirq.Simulator in float64, for inputs x [B, n]."""
    angles = _np_encode(np.atleast_2d(x), vc.encoding)
    weights = np.broadcast_to(np.ravel(theta), (len(angles), np.size(theta)))
    return simulate(vc.circuit, vc.symbols, np.concatenate([angles, weights], 1), vc.readouts)


@pytest.mark.parametrize("backend", ["tfq", "tf"])
@pytest.mark.parametrize("ansatz,encoding", FAMILIES)
def test_family_expectations_match_cirq(backend, ansatz, encoding, rng):
    """Each family and encoding on either backend equals cirq.Simulator within 1e-5; the
    executor on layer.symbol_values gives the layer's outputs."""
    spec = VQCSpec(4, 2, 3, ansatz=ansatz, encoding=encoding)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape)
    x = rng.normal(scale=1.5, size=(3, 4)).astype(np.float32)
    layer = make_layer(spec, backend, theta)
    got = layer(x).numpy()
    np.testing.assert_allclose(got, vc_reference(layer.vqc, x, theta), atol=1e-5)
    assert isinstance(
        layer.executor, TFQCircuitExecutor if backend == "tfq" else ExpectationProgram
    )
    np.testing.assert_allclose(layer.executor(layer.symbol_values(x)).numpy(), got, atol=1e-6)


@pytest.mark.parametrize("backend", ["tfq", "tf"])
@pytest.mark.parametrize("ansatz,encoding", FAMILIES[1:3])
def test_family_gradients_match_finite_differences(backend, ansatz, encoding, rng):
    """d out_l / dx and d out_l / dtheta equal central differences of the cirq reference
    within 1e-4."""
    spec = VQCSpec(3, 2, 3, ansatz=ansatz, encoding=encoding)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape)
    x = rng.normal(size=3)
    l = int(rng.integers(3))
    layer = make_layer(spec, backend, theta)
    xt = tf.constant(x[None].astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt)[0, l]
    gx, gtheta = tape.gradient(out, [xt, layer.theta])
    ref_x = _fd(lambda p: vc_reference(layer.vqc, p, theta)[0, l], x)
    ref_theta = _fd(lambda p: vc_reference(layer.vqc, x, p)[0, l], theta)
    np.testing.assert_allclose(gx.numpy()[0], ref_x, atol=1e-4)
    np.testing.assert_allclose(gtheta.numpy(), ref_theta, atol=1e-4)


@pytest.mark.parametrize("ansatz", ["hardware_efficient", "reuploading"])
def test_family_backends_agree(ansatz, rng):
    """The same weights give the same outputs on tfq, tf and tf with XLA (1e-5)."""
    spec = VQCSpec(4, 2, 2, ansatz=ansatz, encoding="paper")
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    outs = [
        make_layer(spec, b, theta, **kw)(x).numpy()
        for b, kw in [("tfq", {}), ("tf", {}), ("tf", {"jit_compile": True})]
    ]
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)
    np.testing.assert_allclose(outs[1], outs[2], atol=1e-5)


# How the circuits of testing.tfq_models split into (encoding, inputs, weights) here.
USER_SPLITS = {
    "cz_ladder": ("identity", ["x0", "x1", "x2"], ["w0", "w1", "w2"]),
    "iswap": ("identity", ["a0", "a1", "a2", "a3"], ["e"]),
    "fsim": ("atan", ["c0", "c10"], ["c2"]),
}


def _user_layer(case, backend, theta=None, **kwargs):
    encoding, inputs, weights = USER_SPLITS[case.name]
    layer = VQCLayer.from_circuit(
        case.circuit, inputs, weights, case.readouts, encoding=encoding, backend=backend, **kwargs
    )
    layer.build((None, len(inputs)))
    if theta is not None:
        layer.theta.assign(theta.astype(np.float32))
    return layer


@pytest.mark.parametrize("backend", ["tfq", "tf"])
@pytest.mark.parametrize("case", circuit_cases(), ids=lambda c: c.name)
def test_user_circuit_equals_cirq_forward_and_gradient(backend, case):
    """VQCLayer.from_circuit on CZ / iSWAP / FSim circuits with Pauli-sum readouts: outputs
    equal cirq.Simulator within 1e-5, gradients of a weighted output sum with respect to
    inputs and weights equal central differences within 1e-4."""
    rng = np.random.default_rng(11)
    n_w = len(USER_SPLITS[case.name][2])
    theta = rng.uniform(0, 2 * np.pi, size=n_w)
    layer = _user_layer(case, backend, theta)
    x = rng.normal(size=(2, layer.vqc.n_inputs))
    mix = np.linspace(-1, 1, len(case.readouts))
    xt = tf.constant(x.astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt)
        loss = tf.reduce_sum(out * mix)
    gx, gtheta = tape.gradient(loss, [xt, layer.theta])
    np.testing.assert_allclose(out.numpy(), vc_reference(layer.vqc, x, theta), atol=1e-5)
    ref_x = _fd(lambda p: np.sum(vc_reference(layer.vqc, p, theta) @ mix), x)
    ref_theta = _fd(lambda p: np.sum(vc_reference(layer.vqc, x, p) @ mix), theta)
    np.testing.assert_allclose(gx.numpy(), ref_x, atol=1e-4)
    np.testing.assert_allclose(gtheta.numpy(), ref_theta, atol=1e-4)


def test_user_circuit_config_round_trips_and_switches_backend():
    """A model holding VQCLayer.from_circuit round-trips through to_json (circuit and
    readouts as cirq JSON) and runs the same on the other backend with the same weights."""
    case = circuit_cases()[1]
    inputs = keras.Input((4,))
    layer = _user_layer(case, "tfq", name="q")
    model = keras.Model(inputs, layer(inputs))
    config = layer.get_config()
    assert "spec" not in config and config["encoding"] == "identity"
    assert cirq.read_json(json_text=config["circuit"]) == case.circuit
    assert config["input_symbols"] == ["a0", "a1", "a2", "a3"] and config["weight_symbols"] == ["e"]
    x = np.random.default_rng(4).normal(size=(3, 4)).astype(np.float32)
    again = keras.models.model_from_json(model.to_json())
    again.set_weights(model.get_weights())
    assert again.get_layer("q").vqc == layer.vqc
    np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), atol=1e-7)
    on_tf = model_from_config(backend_config(json.loads(model.to_json()), "tf"))
    on_tf.set_weights(model.get_weights())
    assert on_tf.get_layer("q").backend == "tf"
    np.testing.assert_allclose(on_tf(x).numpy(), model(x).numpy(), atol=1e-5)


def test_paper_layer_config_is_the_one_it_always_was():
    """A paper layer's config keys, their order and its spec dict are those written before
    other circuits existed (saved runs stay byte-identical); its symbol values are
    symbol_values(x, theta)."""
    layer = make_layer(VQCSpec(4, 1, 3), "tf", np.zeros((1, 4, 3)))
    config = layer.get_config()
    assert list(config) == ["name", "trainable", "dtype", "spec", "backend", "jit_compile"]
    assert config["spec"] == {"n_qubits": 4, "depth": 1, "n_outputs": 3, "ansatz": "paper"}
    assert layer.vqc == variational_circuit(layer.spec)
    x = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(
        layer.symbol_values(x).numpy(), symbol_values(x, layer.theta).numpy()
    )


def test_vqc_layer_circuit_errors():
    """Both or neither of spec and circuit, a missing readout list, an unsupported gate and a
    wrong input width raise errors naming them."""
    case = circuit_cases()[0]
    with pytest.raises(ValueError, match="exactly one of spec .* and circuit"):
        VQCLayer(VQCSpec(2, 1, 2), "tf", circuit=case.circuit)
    with pytest.raises(ValueError, match="exactly one of spec .* and circuit"):
        VQCLayer(None, "tf")
    with pytest.raises(ValueError, match="needs readouts, got None"):
        VQCLayer(circuit=case.circuit, input_symbols=["x0"], weight_symbols=["w0"])
    q = cirq.LineQubit.range(2)
    bad = cirq.Circuit(cirq.ry(sympy.Symbol("x"))(q[0]), cirq.CZ(*q) ** sympy.Symbol("x") ** 2)
    with pytest.raises(UnsupportedGateError, match="moment 1"):
        VQCLayer.from_circuit(bad, ["x"], [], [cirq.Z(q[1])])
    layer = _user_layer(case, "tf")
    with pytest.raises(
        ValueError, match=r"width 3 \(3 input symbols, encoding 'identity'\), got 5"
    ):
        layer.build((None, 5))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
