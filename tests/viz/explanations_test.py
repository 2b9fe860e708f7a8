"""Tests for qgcam_tf.viz.explanations: what `qgcam explain` writes, each row with its source."""

import os
import sys

import numpy as np
import pytest
import tf_keras as keras

from qgcam_tf.explain.cams import make_cam
from qgcam_tf.model.hybrid import build_hybrid_model
from qgcam_tf.model.run import save_model
from qgcam_tf.quantum.circuits import VQCSpec
from qgcam_tf.viz.explanations import write_explanations


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """An untrained 8x8 hybrid saved as an MNIST-style run with three classes."""
    keras.utils.set_random_seed(5)
    model = build_hybrid_model((8, 8, 1), 3, vqc=VQCSpec(3, 1, 3), backend="tf", conv_filters=(4,))
    path = str(tmp_path_factory.mktemp("run"))
    meta = {"dataset": "mnist", "input_shape": [8, 8, 1], "class_names": ["a", "b", "c"]}
    save_model(model, path, metadata=meta)
    return path, model


def test_every_input_row_is_written_beside_its_source(tiny_run, tmp_path):
    """A .npy batch and two files of one name give 4 rows, 4 overlays, maps equal to the CAM."""
    run_dir, model = tiny_run
    rng = np.random.default_rng(0)
    batch = rng.uniform(size=(2, 8, 8, 1)).astype(np.float32)
    single = rng.uniform(size=(2, 1, 8, 8, 1)).astype(np.float32)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    paths = [str(tmp_path / "pair.npy"), str(tmp_path / "a/x.npy"), str(tmp_path / "b/x.npy")]
    np.save(paths[0], batch)
    np.save(paths[1], single[0])
    np.save(paths[2], single[1])
    out = tmp_path / "out"
    written = write_explanations(
        run_dir, str(out), paths=paths, method="gradcam++", class_index=2, log=lambda m: None
    )
    names = sorted(os.path.basename(p) for p in written)
    assert names == sorted(
        [
            "gradcam++_grid.png",
            "pair_0_gradcam++.png",
            "pair_1_gradcam++.png",
            "x_gradcam++.png",
            "x-2_gradcam++.png",
            "maps.npz",
        ]
    )
    data = np.load(out / "maps.npz")
    assert data["sources"].tolist() == [f"{paths[0]}[0]", f"{paths[0]}[1]", paths[1], paths[2]]
    assert str(data["method"]) == "gradcam++"
    images = np.concatenate([batch, single[0], single[1]])
    expected = make_cam("gradcam++", model)(images, class_index=2)
    np.testing.assert_allclose(data["maps"], expected.maps, atol=1e-5)
    assert data["class_index"].tolist() == [2, 2, 2, 2]
    assert data["labels"].tolist() == [-1, -1, -1, -1]
    for name in names:
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_a_bad_method_or_class_is_one_clear_error(tiny_run, tmp_path):
    """An unknown method or an out-of-range class index names itself; nothing is written."""
    run_dir, _ = tiny_run
    path = tmp_path / "one.npy"
    np.save(path, np.zeros((1, 8, 8, 1), np.float32))
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="nope"):
        write_explanations(run_dir, str(out), paths=[str(path)], method="nope", log=print)
    with pytest.raises(ValueError, match=r"class_index must be in \[0, 3\)"):
        write_explanations(run_dir, str(out), paths=[str(path)], class_index=3, log=print)
    assert not out.exists()


def test_nan_weights_are_one_error_and_nothing_is_written(tiny_run, tmp_path):
    """A model with NaN weights gives NaN probabilities and maps: one ValueError naming the
    run, and no output folder (it wrote NaN maps before)."""
    from qgcam_tf.model.run import load_model

    nan_model = load_model(tiny_run[0])
    nan_model.set_weights([np.full_like(w, np.nan) for w in nan_model.get_weights()])
    nan_run = str(tmp_path / "nan-run")
    meta = {"dataset": "mnist", "input_shape": [8, 8, 1], "class_names": ["a", "b", "c"]}
    save_model(nan_model, nan_run, metadata=meta)
    path = tmp_path / "one.npy"
    np.save(path, np.random.default_rng(0).uniform(size=(1, 8, 8, 1)).astype(np.float32))
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"nan-run' gives NaN or infinite outputs for '.*one"):
        write_explanations(nan_run, str(out), paths=[str(path)], log=lambda line: None)
    assert not out.exists()


def test_every_cam_method_has_a_figure_title():
    """Figures name every method of the CAM family (not its CLI key)."""
    from qgcam_tf.explain import METHOD_NAMES
    from qgcam_tf.viz.explanations import METHOD_TITLES

    assert sorted(METHOD_TITLES) == sorted(METHOD_NAMES)


def test_constant_rows_warn_get_zero_maps_and_fits_are_recorded(tiny_run, tmp_path):
    """A white .npy row warns and gets a zero map (Score-CAM's own map of it is not); a
    1:2 PNG under fit="pad" is explained as the picture between black bars, recorded as pad."""
    from PIL import Image

    from qgcam_tf.data.checks import InputWarning

    run_dir, model = tiny_run
    white = str(tmp_path / "white.npy")
    np.save(white, np.ones((8, 8, 1), np.float32))
    pixels = np.random.default_rng(1).integers(0, 256, size=(8, 4), dtype=np.uint8)
    tall = str(tmp_path / "tall.png")
    Image.fromarray(pixels, mode="L").save(tall)
    out = tmp_path / "out"
    with pytest.warns(InputWarning) as caught:
        write_explanations(
            run_dir, str(out), paths=[white, tall], fit="pad", method="scorecam", log=print
        )
    messages = [str(w.message) for w in caught]
    assert messages[0].startswith(f"{tall}: aspect ratio 0.50 (4x8)")
    assert messages[1].startswith(f"{white}: constant input (every value 1.000)")
    data = np.load(out / "maps.npz")
    assert data["fit"].tolist() == ["none", "pad"]
    assert data["constant"].tolist() == [True, False]
    padded = np.zeros((8, 8, 1), np.float32)
    padded[:, 2:6, 0] = pixels / 255.0
    images = np.stack([np.ones((8, 8, 1), np.float32), padded])
    expected = make_cam("scorecam", model)(images)
    assert np.ptp(expected.maps[0]) > 0.1  # what the CAM itself makes of a blank input
    np.testing.assert_array_equal(data["maps"][0], 0.0)
    np.testing.assert_allclose(data["maps"][1], expected.maps[1], atol=1e-5)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
