"""Tests of qgcam_tf.data.registry: datasets by name, the per-class pick, and the catalog of
dataset names and options that the CLI knows without TensorFlow."""

import sys

import numpy as np
import pytest

from qgcam_tf.data.registry import (
    dataset_names,
    get_adapter,
    pick_per_class,
    split_validation,
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


def test_split_validation_is_a_seeded_partition():
    """The held-out rows are round(fraction * n), disjoint from the rest, together all rows
    in their original order; the same seed picks the same rows, another seed others."""
    x = np.arange(200).reshape(100, 2)
    y = np.arange(100)
    (xt, yt), (xv, yv) = split_validation(x, y, {"validation_fraction": 0.1, "seed": 4})
    assert len(yv) == 10 and len(yt) == 90
    assert sorted(np.concatenate([yt, yv]).tolist()) == list(range(100))
    assert np.all(np.diff(yt) > 0) and np.all(np.diff(yv) > 0)  # original order kept
    np.testing.assert_array_equal(xv[:, 0] // 2, yv)  # rows stay paired with their labels
    again = split_validation(x, y, {"validation_fraction": 0.1, "seed": 4})[1][1]
    np.testing.assert_array_equal(again, yv)
    other = split_validation(x, y, {"validation_fraction": 0.1, "seed": 5})[1][1]
    assert set(other.tolist()) != set(yv.tolist())
    (xt, yt), (xv, yv) = split_validation(x, y, {"seed": 4})  # no fraction: no split
    assert len(yt) == 100 and len(yv) == 0
    assert len(split_validation(x[:3], y[:3], {"validation_fraction": 0.01})[1][1]) == 1


@pytest.mark.parametrize("fraction", [-0.1, 1.0, float("nan"), "half"])
def test_split_validation_rejects_bad_fractions(fraction):
    """A fraction outside [0, 1) or not a number is one ValueError naming it."""
    with pytest.raises(ValueError, match="validation_fraction must be a number in"):
        split_validation(np.zeros((10, 1)), np.zeros(10), {"validation_fraction": fraction})
    with pytest.raises(ValueError, match="leaves none to train on"):
        split_validation(np.zeros((1, 1)), np.zeros(1), {"validation_fraction": 0.5})


def _options_read(module_file: str) -> set[str]:
    """Keys a loader reads from its options dict: options.get("k") and options["k"]."""
    import ast

    keys = set()
    for node in ast.walk(ast.parse(open(module_file).read())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "options"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            keys.add(node.args[0].value)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "options"
            and isinstance(node.slice, ast.Constant)
        ):
            keys.add(node.slice.value)
    return keys


@pytest.mark.parametrize(
    "dataset,module",
    [("mnist", "mnist"), ("dogs-vs-cats", "dogs_vs_cats"), ("speech", "speech")],
)
def test_the_option_catalog_lists_exactly_what_each_loader_reads(dataset, module):
    """DATASET_OPTIONS (the CLI's --option keys) equals the keys the loader reads."""
    import importlib

    from qgcam_tf.data import COMMON_OPTIONS, DATASET_OPTIONS

    path = importlib.import_module(f"qgcam_tf.data.{module}").__file__
    assert _options_read(path) - set(COMMON_OPTIONS) == set(DATASET_OPTIONS[dataset])


def test_the_builtin_names_are_the_registered_datasets():
    """BUILTIN_DATASETS (known without TensorFlow) equals the registry's datasets."""
    from qgcam_tf.data import BUILTIN_DATASETS
    from qgcam_tf.data.registry import dataset_names

    assert tuple(sorted(BUILTIN_DATASETS)) == tuple(dataset_names())


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
