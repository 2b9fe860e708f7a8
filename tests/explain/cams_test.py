"""The CAM family against NumPy references built from the same activations and gradients.

The references take activations and gradients one sample at a time (each with its own
target class), so the batched, one-class-per-sample path is checked as well.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.evaluate.metrics import DeletionAUC
from qgcam_tf.explain.cams import (
    CAM_METHODS,
    CentreCAM,
    GradCAMPlusPlus,
    IntegratedQGradCAM,
    RandomCAM,
    ScoreCAM,
    make_cam,
)
from qgcam_tf.explain.qgradcam import QGradCAM
from qgcam_tf.model.hybrid import build_classical_twin, build_hybrid_model
from qgcam_tf.quantum.circuits import VQCSpec
from qgcam_tf.testing.one_output import one_output_model
from qgcam_tf.testing.tfq_models import circuit_cases, tfq_hybrid

CLASSES = np.array([0, 1, 2, 1, 0, 2])


@pytest.fixture(scope="module")
def hybrid():
    """Tiny hybrid model: 8x8 input, 4x4x6 qgcam_conv, 4 qubits, 3 classes."""
    keras.utils.set_random_seed(7)
    return build_hybrid_model(
        (8, 8, 1), 3, vqc=VQCSpec(n_qubits=4, depth=1, n_outputs=3), conv_filters=(4, 6)
    )


@pytest.fixture(scope="module")
def images():
    """Six 8x8 images (module-scoped twin of conftest's tiny_images)."""
    return np.random.default_rng(1234).uniform(size=(6, 8, 8, 1)).astype(np.float32)


def per_sample_acts_grads(
    model, images, classes, score_layer="vqc", layer="qgcam_conv", feed=lambda x: x
):
    """Activations and d score[class] / d activations, one sample at a time (NumPy);
    ``feed`` turns one image [1, H, W, C] into the model's inputs."""
    probe = keras.Model(
        model.inputs, [model.get_layer(layer).output, model.get_layer(score_layer).output]
    )
    acts, grads = [], []
    for x, c in zip(images, classes):
        with tf.GradientTape() as tape:
            a, s = probe(feed(x[None]), training=False)
            target = s[0, int(c)]
        acts.append(a.numpy()[0])
        grads.append(tape.gradient(target, a).numpy()[0])
    return np.stack(acts).astype(np.float64), np.stack(grads).astype(np.float64)


def np_resize(m, out_h, out_w):
    """Bilinear resize with half-pixel centres (what tf.image.resize does), in NumPy."""
    h, w = m.shape

    def axis(n_in, n_out):
        src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), src - lo

    y0, y1, fy = axis(h, out_h)
    x0, x1, fx = axis(w, out_w)
    top = m[y0][:, x0] * (1 - fx) + m[y0][:, x1] * fx
    bot = m[y1][:, x0] * (1 - fx) + m[y1][:, x1] * fx
    return top * (1 - fy)[:, None] + bot * fy[:, None]


def np_normalize(m):
    return (m - m.min()) / (m.max() - m.min() + 1e-7)


def np_cams(method, acts, grads):
    """Reference maps on the conv grid, [B, h, w]."""
    if method == "qgradcam":
        w = grads.mean(axis=(1, 2))
        return np.maximum(np.einsum("bhwk,bk->bhw", acts, w), 0)
    if method == "gradcam++":
        g2, g3 = grads**2, grads**3
        denom = 2 * g2 + acts.sum(axis=(1, 2), keepdims=True) * g3
        alpha = np.where(denom != 0, g2 / np.where(denom == 0, 1, denom), 0)
        w = (alpha * np.maximum(grads, 0)).sum(axis=(1, 2))
        return np.maximum(np.einsum("bhwk,bk->bhw", acts, w), 0)
    if method == "hirescam":
        return np.maximum((grads * acts).sum(-1), 0)
    if method == "layercam":
        return np.maximum((np.maximum(grads, 0) * acts).sum(-1), 0)
    raise KeyError(method)


@pytest.mark.parametrize("method", ["qgradcam", "gradcam++", "hirescam", "layercam"])
def test_gradient_methods_match_numpy(hybrid, images, method):
    """Batched maps (one class per sample) equal the NumPy formula on per-sample gradients."""
    acts, grads = per_sample_acts_grads(hybrid, images, CLASSES)
    assert np.abs(grads).max() > 1e-4  # the reference is not trivially zero
    res = make_cam(method, hybrid, batch_size=4)(images, CLASSES)
    ref = np_cams(method, acts, grads)
    np.testing.assert_allclose(res.activations_maps, ref, rtol=1e-4, atol=1e-6)
    ref_maps = np.stack([np_normalize(np_resize(r, 8, 8)) for r in ref])
    np.testing.assert_allclose(res.maps, ref_maps, atol=1e-4)
    np.testing.assert_array_equal(res.class_index, CLASSES)


def test_gradcam_plus_plus_weights(hybrid, images):
    """Grad-CAM++ weights equal sum_ij alpha_ij ReLU(g_ij) computed in NumPy."""
    acts, grads = per_sample_acts_grads(hybrid, images, CLASSES)
    g2, g3 = grads**2, grads**3
    alpha = g2 / (2 * g2 + acts.sum(axis=(1, 2), keepdims=True) * g3)
    ref = (np.nan_to_num(alpha) * np.maximum(grads, 0)).sum(axis=(1, 2))
    res = GradCAMPlusPlus(hybrid)(images, CLASSES)
    np.testing.assert_allclose(res.weights, ref, rtol=1e-4, atol=1e-7)


def test_score_cam_matches_numpy(hybrid, images):
    """Score-CAM weight k = probability of the class for the image masked by normalised up(A^k)."""
    acts, _ = per_sample_acts_grads(hybrid, images, CLASSES)
    weights = np.zeros(acts.shape[::3])
    for b in range(len(images)):
        masks = np.stack(
            [np_normalize(np_resize(acts[b, :, :, k], 8, 8)) for k in range(acts.shape[-1])]
        )
        probs = hybrid.predict(images[b][None] * masks[..., None].astype(np.float32), verbose=0)
        weights[b] = probs[:, CLASSES[b]]
    res = ScoreCAM(hybrid, batch_size=4, mask_batch_size=5)(images, CLASSES)
    np.testing.assert_allclose(res.weights, weights, rtol=1e-4, atol=1e-6)
    ref = np.maximum(np.einsum("bhwk,bk->bhw", acts, weights), 0)
    np.testing.assert_allclose(res.activations_maps, ref, rtol=1e-4, atol=1e-6)


def test_classical_twin_gradcam_matches_numpy(images):
    """QGradCAM on the twin's logits is classical Grad-CAM: mean-gradient weights in NumPy."""
    keras.utils.set_random_seed(3)
    twin = build_classical_twin((8, 8, 1), 3, conv_filters=(4, 6))
    acts, grads = per_sample_acts_grads(twin, images, CLASSES, score_layer="logits")
    res = QGradCAM(twin, score_layer="logits")(images, CLASSES)
    np.testing.assert_allclose(
        res.activations_maps, np_cams("qgradcam", acts, grads), rtol=1e-4, atol=1e-6
    )


def test_centre_baseline_is_a_centred_gaussian(hybrid, images):
    """The centre map on a 4x4 grid is exp(-((i+0.5-2)^2 + (j+0.5-2)^2) / 2) with unit = 1."""
    res = CentreCAM(hybrid)(images, CLASSES)
    c = (np.arange(4) + 0.5 - 2.0) / 1.0
    ref = np.exp(-0.5 * (c[:, None] ** 2 + c[None, :] ** 2))
    np.testing.assert_allclose(res.activations_maps, np.broadcast_to(ref, (6, 4, 4)), atol=1e-6)


def test_random_baseline_is_seeded_uniform_noise(hybrid, images):
    """Same seed, same maps; another seed, other maps; grid values are U(0, 1) (mean within 0.1)."""
    a = RandomCAM(hybrid, seed=1)(images, CLASSES).activations_maps
    b = RandomCAM(hybrid, seed=1)(images, CLASSES).activations_maps
    c = RandomCAM(hybrid, seed=2)(images, CLASSES).activations_maps
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.min() >= 0 and a.max() < 1 and abs(a.mean() - 0.5) < 0.1


def test_registry_and_errors(hybrid):
    """The registry holds every method; unknown names and bad options raise clear errors."""
    from qgcam_tf.explain import METHOD_NAMES, METHOD_TITLES

    assert list(CAM_METHODS) == list(METHOD_NAMES) == list(METHOD_TITLES)
    assert len(CAM_METHODS) == 8 and "integrated" in CAM_METHODS
    assert CAM_METHODS["qgradcam"] is QGradCAM
    with pytest.raises(ValueError, match="method must be one of"):
        make_cam("gradcam+++", hybrid)
    with pytest.raises(ValueError, match="mask_batch_size must be >= 1, got 0"):
        ScoreCAM(hybrid, mask_batch_size=0)
    with pytest.raises(ValueError, match="class_index must be in"):
        make_cam("layercam", hybrid)(np.zeros((2, 8, 8, 1), np.float32), [0, 3])


def _log_p(model, layer, acts, classes):
    """log p_c of the model computed from ``layer``'s activations (float64 NumPy)."""
    head = keras.Model(model.get_layer(layer).output, model.output)
    p = head(tf.constant(acts, tf.float32), training=False).numpy().astype(np.float64)
    return np.log(p[np.arange(len(acts)), classes])


@pytest.mark.parametrize("steps", [1, 3])
def test_integrated_weights_are_path_averages_of_finite_differences(hybrid, images, steps):
    """Each weight is the mean over the grid and over the path's midpoints alpha_i of
    d log p_c / dA^k_ij at alpha_i A: checked against central finite differences of the
    model's own log-probability, entry by entry (float32 model, step 3e-2: within 1.5 % of
    the largest weight)."""
    classes = CLASSES[:3]
    cam = IntegratedQGradCAM(hybrid, steps=steps)
    got = cam(images[:3], classes).weights
    acts = cam.probe_outputs(tf.constant(images[:3]))[0].numpy().astype(np.float64)
    b, h, w, k = acts.shape
    n = h * w * k
    eps = 3e-2
    # every entry moved by +-eps, all at once: [n, b, h, w, k] -> one model call per sign
    moves = eps * np.eye(n).reshape(n, 1, h, w, k)
    ref = np.zeros((b, k))
    for i in range(steps):
        base = (i + 0.5) / steps * acts
        tiled = np.tile(classes, n)
        plus = _log_p(hybrid, "qgcam_conv", (base + moves).reshape(n * b, h, w, k), tiled)
        minus = _log_p(hybrid, "qgcam_conv", (base - moves).reshape(n * b, h, w, k), tiled)
        slope = ((plus - minus) / (2 * eps)).reshape(n, b)  # d log p_c / d A_n, per sample
        ref += slope.T.reshape(b, h * w, k).sum(axis=1) / (h * w * steps)
    assert np.abs(ref).max() > 1e-3
    np.testing.assert_allclose(got, ref, atol=1.5e-2 * np.abs(ref).max())


@pytest.mark.parametrize("kind", ["hybrid", "twin"])
def test_integrated_maps_are_complete(hybrid, images, kind):
    """Behind a global average pool the grid sum of sum_k w_k A^k equals
    log p_c(A) - log p_c(0), the change of the class's log-probability from all-zero
    activations to the image's (64 midpoints: within 0.5 % of the largest change), for the
    hybrid and the twin; the maps are ReLU of that weighted sum."""
    keras.utils.set_random_seed(3)
    model = hybrid if kind == "hybrid" else build_classical_twin((8, 8, 1), 3, conv_filters=(4, 6))
    classes = CLASSES
    res = IntegratedQGradCAM(model, steps=64)(images, classes)
    acts = keras.Model(model.inputs, model.get_layer("qgcam_conv").output)(images).numpy()
    weighted = np.einsum("bhwk,bk->bhw", acts.astype(np.float64), res.weights)
    p = model(images, training=False).numpy().astype(np.float64)
    change = np.log(p[np.arange(6), classes]) - _log_p(
        model, "qgcam_conv", np.zeros_like(acts), classes
    )
    scale = np.abs(change).max()
    assert scale > 5e-4
    np.testing.assert_allclose(weighted.sum(axis=(1, 2)), change, atol=5e-3 * scale)
    np.testing.assert_allclose(res.activations_maps, np.maximum(weighted, 0), atol=1e-5)


def test_integrated_explains_a_tfq_controlled_pqc_model(images):
    """On TFQ's ControlledPQC hybrid explained from images alone (its circuits input fed C),
    Integrated QGrad-CAM is complete too: the grid sum of its weighted activations equals
    log p_c(A) - log p_c(0) within 0.5 %, p_c(A) being the TFQ model's own output given C."""
    import tensorflow_quantum as tfq

    case = circuit_cases()[1]
    model = tfq_hybrid(case, "ControlledPQC")
    classes = CLASSES % len(case.readouts)
    cam = IntegratedQGradCAM(model, layer="conv", circuits=case.prefix, steps=64)
    res = cam(images, classes)
    acts = cam.probe_outputs(tf.constant(images))[0]
    weighted = np.einsum("bhwk,bk->bhw", acts.numpy().astype(np.float64), res.weights)
    p = model([tfq.convert_to_tensor([case.prefix] * len(images)), images]).numpy()
    p0 = cam.head_probabilities(tf.zeros_like(acts)).numpy()
    rows = np.arange(len(images))
    change = np.log(p[rows, classes].astype(np.float64)) - np.log(p0[rows, classes])
    scale = np.abs(change).max()
    assert scale > 1e-3
    np.testing.assert_allclose(weighted.sum(axis=(1, 2)), change, atol=5e-3 * scale)


def test_integrated_errors(hybrid):
    """Bad steps, and a model with a path around the layer, are one clear error each."""
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="steps must be an int >= 1"):
            IntegratedQGradCAM(hybrid, steps=bad)
    x = keras.Input((8, 8, 1))
    a = keras.layers.Conv2D(3, 3, padding="same", name="qgcam_conv")(x)
    pooled = keras.layers.GlobalAveragePooling2D()(a)
    skip = keras.layers.Flatten()(x)
    logits = keras.layers.Dense(2, name="logits")(keras.layers.Concatenate()([pooled, skip]))
    model = keras.Model(x, keras.layers.Softmax()(logits))
    with pytest.raises(ValueError, match="only through layer 'qgcam_conv'"):
        IntegratedQGradCAM(model)


def test_only_random_refuses_export(hybrid, images):
    """Every method but RandomCAM gives its explain_tensors for a signature; RandomCAM's
    export_tensors raises NotImplementedError naming it (its generator lives outside)."""
    x, ci = tf.constant(images[:2]), tf.constant([-1, 1], tf.int64)
    for name, cls in CAM_METHODS.items():
        cam = cls(hybrid)
        if cls is RandomCAM:
            with pytest.raises(NotImplementedError, match="RandomCAM cannot be exported"):
                cam.export_tensors(x, ci)
            continue
        got = cam.export_tensors(x, ci)["maps"].numpy()
        np.testing.assert_allclose(got, cam.explain_tensors(x, ci)["maps"].numpy(), atol=1e-6)


def test_every_method_explains_a_tfq_controlled_pqc_model(images):
    """On a ControlledPQC hybrid explained from images alone (circuits=C fed to every
    sample), the gradient methods equal their NumPy formulas on per-sample gradients and
    Score-CAM's weights the model's probabilities of the masked images given C; the
    centre baseline runs on its conv grid."""
    import tensorflow_quantum as tfq

    case = circuit_cases()[1]
    model = tfq_hybrid(case, "ControlledPQC")
    classes = CLASSES % len(case.readouts)

    def feed(x):
        return [tfq.convert_to_tensor([case.prefix] * len(x)), x]

    acts, grads = per_sample_acts_grads(model, images, classes, "q", "conv", feed)
    assert np.abs(grads).max() > 1e-3
    for method in ("qgradcam", "gradcam++", "hirescam", "layercam"):
        res = make_cam(method, model, layer="conv", circuits=case.prefix)(images, classes)
        ref = np_cams(method, acts, grads)
        np.testing.assert_allclose(res.activations_maps, ref, rtol=1e-4, atol=1e-6)
        ref_maps = np.stack([np_normalize(np_resize(r, 8, 8)) for r in ref])
        np.testing.assert_allclose(res.maps, ref_maps, atol=1e-4)
    weights = np.zeros(acts.shape[::3])
    for b in range(len(images)):
        masks = np.stack(
            [np_normalize(np_resize(acts[b, :, :, k], 8, 8)) for k in range(acts.shape[-1])]
        )
        masked = images[b][None] * masks[..., None].astype(np.float32)
        weights[b] = model(feed(masked), training=False).numpy()[:, classes[b]]
    res = ScoreCAM(model, layer="conv", circuits=case.prefix, mask_batch_size=4)(images, classes)
    np.testing.assert_allclose(res.weights, weights, rtol=1e-4, atol=1e-6)
    centre = CentreCAM(model, layer="conv")(images).activations_maps  # on the 6x6 conv grid
    c = (np.arange(6) + 0.5 - 3.0) / 1.5
    np.testing.assert_allclose(centre[0], np.exp(-0.5 * (c[:, None] ** 2 + c**2)), atol=1e-6)


@pytest.fixture(scope="module")
def binary():
    """A one-output hybrid (VQC <Z> -> scale -> sigmoid) trained on MNIST 0 vs 1, and 64
    held-out test images (32 of each digit) with their labels."""
    return one_output_model(digits=(0, 1))


def test_one_output_hybrid_separates_the_digits(binary):
    """The trained one-output hybrid classifies >= 90 % of the held-out 0s and 1s (the maps
    below explain a model that works)."""
    model, (x, y) = binary
    p = model.predict(x, verbose=0)[:, 0]
    assert np.mean((p > 0.5) == y) >= 0.9


def test_one_output_every_method_explains_both_classes(binary):
    """Every method gives non-empty maps in [0, 1] for each digit explained as its class;
    the gradient weights of class 0 are minus those of class 1 (every image explained for
    both); Score-CAM's masked-image probabilities are 1 - p and p."""
    model, (x, y) = binary
    mine = np.concatenate([x[y == 0][:3], x[y == 1][:3]])
    x, ci = mine, np.array([0, 0, 0, 1, 1, 1])
    for method in CAM_METHODS:
        cam = make_cam(method, model)
        own = cam(x, class_index=ci)
        assert np.all(own.maps.max(axis=(1, 2)) > 0.99) and own.maps.min() >= 0.0
        r0, r1 = cam(x, class_index=0), cam(x, class_index=1)
        if method in ("qgradcam", "hirescam"):
            np.testing.assert_allclose(r0.weights, -r1.weights, atol=1e-7)
        if method == "scorecam":
            np.testing.assert_allclose(r0.weights + r1.weights, 1.0, atol=1e-5)


def test_one_output_explicit_weights_negate_for_class_zero(binary):
    """QGrad-CAM's parameter-shift weights of a one-output VQC: class 0 is minus class 1,
    and both equal the autodiff weights (within 1e-4)."""
    model, (x, _) = binary
    cam = QGradCAM(model)
    for c in (0, 1):
        explicit = cam.explicit_weights(x[:4], class_index=c)
        np.testing.assert_allclose(explicit, cam(x[:4], class_index=c).weights, atol=1e-4)
    np.testing.assert_allclose(
        cam.explicit_weights(x[:4], class_index=0),
        -cam.explicit_weights(x[:4], class_index=1),
        atol=1e-7,
    )


@pytest.mark.parametrize("digit", [0, 1])
def test_one_output_deletion_beats_random_for_both_classes(binary, digit):
    """On the held-out images of each digit that the model classifies right (explained for
    their class, class 0 by the negated score), QGrad-CAM's deletion AUC is below that of
    random maps, paired over the images: the 95 % t-interval of the mean difference lies
    below 0."""
    model, (x, y) = binary
    cam, rnd = make_cam("qgradcam", model), make_cam("random", model, seed=0)
    predict = cam.image_model
    x = x[(y == digit) & (predict(x).numpy().argmax(axis=1) == digit)]
    assert len(x) >= 30
    ci = np.full(len(x), digit)
    deletion = DeletionAUC()
    ours = deletion(predict, x, cam(x, class_index=ci).maps, ci).values
    chance = deletion(predict, x, rnd(x, class_index=ci).maps, ci).values
    diff = ours - chance
    upper = diff.mean() + 2.04 * diff.std(ddof=1) / np.sqrt(len(diff))  # t(0.975, 31)
    assert upper < 0.0, (digit, diff.mean(), upper)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
