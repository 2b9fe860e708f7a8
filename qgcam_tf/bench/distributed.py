"""Multi-worker training throughput: ``qgcam train --distribute multi-worker`` with N local
worker processes on 127.0.0.1.

:func:`training_images_per_second` trains a tiny MNIST model (a few hundred digits of the
embedded copy) on a local cluster and returns the training images per second of the whole
cluster in the epochs after the first (the first traces the train step and waits for every
worker to join). Each worker is a separate ``python -m qgcam_tf`` process, as on a real
cluster; on one machine the workers share its cores, so the rate shows the cost of the
collective all-reduce rather than a speed-up (docs/scale.md).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

from qgcam_tf.model.distribute import local_cluster_configs, start_worker

__all__ = ["MAX_WORKERS", "training_images_per_second", "write_mnist_subset"]

# More local workers than this only oversubscribe a machine's cores.
MAX_WORKERS = 16


def write_mnist_subset(path: str, n_train: int, n_test: int = 64) -> str:
    """Writes the first ``n_train`` training and ``n_test`` test digits of the embedded MNIST
    copy to ``path`` (an ``.npz`` that ``qgcam train --data-dir`` reads); returns ``path``."""
    from qgcam_tf.data.mnist import load_mnist

    (x, y), (xt, yt) = load_mnist(None)
    as_bytes = lambda a: np.round(a[..., 0] * 255).astype(np.uint8)  # noqa: E731
    np.savez(
        path,
        x_train=as_bytes(x[:n_train]),
        y_train=y[:n_train],
        x_test=as_bytes(xt[:n_test]),
        y_test=yt[:n_test],
    )
    return path


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")


def training_images_per_second(
    workers: int,
    *,
    n_train: int = 256,
    epochs: int = 3,
    batch_size: int = 32,
    n_qubits: int = 10,
    depth: int = 1,
    backend: str = "tfq",
    out: str | None = None,
    timeout_s: float = 900.0,
) -> float:
    """Training images per second of ``workers`` local worker processes.

    Starts ``workers`` processes of ``qgcam train --distribute multi-worker`` (one
    ``TF_CONFIG`` each, :func:`qgcam_tf.model.distribute.local_cluster_configs`), waits for
    them, and reads the chief's ``progress.json``: ``n_train`` divided by the median time of
    the epochs after the first.

    Args:
        workers: processes in the cluster, 1 to :data:`MAX_WORKERS`.
        n_train: training digits (``batch_size`` is the global batch).
        epochs: epochs in all, at least 2 (the first is not counted).
        batch_size / n_qubits / depth / backend: as ``qgcam train``.
        out: the folder for the data, the run and the workers' logs (default: a temporary
            folder, removed afterwards).
        timeout_s: seconds the cluster may take; then its processes are killed.

    Returns:
        Images per second of the whole cluster.

    Raises:
        ValueError: a bad argument.
        RuntimeError: a worker failed or timed out (the message holds its log's end).
    """
    _check_int("workers", workers, 1, MAX_WORKERS)
    _check_int("n_train", n_train, 1, 60000)
    _check_int("epochs", epochs, 2, 1000)
    _check_int("batch_size", batch_size, 1, 4096)
    if backend not in ("tfq", "tf"):
        raise ValueError(f"backend must be 'tfq' or 'tf', got {backend!r}")
    if out is None:
        with tempfile.TemporaryDirectory(prefix="qgcam-bench-distributed-") as tmp:
            return _measure(
                workers, n_train, epochs, batch_size, n_qubits, depth, backend, tmp, timeout_s
            )
    os.makedirs(out, exist_ok=True)
    return _measure(workers, n_train, epochs, batch_size, n_qubits, depth, backend, out, timeout_s)


def _measure(workers, n_train, epochs, batch_size, n_qubits, depth, backend, out, timeout_s):
    data = write_mnist_subset(os.path.join(out, "mnist.npz"), n_train)
    run = os.path.join(out, f"run-{workers}")
    command = [
        sys.executable, "-m", "qgcam_tf", "train", "--distribute", "multi-worker",
        "--out", run, "--force", "--data-dir", data, "--epochs", str(epochs),
        "--batch-size", str(batch_size), "--qubits", str(n_qubits), "--depth", str(depth),
        "--backend", backend, "--validation-fraction", "0", "--no-tensorboard",
        "--no-recalibrate-bn",
    ]  # fmt: skip
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package, env.get("PYTHONPATH")) if p)
    env.pop("QGCAM_TEST_KILL_AT", None)
    logs = [os.path.join(out, f"worker-{workers}-{i}.log") for i in range(workers)]
    procs = []
    try:
        for i, config in enumerate(local_cluster_configs(workers)):
            with open(logs[i], "w") as log:
                procs.append(
                    start_worker(command, config, env=env, stdout=log, stderr=subprocess.STDOUT)
                )
        codes = [p.wait(timeout=timeout_s) for p in procs]
    except subprocess.TimeoutExpired:
        codes = None
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    if codes is None or any(codes):
        tails = []
        for i, path in enumerate(logs[: len(procs)]):
            with open(path, errors="replace") as f:
                tails.append(f"worker {i}: ..." + f.read()[-1500:])
        what = "timed out" if codes is None else f"exited with {codes}"
        raise RuntimeError(f"the {workers}-worker training {what}: " + " | ".join(tails))
    with open(os.path.join(run, "progress.json")) as f:
        seconds = json.load(f)["epoch_seconds"][1:]
    return n_train / statistics.median(seconds)
