"""Tests for qgcam_tf.model.predict: the predictions CSV against the model called directly."""

import csv
import io
import os
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.model.hybrid import build_hybrid_model
from qgcam_tf.model.predict import check_finite_outputs, predictions_csv, write_predictions
from qgcam_tf.model.recalibrate import recalibrate_batchnorm
from qgcam_tf.model.run import Run, load_model, save_model
from qgcam_tf.quantum.circuits import VQCSpec

NAMES = ["cat", "dog", "owl"]


def tiny_run(path, *, class_names) -> str:
    """An 8x8, 3-class hybrid saved as a run; BatchNorm statistics from random images, so
    different inputs get clearly different probabilities."""
    keras.utils.set_random_seed(1)
    model = build_hybrid_model((8, 8, 1), 3, vqc=VQCSpec(3, 1, 3), backend="tf", conv_filters=(4,))
    calibration = np.random.default_rng(2).uniform(size=(64, 8, 8, 1)).astype(np.float32)
    recalibrate_batchnorm(model, tf.data.Dataset.from_tensor_slices(calibration).batch(32))
    metadata = {"dataset": "mnist", "input_shape": [8, 8, 1]}
    if class_names:
        metadata["class_names"] = class_names
    save_model(model, str(path), metadata=metadata)
    return str(path)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """The tiny run with class names."""
    return tiny_run(tmp_path_factory.mktemp("run"), class_names=NAMES)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A .npy batch of 4 images and a .npy holding one image [H, W, C]; paths and images."""
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(5)
    x = rng.uniform(size=(5, 8, 8, 1)).astype(np.float32)
    x[4] *= 0.1  # a dark image, far from the others
    np.save(folder / "four.npy", x[:4])
    np.save(folder / "one.npy", x[4])
    return [str(folder / "four.npy"), str(folder / "one.npy")], x


def parse(text: str):
    """(header, rows as lists) of a CSV text."""
    table = list(csv.reader(io.StringIO(text)))
    return table[0], table[1:]


def test_rows_hold_the_models_probabilities_in_input_order(run_dir, inputs):
    """Header, sources in order, argmax class and its name, probabilities = model.predict,
    and fit "none" for arrays (never resized)."""
    paths, x = inputs
    text, rows = predictions_csv(Run.open(run_dir), paths)
    header, table = parse(text)
    assert header == ["source", "class_index", "class_name", "p_cat", "p_dog", "p_owl", "fit"]
    assert rows == len(table) == 5
    assert [r[0] for r in table] == [f"{paths[0]}[{i}]" for i in range(4)] + [paths[1]]
    reference = load_model(run_dir, backend="tf").predict(x, verbose=0)
    apart = np.abs(reference[:, None] - reference[None]).max(-1) + np.eye(5)
    assert apart.min() > 1e-3  # a row paired with another input would be seen
    probs = np.array([[float(v) for v in r[3:-1]] for r in table])
    assert [r[-1] for r in table] == ["none"] * 5
    np.testing.assert_allclose(probs, reference, atol=1e-5)
    for r, p in zip(table, reference, strict=True):
        assert (int(r[1]), r[2]) == (int(np.argmax(p)), NAMES[int(np.argmax(p))])
        assert all(len(v.split(".")[1]) == 6 for v in r[3:-1])  # six decimals


def test_batch_size_does_not_change_the_rows(run_dir, inputs):
    """One input per model call gives the same table as one call for all."""
    paths, _ = inputs
    one, _ = predictions_csv(Run.open(run_dir), paths, batch_size=1)
    all_, _ = predictions_csv(Run.open(run_dir), paths, batch_size=64)
    a = np.array([[float(v) for v in r[3:-1]] for r in parse(one)[1]])
    b = np.array([[float(v) for v in r[3:-1]] for r in parse(all_)[1]])
    np.testing.assert_allclose(a, b, atol=2e-6)  # the last printed digit may round apart
    assert [r[:2] for r in parse(one)[1]] == [r[:2] for r in parse(all_)[1]]


def test_a_run_without_class_names_names_classes_by_index(tmp_path, inputs):
    """Without recorded names the columns are p_0.. and class_name is the index."""
    paths, _ = inputs
    text, _ = predictions_csv(Run.open(tiny_run(tmp_path / "r", class_names=None)), paths[1:])
    header, table = parse(text)
    assert header[3:] == ["p_0", "p_1", "p_2", "fit"]
    assert table[0][2] == table[0][1]


def test_check_finite_outputs_names_the_first_bad_rows():
    """Rows holding NaN or inf anywhere are named (at most three, then a count); a finite
    array passes."""
    outputs = np.zeros((6, 2, 2), np.float32)
    check_finite_outputs("run", outputs, list("abcdef"))
    outputs[1, 0, 1], outputs[3, 1, 1], outputs[4, 0, 0], outputs[5, 1, 0] = (
        np.nan,
        np.inf,
        -np.inf,
        np.nan,
    )
    message = r"model of 'run' gives NaN or infinite outputs for 'b', 'd', 'e' and 1 more"
    with pytest.raises(ValueError, match=message):
        check_finite_outputs("run", outputs, list("abcdef"))


def test_nan_weights_are_one_error_and_no_csv(run_dir, inputs, tmp_path):
    """A run whose weights are NaN is refused with one ValueError naming the run, and no
    CSV is written (it wrote NaN probabilities before)."""
    model = load_model(run_dir)
    model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])
    nan_run = str(tmp_path / "nan-run")
    save_model(model, nan_run, metadata=Run.open(run_dir).metadata)
    out = tmp_path / "p.csv"
    with pytest.raises(ValueError, match=r"nan-run' gives NaN or infinite outputs for '.*four"):
        write_predictions(nan_run, inputs[0], str(out))
    assert not out.exists()


def test_no_inputs_is_an_error(run_dir):
    """An empty list of files is a ValueError, not an empty table."""
    with pytest.raises(ValueError, match="no input files given"):
        predictions_csv(Run.open(run_dir), [])


def test_write_predictions_to_a_file_atomically_with_umask_modes(run_dir, inputs, tmp_path):
    """The CSV lands whole at `out`, mode 0666 & ~umask, with no temporary file left."""
    paths, _ = inputs
    out = tmp_path / "preds" / "p.csv"
    old = os.umask(0o027)
    try:
        rows = write_predictions(run_dir, paths, str(out))
    finally:
        os.umask(old)
    assert rows == 5
    assert out.read_bytes().decode() == predictions_csv(Run.open(run_dir), paths)[0]
    assert out.stat().st_mode & 0o777 == 0o666 & ~0o027
    assert os.listdir(out.parent) == ["p.csv"]


def test_a_failed_write_keeps_the_old_file(run_dir, inputs, tmp_path):
    """A missing input raises before anything is written: the old CSV stays, no temp files."""
    paths, _ = inputs
    out = tmp_path / "p.csv"
    out.write_text("old")
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        write_predictions(run_dir, [paths[0], str(tmp_path / "missing.npy")], str(out))
    assert out.read_text() == "old" and os.listdir(tmp_path) == ["p.csv"]


def test_write_predictions_to_stdout(run_dir, inputs, capsys):
    """Without `out` the CSV goes to stdout, nothing else, and the rows are counted."""
    paths, _ = inputs
    assert write_predictions(run_dir, paths, backend="tf") == 5
    assert capsys.readouterr().out == predictions_csv(Run.open(run_dir), paths)[0]


def test_a_picture_is_fitted_as_asked_and_the_fit_recorded(run_dir, tmp_path):
    """A 4x8 PNG under fit="crop" is predicted as its centre 4x4 stretched to 8x8 (warned as
    centre-cropped); the fit column says crop for it and none for an array."""
    from PIL import Image

    from qgcam_tf.data.checks import InputWarning

    pixels = np.random.default_rng(6).integers(0, 256, size=(8, 16), dtype=np.uint8)
    wide = str(tmp_path / "wide.png")
    Image.fromarray(pixels, mode="L").save(wide)
    array = str(tmp_path / "a.npy")
    np.save(array, np.random.default_rng(7).uniform(size=(8, 8, 1)).astype(np.float32))
    with pytest.warns(InputWarning, match=r"wide.png: aspect ratio 2.00 .*centre-cropped"):
        text, _ = predictions_csv(Run.open(run_dir), [wide, array], fit="crop")
    header, table = parse(text)
    assert [r[-1] for r in table] == ["crop", "none"]
    centre = (pixels[:, 4:12] / 255.0).astype(np.float32)[None, :, :, None]
    reference = load_model(run_dir, backend="tf").predict(centre, verbose=0)[0]
    np.testing.assert_allclose([float(v) for v in table[0][3:-1]], reference, atol=1e-5)
    with pytest.raises(ValueError, match="fit must be one of stretch, pad, crop, got 'zoom'"):
        predictions_csv(Run.open(run_dir), [wide], fit="zoom")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
