"""Tests of qgcam_tf.viz.photos: paper Fig. 5, each photo with the map of every class."""

import sys
import types

import matplotlib.image
import numpy as np
import pytest

from qgcam_tf.viz import photos
from qgcam_tf.viz.photos import class_maps, explain_photo_figures


class RecordingCAM:
    """A stand-in CAM: the map of class c is filled with c + 1 (scaled), and every call is
    recorded."""

    def __init__(self, n_classes):
        self.calls, self.n_classes = [], n_classes

    def __call__(self, images, class_index=None):
        self.calls.append(class_index)
        b, h, w = images.shape[:3]
        probs = np.tile(np.linspace(1, 2, self.n_classes) / 3.0, (b, 1))
        maps = np.full((b, h, w), (class_index + 1) / (self.n_classes + 1))
        return types.SimpleNamespace(maps=maps, probabilities=probs)


def test_photo_figure_png_and_shape_errors(tmp_path):
    """Fig. 5 is written as a PNG with one overlay per class; mismatched maps are rejected."""
    import matplotlib.image

    from qgcam_tf.viz.photos import save_photo_figure

    rng = np.random.default_rng(0)
    images, maps = rng.uniform(size=(2, 16, 16, 3)), rng.uniform(size=(2, 2, 16, 16))
    path = save_photo_figure(
        images,
        maps,
        ("cat", "dog"),
        str(tmp_path / "fig.png"),
        probabilities=np.array([[0.7, 0.3], [0.2, 0.8]]),
        labels=[0, 1],
    )
    assert matplotlib.image.imread(path).shape[0] > 100
    with pytest.raises(ValueError, match="maps"):
        save_photo_figure(images, maps[:1], ("cat", "dog"), str(tmp_path / "bad.png"))


def test_class_maps_stacks_one_call_per_class():
    """class_maps asks the CAM for each class in order and stacks its maps [C, B, H, W]."""
    cam = RecordingCAM(3)
    images = np.zeros((2, 4, 5, 3))
    maps, probs = class_maps(cam, images, 3)
    assert cam.calls == [0, 1, 2]
    np.testing.assert_allclose(maps[:, 0, 0, 0], [0.25, 0.5, 0.75])
    assert maps.shape == (3, 2, 4, 5)
    np.testing.assert_allclose(probs, np.tile([1 / 3, 0.5, 2 / 3], (2, 1)))


def test_explain_photo_figures_caps_the_rows(tmp_path):
    """The `qgcam explain` figure draws at most max_photos rows and writes photos_qgradcam.png."""
    images = np.random.default_rng(0).uniform(size=(5, 16, 16, 3))
    cam = RecordingCAM(2)
    meta = {"class_names": ["cat", "dog"]}
    few = explain_photo_figures(str(tmp_path / "a"), images, cam, None, meta, max_photos=2)
    many = explain_photo_figures(str(tmp_path / "b"), images, cam, None, meta, [0, 1, 0, 1, 0])
    assert few == [str(tmp_path / "a" / "photos_qgradcam.png")]
    rows2 = matplotlib.image.imread(few[0]).shape[0]
    rows5 = matplotlib.image.imread(many[0]).shape[0]
    assert 2.0 < rows5 / rows2 < 3.0  # 5 rows against 2


def test_explain_photo_figure_is_named_after_the_method(tmp_path):
    """`qgcam explain --method integrated` writes photos_integrated.png, not a QGrad-CAM name;
    each registered method's key names its file."""
    import tf_keras as keras

    from qgcam_tf.explain.cams import CAM_METHODS, make_cam, method_name
    from qgcam_tf.model.hybrid import build_classical_twin

    keras.utils.set_random_seed(0)
    model = build_classical_twin((16, 16, 3), 2, conv_filters=(4, 4))
    images = np.random.default_rng(1).uniform(size=(2, 16, 16, 3)).astype(np.float32)
    cam = make_cam("integrated", model)
    meta = {"class_names": ["cat", "dog"]}
    paths = explain_photo_figures(str(tmp_path), images, cam, None, meta)
    assert paths == [str(tmp_path / "photos_integrated.png")]
    assert matplotlib.image.imread(paths[0]).ndim == 3
    for name in CAM_METHODS:
        assert method_name(make_cam(name, model)) == name
    assert method_name(None) == "qgradcam"


def test_figure_of_the_test_split(tmp_path):
    """Fig. 5 from a bundle's test split: a readable PNG; without test arrays, ValueError."""
    import tensorflow as tf
    import tf_keras as keras

    from qgcam_tf.data.registry import DatasetBundle
    from qgcam_tf.model.hybrid import build_classical_twin

    keras.utils.set_random_seed(0)
    model = build_classical_twin((16, 16, 3), 2, conv_filters=(4, 4))
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(6, 16, 16, 3)).astype(np.float32)
    y = np.array([0, 1, 0, 1, 0, 1])
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(6)
    bundle = DatasetBundle(ds, ds, (16, 16, 3), ("cat", "dog"), 6, 6, test_arrays=(x, y))
    path = photos.test_split_figure(model, bundle, str(tmp_path / "fig.png"), per_class=1, dpi=40)
    assert matplotlib.image.imread(path).ndim == 3
    # two methods side by side: each column holds that method's own maps of those photos
    from qgcam_tf.explain.cams import IntegratedQGradCAM
    from qgcam_tf.explain.qgradcam import QGradCAM

    methods = ("qgradcam", "integrated")
    picked, maps, probs = photos.split_figure_maps(model, bundle, per_class=2, methods=methods)
    assert sorted(y[picked].tolist()) == [0, 0, 1, 1]
    for m, cam in enumerate((QGradCAM(model), IntegratedQGradCAM(model))):
        for c in (0, 1):
            np.testing.assert_allclose(maps[m, c], cam(x[picked], class_index=c).maps, atol=1e-6)
    np.testing.assert_allclose(probs, model(x[picked]).numpy(), atol=1e-6)
    wide = photos.test_split_figure(
        model, bundle, str(tmp_path / "wide.png"), per_class=1, dpi=40, methods=methods
    )
    ratio = matplotlib.image.imread(wide).shape[1] / matplotlib.image.imread(path).shape[1]
    assert 1.5 < ratio < 1.8  # 5 columns against 3
    bundle.test_arrays = None
    with pytest.raises(ValueError, match="no test arrays"):
        photos.test_split_figure(model, bundle, str(tmp_path / "none.png"))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
