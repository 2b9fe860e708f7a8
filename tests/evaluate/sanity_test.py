"""Sanity checks: the similarity measures by hand, the randomised clones weight by weight, and
the randomisation test against the maps of the clones computed directly."""

from __future__ import annotations

import math
import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402
from scipy import stats  # noqa: E402

from qgcam_tf.evaluate import sanity as sn  # noqa: E402
from qgcam_tf.explain.qgradcam import QGradCAM  # noqa: E402
from qgcam_tf.model.hybrid import build_classical_twin, build_hybrid_model  # noqa: E402
from qgcam_tf.quantum.circuits import VQCSpec  # noqa: E402


@pytest.fixture(scope="module")
def hybrid():
    """8x8 hybrid (tf executor), 4 qubits, 3 classes: conv, BN, Dense, VQC and Scale layers."""
    keras.utils.set_random_seed(11)
    return build_hybrid_model(
        (8, 8, 1),
        3,
        vqc=VQCSpec(n_qubits=4, depth=1, n_outputs=3),
        backend="tf",
        conv_filters=(4, 6),
    )


def _window_ssim(a, b, data_range):
    """SSIM of one window, written out (sample variances, K1 = .01, K2 = .03)."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ua, ub = a.mean(), b.mean()
    va, vb = a.var(ddof=1), b.var(ddof=1)
    cov = ((a - ua) * (b - ub)).sum() / (a.size - 1)
    return (2 * ua * ub + c1) * (2 * cov + c2) / ((ua**2 + ub**2 + c1) * (va + vb + c2))


def test_ssim_by_hand():
    """Two one-hot 3x3 maps: means 1/9, variances 1/9, covariance -1/72, so SSIM =
    (-1/36 + 9e-4) / (2/9 + 9e-4); a map with itself gives 1."""
    a = np.zeros((1, 3, 3))
    b = np.zeros((1, 3, 3))
    a[0, 0, 0], b[0, 0, 1] = 1.0, 1.0
    expected = (-1 / 36 + 9e-4) / (2 / 9 + 9e-4)
    np.testing.assert_allclose(sn.ssim(a, b, win_size=3), [expected], rtol=1e-12)
    np.testing.assert_allclose(sn.ssim(a, a, win_size=7), [1.0])  # window clipped to 3


def test_ssim_averages_the_windows(rng):
    """On 5x4 maps a 3-window SSIM is the mean of the 3 x 2 single-window values."""
    a, b = rng.uniform(size=(2, 5, 4)), rng.uniform(size=(2, 5, 4))
    for i in range(2):
        dr = max(a[i].max(), b[i].max()) - min(a[i].min(), b[i].min())
        ref = np.mean(
            [
                _window_ssim(a[i, r : r + 3, c : c + 3], b[i, r : r + 3, c : c + 3], dr)
                for r in range(3)
                for c in range(2)
            ]
        )
        np.testing.assert_allclose(sn.ssim(a, b, win_size=3)[i], ref, rtol=1e-10)


def test_map_similarity_by_hand(rng):
    """[1, 2, 3, 4] against its reverse: Spearman -1, no top-2 overlap; against [1, 2, 4, 3]:
    1 - 6 * 2 / (4 * 15) = 0.8, full overlap; random maps equal scipy's spearmanr."""
    a = np.array([[[1, 2], [3, 4]]] * 2, np.float64)
    b = np.array([[[4, 3], [2, 1]], [[1, 2], [4, 3]]], np.float64)
    sim = sn.map_similarity(a, b, top_fraction=0.5)
    np.testing.assert_allclose(sim["spearman"], [-1.0, 0.8], atol=1e-12)
    np.testing.assert_allclose(sim["topk_overlap"], [0.0, 1.0])
    x, y = rng.uniform(size=(3, 6, 6)), rng.uniform(size=(3, 6, 6))
    ref = [stats.spearmanr(x[i].ravel(), y[i].ravel())[0] for i in range(3)]
    np.testing.assert_allclose(sn.map_similarity(x, y)["spearman"], ref, atol=1e-12)


def test_map_similarity_rejects_bad_input():
    """Different shapes or a top fraction outside (0, 1] raise a ValueError naming it."""
    with pytest.raises(ValueError, match="maps_a and maps_b"):
        sn.map_similarity(np.ones((1, 2, 2)), np.ones((1, 3, 3)))
    with pytest.raises(ValueError, match="top_fraction"):
        sn.map_similarity(np.ones((1, 2, 2)), np.ones((1, 2, 2)), top_fraction=0)
    with pytest.raises(ValueError, match="win_size"):
        sn.ssim(np.ones((1, 2, 2)), np.ones((1, 2, 2)), win_size=2)


def test_randomisation_steps_of_hybrid_and_twin():
    """The hybrid has vqc, dense and conv parts (top first); the twin has dense and conv."""
    keras.utils.set_random_seed(1)
    twin = build_classical_twin((8, 8, 1), 3, conv_filters=(4,))
    hybrid = build_hybrid_model(
        (8, 8, 1), 3, vqc=VQCSpec(4, 1, 3), backend="tf", conv_filters=(4, 6)
    )
    assert [s for s, _ in sn.randomisation_steps(hybrid)] == ["vqc", "dense", "conv", "all"]
    assert sn.randomisation_steps(hybrid, mode="cascading")[:3] == [
        ("vqc", ("vqc",)),
        ("vqc+dense", ("vqc", "dense")),
        ("vqc+dense+conv", ("vqc", "dense", "conv")),
    ]
    assert [s for s, _ in sn.randomisation_steps(twin)] == ["dense", "conv", "all"]
    with pytest.raises(ValueError, match="mode"):
        sn.randomisation_steps(twin, mode="top")
    both = sn.randomisation_steps(hybrid, mode="both")
    assert [s for s, _ in both] == ["vqc", "dense", "conv", "vqc+dense", "vqc+dense+conv", "all"]
    assert dict(both)["vqc+dense"] == ("vqc", "dense")
    assert [s for s, _ in sn.randomisation_steps(twin, mode="both")] == [
        "dense",
        "conv",
        "dense+conv",
        "all",
    ]


def test_mode_steps_cut_a_both_run_into_its_two_tables():
    """The steps of a mode="both" run split into the independent table (single parts, all)
    and the cascade (top part, the joined names, all), for the hybrid and the twin."""
    names = ["vqc", "dense", "conv", "vqc+dense", "vqc+dense+conv", "all"]
    assert sn.mode_steps(names, "independent") == ["vqc", "dense", "conv", "all"]
    assert sn.mode_steps(names, "cascading") == ["vqc", "vqc+dense", "vqc+dense+conv", "all"]
    twin = ["dense", "conv", "dense+conv", "all"]
    assert sn.mode_steps(twin, "cascading") == ["dense", "dense+conv", "all"]
    assert sn.mode_steps(["conv", "all"], "cascading") == ["conv", "all"]
    with pytest.raises(ValueError, match="mode must be"):
        sn.mode_steps(names, "both")


def test_randomised_model_reinitialises_only_its_parts(hybrid):
    """Randomising "vqc" redraws theta in [0, 2 pi) and keeps every other weight; "conv"
    resets BN to gamma 1, beta 0, mean 0, variance 1; the user's model is untouched; the
    seed fixes the draw."""
    before = [w.copy() for w in hybrid.get_weights()]
    vqc = sn.randomised_model(hybrid, ["vqc"], seed=1)
    for layer in hybrid.layers:
        for old, new in zip(layer.get_weights(), vqc.get_layer(layer.name).get_weights()):
            assert np.array_equal(old, new) == (layer.name != "vqc"), layer.name
    theta = vqc.get_layer("vqc").get_weights()[0]
    assert theta.min() >= 0 and theta.max() < 2 * math.pi
    np.testing.assert_array_equal(
        theta, sn.randomised_model(hybrid, "vqc", seed=1).get_layer("vqc").get_weights()[0]
    )
    conv = sn.randomised_model(hybrid, ["conv"], seed=2)
    gamma, beta, mean, var = conv.get_layer("bn").get_weights()
    np.testing.assert_array_equal(
        np.stack([gamma, beta, mean, var]), [[1] * 6, [0] * 6, [0] * 6, [1] * 6]
    )
    np.testing.assert_array_equal(
        conv.get_layer("to_qubits").get_weights()[0], hybrid.get_layer("to_qubits").get_weights()[0]
    )
    for old, now in zip(before, hybrid.get_weights()):
        np.testing.assert_array_equal(old, now)
    with pytest.raises(ValueError, match="parts"):
        sn.randomised_model(hybrid, ["head"])


def test_randomisation_test_equals_direct_similarity(hybrid, tiny_images):
    """Each row is the mean and t-interval of map_similarity between QGrad-CAM of the model
    and of randomised_model(model, parts, seed + i); the model-blind centre map stays at 1."""
    images = tiny_images[:4]
    steps = [("vqc", ("vqc",)), ("all", ("vqc", "dense", "conv", "other"))]
    rows = sn.randomisation_test(
        hybrid, images, methods=["qgradcam", "centre"], steps=steps, batch_size=4, seed=5
    )
    ci = np.argmax(hybrid(images).numpy(), axis=1)
    reference = QGradCAM(hybrid)(images, ci).maps
    for i, (step, parts) in enumerate(steps):
        maps = QGradCAM(sn.randomised_model(hybrid, parts, seed=5 + i))(images, ci).maps
        sim = sn.map_similarity(reference, maps)
        for name in sn.SIMILARITIES:
            (row,) = [
                r for r in rows if (r["method"], r["step"], r["metric"]) == ("qgradcam", step, name)
            ]
            t = stats.t.ppf(0.975, 3) * sim[name].std(ddof=1) / 2.0
            np.testing.assert_allclose([row["mean"], row["ci"]], [sim[name].mean(), t], atol=1e-6)
    centre = [r["mean"] for r in rows if r["method"] == "centre"]
    np.testing.assert_allclose(centre, 1.0, atol=1e-9)
    full = [r["mean"] for r in rows if r["method"] == "qgradcam" and r["step"] == "all"]
    assert full[0] < 0.9  # a fully random model gives another map


def test_compare_models_with_itself_is_identical(hybrid, tiny_images):
    """The data-randomisation comparison of a model with itself gives similarity 1 throughout."""
    rows = sn.compare_models(
        hybrid,
        hybrid,
        tiny_images[:3],
        methods=["layercam"],
        batch_size=3,
        labels={"layercam": "x"},
    )
    assert {(r["method"], r["step"]) for r in rows} == {("x", "data")}
    np.testing.assert_allclose([r["mean"] for r in rows], 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="methods"):
        sn.compare_models(hybrid, hybrid, tiny_images, methods=["nope"])


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
