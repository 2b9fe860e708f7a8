"""Tests for qgcam_tf.model.run: run directories, old runs still loading, the Run handle."""

import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.data.registry import (
    DATASETS,
    DatasetAdapter,
    DatasetBundle,
    pick_per_class,
    register,
)
from qgcam_tf.model.hybrid import build_hybrid_model
from qgcam_tf.model.layers import CircuitLayer
from qgcam_tf.model.run import (
    DEFAULT_DATASET,
    LAYER_TYPES,
    RUN_FILES,
    Run,
    holds_tfq_layers,
    load_model,
    portable_model,
    read_metadata,
    remove_run_files,
    save_keras_file,
    save_model,
)
from qgcam_tf.quantum.circuits import VQCSpec
from qgcam_tf.testing.tfq_models import circuit_cases, simulate, tfq_hybrid

OLD_RUN = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "run-0.1.0")


@pytest.mark.parametrize("backend", ["tfq", "tf"])
def test_a_run_saved_before_the_tier_move_still_loads_and_predicts_the_same(backend):
    """The 0.1.0 fixture loads on either executor and gives the probabilities it gave then."""
    model = load_model(OLD_RUN, backend=backend)
    x = np.load(os.path.join(OLD_RUN, "fixture_inputs.npy"))
    expected = np.load(os.path.join(OLD_RUN, "fixture_probabilities.npy"))
    np.testing.assert_allclose(model(x, training=False).numpy(), expected, atol=1e-5)
    assert model.get_layer("vqc").backend == backend


def test_save_and_load_round_trip_keeps_predictions_and_metadata(tmp_path):
    """save_model then load_model gives the same predictions; the metadata comes back as saved."""
    keras.utils.set_random_seed(1)
    model = build_hybrid_model((8, 8, 1), 2, vqc=VQCSpec(3, 1, 2), conv_filters=(4, 3))
    meta = {"class_names": ["a", "b"], "dataset": "mnist", "seed": 4}
    save_model(model, str(tmp_path), metadata=meta)
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype(np.float32)
    again = load_model(str(tmp_path))
    np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), atol=1e-6)
    assert read_metadata(str(tmp_path)) == meta
    assert sorted(os.listdir(tmp_path)) == ["model.json", "model.weights.h5"]  # no temp left


def test_remove_run_files_removes_only_what_training_writes(tmp_path):
    """Every RUN_FILES name and .tmp-* leftover goes; a user's files and folders stay."""
    for name in RUN_FILES:
        if name in ("backup", "tensorboard", "explain"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "inner").write_text("x")
        else:
            (tmp_path / name).write_text("x")
    (tmp_path / ".tmp-123-abc.json").write_text("x")
    (tmp_path / "important.txt").write_text("mine")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "model.json").write_text("a user's file of the same name")
    remove_run_files(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["important.txt", "photos"]
    assert os.listdir(tmp_path / "photos") == ["model.json"]
    remove_run_files(str(tmp_path / "missing"))  # nothing to do


def test_keras_file_loads_with_plain_keras_and_predicts_the_same(tmp_path):
    """model.keras of a TFQ-backed model opens with keras.models.load_model (VQC on the tf
    executor) and gives the model's probabilities within 1e-5."""
    keras.utils.set_random_seed(2)
    model = build_hybrid_model((8, 8, 1), 2, vqc=VQCSpec(3, 1, 2), conv_filters=(4, 3))
    path = save_keras_file(model, str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]
    again = keras.models.load_model(path)
    assert again.get_layer("vqc").backend == "tf"
    x = np.random.default_rng(1).uniform(size=(3, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), atol=1e-5)


def test_a_tfq_controlled_pqc_model_round_trips_through_save_and_load(tmp_path):
    """save_model of a ControlledPQC hybrid (its circuits input standing for a prefix
    circuit) stores the converted model: load_model gives a model of images alone, with a
    CircuitLayer and no TFQ layer, whose probabilities equal the TFQ model given the prefix
    and softmax(cirq.Simulator) within 1e-5; model.keras loads the same with plain Keras."""
    import tensorflow_quantum as tfq

    case = circuit_cases()[0]  # the CZ ladder
    model = tfq_hybrid(case, "ControlledPQC", seed=3)
    assert holds_tfq_layers(model)
    save_model(model, str(tmp_path), metadata={"dataset": "mnist"}, circuits=case.prefix)
    again = load_model(str(tmp_path))
    assert not holds_tfq_layers(again) and isinstance(again.get_layer("q"), CircuitLayer)
    assert not isinstance(again.input, list)
    x = np.random.default_rng(5).uniform(size=(4, 8, 8, 1)).astype(np.float32)
    want = model([tfq.convert_to_tensor([case.prefix] * len(x)), x]).numpy()
    got = again(x).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    angles = keras.Model(again.input, again.get_layer("angles").output)(x).numpy()
    symbols = sorted(case.symbols, key=str)  # ControlledPQC binds its symbols sorted
    ref = tf.nn.softmax(simulate(case.prefix + case.circuit, symbols, angles, case.readouts))
    np.testing.assert_allclose(got, ref.numpy(), atol=1e-5)
    np.testing.assert_allclose(load_model(str(tmp_path), backend="tf")(x).numpy(), got, atol=0)
    keras_file = keras.models.load_model(
        save_keras_file(model, str(tmp_path), circuits=case.prefix)
    )
    np.testing.assert_allclose(keras_file(x).numpy(), want, atol=1e-5)


def test_portable_model_converts_only_tfq_models():
    """A model without TFQ layers is returned as it is (circuits for it is one error);
    an Expectation hybrid becomes a model with a CircuitLayer; a non-model is a TypeError."""
    keras.utils.set_random_seed(1)
    hybrid = build_hybrid_model((8, 8, 1), 2, vqc=VQCSpec(3, 1, 2), conv_filters=(4, 3))
    assert portable_model(hybrid) is hybrid and not holds_tfq_layers(hybrid)
    case = circuit_cases()[1]
    with pytest.raises(ValueError, match="circuits was given but model .* holds no TensorFlow"):
        portable_model(hybrid, circuits=case.prefix)
    converted = portable_model(tfq_hybrid(case, "Expectation"))
    assert isinstance(converted.get_layer("q"), CircuitLayer)
    with pytest.raises(TypeError, match="model must be a tf_keras Model, got Dense"):
        portable_model(keras.layers.Dense(2))


def test_a_users_classical_layers_save_and_load(tmp_path):
    """A functional model using Flatten, Reshape, Concatenate, Add, Multiply, Rescaling and
    AveragePooling2D beside a CircuitLayer is in LAYER_TYPES and loads with the same
    outputs; Lambda and TFOpLambda stay refused."""
    import cirq
    import sympy

    images = keras.Input((8, 8, 1), name="images")
    conv = keras.layers.Conv2D(2, 3, padding="same", name="conv")(images)
    pooled = keras.layers.AveragePooling2D(2)(conv)
    flat = keras.layers.Flatten()(pooled)
    other = keras.layers.Flatten()(keras.layers.Reshape((4, 4, 4))(images))
    joined = keras.layers.Concatenate()([flat, other])
    a, b = keras.layers.Dense(2)(joined), keras.layers.Dense(2)(joined)
    angles = keras.layers.Multiply()([keras.layers.Add()([a, b]), a])
    q = cirq.LineQubit.range(2)
    s = sympy.symbols("s0:2")
    circuit = cirq.Circuit(cirq.ry(s[0])(q[0]), cirq.rx(s[1])(q[1]), cirq.CZ(*q))
    scores = CircuitLayer(circuit, s, [cirq.Z(q[0]), cirq.X(q[1])], name="q")(angles)
    model = keras.Model(images, keras.layers.Softmax()(keras.layers.Rescaling(3.0)(scores)))
    kinds = {layer["class_name"] for layer in json.loads(model.to_json())["config"]["layers"]}
    assert kinds <= LAYER_TYPES and "Lambda" not in LAYER_TYPES
    assert "TFOpLambda" not in LAYER_TYPES
    save_model(model, str(tmp_path))
    x = np.random.default_rng(2).uniform(size=(3, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(load_model(str(tmp_path))(x).numpy(), model(x).numpy(), atol=1e-6)


def test_run_handle_reads_metadata_in_one_place():
    """Run.open exposes the dataset (MNIST where an old run recorded none) and class names."""
    run = Run.open(OLD_RUN)
    assert run.dataset == "mnist" and run.class_names == ["a", "b", "c"]
    assert Run("x", {}).dataset == DEFAULT_DATASET == "mnist"
    assert Run("x", {"dataset": "speech"}).dataset == "speech"
    assert Run("x", {}).class_names is None
    assert run.adapter().name == "mnist"
    model = run.model(backend="tf")
    assert model.get_layer("vqc").backend == "tf"


def test_load_inputs_pairs_every_row_with_the_file_it_came_from(tmp_path):
    """A .npy batch gives one row per image, named path[i], in order beside single files."""
    rng = np.random.default_rng(3)
    batch = rng.uniform(size=(3, 8, 8, 1)).astype(np.float32)
    single = rng.uniform(size=(1, 8, 8, 1)).astype(np.float32)
    np.save(tmp_path / "batch3.npy", batch)
    np.save(tmp_path / "one.npy", single)
    run = Run(OLD_RUN, dict(Run.open(OLD_RUN).metadata, input_shape=[8, 8, 1]))
    paths = [str(tmp_path / "batch3.npy"), str(tmp_path / "one.npy")]
    inputs, sources = run.load_inputs(paths)
    np.testing.assert_array_equal(inputs, np.concatenate([batch, single]))
    assert sources == [f"{paths[0]}[{i}]" for i in range(3)] + [paths[1]]
    with pytest.raises(ValueError, match="no input files given"):
        run.load_inputs([])


@pytest.mark.parametrize(
    "count,match", [(0, "--count must be >= 1, got 0"), (-2, "--count must be >= 1, got -2")]
)
def test_test_examples_rejects_a_bad_count_before_loading_data(count, match):
    """A count below 1 is one clear error, raised before any data is read."""
    run = Run("nowhere", {"dataset": "no-such-dataset"})
    with pytest.raises(ValueError, match=match):
        run.test_examples(count=count)


def test_open_names_a_missing_or_corrupt_run(tmp_path):
    """Run.open of a folder without model.json, or with broken JSON, is one clear error."""
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Run.open(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="is .* a run directory of `qgcam train`"):
        Run.open(str(tmp_path))
    (tmp_path / "model.json").write_text("{broken")
    with pytest.raises(ValueError, match="is not valid JSON"):
        Run.open(str(tmp_path))


@pytest.mark.parametrize(
    "change,match",
    [
        ({"class_names": ["zero", "one"]}, "names 2 classes, but the model has 3 outputs"),
        ({"input_shape": [28, 28, 1]}, r"input_shape \[28, 28, 1\], but the model takes"),
        ({"layers": []}, "holds a model with no layers"),
    ],
)
def test_metadata_that_does_not_fit_the_model_is_refused_on_load(tmp_path, change, match):
    """Class names of another count, an input shape the model does not take, or a model of no
    layers: one ValueError naming the mismatch, never a model paired with the wrong names."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(OLD_RUN, run)
    saved = json.loads((run / "model.json").read_text())
    if "layers" in change:
        saved["keras_model"]["config"]["layers"] = change["layers"]
    else:
        saved["metadata"].update(change)
    (run / "model.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match=match):
        load_model(str(run))


class Recorder:
    """A toy loader: 8 test examples (labels 0, 1, 0, 1, ...) whose pixels are their index."""

    def __init__(self):
        self.options = []

    def __call__(self, options):
        self.options.append(options)
        x = np.arange(8, dtype=np.float32)[:, None, None, None] * np.ones((1, 2, 2, 1), np.float32)
        y = np.arange(8) % 2
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
        return DatasetBundle(ds, ds, (2, 2, 1), ("a", "b"), 8, 8, test_arrays=(x, y))


@pytest.fixture
def toy(monkeypatch):
    """A registered toy dataset (removed again after the test)."""
    loader = Recorder()
    monkeypatch.setitem(DATASETS, "toy", None)  # restored (deleted) by monkeypatch
    register(DatasetAdapter("toy", loader, lambda paths, meta: None, "toy data"))
    return loader


def test_bundle_uses_the_saved_options_and_seed(toy):
    """The run's loader options, its training seed and batch size 64 reach the loader;
    data_dir replaces the saved one."""
    run = Run("toy-run", {"dataset": "toy", "seed": 7, "options": {"data_dir": "/old", "limit": 3}})
    run.bundle()
    run.bundle(data_dir="/moved")
    assert toy.options == [
        {"data_dir": "/old", "limit": 3, "seed": 7, "batch_size": 64},
        {"data_dir": "/moved", "limit": 3, "seed": 7, "batch_size": 64},
    ]


def test_test_examples_are_the_picked_rows(toy):
    """Run.test_examples returns the test rows at the per-class pick, their labels and indices."""
    images, labels, idx = Run("r", {"dataset": "toy"}).test_examples(count=3, seed=2)
    np.testing.assert_array_equal(idx, pick_per_class(np.arange(8) % 2, 3, 2, seed=2))
    np.testing.assert_array_equal(images[:, 0, 0, 0], idx.astype(np.float32))
    np.testing.assert_array_equal(labels, idx % 2)
    assert images.dtype == np.float32
    with pytest.raises(ValueError, match="--count must be >= 1, got 0"):
        Run("r", {"dataset": "toy"}).test_examples(count=0)
    with pytest.raises(ValueError, match=r"--count must be <= 8 \(test examples\), got 9"):
        Run("r", {"dataset": "toy"}).test_examples(count=9)


def test_test_examples_need_test_arrays(monkeypatch):
    """A dataset without in-memory test arrays cannot give examples: ValueError naming it."""

    def load(options):
        ds = tf.data.Dataset.from_tensor_slices((np.zeros((2, 2, 2, 1)), [0, 1])).batch(2)
        return DatasetBundle(ds, ds, (2, 2, 1), ("a", "b"), 2, 2)

    monkeypatch.setitem(DATASETS, "streamed", None)
    register(DatasetAdapter("streamed", load, lambda paths, meta: None))
    with pytest.raises(ValueError, match="'streamed' provides no test arrays"):
        Run("r", {"dataset": "streamed"}).test_examples(count=1)


def test_a_run_naming_foreign_layers_is_refused_before_keras_reads_it(tmp_path, monkeypatch):
    """A model.json with a Lambda layer (which names a module function) is one clear error,
    and Keras never deserializes it."""
    import shutil

    import qgcam_tf.model.run as run_module

    shutil.copytree(OLD_RUN, tmp_path / "run")
    path = tmp_path / "run" / "model.json"
    config = json.loads(path.read_text())
    lam = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {"name": "evil", "function": {"module": "os", "config": "getcwd"}},
        "name": "evil",
        "inbound_nodes": [],
    }
    config["keras_model"]["config"]["layers"].append(lam)
    path.write_text(json.dumps(config))
    built = []
    monkeypatch.setattr(run_module, "model_from_config", lambda c: built.append(c))
    with pytest.raises(
        ValueError, match=r"does not build, refused before loading: \['evil \(Lambda\)'\]"
    ):
        load_model(str(tmp_path / "run"))
    assert built == []


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
