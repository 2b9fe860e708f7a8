"""Tests for qgcam_tf.model.hybrid: architecture, save/reload, executor swap."""

import json
import os
import sys

import numpy as np
import pytest
import tf_keras as keras

from qgcam_tf.model.hybrid import (
    backend_config,
    build_classical_twin,
    build_hybrid_model,
    switch_backend,
)
from qgcam_tf.model.run import load_model, read_metadata, save_model
from qgcam_tf.quantum.circuits import VQCSpec


def _tiny(backend="tfq"):
    keras.utils.set_random_seed(0)
    return build_hybrid_model(
        (8, 8, 1), 3, vqc=VQCSpec(4, 1, 3), backend=backend, conv_filters=(4, 6)
    )


def test_architecture_names_and_shapes():
    """The model has qgcam_conv, GAP, BN, Dense to n qubits, the VQC, a scale and a softmax."""
    model = _tiny()
    names = [l.name for l in model.layers]
    assert names[-6:] == ["gap", "bn", "to_qubits", "vqc", "scale", "probabilities"]
    assert model.get_layer("qgcam_conv").output_shape == (None, 4, 4, 6)
    assert model.get_layer("vqc").theta.shape == (1, 4, 3)


def test_probabilities_are_softmax_of_scaled_scores(tiny_images):
    """probabilities = softmax(scale * <Z>) computed by hand from the VQC output."""
    model = _tiny("tf")
    probe = keras.Model(model.inputs, [model.get_layer("vqc").output, model.output])
    scores, probs = (t.numpy() for t in probe(tiny_images))
    logits = scores * model.get_layer("scale").scale.numpy()
    ref = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(probs, ref, atol=1e-6)


@pytest.mark.parametrize("backend", ["tfq", "tf"])
def test_save_and_reload_predicts_the_same(tmp_path, tiny_images, backend):
    """A saved and reloaded model predicts the same, on its own and on the other executor."""
    model = _tiny(backend)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(tiny_images, np.array([0, 1, 2, 0, 1, 2]), epochs=2, verbose=0)  # move weights
    save_model(model, str(tmp_path), metadata={"dataset": "toy", "class_names": ["a", "b", "c"]})
    before = model.predict(tiny_images, verbose=0)
    for other in (None, "tf", "tfq"):
        again = load_model(str(tmp_path), backend=other)
        np.testing.assert_allclose(again.predict(tiny_images, verbose=0), before, atol=1e-5)
    assert read_metadata(str(tmp_path))["class_names"] == ["a", "b", "c"]
    assert sorted(os.listdir(tmp_path)) == ["model.json", "model.weights.h5"]  # no temp files left


def test_classical_twin_shares_the_backbone():
    """The twin has the same conv layers and a Dense 'logits' head."""
    twin = build_classical_twin((8, 8, 1), 3, conv_filters=(4, 6))
    hybrid = _tiny()
    assert twin.get_layer("qgcam_conv").output_shape == hybrid.get_layer("qgcam_conv").output_shape
    assert twin.get_layer("logits").units == 3


def test_load_errors(tmp_path):
    """Missing directory, missing files and corrupt JSON give clear errors."""
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="model.json"):
        load_model(str(tmp_path))
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(str(tmp_path))
    save_model(_tiny(), str(tmp_path))
    with pytest.raises(ValueError, match="backend must be one of"):
        load_model(str(tmp_path), backend="gpu")
    (tmp_path / "model.weights.h5").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot read weights"):
        load_model(str(tmp_path))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(input_shape=(8, 8), n_classes=3), "input_shape"),
        (dict(input_shape=(8, 8, 1), n_classes=1), "n_classes"),
        (dict(input_shape=(8, 8, 1), n_classes=3, vqc=VQCSpec(4, 1, 2)), "n_outputs"),
        (dict(input_shape=(8, 8, 1), n_classes=3, backend="cuda"), "backend"),
    ],
)
def test_build_errors(kwargs, match):
    """Invalid builder arguments raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        build_hybrid_model(**kwargs)


def test_config_is_plain_json(tmp_path):
    """model.json holds the Keras config with the VQC spec, readable without TensorFlow."""
    save_model(_tiny(), str(tmp_path))
    config = json.loads((tmp_path / "model.json").read_text())
    vqc = [l for l in config["keras_model"]["config"]["layers"] if l["name"] == "vqc"][0]
    assert vqc["config"]["spec"] == {"n_qubits": 4, "depth": 1, "n_outputs": 3, "ansatz": "paper"}


def test_switch_backend_keeps_weights_and_outputs():
    """The tf-executor copy of a tfq model has the same weights and the same predictions."""
    model = _tiny("tfq")
    copy = switch_backend(model, "tf")
    assert copy.get_layer("vqc").backend == "tf" and model.get_layer("vqc").backend == "tfq"
    assert copy is not model
    for a, b in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    images = np.random.default_rng(2).uniform(size=(3, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(copy(images).numpy(), model(images).numpy(), atol=1e-5)


def test_backend_config_is_the_one_switch_and_rejects_unknown_backends():
    """backend_config sets backend and XLA on VQC layers only, copies, and names a bad backend."""
    config = json.loads(_tiny("tfq").to_json())
    patched = backend_config(config, "tf", jit_compile=True)
    vqc = [l for l in patched["config"]["layers"] if l["class_name"].endswith("VQCLayer")]
    assert [(l["config"]["backend"], l["config"]["jit_compile"]) for l in vqc] == [("tf", True)]
    original = [l for l in config["config"]["layers"] if l["class_name"].endswith("VQCLayer")]
    assert original[0]["config"]["backend"] == "tfq"  # the input is not modified
    on_tfq = backend_config(config, None, jit_compile=True)  # XLA only applies to tf
    assert [
        l["config"]["jit_compile"] for l in on_tfq["config"]["layers"] if "VQC" in l["class_name"]
    ] == [False]
    with pytest.raises(ValueError, match="backend must be one of .*, got 'gpu'"):
        backend_config(config, "gpu")


FAMILY_SPECS = {
    "hardware_efficient": VQCSpec(4, 1, 3, ansatz="hardware_efficient"),
    "reuploading": VQCSpec(4, 2, 3, ansatz="reuploading", encoding="identity"),
}


@pytest.mark.parametrize("backend", ["tfq", "tf"])
@pytest.mark.parametrize("ansatz", sorted(FAMILY_SPECS))
def test_family_hybrid_trains_with_fit(backend, ansatz, tiny_images):
    """A tiny hybrid on each other family trains with fit on either backend: the loss is
    finite and lower after a few epochs, and every weight of the VQC moves."""
    keras.utils.set_random_seed(0)
    model = build_hybrid_model(
        (8, 8, 1), 3, vqc=FAMILY_SPECS[ansatz], backend=backend, conv_filters=(4, 6)
    )
    assert model.get_layer("vqc").theta.shape == FAMILY_SPECS[ansatz].theta_shape
    theta0 = model.get_layer("vqc").theta.numpy().copy()
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    history = model.fit(tiny_images, np.array([0, 1, 2, 0, 1, 2]), epochs=6, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert np.all(model.get_layer("vqc").theta.numpy() != theta0)


def test_family_model_saves_reloads_and_switches_backend(tmp_path, tiny_images):
    """A re-uploading hybrid saved on tfq reloads on either backend and switch_backend
    copies it, predicting the same (1e-5); model.json records the ansatz and encoding."""
    keras.utils.set_random_seed(1)
    spec = FAMILY_SPECS["reuploading"]
    model = build_hybrid_model((8, 8, 1), 3, vqc=spec, backend="tfq", conv_filters=(4, 6))
    save_model(model, str(tmp_path))
    config = json.loads((tmp_path / "model.json").read_text())
    vqc = [l for l in config["keras_model"]["config"]["layers"] if l["name"] == "vqc"][0]
    assert VQCSpec.from_dict(vqc["config"]["spec"]) == spec
    before = model.predict(tiny_images, verbose=0)
    for backend in (None, "tf", "tfq"):
        again = load_model(str(tmp_path), backend=backend)
        np.testing.assert_allclose(again.predict(tiny_images, verbose=0), before, atol=1e-5)
    copy = switch_backend(model, "tf", jit_compile=True)
    assert copy.get_layer("vqc").spec == spec and copy.get_layer("vqc").backend == "tf"
    np.testing.assert_allclose(copy(tiny_images).numpy(), before, atol=1e-5)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
