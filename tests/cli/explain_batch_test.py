"""Tests for qgcam explain-batch's command line: argument errors are one line and exit 2
before Beam or TensorFlow load, and a good command line reaches explain_batch as given."""

import json
import os
import re
import subprocess
import sys

import pytest

from qgcam_tf.cli.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Calls qgcam's main for each argv in one fresh interpreter; reports the exit status, stderr
# and whether TensorFlow or Beam were imported by then.
_PROBE = r"""
import contextlib, io, json, sys
from qgcam_tf.cli.main import main
calls = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
    heavy = [m for m in ("tensorflow", "apache_beam") if m in sys.modules]
    calls.append({"argv": argv, "code": code, "err": err.getvalue(), "loaded": heavy})
print(json.dumps(calls))
"""


def fake_export(base, n_classes=3, name="export") -> str:
    """``base/NAME/1`` with an empty saved_model.pb and the metadata file (JSON is all that
    the argument checks read)."""
    version = os.path.join(str(base), name, "1")
    os.makedirs(os.path.join(version, "assets.extra"))
    open(os.path.join(version, "saved_model.pb"), "wb").close()
    meta = {"input_shape": [8, 8, 1], "n_classes": n_classes, "class_names": None}
    with open(os.path.join(version, "assets.extra", "qgcam.json"), "w") as f:
        json.dump(meta, f)
    return os.path.dirname(version)


def test_argument_errors_exit_2_with_one_line_before_beam_or_tensorflow(tmp_path):
    """Missing export, glob of nothing, class index past the export's classes, an existing
    OUT, a stray argument and audio without --run: one line each, nothing heavy loaded."""
    export = fake_export(tmp_path)
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "taken").mkdir()
    good = ["--export", export, "--input", str(tmp_path / "*.png"), "--out", str(tmp_path / "o")]
    cases = [
        (["--export", str(tmp_path / "nope"), *good[2:]], r"--export '.*nope': no such directory"),
        ([*good[:3], str(tmp_path / "*.jpg"), *good[4:]], r"--input '.*\*\.jpg' matches no file"),
        ([*good, "--class-index", "3"], r"--class-index: must be a class index in \[0, 2\]"),
        ([*good[:5], str(tmp_path / "taken")], r"--out '.*taken' exists; pass --force"),
        ([*good, "b.png"], r"unknown argument 'b\.png': quote the --input glob"),
        ([*good[:3], str(tmp_path / "*.wav"), *good[4:]], r"--run: audio files need the speech"),
    ]
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps([["explain-batch", *a] for a, _ in cases])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        timeout=120,
        check=True,
    )
    for call, (_, message) in zip(json.loads(proc.stdout), cases, strict=True):
        assert call["code"] == 2 and call["loaded"] == [], call
        assert call["err"].count("\n") == 1, call["err"]
        assert re.match(rf"qgcam explain-batch: error: {message}", call["err"]), call["err"]
    assert not (tmp_path / "o").exists()


def test_a_good_command_line_reaches_explain_batch_as_given(tmp_path, monkeypatch):
    """Every option, and the Beam options after --, arrive at explain_batch unchanged; the
    newest version of the export is the one checked."""
    from qgcam_tf.serving import batch

    export = fake_export(tmp_path, n_classes=10)
    (tmp_path / "a.png").write_bytes(b"")
    calls = []
    monkeypatch.setattr(batch, "explain_batch", lambda *a, **kw: calls.append((a, kw)))
    argv = [
        "explain-batch",
        "--export",
        export,
        "--input",
        str(tmp_path / "*.png"),
        "--out",
        str(tmp_path / "o"),
        "--runner",
        "FlinkRunner",
        "--batch-size",
        "8",
        "--class-index",
        "9",
        "--overlay",
        "--",
        "--flink_master=localhost:8081",
        "--parallelism=4",
    ]
    assert main(argv) == 0
    ((args, kwargs),) = calls
    assert args == (export, str(tmp_path / "*.png"), str(tmp_path / "o"))
    log = kwargs.pop("log")
    assert callable(log)
    assert kwargs == {
        "runner": "FlinkRunner",
        "batch_size": 8,
        "class_index": 9,
        "direct_num_workers": 1,
        "overlay": True,
        "force": False,
        "run_metadata": None,
        "pipeline_args": ["--flink_master=localhost:8081", "--parallelism=4"],
    }


def test_the_cli_runners_are_the_librarys():
    """The runner choices, named without loading Beam, are batch.RUNNERS."""
    from qgcam_tf.cli.explain_batch import RUNNERS
    from qgcam_tf.serving.batch import RUNNERS as LIBRARY

    assert RUNNERS == LIBRARY


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
