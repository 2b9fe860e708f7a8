"""Tests for qgcam_tf.cli.export: its own checks and the call it makes.

Exports themselves run end to end in tests/serving/export_test.py.
"""

import shutil
import sys

import pytest

from qgcam_tf.cli.export import EXPORTABLE_METHODS
from qgcam_tf.cli.main import main


@pytest.fixture
def garbage_run(run_dir, tmp_path):
    """A copy of the MNIST run whose model.weights.h5 is garbage: loading it must fail."""
    path = tmp_path / "run"
    path.mkdir()
    shutil.copy(f"{run_dir}/model.json", path / "model.json")
    (path / "model.weights.h5").write_bytes(b"not an HDF5 file")
    return str(path)


def one_error_line(capfd) -> str:
    """The single non-empty stderr line."""
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("version", [1, 3])
def test_an_existing_version_is_refused_before_the_model_loads(
    garbage_run, tmp_path, capfd, version
):
    """Without --force an existing version is the FileExistsError line, garbage weights unread."""
    target = tmp_path / "exports" / str(version)
    target.mkdir(parents=True)
    (target / "saved_model.pb").write_bytes(b"the first export")
    argv = ["export", "--model", garbage_run, "--out", str(tmp_path / "exports")]
    argv += ["--version", str(version)] if version != 1 else []
    assert main(argv) == 2
    assert one_error_line(capfd) == (
        f"qgcam export: error: version {str(target)!r} exists; pass --force to replace it"
    )
    assert (target / "saved_model.pb").read_bytes() == b"the first export"


def test_with_force_the_garbage_weights_are_read_and_the_old_version_stays(
    garbage_run, tmp_path, capfd
):
    """--force gets past the check to loading, which names the bad weights; nothing replaced."""
    target = tmp_path / "exports" / "1"
    target.mkdir(parents=True)
    (target / "saved_model.pb").write_bytes(b"the first export")
    argv = ["export", "--model", garbage_run, "--out", str(tmp_path / "exports"), "--force"]
    assert main(argv) == 2
    line = one_error_line(capfd)
    assert line.startswith("qgcam export: error: cannot read weights "), line
    assert "model.weights.h5" in line
    assert (target / "saved_model.pb").read_bytes() == b"the first export"


def test_the_library_call_and_its_report(garbage_run, tmp_path, monkeypatch, capsys):
    """export hands run, base, version and force to export_run and prints its check."""
    import qgcam_tf.serving.export

    calls = []

    def fake(run_dir, export_dir, **kwargs):
        calls.append((run_dir, export_dir, kwargs))
        kwargs["log"]("tracing")
        return {"path": f"{export_dir}/7", "ops": 12, "max_abs_diff": 3.2e-7}

    monkeypatch.setattr(qgcam_tf.serving.export, "export_run", fake)
    base = str(tmp_path / "exports")
    assert main(["export", "--model", garbage_run, "--out", base, "--version", "7"]) == 0
    ((run, export_dir, kwargs),) = calls
    assert (run, export_dir, kwargs["version"], kwargs["force"]) == (garbage_run, base, 7, False)
    assert kwargs["method"] == "qgradcam"  # the default explain signature
    assert capsys.readouterr().out == (
        "tracing\nverified: 12 op types, all in stock TensorFlow; probabilities match the "
        "model (max |diff| 3.2e-07)\n"
    )


def test_exportable_methods_are_the_serving_tiers(monkeypatch, garbage_run, tmp_path):
    """The --method choices (known without TF) are serving's exportable methods, each passed on."""
    import qgcam_tf.serving.export
    from qgcam_tf.serving.export import exportable_methods

    assert sorted(EXPORTABLE_METHODS) == exportable_methods()
    assert "random" not in EXPORTABLE_METHODS
    seen = []

    def fake(run_dir, export_dir, **kwargs):
        seen.append(kwargs["method"])
        return {"path": export_dir, "ops": 1, "max_abs_diff": 0.0}

    monkeypatch.setattr(qgcam_tf.serving.export, "export_run", fake)
    for method in EXPORTABLE_METHODS:
        argv = ["export", "--model", garbage_run, "--out", str(tmp_path / method)]
        assert main([*argv, "--method", method]) == 0
    assert seen == list(EXPORTABLE_METHODS)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--version", "0"], "argument --version: must be an int >= 1, got '0'"),
        (["--version", "v2"], "argument --version: must be an int >= 1, got 'v2'"),
        (["--model", "MISSING"], "argument --model: run directory 'MISSING' does not exist"),
        (["--method", "random"], "argument --method: invalid choice: 'random' (choose from "),
    ],
)
def test_bad_arguments_exit_2_while_parsing(garbage_run, tmp_path, capsys, argv, message):
    """A bad version or run directory is one error line while parsing, nothing written."""
    missing = str(tmp_path / "missing")
    argv = [missing if a == "MISSING" else a for a in argv]
    with pytest.raises(SystemExit) as e:
        main(["export", "--model", garbage_run, "--out", str(tmp_path / "exports"), *argv])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"qgcam export: error: {message.replace('MISSING', missing)}"), err
    assert err.count("\n") == 1
    assert not (tmp_path / "exports").exists()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
