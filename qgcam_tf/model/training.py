"""Training a hybrid model with Keras ``fit``: a run that is killed at any point resumes.

A run directory (:mod:`qgcam_tf.model.run`) is finished once its ``metrics.json`` exists.
Until then ``progress.json`` records what is done, each step before the next one starts:

1. ``fit``, epoch by epoch. After each epoch the model and optimizer state go to
   ``backup/epoch-N`` (a ``tf.train.Checkpoint``), the model to ``model.json`` +
   ``model.weights.h5``, and ``progress.json`` gets ``epochs_done``, the epoch's row of
   ``history.csv``, the training seconds so far and each epoch's own (``epoch_seconds``).
2. The test-set evaluation before the BatchNorm recalibration, the recalibration (its weights
   are saved before it is recorded), the test-set evaluation, the extra metrics: each
   result is recorded in ``progress.json`` under ``"stages"``.
3. ``model.keras``, then ``metrics.json``; then ``backup/`` goes.

Started again on the same directory with the same settings, training continues at the
first step not recorded: from the last epoch's checkpoint (the data order of each epoch
depends only on the seed and the epoch, so the result equals an uninterrupted run), or,
with every epoch done, without calling ``fit`` at all. Other settings are refused.

Under a ``tf.distribute`` strategy (:mod:`qgcam_tf.model.distribute`) the model is built
and compiled in the strategy's scope, ``--batch-size`` is the global batch, and the input
pipelines are sharded by ``tf.data`` auto-sharding with the ``DATA`` policy: every worker
reads the same in-memory arrays and keeps its share of each global batch (``FILE`` would
need at least one input file per worker, and the loaders hold arrays). Every worker takes
part in each epoch's checkpoint (reading BatchNorm's per-replica statistics is a collective
operation), but only the chief writes the run directory; the others write to a directory of
their own (``worker_dir``, by default a temporary one removed at the end), the pattern
TensorFlow documents for multi-worker saving. A restarted worker resumes from the chief's
``progress.json`` and checkpoint, so ``run_dir`` must be on storage every worker reads. After
``fit`` each worker copies the weights into a model outside the strategy, and the later
stages (evaluation, BatchNorm recalibration, extra metrics) run on that copy in each process
with no collective operation, so they give the same numbers everywhere and a worker that
finished early never leaves another waiting.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable

import tensorflow as tf
import tf_keras as keras

from qgcam_tf.data.registry import DatasetBundle
from qgcam_tf.fileio import atomic_path, write_json_atomic
from qgcam_tf.model.distribute import is_chief, worker_index
from qgcam_tf.model.hybrid import build_classical_twin, build_hybrid_model
from qgcam_tf.model.recalibrate import recalibrate_batchnorm, recalibrated_layers
from qgcam_tf.model.recipes import LR_SCHEDULES, learning_rate_schedule
from qgcam_tf.model.run import (
    MODEL_WEIGHTS,
    RUN_FILES,
    remove_run_files,
    save_keras_file,
    save_model,
)
from qgcam_tf.quantum.circuits import VQCSpec

__all__ = [
    "INPUT_MEAN_EXAMPLES",
    "KILL_ENV",
    "LIMITS",
    "input_mean",
    "kill_point",
    "seed_everything",
    "train_model",
]

BACKUP_DIR = "backup"
PROGRESS_FILE = "progress.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
TENSORBOARD_DIR = "tensorboard"
# How many training inputs the recorded "input_mean" averages (the first ones the pipeline gives).
INPUT_MEAN_EXAMPLES = 1024
# Upper bounds of the integer settings: beyond them a run takes hours or more memory than a
# machine has (the state vector of n qubits holds 2**n amplitudes per example).
LIMITS = {"epochs": 1000, "n_qubits": 20, "depth": 50}
# Test support (see kill_point): the stage at which this process kills itself.
KILL_ENV = "QGCAM_TEST_KILL_AT"


def kill_point(stage: str) -> None:
    """Test support: SIGKILLs this process if the environment variable ``KILL_ENV`` names ``stage``.

    Lets tests kill training at an exact step, with no sleeps and no timing. The stages:
    ``epoch-E-batch-B`` (after batch B of epoch E, both 0-based), ``epoch-E-end`` (after
    epoch E is checkpointed), ``evaluate-before-bn``, ``recalibrate`` and ``evaluate``
    (after their first batch), ``extra-metrics`` (computed, not yet recorded) and
    ``metrics`` (just before ``metrics.json`` is written).
    """
    if os.environ.get(KILL_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow and turns TensorFlow's op determinism on.

    Call it before a dataset's pipelines are built: a ``shuffle(seed=...)`` takes the global
    seed in force when it is created, so a loader run before seeding would shuffle
    differently from one run after (e.g. in a second run of the same process).
    :func:`train_model` calls it too.
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


class _KillPoints(keras.callbacks.Callback):
    """Calls kill_point at every training batch, and after the first test batch of ``stage``."""

    def __init__(self, stage: str = ""):
        super().__init__()
        self.stage, self.epoch = stage, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        kill_point(f"epoch-{self.epoch}-batch-{batch}")

    def on_test_batch_end(self, batch, logs=None):
        if batch == 0 and self.stage:
            kill_point(self.stage)


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


class _Run:
    """The files of one run directory and its ``progress.json`` record.

    ``dir`` is where this process writes; ``read_dir`` where the checkpoint it resumes from
    lies (the chief's run directory; the same as ``dir`` on the chief)."""

    def __init__(self, run_dir: str, progress: dict, read_dir: str | None = None):
        self.dir, self.progress = run_dir, progress
        self.read_dir = read_dir or run_dir

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def save_progress(self) -> None:
        write_json_atomic(self.path(PROGRESS_FILE), self.progress)

    def write_history(self) -> None:
        rows = self.progress["history"]
        keys = sorted({k for row in rows for k in row} - {"epoch"})
        with atomic_path(self.path(HISTORY_FILE)) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, ["epoch", *keys], restval="NA")
            writer.writeheader()
            writer.writerows(rows)


class _EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: checkpoint, model files, then progress.json (each atomic)."""

    def __init__(self, run: _Run, checkpoint: tf.train.Checkpoint, metadata: dict):
        super().__init__()
        self.run, self.checkpoint, self.metadata = run, checkpoint, metadata
        self.seconds_before = run.progress["train_seconds"]
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.epoch_started
        name = f"epoch-{epoch + 1}"
        backup = self.run.path(BACKUP_DIR)
        self.checkpoint.write(os.path.join(backup, name))
        save_model(self.model, self.run.dir, metadata=self.metadata)
        progress = self.run.progress
        progress.update(epochs_done=epoch + 1, checkpoint=name, train_seconds=self.elapsed())
        progress["epoch_seconds"] = [*progress.get("epoch_seconds", [])[:epoch], seconds]
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}
        progress["history"] = [r for r in progress["history"] if r["epoch"] < epoch] + [row]
        self.run.save_progress()
        self.run.write_history()
        for old in os.listdir(backup):  # earlier checkpoints, once progress names this one
            if not old.startswith(name + ".") and old != "checkpoint":
                os.remove(os.path.join(backup, old))
        kill_point(f"epoch-{epoch}-end")


def _check_int(name: str, value, low: int) -> None:
    high = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")


def _flat(settings: dict) -> dict:
    out = {}
    for key, value in settings.items():
        out.update(_flat(value) if isinstance(value, dict) else {key: value})
    return out


# Settings recorded but not compared on a restart: which values were typed as flags (the
# recipe of qgcam train filled the others); the values themselves are compared.
UNCOMPARED_SETTINGS = ("explicit_flags",)


def _differences(old: dict, new: dict) -> list[str]:
    old, new = _flat(old), _flat(new)
    return [
        f"{key} {old.get(key)!r} there, {new.get(key)!r} now"
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key) and key not in UNCOMPARED_SETTINGS
    ]


def _recorded_progress(run_dir: str, settings: dict, force: bool) -> dict | None:
    """The unfinished run's ``progress.json`` record to resume, or None for a fresh run."""
    if not os.path.isdir(run_dir) or force:
        return None
    ours = sorted(n for n in os.listdir(run_dir) if n in RUN_FILES and n != "explain")
    if os.path.exists(os.path.join(run_dir, METRICS_FILE)):
        raise ValueError(
            f"{run_dir!r} already holds a finished run; pass --force to replace it "
            "(only the run's own files are removed), or choose another --out"
        )
    if os.path.isfile(os.path.join(run_dir, PROGRESS_FILE)):
        with open(os.path.join(run_dir, PROGRESS_FILE)) as f:
            progress = json.load(f)
        differ = _differences(progress.get("settings", {}), settings)
        if differ:
            raise ValueError(
                f"{run_dir!r} holds an unfinished run with other settings "
                f"({'; '.join(differ)}); to start over pass --force (only the run's own "
                "files are removed), or choose another --out"
            )
        return progress
    if ours:
        raise ValueError(
            f"{run_dir!r} holds run files ({', '.join(ours)}) but no {PROGRESS_FILE}, so "
            "they cannot be resumed; pass --force to replace them, or choose another --out"
        )
    return None


def _open_run_dir(run_dir: str, settings: dict, force: bool, write_dir: str | None = None) -> _Run:
    """The run to write: a fresh one, or the unfinished one with the same settings.

    With ``write_dir`` (a worker that is not the chief) ``run_dir`` is only read: the
    chief's record is resumed (unless ``force``, where the chief starts over), and this
    process writes to ``write_dir``.
    """
    progress = _recorded_progress(run_dir, settings, force)
    if write_dir is not None:
        os.makedirs(write_dir, exist_ok=True)
        run = _Run(write_dir, progress or _fresh_progress(settings), run_dir)
        run.save_progress()
        return run
    if force and os.path.isdir(run_dir):
        remove_run_files(run_dir)  # what training wrote, never anything else
    os.makedirs(run_dir, exist_ok=True)
    run = _Run(run_dir, progress or _fresh_progress(settings))
    if progress is None:
        run.save_progress()
    return run


def _fresh_progress(settings: dict) -> dict:
    return {
        "settings": settings,
        "epochs_done": 0,
        "train_seconds": 0.0,
        "history": [],
        "stages": {},
    }


def _steps(dataset: tf.data.Dataset) -> int:
    n = int(dataset.cardinality())
    return n if n >= 0 else sum(1 for _ in dataset)


def _keras_verbose(verbose) -> int:
    """Keras's verbosity: 'auto' is a bar on a terminal, one line per epoch in a log."""
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return int(verbose)


def train_model(
    bundle: DatasetBundle,
    run_dir: str,
    *,
    epochs: int = 2,
    n_qubits: int = 10,
    depth: int = 2,
    ansatz: str = "paper",
    encoding: str | None = None,
    backend: str = "tfq",
    classical: bool = False,
    learning_rate: float = 5e-3,
    lr_schedule: str = "constant",
    seed: int = 0,
    force: bool = False,
    recalibrate_bn: bool = True,
    extra_metrics: Callable[[keras.Model, DatasetBundle], dict] | None = None,
    tensorboard: bool = True,
    settings: dict | None = None,
    verbose: int | str = "auto",
    jit_compile: bool = False,
    strategy: tf.distribute.Strategy | None = None,
    worker_dir: str | None = None,
) -> dict:
    """Trains (or resumes training) and writes the run directory.

    The run directory holds ``model.json`` + ``model.weights.h5`` (after every epoch),
    ``progress.json`` and ``backup/`` (what a killed run resumes from), ``history.csv``
    (one row per epoch, with ``val_loss``/``val_accuracy`` when ``bundle.validation`` is
    set), ``tensorboard/`` (TensorBoard logs) and, at the end, ``model.keras`` and
    ``metrics.json`` with the test accuracy on the full test split (and whatever
    ``extra_metrics`` adds), written once, atomically: its presence marks a finished run.

    Training is seeded and runs with TensorFlow's op determinism on (process-wide): the same
    data, settings and seed give the same weights and metrics.

    Args:
        bundle: the dataset (:mod:`qgcam_tf.data.registry`).
        run_dir: output directory; a killed run started again with the same directory and
            settings continues where it stopped (see the module docstring).
        epochs: total number of epochs.
        n_qubits / depth: the VQC shape (``n_outputs`` = number of classes, so ``n_qubits``
            must be at least the number of classes).
        ansatz / encoding: the VQC's circuit family and input encoding
            (:data:`qgcam_tf.quantum.ANSATZE`, :data:`qgcam_tf.quantum.ENCODINGS`; the
            encoding defaults to ``"paper"``, the only one the paper's ansatz takes).
        backend: ``"tfq"`` (default) or ``"tf"``.
        classical: train the classical twin (Dense head) instead of the hybrid model.
        learning_rate: Adam learning rate, finite, in (0, 1] (the peak of a schedule).
        lr_schedule: ``"constant"`` or ``"cosine"`` (warm-up, then cosine decay to 0 at the
            last step; :func:`qgcam_tf.model.recipes.learning_rate_schedule`).
        seed: seeds weights and everything random in training.
        force: start over in ``run_dir``: the files training writes there
            (:data:`qgcam_tf.model.run.RUN_FILES`) are removed first; nothing else is.
        recalibrate_bn: after ``fit``, set the BatchNorm moving statistics to those of the
            final weights on the training data (:mod:`qgcam_tf.model.recalibrate`): the moving
            averages trail features that keep growing during training, and inference-mode
            accuracy suffered for it (measured in docs/experiments.md).
        extra_metrics: ``(model, bundle) -> dict`` called with the final model; its keys
            join ``metrics.json`` (e.g. :func:`qgcam_tf.evaluate.attention.dataset_metrics`
            of the dataset). If it raises, no ``metrics.json`` is written and the run can be
            started again.
        tensorboard: write TensorBoard logs to ``run_dir/tensorboard``.
        settings: what else defines the run (``qgcam train`` passes its loader options:
            data path, limit, batch size, validation share, dataset options); a restart
            with other settings than the unfinished run's is refused.
        verbose: 0 silent; 1 Keras bars; 2 one line per epoch; ``"auto"`` bars on a
            terminal and lines in a log. Besides ``fit``, each later stage says what it does.
        jit_compile: compile the ``tf`` executor with XLA (``backend="tf"`` only).
        strategy: a ``tf.distribute`` strategy to train under
            (:func:`qgcam_tf.model.distribute.strategy_for`), created before TensorFlow ran
            anything; None trains in this process alone. See the module docstring.
        worker_dir: where a worker that is not the chief writes its copy of the run
            (default: a temporary directory, removed when training ends); the chief
            ignores it.

    Returns:
        The metrics dict written to ``metrics.json``.

    Raises:
        ValueError: bad options (checked before anything is written; ``jit_compile`` without
            the ``tf`` backend), ``run_dir`` already holds a finished run, an unfinished run
            with other settings or run files without a record, or ``extra_metrics`` returns
            a key of the standard metrics.
        TypeError: ``extra_metrics`` is not callable or returns no dict.
    """
    _check_int("epochs", epochs, 1)
    _check_int("depth", depth, 1)
    _check_int("n_qubits", n_qubits, 1)
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)):
        raise ValueError(f"learning_rate must be a number in (0, 1], got {learning_rate!r}")
    if not 0 < learning_rate <= 1:  # also rejects NaN; inf trains NaN weights
        raise ValueError(f"learning_rate must be a number in (0, 1], got {learning_rate!r}")
    if extra_metrics is not None and not callable(extra_metrics):
        raise TypeError(
            f"extra_metrics must be a callable (model, bundle) -> dict or None, "
            f"got {type(extra_metrics).__name__}"
        )
    n_classes = len(bundle.class_names)
    dataset_name = bundle.metadata.get("dataset")
    if not classical and n_qubits < n_classes:
        raise ValueError(
            f"--qubits must be >= {n_classes}, the number of classes of {dataset_name or 'the'}"
            f" dataset (the VQC measures one qubit per class), got {n_qubits}"
        )
    if jit_compile and (classical or backend != "tf"):
        what = "the classical twin" if classical else f"backend={backend!r}"
        raise ValueError(f"jit_compile=True (XLA) needs backend='tf', got {what}")
    verbose_fit = _keras_verbose(verbose)
    tty = verbose_fit == 1

    def say(message: str) -> None:
        if verbose:
            print(message, flush=True)

    seed_everything(seed)
    spec = None
    if not classical:
        spec = VQCSpec(
            n_qubits=n_qubits,
            depth=depth,
            n_outputs=n_classes,
            ansatz=ansatz,
            encoding=encoding or "paper",
        )

    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    per_epoch = _steps(bundle.train)  # the schedule's length

    # Several replicas: the BatchNormalization before the encoding takes its statistics over
    # the global batch, so a step equals one process's step on the same batch.
    sync_batchnorm = strategy is not None and int(strategy.num_replicas_in_sync) > 1

    def build() -> keras.Model:
        if classical:
            model = build_classical_twin(
                bundle.input_shape,
                n_classes,
                sync_batchnorm=sync_batchnorm,
                **bundle.model_kwargs,
            )
        else:
            model = build_hybrid_model(
                bundle.input_shape,
                n_classes,
                vqc=spec,
                backend=backend,
                jit_compile=jit_compile,
                sync_batchnorm=sync_batchnorm,
                **bundle.model_kwargs,
            )
        model.compile(
            optimizer=keras.optimizers.Adam(
                learning_rate_schedule(lr_schedule, learning_rate, epochs * per_epoch, per_epoch)
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=["accuracy"],
        )
        return model

    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build()
    metadata = dict(bundle.metadata)
    metadata.update(class_names=list(bundle.class_names), seed=seed, epochs=epochs)
    metadata["input_mean"] = input_mean(bundle.train)  # also rejects an empty training set
    steps = _steps(bundle.train)
    replicas = 1 if strategy is None else int(strategy.num_replicas_in_sync)
    run_settings = json.loads(
        json.dumps(
            {
                "dataset": dataset_name,
                "model": "classical_twin" if classical else "hybrid",
                "n_qubits": None if classical else n_qubits,
                "depth": None if classical else depth,
                "backend": None if classical else backend,
                # absent for the paper's circuit, so older runs' settings stay identical
                **({} if classical or spec.ansatz == "paper" else {"ansatz": spec.ansatz}),
                **({} if classical or spec.encoding == "paper" else {"encoding": spec.encoding}),
                **({"xla": True} if jit_compile else {}),
                # absent without several replicas: one replica trains as one process does
                **({"replicas": replicas} if replicas > 1 else {}),
                "epochs": epochs,
                "learning_rate": learning_rate,
                # absent when constant, so older runs' settings stay identical
                **({"lr_schedule": lr_schedule} if lr_schedule != "constant" else {}),
                "seed": seed,
                "recalibrate_bn": recalibrate_bn,
                "n_train": bundle.n_train,
                "n_validation": bundle.n_validation,
                "n_test": bundle.n_test,
                "steps_per_epoch": steps,
                "options": settings or {},
            },
            default=str,
        )
    )
    with _write_dir(strategy, worker_dir) as write_dir:
        # nothing is written before this
        run = _open_run_dir(run_dir, run_settings, force, write_dir)
        progress, stages = run.progress, run.progress["stages"]
        done = progress["epochs_done"]
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
        if done < epochs:
            if done:
                say(f"resuming {run_dir}: {done} of {epochs} epochs done")
                model.optimizer.build(model.trainable_variables)
                prefix = os.path.join(run.read_dir, BACKUP_DIR, progress["checkpoint"])
                checkpoint.read(prefix).assert_existing_objects_matched()
            callbacks = [_EpochCheckpoint(run, checkpoint, metadata)]
            if tensorboard:
                callbacks.insert(0, keras.callbacks.TensorBoard(run.path(TENSORBOARD_DIR)))
            if KILL_ENV in os.environ:
                callbacks.append(_KillPoints())
            # One pass of the (reshuffling) pipeline per epoch: epoch k gets the k-th order
            # whether or not the run was interrupted before it.
            train, validation = bundle.train.repeat().skip(done * steps), bundle.validation
            if strategy is not None:
                train = _sharded(train)
                validation = None if validation is None else _sharded(validation)
            model.fit(
                train,
                epochs=epochs,
                initial_epoch=done,
                steps_per_epoch=steps,
                validation_data=validation,
                callbacks=callbacks,
                verbose=verbose_fit if verbose else 0,
            )
            if strategy is not None:
                # Every worker reads the weights here (a collective read of BatchNorm's
                # per-replica statistics); the later stages run outside the strategy.
                weights = model.get_weights()
                model = build()
                model.set_weights(weights)
        else:
            say(f"resuming {run_dir}: all {epochs} epochs done, continuing after training")
            if strategy is not None:  # no collective operation: a worker may be gone
                model = build()
            model.load_weights(os.path.join(run.read_dir, MODEL_WEIGHTS))
        run.write_history()

        def evaluate(stage: str) -> tuple[float, float]:
            callbacks = [_KillPoints(stage)] if KILL_ENV in os.environ else []
            verbose_eval = 1 if tty and verbose else 0
            loss, accuracy = model.evaluate(bundle.test, verbose=verbose_eval, callbacks=callbacks)
            return float(loss), float(accuracy)

        if recalibrate_bn:
            if "test_accuracy_before_bn_recalibration" not in stages:
                say(
                    f"evaluating on {bundle.n_test} test examples "
                    "before the BatchNorm recalibration"
                )
                stages["test_accuracy_before_bn_recalibration"] = evaluate("evaluate-before-bn")[1]
                run.save_progress()
            if "bn_recalibrated" not in stages:
                n_bn = len(recalibrated_layers(model))
                say(
                    f"recalibrating BatchNorm statistics: {n_bn} layer(s) x {steps} "
                    "training batches"
                )
                bar = keras.utils.Progbar(n_bn * steps) if tty and verbose else None

                def step(i: int) -> None:
                    if bar is not None:
                        bar.update(i)
                    kill_point("recalibrate")

                stages["bn_recalibrated"] = (
                    recalibrate_batchnorm(model, bundle.train, progress=step) > 0
                )
                save_model(model, run.dir, metadata=metadata)  # before the stage is recorded
                run.save_progress()
        if "test" not in stages:
            say(f"evaluating on {bundle.n_test} test examples")
            stages["test"] = evaluate("evaluate")
            run.save_progress()
        loss, accuracy = stages["test"]
        metrics = {
            "dataset": dataset_name,
            "test_accuracy": accuracy,
            "test_loss": loss,
            "n_test": bundle.n_test,
            "n_train": bundle.n_train,
            "n_validation": bundle.n_validation,
            "train_seconds": round(float(progress["train_seconds"]), 2),
            "epochs": epochs,
            "model": "classical_twin" if classical else "hybrid",
            "n_qubits": spec.n_qubits if spec else None,
            "depth": spec.depth if spec else None,
            "ansatz": spec.ansatz if spec else None,
            "encoding": spec.encoding if spec else None,
            "backend": None if classical else backend,
            "learning_rate": learning_rate,
            "lr_schedule": lr_schedule,
            "seed": seed,
            "tensorflow": tf.__version__,
        }
        for key in ("test_accuracy_before_bn_recalibration", "bn_recalibrated"):
            if key in stages:
                metrics[key] = stages[key]
        if extra_metrics is not None:
            if "extra" not in stages:
                say("computing the dataset's extra metrics")
                stages["extra"] = _checked_extra(extra_metrics(model, bundle), metrics)
                kill_point("extra-metrics")
                run.save_progress()
            metrics.update(stages["extra"])
        save_keras_file(model, run.dir)
        kill_point("metrics")
        write_json_atomic(run.path(METRICS_FILE), metrics)
        shutil.rmtree(run.path(BACKUP_DIR), ignore_errors=True)
        say(f"finished: {run.path(METRICS_FILE)}")
        return metrics


def _sharded(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` auto-sharded with the DATA policy (see the module docstring)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


@contextlib.contextmanager
def _write_dir(strategy, worker_dir: str | None):
    """Where this process writes: None on the chief (the run directory), else
    ``worker_dir`` or a temporary directory removed at the end."""
    if is_chief(strategy):
        yield None
    elif worker_dir is not None:
        yield worker_dir
    else:
        temporary = tempfile.mkdtemp(prefix=f"qgcam-worker-{worker_index(strategy)}-")
        try:
            yield temporary
        finally:
            shutil.rmtree(temporary, ignore_errors=True)


def _checked_extra(extra, metrics: dict) -> dict:
    """``extra`` if it is a dict whose keys are new to ``metrics``."""
    if not isinstance(extra, dict):
        raise TypeError(f"extra_metrics must return a dict, got {type(extra).__name__}")
    clash = sorted(set(extra) & set(metrics))
    if clash:
        raise ValueError(f"extra_metrics must not replace the standard metrics, got keys {clash}")
    return json.loads(json.dumps(extra, default=float))
