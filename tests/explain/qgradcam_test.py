"""Tests for qgcam_tf.explain.qgradcam: maps vs a NumPy Grad-CAM, closed-form weights vs
autodiff."""

import sys

import cirq
import numpy as np
import pytest
import sympy
import tensorflow as tf

from qgcam_tf.explain.qgradcam import QGradCAM
from qgcam_tf.model.hybrid import build_hybrid_model
from qgcam_tf.noise.executors import noisy_executor
from qgcam_tf.noise.model import NoiseModel
from qgcam_tf.noise.presets import make_noise
from qgcam_tf.quantum.circuits import VQCSpec
from qgcam_tf.testing.tfq_models import circuit_cases, simulate, tfq_hybrid


def numpy_bilinear(img, out_h, out_w):
    """Bilinear resize with half-pixel centres (tf.image.resize's convention), in NumPy."""
    in_h, in_w = img.shape

    def coords(out, inp):
        c = (np.arange(out) + 0.5) * inp / out - 0.5
        c = np.clip(c, 0, inp - 1)
        lo = np.floor(c).astype(int)
        hi = np.minimum(lo + 1, inp - 1)
        return lo, hi, c - lo

    y0, y1, fy = coords(out_h, in_h)
    x0, x1, fx = coords(out_w, in_w)
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return top * (1 - fy[:, None]) + bottom * fy[:, None]


@pytest.fixture(scope="module", params=["tf", "tfq"])
def model(request):
    """A tiny hybrid model (8x8 grey images, 4 qubits, 3 classes) on each executor."""
    import tf_keras as keras

    keras.utils.set_random_seed(3)
    return build_hybrid_model(
        (8, 8, 1), 3, vqc=VQCSpec(4, 2, 3), backend=request.param, conv_filters=(4, 6)
    )


def test_maps_equal_numpy_gradcam(model, tiny_images):
    """Weights, low-res maps and upsampled maps equal a NumPy Grad-CAM of the same tensors."""
    cam = QGradCAM(model)
    ci = np.array([0, 1, 2, -1, 1, 0])
    res = cam(tiny_images, class_index=ci)
    acts, grads, scores, probs, cls = (
        t.numpy() for t in cam.forward_and_gradients(tiny_images, ci)
    )
    np.testing.assert_array_equal(res.class_index, np.where(ci < 0, probs.argmax(1), ci))
    weights = grads.mean(axis=(1, 2))
    np.testing.assert_allclose(res.weights, weights, rtol=1e-5, atol=1e-8)
    low = np.maximum(np.einsum("bhwk,bk->bhw", acts, weights), 0)
    np.testing.assert_allclose(res.activations_maps, low, rtol=1e-5, atol=1e-7)
    for b in range(len(tiny_images)):
        up = numpy_bilinear(low[b], 8, 8)
        ref = (up - up.min()) / (up.max() - up.min() + 1e-7)
        np.testing.assert_allclose(res.maps[b], ref, atol=1e-5)
    assert res.maps.min() >= 0 and res.maps.max() <= 1


def test_gradients_are_class_scores_not_probabilities(model, tiny_images):
    """The target is f^l = <Z_l> (the VQC output), checked by finite differences on A."""
    import tensorflow as tf
    import tf_keras as keras

    cam = QGradCAM(model)
    acts, grads, *_ = cam.forward_and_gradients(tiny_images[:1], np.array([1]))
    head_layers = model.layers[model.layers.index(model.get_layer("qgcam_conv")) + 1 :]
    a_in = keras.Input(acts.shape[1:])
    h = a_in
    for layer in head_layers:
        if layer.name == "scale":
            break
        h = layer(h)
    head = keras.Model(a_in, h)
    a = acts.numpy().astype(np.float64)
    eps = 1e-2
    for idx in [(0, 1, 2, 3), (0, 3, 3, 0), (0, 0, 3, 5)]:
        up, down = a.copy(), a.copy()
        up[idx] += eps
        down[idx] -= eps
        fd = (
            head(tf.constant(up, tf.float32))[0, 1] - head(tf.constant(down, tf.float32))[0, 1]
        ) / (2 * eps)
        np.testing.assert_allclose(grads.numpy()[idx], fd.numpy(), atol=2e-4)


def test_explicit_weights_equal_autodiff(model, tiny_images):
    """Parameter-shift + chain rule weights equal the autodiff weights within 1e-4 relative."""
    cam = QGradCAM(model)
    ci = np.array([2, 0, 1, -1, -1, 2])
    auto = cam(tiny_images, class_index=ci).weights
    explicit = cam.explicit_weights(tiny_images, class_index=ci)
    scale = np.abs(auto).max()
    np.testing.assert_allclose(explicit, auto, atol=1e-4 * scale)


def test_batching_does_not_change_results(model, tiny_images):
    """Explaining in batches of 4 gives the same maps as one batch."""
    one = QGradCAM(model)(tiny_images)
    split = QGradCAM(model, batch_size=4)(tiny_images)
    np.testing.assert_allclose(one.maps, split.maps, atol=1e-6)


def test_bad_inputs_raise(model, tiny_images):
    """Wrong image shape, NaN, bad class index and bad shots raise ValueError naming them."""
    cam = QGradCAM(model)
    with pytest.raises(ValueError, match=r"images must have shape \[B, 8, 8, 1\]"):
        cam(np.zeros((2, 9, 8, 1), np.float32))
    bad = tiny_images.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cam(bad)
    with pytest.raises(ValueError, match=r"class_index must be in \[0, 3\)"):
        cam(tiny_images, class_index=3)
    with pytest.raises(ValueError, match="one int or 6 ints"):
        cam(tiny_images, class_index=[0, 1])
    with pytest.raises(ValueError, match="shots must be"):
        cam.explicit_weights(tiny_images, shots=0)
    with pytest.raises(ValueError, match="layer 'nope' is not in the model"):
        QGradCAM(model, layer="nope")


# ------------------------------------------------------------ on the noisy circuit
def test_noisy_explicit_weights_equal_autodiff_through_density(tiny_images, tiny_noisy_cam):
    """Parameter shift on the noisy circuit equals backprop through the density executor."""
    from qgcam_tf.model.hybrid import CONV_LAYER, VQC_LAYER
    from qgcam_tf.quantum.circuits import symbol_values

    model, cam = tiny_noisy_cam
    noise = make_noise("depolarizing", 0.05, method="density")
    images = tiny_images[:4]
    weights = cam.explicit_weights(images, 1, noise=noise)
    vqc = model.get_layer(VQC_LAYER)
    import tf_keras as keras

    probe = keras.Model(model.inputs, [model.get_layer(CONV_LAYER).output, vqc.input])
    run = noisy_executor(vqc.spec, noise)
    with tf.GradientTape() as tape:
        acts, x = probe(tf.constant(images), training=False)
        target = run(symbol_values(x, vqc.theta))[:, 1]
    expected = tf.reduce_mean(tape.gradient(target, acts), axis=[1, 2]).numpy()
    np.testing.assert_allclose(weights, expected, atol=2e-5, rtol=1e-3)
    assert np.abs(weights - cam.explicit_weights(images, 1)).max() > 1e-4  # noise changes them


def test_shot_weights_converge_as_inverse_sqrt_shots(tiny_images, tiny_noisy_cam):
    """The error of shot-based weights falls like S^-1/2: log-log slope in [-0.75, -0.25]."""
    _, cam = tiny_noisy_cam
    noise = make_noise("depolarizing", 0.02, method="density")
    images = tiny_images[:4]
    exact = cam.explicit_weights(images, None, noise=noise)
    shots = np.array([100, 1000, 10000])
    errors = np.zeros((4, len(shots)))
    for seed in range(4):
        for j, s in enumerate(shots):
            w = cam.explicit_weights(images, None, noise=noise, shots=int(s), seed=seed)
            errors[seed, j] = np.sqrt(np.mean((w - exact) ** 2))
    slope = np.polyfit(np.log(shots), np.log(errors.mean(axis=0)), 1)[0]
    assert -0.75 <= slope <= -0.25, (slope, errors)
    assert errors.mean(axis=0)[-1] < errors.mean(axis=0)[0] / 5


def test_noisy_explicit_weights_reject_zero_shots(tiny_noisy_cam):
    """shots < 1 on the noisy path gives one ValueError naming the value."""
    _, cam = tiny_noisy_cam
    with pytest.raises(ValueError, match="shots must be an int >= 1 or None, got 0"):
        cam.explicit_weights(np.zeros((1, 8, 8, 1), np.float32), noise=NoiseModel(), shots=0)


def _tape_weights(model, feed, class_index):
    """QGrad-CAM weights straight from a GradientTape: mean over space of
    d q[class] / d conv, for the model's conv layer "conv" and quantum layer "q"."""
    import tf_keras as keras

    sub = keras.Model(model.inputs, [model.get_layer("conv").output, model.get_layer("q").output])
    with tf.GradientTape() as tape:
        acts, q = sub(feed, training=False)
        target = tf.gather(q, tf.constant(class_index), axis=1, batch_dims=1)
    return tf.reduce_mean(tape.gradient(target, acts), axis=[1, 2]).numpy(), q.numpy()


@pytest.mark.parametrize("kind", ["ControlledPQC", "Expectation"])
@pytest.mark.parametrize("case", circuit_cases(), ids=lambda c: c.name)
def test_tfq_model_weights_equal_a_direct_tape(case, kind, tiny_images):
    """On a TFQ hybrid (circuit unlike the paper's), QGrad-CAM weights equal a direct tape
    within 1e-5 and its scores equal cirq.Simulator's expectations of the readouts (the
    circuits input, if any, fed case.prefix for every sample)."""
    import tensorflow_quantum as tfq
    import tf_keras as keras

    model = tfq_hybrid(case, kind)
    ci = np.arange(len(tiny_images)) % len(case.readouts)
    if kind == "ControlledPQC":
        cam = QGradCAM(model, layer="conv", score_layer="q", circuits=case.prefix)
        feed = [tfq.convert_to_tensor([case.prefix] * len(tiny_images)), tiny_images]
        circuit, symbols = case.prefix + case.circuit, model.get_layer("q").symbols
    else:
        cam = QGradCAM(model, layer="conv")  # the one quantum layer is the default score
        feed, circuit, symbols = tiny_images, case.circuit, case.symbols
    res = cam(tiny_images, class_index=ci)
    weights, q = _tape_weights(model, feed, ci)
    assert np.abs(weights).max() > 1e-3  # not trivially zero
    np.testing.assert_allclose(res.weights, weights, atol=1e-5)
    values = keras.Model(model.inputs, model.get_layer("angles").output)(feed).numpy()
    ref = simulate(circuit, symbols, values, case.readouts)
    np.testing.assert_allclose(res.scores, ref, atol=1e-5)
    np.testing.assert_allclose(res.scores, q, atol=1e-6)


def test_circuits_given_once_are_fed_to_every_sample(tiny_images):
    """An Expectation on the circuits input, explained with circuits=C, gives the maps and
    weights of the same network with C built in; by default a ControlledPQC gets the empty
    circuit (its own circuit alone)."""
    import tf_keras as keras

    case = circuit_cases()[0]
    fed = tfq_hybrid(case, "ExpectationOnInput", seed=4)
    built_in = tfq_hybrid(case, "Expectation", seed=4)
    built_in.set_weights(fed.get_weights())
    got = QGradCAM(fed, layer="conv", circuits=case.circuit)(tiny_images, class_index=1)
    want = QGradCAM(built_in, layer="conv")(tiny_images, class_index=1)
    np.testing.assert_allclose(got.weights, want.weights, atol=1e-6)
    np.testing.assert_allclose(got.maps, want.maps, atol=1e-5)
    np.testing.assert_allclose(got.probabilities, want.probabilities, atol=1e-6)
    controlled = tfq_hybrid(case, "ControlledPQC")
    default = QGradCAM(controlled, layer="conv")(tiny_images)  # the model circuit alone
    values = keras.Model(controlled.inputs, controlled.get_layer("angles").output)(
        [tf.constant([""] * len(tiny_images)), tiny_images]
    )
    symbols = controlled.get_layer("q").symbols
    ref = simulate(case.circuit, symbols, values.numpy(), case.readouts)
    np.testing.assert_allclose(default.scores, ref, atol=1e-5)


# ------------------------------------------- explicit weights for any circuit (shift rule)
def _explicit_cam(case, kind):
    """A TFQ hybrid of ``kind`` on ``case`` and its QGrad-CAM (the circuits input, if any,
    fed case.prefix), with the model's feed and the circuit the quantum layer runs."""
    import tensorflow_quantum as tfq

    model = tfq_hybrid(case, kind)
    if kind == "ControlledPQC":
        cam = QGradCAM(model, layer="conv", score_layer="q", circuits=case.prefix)
        return (
            model,
            cam,
            lambda images: [tfq.convert_to_tensor([case.prefix] * len(images)), images],
        )
    return model, QGradCAM(model, layer="conv"), lambda images: images


@pytest.mark.parametrize("kind", ["ControlledPQC", "Expectation"])
@pytest.mark.parametrize("case", circuit_cases(), ids=lambda c: c.name)
def test_explicit_weights_on_tfq_models_equal_a_direct_tape(case, kind, tiny_images):
    """On TFQ hybrids of three non-paper circuits (CZ / iSWAP / FSim entanglers, repeated
    symbols, Pauli-sum readouts), parameter-shift weights equal a direct GradientTape
    within 1e-4, for the converted pure-TF model too."""
    from qgcam_tf.model.convert import convert_to_tf

    model, cam, feed = _explicit_cam(case, kind)
    ci = (np.arange(len(tiny_images)) + 1) % len(case.readouts)
    want, _ = _tape_weights(model, feed(tiny_images), ci)
    assert np.abs(want).max() > 1e-2  # not trivially zero
    np.testing.assert_allclose(cam.explicit_weights(tiny_images, ci), want, atol=1e-4)
    converted = convert_to_tf(model, circuits=case.prefix if kind == "ControlledPQC" else None)
    got = QGradCAM(converted, layer="conv").explicit_weights(tiny_images, ci)
    np.testing.assert_allclose(got, want, atol=1e-4)


def _vqc_hybrid(case, encoding: str, backend: str):
    """conv -> GAP -> Dense -> VQCLayer on ``case.circuit``: its first half of symbols are
    inputs (with ``encoding``), the rest trained weights."""
    import tf_keras as keras

    from qgcam_tf.model.layers import VQCLayer

    n_in = (len(case.symbols) + 1) // 2
    keras.utils.set_random_seed(11)
    images = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(images)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.Dense(n_in, kernel_initializer=keras.initializers.RandomNormal(0, 2))(h)
    layer = VQCLayer.from_circuit(
        case.circuit,
        case.symbols[:n_in],
        case.symbols[n_in:],
        list(case.readouts),
        encoding=encoding,
        backend=backend,
        name="q",
    )
    return keras.Model(images, keras.layers.Softmax()(layer(h)))


@pytest.mark.parametrize(
    "case,encoding,backend",
    [(0, "identity", "tf"), (1, "atan", "tfq"), (2, "atan", "tf")],
    ids=["cz_ladder-identity-tf", "iswap-atan-tfq", "fsim-atan-tf"],
)
def test_explicit_weights_on_vqclayer_circuits_equal_a_direct_tape(
    case, encoding, backend, tiny_images
):
    """A VQCLayer on a non-paper circuit (trained weight symbols, an input encoding):
    parameter-shift weights (chain rule through the encoding) equal a direct tape within 1e-4."""
    case = circuit_cases()[case]
    model = _vqc_hybrid(case, encoding, backend)
    ci = np.arange(len(tiny_images)) % len(case.readouts)
    want, _ = _tape_weights(model, tiny_images, ci)
    assert np.abs(want).max() > 1e-3
    cam = QGradCAM(model, layer="conv")
    np.testing.assert_allclose(cam(tiny_images, ci).weights, want, atol=1e-5)
    np.testing.assert_allclose(cam.explicit_weights(tiny_images, ci), want, atol=1e-4)


@pytest.mark.parametrize(
    "ansatz,encoding", [("hardware_efficient", "paper"), ("reuploading", "identity")]
)
def test_explicit_weights_on_spec_families_equal_autodiff(ansatz, encoding, tiny_images):
    """The project's hybrid with another VQCSpec family (CZ ladders; the encoding repeated
    before every block): parameter-shift weights equal the autodiff weights within 1e-4."""
    import tf_keras as keras

    keras.utils.set_random_seed(5)
    spec = VQCSpec(3, 2, 3, ansatz=ansatz, encoding=encoding)
    model = build_hybrid_model((8, 8, 1), 3, vqc=spec, backend="tf", conv_filters=(4,))
    cam = QGradCAM(model)
    ci = np.array([0, 1, 2, -1, 1, 0])
    auto = cam(tiny_images, class_index=ci).weights
    assert np.abs(auto).max() > 1e-3
    np.testing.assert_allclose(cam.explicit_weights(tiny_images, ci), auto, atol=1e-4)


def test_noisy_explicit_weights_on_a_tfq_model_equal_a_tape_through_the_noisy_program(
    tiny_images,
):
    """With a noise model (channels after every gate, readout error), parameter-shift
    weights equal backprop through NoisyExpectationProgram's density matrices within 1e-4."""
    import tf_keras as keras

    from qgcam_tf.noise.executors import NoisyExpectationProgram

    case = circuit_cases()[1]
    model, cam, _ = _explicit_cam(case, "Expectation")
    noise = NoiseModel(
        depolarizing=0.02,
        amplitude_damping=0.03,
        two_qubit_depolarizing=0.05,
        readout=0.04,
        method="density",
    )
    images = tiny_images[:3]
    program = NoisyExpectationProgram(case.circuit, case.symbols, case.readouts, noise)
    sub = keras.Model(
        model.inputs, [model.get_layer("conv").output, model.get_layer("angles").output]
    )
    with tf.GradientTape() as tape:
        acts, values = sub(tf.constant(images), training=False)
        target = program(values)[:, 2]
    want = tf.reduce_mean(tape.gradient(target, acts), axis=[1, 2]).numpy()
    got = cam.explicit_weights(images, 2, noise=noise)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.abs(got - cam.explicit_weights(images, 2)).max() > 1e-3  # noise changes them


def test_shot_weights_on_a_tfq_model_converge_as_inverse_sqrt_shots(tiny_images):
    """With S shots per Pauli term, the RMS error of the weights against the exact ones
    falls like S^-1/2: log-log slope in [-0.65, -0.35] over S = 100..6400 (12 seeds each)."""
    case = circuit_cases()[2]
    _, cam, _ = _explicit_cam(case, "ControlledPQC")
    images = tiny_images[:2]
    exact = cam.explicit_weights(images, 1)
    shots = np.array([100, 400, 1600, 6400])
    rms = []
    for s in shots:
        draws = [cam.explicit_weights(images, 1, shots=int(s), seed=seed) for seed in range(12)]
        rms.append(np.sqrt(np.mean((np.array(draws) - exact) ** 2)))
    slope = np.polyfit(np.log(shots), np.log(rms), 1)[0]
    assert -0.65 <= slope <= -0.35, (slope, rms)
    same = cam.explicit_weights(images, 1, shots=100, seed=3)
    np.testing.assert_array_equal(same, cam.explicit_weights(images, 1, shots=100, seed=3))


def test_explicit_weights_need_a_quantum_score_layer(tiny_noisy_cam, tiny_images):
    """A classical score layer, or the paper's circuit asked for a ShiftRule: one
    ValueError naming the layer; bad shots on a TFQ model: one naming the value."""
    model, _ = tiny_noisy_cam
    with pytest.raises(ValueError, match="score_layer 'gap' to be a quantum layer"):
        QGradCAM(model, score_layer="gap").explicit_weights(tiny_images)
    with pytest.raises(ValueError, match="runs the paper's circuit"):
        QGradCAM(model).shift_rule()
    _, cam, _ = _explicit_cam(circuit_cases()[0], "Expectation")
    with pytest.raises(ValueError, match="shots must be an int >= 1 or None, got 0"):
        cam.explicit_weights(tiny_images, shots=0)


# ------------------------------- explicit weights as commutators (the paper's Lie brackets)
def _generator(op) -> tuple[np.ndarray, object] | None:
    """``(G, e)`` with ``op`` = ``exp(-i pi e G / 2)`` up to a global phase (``G^2 = 1``),
    for the parametrised gates the tests below use; None for a fixed gate."""
    if not cirq.is_parameterized(op):
        return None
    gate = op.gate
    paulis = {"X": cirq.unitary(cirq.X), "Y": cirq.unitary(cirq.Y), "Z": cirq.unitary(cirq.Z)}
    kinds = {
        cirq.Rx: "X", cirq.XPowGate: "X", cirq.Ry: "Y", cirq.YPowGate: "Y", cirq.Rz: "Z",
        cirq.ZPowGate: "Z",
    }  # fmt: skip
    if type(gate) in kinds:
        return paulis[kinds[type(gate)]], gate.exponent
    if isinstance(gate, cirq.XXPowGate):
        return np.kron(paulis["X"], paulis["X"]), gate.exponent
    if isinstance(gate, cirq.PhasedXPowGate) and not cirq.is_parameterized(gate.phase_exponent):
        p = np.pi * float(gate.phase_exponent)
        return np.cos(p) * paulis["X"] + np.sin(p) * paulis["Y"], gate.exponent
    raise AssertionError(f"no float64 reference for {op!r}")


def _float64_expectations(circuit, symbols, readouts):
    """``values [B, S] float64 -> <O_l> [B, L]``: a complex128 state vector in TensorFlow
    built from cirq's unitaries gate by gate (independent of the package's compiler), so a
    GradientTape differentiates it in float64."""
    qubits = sorted(circuit.all_qubits().union(*(cirq.PauliSum.wrap(r).qubits for r in readouts)))
    dim = 2 ** len(qubits)
    steps = []
    for op in circuit.all_operations():
        found = _generator(op)
        if found is None:
            steps.append(
                cirq.Circuit(op).unitary(qubit_order=qubits, qubits_that_should_be_present=qubits)
            )
            continue
        g, e = found
        full = cirq.Circuit(cirq.MatrixGate(g).on(*op.qubits)).unitary(
            qubit_order=qubits, qubits_that_should_be_present=qubits
        )
        e = sympy.sympify(e)
        coeffs = [float(sympy.diff(e, s)) for s in symbols]
        const = float(e.subs({s: 0 for s in symbols}))
        steps.append((full, np.array(coeffs), const))
    observables = [tf.constant(cirq.PauliSum.wrap(r).matrix(qubits)) for r in readouts]

    def run(values):
        psi = tf.one_hot(tf.zeros([tf.shape(values)[0]], tf.int32), dim, dtype=tf.complex128)
        for step in steps:
            if isinstance(step, np.ndarray):
                psi = tf.linalg.matvec(tf.constant(step), psi)
                continue
            full, coeffs, const = step
            e = const + tf.linalg.matvec(values, tf.constant(coeffs))
            half = np.pi * e[:, None] / 2.0
            cos, sin = (tf.complex(f(half), tf.zeros_like(half)) for f in (tf.cos, tf.sin))
            # exp(-i a G / 2) |psi> = cos(a/2) |psi> - i sin(a/2) G |psi>
            psi = cos * psi - 1j * sin * tf.linalg.matvec(tf.constant(full), psi)
        return tf.stack(
            [tf.math.real(tf.reduce_sum(tf.math.conj(psi) * tf.linalg.matvec(o, psi), 1))
             for o in observables],
            axis=1,
        )  # fmt: skip

    return run


def _float64_tape_weights(model, layer, images, class_index):
    """QGrad-CAM weights by a float64 GradientTape: conv activations (float32, as the model
    gives them) through GAP, BatchNorm (inference), the Dense, the VQCLayer's encoding and
    :func:`_float64_expectations`, all in float64."""
    import tf_keras as keras

    vqc_layer = next(l for l in model.layers if hasattr(l, "vqc"))
    probe = keras.Model(model.inputs, model.get_layer(layer).output)
    acts = tf.cast(probe(images, training=False), tf.float64)
    vqc = vqc_layer.vqc
    run = _float64_expectations(vqc.circuit, vqc.symbols, vqc.readouts)
    theta = tf.reshape(tf.cast(vqc_layer.theta, tf.float64), [1, -1])
    with tf.GradientTape() as tape:
        tape.watch(acts)
        h = tf.reduce_mean(acts, axis=[1, 2])
        names = {l.name for l in model.layers}
        if "bn" in names:
            gamma, beta, mean, var = (tf.cast(w, tf.float64) for w in model.get_layer("bn").weights)
            eps = model.get_layer("bn").epsilon
            h = (h - mean) / tf.sqrt(var + eps) * gamma + beta
        dense = model.get_layer("to_qubits" if "to_qubits" in names else "dense")
        x = h @ tf.cast(dense.kernel, tf.float64) + tf.cast(dense.bias, tf.float64)
        angles = {
            "paper": lambda: tf.concat([tf.atan(x), tf.atan(x**2)], axis=1),
            "atan": lambda: tf.atan(x),
            "identity": lambda: x,
        }[vqc.encoding]()
        values = tf.concat([angles, tf.tile(theta, [tf.shape(x)[0], 1])], axis=1)
        f = run(values)
        target = tf.gather(f, tf.constant(class_index), axis=1, batch_dims=1)
    return tf.reduce_mean(tape.gradient(target, acts), axis=[1, 2]).numpy()


def _user_model():
    """conv -> GAP -> Dense -> VQCLayer on a 3-qubit user circuit: input ``u`` in an ``ry``
    and an ``XXPowGate`` (two gates), input ``v`` a ``PhasedXPowGate`` exponent, weight
    ``w``, Pauli-sum readouts; ``atan`` encoding, tf backend."""
    import tf_keras as keras

    from qgcam_tf.model.layers import VQCLayer

    q = cirq.LineQubit.range(3)
    u, v, w = sympy.symbols("u v w")
    circuit = cirq.Circuit(
        cirq.H.on_each(*q),
        cirq.ry(u).on(q[0]),
        cirq.XXPowGate(exponent=0.5 * u - 0.2, global_shift=0.1).on(q[0], q[1]),
        cirq.PhasedXPowGate(exponent=v, phase_exponent=0.3).on(q[2]),
        cirq.CZ(q[1], q[2]),
        cirq.rz(w - u).on(q[1]),
        cirq.CNOT(q[2], q[0]),
        cirq.rx(w).on(q[2]),
    )
    readouts = [
        cirq.Z(q[0]) + 0.5 * cirq.X(q[1]) * cirq.Y(q[2]),
        cirq.PauliString(cirq.Y(q[0]) * cirq.Z(q[2])),
        -0.7 * cirq.X(q[2]) + 0.2,
    ]
    keras.utils.set_random_seed(8)
    images = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(images)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.Dense(
        2, kernel_initializer=keras.initializers.RandomNormal(0, 2), name="dense"
    )(h)
    layer = VQCLayer.from_circuit(
        circuit, [u, v], [w], readouts, encoding="atan", backend="tf", name="q"
    )
    return keras.Model(images, keras.layers.Softmax()(layer(h)))


def _commutator_model(name):
    """``(model, conv layer name)`` for the float64 comparisons below."""
    import tf_keras as keras

    if name == "user":
        return _user_model(), "conv"
    if name.startswith("paper"):
        n = int(name[-1])
        spec = VQCSpec(n, 2, n)
    else:
        ansatz, encoding = name.split("-")
        spec = VQCSpec(3, 2, 3, ansatz=ansatz, encoding=encoding)
    keras.utils.set_random_seed(6)
    model = build_hybrid_model((8, 8, 1), spec.n_outputs, vqc=spec, backend="tf", conv_filters=(5,))
    # BatchNorm statistics away from (0, 1), so the float64 head is checked too
    bn = model.get_layer("bn")
    rng = np.random.default_rng(1)
    bn.set_weights([rng.uniform(0.5, 2, w.shape) for w in bn.get_weights()])
    return model, "qgcam_conv"


@pytest.mark.parametrize(
    "name",
    ["paper2", "paper3", "paper4", "hardware_efficient-paper", "reuploading-identity", "user"],
)
def test_commutator_weights_equal_shift_and_float64_autodiff(name):
    """On the paper's circuit (2-4 qubits), both ansatz families and a user circuit (a symbol
    in two gates, XXPowGate, PhasedXPowGate), at two sets of random images: commutator
    weights equal a float64 GradientTape and the parameter-shift weights within 1e-6 and
    1e-5 of the largest weight (weights are float32 vector-Jacobian products)."""
    model, layer = _commutator_model(name)
    cam = QGradCAM(model, layer=layer)
    n_classes = int(model.output_shape[-1])
    for seed in (0, 1):
        images = np.random.default_rng(seed).uniform(size=(4, 8, 8, 1)).astype(np.float32)
        ci = (np.arange(4) + seed) % n_classes
        got = cam.explicit_weights(images, ci, method="commutator")
        want = _float64_tape_weights(model, layer, images, ci)
        scale = np.abs(want).max()
        assert scale > 1e-3  # not trivially zero
        np.testing.assert_allclose(got, want, atol=min(1e-6, 1e-5 * scale))
        shift = cam.explicit_weights(images, ci)
        np.testing.assert_allclose(got, shift, atol=min(1e-6, 1e-5 * scale))


@pytest.mark.parametrize("case", circuit_cases(), ids=lambda c: c.name)
def test_commutator_weights_on_tfq_models_equal_a_direct_tape(case, tiny_images):
    """On TFQ ControlledPQC hybrids (the circuits input prepended), commutator weights equal a
    direct GradientTape through TFQ within 1e-4 (TFQ's float32) and the shift weights within
    1e-5."""
    model, cam, feed = _explicit_cam(case, "ControlledPQC")
    ci = (np.arange(len(tiny_images)) + 2) % len(case.readouts)
    got = cam.explicit_weights(tiny_images, ci, method="commutator")
    want, _ = _tape_weights(model, feed(tiny_images), ci)
    assert np.abs(want).max() > 1e-2
    np.testing.assert_allclose(got, want, atol=1e-4)
    np.testing.assert_allclose(got, cam.explicit_weights(tiny_images, ci), atol=1e-5)


def test_commutator_method_rejects_shots_noise_and_unknown_methods(tiny_noisy_cam, tiny_images):
    """An unknown method, or shots / noise with the exact commutator method: one ValueError
    naming the argument and its value."""
    model, cam = tiny_noisy_cam
    with pytest.raises(
        ValueError, match=r"method must be one of \('shift', 'commutator'\), got 'lie'"
    ):
        cam.explicit_weights(tiny_images, method="lie")
    with pytest.raises(ValueError, match="shots=100 .* need method='shift'"):
        cam.explicit_weights(tiny_images, method="commutator", shots=100)
    with pytest.raises(ValueError, match="need method='shift'"):
        cam.explicit_weights(tiny_images, method="commutator", noise=NoiseModel())


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
