"""Datasets by name: what ``qgcam train`` trains on and how ``predict``/``explain`` read files.

Each dataset registers a :class:`DatasetAdapter` with two functions:

* ``load(options) -> DatasetBundle``: the training and test pipelines plus what the model
  needs (input shape, class names, backbone) and what prediction needs later (metadata);
* ``load_files(paths, metadata) -> float32 [B, H, W, C]``: the dataset's own files (PNG,
  JPEG, WAV, ...) turned into model inputs exactly as in training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

__all__ = [
    "DATASETS",
    "DatasetAdapter",
    "DatasetBundle",
    "dataset_names",
    "get_adapter",
    "pick_per_class",
    "register",
    "split_validation",
]


@dataclasses.dataclass
class DatasetBundle:
    """A dataset ready for training.

    Attributes:
        train / test: batched ``tf.data`` pipelines of ``(images, labels)``.
        input_shape: ``(H, W, C)`` of the model input.
        class_names: one name per class index.
        n_train / n_test: example counts.
        model_kwargs: extra arguments for ``build_hybrid_model`` (e.g. ``conv_filters``).
        metadata: saved beside the model; ``load_files`` gets it back.
        test_arrays: ``(x, y)`` NumPy arrays of the test split when they fit in memory
            (used by ``explain``/``evaluate`` to pick examples).
        validation: batched ``(images, labels)`` held out of the training data
            (:func:`split_validation`), or None; ``fit`` reports ``val_loss`` on it.
        n_validation: its example count (0 without a validation split).
    """

    train: tf.data.Dataset
    test: tf.data.Dataset
    input_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    n_train: int
    n_test: int
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    metadata: dict = dataclasses.field(default_factory=dict)
    test_arrays: tuple[np.ndarray, np.ndarray] | None = None
    validation: tf.data.Dataset | None = None
    n_validation: int = 0


@dataclasses.dataclass(frozen=True)
class DatasetAdapter:
    """How to load one dataset.

    Only loading lives here: what other tiers do with a dataset (figures, metrics) they
    look up by its name (:func:`qgcam_tf.viz.datasets.explain_figures`,
    :func:`qgcam_tf.evaluate.attention.dataset_metrics`).

    Attributes:
        name: the dataset's name (``qgcam train --dataset NAME``).
        load: ``options -> DatasetBundle``.
        load_files: ``(paths, metadata) -> float32 [B, H, W, C]`` model inputs.
        help: one line for ``--help``.
    """

    name: str
    load: Callable[[dict], DatasetBundle]
    load_files: Callable[[Sequence[str], dict], np.ndarray]
    help: str = ""


DATASETS: dict[str, DatasetAdapter] = {}


def register(adapter: DatasetAdapter) -> DatasetAdapter:
    DATASETS[adapter.name] = adapter
    return adapter


def get_adapter(name: str) -> DatasetAdapter:
    """The adapter of dataset ``name``.

    Raises:
        ValueError: unknown dataset (the message lists the known ones).
    """
    _load_builtin()
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[name]


def pick_per_class(labels, count: int, n_classes: int, seed: int = 0) -> np.ndarray:
    """Indices of ``count`` examples, cycling over the classes (one per class first)."""
    rng = np.random.default_rng(seed)
    pools = [list(rng.permutation(np.flatnonzero(labels == c))) for c in range(n_classes)]
    picked = []
    while len(picked) < count and any(pools):
        for pool in pools:
            if pool and len(picked) < count:
                picked.append(int(pool.pop(0)))
    return np.array(picked, dtype=np.int64)


def split_validation(x, y, options: dict):
    """Splits training arrays into training and validation parts, deterministically.

    The share is ``options["validation_fraction"]`` (absent or 0: no split; ``qgcam train``
    passes 0.1 unless told otherwise); which examples are held out depends only on
    ``options["seed"]`` and the number of examples, drawn from a generator of its own so the
    loader's other draws (``limit``, noise mixing) stay as they were. Both parts keep the
    original order.

    Args:
        x / y: training inputs and labels (same length).
        options: the loader options.

    Returns:
        ``((x_train, y_train), (x_val, y_val))``; the validation part is empty without a split.

    Raises:
        ValueError: the fraction is not a number in [0, 1), or it would leave no training
            example.
    """
    raw = options.get("validation_fraction") or 0.0
    try:
        fraction = float(raw)
    except (TypeError, ValueError):
        fraction = float("nan")
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation_fraction must be a number in [0, 1), got {raw!r}")
    n = len(x)
    n_val = int(round(fraction * n))
    if fraction > 0 and n_val == 0:
        n_val = 1
    if n_val and n_val >= n:
        raise ValueError(
            f"validation_fraction={fraction} of {n} training examples leaves none to train on"
        )
    held = np.zeros(n, bool)
    rng = np.random.default_rng([int(options.get("seed") or 0), 0x5EED])  # its own stream
    held[rng.permutation(n)[:n_val]] = True
    return (x[~held], y[~held]), (x[held], y[held])


def dataset_names() -> list[str]:
    _load_builtin()
    return sorted(DATASETS)


def _load_builtin() -> None:
    # Importing a dataset module registers it. Missing optional modules are not an error.
    import importlib

    for module in ("mnist", "dogs_vs_cats", "speech"):
        try:
            importlib.import_module(f"qgcam_tf.data.{module}")
        except ModuleNotFoundError as e:
            if e.name != f"qgcam_tf.data.{module}":
                raise
