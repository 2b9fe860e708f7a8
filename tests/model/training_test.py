"""Tests for qgcam_tf.model.training: a real fit, metrics.json, and resuming a killed run."""

import csv
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.data.registry import DatasetBundle
from qgcam_tf.model import training
from qgcam_tf.model.run import load_model, read_metadata
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
    cut = 3 * n // 4  # train on the first three quarters, test on the rest
    return DatasetBundle(
        ds(x[:cut], y[:cut]),
        ds(x[cut:], y[cut:]),
        (8, 8, 1),
        ("left", "right"),
        cut,
        n - cut,
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
    first = np.concatenate([b.numpy() for b, _ in _toy_bundle().train])[:1024]
    meta = read_metadata(str(tmp_path))
    assert meta["input_mean"] == pytest.approx(float(first.astype(np.float64).mean()), abs=1e-9)
    assert not (tmp_path / "backup").exists()
    with pytest.raises(ValueError, match="already holds a finished run"):
        train_model(_toy_bundle(), str(tmp_path), epochs=1, n_qubits=4, depth=1, verbose=0)


def test_bad_training_options(tmp_path):
    """Invalid epochs/qubits/learning rate raise ValueError naming them."""
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        train_model(_toy_bundle(), str(tmp_path), epochs=0)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        train_model(_toy_bundle(), str(tmp_path), learning_rate=-1.0)
    with pytest.raises(TypeError, match="extra_metrics must be a callable"):
        train_model(_toy_bundle(), str(tmp_path), extra_metrics={"a": 1})
    assert not (tmp_path / "model.json").exists()  # rejected before any training


def test_extra_metrics_join_metrics_json_written_once(tmp_path, monkeypatch):
    """A library call with extra_metrics writes metrics.json once, extra keys included,
    computed on the final model (its test accuracy matches the standard metric)."""
    writes = []
    real_write = training.write_json_atomic

    def counting_write(path, data):
        writes.append(os.path.basename(path))
        return real_write(path, data)

    monkeypatch.setattr(training, "write_json_atomic", counting_write)
    seen = {}

    def extra(model, bundle):
        x = np.concatenate([b.numpy() for b, _ in bundle.test])
        y = np.concatenate([l.numpy() for _, l in bundle.test])
        seen["bundle"] = bundle
        return {"my_accuracy": float((model.predict(x, verbose=0).argmax(1) == y).mean())}

    bundle = _toy_bundle(n=96)
    metrics = train_model(
        bundle,
        str(tmp_path),
        epochs=1,
        n_qubits=2,
        depth=1,
        backend="tf",
        verbose=0,
        extra_metrics=extra,
    )
    assert writes.count("metrics.json") == 1
    assert seen["bundle"] is bundle
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == metrics
    assert on_disk["my_accuracy"] == pytest.approx(on_disk["test_accuracy"], abs=1e-6)


def test_extra_metrics_must_add_new_keys(tmp_path):
    """An extra metric that would replace a standard one, or is no dict, leaves no
    metrics.json (the run stays unfinished) and raises naming the problem."""
    common = dict(epochs=1, n_qubits=2, depth=1, backend="tf", verbose=0)
    with pytest.raises(ValueError, match=r"must not replace the standard metrics.*test_accuracy"):
        train_model(
            _toy_bundle(n=96),
            str(tmp_path / "a"),
            extra_metrics=lambda m, b: {"test_accuracy": 1},
            **common,
        )
    assert not (tmp_path / "a" / "metrics.json").exists()
    with pytest.raises(TypeError, match="extra_metrics must return a dict, got list"):
        train_model(_toy_bundle(n=96), str(tmp_path / "b"), extra_metrics=lambda m, b: [], **common)
    assert not (tmp_path / "b" / "metrics.json").exists()


def test_input_mean_averages_the_first_inputs():
    """input_mean is the NumPy mean of the first `limit` inputs, across batch boundaries."""
    x = np.random.default_rng(1).uniform(size=(50, 3, 3, 1)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(50))).batch(8)
    assert training.input_mean(ds, limit=20) == pytest.approx(x[:20].astype(np.float64).mean())
    assert training.input_mean(ds) == pytest.approx(x.astype(np.float64).mean())
    with pytest.raises(ValueError, match="dataset is empty"):
        training.input_mean(ds.take(0))


# `python -c KILLED_TRAIN MARKER EPOCH BATCH train ...` runs `qgcam train ...` with a callback
# that SIGKILLs the process after batch BATCH of epoch EPOCH (both 0-based), first writing
# them to the file MARKER: the kill falls at the same step on every run, with no sleeps and no
# timing. Only this child's `fit` gets the callback; the library is unchanged.
KILLED_TRAIN = """
import json, os, signal, sys
import tf_keras as keras
from qgcam_tf.cli.main import main

marker, kill_epoch, kill_batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

class KillAtBatch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == kill_epoch and batch == kill_batch:
            with open(marker, "w") as f:
                json.dump({"epoch": self.epoch, "batch": batch}, f)
            os.kill(os.getpid(), signal.SIGKILL)

fit = keras.Model.fit

def fit_killed(self, *args, callbacks=None, **kwargs):
    return fit(self, *args, callbacks=[*(callbacks or []), KillAtBatch()], **kwargs)

keras.Model.fit = fit_killed
sys.exit(main(sys.argv[4:]))
"""
KILL_EPOCH, KILL_BATCH = 1, 31  # epoch 2 of 3, halfway: 4096 examples are 64 batches of 64


@pytest.mark.slow
def test_killed_run_resumes_from_checkpoint(tmp_path):
    """A `qgcam train` SIGKILLed halfway through epoch 2 continues from epoch 2 when started
    again, from the epoch-1 checkpoint."""
    run = str(tmp_path / "run")
    train = [
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
    marker = str(tmp_path / "killed.json")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_TRAIN, marker, str(KILL_EPOCH), str(KILL_BATCH), *train],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    assert json.load(open(marker)) == {"epoch": KILL_EPOCH, "batch": KILL_BATCH}
    progress = os.path.join(run, "progress.json")
    assert json.load(open(progress))["epochs_done"] == 1  # epoch 1's checkpoint, not epoch 2's
    assert not os.path.exists(os.path.join(run, "metrics.json"))
    history = os.path.join(run, "history.csv")
    assert [int(r["epoch"]) for r in csv.DictReader(open(history))] == [0]
    again = subprocess.run(
        [sys.executable, "-m", "qgcam_tf", *train],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stdout and "1 of 3 epochs done" in again.stdout
    rows = list(csv.DictReader(open(history)))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]  # epoch 0 was not redone
    losses = [float(r["loss"]) for r in rows]
    # epoch 2 started from the epoch-1 checkpoint (from fresh weights its loss would be
    # epoch 1's), and training went on from there
    assert losses[1] < losses[0] and losses[2] < losses[0], losses
    assert json.load(open(progress))["epochs_done"] == 3
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    assert metrics["epochs"] == 3 and metrics["test_accuracy"] > 0.15  # chance is 0.1


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
