"""Argument types shared by the subcommands: checked while parsing, before TensorFlow loads.

Each type turns a bad value into argparse's one-line error (exit status 2) that names what
was expected and what was given, so a typo costs no model loading.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence

__all__ = [
    "add_backend",
    "class_index",
    "existing_file",
    "int_list",
    "name_list",
    "non_negative_float",
    "positive_float",
    "positive_int",
    "probability",
    "run_dir",
    "shots",
    "typed",
]


def typed(convert: Callable[[str], object], ok: Callable[[object], bool], expected: str):
    """An argparse type: ``convert(text)``, which must pass ``ok``; else one clear error."""

    def parse(text: str):
        error = argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")
        try:
            value = convert(text)
        except (ValueError, OverflowError):
            raise error from None
        if not ok(value):
            raise error
        return value

    parse.__name__ = expected  # argparse names the type in some messages
    return parse


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


positive_int = typed(int, lambda v: v >= 1, "an int >= 1")
positive_float = typed(float, lambda v: _finite(v) and v > 0, "a finite number > 0")
non_negative_float = typed(float, lambda v: _finite(v) and v >= 0, "a finite number >= 0")
probability = typed(float, lambda v: 0.0 <= v <= 1.0, "a probability in [0, 1]")
class_index = typed(int, lambda v: v >= -1, "a class index >= 0, or -1 for the predicted class")
shots = typed(
    lambda t: None if t.lower() == "none" else int(t),
    lambda v: v is None or v >= 1,
    "an int >= 1 or 'none'",
)


def run_dir(text: str) -> str:
    """A run directory of ``qgcam train``: a folder holding ``model.json``."""
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"run directory {text!r} does not exist")
    if not os.path.isfile(os.path.join(text, "model.json")):
        raise argparse.ArgumentTypeError(
            f"{text!r} holds no model.json: is it a run directory of `qgcam train`?"
        )
    return text


def existing_file(text: str) -> str:
    """A path to a readable file."""
    if not os.path.isfile(text):
        kind = "a directory" if os.path.isdir(text) else "not found"
        raise argparse.ArgumentTypeError(f"input file {text!r}: {kind}")
    return text


def name_list(known: Sequence[str]):
    """An argparse type for names from ``known``, comma separated (``a,b``) or repeated."""

    def parse(text: str) -> list[str]:
        names = [t for t in text.split(",") if t]
        bad = [n for n in names if n not in known]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(known)}; got {text!r}")
        return names

    return parse


def _positive_ints(text: str) -> tuple[int, ...]:
    values = tuple(int(v) for v in text.split(","))
    if not values or min(values) < 1:
        raise ValueError(text)
    return values


int_list = typed(_positive_ints, lambda v: True, "comma-separated ints >= 1 (e.g. 4,8,12)")


def add_backend(p: argparse.ArgumentParser, *, default: str) -> None:
    """The ``--backend`` option: which executor runs the VQC (the weights are the same)."""
    p.add_argument(
        "--backend",
        choices=("tfq", "tf"),
        default=default,
        help=f"VQC executor, same weights either way (default: {default})",
    )
