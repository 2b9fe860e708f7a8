"""The standard metric set against values worked out by hand on 2x2, 3x3 and 4x4 inputs.

The toy model is linear: the "probability" of class 0 is ``sum_i w_i x_i`` (class 1: one
minus it), so every perturbed prediction is a sum of weights that can be done on paper.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.evaluate import standard as st

W2 = np.array([[0.1, 0.2], [0.3, 0.4]], np.float32)  # weights of the 2x2 linear model
W4 = (np.arange(16, dtype=np.float32) / 120.0).reshape(4, 4)  # 4x4 weights, summing to 1


def linear_model(weights):
    """predict_fn with class 0 = sum(w * x) and class 1 = 1 - that."""

    def predict(images):
        p = tf.reduce_sum(images[..., 0] * weights, axis=[1, 2])
        return tf.stack([p, 1.0 - p], axis=1)

    return predict


def test_faithfulness_correlation_by_hand():
    """Ones image, 3 of 4 pixels removed per run: delta = 1 - w_j and sum = 10 - a_j for the
    pixel j kept; a = w gives correlation 1, a = 5 - 10 w gives -1, the rest equals Pearson."""
    img = np.ones((3, 2, 2, 1), np.float32)
    maps = np.stack([W2, 5 - 10 * W2, np.array([[1.0, 0.0], [0.0, 3.0]])]).astype(np.float32)
    metric = st.FaithfulnessCorrelation(runs=12, subset_size=3, seed=4)
    res = metric(linear_model(W2), img, maps, np.array([0, 0, 0]))
    np.testing.assert_allclose(res.values[:2], [1.0, -1.0], atol=1e-5)
    kept = np.round((1.0 - res.extra["deltas"][2]) * 10).astype(int) - 1  # w_j = (j + 1) / 10
    np.testing.assert_allclose(res.extra["attribution_sums"][2], 4.0 - maps[2].ravel()[kept])
    ref = np.corrcoef(res.extra["attribution_sums"][2], res.extra["deltas"][2])[0, 1]
    np.testing.assert_allclose(res.values[2], ref, atol=1e-9)
    assert len(set(kept)) > 1  # the runs drew different subsets


def test_faithfulness_correlation_rejects_large_subset():
    """A subset larger than the image is refused, naming subset_size."""
    with pytest.raises(ValueError, match="subset_size"):
        st.FaithfulnessCorrelation(subset_size=5)(
            linear_model(W2), np.ones((1, 2, 2, 1)), np.ones((1, 2, 2)), np.array([0])
        )


def test_pixel_flipping_by_hand():
    """Ones image, map order w .2, .4, .3, .1: curve .8, .4, .1, 0 and AUC 0.3; three pixels
    per step: curve .1, 0 and AUC .05; class 1 follows 1 - p."""
    img = np.ones((2, 2, 2, 1), np.float32)
    maps = np.repeat(np.array([[[1.0, 4.0], [2.0, 3.0]]], np.float32), 2, axis=0)
    res = st.PixelFlipping()(linear_model(W2), img, maps, np.array([0, 1]))
    np.testing.assert_allclose(res.curves[0], [0.8, 0.4, 0.1, 0.0], atol=1e-6)
    np.testing.assert_allclose(res.curves[1], [0.2, 0.6, 0.9, 1.0], atol=1e-6)
    # (1/3) * ((.8 + .4) / 2 + (.4 + .1) / 2 + (.1 + 0) / 2) = 0.3; class 1: (.4 + .75 + .95) / 3
    np.testing.assert_allclose(res.values, [0.3, 0.7], atol=1e-6)
    np.testing.assert_allclose(res.x, [0.25, 0.5, 0.75, 1.0])
    res3 = st.PixelFlipping(features_in_step=3)(linear_model(W2), img[:1], maps[:1], [0])
    np.testing.assert_allclose(res3.curves[0], [0.1, 0.0], atol=1e-6)
    np.testing.assert_allclose(res3.values, [0.05], atol=1e-6)


def test_region_perturbation_by_hand():
    """4x4 ones, 2x2 patches with weight sums 10, 18, 42, 50 (/120) removed top-left first:
    curve 0, 10, 28, 70, 120 (/120), AOPC 228/600; two regions: mean of 0, 10, 28."""
    img = np.ones((1, 4, 4, 1), np.float32)
    maps = -W4[None]  # top-left patch most relevant, bottom-right least
    res = st.RegionPerturbation(patch_size=2, baseline=0.0)(linear_model(W4), img, maps, [0])
    np.testing.assert_allclose(res.curves[0], np.array([0, 10, 28, 70, 120]) / 120, atol=1e-6)
    np.testing.assert_allclose(res.values, [228 / 600], atol=1e-6)
    two = st.RegionPerturbation(patch_size=2, regions=2, baseline=0.0)
    np.testing.assert_allclose(two(linear_model(W4), img, maps, [0]).values, [38 / 360], atol=1e-6)


def test_region_perturbation_partial_patches():
    """3x3 map, 2x2 patches: the corner patch (one pixel, sum 9) beats the 2x2 one (sum 4)."""
    img = np.ones((1, 3, 3, 1), np.float32)
    w = np.full((3, 3), 1 / 9, np.float32)
    maps = np.array([[[1, 1, 0], [1, 1, 0], [0, 0, 9]]], np.float32)
    res = st.RegionPerturbation(patch_size=2, regions=2, baseline=0.0)(
        linear_model(w), img, maps, [0]
    )
    np.testing.assert_allclose(res.curves[0], [0.0, 1 / 9, 5 / 9], atol=1e-6)


def test_region_perturbation_uniform_fill_stays_in_range():
    """Uniform noise in [0, 1] on a ones image can only lower the weighted sum: curve >= 0."""
    img = np.ones((2, 4, 4, 1), np.float32)
    maps = np.random.default_rng(0).uniform(size=(2, 4, 4)).astype(np.float32)
    res = st.RegionPerturbation(patch_size=2, seed=3)(linear_model(W4), img, maps, [0, 0])
    assert np.all(np.diff(res.curves, axis=1) >= -1e-7) and np.all(res.curves[:, -1] > 0.2)


def test_sensitivities_by_hand():
    """Identity explanation, x = [[.3, 0], [0, .4]] (norm .5), sample s adds .1 (s + 1) to one
    pixel: sensitivities .2, .4, .6 -> Max .6, Avg .4."""
    x = np.array([[[[0.3], [0.0]], [[0.0], [0.4]]]], np.float32)

    def perturb(images, s):
        out = images.copy()
        out[:, 0, 0, 0] += 0.1 * (s + 1)
        return out

    def explain(images, class_index):
        return images[..., 0]

    res_max = st.MaxSensitivity(samples=3, perturb=perturb)(explain, x, x[..., 0], [0])
    res_avg = st.AvgSensitivity(samples=3, perturb=perturb)(explain, x, x[..., 0], [0])
    np.testing.assert_allclose(res_max.extra["sensitivities"], [[0.2, 0.4, 0.6]], atol=1e-6)
    np.testing.assert_allclose(res_max.values, [0.6], atol=1e-6)
    np.testing.assert_allclose(res_avg.values, [0.4], atol=1e-6)


def test_uniform_noise_within_radius_and_seeded():
    """Quantus's default perturbation: every pixel moves by at most the radius, seeded."""
    x = np.full((2, 5, 5, 1), 0.5, np.float32)
    noise = st.uniform_noise(0.2, seed=1)
    a, b = noise(x, 0), noise(x, 1)
    assert np.abs(a - x).max() <= 0.2 and np.abs(a - x).max() > 0.1
    np.testing.assert_array_equal(a, st.uniform_noise(0.2, seed=1)(x, 0))
    assert not np.allclose(a, b)


def test_sparseness_by_hand():
    """Gini of |a|: one hot -> 3/4, [1, 2, 3, 4] (any signs) -> 10/40, flat -> 0."""
    maps = np.array(
        [[[0, 0], [0, 1]], [[-4, 1], [-2, 3]], [[2, 2], [2, 2]]], np.float32
    )  # sample 1 sorted |a| = 1, 2, 3, 4: (-3*1 - 1*2 + 1*3 + 3*4) / (4 * 10) = 0.25
    np.testing.assert_allclose(st.Sparseness()(maps).values, [0.75, 0.25, 0.0], atol=1e-6)


def test_complexity_by_hand():
    """Entropy of |a| / sum |a|: [1, 1, 0, 0] -> ln 2; [1, 2, 3, 4] -> 1.2798544; one hot -> 0."""
    maps = np.array([[[1, 1], [0, 0]], [[1, -2], [3, 4]], [[0, 0], [0, 5]]], np.float32)
    # -(.1 ln .1 + .2 ln .2 + .3 ln .3 + .4 ln .4) = .2302585 + .3218876 + .3611919 + .3665164
    np.testing.assert_allclose(
        st.Complexity()(maps).values, [math.log(2), 1.2798544, 0.0], atol=1e-6
    )


def test_pointing_game_by_hand():
    """Max at (0, 1): hit for a mask there, miss elsewhere; ties hit if any max is inside;
    an empty mask gives NaN."""
    maps = np.array([[[1, 3], [2, 0]]] * 2 + [[[1, 1], [1, 1]]] * 2, np.float32)
    masks = np.array([[[0, 1], [0, 0]], [[1, 0], [0, 0]], [[0, 0], [0, 1]], [[0, 0], [0, 0]]], bool)
    np.testing.assert_array_equal(st.PointingGame()(maps, masks).values, [1, 0, 1, np.nan])


def test_attribution_localisation_by_hand():
    """|a| = 1, 2, 3, 0: the left column holds 4/6, the top-left pixel 1/6 (weighted by their
    2/4 and 1/4 of the image: 1/3, 1/24); positive parts 1, 0, 3, 0: 4/4 and 1/4."""
    maps = np.array([[[1, -2], [3, 0]]] * 2, np.float32)
    masks = np.array([[[1, 0], [1, 0]], [[1, 0], [0, 0]]], bool)
    np.testing.assert_allclose(
        st.AttributionLocalisation()(maps, masks).values, [4 / 6, 1 / 6], atol=1e-6
    )
    weighted = st.AttributionLocalisation(weighted=True)(maps, masks).values
    np.testing.assert_allclose(weighted, [1 / 3, 1 / 24], atol=1e-6)
    positive = st.AttributionLocalisation(positive_only=True)(maps, masks).values
    np.testing.assert_allclose(positive, [1.0, 0.25], atol=1e-6)


def test_ink_masks_by_hand():
    """Ink is the channel mean strictly above the threshold: 0.6 and 0.9 are ink at 0.5, 0.5
    is not; with two channels (0.2, 0.9) has mean 0.55 and is ink."""
    images = np.array([[[0.2, 0.6], [0.5, 0.9]]], np.float32)[..., None]
    np.testing.assert_array_equal(st.ink_masks(images), [[[False, True], [False, True]]])
    np.testing.assert_array_equal(
        st.ink_masks(images, threshold=0.55), [[[False, True], [False, True]]]
    )
    two = np.array([[[[0.2, 0.9], [0.1, 0.2]]]], np.float32)  # [1, 1, 2, 2]
    np.testing.assert_array_equal(st.ink_masks(two), [[[True, False]]])
    assert st.INK_THRESHOLD == 0.5


def test_energy_pointing_game_by_hand():
    """Map 1, 3, 0, -2 on a mask of the right column: positive energy 4, inside 3 -> 0.75;
    the mask is 2 of 4 pixels, so the enrichment is 0.75 / 0.5 = 1.5. A uniform map scores
    the mask's share (1/4) and enrichment 1.0; an empty mask is NaN; a map with no positive
    value scores 0."""
    maps = np.array([[[1, 3], [0, -2]], [[2, 2], [2, 2]], [[1, 1], [1, 1]], [[-1, 0], [0, 0]]])
    masks = np.array([[[0, 1], [0, 1]], [[1, 0], [0, 0]], [[0, 0], [0, 0]], [[1, 0], [0, 0]]], bool)
    share = st.EnergyPointingGame()(maps, masks).values
    np.testing.assert_allclose(share[[0, 1, 3]], [0.75, 0.25, 0.0], atol=1e-8)
    assert np.isnan(share[2])
    enrichment = st.EnergyPointingGame(enrichment=True)(maps, masks).values
    np.testing.assert_allclose(enrichment[[0, 1, 3]], [1.5, 1.0, 0.0], atol=1e-8)
    assert np.isnan(enrichment[2])
    positive = st.AttributionLocalisation(positive_only=True)(maps, masks).values
    np.testing.assert_allclose(share[[0, 1, 3]], positive[[0, 1, 3]], atol=1e-12)


def test_ink_masks_bad_input():
    """Images that are not [B, H, W, C] and a non-finite threshold name the argument."""
    with pytest.raises(ValueError, match="images must be"):
        st.ink_masks(np.ones((2, 2)))
    with pytest.raises(ValueError, match="threshold"):
        st.ink_masks(np.ones((1, 2, 2, 1)), threshold=float("nan"))


def test_bad_inputs_name_the_argument():
    """Shapes and counts that do not fit raise one ValueError naming the argument."""
    with pytest.raises(ValueError, match="maps"):
        st.PixelFlipping()(linear_model(W2), np.ones((1, 2, 2, 1)), np.ones((1, 3, 3)), [0])
    with pytest.raises(ValueError, match="class_index"):
        st.PixelFlipping()(linear_model(W2), np.ones((1, 2, 2, 1)), np.ones((1, 2, 2)), [0.5])
    with pytest.raises(ValueError, match="masks"):
        st.PointingGame()(np.ones((1, 2, 2)), np.ones((1, 3, 3)))
    with pytest.raises(ValueError, match="features_in_step"):
        st.PixelFlipping(features_in_step=0)
    with pytest.raises(ValueError, match="baseline"):
        st.RegionPerturbation(baseline="black")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
