"""A one-output hybrid (a VQC reading one ``<Z>``, then a sigmoid) trained on two MNIST digits.

The most common quantum binary classifier: its CAM of the negative class must use the
negated score (:class:`~qgcam_tf.explain.base.BaseCAM`). :func:`one_output_model` builds
the model and trains it briefly on a few hundred images of the embedded MNIST, so that its
maps explain a model that separates the digits.

Example (in a module-scoped fixture)::

    model, (x, y) = one_output_model(digits=(0, 1))
"""

from __future__ import annotations

import numpy as np

__all__ = ["INPUT_SHAPE", "build_one_output_model", "one_output_model", "two_digits"]

INPUT_SHAPE = (28, 28, 1)


def build_one_output_model(*, quantum: bool = True, n_qubits: int = 4, seed: int = 0):
    """image -> conv -> pool -> ``qgcam_conv`` -> GAP -> BN -> Dense -> one score -> sigmoid.

    Args:
        quantum: the score is a ``VQCLayer`` of ``VQCSpec(n_qubits, 1, n_outputs=1)``
            (``tf`` executor) then a trainable :class:`~qgcam_tf.model.hybrid.Scale`;
            False: a ``Dense(1)`` layer named ``logits`` (the classical twin).
        n_qubits: qubits of the VQC.
        seed: seeds the initial weights.

    Returns:
        An uncompiled ``tf_keras`` model with output ``probabilities`` ``[B, 1]`` (the
        probability of the second digit).
    """
    import tf_keras as keras

    from qgcam_tf.model.hybrid import CONV_LAYER, VQC_LAYER, Scale
    from qgcam_tf.model.layers import VQCLayer
    from qgcam_tf.quantum.circuits import VQCSpec

    keras.utils.set_random_seed(seed)
    images = keras.Input(INPUT_SHAPE, name="images")
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv0")(images)
    h = keras.layers.MaxPooling2D(2, name="pool0")(h)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name=CONV_LAYER)(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    h = keras.layers.BatchNormalization(momentum=0.9, name="bn")(h)
    if quantum:
        h = keras.layers.Dense(n_qubits, name="to_qubits")(h)
        spec = VQCSpec(n_qubits=n_qubits, depth=1, n_outputs=1)
        score = VQCLayer(spec, "tf", name=VQC_LAYER)(h)
        logit = Scale(name="scale")(score)
    else:
        logit = keras.layers.Dense(1, name="logits")(h)
    probs = keras.layers.Activation("sigmoid", name="probabilities")(logit)
    return keras.Model(images, probs, name="one_output_hybrid" if quantum else "one_output_twin")


def two_digits(digits=(0, 1), *, n_train: int = 400, n_test: int = 64, seed: int = 0):
    """Images of two digits from the embedded MNIST, labelled 0 and 1 (the second digit).

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: float32 ``[N, 28, 28, 1]`` in [0, 1]
        and float32 ``[N]`` labels, the two digits in equal numbers, shuffled.
    """
    from qgcam_tf.data.mnist import load_mnist

    (xtr, ytr), (xte, yte) = load_mnist()
    rng = np.random.default_rng(seed)

    def pick(x, y, n):
        idx = np.concatenate([rng.permutation(np.flatnonzero(y == d))[: n // 2] for d in digits])
        idx = rng.permutation(idx)
        images = np.asarray(x[idx], np.float32).reshape(-1, *INPUT_SHAPE)
        if images.max() > 1.0:
            images = images / 255.0
        return images, (y[idx] == digits[1]).astype(np.float32)

    return pick(xtr, ytr, n_train), pick(xte, yte, n_test)


def one_output_model(
    digits=(0, 1), *, quantum: bool = True, epochs: int = 3, n_train: int = 400, seed: int = 0
):
    """:func:`build_one_output_model` trained on :func:`two_digits` (binary cross-entropy),
    then its BatchNorm statistics recalibrated on the training images
    (:func:`~qgcam_tf.model.recalibrate.recalibrate_batchnorm`: a short run's moving
    averages lag the fast-changing conv weights, and the model then predicts one class).

    Returns:
        ``(model, (x_test, y_test))``.
    """
    import tensorflow as tf
    import tf_keras as keras

    from qgcam_tf.model.recalibrate import recalibrate_batchnorm

    (x, y), test = two_digits(digits, n_train=n_train, seed=seed)
    model = build_one_output_model(quantum=quantum, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, shuffle=False)
    recalibrate_batchnorm(model, tf.data.Dataset.from_tensor_slices(x).batch(100))
    return model, test
