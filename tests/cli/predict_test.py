"""Tests for qgcam_tf.cli.predict: `qgcam predict` writes one CSV row per input, in order."""

import csv
import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from qgcam_tf.cli.main import main
from qgcam_tf.data.mnist import CLASS_NAMES
from qgcam_tf.model.run import load_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def qgcam(*args, check_rc=None):
    """Runs `python -m qgcam_tf ARGS` in a fresh process; returns (rc, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=ROOT, TF_USE_LEGACY_KERAS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "qgcam_tf", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def rows_of(text: str) -> tuple[list[str], np.ndarray, list[dict]]:
    """(sources, probabilities [N, 10], rows) of predict's CSV text."""
    rows = list(csv.DictReader(io.StringIO(text)))
    probs = np.array([[float(r[f"p_{c}"]) for c in CLASS_NAMES] for r in rows])
    return [r["source"] for r in rows], probs, rows


def test_predict_prints_csv_matching_the_model(run_dir, digit_files):
    """`python -m qgcam_tf predict` prints only the CSV; a digit's row equals model.predict."""
    paths, x = digit_files  # x[0] saved at 28x28, x[1] at 56x56
    _, stdout, stderr = qgcam("predict", "--model", run_dir, "--images", *paths, check_rc=0)
    assert "Traceback" not in stderr
    sources, probs, rows = rows_of(stdout)
    assert stdout.startswith("source,class_index,class_name,p_0,") and sources == paths
    decoded = np.asarray(Image.open(paths[0]), np.float32)[None, :, :, None] / 255.0  # 28x28
    np.testing.assert_allclose(decoded, x[:1], atol=1 / 255)  # the digit, quantised
    reference = load_model(run_dir).predict(decoded, verbose=0)[0]
    np.testing.assert_allclose(probs[0], reference, atol=1e-5)
    assert rows[0]["class_name"] == CLASS_NAMES[int(np.argmax(reference))]


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory):
    """batch3.npy holding three images and three.png holding one, with their exact pixels."""
    folder = tmp_path_factory.mktemp("mixed")
    pixels = np.random.default_rng(7).integers(0, 256, size=(4, 28, 28, 1), dtype=np.uint8)
    x = pixels.astype(np.float32) / 255.0  # what a PNG decoder gives back, exactly
    np.save(folder / "batch3.npy", x[:3])
    Image.fromarray(pixels[3, :, :, 0], mode="L").save(folder / "three.png")
    return str(folder / "batch3.npy"), str(folder / "three.png"), x


def test_a_batch_file_and_a_picture_give_one_row_per_input_in_order(
    run_dir, mixed_inputs, tmp_path, capsys
):
    """batch3.npy + three.png: 4 rows, each with the probabilities of its own input."""
    batch, png, x = mixed_inputs
    argv = ["predict", "--model", run_dir, "--images", batch, png, "--batch-size", "2"]
    assert main(argv) == 0  # batches of 2 cross the boundary between the two files
    sources, probs, rows = rows_of(capsys.readouterr().out)
    assert sources == [f"{batch}[0]", f"{batch}[1]", f"{batch}[2]", png]
    model = load_model(run_dir, backend="tf")
    reference = model(x, training=False).numpy()  # each input through the model directly
    apart = np.abs(reference[:, None] - reference[None]).max(-1) + np.eye(4)
    assert apart.min() > 1e-3  # every row differs from the others far beyond the tolerance
    np.testing.assert_allclose(probs, reference, atol=1e-5)
    for row, p in zip(rows, reference, strict=True):
        assert int(row["class_index"]) == int(np.argmax(p))
        assert row["class_name"] == CLASS_NAMES[int(row["class_index"])]


def test_out_writes_the_same_csv_it_would_print(run_dir, mixed_inputs, tmp_path, capsys):
    """--out writes the text that stdout gets without it, and says how many rows."""
    batch, png, _ = mixed_inputs
    assert main(["predict", "--model", run_dir, "--images", png, batch]) == 0
    printed = capsys.readouterr().out
    out = tmp_path / "preds.csv"  # in an existing folder: a missing one is refused
    assert main(["predict", "--model", run_dir, "--images", png, batch, "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote 4 predictions to {out}\n"
    assert out.read_bytes() == printed.encode()  # csv's own CRLF line ends, unchanged
    assert rows_of(printed)[0] == [png, f"{batch}[0]", f"{batch}[1]", f"{batch}[2]"]


def _save_png(path, x: np.ndarray) -> str:
    """Writes float [H, W, 1] pixels in [0, 1] as a grey PNG; returns the path."""
    Image.fromarray(np.round(x[..., 0] * 255).astype(np.uint8), mode="L").save(path)
    return str(path)


def test_an_inverted_digit_warns_once_and_a_normal_one_does_not(
    run_dir, digit_files, tmp_path, capsys
):
    """A black-on-white digit gets one warning line naming the MNIST polarity and its mean
    (the run records no input_mean: MNIST's known one is used); it is still predicted."""
    paths, x = digit_files
    inverted = _save_png(tmp_path / "inverted.png", 1.0 - x[0])
    argv = ["predict", "--model", run_dir, "--images", paths[0], inverted, inverted]
    assert main(argv) == 0
    captured = capsys.readouterr()
    mean = float(np.mean(np.asarray(Image.open(inverted), np.float64) / 255.0))
    assert captured.err.splitlines() == [
        f"warning: {inverted}: the model was trained on light-on-dark inputs (mean 0.13); "
        f"this input has mean {mean:.2f}: invert it (1 - x)?"
    ]  # once, although the file is given twice
    assert rows_of(captured.out)[0] == [paths[0], inverted, inverted]


@pytest.fixture(scope="module")
def tall(tmp_path_factory):
    """A 28x14 (rows x columns) picture of random grey pixels, and its exact pixels."""
    x = np.random.default_rng(8).integers(0, 256, size=(28, 14, 1)) / 255.0
    return _save_png(tmp_path_factory.mktemp("tall") / "tall.png", x), x.astype(np.float32)


@pytest.mark.parametrize("fit", ["pad", "crop", "stretch"])
def test_fit_is_applied_warned_and_recorded(run_dir, tall, fit, capsys):
    """A 1:2 picture: --fit pad gives the model the picture between two 7-column black bars,
    crop its centre 14x14 stretched by the resize, stretch (the default) the resize alone; the
    warning line says which, and the CSV's fit column records it."""
    path, x = tall
    argv = ["predict", "--model", run_dir, "--images", path]
    assert main(argv + (["--fit", fit] if fit != "stretch" else [])) == 0
    captured = capsys.readouterr()
    if fit == "pad":
        expected = np.zeros((28, 28, 1), np.float32)
        expected[:, 7:21] = x
    else:
        import tensorflow as tf

        kept = x[7:21] if fit == "crop" else x
        expected = tf.image.resize(kept, (28, 28), antialias=True).numpy()
    reference = load_model(run_dir, backend="tf")(expected[None], training=False).numpy()
    sources, probs, rows = rows_of(captured.out)
    np.testing.assert_allclose(probs, reference, atol=2e-5)
    assert [r["fit"] for r in rows] == [fit]
    said = {"pad": "letterboxed", "crop": "centre-cropped", "stretch": "stretched"}[fit]
    (line,) = captured.err.splitlines()
    assert line.startswith(f"warning: {path}: aspect ratio 0.50 (14x28)") and said in line


def test_an_out_in_a_missing_folder_is_refused_before_the_model_loads(
    run_dir, digit_files, tmp_path, capsys, monkeypatch
):
    """--out under a missing folder exits 2 with one line naming it, creates no folder, and
    never reaches the command's work (validate runs before TensorFlow and the model)."""
    import qgcam_tf.cli.predict as predict_cli

    monkeypatch.setattr(predict_cli, "run", lambda args: pytest.fail("the command ran"))
    out = tmp_path / "no" / "such" / "p.csv"
    argv = ["predict", "--model", run_dir, "--images", digit_files[0][0], "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "parent directory" in err[0] and "no/such' does not exist" in err[0]
    assert not (tmp_path / "no").exists()


def test_a_bad_fit_is_refused_while_parsing(run_dir, tall, capsys):
    """--fit zoom: argparse's one line naming the choices, exit 2."""
    with pytest.raises(SystemExit) as e:
        main(["predict", "--model", run_dir, "--images", tall[0], "--fit", "zoom"])
    assert e.value.code == 2
    assert "argument --fit: invalid choice: 'zoom'" in capsys.readouterr().err


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
