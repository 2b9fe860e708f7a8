"""Reading image files (PNG, JPEG, GIF, BMP) into model inputs.

A picture whose aspect ratio differs from the model input's is fitted to it in one of three
ways (:func:`fit_image`, ``qgcam predict/explain --fit``): ``stretch`` (the default, what
training did), ``pad`` (letterbox with the background) or ``crop`` (centre crop). A picture
far from the input's aspect ratio warns (:mod:`qgcam_tf.data.checks`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from qgcam_tf.data.checks import aspect_message, resolve_fit, warn_input

__all__ = ["fit_image", "load_array", "load_image", "load_images"]


def fit_image(
    image,
    size: Sequence[int],
    fit: str = "stretch",
    *,
    method: str = "bilinear",
    antialias: bool = True,
    background: float = 0.0,
    source: str | None = None,
) -> tf.Tensor:
    """Fits a picture ``[h, w, C]`` to ``size = (H, W)``, float32.

    Args:
        image: the picture (any numeric dtype; values are kept as they are, not rescaled).
        size: the model input's ``(H, W)``.
        fit: ``stretch`` resizes to ``(H, W)``, whatever the aspect ratio; ``pad`` scales the
            picture to fit inside ``(H, W)`` with its aspect ratio kept and fills the rest
            (centred bars) with ``background``; ``crop`` cuts the centred window of the input's
            aspect ratio out of the picture, then resizes it to ``(H, W)``.
        method / antialias: the resize (``tf.image.resize``), as the dataset's training used.
        background: the value of ``pad``'s bars (in the picture's own scale).
        source: the picture's name; given, a picture far from the input's aspect ratio
            warns (:func:`qgcam_tf.data.checks.aspect_message`).

    Raises:
        ValueError: an unknown ``fit``.
    """
    fit = resolve_fit(fit)
    height, width = (int(s) for s in size)
    image = tf.cast(tf.convert_to_tensor(image), tf.float32)
    h, w = int(image.shape[0]), int(image.shape[1])
    if source is not None:
        message = aspect_message((h, w), (height, width), fit)
        if message:
            warn_input(source, message)

    def resize(x, hw):
        return tf.image.resize(x, hw, method=method, antialias=antialias)

    if fit == "crop":
        # the largest centred window of aspect width / height
        if w * height > h * width:  # wider than the input: cut the sides
            keep = max(1, round(h * width / height))
            image = image[:, (w - keep) // 2 : (w - keep) // 2 + keep]
        elif w * height < h * width:  # taller: cut top and bottom
            keep = max(1, round(w * height / width))
            image = image[(h - keep) // 2 : (h - keep) // 2 + keep]
    elif fit == "pad":
        scale = min(height / h, width / w)
        nh, nw = min(height, max(1, round(h * scale))), min(width, max(1, round(w * scale)))
        if (nh, nw) != (h, w):
            image = resize(image, (nh, nw))
        top, left = (height - nh) // 2, (width - nw) // 2
        return tf.pad(
            image,
            [[top, height - nh - top], [left, width - nw - left], [0, 0]],
            constant_values=background,
        )
    if tuple(image.shape[:2]) == (height, width):
        return image
    return resize(image, (height, width))


def load_image(
    path: str, shape: Sequence[int], *, fit: str = "stretch", background: float = 0.0
) -> np.ndarray:
    """Decodes ``path`` and fits it to ``shape = (H, W, C)``, float32 in [0, 1].

    Any size is accepted (bilinear resize, antialiased); a picture of another aspect ratio is
    fitted by ``fit`` (:func:`fit_image`; ``pad``'s bars are ``background``, black by default:
    MNIST's ground) and warns when far from the input's. Colour is converted to the model's
    channel count (RGB -> grey by luminance, grey -> RGB by repetition).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a decodable image, or ``fit`` is unknown.
    """
    height, width, channels = (int(s) for s in shape)
    fit = resolve_fit(fit)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file {path!r} does not exist")
    raw = tf.io.read_file(path)
    try:
        image = tf.io.decode_image(raw, channels=0, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
        raise ValueError(f"{path!r} is not a readable PNG/JPEG/GIF/BMP image") from None
    image = tf.image.convert_image_dtype(image, tf.float32)
    have = int(image.shape[-1])
    if have == 4:
        image, have = image[..., :3], 3
    if channels == 1 and have == 3:
        image = tf.image.rgb_to_grayscale(image)
    elif channels == 3 and have == 1:
        image = tf.image.grayscale_to_rgb(image)
    elif have not in (channels,) and not (channels == 1 and have == 2):
        raise ValueError(f"{path!r} has {have} channels; the model takes {channels}")
    if have == 2:
        image = image[..., :1]
    image = fit_image(image, (height, width), fit, background=background, source=path)
    return np.clip(image.numpy(), 0.0, 1.0).astype(np.float32)


def load_array(path: str, shape: Sequence[int]) -> np.ndarray:
    """Reads a ``.npy`` of model inputs, ``[H, W, C]`` or ``[B, H, W, C]`` in [0, 1].

    Unlike picture files, arrays are not resized: they must already have the model's shape.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not a ``.npy`` file (empty, truncated, a zip or a pickle), no images,
            wrong shape or dtype, NaN/inf, or values outside [0, 1].
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"array file {path!r} does not exist")
    try:  # the .npy format alone: np.load would also open a zip (.npz) or a pickle
        with open(path, "rb") as f:
            array = np.lib.format.read_array(f, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{path!r} is not a readable .npy file: {first}") from None
    expected = tuple(int(s) for s in shape)
    if array.ndim == len(expected):
        array = array[None]
    if array.shape[1:] != expected:
        raise ValueError(
            f"{path!r}: images must have shape [B, {', '.join(map(str, expected))}], "
            f"got {array.shape}"
        )
    if len(array) == 0:
        raise ValueError(f"{path!r} holds no images (shape {array.shape})")
    if array.dtype.kind not in "fiu":
        raise ValueError(f"{path!r}: images must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{path!r}: images contain NaN or infinite values")
    if array.size and (array.min() < 0.0 or array.max() > 1.0):
        raise ValueError(
            f"{path!r}: pixel values must be in [0, 1], got [{array.min()}, {array.max()}]"
        )
    return array


def load_images(paths: Sequence[str], shape: Sequence[int], *, fit: str = "stretch") -> np.ndarray:
    """Picture files (fitted by ``fit``, see :func:`load_image`) and ``.npy`` arrays (never
    resized), stacked into ``[B, H, W, C]``."""
    if not paths:
        raise ValueError("no image files given")
    parts = [
        load_array(p, shape) if p.endswith(".npy") else load_image(p, shape, fit=fit)[None]
        for p in paths
    ]
    return np.concatenate(parts)
