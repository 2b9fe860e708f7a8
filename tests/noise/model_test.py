"""Noise models, noisy executors (density matrix, TFQ trajectories), shot-based QGrad-CAM, CLI."""

from __future__ import annotations

import csv
import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import cirq  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from qgcam_tf.noise import model as nz  # noqa: E402
from qgcam_tf.quantum.circuits import VQCSpec, build_vqc  # noqa: E402
from qgcam_tf.quantum.executors import make_executor  # noqa: E402

CASES = [
    (3, "depolarizing", 0.03),
    (3, "amplitude_damping", 0.08),
    (3, "phase_damping", 0.1),
    (3, "readout", 0.06),
    (3, "rainbow", None),
    (4, "rainbow", None),
    (3, "weber", None),
    (4, "weber", None),
]


def _model(n, preset, strength):
    spec = VQCSpec(n_qubits=n, depth=2, n_outputs=n)
    return spec, nz.make_noise(preset, strength, spec=spec)


def _values(spec, rng, rows=3):
    return rng.uniform(
        -np.pi, np.pi, size=(rows, 2 * spec.n_qubits + 3 * spec.depth * spec.n_qubits)
    ).astype(np.float32)


def _cirq_reference(spec, noise, values):
    """<Z_l> of the noisy circuit from cirq.DensityMatrixSimulator (float64)."""
    circuit, symbols, qubits = nz.noisy_circuit(spec, noise)
    sim = cirq.DensityMatrixSimulator(dtype=np.complex128)
    n = spec.n_qubits
    bits = (np.arange(2**n)[:, None] >> (n - 1 - np.arange(spec.n_outputs))[None]) & 1
    out = []
    for row in values:
        rho = sim.simulate(
            circuit, cirq.ParamResolver(dict(zip(symbols, map(float, row)))), qubit_order=qubits
        )
        out.append(np.real(np.diag(rho.final_density_matrix)) @ (1 - 2 * bits))
    return np.array(out)


@pytest.mark.parametrize("n,preset,strength", CASES)
def test_density_executor_matches_cirq(n, preset, strength, rng):
    """The exact executor equals cirq.DensityMatrixSimulator on the same noisy circuit (1e-5)."""
    spec, noise = _model(n, preset, strength)
    values = _values(spec, rng)
    got = nz.noisy_executor(spec, noise, method="density")(tf.constant(values)).numpy()
    ref = _cirq_reference(spec, noise, values)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    # the noise is visible: the noiseless circuit differs by far more than the tolerance
    clean = make_executor(spec, "tf")(tf.constant(values)).numpy()
    assert np.abs(clean - ref).max() > 1e-3


@pytest.mark.parametrize(
    "n,preset,strength", [c for c in CASES if c[0] == 3] + [(4, "rainbow", None)]
)
def test_trajectories_match_cirq_within_4_standard_errors(n, preset, strength, rng):
    """TFQ trajectory means agree with the exact noisy expectations within 4 standard errors."""
    spec, noise = _model(n, preset, strength)
    values = _values(spec, rng, rows=2)
    # Independent means of `repetitions` trajectories each give the standard error. 64 chunks
    # (not 16) so the estimated error is nearly exact: with 16 its t(15) tails made the 36
    # comparisons of this test fail about once in 25 runs at 4 standard errors.
    chunks = 64
    run = nz.noisy_executor(spec, noise, method="trajectories", repetitions=75)
    means = run(tf.constant(np.repeat(values, chunks, axis=0))).numpy().reshape(2, chunks, -1)
    estimate = means.mean(axis=1)
    stderr = means.std(axis=1, ddof=1) / np.sqrt(chunks)
    assert np.all(stderr > 0), "trajectory chunks are not independent"
    ref = _cirq_reference(spec, noise, values)
    assert np.all(np.abs(estimate - ref) <= 4 * stderr + 1e-6), (estimate, ref, stderr)


def test_zero_noise_is_the_paper_circuit(rng):
    """A zero model inserts no channel, and its expectations equal the noiseless executor's."""
    spec = VQCSpec(3, 2, 3)
    circuit, _, _ = nz.noisy_circuit(spec, nz.NoiseModel())
    assert circuit == cirq.Circuit(build_vqc(spec)[0].all_operations())
    values = tf.constant(_values(spec, rng))
    exact = make_executor(spec, "tf")(values).numpy()
    for method in ("density", "trajectories"):
        run = nz.noisy_executor(spec, nz.NoiseModel(), method=method)
        np.testing.assert_allclose(run(values), exact, atol=1e-5)


def test_channel_convention_after_every_gate():
    """Channels follow every gate on each of its qubits; readout flips end the circuit."""
    spec = VQCSpec(3, 1, 2)
    noise = nz.NoiseModel(depolarizing=0.01, amplitude_damping=0.02, readout=0.03)
    ops = list(nz.noisy_circuit(spec, noise)[0].all_operations())
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


@pytest.mark.parametrize("device,n", [("rainbow", 4), ("rainbow", 5), ("weber", 10)])
def test_hardware_preset_follows_calibration(device, n):
    """Placement is connected on the device; readout and T1 damping follow its calibration."""
    import cirq_google

    spec = VQCSpec(n, 2, 2)
    noise = nz.make_noise(device, spec=spec)
    cal = cirq_google.engine.load_median_device_calibration(device)
    q = noise.qubits
    assert len(set(q)) == n
    assert all(q[i].is_adjacent(q[i + 1]) for i in range(n - 1))
    if n % 2 == 0:  # even rings exist on a grid: the closing CNOT is native too
        assert q[-1].is_adjacent(q[0])

    def metric(name, qubit):
        return float(cal[name][(qubit,)][0])

    expected_readout = [
        (metric("single_qubit_p00_error", x) + metric("single_qubit_p11_error", x)) / 2 for x in q
    ]
    np.testing.assert_allclose(noise.readout, expected_readout, rtol=1e-12)
    t1_ns = np.array([metric("single_qubit_idle_t1_micros", x) * 1000 for x in q])
    np.testing.assert_allclose(
        noise.amplitude_damping, 1 - np.exp(-nz.SINGLE_QUBIT_NS / t1_ns), rtol=1e-9
    )
    dep2 = np.array(noise.two_qubit_depolarizing)
    # where T1/T_phi already explain a pair's XEB error the remaining depolarizing is 0
    assert np.all((dep2 >= 0) & (dep2 < 0.05)) and dep2.mean() > 1e-3
    if n % 2:  # the routed closing edge of a line costs more than any native CNOT
        assert dep2[-1, 0] > dep2[:-1, 0].max()


def _tiny_cam(noise_method="density"):
    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.model.hybrid import build_hybrid_model

    tf.keras.utils.set_random_seed(3)
    model = build_hybrid_model((8, 8, 1), 3, vqc=VQCSpec(3, 1, 3), backend="tf", conv_filters=(4,))
    return model, QGradCAM(model)


def test_noisy_explicit_weights_equal_autodiff_through_density(tiny_images):
    """Parameter shift on the noisy circuit equals backprop through the density executor."""
    from qgcam_tf.model.hybrid import CONV_LAYER, VQC_LAYER
    from qgcam_tf.quantum.circuits import symbol_values

    model, cam = _tiny_cam()
    noise = nz.make_noise("depolarizing", 0.05, method="density")
    images = tiny_images[:4]
    weights = cam.explicit_weights(images, 1, noise=noise)
    vqc = model.get_layer(VQC_LAYER)
    import tf_keras as keras

    probe = keras.Model(model.inputs, [model.get_layer(CONV_LAYER).output, vqc.input])
    run = nz.noisy_executor(vqc.spec, noise)
    with tf.GradientTape() as tape:
        acts, x = probe(tf.constant(images), training=False)
        target = run(symbol_values(x, vqc.theta))[:, 1]
    expected = tf.reduce_mean(tape.gradient(target, acts), axis=[1, 2]).numpy()
    np.testing.assert_allclose(weights, expected, atol=2e-5, rtol=1e-3)
    assert np.abs(weights - cam.explicit_weights(images, 1)).max() > 1e-4  # noise changes them


def test_shot_weights_converge_as_inverse_sqrt_shots(tiny_images):
    """The error of shot-based weights falls like S^-1/2: log-log slope in [-0.75, -0.25]."""
    _, cam = _tiny_cam()
    noise = nz.make_noise("depolarizing", 0.02, method="density")
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


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (
            dict(depolarizing=-0.1),
            r"NoiseModel.depolarizing must be a probability in \[0, 1\], got -0.1",
        ),
        (dict(amplitude_damping=1.5), r"amplitude_damping .*got 1.5"),
        (dict(readout=(0.1, float("nan"))), r"readout .*got nan"),
        (dict(two_qubit_phase_damping=((0.1, 2.0),)), r"two_qubit_phase_damping .*got 2.0"),
        (dict(method="exact"), r"method must be one of .*got 'exact'"),
        (dict(repetitions=0), r"repetitions must be an int >= 1, got 0"),
    ],
)
def test_invalid_noise_models_raise(kwargs, match):
    """Out-of-range probabilities and bad execution options give one ValueError naming them."""
    with pytest.raises(ValueError, match=match):
        nz.NoiseModel(**kwargs)


def test_invalid_presets_and_arguments_raise():
    """Unknown presets/channels, wrong lengths and shots < 1 give a clear ValueError."""
    spec = VQCSpec(3, 1, 3)
    with pytest.raises(ValueError, match="unknown noise preset 'sycamore'"):
        nz.make_noise("sycamore", 0.1, spec=spec)
    with pytest.raises(ValueError, match="unknown noise channel 'thermal'"):
        nz.NoiseModel.from_dict({"thermal": 0.1})
    with pytest.raises(ValueError, match="depolarizing must be a probability .*got 1.2"):
        nz.make_noise("depolarizing", 1.2)
    with pytest.raises(ValueError, match="has 2 values for 3 qubits"):
        nz.noisy_circuit(spec, nz.NoiseModel(depolarizing=(0.1, 0.1)))
    with pytest.raises(ValueError, match="needs the circuit spec"):
        nz.make_noise("rainbow")
    with pytest.raises(ValueError, match="noise must be a NoiseModel or a preset name"):
        nz.noisy_executor(spec, 0.1)
    _, cam = _tiny_cam()
    with pytest.raises(ValueError, match="shots must be an int >= 1 or None, got 0"):
        cam.explicit_weights(np.zeros((1, 8, 8, 1), np.float32), noise=nz.NoiseModel(), shots=0)
    assert nz.presets() == (
        "rainbow",
        "weber",
        "depolarizing",
        "amplitude_damping",
        "phase_damping",
        "readout",
    )


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--strengths", "0", "1.5"], "--strengths: must be a probability in [0, 1], got '1.5'"),
        (["--strengths", "-0.1"], "must be a probability in [0, 1], got '-0.1'"),
        (["--preset", "sycamore"], "--preset: invalid choice: 'sycamore'"),
        (["--shots", "0"], "--shots: must be an int >= 1 or 'none', got '0'"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(argv, match, capsys, tmp_path):
    """`qgcam noise` rejects bad noise arguments with exit status 2 and one error line."""
    from qgcam_tf.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["noise", "--model", str(tmp_path), "--out", str(tmp_path / "o"), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err


def test_cli_missing_model_exits_2(capsys, tmp_path):
    """A run directory that does not exist gives exit 2 and one line naming it."""
    from qgcam_tf.cli.main import main

    assert main(["noise", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]


def test_run_sweep_zero_noise_reproduces_the_model(tiny_images):
    """At strength 0 the sweep gives the model's own accuracy and maps; noise moves them."""
    from qgcam_tf.evaluate import robustness as rb
    from qgcam_tf.explain.qgradcam import QGradCAM

    model, _ = _tiny_cam()
    images = np.concatenate([tiny_images, tiny_images[:, ::-1]])
    labels = np.arange(len(images)) % 3
    configs = [
        rb.NoiseConfig("depolarizing", s, s, nz.make_noise("depolarizing", s, method="density"))
        for s in (0.0, 0.3)
    ] + [rb.NoiseConfig("depolarizing", 0.0, 0.0, nz.make_noise("depolarizing", 0.0), shots=50)]
    rows, example = rb.run_sweep(model, images, labels, configs, repeats=2, seed=1)
    clean = np.argmax(model.predict(images, verbose=0), -1)
    assert rows[0]["accuracy_mean"] == pytest.approx(np.mean(clean == labels))
    for m in rb.MAP_METRICS:
        assert rows[0][f"{m}_mean"] == pytest.approx(1.0, abs=1e-4)
        assert rows[1][f"{m}_mean"] < 0.999
    assert rows[0]["repeats"] == 1 and rows[2]["repeats"] == 2 and rows[2]["pearson_std"] > 0
    np.testing.assert_allclose(example["reference"], QGradCAM(model)(images[:1]).maps[0], atol=1e-5)


@pytest.mark.slow
def test_cli_sweep_writes_csv_and_plots(tmp_path, capsys):
    """`qgcam noise` on an MNIST-shaped model writes noise.csv, noise.png and noise_maps.png."""
    from qgcam_tf.cli.main import main
    from qgcam_tf.data.mnist import load_mnist
    from qgcam_tf.model.hybrid import build_hybrid_model
    from qgcam_tf.model.run import save_model

    try:
        load_mnist(None)
    except (FileNotFoundError, ImportError) as e:
        pytest.skip(f"embedded MNIST not available: {e}")
    tf.keras.utils.set_random_seed(0)
    model = build_hybrid_model(
        (28, 28, 1), 10, vqc=VQCSpec(10, 1, 10), backend="tf", conv_filters=(4,)
    )
    save_model(
        model, str(tmp_path / "run"), metadata={"dataset": "mnist", "input_shape": [28, 28, 1]}
    )
    out = tmp_path / "out"
    code = main(
        [
            "noise",
            "--model",
            str(tmp_path / "run"),
            "--out",
            str(out),
            "--preset",
            "depolarizing",
            "rainbow",
            "--strengths",
            "0",
            "0.05",
            "--count",
            "3",
            "--repeats",
            "2",
            "--repetitions",
            "10",
        ]
    )
    assert code == 0, capsys.readouterr().err
    with open(out / "noise.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["preset"], float(r["strength"])) for r in rows] == [
        ("depolarizing", 0.0),
        ("depolarizing", 0.05),
        ("rainbow", 1.0),
    ]
    assert float(rows[0]["pearson_mean"]) == pytest.approx(1.0, abs=1e-4)
    assert {r["method"] for r in rows} == {"trajectories"}
    for name in ("noise.png", "noise_maps.png", "noise.json"):
        assert (out / name).stat().st_size > 1000


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
