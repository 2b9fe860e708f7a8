"""Tests of qgcam_tf.evaluate.attention: the background-attention ratio by hand and over a model."""

import sys

import numpy as np
import pytest

from qgcam_tf.evaluate.attention import attention_ratio, background_attention


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
    import tensorflow as tf

    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.model.hybrid import build_hybrid_model
    from qgcam_tf.quantum.circuits import VQCSpec

    tf.keras.utils.set_random_seed(0)
    model = build_hybrid_model(
        (16, 16, 1),
        2,
        vqc=VQCSpec(n_qubits=2, depth=1, n_outputs=2),
        backend="tf",
        conv_filters=(4, 4),
    )
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
    if noisy.any():
        np.testing.assert_allclose(got["background_attention"], ratio[noisy].mean(), rtol=1e-5)
        np.testing.assert_allclose(
            got["background_attention_median"]["noisy"], np.median(ratio[noisy]), rtol=1e-5
        )
    if clean.any():
        np.testing.assert_allclose(
            got["background_attention_clean"], ratio[clean].mean(), rtol=1e-5
        )


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
