"""Tests of qgcam_tf.model.recalibrate: BatchNorm statistics recomputed from data."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.model.recalibrate import recalibrate_batchnorm


def _model():
    keras.utils.set_random_seed(0)
    x = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(3, 3, activation="relu")(x)
    h = keras.layers.BatchNormalization(name="bn1")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.BatchNormalization(name="bn2")(h)
    return keras.Model(x, keras.layers.Dense(2)(h))


def test_moving_statistics_equal_numpy_statistics(rng):
    """After recalibration each BN layer's moving mean/variance equal the NumPy statistics of
    its inputs (the second layer's computed after the first one is fixed)."""
    model = _model()
    data = rng.normal(2.0, 3.0, size=(40, 6, 6, 2)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((data, np.zeros(40, np.int64))).batch(16)
    assert recalibrate_batchnorm(model, ds) == 2
    for name, axes in (("bn1", (0, 1, 2)), ("bn2", (0,))):
        layer = model.get_layer(name)
        inputs = keras.Model(model.inputs, layer.input)(data).numpy().astype(np.float64)
        np.testing.assert_allclose(
            layer.moving_mean.numpy(), inputs.mean(axis=axes), rtol=1e-4, atol=1e-6
        )
        np.testing.assert_allclose(
            layer.moving_variance.numpy(), inputs.var(axis=axes), rtol=1e-4, atol=1e-6
        )


def test_progress_counts_every_batch_of_every_layer(rng):
    """The progress callback is called once per batch and layer, with the running count."""
    data = rng.normal(size=(40, 6, 6, 2)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices(data).batch(16)  # 3 batches, 2 BN layers
    seen = []
    assert recalibrate_batchnorm(_model(), ds, progress=seen.append) == 2
    assert seen == [1, 2, 3, 4, 5, 6]


def test_frozen_layers_keep_their_statistics(rng):
    """A BN layer with trainable=False (a frozen backbone's) keeps its moving statistics."""
    model = _model()
    model.get_layer("bn1").trainable = False
    data = rng.normal(2.0, 3.0, size=(40, 6, 6, 2)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices(data).batch(16)
    assert recalibrate_batchnorm(model, ds) == 1
    np.testing.assert_array_equal(model.get_layer("bn1").moving_mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(model.get_layer("bn1").moving_variance.numpy(), np.ones(3))
    assert np.all(model.get_layer("bn2").moving_mean.numpy() != 0)


def test_empty_dataset_is_an_error():
    """An empty dataset is rejected."""
    empty = tf.data.Dataset.from_tensor_slices(np.zeros((0, 6, 6, 2), np.float32)).batch(4)
    with pytest.raises(ValueError, match="dataset is empty"):
        recalibrate_batchnorm(_model(), empty)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
