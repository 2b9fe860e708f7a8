"""Tests for qgcam_tf.model.recipes: the table, how flags and recipes combine, and the
learning-rate schedules against a closed-form NumPy reference."""

import math
import sys

import numpy as np
import pytest

from qgcam_tf.data import BUILTIN_DATASETS, DATASET_OPTIONS
from qgcam_tf.model.recipes import (
    LR_SCHEDULES,
    RECIPE_FIELDS,
    RECIPES,
    describe,
    get_recipe,
    learning_rate_at,
    learning_rate_schedule,
    resolve,
)


def test_every_builtin_dataset_has_a_recipe_of_valid_values():
    """One recipe per built-in dataset, each within the CLI's bounds, with a known schedule and
    backend and only options its dataset's loader reads."""
    assert sorted(RECIPES) == sorted(BUILTIN_DATASETS)
    for name, recipe in RECIPES.items():
        assert 1 <= recipe.epochs <= 1000 and 2 <= recipe.qubits <= 20, name
        assert 1 <= recipe.depth <= 50 and 1 <= recipe.batch_size <= 4096, name
        assert 0 < recipe.learning_rate <= 1, name
        assert recipe.lr_schedule in LR_SCHEDULES and recipe.backend in ("tfq", "tf"), name
        assert set(recipe.options) <= set(DATASET_OPTIONS[name]), name


def test_the_photo_recipe_is_the_documented_one():
    """Dogs vs Cats trains what docs/experiments.md chose on validation photos: 60 epochs,
    8 qubits, depth 2, lr 0.002 with cosine decay, batch 32, 96-pixel photos with flips, crops
    and reflection padding."""
    r = RECIPES["dogs-vs-cats"]
    assert (r.epochs, r.qubits, r.depth, r.learning_rate, r.batch_size) == (60, 8, 2, 0.002, 32)
    assert (r.lr_schedule, r.backend) == ("cosine", "tfq")
    assert dict(r.options) == {"image_size": "96", "augment": "flip,crop", "padding": "reflect"}


def test_the_speech_recipe_is_the_documented_one():
    """Speech trains what docs/experiments.md measured on held-out clips: 20 epochs, 4 qubits,
    depth 2, lr 0.005, batch 32, tfq, noise mixed at 0-10 dB."""
    r = RECIPES["speech"]
    assert (r.epochs, r.qubits, r.depth, r.learning_rate, r.batch_size) == (20, 4, 2, 0.005, 32)
    assert (r.lr_schedule, r.backend) == ("constant", "tfq")
    assert dict(r.options) == {"snr_db": "0:10"}


def test_resolve_takes_given_values_and_fills_the_rest_from_the_recipe():
    """A given value wins and its flag is listed; every value left None is the recipe's."""
    recipe = RECIPES["speech"]
    values, explicit = resolve("speech", {"epochs": 7, "backend": None, "batch_size": 16})
    expected = {field: getattr(recipe, field) for field in RECIPE_FIELDS}
    expected.update(epochs=7, batch_size=16)
    assert values == expected
    assert explicit == ["--batch-size", "--epochs"]
    assert resolve("speech", {}) == ({f: getattr(recipe, f) for f in RECIPE_FIELDS}, [])


def test_resolve_refuses_unknown_datasets_and_fields():
    """An unknown dataset or a key that is no recipe field is one ValueError naming it."""
    with pytest.raises(ValueError, match="'cifar' has no recipe"):
        resolve("cifar", {})
    with pytest.raises(ValueError, match="'cifar' has no recipe"):
        get_recipe("cifar")
    with pytest.raises(ValueError, match=r"no recipe fields: \['qbits'\]"):
        resolve("mnist", {"qbits": 3})


def test_describe_names_every_flag_with_its_value():
    """The --help line of a recipe holds each flag followed by the recipe's value, and its
    options as --option KEY=VALUE."""
    line = describe(RECIPES["dogs-vs-cats"])
    for field, flag in RECIPE_FIELDS.items():
        assert f"{flag} {getattr(RECIPES['dogs-vs-cats'], field)}" in line
    assert "--option image-size=96" in line and "--option augment=flip" in line


def _cosine_reference(lr, total, per_epoch):
    """The cosine schedule written out with NumPy: linear warm-up over a quarter epoch from
    lr / warmup, then half a cosine period down to 0 at the last step."""
    warmup = max(1, min(per_epoch // 4, total - 1))
    steps = np.arange(total + 5, dtype=np.float64)
    rise = lr / warmup + (lr - lr / warmup) * steps / warmup
    t = np.clip((steps - warmup) / max(total - warmup, 1), 0.0, 1.0)
    return np.where(steps < warmup, rise, 0.5 * lr * (1.0 + np.cos(np.pi * t)))


@pytest.mark.parametrize(("total", "per_epoch"), [(40, 10), (7, 7), (1, 1), (30, 100)])
def test_cosine_schedule_matches_the_closed_form(total, per_epoch):
    """Keras's schedule and the Python reference both equal the NumPy closed form at every
    step, including past the end (0 there), and peak at the learning rate."""
    lr = 0.004
    expected = _cosine_reference(lr, total, per_epoch)
    schedule = learning_rate_schedule("cosine", lr, total, per_epoch)
    keras_values = np.array([float(schedule(s)) for s in range(total + 5)])
    python_values = np.array(
        [learning_rate_at("cosine", lr, s, total, per_epoch) for s in range(total + 5)]
    )
    np.testing.assert_allclose(keras_values, expected, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(python_values, expected, rtol=1e-12, atol=1e-15)
    assert math.isclose(expected.max(), lr, rel_tol=1e-12)
    assert expected[total:].max() <= 1e-12 or total == 1


def test_constant_schedule_is_the_number_itself():
    """'constant' hands Adam the learning rate as a float, the same at every step."""
    assert learning_rate_schedule("constant", 0.005, 100, 10) == 0.005
    assert {learning_rate_at("constant", 0.005, s, 100, 10) for s in range(0, 200, 7)} == {0.005}


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("linear", 0.01, 10, 5), "lr_schedule must be one of"),
        (("cosine", 0.0, 10, 5), "learning_rate must be a number in"),
        (("cosine", 0.01, 0, 5), "total_steps must be an int >= 1, got 0"),
        (("cosine", 0.01, 10, 0), "steps_per_epoch must be an int >= 1, got 0"),
    ],
)
def test_bad_schedule_arguments_are_one_value_error(args, match):
    """An unknown schedule, a learning rate outside (0, 1] or a step count below 1 is a
    ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        learning_rate_schedule(*args)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
