"""Tests of qgcam_tf.explain.base: the CAM template and the shared class-index rules,
against NumPy references."""

import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.explain.base import (
    AUGMENTATIONS,
    BaseCAM,
    check_class_index_tensor,
    check_images,
    eigen_projection,
    normalize_maps,
    resolve_class_index,
    target_class_index,
    two_class_model,
)
from qgcam_tf.explain.qgradcam import QGradCAM
from qgcam_tf.model.hybrid import build_classical_twin
from qgcam_tf.testing.tfq_models import circuit_cases, tfq_hybrid


class SumCAM(BaseCAM):
    """Every conv map weighs 1: the map is ReLU(sum_k A^k) whatever the gradients."""

    def get_cam_weights(self, activations, grads, images, class_index):
        return tf.ones(tf.shape(activations)[::3])


class Unsaveable(SumCAM):
    export_blocker = "it keeps state outside the model"


@pytest.fixture(scope="module")
def twin():
    """A classical 8x8 model (4x4x5 qgcam_conv, 3 classes)."""
    keras.utils.set_random_seed(4)
    return build_classical_twin((8, 8, 1), 3, conv_filters=(3, 5))


def test_resolve_class_index():
    """None -> all -1, an int broadcasts, integral floats are accepted."""
    np.testing.assert_array_equal(resolve_class_index(None, 3, 4), [-1, -1, -1])
    np.testing.assert_array_equal(resolve_class_index(2, 2, 4), [2, 2])
    np.testing.assert_array_equal(resolve_class_index(np.array([1.0, 3.0]), 2, 4), [1, 3])
    with pytest.raises(ValueError, match="integers"):
        resolve_class_index([0.5, 1], 2, 4)


def test_resolve_class_index_rejects_bad_requests():
    """Out of range, wrong length and non-integers raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=r"in \[0, 4\) or -1 \(predicted class\), got 4"):
        resolve_class_index([0, 4], 2, 4)
    with pytest.raises(ValueError, match=r"got -2"):
        resolve_class_index(-2, 3, 4)
    with pytest.raises(ValueError, match="one int or 3 ints, got shape"):
        resolve_class_index([0, 1], 3, 4)
    with pytest.raises(ValueError, match="integers"):
        resolve_class_index(np.array([np.nan, 1.0]), 2, 4)


def test_target_class_index_replaces_minus_one_by_argmax():
    """-1 becomes the argmax of the probabilities, eagerly and inside a tf.function."""
    probs = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]])
    ci = np.array([-1, 2, -1, 0])
    expected = np.where(ci < 0, probs.argmax(axis=1), ci)
    np.testing.assert_array_equal(target_class_index(ci, probs).numpy(), expected)
    traced = tf.function(target_class_index)(tf.constant(ci), tf.constant(probs, tf.float32))
    np.testing.assert_array_equal(traced.numpy(), expected)


def test_check_class_index_tensor_in_a_graph():
    """Inside a graph with unknown shapes, a valid index passes and a bad one fails with
    InvalidArgumentError saying what was expected."""
    spec = tf.TensorSpec(None, tf.int64)
    fn = tf.function(
        lambda ci, n: check_class_index_tensor(ci, n, 3),
        input_signature=[spec, tf.TensorSpec([], tf.int32)],
    )
    np.testing.assert_array_equal(fn(tf.constant([-1, 0, 2], tf.int64), 3).numpy(), [-1, 0, 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"in \[0, 3\) or -1"):
        fn(tf.constant([0, 3], tf.int64), 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"int64 \[batch\] with batch ="):
        fn(tf.constant([0, 1], tf.int64), 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="with batch ="):
        fn(tf.constant(0, tf.int64), 1)


def test_normalize_maps_is_per_map_min_max():
    """Each map is scaled to [0, 1] on its own; a flat map becomes 0."""
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(3, 4, 5)).astype(np.float32)
    maps[2] = 7.0
    got = normalize_maps(tf.constant(maps)).numpy()
    lo = maps.min(axis=(1, 2), keepdims=True)
    hi = maps.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(got[:2], ((maps - lo) / (hi - lo + 1e-7))[:2], atol=1e-6)
    np.testing.assert_array_equal(got[2], 0.0)


def test_check_images_adds_a_batch_axis_and_rejects_bad_input():
    """One image gets a batch axis; wrong shape, strings and NaN raise ValueError."""
    one = np.zeros((8, 8, 1), np.uint8)
    assert check_images(one, (None, 8, 8, 1)).shape == (1, 8, 8, 1)
    assert check_images(one, (None, 8, 8, 1)).dtype == np.float32
    with pytest.raises(
        ValueError, match=r"images must have shape \[B, 8, 8, 1\], got \(2, 9, 8, 1\)"
    ):
        check_images(np.zeros((2, 9, 8, 1)), (None, 8, 8, 1))
    with pytest.raises(ValueError, match="must be numeric"):
        check_images(np.array(["a"]), (None, 8, 8, 1))
    with pytest.raises(ValueError, match="NaN or infinite"):
        check_images(np.full((1, 8, 8, 1), np.inf), (None, 8, 8, 1))


def test_template_phases_against_numpy(twin, tiny_images):
    """With unit weights the template gives ReLU(sum_k A^k), bilinearly upsampled and
    min-max scaled; scores are the logits and probabilities the model's output."""
    cam = SumCAM(twin)
    res = cam(tiny_images, class_index=[0, 1, 2, -1, -1, 0])
    acts, logits, probs = (t.numpy() for t in cam.probe(tiny_images, training=False))
    np.testing.assert_allclose(probs, twin.predict(tiny_images, verbose=0), atol=1e-6)
    np.testing.assert_allclose(res.scores, logits, atol=1e-6)
    low = np.maximum(acts.sum(axis=-1), 0.0)
    np.testing.assert_allclose(res.activations_maps, low, rtol=1e-5, atol=1e-6)
    up = tf.image.resize(low[..., None], (8, 8), method="bilinear")[..., 0].numpy()
    lo, hi = up.min(axis=(1, 2), keepdims=True), up.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(res.maps, (up - lo) / (hi - lo + 1e-7), atol=1e-5)
    expected_ci = np.where(np.array([0, 1, 2, -1, -1, 0]) < 0, probs.argmax(1), [0, 1, 2, 0, 0, 0])
    np.testing.assert_array_equal(res.class_index, expected_ci)


def test_explain_fn_is_what_a_call_runs(twin, tiny_images):
    """The public explain_fn gives the same tensors as cam(images), batch by batch."""
    cam = SumCAM(twin, batch_size=4)
    res = cam(tiny_images)
    out = cam.explain_fn(tf.constant(tiny_images[:4]), tf.constant([-1] * 4, tf.int64))
    np.testing.assert_allclose(out["maps"].numpy(), res.maps[:4], atol=1e-6)
    np.testing.assert_array_equal(out["class_index"].numpy(), res.class_index[:4])


def test_export_tensors_names_a_method_that_cannot_be_saved(twin, tiny_images):
    """export_tensors equals explain_tensors, or raises naming the method and the reason."""
    x, ci = tf.constant(tiny_images), tf.constant([-1] * 6, tf.int64)
    ours = SumCAM(twin).export_tensors(x, ci)
    np.testing.assert_allclose(ours["maps"], SumCAM(twin).explain_tensors(x, ci)["maps"])
    with pytest.raises(NotImplementedError, match="Unsaveable cannot be exported.*outside the"):
        Unsaveable(twin).export_tensors(x, ci)


def test_constructor_rejects_bad_layers_and_batch(twin):
    """Unknown layer or score layer, and batch_size < 1, raise ValueError naming them."""
    with pytest.raises(ValueError, match="layer 'conv9' is not in the model"):
        SumCAM(twin, "conv9")
    with pytest.raises(ValueError, match="score_layer 'vqc' is not in the model"):
        SumCAM(twin, score_layer="vqc")
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        SumCAM(twin, batch_size=0)


def _two_quantum_layers():
    """Two TFQ Expectation layers ("q1" on conv "c1", "q2" on conv "c2") of one image, and a
    conv layer "lone" that feeds only the output, not either quantum layer."""
    import tensorflow_quantum as tfq

    case = circuit_cases()[2]
    images = keras.Input((8, 8, 1))
    heads = []
    for i in (1, 2):
        h = keras.layers.Conv2D(2, 3, name=f"c{i}")(images)
        v = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(h))
        heads.append(
            tfq.layers.Expectation(name=f"q{i}")(
                case.circuit,
                symbol_names=list(case.symbols),
                symbol_values=v,
                operators=list(case.readouts),
            )
        )
    lone = keras.layers.Conv2D(2, 3, name="lone")(images)
    extra = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(lone))
    out = keras.layers.Softmax()(keras.layers.Add()([*heads, extra]))
    return keras.Model(images, out)


def test_quantum_models_reject_ambiguous_or_unconnected_layers(tiny_images):
    """Two quantum layers and no score_layer, and a conv layer that does not feed the score
    layer, are one ValueError each naming them; naming score_layer resolves the first."""
    model = _two_quantum_layers()
    with pytest.raises(ValueError, match=r"2 quantum layers \['q1', 'q2'\]; name the one"):
        SumCAM(model, "c1")
    with pytest.raises(ValueError, match="layer 'c1' does not feed score_layer 'q2'"):
        SumCAM(model, "c1", score_layer="q2")
    with pytest.raises(ValueError, match="layer 'lone' does not feed score_layer 'q1'"):
        SumCAM(model, "lone", score_layer="q1")
    res = SumCAM(model, "c2", score_layer="q2")(tiny_images[:2])
    q2 = keras.Model(model.inputs, model.get_layer("q2").output)(tiny_images[:2]).numpy()
    np.testing.assert_allclose(res.scores, q2, atol=1e-6)


@pytest.mark.parametrize("kind", ["ControlledPQC", "Expectation"])
def test_symbols_the_network_does_not_supply_are_one_error(kind):
    """A TFQ layer given 2 symbol values for its 3 symbols fails at construction with a
    ValueError naming the layer, its symbols and the shape the network supplies."""
    import tensorflow_quantum as tfq

    case = circuit_cases()[2]
    images = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(2, 3, name="conv")(images)
    v = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h))
    if kind == "ControlledPQC":
        circuits = keras.Input((), dtype=tf.string)
        q = tfq.layers.ControlledPQC(case.circuit, list(case.readouts), name="q")([circuits, v])
        model = keras.Model([circuits, images], q)
    else:
        q = tfq.layers.Expectation(name="q")(
            case.circuit,
            symbol_names=list(case.symbols),
            symbol_values=v,
            operators=list(case.readouts),
        )
        model = keras.Model(images, q)
    with pytest.raises(
        ValueError, match=r"layer 'q' \(%s\) binds 3 symbols .* shape \(None, 2\)" % kind
    ):
        SumCAM(model, "conv")


def test_circuits_argument_is_checked():
    """circuits must be a cirq.Circuit, given only to a model with a circuits input, not
    empty where it is a layer's whole circuit, and hold no symbol the layer does not bind."""
    import cirq
    import sympy

    case = circuit_cases()[0]
    controlled = tfq_hybrid(case, "ControlledPQC")
    with pytest.raises(TypeError, match="circuits must be a cirq.Circuit or None, got 'H'"):
        SumCAM(controlled, "conv", circuits="H")
    with pytest.raises(ValueError, match="model has no circuits \\(string\\) input"):
        SumCAM(tfq_hybrid(case, "Expectation"), "conv", circuits=case.prefix)
    with pytest.raises(ValueError, match="layer 'q' takes its whole circuit from the circuits"):
        SumCAM(tfq_hybrid(case, "ExpectationOnInput"), "conv")
    stray = cirq.Circuit(cirq.rx(sympy.Symbol("z"))(cirq.LineQubit(0)))
    with pytest.raises(ValueError, match=r"circuits has symbols \['z'\] that layer 'q'"):
        SumCAM(controlled, "conv", circuits=stray)


def np_eigen(weighted):
    """NumPy reference of eigen_smooth: per sample, the centred [H'W', K] matrix projected
    on its first right singular vector, signed to correlate with the plain sum, ReLU'd."""
    out = []
    for w in weighted:
        h, wd, k = w.shape
        m = w.reshape(h * wd, k).astype(np.float64)
        c = m - m.mean(axis=0)
        _, _, vt = np.linalg.svd(c, full_matrices=False)
        proj = c @ vt[0]
        plain = m.sum(axis=1)
        if np.dot(proj, plain - plain.mean()) < 0:
            proj = -proj
        out.append(np.maximum(proj, 0.0).reshape(h, wd))
    return np.stack(out)


def test_eigen_projection_matches_numpy_svd():
    """eigen_projection equals the first principal component of the weighted activations
    (NumPy SVD), with the sign that correlates with the plain map."""
    rng = np.random.default_rng(3)
    weighted = rng.normal(size=(3, 4, 5, 6)).astype(np.float32)
    weighted[1] *= -1.0  # both signs of the reference occur
    got = eigen_projection(tf.constant(weighted)).numpy()
    np.testing.assert_allclose(got, np_eigen(weighted), rtol=1e-4, atol=1e-5)


def test_eigen_smooth_decomposes_the_weighted_activations(twin, tiny_images):
    """eigen_smooth=True gives np_eigen(w_k A^k) as the conv-grid map, upsampled and scaled
    like a plain map; eigen_smooth=False keeps ReLU(sum_k w_k A^k)."""
    cam = QGradCAM(twin)
    plain = cam(tiny_images, class_index=1)
    res = cam(tiny_images, class_index=1, eigen_smooth=True)
    acts = cam.probe(tiny_images, training=False)[0].numpy()
    expected = np_eigen(acts * plain.weights[:, None, None, :])
    np.testing.assert_allclose(res.activations_maps, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(res.weights, plain.weights, atol=1e-7)
    up = tf.image.resize(expected[..., None], (8, 8), method="bilinear")[..., 0].numpy()
    lo, hi = up.min(axis=(1, 2), keepdims=True), up.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(res.maps, (up - lo) / (hi - lo + 1e-7), atol=1e-4)
    smoothed = QGradCAM(twin, eigen_smooth=True)(tiny_images, class_index=1)
    np.testing.assert_allclose(smoothed.maps, res.maps, atol=1e-6)


def test_aug_smooth_is_the_mean_over_the_augmentations(twin, tiny_images):
    """aug_smooth=True equals an explicit loop: each flip x brightness image explained for
    the original's class, flipped maps flipped back, the mean min-max scaled."""
    cam = QGradCAM(twin)
    plain = cam(tiny_images)
    total = np.zeros_like(plain.maps, np.float64)
    for flip, factor in [(f, m) for f in (False, True) for m in (1.0, 1.1, 0.9)]:
        x = tiny_images * factor
        x = x[:, :, ::-1] if flip else x
        maps = cam(x, class_index=plain.class_index).maps
        total += maps[:, :, ::-1] if flip else maps
    mean = total / 6.0
    lo, hi = mean.min(axis=(1, 2), keepdims=True), mean.max(axis=(1, 2), keepdims=True)
    res = cam(tiny_images, aug_smooth=True)
    np.testing.assert_allclose(res.maps, (mean - lo) / (hi - lo + 1e-7), atol=1e-5)
    np.testing.assert_array_equal(res.class_index, plain.class_index)
    np.testing.assert_allclose(res.weights, plain.weights, atol=1e-7)
    assert len(AUGMENTATIONS) == 6 and AUGMENTATIONS[0] == (False, 1.0)


def one_output_twin(activation):
    """A classical 8x8 model whose head is one unit (Dense(1) 'logits', then activation)."""
    keras.utils.set_random_seed(5)
    images = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="qgcam_conv")(images)
    h = keras.layers.GlobalAveragePooling2D()(h)
    logit = keras.layers.Dense(1, name="logits")(h)
    return keras.Model(images, keras.layers.Activation(activation, name="out")(logit))


@pytest.mark.parametrize("decision", ["sigmoid", "sign"])
def test_one_output_model_is_two_classes_with_the_negated_score(tiny_images, decision):
    """A one-output model: probabilities [1 - p, p], scores [-s, s], and the Grad-CAM
    weights of class 0 are minus those of class 1, both equal to a GradientTape of -s / s
    (within 1e-5)."""
    model = one_output_twin("sigmoid" if decision == "sigmoid" else "linear")
    cam = QGradCAM(model, decision=decision)
    x = tf.constant(tiny_images)
    with tf.GradientTape(persistent=True) as tape:
        acts, s, y = keras.Model(
            model.inputs,
            [model.get_layer("qgcam_conv").output, model.get_layer("logits").output, model.output],
        )(x)
        s = s[:, 0]
        neg = -s
    d1 = tape.gradient(s, acts).numpy().mean(axis=(1, 2))
    d0 = tape.gradient(neg, acts).numpy().mean(axis=(1, 2))
    y = y.numpy()[:, 0]
    p = y if decision == "sigmoid" else 1.0 / (1.0 + np.exp(-y))
    res0, res1 = cam(tiny_images, class_index=0), cam(tiny_images, class_index=1)
    np.testing.assert_allclose(res1.probabilities, np.stack([1 - p, p], 1), atol=1e-6)
    np.testing.assert_allclose(res1.scores, np.stack([-s.numpy(), s.numpy()], 1), atol=1e-6)
    np.testing.assert_allclose(res1.weights, d1, atol=1e-5)
    np.testing.assert_allclose(res0.weights, d0, atol=1e-5)
    np.testing.assert_allclose(res0.weights, -res1.weights, atol=1e-7)
    np.testing.assert_array_equal(cam(tiny_images).class_index, (p > 0.5).astype(int))
    probs = two_class_model(model, decision)(x).numpy()
    np.testing.assert_allclose(probs, np.stack([1 - p, p], 1), atol=1e-6)


def test_one_output_options_are_checked(twin):
    """A bad decision, a class index of 2, or a multi-unit score layer of a one-output
    model raise a ValueError naming them."""
    model = one_output_twin("sigmoid")
    with pytest.raises(ValueError, match="decision must be one of .*'probit'"):
        QGradCAM(model, decision="probit")
    with pytest.raises(ValueError, match=r"in \[0, 2\) or -1"):
        QGradCAM(model)(np.zeros((1, 8, 8, 1)), class_index=2)
    images = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(2, 3, padding="same", name="qgcam_conv")(images)
    h = keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D()(h))
    one = keras.layers.Dense(1, activation="sigmoid")(h)
    with pytest.raises(ValueError, match="one output unit but score_layer 'logits' has 3"):
        QGradCAM(keras.Model(images, one))
    assert two_class_model(twin) is twin


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
