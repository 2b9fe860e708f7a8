"""Tests for the `qgcam` CLI: predict/explain end to end, and one clear error line per mistake."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
import tf_keras as keras

from qgcam_tf.data.mnist import CLASS_NAMES
from qgcam_tf.model.hybrid import build_hybrid_model
from qgcam_tf.model.run import load_model, save_model
from qgcam_tf.quantum.circuits import VQCSpec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def qgcam(*args, check_rc=None):
    """Runs `python -m qgcam_tf ARGS` in a fresh process; returns (rc, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=ROOT, TF_USE_LEGACY_KERAS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "qgcam_tf", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """An (untrained) MNIST-shaped hybrid model saved as a run directory."""
    keras.utils.set_random_seed(0)
    model = build_hybrid_model(
        (28, 28, 1), 10, vqc=VQCSpec(10, 1, 10), backend="tf", conv_filters=(4, 8)
    )
    path = str(tmp_path_factory.mktemp("run"))
    save_model(
        model,
        path,
        metadata={"dataset": "mnist", "input_shape": [28, 28, 1], "class_names": list(CLASS_NAMES)},
    )
    return path


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    """Two MNIST test digits written as PNG files (one at 56x56 to exercise resizing)."""
    import tensorflow as tf

    from qgcam_tf.data.mnist import load_mnist

    (_, _), (x, y) = load_mnist()
    folder = tmp_path_factory.mktemp("digits")
    paths = []
    for i, size in [(0, 28), (1, 56)]:
        img = tf.image.resize(x[i], (size, size), method="nearest")
        path = str(folder / f"digit{i}.png")
        tf.io.write_file(path, tf.io.encode_png(tf.cast(tf.round(img * 255), tf.uint8)))
        paths.append(path)
    return paths, x[:2]


def test_predict_writes_csv_matching_the_model(run_dir, digit_files, tmp_path):
    """predict's CSV holds source, class, name and probabilities equal to model.predict."""
    paths, x = digit_files
    out = str(tmp_path / "preds.csv")
    qgcam("predict", "--model", run_dir, "--images", *paths, "--out", out, check_rc=0)
    rows = list(csv.DictReader(open(out)))
    assert [r["source"] for r in rows] == paths
    probs = load_model(run_dir).predict(x[:1], verbose=0)[0]
    got = np.array([float(rows[0][f"p_{c}"]) for c in CLASS_NAMES])
    np.testing.assert_allclose(got, probs, atol=2e-3)  # the PNG round trip quantises pixels
    assert rows[0]["class_name"] == CLASS_NAMES[int(rows[0]["class_index"])]


def test_explain_writes_grid_and_maps(run_dir, digit_files, tmp_path):
    """explain --dataset writes the Fig. 4 grid and maps.npz with one map per digit."""
    out = tmp_path / "explain"
    qgcam(
        "explain",
        "--model",
        run_dir,
        "--dataset",
        "mnist",
        "--count",
        "10",
        "--out",
        str(out),
        check_rc=0,
    )
    data = np.load(out / "maps.npz")
    assert sorted(data["labels"]) == list(range(10))  # one example per digit
    assert (
        data["maps"].shape == (10, 28, 28) and 0 <= data["maps"].min() and data["maps"].max() <= 1
    )
    assert (out / "qgradcam_grid.png").read_bytes()[:4] == b"\x89PNG"
    paths, _ = digit_files
    qgcam(
        "explain",
        "--model",
        run_dir,
        "--images",
        paths[0],
        "--class-index",
        "3",
        "--out",
        str(out),
        check_rc=0,
    )
    assert np.load(out / "maps.npz")["class_index"].tolist() == [3]
    assert os.path.exists(out / "digit0_qgradcam.png")


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--dataset", "cifar", "--out", "X"], "invalid choice: 'cifar'"),
        (["train", "--out", "X", "--epochs", "0"], "must be an int >= 1, got '0'"),
        (["train", "--out", "X", "--option", "snr-db=5"], "mnist has no option 'snr-db'"),
        (["predict", "--model", "RUN", "--images", "/no/such.png"], "'/no/such.png': not found"),
        (["predict", "--model", "/no/run", "--images", "a.png"], "'/no/run' does not exist"),
        (["predict", "--model", "RUN", "--images", "WRONG"], r"shape \[B, 28, 28, 1\]"),
        (["predict", "--model", "RUN", "--images", "NAN"], "NaN"),
        (
            [
                "explain",
                "--model",
                "RUN",
                "--out",
                "O",
                "--dataset",
                "mnist",
                "--class-index",
                "10",
            ],
            r"class_index must be in \[0, 10\)",
        ),
        (["explain", "--model", "RUN", "--out", "O", "--count", "0"], "must be an int >= 1"),
        (["explain", "--model", "RUN", "--out", "O", "--method", "nope"], "invalid choice: 'nope'"),
    ],
)
def test_errors_are_one_line(run_dir, tmp_path, capfd, args, message):
    """Each bad argument or input gives exactly one stderr line naming it and exit code 2."""
    np.save(tmp_path / "wrong.npy", np.zeros((1, 20, 28, 1), np.float32))
    nan = np.zeros((1, 28, 28, 1), np.float32)
    nan[0, 1, 1] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    subst = {
        "RUN": run_dir,
        "WRONG": str(tmp_path / "wrong.npy"),
        "NAN": str(tmp_path / "nan.npy"),
        "X": str(tmp_path / "x"),
        "O": str(tmp_path / "o"),
    }
    from qgcam_tf.cli.main import main

    try:  # in-process (a subprocess per case costs a TensorFlow start-up each)
        rc = main([subst.get(a, a) for a in args])
    except SystemExit as e:  # argparse's own errors
        rc = e.code
    err = capfd.readouterr().err
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("qgcam") and "Traceback" not in err
    import re

    assert re.search(message, lines[0]), lines[0]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
