"""`qgcam noise`: bad arguments exit 2 with one line; a sweep writes its CSV and plots."""

from __future__ import annotations

import csv
import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402

from qgcam_tf.quantum.circuits import VQCSpec  # noqa: E402
from qgcam_tf.testing.fuzz import fake_run_dir  # noqa: E402


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--strengths", "0", "1.5"], "--strengths: must be a probability in [0, 1], got '1.5'"),
        (["--strengths", "-0.1"], "must be a probability in [0, 1], got '-0.1'"),
        (["--preset", "sycamore"], "--preset: invalid choice: 'sycamore'"),
        (["--shots", "0"], "--shots: must be an int in [1, 1000000] or 'none', got '0'"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(argv, match, capsys, tmp_path):
    """`qgcam noise` rejects bad noise arguments with exit status 2 and one error line."""
    from qgcam_tf.cli.main import main

    fake_run_dir(tmp_path)  # a run directory, as far as parsing checks
    with pytest.raises(SystemExit) as exc:
        main(["noise", "--model", str(tmp_path), "--out", str(tmp_path / "o"), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err


def test_cli_missing_model_exits_2(capsys, tmp_path):
    """A run directory that does not exist gives exit 2 and one line naming it, at parsing."""
    from qgcam_tf.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["noise", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]


@pytest.mark.slow
def test_cli_sweep_writes_csv_and_plots(tmp_path, capsys):
    """`qgcam noise` on an MNIST-shaped model writes noise.csv, noise.png and noise_maps.png."""
    from qgcam_tf.cli.main import main
    from qgcam_tf.data.mnist import load_mnist
    from qgcam_tf.model.hybrid import build_hybrid_model
    from qgcam_tf.model.run import save_model

    try:
        load_mnist(None)
    except (FileNotFoundError, ImportError) as e:
        pytest.skip(f"embedded MNIST not available: {e}")
    tf.keras.utils.set_random_seed(0)
    model = build_hybrid_model(
        (28, 28, 1), 10, vqc=VQCSpec(10, 1, 10), backend="tf", conv_filters=(4,)
    )
    save_model(
        model, str(tmp_path / "run"), metadata={"dataset": "mnist", "input_shape": [28, 28, 1]}
    )
    out = tmp_path / "out"
    code = main(
        [
            "noise",
            "--model",
            str(tmp_path / "run"),
            "--out",
            str(out),
            "--preset",
            "depolarizing",
            "rainbow",
            "--strengths",
            "0",
            "0.05",
            "--count",
            "3",
            "--repeats",
            "2",
            "--repetitions",
            "10",
        ]
    )
    assert code == 0, capsys.readouterr().err
    with open(out / "noise.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["preset"], float(r["strength"])) for r in rows] == [
        ("depolarizing", 0.0),
        ("depolarizing", 0.05),
        ("rainbow", 1.0),
    ]
    assert float(rows[0]["pearson_mean"]) == pytest.approx(1.0, abs=1e-4)
    assert {r["method"] for r in rows} == {"trajectories"}
    for name in ("noise.png", "noise_maps.png", "noise.json"):
        assert (out / name).stat().st_size > 1000


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
