"""Tests of the exported-explain latency (qgcam_tf.bench.serve_latency)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from qgcam_tf.bench import serve_latency
from qgcam_tf.testing.exports import tiny_export


def test_parse_batches_reads_comma_separated_sizes():
    """ "1,64" is [1, 64]; a single size is a list of one."""
    assert serve_latency.parse_batches("1,64") == [1, 64]
    assert serve_latency.parse_batches("8") == [8]


@pytest.mark.parametrize(
    ("bad", "why"),
    [("1,x", "comma-separated ints"), ("", "comma-separated ints"), ("4,0", ">= 1")],
)
def test_parse_batches_rejects_bad_sizes(bad, why):
    """Non-integers, an empty list and sizes below 1 are refused, naming --batches and the
    value."""
    with pytest.raises(ValueError, match=f"--batches must .*{why}.*got {bad!r}"):
        serve_latency.parse_batches(bad)


def test_importing_the_module_blocks_nothing():
    """Only main() blocks tensorflow_quantum: in a fresh interpreter, importing the module
    leaves no entry for it in sys.modules and loads no TensorFlow."""
    code = (
        "import sys, qgcam_tf.bench.serve_latency\n"
        "print('tensorflow_quantum' in sys.modules, 'tensorflow' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False False"


@pytest.mark.slow
def test_times_an_export_without_tensorflow_quantum(tmp_path_factory):
    """`python -m qgcam_tf.bench.serve_latency EXPORT --batches 1,3` prints one JSON line:
    a positive median per requested batch, and tensorflow_quantum never loaded."""
    export = tiny_export(tmp_path_factory.getbasetemp())
    cmd = [sys.executable, "-m", "qgcam_tf.bench.serve_latency", export.version_dir]
    cmd += ["--batches", "1,3", "--warmup", "1", "--repeats", "2"]
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    got = json.loads(lines[-1])
    assert set(got) == {"explain_latency_ms", "tensorflow_quantum_loaded"}
    assert set(got["explain_latency_ms"]) == {"1", "3"}
    assert all(v > 0 for v in got["explain_latency_ms"].values())
    assert got["tensorflow_quantum_loaded"] is False


@pytest.mark.slow
def test_times_a_classical_export_beside_it_paired(tmp_path_factory):
    """With --classical, a second export is timed at each batch beside the first, with the
    paired ratio of the two (their calls alternating); timing an export against itself
    gives a ratio near 1, and tensorflow_quantum stays unloaded."""
    export = tiny_export(tmp_path_factory.getbasetemp())
    cmd = [sys.executable, "-m", "qgcam_tf.bench.serve_latency", export.version_dir]
    cmd += ["--classical", export.version_dir, "--batches", "1,3"]
    cmd += ["--warmup", "1", "--repeats", "3", "--pairs", "9"]
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(got) == {
        "explain_latency_ms",
        "classical_explain_latency_ms",
        "hybrid_over_classical",
        "pairs",
        "tensorflow_quantum_loaded",
    }
    assert got["pairs"] == 9
    assert set(got["classical_explain_latency_ms"]) == {"1", "3"}
    assert all(v > 0 for v in got["classical_explain_latency_ms"].values())
    # the same export on both sides: the paired ratio is 1 up to timing noise
    assert all(0.25 < v < 4 for v in got["hybrid_over_classical"].values())
    assert got["tensorflow_quantum_loaded"] is False


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
