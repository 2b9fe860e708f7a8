"""Run directories: what ``qgcam train`` writes and every other command reads.

A run directory holds ``model.json`` (the Keras architecture and the run's metadata) and
``model.weights.h5``. TFQ layers cannot be saved as a SavedModel, and the architecture is
rebuilt from its config on load, so both executors share one on-disk format.
"""

from __future__ import annotations

import json
import os

import tf_keras as keras

from qgcam_tf.fileio import atomic_path, write_json_atomic
from qgcam_tf.model.hybrid import Scale
from qgcam_tf.model.layers import BACKENDS, VQCLayer

__all__ = ["MODEL_CONFIG", "MODEL_WEIGHTS", "load_model", "read_metadata", "save_model"]

MODEL_CONFIG = "model.json"
MODEL_WEIGHTS = "model.weights.h5"


def save_model(model: keras.Model, run_dir: str, *, metadata: dict | None = None) -> None:
    """Writes ``model.json`` (architecture + metadata) and ``model.weights.h5`` atomically.

    TFQ layers cannot be saved as a SavedModel, and the architecture is rebuilt from its
    config on load, so both executors share one on-disk format.
    """
    config = {"keras_model": json.loads(model.to_json()), "metadata": metadata or {}}
    with atomic_path(os.path.join(run_dir, MODEL_WEIGHTS), suffix=".weights.h5") as tmp:
        model.save_weights(tmp)
    write_json_atomic(os.path.join(run_dir, MODEL_CONFIG), config)


def read_metadata(run_dir: str) -> dict:
    """The metadata dict saved beside the model (class names, preprocessing, dataset)."""
    return _read_config(run_dir)["metadata"]


def _read_config(run_dir: str) -> dict:
    path = os.path.join(run_dir, MODEL_CONFIG)
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"model directory {run_dir!r} does not exist")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path!r} not found: is {run_dir!r} a run directory of `qgcam train`?"
        )
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path!r} is not valid JSON: {e}") from None


def load_model(
    run_dir: str, *, backend: str | None = None, jit_compile: bool = False
) -> keras.Model:
    """Loads a model written by :func:`save_model` (``qgcam train``'s run directory).

    Args:
        run_dir: the run directory.
        backend: run the VQC on this executor instead of the saved one (same weights).
        jit_compile: XLA for the ``tf`` executor.

    Raises:
        FileNotFoundError: the directory or its files are missing.
        ValueError: the files are corrupt or the backend is unknown.
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    config = _read_config(run_dir)["keras_model"]
    for layer in config["config"]["layers"]:
        if layer["class_name"].endswith("VQCLayer"):
            if backend is not None:
                layer["config"]["backend"] = backend
            layer["config"]["jit_compile"] = (
                bool(jit_compile) and layer["config"]["backend"] == "tf"
            )
    model = keras.models.model_from_json(
        json.dumps(config), custom_objects={"VQCLayer": VQCLayer, "Scale": Scale}
    )
    weights = os.path.join(run_dir, MODEL_WEIGHTS)
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"{weights!r} not found")
    try:
        model.load_weights(weights)
    except (OSError, ValueError, KeyError) as e:  # h5py raises KeyError for foreign layouts
        raise ValueError(f"cannot read weights {weights!r}: {e}") from None
    return model
