"""Faithfulness metrics against values worked out by hand on 4x4 images.

The toy model's probability of class 0 is the mean of the pixels (class 1: one minus it),
so every curve value is a sum of pixel values that can be done on paper.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from qgcam_tf.evaluate import metrics as qm


def mean_model(images):
    """Probability of class 0 = mean pixel value; class 1 = 1 - that."""
    p = tf.reduce_mean(images, axis=[1, 2, 3])
    return tf.stack([p, 1.0 - p], axis=1)


def ramp():
    """4x4 image with pixel k (row-major) = k / 15."""
    return (np.arange(16, dtype=np.float32) / 15.0).reshape(1, 4, 4, 1)


def test_deletion_auc_by_hand():
    """Deleting the brightest pixels first gives AUC 1/6, darkest first 1/3; class 1 is 1 - it."""
    img = np.repeat(ramp(), 3, axis=0)
    m = img[..., 0]
    maps = np.stack([m[0], -m[0], m[0]])
    res = qm.DeletionAUC(steps=4)(mean_model, img, maps, np.array([0, 0, 1]))
    # brightest first: means 0.5, 66/240, 28/240, 6/240, 0
    np.testing.assert_allclose(res.curves[0], [0.5, 66 / 240, 28 / 240, 6 / 240, 0.0], atol=1e-6)
    np.testing.assert_allclose(res.values, [1 / 6, 1 / 3, 1 - 1 / 6], atol=1e-6)
    np.testing.assert_allclose(res.x, [0, 0.25, 0.5, 0.75, 1.0])


def test_deletion_baseline_value():
    """Removed pixels take the baseline: ones image, baseline 0.5, 2 steps -> curve 1, .75, .5."""
    img = np.ones((1, 4, 4, 1), np.float32)
    maps = ramp()[..., 0]
    res = qm.DeletionAUC(steps=2, baseline=0.5)(mean_model, img, maps, np.array([0]))
    np.testing.assert_allclose(res.curves[0], [1.0, 0.75, 0.5], atol=1e-6)
    np.testing.assert_allclose(res.values, [(1.75 / 2 + 1.25 / 2) / 2], atol=1e-6)


def test_insertion_auc_by_hand():
    """Half-lit image: canvas = 3-tap blur [a, b, a]; inserting column 1 first lifts the mean."""
    img = np.zeros((1, 4, 4, 1), np.float32)
    img[:, :, :2] = 1.0
    # sigma 0.5 -> half width ceil(2 * 0.5) = 1, taps exp(-2), 1, exp(-2) normalised
    a = math.exp(-2) / (1 + 2 * math.exp(-2))
    canvas_cols = [1.0, 1.0 - a, a, 0.0]  # symmetric borders
    blurred = qm.gaussian_blur(img, sigma=0.5).numpy()[0, 0, :, 0]
    np.testing.assert_allclose(blurred, canvas_cols, atol=1e-6)
    maps = np.tile(np.array([2.0, 4.0, 3.0, 1.0], np.float32), (1, 4, 1))  # columns 1, 2, 0, 3
    res = qm.InsertionAUC(steps=4, blur_sigma=0.5)(mean_model, img, maps, np.array([0]))
    lift = 0.5 + a / 4  # column 1 restored: 4 pixels gain a each, over 16 pixels
    np.testing.assert_allclose(res.curves[0], [0.5, lift, 0.5, 0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(res.values, [0.25 * (0.25 + lift + 0.5 + 0.5 + 0.25)], atol=1e-6)


def test_gaussian_blur_matches_scipy(rng):
    """The separable blur equals scipy.ndimage.gaussian_filter with reflected borders."""
    img = rng.uniform(size=(2, 12, 9, 3)).astype(np.float32)
    sigma = 1.5  # half width ceil(3) = 3 -> scipy truncate = 3 / 1.5
    out = qm.gaussian_blur(img, sigma=sigma).numpy()
    ref = ndimage.gaussian_filter(img, sigma=(0, sigma, sigma, 0), mode="reflect", truncate=2.0)
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_average_drop_and_increase_by_hand():
    """Grey 0.8 image: half map halves the mean (drop 50 %); full map keeps it; class 1 rises."""
    img = np.full((3, 4, 4, 1), 0.8, np.float32)
    half = np.zeros((4, 4), np.float32)
    half[:, :2] = 1.0
    maps = np.stack([half, np.ones((4, 4)), half]).astype(np.float32)
    ci = np.array([0, 0, 1])
    drop = qm.AverageDrop()(mean_model, img, maps, ci)
    inc = qm.IncreaseInConfidence()(mean_model, img, maps, ci)
    # sample 2: Y = 1 - 0.8 = 0.2, O = 1 - 0.4 = 0.6 -> no drop, an increase
    np.testing.assert_allclose(drop.values, [50.0, 0.0, 0.0], atol=1e-4)
    np.testing.assert_allclose(inc.values, [0.0, 0.0, 100.0])
    np.testing.assert_allclose(drop.extra["explained"], [0.4, 0.8, 0.6], atol=1e-6)


def test_road_by_hand():
    """Removing corner (0,0) imputes (2*0.6 + 2*0.3 + 0.9)/5 = 0.54; the far corner imputes 0."""
    img = np.zeros((1, 4, 4, 1), np.float32)
    img[0, 0, 0, 0], img[0, 0, 1, 0], img[0, 1, 0, 0], img[0, 1, 1, 0] = 0.2, 0.6, 0.3, 0.9
    maps = -np.arange(16, dtype=np.float32).reshape(1, 4, 4)  # (0,0) most relevant, (3,3) least
    res = qm.ROAD(percentiles=(6.25,), noise=0.0)(mean_model, img, maps, np.array([0]))
    morf, lerf = (0.54 + 1.8) / 16, 2.0 / 16
    np.testing.assert_allclose(res.extra["morf"], [[morf]], atol=1e-6)
    np.testing.assert_allclose(res.extra["lerf"], [[lerf]], atol=1e-6)
    np.testing.assert_allclose(res.values, [(lerf - morf) / 2], atol=1e-6)


def _dense_imputation(img, removed):
    """Reference: the ROAD neighbour equations as one dense linear system (NumPy)."""
    h, w = img.shape
    a, b = np.zeros((h * w, h * w)), np.zeros(h * w)
    for i in range(h):
        for j in range(w):
            p = i * w + j
            if not removed[i, j]:
                a[p, p], b[p] = 1.0, img[i, j]
                continue
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    ii, jj = i + di, j + dj
                    if (di or dj) and 0 <= ii < h and 0 <= jj < w:
                        weight = 1 / 12 if di and dj else 1 / 6
                        a[p, p] += weight
                        a[p, ii * w + jj] -= weight
    return np.linalg.solve(a, b).reshape(h, w)


def test_imputation_matches_dense_solve(rng):
    """Conjugate gradients on 80 % removed 8x8 images equals the dense linear solve per channel."""
    img = rng.uniform(size=(2, 8, 8, 2)).astype(np.float32)
    removed = rng.uniform(size=(2, 8, 8)) < 0.8
    removed[:, 0, 0] = False  # keep one known pixel so every system is regular
    out = qm.noisy_linear_impute(img, removed, noise=0.0).numpy()
    for b in range(2):
        for c in range(2):
            np.testing.assert_allclose(
                out[b, :, :, c], _dense_imputation(img[b, :, :, c], removed[b]), atol=1e-5
            )


def test_imputation_noise_only_on_removed_pixels(rng):
    """Noise std 0.05 shows up (std within 10 %) on removed pixels and never on kept ones."""
    img = np.full((4, 32, 32, 1), 0.5, np.float32)
    removed = rng.uniform(size=(4, 32, 32)) < 0.5
    out = qm.noisy_linear_impute(img, removed, noise=0.05, seed=3).numpy()[..., 0]
    np.testing.assert_array_equal(out[~removed], 0.5)
    assert abs(np.std(out[removed] - 0.5) - 0.05) < 0.005


def test_map_stability_by_hand():
    """Pearson 1 for an affine copy, -1 reversed, 0.2 for a shuffle; top-2 IoU 1, 0, 1/3."""
    a = np.array([[1, 2], [3, 4]], np.float32)
    b = np.stack([2 * a + 1, 5 - a, np.array([[1, 4], [3, 2]], np.float32)])
    st = qm.map_stability(np.stack([a, a, a]), b, top_fraction=0.5)
    np.testing.assert_allclose(st["pearson"], [1.0, -1.0, 0.2], atol=1e-6)
    np.testing.assert_allclose(st["iou"], [1.0, 0.0, 1 / 3], atol=1e-6)


def test_pixel_ranks_break_ties_by_index():
    """Equal values rank in row-major order; the largest value ranks 0."""
    maps = np.array([[[0.5, 1.0], [0.5, 0.5]]], np.float32)
    np.testing.assert_array_equal(qm.pixel_ranks(maps, tie_seed=None).numpy(), [[[1, 0], [2, 3]]])


def test_pixel_ranks_seeded_random_ties():
    """With a tie seed the two 1-valued pixels rank first; the 14 zeros get a seeded shuffle."""
    maps = np.zeros((1, 4, 4), np.float32)
    maps[0, 3, 3] = maps[0, 2, 1] = 1.0
    a = qm.pixel_ranks(maps, tie_seed=5).numpy().reshape(-1)
    np.testing.assert_array_equal(a, qm.pixel_ranks(maps, tie_seed=5).numpy().reshape(-1))
    assert sorted(a[[9, 15]]) == [0, 1] and sorted(a) == list(range(16))
    zeros = np.delete(a, [9, 15])
    assert not np.all(np.diff(zeros) > 0)  # not row-major
    assert not np.array_equal(a, qm.pixel_ranks(maps, tie_seed=6).numpy().reshape(-1))


def test_mean_ci_student_t():
    """[1, 2, 3]: mean 2, half-width t(0.975, 2) * 1 / sqrt(3) = 4.302653 / sqrt(3)."""
    mean, half = qm.mean_ci([1.0, 2.0, 3.0])
    assert mean == pytest.approx(2.0)
    assert half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)


def test_errors_name_the_argument():
    """Bad shapes, class indices and options raise ValueError naming what was wrong."""
    img, maps = ramp(), ramp()[..., 0]
    with pytest.raises(ValueError, match=r"maps must be \[B, H, W\]"):
        qm.DeletionAUC()(mean_model, img, maps[:, :2], np.array([0]))
    with pytest.raises(ValueError, match="class_index must be 1 ints"):
        qm.DeletionAUC()(mean_model, img, maps, np.array([0, 1]))
    with pytest.raises(ValueError, match="class_index must be >= 0"):
        qm.AverageDrop()(mean_model, img, maps, np.array([-1]))
    with pytest.raises(ValueError, match="steps must be an int >= 1, got 0"):
        qm.DeletionAUC(steps=0)
    with pytest.raises(ValueError, match="blur_sigma must be > 0"):
        qm.InsertionAUC(blur_sigma=0)
    with pytest.raises(ValueError, match=r"percentiles must be in \(0, 100\)"):
        qm.ROAD(percentiles=(0, 50))
    with pytest.raises(ValueError, match="top_fraction must be in"):
        qm.map_stability(maps, maps, top_fraction=0.0)
    with pytest.raises(ValueError, match="predict_fn must return"):
        qm.AverageDrop()(lambda x: tf.zeros([5]), img, maps, np.array([0]))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
