"""Argument types shared by the subcommands: checked while parsing, before TensorFlow loads.

Each type turns a bad value into argparse's one-line error (exit status 2) that names what
was expected and what was given, so a typo costs no model loading.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence

__all__ = [
    "MAX_INT",
    "RUN_FILES",
    "add_backend",
    "bounded_int",
    "bounded_list",
    "class_index",
    "existing_file",
    "int_list",
    "name_list",
    "non_negative_float",
    "output_dir",
    "output_file",
    "positive_float",
    "positive_int",
    "probability",
    "qubit_list",
    "removed_on_failure",
    "run_dir",
    "run_metadata",
    "seed",
    "shots",
    "typed",
]

# The largest count any option takes: TensorFlow's int32 shapes and sizes end here.
MAX_INT = 2**31 - 1
# What `qgcam train` writes into a run directory (qgcam_tf.model.run's MODEL_CONFIG and
# MODEL_WEIGHTS; that module imports TensorFlow, so the names are repeated here and a test
# checks that they agree).
RUN_FILES = ("model.json", "model.weights.h5")


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


def bounded_int(low: int, high: int):
    """An argparse type for ints in ``[low, high]``: the bound where a larger value would run
    for hours (the message names both ends)."""
    return typed(int, lambda v: low <= v <= high, f"an int in [{low}, {high}]")


def _positive_int(text: str) -> int:
    value = typed(int, lambda v: v >= 1, "an int >= 1")(text)
    if value > MAX_INT:
        raise argparse.ArgumentTypeError(f"must be an int <= {MAX_INT}, got {text!r}")
    return value


positive_int = _positive_int
positive_int.__name__ = "an int >= 1"
# Seeds of NumPy's and TensorFlow's generators alike.
seed = bounded_int(0, 2**32 - 1)
positive_float = typed(float, lambda v: _finite(v) and v > 0, "a finite number > 0")
non_negative_float = typed(float, lambda v: _finite(v) and v >= 0, "a finite number >= 0")
probability = typed(float, lambda v: 0.0 <= v <= 1.0, "a probability in [0, 1]")
class_index = typed(int, lambda v: v >= -1, "a class index >= 0, or -1 for the predicted class")
MAX_SHOTS = 10**6
shots = typed(
    lambda t: None if t.lower() == "none" else int(t),
    lambda v: v is None or 1 <= v <= MAX_SHOTS,
    f"an int in [1, {MAX_SHOTS}] or 'none'",
)


def _readable(path: str) -> str | None:
    """Why ``path`` cannot be opened for reading, or None when it can."""
    try:
        with open(path, "rb"):
            return None
    except OSError as e:
        return e.strerror or type(e).__name__


def run_dir(text: str) -> str:
    """A run directory of ``qgcam train``: a folder holding a readable ``model.json`` (a JSON
    object with ``keras_model`` and ``metadata``) and ``model.weights.h5``.

    Only JSON is read, so a broken run is refused while parsing, before TensorFlow loads.
    """
    config_file, weights_file = RUN_FILES
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"run directory {text!r} does not exist")
    config = os.path.join(text, config_file)
    if not os.path.isfile(config):
        raise argparse.ArgumentTypeError(
            f"{text!r} holds no {config_file}: is it a run directory of `qgcam train`?"
        )
    why = _readable(config)
    if why:
        raise argparse.ArgumentTypeError(f"cannot read {config!r}: {why}")
    try:
        with open(config, encoding="utf-8") as f:
            content = json.load(f)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise argparse.ArgumentTypeError(f"{config!r} is not valid JSON: {first}") from None
    if (
        not isinstance(content, dict)
        or not isinstance(content.get("keras_model"), dict)
        or not isinstance(content.get("metadata", {}), dict)
    ):
        raise argparse.ArgumentTypeError(
            f"{config!r} is not a model written by `qgcam train` (no keras_model object)"
        )
    weights = os.path.join(text, weights_file)
    if not os.path.isfile(weights):
        raise argparse.ArgumentTypeError(f"{text!r} holds no {weights_file}")
    return text


def existing_file(text: str) -> str:
    """A path to a file that can be opened for reading."""
    if not os.path.isfile(text):
        kind = "a directory" if os.path.isdir(text) else "not found"
        raise argparse.ArgumentTypeError(f"input file {text!r}: {kind}")
    why = _readable(text)
    if why:
        raise argparse.ArgumentTypeError(f"input file {text!r}: {why}")
    return text


def _writable_dir(path: str) -> str | None:
    """Why no file can be created in the directory ``path``, or None when one can.

    It creates and removes one empty file: permission bits alone say nothing for root, and
    a read-only file system refuses everyone.
    """
    try:
        fd, probe = tempfile.mkstemp(prefix=".qgcam-probe-", dir=path)
    except OSError as e:
        return e.strerror or type(e).__name__
    os.close(fd)
    os.unlink(probe)
    return None


def output_dir(text: str) -> str:
    """An output directory: an existing one that can be written, or a new one whose parent
    exists and can be written (not an existing file). Checked before any work."""
    if not text:
        raise argparse.ArgumentTypeError("must be a directory path, got ''")
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a directory")
    target = text if os.path.isdir(text) else os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(target):
        raise argparse.ArgumentTypeError(
            f"{text!r}: the parent directory {target!r} does not exist"
        )
    why = _writable_dir(target)
    if why:
        raise argparse.ArgumentTypeError(f"{text!r}: cannot write in {target!r}: {why}")
    return text


def output_file(path: str, option: str = "--out") -> None:
    """Raises ValueError when the file ``path`` of ``option`` cannot be written: it is a
    directory, or its parent directory does not exist (none is created: a typo must not
    make folders) or cannot be written. Checked before any work."""
    if not path:
        raise ValueError(f"{option}: must be a file path, got ''")
    if os.path.isdir(path):
        raise ValueError(f"{option} {path!r} is a directory, not a file")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        kind = "is not a directory" if os.path.exists(parent) else "does not exist"
        raise ValueError(f"{option} {path!r}: the parent directory {parent!r} {kind}")
    why = _writable_dir(parent)
    if why:
        raise ValueError(f"{option} {path!r}: cannot write in {parent!r}: {why}")


def run_metadata(path: str) -> dict:
    """The ``metadata`` object of the run directory ``path``'s ``model.json``, read as JSON
    (no TensorFlow): for checks against the run (its class count) before the model loads.

    ``path`` has passed :func:`run_dir`; a metadata that is not an object reads as ``{}``.
    """
    with open(os.path.join(path, RUN_FILES[0]), encoding="utf-8") as f:
        metadata = json.load(f).get("metadata")
    return metadata if isinstance(metadata, dict) else {}


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


def qubit_list(low: int, high: int):
    """An argparse type for comma-separated qubit counts, each in ``[low, high]``."""
    return typed(
        _positive_ints,
        lambda v: all(low <= n <= high for n in v),
        f"comma-separated ints in [{low}, {high}] (e.g. 4,8,12)",
    )


def bounded_list(option: str, values, high: int) -> None:
    """Raises ValueError when the list ``values`` of ``option`` holds more than ``high`` items
    (a sweep over every item would run for hours)."""
    if len(values) > high:
        raise ValueError(f"{option} takes at most {high} values, got {len(values)}")


def add_backend(p: argparse.ArgumentParser, *, default: str) -> None:
    """The ``--backend`` option: which executor runs the VQC (the weights are the same)."""
    p.add_argument(
        "--backend",
        choices=("tfq", "tf"),
        default=default,
        help=f"VQC executor, same weights either way (default: {default})",
    )


@contextlib.contextmanager
def removed_on_failure(path: str):
    """Removes ``path`` when the block fails (or is interrupted) and ``path`` did not exist
    before it: a failed command leaves no partial output behind. An existing ``path`` is
    left as it is."""
    existed = os.path.lexists(path)
    try:
        yield
    except BaseException:
        if not existed and os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif not existed and os.path.lexists(path):
            os.unlink(path)
        raise
