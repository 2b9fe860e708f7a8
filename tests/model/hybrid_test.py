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


def test_reflection_padding_mirrors_the_border():
    """ReflectionPadding2D equals NumPy's reflect padding, and its config round-trips."""
    from qgcam_tf.model.hybrid import ReflectionPadding2D

    x = np.random.default_rng(0).uniform(size=(2, 5, 4, 3)).astype(np.float32)
    layer = ReflectionPadding2D(1)
    expected = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(layer(x).numpy(), expected)
    assert layer.compute_output_shape((None, 5, 4, 3)).as_list() == [None, 7, 6, 3]
    assert ReflectionPadding2D.from_config(layer.get_config()).pad == 1
    with pytest.raises(ValueError, match="pad must be an int >= 1, got 0"):
        ReflectionPadding2D(0)


def test_reflect_padding_conv_equals_numpy_and_reloads(tmp_path):
    """padding='reflect': qgcam_conv is ReLU(correlate(mirrored image)) by NumPy, with the
    sizes of zero padding, and the saved model reloads to the same output."""
    keras.utils.set_random_seed(1)
    model = build_hybrid_model(
        (6, 6, 2), 2, vqc=VQCSpec(2, 1, 2), backend="tf", conv_filters=(3,), padding="reflect"
    )
    zero = build_hybrid_model((6, 6, 2), 2, vqc=VQCSpec(2, 1, 2), backend="tf", conv_filters=(3,))
    assert model.get_layer("qgcam_conv").output_shape == zero.get_layer("qgcam_conv").output_shape
    x = np.random.default_rng(2).uniform(size=(2, 6, 6, 2)).astype(np.float32)
    kernel, bias = model.get_layer("qgcam_conv").get_weights()
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    expected = np.zeros((2, 6, 6, 3))
    for i in range(6):
        for j in range(6):
            patch = padded[:, i : i + 3, j : j + 3, :]
            expected[:, i, j] = np.einsum("bhwc,hwcf->bf", patch, kernel) + bias
    probe = keras.Model(model.inputs, model.get_layer("qgcam_conv").output)
    np.testing.assert_allclose(probe(x).numpy(), np.maximum(expected, 0), atol=1e-5)
    save_model(model, str(tmp_path))
    np.testing.assert_allclose(load_model(str(tmp_path))(x).numpy(), model(x).numpy(), atol=1e-6)


def test_dropout_masks_pooled_features_in_training_only_and_reloads(tmp_path):
    """dropout=0.5: a Dropout layer between bn and to_qubits (hybrid) or logits (twin) that
    in training zeroes features or scales them by 1/(1-rate), and at inference passes them
    unchanged, so the model equals a dropout-free model with the same weights; rate 0 adds no
    layer, a rate outside [0, 1) is refused naming dropout, and the saved model reloads."""
    keras.utils.set_random_seed(5)
    kw = dict(vqc=VQCSpec(2, 1, 2), backend="tf", conv_filters=(3,))
    model = build_hybrid_model((6, 6, 1), 2, dropout=0.5, **kw)
    names = [l.name for l in model.layers]
    assert names[names.index("bn") : names.index("bn") + 3] == ["bn", "dropout", "to_qubits"]
    plain = build_hybrid_model((6, 6, 1), 2, **kw)
    assert "dropout" not in [l.name for l in plain.layers]
    plain.set_weights(model.get_weights())
    x = np.random.default_rng(3).uniform(size=(4, 6, 6, 1)).astype(np.float32)
    np.testing.assert_allclose(model(x, training=False).numpy(), plain(x).numpy(), atol=1e-6)
    feats = keras.Model(model.inputs, model.get_layer("bn").output)(x, training=True).numpy()
    probe = keras.Model(model.inputs, model.get_layer("dropout").output)
    dropped = probe(x, training=True).numpy()
    # the bn output of the same call (training mode: batch statistics), masked or doubled
    kept = np.isclose(dropped, 2.0 * feats, atol=1e-5)
    assert np.all(kept | (dropped == 0.0))
    twin = build_classical_twin((6, 6, 1), 2, conv_filters=(3,), dropout=0.25)
    names = [l.name for l in twin.layers]
    assert names[names.index("bn") : names.index("bn") + 3] == ["bn", "dropout", "logits"]
    assert twin.get_layer("dropout").rate == 0.25
    save_model(model, str(tmp_path))
    np.testing.assert_allclose(load_model(str(tmp_path))(x).numpy(), model(x).numpy(), atol=1e-6)
    for rate in (1.0, -0.1, "0.5"):
        with pytest.raises(ValueError, match="dropout must be a number in"):
            build_hybrid_model((6, 6, 1), 2, dropout=rate, **kw)
        with pytest.raises(ValueError, match="dropout must be a number in"):
            build_classical_twin((6, 6, 1), 2, conv_filters=(3,), dropout=rate)


def _numpy_conv(x, kernel, bias):
    """A 3x3 'same' (zero-padded) conv followed by ReLU, in NumPy."""
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
    out = np.zeros(x.shape[:3] + (kernel.shape[-1],))
    for i in range(x.shape[1]):
        for j in range(x.shape[2]):
            patch = padded[:, i : i + 3, j : j + 3, :]
            out[:, i, j] = np.einsum("bhwc,hwcf->bf", patch, kernel) + bias
    return np.maximum(out, 0)


def test_a_block_of_several_convs_equals_numpy_and_keeps_one_conv_names(tmp_path):
    """conv_filters=(3, (4, 5)): conv0, pool0, conv1, then qgcam_conv at the pooled size,
    equal to the NumPy convs and pooling; one-conv blocks keep the names conv0, pool0,
    qgcam_conv; an empty block or a non-positive width is refused naming conv_filters."""
    keras.utils.set_random_seed(4)
    model = build_hybrid_model(
        (6, 6, 1), 2, vqc=VQCSpec(2, 1, 2), backend="tf", conv_filters=(3, (4, 5))
    )
    kinds = (keras.layers.Conv2D, keras.layers.MaxPooling2D)
    convs = [l.name for l in model.layers if isinstance(l, kinds)]
    assert convs == ["conv0", "pool0", "conv1", "qgcam_conv"]
    assert model.get_layer("qgcam_conv").output_shape == (None, 3, 3, 5)
    x = np.random.default_rng(5).uniform(size=(2, 6, 6, 1)).astype(np.float32)
    h = _numpy_conv(x, *model.get_layer("conv0").get_weights())
    h = h.reshape(2, 3, 2, 3, 2, 3).max(axis=(2, 4))
    h = _numpy_conv(h, *model.get_layer("conv1").get_weights())
    h = _numpy_conv(h, *model.get_layer("qgcam_conv").get_weights())
    probe = keras.Model(model.inputs, model.get_layer("qgcam_conv").output)
    np.testing.assert_allclose(probe(x).numpy(), h, atol=1e-5)
    save_model(model, str(tmp_path))
    np.testing.assert_allclose(load_model(str(tmp_path))(x).numpy(), model(x).numpy(), atol=1e-6)
    single = build_hybrid_model((6, 6, 1), 2, vqc=VQCSpec(2, 1, 2), conv_filters=(3, 4))
    names = [l.name for l in single.layers if isinstance(l, keras.layers.Conv2D)]
    assert names == ["conv0", "qgcam_conv"]
    for bad in ((3, ()), (3, (4, 0)), (), (2.5,)):
        with pytest.raises(ValueError, match="conv_filters must be positive ints or tuples"):
            build_hybrid_model((6, 6, 1), 2, vqc=VQCSpec(2, 1, 2), conv_filters=bad)


def _backbone_layers(model):
    """The model's Keras Applications layers with weights, by name (not the head)."""
    head = {"backbone_preprocess", "bn", "to_qubits", "vqc", "scale", "logits"}
    return {l.name: l for l in model.layers if l.weights and l.name not in head}


def test_backbone_without_weights_explains_its_last_block():
    """MobileNetV2 (alpha 0.35, weights=None): [0, 1] images reach it as 2x - 1, it is frozen,
    and qgcam_conv, the default CAM layer, is an identity on its last block (out_relu)."""
    from qgcam_tf.explain.qgradcam import QGradCAM

    keras.utils.set_random_seed(0)
    model = build_hybrid_model(
        (32, 32, 3), 2, vqc=VQCSpec(2, 1, 2), backend="tf", backbone="mobilenetv2-0.35"
    )
    x = np.random.default_rng(3).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    pre = keras.Model(model.inputs, model.get_layer("backbone_preprocess").output)
    np.testing.assert_allclose(pre(x).numpy(), 2 * x - 1, atol=1e-6)
    last = keras.Model(
        model.inputs, [model.get_layer("out_relu").output, model.get_layer("qgcam_conv").output]
    )
    a, b = last(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert all(not l.trainable for l in _backbone_layers(model).values())
    assert {w.name.split("/")[0] for w in model.trainable_weights} == {
        "bn",
        "to_qubits",
        "vqc",
        "scale",
    }
    result = QGradCAM(model)(x)
    assert result.activations_maps.shape == (2, 1, 1) and result.maps.shape == (2, 32, 32)
    twin = build_classical_twin((32, 32, 3), 2, backbone="mobilenetv2-0.35")
    assert twin.get_layer("qgcam_conv").output_shape == (None, 1, 1, 1280)


@pytest.mark.parametrize(
    "backbone, fine_tune",
    [("mobilenetv2-0.35", False), ("mobilenetv2-0.35", True), ("efficientnet-lite0", False)],
)
def test_backbone_weights_file_is_loaded(tmp_path, backbone, fine_tune):
    """A weights file written by build_backbone(...).save_weights is what the hybrid holds:
    frozen, still after one training step; fine-tuned, before it (and the step moves them)."""
    from qgcam_tf.model.hybrid import build_backbone

    keras.utils.set_random_seed(5)
    source = build_backbone(backbone, (32, 32, 3))
    path = str(tmp_path / "backbone.weights.h5")
    source.save_weights(path)
    keras.utils.set_random_seed(6)  # other random weights, unless the file is loaded
    model = build_hybrid_model(
        (32, 32, 3),
        2,
        vqc=VQCSpec(2, 1, 2),
        backend="tf",
        backbone=backbone,
        backbone_weights=path,
        fine_tune=fine_tune,
    )
    layers = _backbone_layers(model)
    assert len(layers) == sum(1 for l in source.layers if l.weights)

    def equal_to_file():
        return all(
            all(np.array_equal(a, b) for a, b in zip(layers[l.name].get_weights(), l.get_weights()))
            for l in source.layers
            if l.weights
        )

    assert equal_to_file()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(7)
    x = rng.uniform(size=(4, 32, 32, 3)).astype(np.float32)
    model.fit(x, np.array([0, 1, 0, 1]), batch_size=4, epochs=1, verbose=0)
    assert equal_to_file() is not fine_tune


def test_backbone_errors(tmp_path, monkeypatch):
    """Unknown backbones, grey inputs, missing files and unreachable ImageNet weights are one
    clear error each; imagenet fails offline unless the Keras cache holds the file."""
    import urllib.error

    from tf_keras.src.utils import data_utils

    from qgcam_tf.model.hybrid import build_backbone

    with pytest.raises(ValueError, match="backbone must be one of"):
        build_hybrid_model((32, 32, 3), 2, backbone="vgg")
    with pytest.raises(ValueError, match="RGB input"):
        build_hybrid_model((32, 32, 1), 2, backbone="mobilenetv2-0.35", backbone_weights="none")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_hybrid_model((32, 32, 3), 2, backbone="mobilenetv2-0.35", backbone_weights="x.h5")
    with pytest.raises(ValueError, match="needs a Keras Applications backbone"):
        build_classical_twin((32, 32, 3), 2, backbone_weights="imagenet")
    with pytest.raises(TypeError, match="fine_tune must be a bool"):
        build_classical_twin((32, 32, 3), 2, backbone="mobilenetv2-0.35", fine_tune="yes")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("HOME", str(tmp_path))  # an empty Keras cache
    monkeypatch.setattr(data_utils, "urlretrieve", offline)
    with pytest.raises(
        ValueError, match="ImageNet weights of mobilenetv2-0.35 are not in the Keras cache"
    ):
        build_backbone("mobilenetv2-0.35", (96, 96, 3), weights="imagenet")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
