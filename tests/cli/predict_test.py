"""Tests for qgcam_tf.cli.predict: `qgcam predict` writes one CSV row per input."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

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


def test_predict_writes_csv_matching_the_model(run_dir, digit_files, tmp_path):
    """predict's CSV holds source, class, name and probabilities equal to model.predict."""
    paths, x = digit_files
    out = str(tmp_path / "preds.csv")
    qgcam("predict", "--model", run_dir, "--images", *paths, "--out", out, check_rc=0)
    rows = list(csv.DictReader(open(out)))
    assert [r["source"] for r in rows] == paths
    probs = load_model(run_dir).predict(x[:1], verbose=0)[0]
    got = np.array([float(rows[0][f"p_{c}"]) for c in CLASS_NAMES])
    np.testing.assert_allclose(got, probs, atol=2e-3)  # the PNG round trip quantises pixels
    assert rows[0]["class_name"] == CLASS_NAMES[int(rows[0]["class_index"])]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
