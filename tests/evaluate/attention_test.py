"""Tests of qgcam_tf.evaluate.attention: the background-attention ratio by hand and over a model."""

import sys

import numpy as np
import pytest

from qgcam_tf.evaluate.attention import (
    DATASET_METRICS,
    attention_by_class,
    attention_ratio,
    attention_summary,
    background_attention,
    bootstrap_ci,
    dataset_metrics,
    mask_ratio,
    per_clip_attention,
    speech_metrics,
)


def _two_class_model(seed: int):
    """A 2-qubit hybrid on 16x16 spectrogram-shaped inputs with two classes (tf executor)."""
    import tf_keras as keras

    from qgcam_tf.model.hybrid import build_hybrid_model
    from qgcam_tf.quantum.circuits import VQCSpec

    keras.utils.set_random_seed(seed)
    return build_hybrid_model(
        (16, 16, 1), 2, vqc=VQCSpec(2, 1, 2), backend="tf", conv_filters=(4, 4)
    )


def test_attention_ratio_hand_computed():
    """Mass only on non-speech frames with share 1/4 gives 4; a uniform map gives 1."""
    speech_marks = np.array([[True, True, True, False]] * 3)
    maps = np.zeros((3, 2, 4))
    maps[0, :, 3] = 1.0
    maps[1] = 1.0
    maps[2, :, 0] = 1.0
    np.testing.assert_allclose(attention_ratio(maps, speech_marks), [4.0, 1.0, 0.0])
    assert np.isnan(attention_ratio(np.ones((1, 2, 4)), np.ones((1, 4), bool)))[0]
    with pytest.raises(ValueError, match="disagree"):
        attention_ratio(np.ones((1, 2, 4)), np.ones((1, 3), bool))


def test_background_attention_uses_correct_clips_only():
    """background_attention averages the ratio over correctly classified clips of each class."""
    from qgcam_tf.explain.qgradcam import QGradCAM

    model = _two_class_model(seed=0)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(8, 16, 16, 1)).astype(np.float32)
    marks = rng.uniform(size=(8, 16)) < 0.6
    res = QGradCAM(model)(x)
    y = res.class_index.copy()
    y[:2] = 1 - y[:2]  # two wrong labels: excluded
    got = background_attention(model, x, y, marks, ("clean", "noisy"))
    ratio = attention_ratio(res.maps, marks)
    ok = (np.arange(8) >= 2) & np.isfinite(ratio)
    noisy, clean = ok & (y == 1), ok & (y == 0)
    assert got["background_attention_n"] == {"noisy": int(noisy.sum()), "clean": int(clean.sum())}
    assert noisy.any() or clean.any(), "the fixture must leave some correct clips"
    # Each class: the mean and median of its correct clips' ratios, or None when it has none.
    for mask, mean_key, median in (
        (noisy, "background_attention", ("background_attention_median", "noisy")),
        (clean, "background_attention_clean", ("background_attention_median", "clean")),
    ):
        if mask.any():
            np.testing.assert_allclose(got[mean_key], ratio[mask].mean(), rtol=1e-5)
            np.testing.assert_allclose(got[median[0]][median[1]], np.median(ratio[mask]), rtol=1e-5)
        else:
            assert got[mean_key] is None and got[median[0]][median[1]] is None


def test_dataset_metrics_by_name():
    """Speech has background attention, the image datasets none; an unknown name is an error."""
    from qgcam_tf.data.registry import dataset_names

    assert dataset_metrics("speech") is speech_metrics
    assert dataset_metrics("mnist") is None and dataset_metrics("dogs-vs-cats") is None
    assert set(DATASET_METRICS) <= set(dataset_names())  # no entry for a misspelt dataset
    with pytest.raises(ValueError, match=r"unknown dataset 'timit'; choose one of \[.*'speech'"):
        dataset_metrics("timit")


def test_speech_metrics_read_the_bundles_test_split():
    """speech_metrics of a bundle equals background_attention of its test arrays and marks;
    a bundle without speech marks is rejected."""
    import tensorflow as tf

    from qgcam_tf.data.registry import DatasetBundle
    from qgcam_tf.data.speech import SpeechBundle

    model = _two_class_model(seed=1)
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(6, 16, 16, 1)).astype(np.float32)
    y = np.array([0, 1, 0, 1, 0, 1])
    marks = rng.uniform(size=(6, 16)) < 0.5
    empty = tf.data.Dataset.from_tensor_slices((x, y)).batch(6)
    common = (empty, empty, (16, 16, 1), ("clean", "noisy"), 6, 6)
    bundle = SpeechBundle(*common, test_arrays=(x, y), test_speech_frames=marks)
    got = speech_metrics(model, bundle, batch_size=4)
    assert got == background_attention(model, x, y, marks, ("clean", "noisy"), batch_size=4)
    with pytest.raises(ValueError, match="test_speech_frames"):
        speech_metrics(model, DatasetBundle(*common, test_arrays=(x, y)))


def test_bootstrap_ci_matches_numpy():
    """bootstrap_ci is the percentile interval of statistics of NumPy resamples (same draws)."""
    values = np.array([0.5, 1.5, 0.9, 2.0, 1.1, 0.7, 3.0])
    for stat in (np.mean, np.median):
        idx = np.random.default_rng(4).integers(0, 7, size=(500, 7))
        stats = np.array([stat(values[row]) for row in idx])
        want = np.quantile(stats, [0.05, 0.95])
        got = bootstrap_ci(values, stat, n_boot=500, level=0.9, seed=4)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    lo, hi = bootstrap_ci(np.full(5, 2.0))
    assert lo == hi == 2.0
    assert np.isnan(bootstrap_ci(np.array([]))).all()
    with pytest.raises(ValueError, match="finite"):
        bootstrap_ci(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(values, level=1.0)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci(values, n_boot=0)


def test_attention_summary_by_hand():
    """attention_summary drops NaNs; mean, median, share above 1 and quartiles as NumPy gives
    them, each interval containing its statistic; no values give None."""
    ratios = np.array([0.5, np.nan, 1.5, 2.5, 0.8, 1.2])
    got = attention_summary(ratios, n_boot=300)
    vals = ratios[np.isfinite(ratios)]
    assert got["n"] == 5
    np.testing.assert_allclose(got["mean"], 1.3, rtol=1e-12)
    np.testing.assert_allclose(got["median"], 1.2, rtol=1e-12)
    np.testing.assert_allclose(got["share_above_1"], 0.6, rtol=1e-12)
    np.testing.assert_allclose(got["quartiles"], np.quantile(vals, [0.25, 0.75]))
    for key in ("mean", "median", "share_above_1"):
        lo, hi = got[f"{key}_ci"]
        assert lo <= got[key] <= hi
    want = bootstrap_ci(vals, np.mean, n_boot=300)
    np.testing.assert_allclose(got["mean_ci"], want)
    empty = attention_summary(np.array([np.nan]))
    assert empty["n"] == 0 and empty["median"] is None and empty["share_above_1_ci"] is None


def test_per_clip_attention_against_numpy():
    """per_clip_attention's ratios are NumPy's mass-on-background / share of the maps of the
    class it explains (predicted, true or one fixed class); attention_by_class keeps correct
    clips of each class only."""
    from qgcam_tf.explain.qgradcam import QGradCAM

    model = _two_class_model(seed=2)
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(6, 16, 16, 1)).astype(np.float32)
    marks = np.zeros((6, 16), bool)
    marks[:, 3:9] = True  # 10 of 16 frames are background
    labels = np.array([0, 1, 0, 1, 0, 1])
    for explain, class_index in (("predicted", None), ("true", labels), (1, 1)):
        got = per_clip_attention(model, x, labels, marks, explain=explain, batch_size=4)
        maps = QGradCAM(model)(x, class_index).maps.astype(np.float64)
        total = maps.sum(axis=(1, 2))
        background = maps[:, :, ~marks[0]].sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            want = np.where(total > 0, background / total / (10 / 16), np.nan)
        np.testing.assert_allclose(got["ratio"], want, rtol=1e-5)
        np.testing.assert_array_equal(got["empty"], total == 0)
        np.testing.assert_allclose(got["background_share"], 10 / 16)
        assert np.array_equal(got["correct"], got["predicted"] == labels)
    by_class = attention_by_class(got, ("clean", "noisy"), n_boot=50)
    for name, cls in (("noisy", 1), ("clean", 0)):
        mask = got["correct"] & (labels == cls)
        assert by_class[name]["n_correct"] == int(mask.sum())
        vals = got["ratio"][mask & np.isfinite(got["ratio"])]
        assert by_class[name]["n"] == vals.size
        if vals.size:
            np.testing.assert_allclose(by_class[name]["median"], np.median(vals))
    with pytest.raises(ValueError, match="explain must be"):
        per_clip_attention(model, x, labels, marks, explain="loudest")


def test_mask_ratio_by_hand():
    """mask_ratio = (mass in the mask / total) / (mask share), NaN for an empty or full mask
    or a zero map; it equals attention_ratio when the mask is whole non-speech frames."""
    maps = np.zeros((4, 2, 4))
    maps[0] = [[1, 0, 0, 0], [1, 0, 0, 2]]  # total 4
    mask = np.zeros((4, 2, 4), bool)
    mask[0, :, 0] = True  # 2 of 8 cells, mass 2
    mask[1] = True
    maps[1] = 1.0
    mask[2, 0, 0] = True  # zero map
    maps[3] = np.arange(8).reshape(2, 4)
    got = mask_ratio(maps, mask)
    np.testing.assert_allclose(got[0], (2 / 4) / (2 / 8))
    assert np.isnan(got[1:]).all()  # full mask, zero map, empty mask
    rng = np.random.default_rng(0)
    m = rng.uniform(size=(5, 3, 6))
    speech = rng.uniform(size=(5, 6)) < 0.5
    speech[:, 0], speech[:, 1] = True, False
    frames = np.broadcast_to(~speech[:, None, :], m.shape)
    np.testing.assert_allclose(mask_ratio(m, frames), attention_ratio(m, speech), rtol=1e-12)
    with pytest.raises(ValueError, match="one shape"):
        mask_ratio(m, frames[:, :2])


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
