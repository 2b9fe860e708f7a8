"""Input checks that warn: inputs a model will answer for, but not in the way a user expects.

Three checks, each a warning line (an :class:`InputWarning`), never an error:

* **polarity**: a picture whose mean intensity lies on the other side of 0.5 from the
  training mean (a black-on-white digit given to an MNIST model, trained white on black);
* **aspect ratio**: a picture far from the model input's aspect ratio, and what ``fit``
  did about it (:data:`FITS`: ``stretch``, as in training, ``pad`` or ``crop``);
* **constant input**: every value equal (an all-black picture, a silent clip): the model
  sees no content, so its prediction and its CAM map say nothing about the input.

Warnings go through Python's :mod:`warnings` as :class:`InputWarning`, so a library user can
filter them (``warnings.simplefilter("ignore", InputWarning)``) or turn them into errors;
:func:`print_input_warnings` prints each as one ``warning: <source>: ...`` line (the CLI).

This module imports neither TensorFlow nor NumPy when it loads: the CLI offers :data:`FITS`
as choices before anything heavy loads.
"""

from __future__ import annotations

import contextlib
import math
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ASPECT_TOLERANCE",
    "CONSTANT_TOLERANCE",
    "DEFAULT_FIT",
    "FITS",
    "KNOWN_INPUT_MEANS",
    "NON_PICTURE_DATASETS",
    "PICTURE_EXTENSIONS",
    "POLARITY_INPUT_MARGIN",
    "POLARITY_TRAINING_MARGIN",
    "InputWarning",
    "aspect_message",
    "check_inputs",
    "constant_message",
    "fitted_as",
    "is_constant",
    "polarity_message",
    "print_input_warnings",
    "resolve_fit",
    "training_mean",
    "warn_input",
]

# How a picture whose aspect ratio differs from the model input's is fitted to it:
# stretch (resize both sides independently), pad (scale to fit inside, letterbox the rest with
# the background) or crop (scale to cover, keep the centre).
FITS = ("stretch", "pad", "crop")
# What every built-in dataset's training did: MNIST digits are square already, and the
# Dogs vs Cats loader resizes each photo to a square whatever its shape. A run may record
# another in its metadata ("fit").
DEFAULT_FIT = "stretch"
# A picture warns when its aspect ratio (width / height) is more than this factor from the
# model input's. Not 1.3: most Kaggle photos are 4:3 or 3:4 (1.33) and training stretched them,
# so a 4:3 photo is what a Dogs vs Cats model has seen.
ASPECT_TOLERANCE = 1.5
# Polarity: a training mean at least this far from 0.5 makes the training data polarised
# (MNIST: 0.13, light strokes on a dark ground); an input whose mean lies on the other side of
# 0.5 by at least POLARITY_INPUT_MARGIN (MNIST: a mean >= 0.6) warns. Photos (mean near 0.45)
# are not polarised, so they never warn.
POLARITY_TRAINING_MARGIN = 0.2
POLARITY_INPUT_MARGIN = 0.1
# Mean pixel value of the training inputs of datasets with a known polarity, for runs that did
# not record "input_mean" in their metadata (MNIST's classic 0.1307).
KNOWN_INPUT_MEANS = {"mnist": 0.1307}
# Datasets whose inputs are not pictures (log-mel spectrograms): no polarity check.
NON_PICTURE_DATASETS = frozenset({"speech"})
# An input whose values all lie within one 8-bit grey level (1/255, with room for rounding)
# is constant.
CONSTANT_TOLERANCE = 1.5 / 255.0
# Files read as pictures (the others are arrays or audio, never resized).
PICTURE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


class InputWarning(UserWarning):
    """An input the model will answer for, but probably not as the user expects."""


def warn_input(source: str, message: str) -> None:
    """Issues ``"<source>: <message>"`` as an :class:`InputWarning`."""
    warnings.warn(f"{source}: {message}", InputWarning, stacklevel=3)


def resolve_fit(fit: str | None, metadata: dict | None = None) -> str:
    """``fit``, or the run's training fit (``metadata["fit"]``, else :data:`DEFAULT_FIT`).

    Raises:
        ValueError: ``fit`` is not one of :data:`FITS`.
    """
    if fit is None:
        fit = (metadata or {}).get("fit") or DEFAULT_FIT
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    return fit


def fitted_as(source: str, fit: str) -> str:
    """How the input of ``source`` was fitted: ``fit`` for a picture file, else ``"none"``
    (``.npy`` arrays, ``file.npy[i]`` rows and audio are never resized)."""
    path = re.sub(r"\[\d+\]$", "", source)
    return fit if path.lower().endswith(PICTURE_EXTENSIONS) else "none"


def aspect_message(picture_hw: Sequence[int], input_hw: Sequence[int], fit: str) -> str | None:
    """Why a ``picture_hw`` picture fitted to ``input_hw`` is worth a word, or None.

    None when the two aspect ratios (width / height) are within :data:`ASPECT_TOLERANCE`.
    """
    (h, w), (height, width) = (int(s) for s in picture_hw), (int(s) for s in input_hw)
    have, want = w / max(h, 1), width / max(height, 1)
    if max(have / want, want / have) <= ASPECT_TOLERANCE:
        return None
    head = (
        f"aspect ratio {have:.2f} ({w}x{h}) is far from the model input's {want:.2f} "
        f"({width}x{height}): "
    )
    if fit == "stretch":
        return head + (
            "stretched to fit, as training did (--fit pad letterboxes it, --fit crop keeps "
            "the centre)"
        )
    if fit == "pad":
        kept = min(have / want, want / have)
        return head + (
            f"letterboxed (--fit pad): the picture fills {kept:.0%} of the input, "
            "the rest is background the model did not see in training"
        )
    lost = 1.0 - min(have / want, want / have)
    return head + f"centre-cropped (--fit crop): {lost:.0%} of the picture is cut off"


def training_mean(metadata: dict, dataset: str | None = None) -> float | None:
    """The mean pixel value of the run's training inputs, for the polarity check.

    ``metadata["input_mean"]`` (written by ``qgcam train``; a list of channel means is
    averaged), else the dataset's known mean (:data:`KNOWN_INPUT_MEANS`), else None. None
    too for datasets whose inputs are not pictures (:data:`NON_PICTURE_DATASETS`).
    """
    import numpy as np

    dataset = dataset or metadata.get("dataset")
    if dataset in NON_PICTURE_DATASETS:
        return None
    value = metadata.get("input_mean")
    if value is None:
        value = KNOWN_INPUT_MEANS.get(dataset)
    try:
        value = float(np.mean(np.asarray(value, dtype=np.float64)))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def polarity_message(mean: float, train_mean: float | None) -> str | None:
    """What to say about an input of mean ``mean`` to a model trained at ``train_mean``.

    None unless the training data is polarised (its mean at least
    :data:`POLARITY_TRAINING_MARGIN` from 0.5) and the input's mean lies on the other side of
    0.5 by at least :data:`POLARITY_INPUT_MARGIN`.
    """
    if train_mean is None or abs(train_mean - 0.5) < POLARITY_TRAINING_MARGIN:
        return None
    if (mean - 0.5) * (train_mean - 0.5) > 0 or abs(mean - 0.5) < POLARITY_INPUT_MARGIN:
        return None
    kind = "light-on-dark" if train_mean < 0.5 else "dark-on-light"
    return (
        f"the model was trained on {kind} inputs (mean {train_mean:.2f}); this input has "
        f"mean {mean:.2f}: invert it (1 - x)?"
    )


def is_constant(inputs: np.ndarray) -> np.ndarray:
    """bool ``[B]``: whether each input of ``[B, ...]`` has all its values within
    :data:`CONSTANT_TOLERANCE` of each other."""
    import numpy as np

    flat = np.asarray(inputs, dtype=np.float64).reshape(len(inputs), -1)
    if flat.shape[1] == 0:
        return np.ones(len(inputs), bool)
    return (flat.max(axis=1) - flat.min(axis=1)) <= CONSTANT_TOLERANCE


def constant_message(value: float) -> str:
    """What to say about a constant input whose values are all ``value``."""
    return (
        f"constant input (every value {value:.3f}): the model sees no content, so its "
        "prediction and its CAM map carry no information (explain writes its map as zeros)"
    )


def check_inputs(inputs: np.ndarray, sources: Sequence[str], *, train_mean: float | None) -> None:
    """Warns (:class:`InputWarning`) about each constant input, and each input whose mean
    is on the other side of 0.5 from ``train_mean`` (:func:`polarity_message`).

    Args:
        inputs: model inputs ``[B, H, W, C]`` in [0, 1].
        sources: ``[B]`` the name of each input in the warnings.
        train_mean: the training mean (:func:`training_mean`); None: no polarity check.
    """
    if len(inputs) != len(sources):
        raise ValueError(f"{len(inputs)} inputs but {len(sources)} sources")
    import numpy as np

    constant = is_constant(inputs)
    for x, source, flat in zip(inputs, sources, constant, strict=True):
        if flat:
            warn_input(source, constant_message(float(np.mean(x))))
            continue
        message = polarity_message(float(np.mean(x)), train_mean)
        if message:
            warn_input(source, message)


@contextlib.contextmanager
def print_input_warnings(stream: TextIO | None = None) -> Iterator[None]:
    """Within the block, each distinct :class:`InputWarning` is written to ``stream``
    (default ``sys.stderr``) as one line ``warning: <source>: ...``; other warnings are shown
    as usual."""
    seen: set[str] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("always", InputWarning)
        show = warnings.showwarning

        def showwarning(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, InputWarning):
                show(message, category, filename, lineno, file, line)
                return
            text = " ".join(str(message).splitlines())
            if text not in seen:
                seen.add(text)
                print(f"warning: {text}", file=stream or sys.stderr, flush=True)

        warnings.showwarning = showwarning
        yield
