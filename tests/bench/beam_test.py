"""The explain-batch throughput rows: explained files over the clock's seconds, the in-process
rate over the same files, and the digits they are measured on."""

import os
import sys

import numpy as np
import pytest

from qgcam_tf.bench.beam import (
    explain_batch_images_per_second,
    in_process_images_per_second,
    write_digits,
)
from qgcam_tf.serving.batch import read_results
from qgcam_tf.testing.exports import sample_images, tiny_export


def fake_clock(*times):
    """A clock returning ``times`` in order."""
    values = iter(times)
    return lambda: next(values)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The shared tiny export (8x8x1) and six 8x8 PNGs."""
    import tensorflow as tf

    export = tiny_export(tmp_path_factory.getbasetemp())
    folder = str(tmp_path_factory.mktemp("pngs"))
    paths = []
    for i, image in enumerate(sample_images(6)):
        path = os.path.join(folder, f"p{i}.png")
        tf.io.write_file(path, tf.io.encode_png(np.round(image * 255).astype(np.uint8)))
        paths.append(path)
    return export, folder, paths


def test_rates_are_files_over_the_clock_and_agree_on_the_maps(tiny, tmp_path):
    """The pipeline's rate is explained files / the clock's seconds; the in-process rate
    likewise, and the two give the same heatmaps (1e-5) for the same files."""
    export, folder, paths = tiny
    row = explain_batch_images_per_second(
        1,
        export=export.export_dir,
        pattern=os.path.join(folder, "*.png"),
        out=str(tmp_path / "out"),
        batch_size=4,
        running_mode="in_memory",
        clock=fake_clock(10.0, 14.0),
    )
    assert row == {
        "workers": 1,
        "files": 6,
        "explained": 6,
        "seconds": 4.0,
        "images_per_second": 1.5,
    }
    local = in_process_images_per_second(
        export.export_dir, paths, batch_size=4, clock=fake_clock(1.0, 3.0)
    )
    assert (local["files"], local["seconds"], local["images_per_second"]) == (6, 2.0, 3.0)
    rows = {r["path"]: r for r in read_results(str(tmp_path / "out")).to_pylist()}
    piped = np.stack([np.reshape(rows[p]["heatmap"], (8, 8)) for p in paths])
    np.testing.assert_allclose(local["heatmaps"], piped, atol=1e-5)


def test_bad_arguments_are_refused(tiny, tmp_path):
    """workers below 1, no paths, a batch below 1 and a digit count outside [1, 10000] are
    one ValueError each, naming the argument."""
    export, folder, paths = tiny
    with pytest.raises(ValueError, match="workers must be an int >= 1, got 0"):
        explain_batch_images_per_second(0, export=export.export_dir, pattern="x", out="y")
    with pytest.raises(ValueError, match="paths must name at least one file"):
        in_process_images_per_second(export.export_dir, [])
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        in_process_images_per_second(export.export_dir, paths, batch_size=0)
    with pytest.raises(ValueError, match=r"count must be an int in \[1, 10000\], got 0"):
        write_digits(str(tmp_path), 0)


def test_digits_are_the_mnist_test_images(tmp_path):
    """write_digits writes the first MNIST test digits as 8-bit PNGs, in order."""
    import tensorflow as tf

    from qgcam_tf.data.mnist import load_mnist

    paths = write_digits(str(tmp_path / "d"), 3)
    assert [os.path.basename(p) for p in paths] == [f"digit-0000{i}.png" for i in range(3)]
    _, (x_test, _) = load_mnist()
    for path, expected in zip(paths, x_test[:3], strict=True):
        pixels = tf.io.decode_png(tf.io.read_file(path)).numpy()[..., 0]
        np.testing.assert_array_equal(pixels, np.round(np.reshape(expected, (28, 28)) * 255))


def test_the_documented_command_prints_the_rows(tiny, tmp_path, capsys):
    """docs/scale.md's bench command, on the tiny export with 3 digits and no worker
    processes, prints the in-process rate and one row per worker count, all 3 explained."""
    import json
    import re
    import shlex

    from qgcam_tf.bench.beam import main

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "docs", "scale.md"), encoding="utf-8") as f:
        text = f.read().replace("\n", " ")
    (command,) = re.findall(r"`(python -m qgcam_tf\.bench\.beam [^`]*)`", text)
    argv = shlex.split(command)[3:]
    argv[argv.index("--export") + 1] = tiny[0].export_dir
    argv[argv.index("--images") + 1] = "3"
    argv[argv.index("--out") + 1] = str(tmp_path)
    assert main([*argv, "--running-mode", "in_memory"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["workers"] for r in report["rows"]] == [1, 2]
    assert [r["explained"] for r in report["rows"]] == [3, 3]
    assert report["in_process"]["files"] == 3


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
