"""Training a hybrid model with Keras ``fit``: checkpoints every epoch, resumes when killed."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable

import tensorflow as tf
import tf_keras as keras

from qgcam_tf.data.registry import DatasetBundle
from qgcam_tf.fileio import write_json_atomic
from qgcam_tf.model.hybrid import build_classical_twin, build_hybrid_model
from qgcam_tf.model.recalibrate import recalibrate_batchnorm
from qgcam_tf.model.run import save_model
from qgcam_tf.quantum.circuits import VQCSpec

__all__ = ["INPUT_MEAN_EXAMPLES", "input_mean", "train_model"]

BACKUP_DIR = "backup"
PROGRESS_FILE = "progress.json"
METRICS_FILE = "metrics.json"
# How many training inputs the recorded "input_mean" averages (the first ones the pipeline gives).
INPUT_MEAN_EXAMPLES = 1024


def input_mean(dataset: tf.data.Dataset, *, limit: int = INPUT_MEAN_EXAMPLES) -> float:
    """Mean pixel value of the first ``limit`` inputs of ``dataset`` (the model's input scale).

    Recorded in a run's metadata as ``"input_mean"``: inputs whose mean lies on the other
    side of 0.5 than training's (e.g. black-on-white digits for an MNIST model) can be
    flagged before they are predicted.

    Args:
        dataset: batches of ``(inputs, labels)`` or of inputs.
        limit: how many inputs at most.

    Raises:
        ValueError: ``dataset`` is empty.
    """
    total, count = 0.0, 0
    for batch in dataset:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        x = tf.cast(x[: limit - count], tf.float64)
        total += float(tf.reduce_mean(x)) * int(x.shape[0])
        count += int(x.shape[0])
        if count >= limit:
            break
    if count == 0:
        raise ValueError("dataset is empty: no training inputs to average")
    return total / count


class _EpochCheckpoint(keras.callbacks.Callback):
    """Saves the model and the elapsed training time after every epoch (atomically)."""

    def __init__(self, run_dir: str, metadata: dict, elapsed_before: float):
        super().__init__()
        self.run_dir, self.metadata = run_dir, metadata
        self.elapsed_before = elapsed_before
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def on_epoch_end(self, epoch, logs=None):
        save_model(self.model, self.run_dir, metadata=self.metadata)
        write_json_atomic(
            os.path.join(self.run_dir, PROGRESS_FILE),
            {"epochs_done": epoch + 1, "train_seconds": self.elapsed()},
        )


def _read_progress(run_dir: str) -> dict:
    path = os.path.join(run_dir, PROGRESS_FILE)
    if not os.path.isfile(path):
        return {"epochs_done": 0, "train_seconds": 0.0}
    with open(path) as f:
        return json.load(f)


def train_model(
    bundle: DatasetBundle,
    run_dir: str,
    *,
    epochs: int = 2,
    n_qubits: int = 10,
    depth: int = 2,
    backend: str = "tfq",
    classical: bool = False,
    learning_rate: float = 5e-3,
    seed: int = 0,
    force: bool = False,
    recalibrate_bn: bool = True,
    extra_metrics: Callable[[keras.Model, DatasetBundle], dict] | None = None,
    verbose: int = 1,
) -> dict:
    """Trains (or resumes training) and writes the run directory.

    The run directory holds ``model.json`` + ``model.weights.h5`` (after every epoch),
    ``backup/`` (Keras ``BackupAndRestore`` state while training runs), ``history.csv``
    and, at the end, ``metrics.json`` with the test accuracy on the full test split (and
    whatever ``extra_metrics`` adds), written once, atomically: its presence marks a
    finished run.

    Args:
        bundle: the dataset (:mod:`qgcam_tf.data.registry`).
        run_dir: output directory; a killed run started again with the same directory
            continues from its last finished epoch.
        epochs: total number of epochs.
        n_qubits / depth: the VQC shape (``n_outputs`` = number of classes).
        backend: ``"tfq"`` (default) or ``"tf"``.
        classical: train the classical twin (Dense head) instead of the hybrid model.
        learning_rate: Adam learning rate.
        seed: seeds weights and shuffling.
        force: replace a finished run in ``run_dir``.
        recalibrate_bn: after ``fit``, set the BatchNorm moving statistics to those of the
            final weights on the training data (:mod:`qgcam_tf.model.recalibrate`): the moving
            averages trail features that keep growing during training, and inference-mode
            accuracy suffered for it (measured in docs/experiments.md).
        extra_metrics: ``(model, bundle) -> dict`` called with the final model; its keys
            join ``metrics.json`` (e.g. :func:`qgcam_tf.evaluate.attention.dataset_metrics`
            of the dataset). If it raises, no ``metrics.json`` is written and the run can be
            started again.
        verbose: Keras progress bar (1) or none (0).

    Returns:
        The metrics dict written to ``metrics.json``.

    Raises:
        ValueError: bad options, ``run_dir`` already holds a finished run, or
            ``extra_metrics`` returns a key of the standard metrics.
        TypeError: ``extra_metrics`` is not callable or returns no dict.
    """
    for name, value, low in (("epochs", epochs, 1), ("n_qubits", n_qubits, 2), ("depth", depth, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    if extra_metrics is not None and not callable(extra_metrics):
        raise TypeError(
            f"extra_metrics must be a callable (model, bundle) -> dict or None, "
            f"got {type(extra_metrics).__name__}"
        )
    metrics_path = os.path.join(run_dir, METRICS_FILE)
    if os.path.exists(metrics_path):
        if not force:
            raise ValueError(
                f"{run_dir!r} already holds a finished run; pass --force to replace it"
            )
        shutil.rmtree(run_dir)
    os.makedirs(run_dir, exist_ok=True)

    keras.utils.set_random_seed(seed)
    n_classes = len(bundle.class_names)
    spec = None
    if classical:
        model = build_classical_twin(bundle.input_shape, n_classes, **bundle.model_kwargs)
    else:
        spec = VQCSpec(n_qubits=n_qubits, depth=depth, n_outputs=n_classes)
        model = build_hybrid_model(
            bundle.input_shape, n_classes, vqc=spec, backend=backend, **bundle.model_kwargs
        )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    metadata = dict(bundle.metadata)
    metadata.update(class_names=list(bundle.class_names), seed=seed, epochs=epochs)
    metadata["input_mean"] = input_mean(bundle.train)
    progress = _read_progress(run_dir)
    if progress["epochs_done"] and verbose:
        print(f"resuming {run_dir}: {progress['epochs_done']} of {epochs} epochs done", flush=True)
    checkpoint = _EpochCheckpoint(run_dir, metadata, progress["train_seconds"])
    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, BACKUP_DIR)),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True),
        checkpoint,
    ]
    model.fit(bundle.train, epochs=epochs, callbacks=callbacks, verbose=verbose)
    train_seconds = checkpoint.elapsed()
    if verbose:
        print(f"evaluating on {bundle.n_test} test examples", flush=True)
    extra = {}
    if recalibrate_bn:
        _, extra["test_accuracy_before_bn_recalibration"] = model.evaluate(bundle.test, verbose=0)
        if verbose:
            print("recalibrating BatchNorm statistics on the training data", flush=True)
        extra["bn_recalibrated"] = recalibrate_batchnorm(model, bundle.train) > 0
    loss, accuracy = model.evaluate(bundle.test, verbose=verbose)
    save_model(model, run_dir, metadata=metadata)
    metrics = {
        "dataset": metadata.get("dataset"),
        "test_accuracy": float(accuracy),
        "test_loss": float(loss),
        "n_test": bundle.n_test,
        "n_train": bundle.n_train,
        "train_seconds": round(float(train_seconds), 2),
        "epochs": epochs,
        "model": "classical_twin" if classical else "hybrid",
        "n_qubits": spec.n_qubits if spec else None,
        "depth": spec.depth if spec else None,
        "backend": None if classical else backend,
        "learning_rate": learning_rate,
        "seed": seed,
        "tensorflow": tf.__version__,
        **extra,
    }
    if extra_metrics is not None:
        if verbose:
            print("computing the dataset's extra metrics", flush=True)
        metrics.update(_checked_extra(extra_metrics(model, bundle), metrics))
    write_json_atomic(metrics_path, metrics)
    shutil.rmtree(os.path.join(run_dir, BACKUP_DIR), ignore_errors=True)
    return metrics


def _checked_extra(extra, metrics: dict) -> dict:
    """``extra`` if it is a dict whose keys are new to ``metrics``."""
    if not isinstance(extra, dict):
        raise TypeError(f"extra_metrics must return a dict, got {type(extra).__name__}")
    clash = sorted(set(extra) & set(metrics))
    if clash:
        raise ValueError(f"extra_metrics must not replace the standard metrics, got keys {clash}")
    return extra
