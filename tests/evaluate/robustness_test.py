"""qgcam_tf.evaluate.robustness: the noise sweep at strength 0 reproduces the model; on any
circuit (another family, VQCLayer.from_circuit, CircuitLayer) the noisy model equals the
circuit run with Cirq channels inserted by the test."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import cirq  # noqa: E402
import numpy as np  # noqa: E402
import sympy  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from qgcam_tf.noise.model import NoiseModel  # noqa: E402
from qgcam_tf.noise.presets import make_noise  # noqa: E402
from qgcam_tf.quantum.circuits import VQCSpec  # noqa: E402

CHANNELS = (
    ("depolarizing", cirq.depolarize),
    ("amplitude_damping", cirq.amplitude_damp),
    ("phase_damping", cirq.phase_damp),
)


def cirq_expectations(circuit, symbols, values, readouts, noise):
    """<readouts> [B, L] by cirq.DensityMatrixSimulator with the model's channels inserted
    here: after each one-qubit gate its qubit's strengths, after each two-qubit gate the
    pair's (NoiseModel.two_qubit_pair), and each term scaled by prod (1 - 2 readout_q)."""
    qubits = sorted(set(circuit.all_qubits()).union(*(r.qubits for r in readouts)))
    n, index = len(qubits), {q: i for i, q in enumerate(qubits)}
    ops = []
    for op in circuit.all_operations():
        ops.append(op)
        ks = [index[q] for q in op.qubits]
        for name, channel in CHANNELS:
            if len(ks) == 1:
                strengths = [noise.per_qubit(name, n)[ks[0]]]
            else:
                strengths = noise.two_qubit_pair(name, n, *ks)
            ops += [channel(p).on(q) for p, q in zip(strengths, op.qubits)]
    noisy = cirq.Circuit(ops)
    flips = noise.per_qubit("readout", n)
    simulator = cirq.DensityMatrixSimulator(dtype=np.complex128)
    out = []
    for row in np.asarray(values, np.float64):
        resolver = dict(zip(map(str, symbols), row))
        rho = simulator.simulate(noisy, resolver, qubit_order=qubits).final_density_matrix
        f = []
        for total in readouts:
            value = 0.0
            for term in total:
                factor = np.prod([1.0 - 2.0 * flips[index[q]] for q in term.qubits])
                value += factor * term.expectation_from_density_matrix(rho, index).real
            f.append(value)
        out.append(f)
    return np.array(out)


def reference_probabilities(model, layer, images, noise):
    """The model's probabilities with ``layer`` run by :func:`cirq_expectations`: the
    network before it and after it (scale, softmax) as Keras computes them."""
    x = keras.Model(model.inputs, layer.input)(images, training=False)
    if hasattr(layer, "vqc"):
        vqc = layer.vqc
        circuit, symbols, readouts = vqc.circuit, vqc.symbols, vqc.readouts
        values = vqc.symbol_values(x, layer.theta)
    else:
        program = layer.program
        circuit, symbols, readouts = program.circuit, program.symbols, program.readouts
        values = x
    f = tf.constant(cirq_expectations(circuit, symbols, values, readouts, noise), tf.float32)
    tail = [l for l in model.layers if l.name in ("scale", "probabilities")]
    for l in tail:
        f = l(f)
    return f.numpy()


def family_model(ansatz="hardware_efficient"):
    """A 3-qubit, depth-1 hybrid of another circuit family on 8x8 images (tf executor)."""
    from qgcam_tf.model.hybrid import build_hybrid_model

    keras.utils.set_random_seed(5)
    spec = VQCSpec(3, 1, 3, ansatz=ansatz)
    return build_hybrid_model((8, 8, 1), 3, vqc=spec, backend="tf", conv_filters=(4,))


def triangle_model(kind):
    """A hybrid whose quantum layer runs a CZ triangle (it fits no square grid) with
    Pauli-sum readouts (coefficients and an identity term): a VQCLayer.from_circuit
    ("vqc") or a CircuitLayer fed by a Dense ("circuit")."""
    from qgcam_tf.model.hybrid import CONV_LAYER, Scale
    from qgcam_tf.model.layers import CircuitLayer, VQCLayer

    q = cirq.LineQubit.range(3)
    x, w = sympy.symbols("x0:3"), sympy.symbols("w0:3")
    circuit = cirq.Circuit(
        [cirq.ry(x[i])(q[i]) for i in range(3)],
        cirq.CZ(q[0], q[1]),
        cirq.CZ(q[1], q[2]),
        cirq.CZ(q[0], q[2]),
        [cirq.rx(w[i])(q[i]) for i in range(3)],
    )
    readouts = [
        cirq.Z(q[0]),
        0.5 * cirq.X(q[1]) * cirq.Z(q[2]) + 0.25 * cirq.Y(q[0]) + 0.1,
        cirq.Z(q[1]) - 0.5 * cirq.Z(q[0]) * cirq.Z(q[2]),
    ]
    keras.utils.set_random_seed(7)
    images = keras.Input((8, 8, 1), name="images")
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name=CONV_LAYER)(images)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    if kind == "vqc":
        h = keras.layers.Dense(3, name="to_qubits")(h)
        layer = VQCLayer.from_circuit(circuit, x, w, readouts, backend="tf", name="vqc")
        scores = layer(h)
    else:
        h = keras.layers.Dense(6, name="to_symbols")(h)
        layer = CircuitLayer(circuit, x + w, readouts, name="pqc")
        scores = layer(h)
    logits = Scale(name="scale")(scores)
    probs = keras.layers.Softmax(name="probabilities")(logits)
    return keras.Model(images, probs), layer


def test_run_sweep_zero_noise_reproduces_the_model(tiny_images, tiny_noisy_cam):
    """At strength 0 the sweep gives the model's own accuracy and maps; noise moves them."""
    from qgcam_tf.evaluate import robustness as rb
    from qgcam_tf.explain.qgradcam import QGradCAM

    model, _ = tiny_noisy_cam
    images = np.concatenate([tiny_images, tiny_images[:, ::-1]])
    labels = np.arange(len(images)) % 3
    configs = [
        rb.NoiseConfig("depolarizing", s, s, make_noise("depolarizing", s, method="density"))
        for s in (0.0, 0.3)
    ] + [rb.NoiseConfig("depolarizing", 0.0, 0.0, make_noise("depolarizing", 0.0), shots=50)]
    rows, example = rb.run_sweep(model, images, labels, configs, repeats=2, seed=1)
    clean = np.argmax(model.predict(images, verbose=0), -1)
    assert rows[0]["accuracy_mean"] == pytest.approx(np.mean(clean == labels))
    for m in rb.MAP_METRICS:
        assert rows[0][f"{m}_mean"] == pytest.approx(1.0, abs=1e-4)
        assert rows[1][f"{m}_mean"] < 0.999
    assert rows[0]["repeats"] == 1 and rows[2]["repeats"] == 2 and rows[2]["pearson_std"] > 0
    np.testing.assert_allclose(example["reference"], QGradCAM(model)(images[:1]).maps[0], atol=1e-5)


def test_is_random_for_shots_and_noisy_trajectories_only(tiny_noisy_cam):
    """Shots and noisy trajectories vary between runs; exact, density and channel-free
    trajectories do not; "auto" follows the qubit count (the paper circuit: density up to
    EXACT_MAX_QUBITS = 10 qubits)."""
    from qgcam_tf.evaluate.robustness import NoiseConfig, is_random
    from qgcam_tf.model.hybrid import build_hybrid_model

    small, _ = tiny_noisy_cam  # 3 qubits
    tf.keras.utils.set_random_seed(0)
    large = build_hybrid_model((8, 8, 1), 3, vqc=VQCSpec(11, 1, 3), backend="tf", conv_filters=(4,))

    def config(noise, shots=None):
        return NoiseConfig("depolarizing", 0.05, 0.05, noise, shots)

    depolarizing = lambda method: make_noise("depolarizing", 0.05, method=method)  # noqa: E731
    assert not is_random(config(None), small)
    assert is_random(config(None, shots=100), small)
    assert is_random(config(depolarizing("density"), shots=100), small)
    assert not is_random(config(depolarizing("density")), large)
    assert is_random(config(depolarizing("trajectories")), small)
    assert not is_random(config(make_noise("depolarizing", 0.0, method="trajectories")), small)
    assert not is_random(config(depolarizing("auto")), small)
    assert is_random(config(depolarizing("auto")), large)


@pytest.mark.parametrize("ansatz", ["hardware_efficient", "reuploading"])
def test_noisy_family_model_equals_cirq_channels(ansatz, tiny_images):
    """noisy_predict on a hardware-efficient / re-uploading model at depolarizing 0, 0.05,
    0.2 and on the rainbow device (placed by its CZ ladder) equals the circuit run with
    Cirq channels by cirq.DensityMatrixSimulator, within 1e-5."""
    from qgcam_tf.evaluate import robustness as rb

    model = family_model(ansatz)
    target = rb.quantum_target(model)
    assert target.spec is None and target.n_qubits == 3
    configs = rb.noise_configs(
        target, presets=["depolarizing", "rainbow"], strengths=[0.0, 0.05, 0.2]
    )
    assert [(c.preset, c.strength) for c in configs][-1] == ("rainbow", 1.0)
    rainbow = configs[-1].model
    assert rainbow.edges == ((0, 1), (1, 2)) and len(set(rainbow.qubits)) == 3
    assert configs[-1].x == pytest.approx(rainbow.mean_two_qubit_depolarizing(3))
    layer = model.get_layer("vqc")
    for config in configs:
        probs = rb.noisy_predict(model, tiny_images, config.model)
        expected = reference_probabilities(model, layer, tiny_images, config.model)
        np.testing.assert_allclose(probs, expected, atol=1e-5, err_msg=config.preset)
    clean = rb.noisy_predict(model, tiny_images, configs[0].model)
    np.testing.assert_allclose(clean, model.predict(tiny_images, verbose=0), atol=1e-6)


@pytest.mark.parametrize("kind", ["vqc", "circuit"])
def test_any_circuit_noise_equals_cirq_and_a_misfit_is_one_error(kind, tiny_images):
    """A VQCLayer.from_circuit or CircuitLayer with Pauli-sum readouts: noise of every
    single-qubit channel and readout error equals Cirq within 1e-5, zero noise equals the
    model, and the rainbow/weber presets say the CZ triangle does not fit their grid."""
    from qgcam_tf.evaluate import robustness as rb

    model, layer = triangle_model(kind)
    target = rb.quantum_target(model)
    assert target.layer is layer and target.n_qubits == 3
    noise = NoiseModel(
        depolarizing=0.03, amplitude_damping=(0.02, 0.05, 0.0), phase_damping=0.04,
        readout=(0.01, 0.02, 0.05), two_qubit_depolarizing=0.08, method="density",
    )  # fmt: skip
    probs = rb.noisy_predict(model, tiny_images, noise)
    expected = reference_probabilities(model, layer, tiny_images, noise)
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    zero = rb.noisy_predict(model, tiny_images, make_noise("depolarizing", 0.0))
    np.testing.assert_allclose(zero, model.predict(tiny_images, verbose=0), atol=1e-6)
    for device in ("rainbow", "weber"):
        with pytest.raises(ValueError, match=f"circuit does not fit device '{device}'"):
            rb.noise_configs(target, presets=[device])


def test_shots_estimate_each_pauli_term(tiny_images):
    """With shots, a Pauli-sum readout is its constant plus each term's coefficient times a
    multiple of 2/shots, and the estimates average to the exact probabilities."""
    from qgcam_tf.evaluate import robustness as rb

    model, layer = triangle_model("circuit")
    exact = rb.noisy_predict(model, tiny_images[:2], None)
    rng = np.random.default_rng(0)
    draws = np.stack(
        [rb.noisy_predict(model, tiny_images[:2], None, shots=400, rng=rng) for _ in range(60)]
    )
    assert np.std(draws, axis=0).min() > 0
    # 60 x 400 shots: the mean's standard error is below 0.01 for these probabilities
    np.testing.assert_allclose(draws.mean(axis=0), exact, atol=0.03)


def test_run_sweep_on_a_family_model_zero_noise_reproduces_it(tiny_images):
    """On a hardware-efficient model the sweep at strength 0 gives its accuracy and maps,
    shots move the maps (and are repeated), and the rainbow rows are placed and measured."""
    from qgcam_tf.evaluate import robustness as rb
    from qgcam_tf.explain.qgradcam import QGradCAM

    model = family_model()
    images = np.concatenate([tiny_images, tiny_images[:, ::-1]])
    labels = np.arange(len(images)) % 3
    target = rb.quantum_target(model)
    configs = rb.noise_configs(
        target, presets=["depolarizing", "rainbow"], scales=[20.0], shots=[None, 20]
    )
    rows, example = rb.run_sweep(model, images, labels, configs, repeats=2, seed=1)
    clean = np.argmax(model.predict(images, verbose=0), -1)
    assert rows[0]["accuracy_mean"] == pytest.approx(np.mean(clean == labels))
    for m in rb.MAP_METRICS:
        assert rows[0][f"{m}_mean"] == pytest.approx(1.0, abs=1e-4)
        assert rows[1][f"{m}_mean"] < 0.999 and rows[1][f"{m}_std"] > 0
    assert [(r["preset"], r["shots"], r["repeats"]) for r in rows] == [
        ("depolarizing", "", 1), ("depolarizing", 20, 2), ("rainbow", "", 1), ("rainbow", 20, 2)
    ]  # fmt: skip
    assert {r["method"] for r in rows} == {"density"} and 0 < rows[2]["pearson_mean"] <= 1
    np.testing.assert_allclose(example["reference"], QGradCAM(model)(images[:1]).maps[0], atol=1e-5)


def test_quantum_target_refuses_a_layer_without_a_circuit(tiny_noisy_cam):
    """A score layer that is no VQCLayer/CircuitLayer is one ValueError naming it; the
    paper's layer keeps its spec (its ring placement and fast noisy executor)."""
    from qgcam_tf.evaluate import robustness as rb

    model, _ = tiny_noisy_cam
    assert rb.quantum_target(model).spec == VQCSpec(3, 1, 3)
    with pytest.raises(ValueError, match="score_layer 'scale' is a Scale, not a quantum layer"):
        rb.quantum_target(model, "scale")
    with pytest.raises(ValueError, match="score_layer 'nope' is not in the model"):
        rb.noisy_predict(model, np.zeros((1, 8, 8, 1), np.float32), None, score_layer="nope")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
