"""Tests for qgcam_tf.cli.explain: `qgcam explain` writes overlays, a grid and raw maps."""

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


def test_explain_writes_grid_and_maps(run_dir, digit_files, tmp_path):
    """explain --dataset writes the Fig. 4 grid and maps.npz with one map per digit."""
    out = tmp_path / "explain"
    qgcam(
        "explain",
        "--model",
        run_dir,
        "--dataset",
        "mnist",
        "--count",
        "10",
        "--out",
        str(out),
        check_rc=0,
    )
    data = np.load(out / "maps.npz")
    assert sorted(data["labels"]) == list(range(10))  # one example per digit
    assert (
        data["maps"].shape == (10, 28, 28) and 0 <= data["maps"].min() and data["maps"].max() <= 1
    )
    assert (out / "qgradcam_grid.png").read_bytes()[:4] == b"\x89PNG"
    paths, _ = digit_files
    qgcam(
        "explain",
        "--model",
        run_dir,
        "--images",
        paths[0],
        "--class-index",
        "3",
        "--out",
        str(out),
        check_rc=0,
    )
    assert np.load(out / "maps.npz")["class_index"].tolist() == [3]
    assert os.path.exists(out / "digit0_qgradcam.png")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
