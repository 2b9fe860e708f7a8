"""`qgcam noise`: bad arguments exit 2 with one line; a sweep writes its CSV and plots, for
the paper's circuit, a run trained with another --ansatz, and a circuit of one's own (a
circuit that does not fit the device exits 2 with one line)."""

from __future__ import annotations

import csv
import json
import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import cirq  # noqa: E402
import numpy as np  # noqa: E402
import sympy  # noqa: E402
import tensorflow as tf  # noqa: E402

from qgcam_tf.quantum.circuits import VQCSpec  # noqa: E402
from qgcam_tf.testing.fuzz import fake_run_dir  # noqa: E402


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--strengths", "0", "1.5"], "--strengths: must be a probability in [0, 1], got '1.5'"),
        (["--strengths", "-0.1"], "must be a probability in [0, 1], got '-0.1'"),
        (["--preset", "sycamore"], "--preset: invalid choice: 'sycamore'"),
        (["--shots", "0"], "--shots: must be an int in [1, 1000000] or 'none', got '0'"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(argv, match, capsys, tmp_path):
    """`qgcam noise` rejects bad noise arguments with exit status 2 and one error line."""
    from qgcam_tf.cli.main import main

    fake_run_dir(tmp_path)  # a run directory, as far as parsing checks
    with pytest.raises(SystemExit) as exc:
        main(["noise", "--model", str(tmp_path), "--out", str(tmp_path / "o"), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err


def test_cli_missing_model_exits_2(capsys, tmp_path):
    """A run directory that does not exist gives exit 2 and one line naming it, at parsing."""
    from qgcam_tf.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["noise", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]


@pytest.mark.slow
def test_cli_sweep_writes_csv_and_plots(tmp_path, capsys):
    """`qgcam noise` on an MNIST-shaped 10-qubit model writes noise.csv, noise.png and
    noise_maps.png, simulating it exactly by default."""
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
    # auto: the paper circuit is exact up to EXACT_MAX_QUBITS = 10 qubits, so no repeats
    assert {r["method"] for r in rows} == {"density"}
    assert {r["repeats"] for r in rows} == {"1"}
    for name in ("noise.png", "noise_maps.png", "noise.json"):
        assert (out / name).stat().st_size > 1000


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A dogs-vs-cats folder of 8x8 photos: 6 per class in train/ and in test/."""
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("photos")
    for split in ("train", "test"):
        (folder / split).mkdir()
        for name in ("cat", "dog"):
            for i in range(6):
                pixels = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / split / f"{name}.{i}.png")
    return str(folder)


def test_cli_sweeps_a_run_trained_with_another_ansatz(photos, tmp_path, capsys):
    """A run of `qgcam train --ansatz hardware_efficient` (3 qubits, 8x8 photos) sweeps
    depolarizing and rainbow: one CSV row each, strength 0 reproduces the maps, the run's
    circuit is named in noise.json."""
    from qgcam_tf.cli.main import main

    run, out = str(tmp_path / "run"), tmp_path / "out"
    train = ["train", "--dataset", "dogs-vs-cats", "--data-dir", photos, "--out", run]
    train += ["--epochs", "1", "--qubits", "3", "--depth", "1", "--batch-size", "4"]
    train += ["--ansatz", "hardware_efficient", "--option", "image_size=8"]
    assert main([*train, "--option", "conv_filters=4"]) == 0, capsys.readouterr().err
    argv = ["noise", "--model", run, "--out", str(out), "--preset", "depolarizing", "rainbow"]
    code = main([*argv, "--strengths", "0", "0.05", "--count", "4", "--repeats", "1"])
    assert code == 0, capsys.readouterr().err
    with open(out / "noise.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["preset"], float(r["strength"]), r["method"]) for r in rows] == [
        ("depolarizing", 0.0, "density"), ("depolarizing", 0.05, "density"),
        ("rainbow", 1.0, "density"),
    ]  # fmt: skip
    assert float(rows[0]["ssim_mean"]) == pytest.approx(1.0, abs=1e-4)
    assert float(rows[0]["iou_mean"]) == pytest.approx(1.0, abs=1e-4)
    meta = json.loads((out / "noise.json").read_text())
    assert meta["circuit"] == "3 qubits, depth 1, hardware_efficient"


def test_cli_a_circuit_that_does_not_fit_the_device_exits_2(photos, tmp_path, capsys):
    """A run saved from a VQCLayer.from_circuit model whose CZ triangle fits no square grid:
    `--preset weber` exits 2 with one line naming the device and the pairs, no --out left;
    the depolarizing preset sweeps it."""
    import tf_keras as keras

    from qgcam_tf.cli.main import main
    from qgcam_tf.model.hybrid import CONV_LAYER, Scale
    from qgcam_tf.model.layers import VQCLayer
    from qgcam_tf.model.run import save_model

    q = cirq.LineQubit.range(3)
    x, w = sympy.symbols("x0:3"), sympy.symbols("w0:3")
    circuit = cirq.Circuit(
        [cirq.ry(x[i])(q[i]) for i in range(3)],
        [cirq.CZ(q[a], q[b]) for a, b in ((0, 1), (1, 2), (0, 2))],
        [cirq.rx(w[i])(q[i]) for i in range(3)],
    )
    keras.utils.set_random_seed(1)
    images = keras.Input((8, 8, 3), name="images")
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name=CONV_LAYER)(images)
    h = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(h))
    layer = VQCLayer.from_circuit(circuit, x, w, [cirq.Z(q[0]), cirq.Z(q[2])], name="vqc")
    probs = keras.layers.Softmax()(Scale(name="scale")(layer(h)))
    run = str(tmp_path / "run")
    meta = {"dataset": "dogs-vs-cats", "input_shape": [8, 8, 3], "class_names": ["cat", "dog"]}
    meta["options"] = {"data_dir": photos, "image_size": 8}
    save_model(keras.Model(images, probs), run, metadata=meta)
    out = tmp_path / "out"
    argv = ["noise", "--model", run, "--out", str(out), "--count", "2", "--repeats", "1"]
    capsys.readouterr()
    assert main([*argv, "--preset", "weber"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "circuit does not fit device 'weber'" in err[0], err
    assert "(q(0), q(2))" in err[0] and not out.exists()
    assert main([*argv, "--preset", "depolarizing", "--strengths", "0.1"]) == 0
    assert (out / "noise.csv").read_text().count("\n") == 2


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
