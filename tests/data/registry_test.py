"""Tests of qgcam_tf.data.registry: datasets by name, the per-class pick, and rebuilding a
run's test split."""

import sys

import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.data import registry
from qgcam_tf.data.registry import (
    DATASETS,
    DatasetAdapter,
    DatasetBundle,
    dataset_names,
    get_adapter,
    pick_per_class,
    register,
    reload_bundle,
)


def test_builtin_datasets_and_unknown_names():
    """The three datasets are registered; an unknown name raises listing them."""
    assert {"mnist", "dogs-vs-cats", "speech"} <= set(dataset_names())
    assert get_adapter("speech").name == "speech"
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar'; choose one of \[.*'mnist'"):
        get_adapter("cifar")


def test_pick_per_class_cycles_over_the_classes():
    """One example of each class first, then round after round; never one twice; classes
    that run out are skipped, and the pick stops when all are used."""
    labels = np.array([0, 0, 1, 1, 1, 2, 0])
    picked = pick_per_class(labels, 5, 3, seed=4)
    assert labels[picked].tolist() == [0, 1, 2, 0, 1]
    assert len(set(picked.tolist())) == 5
    everything = pick_per_class(labels, 100, 3, seed=4)
    assert sorted(everything.tolist()) == list(range(7))
    assert labels[everything].tolist() == [0, 1, 2, 0, 1, 0, 1]
    np.testing.assert_array_equal(pick_per_class(labels, 5, 3, seed=4), picked)  # seeded


class Recorder:
    """A toy loader: 8 test examples (labels 0, 1, 0, 1, ...) whose pixels are their index."""

    def __init__(self):
        self.options = []

    def __call__(self, options):
        self.options.append(options)
        x = np.arange(8, dtype=np.float32)[:, None, None, None] * np.ones((1, 2, 2, 1), np.float32)
        y = np.arange(8) % 2
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
        return DatasetBundle(ds, ds, (2, 2, 1), ("a", "b"), 8, 8, test_arrays=(x, y))


@pytest.fixture
def toy(monkeypatch):
    """A registered toy dataset (removed again after the test)."""
    loader = Recorder()
    monkeypatch.setitem(DATASETS, "toy", None)  # restored (deleted) by monkeypatch
    register(DatasetAdapter("toy", loader, lambda paths, meta: None, "toy data"))
    return loader


def test_reload_bundle_uses_the_saved_options_and_seed(toy):
    """The run's loader options, its training seed and batch size 64 reach the loader;
    data_dir replaces the saved one."""
    meta = {"dataset": "toy", "seed": 7, "options": {"data_dir": "/old", "limit": 3}}
    reload_bundle(meta)
    reload_bundle(meta, data_dir="/moved")
    assert toy.options == [
        {"data_dir": "/old", "limit": 3, "seed": 7, "batch_size": 64},
        {"data_dir": "/moved", "limit": 3, "seed": 7, "batch_size": 64},
    ]


def test_test_examples_are_the_picked_rows(toy):
    """test_examples returns the test rows at the per-class pick, their labels and indices."""
    images, labels, idx = registry.test_examples({"dataset": "toy"}, count=3, seed=2)
    np.testing.assert_array_equal(idx, pick_per_class(np.arange(8) % 2, 3, 2, seed=2))
    np.testing.assert_array_equal(images[:, 0, 0, 0], idx.astype(np.float32))
    np.testing.assert_array_equal(labels, idx % 2)
    assert images.dtype == np.float32
    with pytest.raises(ValueError, match="--count must be >= 1, got 0"):
        registry.test_examples({"dataset": "toy"}, count=0)
    with pytest.raises(ValueError, match=r"--count must be <= 8 \(test examples\), got 9"):
        registry.test_examples({"dataset": "toy"}, count=9)


def test_test_examples_need_test_arrays(monkeypatch):
    """A dataset without in-memory test arrays cannot give examples: ValueError naming it."""

    def load(options):
        ds = tf.data.Dataset.from_tensor_slices((np.zeros((2, 2, 2, 1)), [0, 1])).batch(2)
        return DatasetBundle(ds, ds, (2, 2, 1), ("a", "b"), 2, 2)

    monkeypatch.setitem(DATASETS, "streamed", None)
    register(DatasetAdapter("streamed", load, lambda paths, meta: None))
    with pytest.raises(ValueError, match="'streamed' provides no test arrays"):
        registry.test_examples({"dataset": "streamed"}, count=1)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
