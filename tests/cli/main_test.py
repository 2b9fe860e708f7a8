"""Tests for the `qgcam` CLI: predict/explain end to end, and one clear error line per mistake."""

import os
import subprocess
import sys

import numpy as np
import pytest

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


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--dataset", "cifar", "--out", "X"], "invalid choice: 'cifar'"),
        (["train", "--out", "X", "--epochs", "0"], "must be an int >= 1, got '0'"),
        (["train", "--out", "X", "--option", "snr-db=5"], "mnist has no option 'snr-db'"),
        (["predict", "--model", "RUN", "--images", "/no/such.png"], "'/no/such.png': not found"),
        (["predict", "--model", "/no/run", "--images", "a.png"], "'/no/run' does not exist"),
        (["predict", "--model", "RUN", "--images", "WRONG"], r"shape \[B, 28, 28, 1\]"),
        (["predict", "--model", "RUN", "--images", "NAN"], "NaN"),
        (
            [
                "explain",
                "--model",
                "RUN",
                "--out",
                "O",
                "--dataset",
                "mnist",
                "--class-index",
                "10",
            ],
            r"class_index must be in \[0, 10\)",
        ),
        (["explain", "--model", "RUN", "--out", "O", "--count", "0"], "must be an int >= 1"),
        (["explain", "--model", "RUN", "--out", "O", "--method", "nope"], "invalid choice: 'nope'"),
    ],
)
def test_errors_are_one_line(run_dir, tmp_path, capfd, args, message):
    """Each bad argument or input gives exactly one stderr line naming it and exit code 2."""
    np.save(tmp_path / "wrong.npy", np.zeros((1, 20, 28, 1), np.float32))
    nan = np.zeros((1, 28, 28, 1), np.float32)
    nan[0, 1, 1] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    subst = {
        "RUN": run_dir,
        "WRONG": str(tmp_path / "wrong.npy"),
        "NAN": str(tmp_path / "nan.npy"),
        "X": str(tmp_path / "x"),
        "O": str(tmp_path / "o"),
    }
    from qgcam_tf.cli.main import main

    try:  # in-process (a subprocess per case costs a TensorFlow start-up each)
        rc = main([subst.get(a, a) for a in args])
    except SystemExit as e:  # argparse's own errors
        rc = e.code
    err = capfd.readouterr().err
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("qgcam") and "Traceback" not in err
    import re

    assert re.search(message, lines[0]), lines[0]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
