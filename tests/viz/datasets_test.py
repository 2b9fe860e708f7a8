"""Tests of qgcam_tf.viz.datasets: the figures ``qgcam explain`` adds, by dataset name."""

import sys

import matplotlib.image
import numpy as np
import pytest

from qgcam_tf.data.registry import dataset_names
from qgcam_tf.viz.datasets import (
    EXPLAIN_FIGURES,
    TEST_SPLIT_FIGURES,
    explain_figures,
    split_figures,
)
from qgcam_tf.viz.digits import digit_test_figures
from qgcam_tf.viz.photos import explain_photo_figures
from qgcam_tf.viz.speech import explain_speech_figures


def test_figures_by_dataset_name():
    """Photos get Fig. 5, speech Figs. 6-7, MNIST nothing; an unknown name is an error."""
    assert explain_figures("dogs-vs-cats") is explain_photo_figures
    assert explain_figures("speech") is explain_speech_figures
    assert explain_figures("mnist") is None
    assert set(EXPLAIN_FIGURES) <= set(dataset_names())  # no entry for a misspelt dataset
    with pytest.raises(
        ValueError, match=r"unknown dataset 'dogs_vs_cats'; choose one of \[.*'dogs-vs-cats'"
    ):
        explain_figures("dogs_vs_cats")


def test_whole_split_figures_by_dataset_name():
    """MNIST gets the digit figures drawn from its whole test split, photos and speech none;
    an unknown name is an error."""
    assert split_figures("mnist") is digit_test_figures
    assert split_figures("speech") is None and split_figures("dogs-vs-cats") is None
    assert set(TEST_SPLIT_FIGURES) <= set(dataset_names())
    with pytest.raises(ValueError, match=r"unknown dataset 'digits'"):
        split_figures("digits")


def test_speech_figure_function_writes_a_readable_png(tmp_path):
    """The speech entry, called as `qgcam explain` calls it, writes one readable PNG."""
    import tf_keras as keras

    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.model.hybrid import build_hybrid_model
    from qgcam_tf.quantum.circuits import VQCSpec

    keras.utils.set_random_seed(2)
    model = build_hybrid_model(
        (16, 16, 1), 2, vqc=VQCSpec(2, 1, 2), backend="tf", conv_filters=(4, 4)
    )
    images = np.random.default_rng(2).uniform(size=(3, 16, 16, 1)).astype(np.float32)
    cam = QGradCAM(model)
    result = cam(images)
    metadata = {"class_names": ["clean", "noisy"]}
    paths = explain_figures("speech")(str(tmp_path), images, cam, result, metadata, [0, 1, 0])
    assert paths == [str(tmp_path / "speech_qgradcam.png")]
    pixels = matplotlib.image.imread(paths[0])
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and np.ptp(pixels) > 0


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
