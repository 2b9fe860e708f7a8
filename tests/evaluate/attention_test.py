"""Tests of qgcam_tf.evaluate.attention: the background-attention ratio by hand and over a model."""

import sys

import numpy as np
import pytest

from qgcam_tf.evaluate.attention import (
    DATASET_METRICS,
    attention_ratio,
    background_attention,
    dataset_metrics,
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


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
