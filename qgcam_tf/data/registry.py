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
