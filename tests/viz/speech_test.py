"""Tests of qgcam_tf.viz.speech: paper Figs. 6-7, spectrograms with their maps and speech band."""

import sys
import types

import matplotlib.image
import numpy as np
import pytest

from qgcam_tf.viz import speech as viz_speech


def test_speech_figure_png_and_shape_errors(tmp_path):
    """Figs. 6-7 are written as a PNG; mismatched maps or marks are rejected."""
    import matplotlib.image

    from qgcam_tf.viz.speech import save_speech_figure

    rng = np.random.default_rng(0)
    spec, maps = rng.uniform(size=(2, 64, 64, 1)), rng.uniform(size=(2, 64, 64))
    marks = rng.uniform(size=(2, 64)) < 0.5
    path = save_speech_figure(spec, maps, marks, str(tmp_path / "fig.png"), titles=["a", "b"])
    assert matplotlib.image.imread(path).shape[0] > 100
    with pytest.raises(ValueError, match="speech"):
        save_speech_figure(spec, maps, marks[:, :10], str(tmp_path / "bad.png"))


def test_explain_speech_figures_titles_and_marks(tmp_path, monkeypatch):
    """The `qgcam explain` figure gets one row per clip (at most max_clips), titled with the
    label and the prediction, and the speech band recovered from each image."""
    from qgcam_tf.data import speech as data_speech

    seen = {}

    def recording_figure(spectrograms, maps, speech, path, *, titles=None, **kwargs):
        seen.update(n=len(spectrograms), titles=titles, speech=speech)
        return path

    monkeypatch.setattr(viz_speech, "save_speech_figure", recording_figure)
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(4, 8, 6, 1))
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    result = types.SimpleNamespace(
        maps=rng.uniform(size=(4, 8, 6)), probabilities=probs, scores=probs
    )
    meta = {"class_names": ["clean", "noisy"]}
    out = viz_speech.explain_speech_figures(
        str(tmp_path), images, None, result, meta, [0, 0, 1, 1], max_clips=3
    )
    assert out == [str(tmp_path / "speech_qgradcam.png")] and seen["n"] == 3
    assert seen["titles"] == [
        "clean, pred clean (0.90)",
        "clean, pred noisy (0.80)",
        "noisy, pred clean (0.60)",
    ]
    np.testing.assert_array_equal(seen["speech"], data_speech.speech_frames_from_images(images[:3]))


def test_figure_of_the_test_split(tmp_path):
    """Figs. 6-7 from a speech bundle: a readable PNG of correctly classified clips; a bundle
    without speech marks raises ValueError."""
    import tensorflow as tf

    from qgcam_tf.data.registry import DatasetBundle
    from qgcam_tf.data.speech import SpeechBundle
    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.model.hybrid import build_hybrid_model
    from qgcam_tf.quantum.circuits import VQCSpec

    tf.keras.utils.set_random_seed(0)
    model = build_hybrid_model(
        (16, 16, 1), 2, vqc=VQCSpec(2, 1, 2), backend="tf", conv_filters=(4, 4)
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(6, 16, 16, 1)).astype(np.float32)
    y = QGradCAM(model)(x).class_index  # every clip correctly classified
    marks = np.zeros((6, 16), bool)
    marks[:, 4:10] = True  # 10 of 16 frames are background
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(6)
    common = (ds, ds, (16, 16, 1), ("clean", "noisy"), 6, 6)
    bundle = SpeechBundle(*common, test_arrays=(x, y), test_speech_frames=marks)
    path = viz_speech.test_split_figure(model, bundle, str(tmp_path / "fig.png"), dpi=40)
    assert matplotlib.image.imread(path).ndim == 3
    with pytest.raises(ValueError, match="speech marks"):
        viz_speech.test_split_figure(model, DatasetBundle(*common, test_arrays=(x, y)), "x.png")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
