"""qgcam explain-batch on Beam: the documented commands, run with the DirectRunner in
multi-process mode, explain every digit as the in-process QGradCAM does and put every
corrupt file in the dead-letter output with its reason."""

import json
import os
import re
import shlex
import sys

import numpy as np
import pytest

from qgcam_tf.serving import batch
from qgcam_tf.serving.batch import (
    overlay_image,
    preprocessing_for,
    read_dead_letters,
    read_results,
    resolve_export,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "mnist-2epochs")
SECTION = "## Explaining a collection with Beam"
N_DIGITS = 250
MAP_ATOL = 1e-4
PROB_ATOL = 1e-5
# Corrupt inputs: name -> (bytes or array, a regular expression the reason must match).
CORRUPT = {
    "empty.png": (b"", r"empty\.png' is not a readable PNG/JPEG/GIF/BMP image"),
    "text.png": (b"not a picture\n", r"text\.png' is not a readable PNG/JPEG/GIF/BMP image"),
    "truncated.png": (None, r"truncated\.png' is not a readable PNG/JPEG/GIF/BMP image"),
    "wrong-size.npy": (
        np.zeros((1, 27, 28, 1), np.float32),
        r"images must have shape \[B, 28, 28, 1\], got \(1, 27, 28, 1\)",
    ),
}


def section_blocks(kind: str) -> list[str]:
    """The ```kind blocks of the Beam section of docs/scale.md."""
    with open(os.path.join(ROOT, "docs", "scale.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index(SECTION) :]
    following = section.find("\n## ", len(SECTION))
    section = section if following < 0 else section[:following]
    return re.findall(rf"```{kind}\n(.*?)```", section, flags=re.S)


def documented_commands() -> list[list[str]]:
    """The ``qgcam`` command lines of the section's ```bash blocks (continuations joined)."""
    commands = []
    for block in section_blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("qgcam "):
                commands.append(shlex.split(line)[1:])
    return commands


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    """The documented commands on 250 MNIST test digits (PNG), one digit as a .npy array and
    four corrupt files, under a temporary ``runs/beam``; returns the folders and inputs."""
    import tensorflow as tf

    from qgcam_tf.cli.main import main
    from qgcam_tf.data.mnist import load_mnist

    base = str(tmp_path_factory.mktemp("beam"))
    digits = os.path.join(base, "digits")
    os.makedirs(digits)
    _, (x_test, _) = load_mnist()
    pixels = np.round(np.asarray(x_test[:N_DIGITS]) * 255).astype(np.uint8).reshape(-1, 28, 28, 1)
    for i, image in enumerate(pixels):
        tf.io.write_file(os.path.join(digits, f"digit-{i:03d}.png"), tf.io.encode_png(image))
    np.save(os.path.join(digits, "one.npy"), pixels[0].astype(np.float32) / 255.0)
    png = tf.io.encode_png(pixels[0]).numpy()
    for name, (content, _) in CORRUPT.items():
        path = os.path.join(digits, name)
        if isinstance(content, np.ndarray):
            np.save(path, content)
        else:
            with open(path, "wb") as f:
                f.write(png[:40] if content is None else content)
    commands = documented_commands()
    assert [c[0] for c in commands] == ["export", "explain-batch"], commands
    for argv in commands:
        argv = [a.replace("runs/beam", base) for a in argv]
        argv = [os.path.join(ROOT, a) if a.startswith("tests/") else a for a in argv]
        assert main(argv) == 0, argv
    return {"base": base, "digits": digits, "out": os.path.join(base, "explained")}


def test_every_heatmap_equals_the_in_process_qgradcam(explained):
    """Two worker processes explain each digit (PNG or .npy) as QGradCAM does in this
    process: heatmaps within 1e-4, probabilities within 1e-5, the same class, paired by path."""
    from qgcam_tf.data.images import load_images
    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.model.run import Run

    table = read_results(explained["out"])
    rows = {row["path"]: row for row in table.to_pylist()}
    digits = explained["digits"]
    paths = [os.path.join(digits, f"digit-{i:03d}.png") for i in range(N_DIGITS)]
    paths.append(os.path.join(digits, "one.npy"))
    assert sorted(rows) == sorted(paths)
    model = Run.open(FIXTURE).model(backend="tf")
    images = load_images(paths, (28, 28, 1))
    cam = QGradCAM(model)(images)
    probabilities = model.predict(images, verbose=0)
    heatmaps = np.stack(
        [np.reshape(rows[p]["heatmap"], (rows[p]["heatmap_height"], 28)) for p in paths]
    )
    spread = cam.maps.max(axis=(1, 2)) - cam.maps.min(axis=(1, 2))
    assert np.all(spread > 0.5)  # real maps, so the comparison says something
    np.testing.assert_allclose(heatmaps, cam.maps, atol=MAP_ATOL)
    np.testing.assert_allclose(
        np.stack([rows[p]["probabilities"] for p in paths]), probabilities, atol=PROB_ATOL
    )
    np.testing.assert_array_equal([rows[p]["class_index"] for p in paths], cam.class_index)
    assert [rows[p]["class_name"] for p in paths] == [str(k) for k in cam.class_index]
    np.testing.assert_allclose(
        np.stack([rows[p]["weights"] for p in paths]), cam.weights, atol=1e-5
    )


def test_corrupt_files_are_dead_letters_with_their_reason(explained):
    """Each corrupt file is one dead letter of stage 'read' whose reason names the problem;
    the counters add up and the output is sharded Parquet, published whole."""
    letters = read_dead_letters(explained["out"])
    by_path = {d["path"]: d for d in letters}
    assert sorted(by_path) == sorted(os.path.join(explained["digits"], n) for n in CORRUPT)
    for name, (_, reason) in CORRUPT.items():
        letter = by_path[os.path.join(explained["digits"], name)]
        assert letter["stage"] == "read" and re.search(reason, letter["reason"]), letter
    with open(os.path.join(explained["out"], "summary.json")) as f:
        summary = json.load(f)
    n = N_DIGITS + 1 + len(CORRUPT)
    assert (summary["files_read"], summary["explained"], summary["rejected"]) == (
        n,
        N_DIGITS + 1,
        len(CORRUPT),
    )
    assert summary["direct_num_workers"] == 2 and summary["preprocessing"]["dataset"] == "mnist"
    shards = os.listdir(os.path.join(explained["out"], "results"))
    assert shards and all(re.fullmatch(r"part-\d{5}-of-\d{5}\.parquet", s) for s in shards)
    assert not [n for n in os.listdir(explained["base"]) if n.startswith(".tmp-")]


def test_the_documented_reading_snippet_runs_without_the_package(explained):
    """The docs' Python snippet reads the results with pyarrow alone: one map [28, 28]."""
    (snippet,) = section_blocks("python")
    scope = {}
    exec(snippet.replace("runs/beam", explained["base"]), scope)  # noqa: S102
    assert scope["table"].num_rows == N_DIGITS + 1
    assert scope["heatmap"].shape == (28, 28)
    assert 0.0 <= scope["heatmap"].min() and scope["heatmap"].max() <= 1.0


def test_overlays_are_the_heatmap_over_the_input(explained):
    """Each overlay PNG is overlay_image(input, heatmap) of its row; overlay_image is
    matplotlib's jet blend (qgcam_tf.viz.common.overlay) rounded to 8 bits."""
    import tensorflow as tf

    from qgcam_tf.data.images import load_image
    from qgcam_tf.viz.common import overlay

    rows = read_results(explained["out"]).to_pylist()
    for row in rows[:20]:
        if not row["path"].endswith(".png"):
            continue
        assert row["overlay"] == os.path.join("overlays", os.path.basename(row["path"]) + ".png")
        png = tf.io.decode_png(tf.io.read_file(os.path.join(explained["out"], row["overlay"])))
        image = load_image(row["path"], (28, 28, 1))
        heatmap = np.reshape(row["heatmap"], (28, 28))
        np.testing.assert_array_equal(png.numpy(), overlay_image(image, heatmap))
        reference = overlay(image, heatmap) * 255.0
        np.testing.assert_allclose(overlay_image(image, heatmap), reference, atol=0.5 + 1e-3)


def test_force_replaces_an_output_whole_and_its_absence_refuses(explained, tmp_path):
    """An existing OUT is refused without force; with it, OUT is swapped for the new output
    in one piece (nothing of the old one stays, no temporary is left beside it)."""
    from qgcam_tf.serving.batch import explain_batch

    export = os.path.join(explained["base"], "export")
    pattern = os.path.join(explained["digits"], "digit-00[0-2].png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("the old output")
    with pytest.raises(FileExistsError, match="exists; pass force=True"):
        explain_batch(export, pattern, str(out), log=None)
    summary = explain_batch(export, pattern, str(out), force=True, log=None)
    assert summary["explained"] == 3 and not (out / "old.txt").exists()
    assert read_results(str(out)).num_rows == 3
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_resolve_export_takes_the_newest_version_and_refuses_what_is_not_one(tmp_path):
    """A base directory gives its highest version; a folder without a version or without
    the metadata file is one ValueError naming it."""
    for version in ("1", "3", "12"):
        os.makedirs(tmp_path / "export" / version / "assets.extra")
        (tmp_path / "export" / version / "saved_model.pb").write_bytes(b"")
        meta = {"input_shape": [28, 28, 1], "n_classes": 10, "method": version}
        (tmp_path / "export" / version / batch.EXPORT_METADATA).write_text(json.dumps(meta))
    version_dir, meta = resolve_export(str(tmp_path / "export"))
    assert version_dir == str(tmp_path / "export" / "12") and meta["method"] == "12"
    assert resolve_export(version_dir)[0] == version_dir
    os.makedirs(tmp_path / "empty")
    with pytest.raises(ValueError, match="holds no SavedModel version"):
        resolve_export(str(tmp_path / "empty"))
    os.remove(tmp_path / "export" / "3" / batch.EXPORT_METADATA)
    with pytest.raises(ValueError, match=r"has no assets.extra/qgcam.json"):
        resolve_export(str(tmp_path / "export" / "3"))
    (tmp_path / "export" / "1" / batch.EXPORT_METADATA).write_text("[1, 2]")
    with pytest.raises(ValueError, match="needs input_shape"):
        resolve_export(str(tmp_path / "export" / "1"))


def test_the_metadata_path_is_the_exports():
    """The metadata path batch.py reads without TensorFlow is export.py's."""
    from qgcam_tf.serving.export import METADATA_FILE

    assert batch.EXPORT_METADATA == METADATA_FILE


def test_preprocessing_comes_from_the_run_or_the_input_shape():
    """A run's metadata (dataset, spectrogram) wins; without it, 3 channels read as Dogs vs.
    Cats and 1 as MNIST; a run of another input shape is refused."""
    export = {"input_shape": [64, 64, 1], "n_classes": 2}
    speech = {"dataset": "speech", "input_shape": [64, 64, 1], "spectrogram": {"fmax": 4000.0}}
    assert preprocessing_for(export, speech) == {
        "dataset": "speech",
        "input_shape": [64, 64, 1],
        "spectrogram": {"fmax": 4000.0},
    }
    assert preprocessing_for(export)["dataset"] == "mnist"
    assert preprocessing_for({"input_shape": [64, 64, 3], "n_classes": 2})["dataset"] == (
        "dogs-vs-cats"
    )
    with pytest.raises(ValueError, match=r"run's input shape \[28, 28, 1\] is not the export"):
        preprocessing_for(export, {"dataset": "mnist", "input_shape": [28, 28, 1]})


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
