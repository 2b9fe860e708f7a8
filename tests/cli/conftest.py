"""Fixtures shared by the CLI tests: an MNIST-shaped run directory and digit files."""

import pytest
import tf_keras as keras

from qgcam_tf.data.mnist import CLASS_NAMES
from qgcam_tf.model.hybrid import build_hybrid_model
from qgcam_tf.model.run import save_model
from qgcam_tf.quantum.circuits import VQCSpec


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """An (untrained) MNIST-shaped hybrid model saved as a run directory.

    Its BatchNorm statistics come from 256 training digits, so the features reach the VQC at
    unit scale and different inputs get clearly different probabilities (with the initial
    statistics every input gets nearly the same answer, and a row paired with the wrong
    input could pass unnoticed).
    """
    import tensorflow as tf

    from qgcam_tf.data.mnist import load_mnist
    from qgcam_tf.model.recalibrate import recalibrate_batchnorm

    keras.utils.set_random_seed(0)
    model = build_hybrid_model(
        (28, 28, 1), 10, vqc=VQCSpec(10, 1, 10), backend="tf", conv_filters=(4, 8)
    )
    (x_train, _), _ = load_mnist()
    recalibrate_batchnorm(model, tf.data.Dataset.from_tensor_slices(x_train[:256]).batch(64))
    path = str(tmp_path_factory.mktemp("run"))
    save_model(
        model,
        path,
        metadata={"dataset": "mnist", "input_shape": [28, 28, 1], "class_names": list(CLASS_NAMES)},
    )
    return path


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    """Two MNIST test digits written as PNG files (one at 56x56 to exercise resizing)."""
    import tensorflow as tf

    from qgcam_tf.data.mnist import load_mnist

    (_, _), (x, y) = load_mnist()
    folder = tmp_path_factory.mktemp("digits")
    paths = []
    for i, size in [(0, 28), (1, 56)]:
        img = tf.image.resize(x[i], (size, size), method="nearest")
        path = str(folder / f"digit{i}.png")
        tf.io.write_file(path, tf.io.encode_png(tf.cast(tf.round(img * 255), tf.uint8)))
        paths.append(path)
    return paths, x[:2]
