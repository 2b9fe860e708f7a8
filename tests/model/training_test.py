"""Tests for qgcam_tf.model.training: a real fit, metrics.json, and resuming a killed run."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.data.registry import DatasetBundle
from qgcam_tf.model.run import load_model
from qgcam_tf.model.training import train_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _toy_bundle(n=256, seed=0):
    """Bright-left vs bright-right 8x8 images: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.uniform(0, 0.3, size=(n, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(y):
        x[i, :, 4 * label : 4 * label + 4] += 0.7
    ds = lambda a, b: tf.data.Dataset.from_tensor_slices((a, b)).batch(32)  # noqa: E731
    return DatasetBundle(
        ds(x[:192], y[:192]),
        ds(x[192:], y[192:]),
        (8, 8, 1),
        ("left", "right"),
        192,
        64,
        {"conv_filters": (4, 6)},
        {"dataset": "toy"},
    )


def test_train_learns_and_writes_run_dir(tmp_path):
    """A short fit on a separable toy task beats chance clearly and records its metrics."""
    metrics = train_model(
        _toy_bundle(),
        str(tmp_path),
        epochs=6,
        n_qubits=4,
        depth=1,
        backend="tf",
        learning_rate=2e-2,
        verbose=0,
    )
    assert metrics["test_accuracy"] >= 0.9
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["test_accuracy"] == metrics["test_accuracy"] and on_disk["n_qubits"] == 4
    model = load_model(str(tmp_path))
    x = np.stack([b for b, _ in _toy_bundle().test.unbatch().as_numpy_iterator()])
    y = np.array([l for _, l in _toy_bundle().test.unbatch().as_numpy_iterator()])
    acc = (model.predict(x, verbose=0).argmax(1) == y).mean()
    assert abs(acc - metrics["test_accuracy"]) < 1e-6  # the saved model is the evaluated one
    import tf_keras as keras

    features = keras.Model(model.inputs, model.get_layer("bn").input)
    train_x = np.concatenate([b.numpy() for b, _ in _toy_bundle().train])
    np.testing.assert_allclose(  # BatchNorm statistics are those of the final weights
        model.get_layer("bn").moving_mean.numpy(),
        features(train_x).numpy().mean(0),
        rtol=1e-4,
        atol=1e-6,
    )
    assert metrics["bn_recalibrated"] is True
    assert not (tmp_path / "backup").exists()
    with pytest.raises(ValueError, match="already holds a finished run"):
        train_model(_toy_bundle(), str(tmp_path), epochs=1, n_qubits=4, depth=1, verbose=0)


def test_bad_training_options(tmp_path):
    """Invalid epochs/qubits/learning rate raise ValueError naming them."""
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        train_model(_toy_bundle(), str(tmp_path), epochs=0)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        train_model(_toy_bundle(), str(tmp_path), learning_rate=-1.0)


@pytest.mark.slow
def test_killed_run_resumes_from_checkpoint(tmp_path):
    """A `qgcam train` killed during epoch 2 continues from epoch 2 when started again."""
    run = str(tmp_path / "run")
    cmd = [
        sys.executable,
        "-m",
        "qgcam_tf",
        "train",
        "--dataset",
        "mnist",
        "--out",
        run,
        "--epochs",
        "3",
        "--limit",
        "4096",
        "--qubits",
        "10",
        "--depth",
        "1",
        "--backend",
        "tf",
    ]
    env = dict(os.environ, PYTHONPATH=ROOT, TF_USE_LEGACY_KERAS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = os.path.join(run, "progress.json")
    deadline = time.time() + 500
    while not os.path.exists(progress) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert os.path.exists(progress), "epoch 1 never finished"
    time.sleep(0.5)  # well inside epoch 2 (an epoch takes several seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.load(open(progress))["epochs_done"] == 1, "killed too late: epoch 2 had finished"
    assert not os.path.exists(os.path.join(run, "metrics.json"))
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stdout and "1 of 3 epochs done" in again.stdout
    rows = list(csv.DictReader(open(os.path.join(run, "history.csv"))))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]  # epoch 0 was not redone
    losses = [float(r["loss"]) for r in rows]
    assert losses[2] < losses[0]  # training continued from the checkpoint, not from scratch
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    assert metrics["epochs"] == 3 and metrics["test_accuracy"] > 0.15  # chance is 0.1


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
