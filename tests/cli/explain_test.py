"""Tests for qgcam_tf.cli.explain: `qgcam explain` writes overlays, a grid and raw maps."""

import os
import sys

import numpy as np
import pytest

from qgcam_tf.cli.main import main
from qgcam_tf.explain.cams import make_cam
from qgcam_tf.model.run import load_model


def test_explain_writes_grid_and_maps(run_dir, digit_files, tmp_path):
    """explain --dataset writes the Fig. 4 grid and maps.npz with one map per digit, and the
    digit figures of the whole test split: each digit shown as correct is labelled and
    predicted as its class, each shown as misclassified is predicted otherwise (by the run's
    model on the 10 000 test digits)."""
    from qgcam_tf.data.mnist import load_mnist

    out = tmp_path / "explain"
    argv = ["explain", "--model", run_dir, "--dataset", "mnist", "--count", "10"]
    assert main([*argv, "--out", str(out)]) == 0
    data = np.load(out / "maps.npz")
    assert sorted(data["labels"]) == list(range(10))  # one example per digit
    assert (
        data["maps"].shape == (10, 28, 28) and 0 <= data["maps"].min() and data["maps"].max() <= 1
    )
    for name in (
        "qgradcam_grid.png",
        "qgradcam_digits_per_class.png",
        "qgradcam_misclassified.png",
    ):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    digits = np.load(out / "digits.npz")
    _, (x, y) = load_mnist()
    predicted = load_model(run_dir).predict(x, batch_size=512, verbose=0).argmax(axis=1)
    shown = digits["correct_index"][digits["correct_index"] >= 0]
    assert len(shown) >= 1
    np.testing.assert_array_equal(y[shown], predicted[shown])
    wrong = digits["wrong_index"]
    assert len(wrong) == 10 and np.all(predicted[wrong] != y[wrong])
    paths, _ = digit_files
    argv = ["explain", "--model", run_dir, "--images", paths[0], "--class-index", "3"]
    assert main([*argv, "--out", str(out)]) == 0
    assert np.load(out / "maps.npz")["class_index"].tolist() == [3]
    assert os.path.exists(out / "digit0_qgradcam.png")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Three images in one .npy file, and the images."""
    x = np.random.default_rng(3).uniform(size=(3, 28, 28, 1)).astype(np.float32)
    path = tmp_path_factory.mktemp("inputs") / "batch.npy"
    np.save(path, x)
    return str(path), x


def test_gradcam_plus_plus_maps_equal_the_cam_in_process(run_dir, batch, tmp_path, capsys):
    """--method gradcam++ writes its grid, one overlay per input, and make_cam's own maps."""
    path, x = batch
    out = tmp_path / "explain"
    argv = ["explain", "--model", run_dir, "--images", path, "--method", "gradcam++"]
    assert main([*argv, "--out", str(out)]) == 0
    names = ["gradcam++_grid.png"] + [f"batch_{i}_gradcam++.png" for i in range(3)]
    for name in names:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out.splitlines()
    assert [f"wrote {out / n}" for n in names] == [p for p in printed if "png" in p]
    data = np.load(out / "maps.npz")
    assert str(data["method"]) == "gradcam++"
    assert data["sources"].tolist() == [f"{path}[{i}]" for i in range(3)]
    assert data["labels"].tolist() == [-1, -1, -1]  # files have no labels
    reference = make_cam("gradcam++", load_model(run_dir, backend="tf"))(x)
    np.testing.assert_allclose(data["maps"], reference.maps, atol=1e-5)
    np.testing.assert_allclose(data["probabilities"], reference.probabilities, atol=1e-5)
    assert data["class_index"].tolist() == np.argmax(data["probabilities"], 1).tolist()
    assert np.ptp(data["maps"]) > 0.1  # the maps are not all one value


def test_smoothing_flags_give_the_smoothed_cam(run_dir, batch, tmp_path):
    """--aug-smooth --eigen-smooth write the maps of make_cam(..., aug_smooth=True,
    eigen_smooth=True), which differ from the plain maps."""
    path, x = batch
    out = tmp_path / "smooth"
    argv = ["explain", "--model", run_dir, "--images", path, "--out", str(out)]
    assert main([*argv, "--aug-smooth", "--eigen-smooth"]) == 0
    maps = np.load(out / "maps.npz")["maps"]
    model = load_model(run_dir, backend="tf")
    reference = make_cam("qgradcam", model, aug_smooth=True, eigen_smooth=True)(x)
    np.testing.assert_allclose(maps, reference.maps, atol=1e-5)
    assert np.abs(maps - make_cam("qgradcam", model)(x).maps).max() > 1e-3


def test_layer_names_the_conv_layer_to_explain(run_dir, batch, tmp_path, capfd):
    """--layer conv0 explains the first conv block (make_cam's maps on that layer, 28x28
    maps of a 28x28 layer); a layer the model lacks is one error line naming it."""
    path, x = batch
    out = tmp_path / "explain"
    argv = ["explain", "--model", run_dir, "--images", path, "--layer", "conv0"]
    assert main([*argv, "--out", str(out)]) == 0
    reference = make_cam("qgradcam", load_model(run_dir, backend="tf"), layer="conv0")(x)
    np.testing.assert_allclose(np.load(out / "maps.npz")["maps"], reference.maps, atol=1e-5)
    capfd.readouterr()
    argv = ["explain", "--model", run_dir, "--images", path, "--layer", "nope"]
    assert main([*argv, "--out", str(tmp_path / "other")]) == 2
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "nope" in err[0], err


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--class-index", "10"], r"--class-index: must be a class index in \[0, 9\] \(the run"),
        (["--out", "{tmp}/no/out"], r"--out: '.*no/out': the parent directory"),
        (["--out", "{batch}"], r"--out: '.*batch\.npy' exists and is not a directory"),
    ],
)
def test_class_index_and_out_are_checked_before_the_model_loads(
    run_dir, batch, tmp_path, capsys, monkeypatch, extra, message
):
    """A class index beyond the run's classes (from model.json, read as JSON) and an --out
    that cannot be made exit 2 with one line, before the command's work starts."""
    import re

    import qgcam_tf.cli.explain as explain_cli

    monkeypatch.setattr(explain_cli, "run", lambda args: pytest.fail("the command ran"))
    extra = [a.format(tmp=tmp_path, batch=batch[0]) for a in extra]
    argv = ["explain", "--model", run_dir, "--images", batch[0], "--out", str(tmp_path / "o")]
    try:
        code = main([*argv, *extra])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err
    assert not (tmp_path / "o").exists() and not (tmp_path / "no").exists()


def test_class_index_minus_one_explains_the_predicted_class(run_dir, batch, tmp_path):
    """--class-index -1 gives the same maps as no --class-index: the predicted class."""
    path, _ = batch
    argv = ["explain", "--model", run_dir, "--images", path, "--method", "layercam"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([*argv, "--class-index", "-1", "--out", str(tmp_path / "b")]) == 0
    a, b = np.load(tmp_path / "a" / "maps.npz"), np.load(tmp_path / "b" / "maps.npz")
    assert a["class_index"].tolist() == np.argmax(a["probabilities"], 1).tolist()
    np.testing.assert_array_equal(a["class_index"], b["class_index"])
    np.testing.assert_allclose(a["maps"], b["maps"], atol=1e-6)


def test_dataset_other_than_the_runs_is_one_error_line(run_dir, tmp_path, capfd):
    """--dataset speech on an MNIST run: one line naming both, exit 2, nothing written."""
    out = tmp_path / "explain"
    assert main(["explain", "--model", run_dir, "--dataset", "speech", "--out", str(out)]) == 2
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["qgcam explain: error: --dataset speech does not match the model's 'mnist'"]
    assert not out.exists()


def test_images_and_dataset_exclude_each_other(run_dir, batch, tmp_path, capsys):
    """--images and --dataset together are refused while parsing, in one line."""
    argv = ["explain", "--model", run_dir, "--out", str(tmp_path), "--images", batch[0]]
    with pytest.raises(SystemExit) as e:
        main([*argv, "--dataset", "mnist"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err == ("qgcam explain: error: argument --dataset: not allowed with argument --images\n")


def test_a_constant_image_warns_and_its_map_is_zeros(run_dir, digit_files, tmp_path, capsys):
    """All-black and all-white pictures get one warning line each and all-zero maps (the
    white one's raw map is a border pattern scaled to [0, 1]); the digit's map is the CAM's;
    maps.npz records which rows are constant and how each picture was fitted."""
    from PIL import Image

    paths, _ = digit_files
    black, white = str(tmp_path / "black.png"), str(tmp_path / "white.png")
    Image.fromarray(np.zeros((28, 28), np.uint8), mode="L").save(black)
    Image.fromarray(np.full((28, 28), 255, np.uint8), mode="L").save(white)
    out = tmp_path / "explain"
    argv = ["explain", "--model", run_dir, "--images", black, white, paths[0]]
    assert main([*argv, "--out", str(out)]) == 0
    tail = (
        ": the model sees no content, so its prediction and its CAM map carry no "
        "information (explain writes its map as zeros)"
    )
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {black}: constant input (every value 0.000){tail}",
        f"warning: {white}: constant input (every value 1.000){tail}",
    ]
    data = np.load(out / "maps.npz")
    assert data["constant"].tolist() == [True, True, False]
    assert data["fit"].tolist() == ["stretch"] * 3
    digit = np.asarray(Image.open(paths[0]), np.float32)[None, :, :, None] / 255.0  # as decoded
    images = np.concatenate([np.zeros((1, 28, 28, 1)), np.ones((1, 28, 28, 1)), digit])
    reference = make_cam("qgradcam", load_model(run_dir, backend="tf"))(images.astype("float32"))
    assert np.ptp(reference.maps[1]) > 0.5  # what min-max scaling makes of a blank input
    np.testing.assert_array_equal(data["maps"][:2], 0.0)
    np.testing.assert_allclose(data["maps"][2], reference.maps[2], atol=1e-5)
    np.testing.assert_allclose(data["probabilities"], reference.probabilities, atol=1e-5)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
