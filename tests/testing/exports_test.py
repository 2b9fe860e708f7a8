"""qgcam_tf.testing.exports: the tiny run and export are made once and reused, the export
holds no TFQ op, and the sample images have the structure their docstring promises."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import op_def_registry

from qgcam_tf.model.run import MODEL_CONFIG, MODEL_WEIGHTS, load_model, read_metadata
from qgcam_tf.serving.export import read_export_metadata, saved_model_ops
from qgcam_tf.testing.exports import (
    CLASS_NAMES,
    INPUT_SHAPE,
    TinyExport,
    sample_images,
    tiny_export,
    tiny_run,
)


def _stamps(*paths) -> list[tuple[int, int]]:
    """(inode, mtime in ns) of each path: they change if a file is written again."""
    return [(os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in paths]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The session's tiny export, as other test files get it."""
    return tiny_export(tmp_path_factory.getbasetemp())


def test_sample_images_are_seeded_blobs_on_a_dim_background():
    """Each image is float32 8x8x1 with exactly one 3x3 square >= 0.8 and the rest <= 0.2;
    the same seed gives the same images, another seed others."""
    images = sample_images(6, seed=3)
    assert images.shape == (6, *INPUT_SHAPE) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    for image in images[..., 0]:
        rows, cols = np.nonzero(image >= 0.8)
        assert len(rows) == 9 and np.ptp(rows) == 2 and np.ptp(cols) == 2
        square = np.zeros_like(image, bool)
        square[rows.min() : rows.min() + 3, cols.min() : cols.min() + 3] = True
        assert np.all(image[~square] <= 0.2)
    np.testing.assert_array_equal(sample_images(6, seed=3), images)
    assert not np.array_equal(sample_images(6, seed=4), images)


def test_tiny_run_is_written_once_and_loads(tmp_path):
    """tiny_run writes a loadable run (3 classes, 8x8x1, the set BN statistics) once; a
    second call rewrites nothing."""
    run_dir = tiny_run(tmp_path)
    files = [os.path.join(run_dir, MODEL_CONFIG), os.path.join(run_dir, MODEL_WEIGHTS)]
    before = _stamps(*files)
    assert tiny_run(tmp_path) == run_dir and _stamps(*files) == before
    assert read_metadata(run_dir)["class_names"] == CLASS_NAMES
    model = load_model(run_dir, backend="tf")
    assert model.input_shape == (None, *INPUT_SHAPE) and model.output_shape == (None, 3)
    bn = model.get_layer("bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(), np.linspace(-0.1, 0.1, 6), atol=1e-7)
    np.testing.assert_allclose(bn.moving_variance.numpy(), np.linspace(0.01, 0.05, 6), atol=1e-7)


def test_tiny_export_is_reused(shared, tmp_path_factory):
    """A second call with the same base returns the same paths and writes nothing again."""
    base = str(tmp_path_factory.getbasetemp())
    assert shared == TinyExport(
        os.path.join(base, "tiny-run"),
        os.path.join(base, "tiny-export"),
        os.path.join(base, "tiny-export", "1"),
    )
    pb = os.path.join(shared.version_dir, "saved_model.pb")
    before = _stamps(pb, shared.run_dir)
    assert tiny_export(base) == shared and _stamps(pb, shared.run_dir) == before
    assert os.listdir(shared.export_dir) == ["1"]


def test_tiny_export_holds_no_tfq_op_and_matches_its_run(shared):
    """Every op of the export is registered in TensorFlow and none is TFQ's; it loads and
    serves the run's probabilities, and its metadata names the classes and QGrad-CAM."""
    ops = saved_model_ops(shared.version_dir)
    assert ops and not [op for op in ops if op.startswith("Tfq")]
    assert [op for op in ops if op_def_registry.get(op) is None] == []
    meta = read_export_metadata(shared.version_dir)
    assert meta["class_names"] == CLASS_NAMES and meta["method"] == "qgradcam"
    images = sample_images(3)
    served = (
        tf.saved_model.load(shared.version_dir)
        .signatures["serving_default"](images=tf.constant(images))["probabilities"]
        .numpy()
    )
    expected = load_model(shared.run_dir, backend="tfq").predict(images, verbose=0)
    np.testing.assert_allclose(served, expected, atol=1e-5)


def test_tiny_export_raises_when_the_export_fails(tmp_path):
    """If `qgcam export` fails (here: its --out is a file), tiny_export raises at once
    instead of returning paths to a missing export."""
    (tmp_path / "tiny-export").write_text("not a directory")
    with pytest.raises(RuntimeError, match="`qgcam export --model .*tiny-run --out .*` failed"):
        tiny_export(tmp_path)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
