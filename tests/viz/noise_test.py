"""Tests of qgcam_tf.viz.noise: the figures of ``qgcam noise``, and the sweep of a run
whose quantum layer runs any circuit."""

import csv
import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import cirq  # noqa: E402
import matplotlib.image  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sympy  # noqa: E402

from qgcam_tf.evaluate.robustness import MAP_METRICS, NoiseConfig  # noqa: E402
from qgcam_tf.viz import noise as viz_noise  # noqa: E402
from qgcam_tf.viz.noise import plot_maps, plot_sweep, write_noise_sweep  # noqa: E402


def photo_run(folder, model):
    """``model`` saved as a dogs-vs-cats run of 8x8 photos (4 per class in train/ and
    test/, Kaggle names), the smallest images a registered dataset reads."""
    from PIL import Image

    from qgcam_tf.model.run import save_model

    rng = np.random.default_rng(0)
    data = folder / "photos"
    for split in ("train", "test"):
        (data / split).mkdir(parents=True)
        for name in ("cat", "dog"):
            for i in range(4):
                pixels = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(data / split / f"{name}.{i}.png")
    run = folder / "run"
    meta = {
        "dataset": "dogs-vs-cats",
        "input_shape": [8, 8, 3],
        "class_names": ["cat", "dog"],
        "options": {"data_dir": str(data), "image_size": 8},
    }
    save_model(model, str(run), metadata=meta)
    return str(run)


def circuit_model():
    """An 8x8 RGB hybrid whose VQCLayer.from_circuit runs a 2-qubit circuit with Pauli-sum
    readouts (2 classes)."""
    import tf_keras as keras

    from qgcam_tf.model.hybrid import CONV_LAYER, Scale
    from qgcam_tf.model.layers import VQCLayer

    q = cirq.LineQubit.range(2)
    x, w = sympy.symbols("x0:2"), sympy.symbols("w0:2")
    circuit = cirq.Circuit(
        cirq.ry(x[0])(q[0]), cirq.ry(x[1])(q[1]), cirq.CZ(*q), cirq.rx(w[0])(q[0]),
        cirq.ry(w[1])(q[1]),
    )  # fmt: skip
    readouts = [cirq.Z(q[0]), 0.5 * cirq.X(q[0]) * cirq.X(q[1]) + 0.2]
    keras.utils.set_random_seed(1)  # seed 1: non-zero maps for every test photo
    images = keras.Input((8, 8, 3), name="images")
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name=CONV_LAYER)(images)
    h = keras.layers.Dense(2, name="to_qubits")(keras.layers.GlobalAveragePooling2D()(h))
    scores = VQCLayer.from_circuit(circuit, x, w, readouts, backend="tf", name="vqc")(h)
    probs = keras.layers.Softmax(name="probabilities")(Scale(name="scale")(scores))
    return keras.Model(images, probs)


def test_write_noise_sweep_on_a_run_of_any_circuit(tmp_path):
    """A run saved from a VQCLayer.from_circuit model sweeps depolarizing and rainbow (its
    CZ placed on a coupler): CSV rows, figures and JSON naming the circuit; strength 0
    gives the run's own accuracy and maps."""
    from qgcam_tf.model.run import Run

    run_dir = photo_run(tmp_path, circuit_model())
    out = tmp_path / "out"
    lines = []
    written = write_noise_sweep(
        run_dir, str(out), presets=["depolarizing", "rainbow"], strengths=[0.0, 0.1],
        count=4, repeats=1, log=lines.append,
    )  # fmt: skip
    assert sorted(os.path.basename(p) for p in written) == sorted(
        ["noise.csv", "noise.png", "noise_maps.png", "noise.json"]
    )
    with open(out / "noise.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["preset"], float(r["strength"])) for r in rows] == [
        ("depolarizing", 0.0), ("depolarizing", 0.1), ("rainbow", 1.0)
    ]  # fmt: skip
    run = Run.open(run_dir)
    images, labels, _ = run.test_examples(count=4, seed=0)
    clean = np.argmax(run.model().predict(images, verbose=0), -1)
    assert float(rows[0]["accuracy_mean"]) == pytest.approx(np.mean(clean == labels))
    assert float(rows[0]["pearson_mean"]) == pytest.approx(1.0, abs=1e-4)
    assert 0 < float(rows[2]["x"]) < 0.05 and len(lines) == 3
    meta = json.loads((out / "noise.json").read_text())
    assert meta["circuit"] == "2 qubits, 5 gates" and len(meta["rows"]) == 3


def test_a_run_without_a_quantum_layer_is_one_error(tmp_path):
    """A run of a classical model names itself and the missing quantum layer; no output."""
    import tf_keras as keras

    from qgcam_tf.model.hybrid import CONV_LAYER

    images = keras.Input((8, 8, 3), name="images")
    h = keras.layers.Conv2D(4, 3, padding="same", name=CONV_LAYER)(images)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(images, keras.layers.Dense(2, activation="softmax", name="logits")(h))
    run_dir = photo_run(tmp_path, model)
    with pytest.raises(ValueError, match="noise needs a hybrid model .*'logits' is a Dense"):
        write_noise_sweep(run_dir, str(tmp_path / "out"), presets=["depolarizing"])
    assert not (tmp_path / "out").exists()


def _row(preset, x, shots, value):
    row = {"preset": preset, "strength": x, "x": x, "shots": shots}
    for name in ("accuracy",) + MAP_METRICS:
        row.update({f"{name}_mean": value, f"{name}_std": 0.03, f"{name}_ci95": 0.04})
    return row


def test_plot_sweep_draws_one_line_per_preset_and_shots(tmp_path, monkeypatch):
    """Rows are grouped by (preset, shots), sorted by strength, with error bars
    sqrt(std^2 + ci95^2) = 0.05; the PNG is readable."""
    rows = [
        _row("depolarizing", 0.05, "", 0.7),
        _row("depolarizing", 0.0, "", 0.9),
        _row("depolarizing", 0.0, 100, 0.8),
        _row("rainbow", 0.01, "", 0.85),
    ]
    plt = viz_noise.pyplot()
    drawn = []
    real_errorbar = plt.Axes.errorbar

    def recording_errorbar(ax, x, y, yerr=None, **kwargs):
        drawn.append((kwargs["label"], list(x), list(y), list(yerr)))
        return real_errorbar(ax, x, y, yerr=yerr, **kwargs)

    monkeypatch.setattr(plt.Axes, "errorbar", recording_errorbar)
    path = tmp_path / "noise.png"
    plot_sweep(rows, str(path), title="t")
    assert len(drawn) == 4 * 3  # four panels, three lines each
    first_panel = {label: (x, y, err) for label, x, y, err in drawn[:3]}
    assert first_panel["depolarizing"] == ([0.0, 0.05], [0.9, 0.7], pytest.approx([0.05] * 2))
    assert first_panel["depolarizing, 100 shots"][:2] == ([0.0], [0.8])
    assert first_panel["rainbow"][:2] == ([0.01], [0.85])
    assert matplotlib.image.imread(str(path)).ndim == 3


def test_plot_maps_one_panel_per_configuration(tmp_path):
    """The input, the noiseless map and one panel per configuration: a wider PNG for more."""
    rng = np.random.default_rng(0)
    configs = [NoiseConfig("depolarizing", s, s, None) for s in (0.0, 0.01, 0.02, 0.05)]
    example = {
        "image": rng.uniform(size=(8, 8, 1)),
        "reference": rng.uniform(size=(8, 8)),
        "maps": [(c, rng.uniform(size=(8, 8))) for c in configs],
    }
    plot_maps(example, str(tmp_path / "four.png"))
    plot_maps({**example, "maps": example["maps"][:1]}, str(tmp_path / "one.png"))
    wide = matplotlib.image.imread(str(tmp_path / "four.png")).shape[1]
    narrow = matplotlib.image.imread(str(tmp_path / "one.png")).shape[1]
    assert 1.7 < wide / narrow < 2.3  # 6 panels against 3


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
