"""Tests for qgcam_tf.model.distribute and training under a tf.distribute strategy.

The one-step checks run in this process under a one-device ``MirroredStrategy`` (a
multi-worker strategy must be created before TensorFlow runs anything, which a test process
cannot promise); the cluster test starts two ``qgcam train --distribute multi-worker``
processes on 127.0.0.1, SIGKILLs one mid-epoch and restarts the job.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.bench.distributed import write_mnist_subset
from qgcam_tf.data.registry import DatasetBundle
from qgcam_tf.model import distribute
from qgcam_tf.model.distribute import (
    free_ports,
    is_chief,
    local_cluster_configs,
    parse_tf_config,
    start_local_workers,
    start_worker,
    strategy_for,
    worker_index,
)
from qgcam_tf.model.hybrid import build_hybrid_model
from qgcam_tf.model.run import load_model
from qgcam_tf.model.training import KILL_ENV, seed_everything, train_model
from qgcam_tf.quantum.circuits import VQCSpec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "scale.md")
# The cluster test's command line, as docs/scale.md spells it (RUN_DIR and MNIST.npz are
# filled in); the test checks that the page shows it verbatim.
TRAIN_ARGS = (
    "train --distribute multi-worker --out RUN_DIR --data-dir MNIST.npz --epochs 2 "
    "--batch-size 16 --qubits 10 --depth 1 --backend tfq --validation-fraction 0 "
    "--no-tensorboard"
)
# Seconds any one process of the cluster test may take (a hang fails instead of blocking).
TIMEOUT = 600


def _doc_section() -> str:
    text = open(DOC, encoding="utf-8").read()
    start = text.index("## Multi-worker training")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def test_the_docs_tf_configs_parse_and_name_each_worker():
    """Every TF_CONFIG of docs/scale.md's multi-worker section parses, one task per worker."""
    configs = [parse_tf_config(m) for m in re.findall(r"TF_CONFIG='([^']*)'", _doc_section())]
    assert len(configs) >= 2
    tasks = [(c["task"]["type"], c["task"]["index"]) for c in configs]
    assert len(set(tasks)) == len(tasks)
    assert all(c["cluster"] == configs[0]["cluster"] for c in configs)
    assert TRAIN_ARGS in " ".join(_doc_section().replace("\\\n", " ").split())


@pytest.mark.parametrize(
    "text, match",
    [
        (None, "not set"),
        ("", "not set"),
        ("{cluster", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"task": {"type": "worker", "index": 0}}', "'cluster' object"),
        ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "host:port"),
        ('{"cluster": {"worker": ["localhost"]}, "task": {"type": "worker", "index": 0}}', "host"),
        ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {}}', "'ps'"),
        ('{"cluster": {"worker": ["a:1"]}}', "'task' object"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', "'chief'"),
        ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}', "2"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": -1}}', "-1"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": true}}', "True"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}', "None"),
    ],
)
def test_a_bad_tf_config_is_one_clear_error(text, match):
    """A missing or malformed TF_CONFIG is a ValueError naming what is wrong and the value."""
    with pytest.raises(ValueError, match=re.escape(match)):
        parse_tf_config(text)


def test_local_cluster_configs_give_each_worker_its_port_and_task():
    """n configs share one cluster of n distinct 127.0.0.1 ports; task i is worker i."""
    configs = local_cluster_configs(3)
    addresses = configs[0]["cluster"]["worker"]
    assert len(set(addresses)) == 3 and all(a.startswith("127.0.0.1:") for a in addresses)
    for i, config in enumerate(configs):
        assert parse_tf_config(json.dumps(config)) == config
        assert config["cluster"] == configs[0]["cluster"] and config["task"]["index"] == i
    assert local_cluster_configs(2, ports=[5, 6])[1]["cluster"]["worker"][1] == "127.0.0.1:6"
    assert len(set(free_ports(4))) == 4
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        local_cluster_configs(0)
    with pytest.raises(ValueError, match="ports must hold 2 ports"):
        local_cluster_configs(2, ports=[1])


def test_strategy_for_names_and_a_single_process():
    """'none' is no strategy (this process is the chief, worker 0); a bad name is refused."""
    assert strategy_for("none") is None and is_chief(None) and worker_index(None) == 0
    with pytest.raises(ValueError, match="distribute must be one of .*got 'ring'"):
        strategy_for("ring")
    assert distribute.DISTRIBUTE == ("none", "mirrored", "multi-worker")


def one_batch_bundle(batch=24, seed=0):
    """Bright-left vs bright-right 8x8 images, the whole training set one batch of ``batch``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 2 * batch)
    x = rng.uniform(0, 0.3, size=(2 * batch, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(y):
        x[i, :, 4 * label : 4 * label + 4] += 0.7
    ds = lambda a, b: tf.data.Dataset.from_tensor_slices((a, b)).batch(batch)  # noqa: E731
    return DatasetBundle(
        ds(x[:batch], y[:batch]),
        ds(x[batch:], y[batch:]),
        (8, 8, 1),
        ("left", "right"),
        batch,
        batch,
        {"conv_filters": (4, 6)},
        {"dataset": "toy"},
    )


@pytest.mark.parametrize("backend, xla", [("tfq", False), ("tf", False), ("tf", True)])
def test_one_step_under_a_strategy_equals_one_single_worker_step(tmp_path, backend, xla):
    """One Adam step on a global batch of 24 under MirroredStrategy gives the weights (and
    evaluation) of the same step without a strategy, within 1e-6, on each executor."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    runs = {}
    for name, s in (("single", None), ("strategy", strategy)):
        out = str(tmp_path / name)
        metrics = train_model(
            one_batch_bundle(),
            out,
            epochs=1,
            n_qubits=4,
            depth=1,
            backend=backend,
            jit_compile=xla,
            learning_rate=0.05,
            recalibrate_bn=False,
            tensorboard=False,
            verbose=0,
            strategy=s,
        )
        runs[name] = (metrics, load_model(out).get_weights())
    (m1, w1), (m2, w2) = runs["single"], runs["strategy"]
    assert len(w1) == len(w2)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert m1["test_loss"] == pytest.approx(m2["test_loss"], abs=1e-6)
    # and it was one Adam step: each weight moved by about the learning rate (the first step
    # is lr * g / |g|), from the initial weights the same seed gives
    seed_everything(0)
    spec = VQCSpec(n_qubits=4, depth=1, n_outputs=2)
    initial = build_hybrid_model((8, 8, 1), 2, vqc=spec, backend=backend, conv_filters=(4, 6))
    moved = np.abs(w2[0] - initial.get_weights()[0])  # the first conv kernel
    np.testing.assert_allclose(moved, 0.05, atol=2e-3)
    with pytest.raises(ValueError, match="jit_compile=True .*backend='tfq'"):
        train_model(one_batch_bundle(), str(tmp_path / "x"), backend="tfq", jit_compile=True)
    assert not (tmp_path / "x").exists()


# Run in a fresh process: the two logical CPUs must be made before TensorFlow's runtime starts.
TWO_REPLICAS = r"""
import json, sys
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
root, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
from tests.model.distribute_test import one_batch_bundle
from qgcam_tf.model.run import load_model
from qgcam_tf.model.training import train_model

result = {}
for backend in ("tfq", "tf"):
    weights = {}
    for name, strategy in (
        ("single", None),
        ("two", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
    ):
        path = f"{out}/{backend}-{name}"
        train_model(one_batch_bundle(), path, epochs=1, n_qubits=4, depth=1, backend=backend,
                    learning_rate=0.05, recalibrate_bn=False, tensorboard=False, verbose=0,
                    strategy=strategy)
        weights[name] = {v.name: v.numpy() for v in load_model(path).weights}
        if strategy is not None:
            result[backend + "_replicas"] = int(strategy.num_replicas_in_sync)
    one, two = weights["single"], weights["two"]
    diff = {k: float(np.max(np.abs(one[k] - two[k]))) for k in one}
    result[backend] = max(d for k, d in diff.items() if not k.startswith("theta"))
    result[backend + "_theta"] = max(d for k, d in diff.items() if k.startswith("theta"))
    result[backend + "_moved"] = max(float(np.max(np.abs(a))) for a in two.values())
print(json.dumps(result))
"""


def test_two_replicas_step_equals_one_process_step_with_synchronised_batchnorm(tmp_path):
    """On two replicas (MirroredStrategy over two logical CPUs, 12 images each) one step on a
    global batch of 24 gives the weights of one process's step on the 24 within 1e-5, on tfq
    and tf: the BatchNormalization before the encoding takes global-batch statistics."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", TWO_REPLICAS, root, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for backend in ("tfq", "tf"):
        assert result[backend + "_replicas"] == 2
        assert result[backend + "_moved"] > 0.01  # the weights are not all zero
        assert result[backend] < 1e-5, result


def _wait(procs, timeout):
    """Each process's exit status; all are killed if one outlives ``timeout``."""
    try:
        return [p.wait(timeout=timeout) for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        raise


def test_two_workers_train_agree_and_resume_after_a_sigkill(tmp_path):
    """Two local workers (TF_CONFIG each) train 2 epochs; worker 1, SIGKILLed mid-epoch 2,
    takes the chief down; both restarted, the job resumes from the chief's epoch-1
    checkpoint and finishes: both workers hold the same weights, and the chief's run
    directory loads and predicts as the worker's copy does."""
    run, copy = str(tmp_path / "run"), str(tmp_path / "worker-1")
    args = TRAIN_ARGS.replace("RUN_DIR", run).replace(
        "MNIST.npz", write_mnist_subset(str(tmp_path / "d.npz"), 128)
    )
    command = [sys.executable, "-m", "qgcam_tf", *args.split()]
    env = dict(os.environ, PYTHONPATH=ROOT, TF_USE_LEGACY_KERAS="1")
    env.pop(KILL_ENV, None)
    logs = [open(tmp_path / f"worker-{i}.log", "w+") for i in range(2)]

    def log(i):
        logs[i].flush()
        return open(logs[i].name).read()[-3000:]

    configs = local_cluster_configs(2)
    procs = [
        start_worker(command, configs[0], env=env, stdout=logs[0], stderr=subprocess.STDOUT),
        start_worker(
            [*command, "--worker-dir", copy],
            configs[1],
            env={**env, KILL_ENV: "epoch-1-batch-2"},  # mid-epoch 2, epoch 1 checkpointed
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        assert _wait(procs[1:], TIMEOUT) == [-signal.SIGKILL], log(1)
        killed = time.perf_counter()
        code = _wait(procs[:1], TIMEOUT)[0]
        assert code not in (0, -signal.SIGKILL), log(0)  # it noticed its peer was gone
        print(f"the chief failed {time.perf_counter() - killed:.0f} s after its peer's SIGKILL")
        with open(os.path.join(run, "progress.json")) as f:
            assert json.load(f)["epochs_done"] == 1
        assert not os.path.exists(os.path.join(run, "metrics.json"))
        procs = [
            start_worker(command, configs[0], env=env, stdout=logs[0], stderr=subprocess.STDOUT),
            start_worker(
                [*command, "--worker-dir", copy],
                configs[1],
                env=env,
                stdout=logs[1],
                stderr=subprocess.STDOUT,
            ),
        ]
        assert _wait(procs, TIMEOUT) == [0, 0], (log(0), log(1))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert "resuming" in log(0) and "1 of 2 epochs done" in log(0)
    chief, worker = load_model(run), load_model(copy)
    for a, b in zip(chief.get_weights(), worker.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    digits = np.load(tmp_path / "d.npz")["x_test"][..., None].astype(np.float32) / 255
    p = chief.predict(digits, verbose=0)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(p, worker.predict(digits, verbose=0), atol=1e-6)
    with open(os.path.join(run, "metrics.json")) as f:
        metrics = json.load(f)
    labels = np.load(tmp_path / "d.npz")["y_test"]
    assert metrics["test_accuracy"] == pytest.approx(float((p.argmax(1) == labels).mean()))
    with open(os.path.join(run, "history.csv")) as f:
        assert [line.split(",")[0] for line in f.read().split()[1:]] == ["0", "1"]
    # the chief's directory holds the run, nothing of the other worker
    assert not os.path.exists(os.path.join(run, "backup")) and os.path.isfile(
        os.path.join(copy, "metrics.json")
    )


def test_start_local_workers_sets_each_tf_config(tmp_path):
    """Each started process sees its own TF_CONFIG (worker i of the same cluster)."""
    code = "import os, sys; sys.stdout.write(os.environ['TF_CONFIG'])"
    procs = start_local_workers([sys.executable, "-c", code], 2, stdout=subprocess.PIPE, text=True)
    seen = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert [c["task"]["index"] for c in seen] == [0, 1]
    assert seen[0]["cluster"] == seen[1]["cluster"]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
