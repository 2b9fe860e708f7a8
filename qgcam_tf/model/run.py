"""Run directories: what ``qgcam train`` writes and every other command reads.

A run directory holds ``model.json`` (the Keras architecture and the run's metadata) and
``model.weights.h5``. TFQ layers cannot be saved as a SavedModel, and the architecture is
rebuilt from its config on load, so both executors share one on-disk format. Beside them
``model.keras`` is the same model in Keras's own format (VQC on the pure-TF executor), for
readers who only know ``keras.models.load_model``.

A model built the TensorFlow Quantum way (its quantum layer one of TFQ's own, which define
no ``get_config`` and so cannot be saved) is converted on the way
(:func:`portable_model`, :func:`~qgcam_tf.model.convert.convert_to_tf`): the run holds
the equivalent :class:`~qgcam_tf.model.layers.CircuitLayer`, and loads without TFQ.

:data:`RUN_FILES` lists every name that training writes there; ``--force`` removes those
and nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Sequence

import numpy as np
import tf_keras as keras

from qgcam_tf.data.checks import check_inputs, resolve_fit, training_mean
from qgcam_tf.data.images import load_array
from qgcam_tf.data.registry import DatasetAdapter, DatasetBundle, get_adapter, pick_per_class
from qgcam_tf.fileio import atomic_path, write_json_atomic
from qgcam_tf.model.convert import convert_to_tf
from qgcam_tf.model.hybrid import backend_config, model_from_config, switch_backend

__all__ = [
    "DEFAULT_DATASET",
    "LAYER_TYPES",
    "KERAS_FILE",
    "MODEL_CONFIG",
    "MODEL_WEIGHTS",
    "RUN_FILES",
    "Run",
    "holds_tfq_layers",
    "load_model",
    "portable_model",
    "read_metadata",
    "remove_run_files",
    "save_keras_file",
    "save_model",
]

MODEL_CONFIG = "model.json"
MODEL_WEIGHTS = "model.weights.h5"
KERAS_FILE = "model.keras"
# Everything the project writes in a run directory (files and folders): what `qgcam train`
# writes, and explain/, where `make demo` puts `qgcam explain`'s output for the run (stale
# once the model is retrained). Temporary files of an interrupted atomic write start with
# ".tmp-" (qgcam_tf.fileio) and count too.
RUN_FILES = frozenset(
    {
        MODEL_CONFIG,
        MODEL_WEIGHTS,
        KERAS_FILE,
        "progress.json",
        "history.csv",
        "metrics.json",
        "backup",
        "tensorboard",
        "explain",
    }
)
# The layer types a run may hold: this project's builders' layers, the project's quantum
# layers (CircuitLayer is what a TFQ layer is saved as), and the classical layers users'
# own hybrids commonly hold, all of which Keras rebuilds from data alone. A run's
# model.json names code that Keras imports and calls while loading (a Lambda layer can
# name any module function; TFOpLambda any TensorFlow function), so a run holding any
# other type is refused before Keras reads it.
LAYER_TYPES = frozenset(
    {
        "InputLayer",
        "Conv1D",
        "Conv2D",
        "DepthwiseConv2D",
        "SeparableConv2D",
        "MaxPooling1D",
        "MaxPooling2D",
        "AveragePooling1D",
        "AveragePooling2D",
        "GlobalAveragePooling1D",
        "GlobalAveragePooling2D",
        "GlobalMaxPooling1D",
        "GlobalMaxPooling2D",
        "ZeroPadding2D",
        "Cropping2D",
        "UpSampling2D",
        "BatchNormalization",
        "LayerNormalization",
        "Flatten",
        "Rescaling",
        "Reshape",
        "Permute",
        "RepeatVector",
        "Concatenate",
        "Add",
        "Subtract",
        "Multiply",
        "Average",
        "Maximum",
        "Minimum",
        "Dense",
        "Dropout",
        "SpatialDropout2D",
        "GaussianNoise",
        "Activation",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "Softmax",
        "VQCLayer",
        "CircuitLayer",
        "Scale",
        "ReflectionPadding2D",
    }
)
# Runs written before the dataset was recorded in their metadata were MNIST runs.
DEFAULT_DATASET = "mnist"


def holds_tfq_layers(model: keras.Model) -> bool:
    """Whether ``model`` has a TensorFlow Quantum layer among its layers (TFQ is not
    imported to find out)."""
    return any(type(layer).__module__.startswith("tensorflow_quantum") for layer in model.layers)


def portable_model(model: keras.Model, *, circuits=None) -> keras.Model:
    """``model`` in a form that saves whole: itself, or, if it holds TFQ layers, the
    equivalent pure-TF model of :func:`~qgcam_tf.model.convert.convert_to_tf`.

    A model with a circuits input (TFQ's controller pattern) becomes a model of its
    images alone, each TFQ layer's circuit preceded by ``circuits``.

    Args:
        model: a functional tf_keras model.
        circuits: the ``cirq.Circuit`` every circuits input stands for (default the empty
            circuit); only for a model with TFQ layers.

    Raises:
        ValueError: ``circuits`` given for a model without TFQ layers, or what
            :func:`~qgcam_tf.model.convert.convert_to_tf` refuses (the message names the
            layer).
        TypeError: ``model`` is not a tf_keras model, or ``circuits`` not a circuit.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a tf_keras Model, got {type(model).__name__}")
    if not holds_tfq_layers(model):
        if circuits is not None:
            raise ValueError(
                f"circuits was given but model {model.name!r} holds no TensorFlow Quantum "
                f"layer to fold it into"
            )
        return model
    return convert_to_tf(model, circuits=circuits)


def save_model(
    model: keras.Model, run_dir: str, *, metadata: dict | None = None, circuits=None
) -> None:
    """Writes ``model.json`` (architecture + metadata) and ``model.weights.h5`` atomically.

    TFQ layers cannot be saved as a SavedModel, and the architecture is rebuilt from its
    config on load, so both executors share one on-disk format. A model holding TFQ's own
    layers is saved as :func:`portable_model` converts it (``circuits``: what its
    circuits input stands for); :func:`load_model` gives that converted model back.

    Raises:
        ValueError / TypeError: as :func:`portable_model`.
    """
    model = portable_model(model, circuits=circuits)
    config = {"keras_model": json.loads(model.to_json()), "metadata": metadata or {}}
    with atomic_path(os.path.join(run_dir, MODEL_WEIGHTS), suffix=".weights.h5") as tmp:
        model.save_weights(tmp)
    write_json_atomic(os.path.join(run_dir, MODEL_CONFIG), config)


def save_keras_file(model: keras.Model, run_dir: str, *, circuits=None) -> str:
    """Writes ``model.keras`` (Keras's own format) beside the run, atomically.

    The VQC layers are saved on the pure-TF executor, and TFQ's own layers as their
    pure-TF equivalent (:func:`portable_model`, ``circuits`` as there), so the file needs
    no TFQ to load: after ``import qgcam_tf``, ``tf_keras.models.load_model(path)`` opens
    it (the file names the module of the project's layers, which are registered Keras
    serializables).

    Returns:
        The path written.

    Raises:
        ValueError / TypeError: as :func:`portable_model`.
    """
    path = os.path.join(run_dir, KERAS_FILE)
    portable = portable_model(model, circuits=circuits)
    if _has_vqc(portable):
        portable = switch_backend(portable, "tf")
    with atomic_path(path, suffix=".keras") as tmp:
        portable.save(tmp)
    return path


def _has_vqc(model: keras.Model) -> bool:
    return any(type(layer).__name__ == "VQCLayer" for layer in model.layers)


def remove_run_files(run_dir: str) -> None:
    """Removes what training wrote in ``run_dir`` (:data:`RUN_FILES`, ``.tmp-*`` leftovers).

    Files and folders of anyone else are never touched; the directory itself stays.
    """
    if not os.path.isdir(run_dir):
        return
    for name in os.listdir(run_dir):
        if name in RUN_FILES or name.startswith(".tmp-"):
            path = os.path.join(run_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)


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


def _check_layer_types(config: dict, run_dir: str) -> None:
    try:
        layers = config["config"]["layers"]
        names = [(layer["class_name"], layer.get("name")) for layer in layers]
    except (KeyError, TypeError) as e:
        raise ValueError(f"{run_dir!r}: model.json holds no functional model ({e})") from None
    if not names:
        raise ValueError(f"{run_dir!r}: model.json holds a model with no layers")
    foreign = [f"{name} ({kind})" for kind, name in names if kind not in LAYER_TYPES]
    if config.get("class_name") != "Functional" or foreign:
        raise ValueError(
            f"{run_dir!r}: model.json holds layers this project does not build, refused "
            f"before loading: {foreign or config.get('class_name')}"
        )


def _check_metadata(model: keras.Model, metadata: dict, run_dir: str) -> None:
    """The metadata's input shape and class names must fit the model they describe: a
    mismatch would pair outputs with the wrong names, or feed data the model never saw."""
    shape = metadata.get("input_shape")
    model_shape = [int(d) for d in model.input_shape[1:]] if len(model.inputs) == 1 else None
    if shape is not None and model_shape is not None and list(shape) != model_shape:
        raise ValueError(
            f"{run_dir!r}: model.json's metadata gives input_shape {list(shape)}, but the "
            f"model takes {model_shape}"
        )
    names = metadata.get("class_names")
    width = int(model.output_shape[-1])
    # a one-output model (a single score, sigmoid or sign) decides between two classes
    if names is not None and len(names) != width and not (width == 1 and len(names) == 2):
        raise ValueError(
            f"{run_dir!r}: model.json's metadata names {len(names)} classes, but the model "
            f"has {width} outputs"
        )


def load_model(
    run_dir: str, *, backend: str | None = None, jit_compile: bool = False
) -> keras.Model:
    """Loads a model written by :func:`save_model` (``qgcam train``'s run directory).

    A model saved with TFQ's own layers comes back converted (its quantum layers
    :class:`~qgcam_tf.model.layers.CircuitLayer`, its circuits input folded away), which
    needs no TFQ.

    Args:
        run_dir: the run directory.
        backend: run the VQC on this executor instead of the saved one (same weights).
        jit_compile: XLA for the ``tf`` executor.

    Raises:
        FileNotFoundError: the directory or its files are missing.
        ValueError: the files are corrupt, the backend is unknown, model.json holds a
            layer type outside :data:`LAYER_TYPES` (refused before Keras reads it), or its
            metadata's input shape or class names do not fit the model.
    """
    saved = _read_config(run_dir)
    config = saved["keras_model"]
    _check_layer_types(config, run_dir)
    try:
        model = model_from_config(backend_config(config, backend, jit_compile=jit_compile))
    except (AssertionError, KeyError, TypeError, IndexError) as e:  # Keras's own checks
        raise ValueError(
            f"{run_dir!r}: model.json does not describe a model that can be built "
            f"({type(e).__name__}: {e})"
        ) from None
    _check_metadata(model, saved.get("metadata") or {}, run_dir)
    weights = os.path.join(run_dir, MODEL_WEIGHTS)
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"{weights!r} not found")
    try:
        model.load_weights(weights)
    except (OSError, ValueError, KeyError) as e:  # h5py raises KeyError for foreign layouts
        raise ValueError(f"cannot read weights {weights!r}: {e}") from None
    return model


@dataclasses.dataclass(frozen=True)
class Run:
    """A trained run directory, read in one place: metadata, model, dataset, test examples.

    Every command that takes ``--model RUN_DIR`` opens it with :meth:`Run.open`; nothing
    else reads the metadata's keys.

    Attributes:
        run_dir: the directory.
        metadata: what :func:`save_model` stored beside the model (class names, dataset,
            loader options, seed, preprocessing).
    """

    run_dir: str
    metadata: dict

    @classmethod
    def open(cls, run_dir: str) -> Run:
        """The run in ``run_dir``.

        Raises:
            FileNotFoundError: not a run directory.
            ValueError: its ``model.json`` is corrupt.
        """
        return cls(run_dir, read_metadata(run_dir))

    @property
    def dataset(self) -> str:
        """The registered dataset the run was trained on."""
        return self.metadata.get("dataset") or DEFAULT_DATASET

    @property
    def class_names(self) -> list[str] | None:
        """One name per class index, if the run recorded them."""
        names = self.metadata.get("class_names")
        return list(names) if names else None

    def model(self, *, backend: str | None = None, jit_compile: bool = False) -> keras.Model:
        """The trained model (see :func:`load_model`), its VQC on ``backend`` if given."""
        return load_model(self.run_dir, backend=backend, jit_compile=jit_compile)

    def adapter(self) -> DatasetAdapter:
        """The dataset adapter: how this run's dataset is loaded and its files are read."""
        return get_adapter(self.dataset)

    def load_inputs(
        self, paths: Sequence[str], *, fit: str | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """Model inputs from the dataset's own files, each row paired with its source.

        Files are read as in training (resized images, spectrograms of clips); ``.npy``
        arrays of the input shape are read as they are, whatever the dataset. A file that
        holds several inputs (a ``.npy`` batch) gives one row per input, named ``path[i]``;
        a file that holds one is named ``path``.

        Inputs that a model answers for, but not as a user expects, warn
        (:class:`qgcam_tf.data.checks.InputWarning`, one per input): a picture far from
        the input's aspect ratio, a constant input, and an input whose mean intensity is on
        the other side of 0.5 from the training mean (``metadata["input_mean"]``, else the
        dataset's known one; :func:`qgcam_tf.data.checks.training_mean`).

        Args:
            paths: the files.
            fit: how a picture of another aspect ratio is fitted to the input
                (:data:`qgcam_tf.data.checks.FITS`); None: as in training
                (``metadata["fit"]``, else ``stretch``).

        Returns:
            ``(inputs float32 [N, H, W, C], sources [N])``.

        Raises:
            FileNotFoundError / ValueError: a file is missing or not readable as an input,
                or ``fit`` is unknown.
        """
        if not paths:
            raise ValueError("no input files given")
        fit = resolve_fit(fit, self.metadata)
        adapter = self.adapter()
        reading = {**self.metadata, "fit": fit}
        shape = self.metadata.get("input_shape")
        parts, sources = [], []
        for path in paths:
            if shape and path.endswith(".npy"):
                x = load_array(path, shape)
            else:
                x = adapter.load_files([path], reading)
            parts.append(x)
            sources += [path] if len(x) == 1 else [f"{path}[{i}]" for i in range(len(x))]
        inputs = np.concatenate(parts).astype(np.float32)
        check_inputs(inputs, sources, train_mean=training_mean(self.metadata, self.dataset))
        return inputs, sources

    def bundle(self, *, data_dir: str | None = None, batch_size: int = 64) -> DatasetBundle:
        """The dataset rebuilt with the loader options and seed the run was trained with.

        Both decide the test split (speech mixes its test clips with seeded noise), so the
        options saved in the metadata are reused as they are; ``data_dir`` points at a moved
        copy of the data.
        """
        options = {
            **self.metadata.get("options", {}),
            "seed": self.metadata.get("seed", 0),
            "batch_size": batch_size,
        }
        if data_dir:
            options["data_dir"] = data_dir
        return self.adapter().load(options)

    def test_examples(self, *, count: int, seed: int = 0, data_dir: str | None = None):
        """``count`` examples of the run's own test split, spread over the classes.

        Args:
            count: how many examples.
            seed: which examples (the split itself is the one the run was trained with).
            data_dir: a moved copy of the data.

        Returns:
            ``(images float32 [count, H, W, C], labels int [count], indices int64 [count])``,
            the indices into the test split.

        Raises:
            ValueError: ``count`` is not in ``[1, number of test examples]``, or the dataset
                has no in-memory test split.
        """
        if count < 1:
            raise ValueError(f"--count must be >= 1, got {count}")
        bundle = self.bundle(data_dir=data_dir)
        if bundle.test_arrays is None:
            raise ValueError(f"dataset {self.dataset!r} provides no test arrays to pick from")
        x_test, y_test = bundle.test_arrays
        if count > len(x_test):
            raise ValueError(f"--count must be <= {len(x_test)} (test examples), got {count}")
        idx = pick_per_class(y_test, count, len(bundle.class_names), seed)
        return x_test[idx].astype(np.float32), np.asarray(y_test[idx]), idx
