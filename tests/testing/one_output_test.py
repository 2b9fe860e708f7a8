"""Tests of qgcam_tf.testing.one_output: the two-digit data and the one-output model."""

import sys

import numpy as np
import pytest
import tf_keras as keras

from qgcam_tf.data.mnist import load_mnist
from qgcam_tf.testing.one_output import build_one_output_model, two_digits


def test_two_digits_are_mnist_images_of_the_two_digits():
    """two_digits returns balanced, distinct MNIST test images of the two digits, scaled to
    [0, 1], labelled 1 exactly for the second digit."""
    _, (x, y) = two_digits((3, 8), n_train=4, n_test=20, seed=2)
    _, (xte, yte) = load_mnist()
    ref = np.asarray(xte, np.float32).reshape(len(xte), -1)
    ref = ref / 255.0 if ref.max() > 1.0 else ref
    assert x.shape == (20, 28, 28, 1) and y.sum() == 10
    for image, label in zip(x.reshape(20, -1), y, strict=True):
        rows = np.flatnonzero(np.all(np.abs(ref - image) < 1e-6, axis=1))
        assert rows.size and set(yte[rows]) == {8 if label else 3}
    assert len({image.tobytes() for image in x}) == 20


@pytest.mark.parametrize("quantum", [True, False])
def test_build_one_output_model_is_a_sigmoid_of_one_score(quantum):
    """The output is sigmoid(scale * <Z>) of the VQC (or sigmoid of the Dense logit)."""
    model = build_one_output_model(quantum=quantum, seed=3)
    x = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32)
    name = "vqc" if quantum else "logits"
    s = keras.Model(model.inputs, model.get_layer(name).output)(x).numpy()[:, 0]
    scale = float(model.get_layer("scale").scale.numpy()) if quantum else 1.0
    expected = 1.0 / (1.0 + np.exp(-scale * s))
    np.testing.assert_allclose(model(x).numpy()[:, 0], expected, rtol=1e-5)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
