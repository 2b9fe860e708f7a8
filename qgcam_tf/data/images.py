"""Reading image files (PNG, JPEG, GIF, BMP) into model inputs."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

__all__ = ["load_array", "load_image", "load_images"]


def load_image(path: str, shape: Sequence[int]) -> np.ndarray:
    """Decodes ``path`` and resizes it to ``shape = (H, W, C)``, float32 in [0, 1].

    Any size is accepted (bilinear resize); colour is converted to the model's channel
    count (RGB -> grey by luminance, grey -> RGB by repetition).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a decodable image.
    """
    height, width, channels = (int(s) for s in shape)
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
    image = tf.image.resize(image, (height, width), method="bilinear", antialias=True)
    return np.clip(image.numpy(), 0.0, 1.0).astype(np.float32)


def load_array(path: str, shape: Sequence[int]) -> np.ndarray:
    """Reads a ``.npy`` of model inputs, ``[H, W, C]`` or ``[B, H, W, C]`` in [0, 1].

    Unlike picture files, arrays are not resized: they must already have the model's shape.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unreadable, wrong shape or dtype, NaN/inf, or values outside [0, 1].
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"array file {path!r} does not exist")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path!r} is not a readable .npy file: {e}") from None
    expected = tuple(int(s) for s in shape)
    if array.ndim == len(expected):
        array = array[None]
    if array.shape[1:] != expected:
        raise ValueError(
            f"{path!r}: images must have shape [B, {', '.join(map(str, expected))}], "
            f"got {array.shape}"
        )
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


def load_images(paths: Sequence[str], shape: Sequence[int]) -> np.ndarray:
    """Picture files (resized) and ``.npy`` arrays, stacked into ``[B, H, W, C]``."""
    if not paths:
        raise ValueError("no image files given")
    parts = [
        load_array(p, shape) if p.endswith(".npy") else load_image(p, shape)[None] for p in paths
    ]
    return np.concatenate(parts)
