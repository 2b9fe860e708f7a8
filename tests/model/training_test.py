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
    with pytest.raises(ValueError, match=r"epochs must be an int in \[1, 1000\], got 0"):
        train_model(_toy_bundle(), str(tmp_path), epochs=0)
    with pytest.raises(ValueError, match=r"learning_rate must be a number in \(0, 1\], got -1.0"):
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


def _small(tmp_path, name="run", **kwargs):
    """A one-epoch toy run in tmp_path/name (kwargs override the defaults)."""
    options = dict(epochs=1, n_qubits=2, depth=1, backend="tf", verbose=0, tensorboard=False)
    options.update(kwargs)
    bundle = options.pop("bundle", None) or _toy_bundle(n=96)
    return train_model(bundle, str(tmp_path / name), **options)


def test_force_removes_only_the_runs_own_files(tmp_path):
    """--force on a finished run replaces the run's files; a user's files beside them stay."""
    _small(tmp_path)
    run = tmp_path / "run"
    (run / "important.txt").write_text("keep me")
    (run / "photos").mkdir()
    (run / "photos" / "x.png").write_bytes(b"\x89PNG")
    (run / ".tmp-stale.json").write_text("{}")  # a killed atomic write's leftover
    with pytest.raises(ValueError, match="already holds a finished run; pass --force"):
        _small(tmp_path)
    before = json.loads((run / "metrics.json").read_text())
    again = _small(tmp_path, force=True)
    assert (run / "important.txt").read_text() == "keep me"
    assert (run / "photos" / "x.png").read_bytes() == b"\x89PNG"
    assert not (run / ".tmp-stale.json").exists()
    assert {k: v for k, v in again.items() if k != "train_seconds"} == {
        k: v for k, v in before.items() if k != "train_seconds"
    }


def test_restart_with_other_settings_is_refused_naming_them(tmp_path):
    """An unfinished run started again with another seed or learning rate is refused; the
    message names both differences and says how to start over; nothing is changed."""
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(ZeroDivisionError):  # dies after the first epoch: an unfinished run
        _small(tmp_path, settings={"limit": 10}, extra_metrics=lambda m, b: 1 / 0)
    progress = (run / "progress.json").read_text()
    with pytest.raises(ValueError) as e:
        _small(tmp_path, seed=3, learning_rate=0.01, settings={"limit": 10})
    message = str(e.value)
    assert "unfinished run with other settings" in message
    assert "learning_rate 0.005 there, 0.01 now" in message and "seed 0 there, 3 now" in message
    assert "pass --force" in message and "another --out" in message
    with pytest.raises(ValueError, match=r"limit 10 there, 20 now"):
        _small(tmp_path, settings={"limit": 20})
    assert (run / "progress.json").read_text() == progress


def test_restart_compares_values_not_which_flags_gave_them(tmp_path):
    """A restart may list other explicit_flags (qgcam train's record of the flags typed) and
    finishes the run; another lr_schedule is refused naming it; an unknown schedule is
    refused before anything is written; metrics.json records the schedule."""
    with pytest.raises(ValueError, match=r"lr_schedule must be one of \('constant', 'cosine'\)"):
        _small(tmp_path, name="bad", lr_schedule="linear")
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ZeroDivisionError):  # dies after the first epoch: an unfinished run
        _small(tmp_path, settings={"explicit_flags": []}, extra_metrics=lambda m, b: 1 / 0)
    with pytest.raises(ValueError, match=r"lr_schedule None there, 'cosine' now"):
        _small(tmp_path, lr_schedule="cosine", settings={"explicit_flags": []})
    metrics = _small(tmp_path, settings={"explicit_flags": ["--epochs"]})
    assert metrics["lr_schedule"] == "constant"
    cosine = _small(tmp_path, name="cosine", lr_schedule="cosine")
    assert cosine["lr_schedule"] == "cosine"
    settings = json.loads((tmp_path / "cosine" / "progress.json").read_text())["settings"]
    assert settings["lr_schedule"] == "cosine"


def test_run_files_without_a_record_are_not_resumed(tmp_path):
    """A directory with model files but no progress.json (not resumable) is refused."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.json").write_text("{}")
    with pytest.raises(ValueError, match=r"holds run files \(model.json\) but no progress.json"):
        _small(tmp_path)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(epochs=0), r"epochs must be an int in \[1, 1000\], got 0"),
        (dict(depth=10**6), r"depth must be an int in \[1, 50\], got 1000000"),
        (dict(n_qubits=64), r"n_qubits must be an int in \[1, 20\], got 64"),
        (dict(learning_rate=float("inf")), r"learning_rate must be a number in \(0, 1\], got inf"),
        (dict(learning_rate=float("nan")), r"learning_rate must be a number in \(0, 1\], got nan"),
        (dict(n_qubits=1), r"--qubits must be >= 2, the number of classes of toy dataset"),
    ],
)
def test_bad_numbers_leave_no_run_directory(tmp_path, kwargs, match):
    """Out-of-range or non-finite settings raise naming the value; no directory is created."""
    with pytest.raises(ValueError, match=match):
        _small(tmp_path, **kwargs)
    assert not (tmp_path / "run").exists()


def test_validation_split_fills_history_and_tensorboard_logs(tmp_path):
    """With a validation set, history.csv has finite val_loss/val_accuracy per epoch that equal
    an evaluation of the same weights, and TensorBoard event files are written."""
    from qgcam_tf.data.registry import split_validation

    full = _toy_bundle(n=96)
    x = np.concatenate([b.numpy() for b, _ in full.train])
    y = np.concatenate([b.numpy() for _, b in full.train])
    (xt, yt), (xv, yv) = split_validation(x, y, {"validation_fraction": 0.25, "seed": 0})
    full.train = tf.data.Dataset.from_tensor_slices((xt, yt)).batch(16)
    full.validation = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(16)
    full.n_train, full.n_validation = len(xt), len(xv)
    metrics = _small(
        tmp_path, bundle=full, epochs=2, recalibrate_bn=False, tensorboard=True, verbose=2
    )
    rows = list(csv.DictReader(open(tmp_path / "run" / "history.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    val_loss = float(rows[-1]["val_loss"])
    model = load_model(str(tmp_path / "run"))
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, accuracy = model.evaluate(xv, yv, verbose=0)
    assert val_loss == pytest.approx(loss, rel=1e-5)
    assert float(rows[-1]["val_accuracy"]) == pytest.approx(accuracy, abs=1e-6)
    assert metrics["n_validation"] == len(xv) == 18
    events = [f for _, _, files in os.walk(tmp_path / "run" / "tensorboard") for f in files]
    assert any(f.startswith("events.out.tfevents") for f in events)


# Test support: a driver process imports the library once, then forks one child per
# attempt; a child is told by the KILL_ENV variable where to SIGKILL itself
# (training.kill_point), so every kill falls at the same step, with no sleeps and no timing.
# Forking saves a TensorFlow import per attempt; the driver runs no TensorFlow op itself.
DRIVER = r"""
import json, os, sys, traceback
import numpy as np
from qgcam_tf.model.training import KILL_ENV, train_model

def bundle():
    import tensorflow as tf
    from qgcam_tf.data.registry import DatasetBundle, split_validation
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 96)
    x = rng.uniform(0, 0.3, size=(96, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(y):
        x[i, :, 4 * label : 4 * label + 4] += 0.7
    (xt, yt), (xv, yv) = split_validation(x[:72], y[:72], {"validation_fraction": 0.25})
    train = tf.data.Dataset.from_tensor_slices((xt, yt)).shuffle(54, seed=5).batch(16)
    batched = lambda a, b: tf.data.Dataset.from_tensor_slices((a, b)).batch(16)
    return DatasetBundle(train, batched(x[72:], y[72:]), (8, 8, 1), ("l", "r"), len(xt), 24,
                         {"conv_filters": (4, 6)}, {"dataset": "toy"},
                         validation=batched(xv, yv), n_validation=len(xv))

def extra(model, b):
    x = np.concatenate([x for x, _ in b.test])
    return {"mean_top_probability": float(model(x, training=False).numpy().max(1).mean())}

def attempt(run_dir, stage, log):
    pid = os.fork()
    if pid == 0:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        if stage:
            os.environ[KILL_ENV] = stage
        code = 0
        try:
            train_model(bundle(), run_dir, epochs=2, n_qubits=2, depth=1, backend="tf",
                        learning_rate=0.02, extra_metrics=extra, verbose=2,
                        tensorboard=False)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

out = []
for i, (run_dir, stage) in enumerate(json.loads(sys.argv[1])):
    log = f"{run_dir}.{i}.log"
    code = attempt(run_dir, stage, log)
    progress = os.path.join(run_dir, "progress.json")
    out.append({
        "stage": stage, "code": code, "log": open(log).read(),
        "progress": json.load(open(progress)) if os.path.exists(progress) else None,
        "finished": os.path.exists(os.path.join(run_dir, "metrics.json")),
    })
print(json.dumps(out))
"""
KILL_STAGES = [
    "epoch-0-batch-1",  # during the first epoch
    "epoch-0-end",  # between the epochs, just after the first one is checkpointed
    "epoch-1-batch-0",  # during the last epoch
    "evaluate-before-bn",  # after the last epoch: the test evaluation before recalibration
    "recalibrate",  # during the BatchNorm recalibration
    "evaluate",  # during the final test evaluation
    "extra-metrics",  # extra metrics computed, not yet recorded
    "metrics",  # model.keras written, just before metrics.json
]


def _weights(run_dir):
    model = load_model(str(run_dir))
    return model.get_weights()


def test_a_run_killed_at_every_stage_finishes_like_an_uninterrupted_one(tmp_path):
    """SIGKILLed at each stage in turn (during/between epochs, during evaluation, BatchNorm
    recalibration, extra metrics, before metrics.json), each rerun continues where the last
    one stopped, never redoing a finished epoch or stage; the finished run equals an
    uninterrupted one (metrics but train_seconds, history, weights within 1e-6)."""
    clean, killed = str(tmp_path / "clean"), str(tmp_path / "killed")
    plan = [[clean, ""]] + [[killed, s] for s in KILL_STAGES] + [[killed, ""]]
    env = dict(os.environ, PYTHONPATH=ROOT, TF_USE_LEGACY_KERAS="1")
    env.pop(training.KILL_ENV, None)
    driver = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(plan)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert driver.returncode == 0, driver.stderr[-3000:]
    steps = json.loads(driver.stdout.strip().splitlines()[-1])
    assert steps[0]["code"] == 0 and steps[-1]["code"] == 0, steps[-1]["log"][-3000:]
    kills = steps[1:-1]
    assert [s["code"] for s in kills] == [-signal.SIGKILL] * len(KILL_STAGES), [
        s["log"][-1500:] for s in kills
    ]
    assert not any(s["finished"] for s in kills)
    by_stage = {s["stage"]: s for s in kills}
    done = {stage: s["progress"]["epochs_done"] for stage, s in by_stage.items()}
    assert done == {
        "epoch-0-batch-1": 0,
        "epoch-0-end": 1,
        "epoch-1-batch-0": 1,
        "evaluate-before-bn": 2,
        "recalibrate": 2,
        "evaluate": 2,
        "extra-metrics": 2,
        "metrics": 2,
    }
    # what each attempt found and did: a resume from the checkpoint, fit skipped once all
    # epochs were done, and every recorded stage skipped
    assert "resuming" not in by_stage["epoch-0-end"]["log"]  # nothing done yet
    assert "1 of 2 epochs done" in by_stage["epoch-1-batch-0"]["log"]
    assert "1 of 2 epochs done" in by_stage["evaluate-before-bn"]["log"]
    after_fit = KILL_STAGES[4:] + [""]
    for s in [by_stage[x] for x in KILL_STAGES[4:]] + [steps[-1]]:
        assert "all 2 epochs done, continuing after training" in s["log"], s["log"][-800:]
        assert "Epoch " not in s["log"]
    assert "before the BatchNorm recalibration" in by_stage["recalibrate"]["log"]
    for s in [by_stage[x] for x in after_fit[1:] if x] + [steps[-1]]:
        assert "before the BatchNorm recalibration" not in s["log"]  # recorded, not redone
    assert "recalibrating" not in by_stage["extra-metrics"]["log"]
    assert "extra metrics" not in steps[-1]["log"]  # recorded before the last kill
    stages = by_stage["metrics"]["progress"]["stages"]
    assert set(stages) == {
        "test_accuracy_before_bn_recalibration",
        "bn_recalibrated",
        "test",
        "extra",
    }

    def metrics(run_dir):
        m = json.load(open(os.path.join(run_dir, "metrics.json")))
        assert m.pop("train_seconds") > 0
        return m

    assert metrics(killed) == metrics(clean)
    assert open(f"{killed}/history.csv").read() == open(f"{clean}/history.csv").read()
    for a, b in zip(_weights(killed), _weights(clean), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    assert not os.path.exists(os.path.join(killed, "backup"))
    assert sorted(os.listdir(killed)) == sorted(os.listdir(clean))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
