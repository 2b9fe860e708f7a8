"""Tests for qgcam_tf.cli.export: its own checks and the call it makes.

Exports themselves run end to end in tests/serving/export_test.py.
"""

import contextlib
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading

import pytest

from qgcam_tf.cli.export import EXPORTABLE_METHODS
from qgcam_tf.cli.main import main
from qgcam_tf.testing.exports import tiny_run


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


def test_layer_is_passed_on_and_checked_against_the_run(garbage_run, tmp_path, monkeypatch, capfd):
    """--layer defaults to CONV_LAYER and reaches export_run; a name that is no layer of the
    run's model.json is one error line before anything loads."""
    import qgcam_tf.serving.export
    from qgcam_tf.cli.export import DEFAULT_LAYER
    from qgcam_tf.model.hybrid import CONV_LAYER

    assert DEFAULT_LAYER == CONV_LAYER
    seen = []

    def fake(run_dir, export_dir, **kwargs):
        seen.append(kwargs["layer"])
        return {"path": export_dir, "ops": 1, "max_abs_diff": 0.0}

    monkeypatch.setattr(qgcam_tf.serving.export, "export_run", fake)
    argv = ["export", "--model", garbage_run, "--out", str(tmp_path / "exports")]
    assert main(argv) == 0 and main([*argv, "--force", "--layer", "conv0"]) == 0
    assert seen == [CONV_LAYER, "conv0"]
    capfd.readouterr()
    assert main([*argv, "--force", "--layer", "nope"]) == 2
    line = one_error_line(capfd)
    assert line.startswith("qgcam export: error: --layer: the run's model has no layer 'nope'")
    assert seen == [CONV_LAYER, "conv0"]


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


# --- Kill-safety of `qgcam export --force` -------------------------------------------------
# Each run is a real `python -m qgcam_tf export --force` subprocess that SIGKILLs itself at
# one point (QGCAM_EXPORT_KILL_AT, the test hook of qgcam_tf.serving.export), while a reader
# thread polls every export base until all the processes are reaped.

KILL_AT_ENV = "QGCAM_EXPORT_KILL_AT"
# Kill point -> the method that version 1 names after the kill ("old": the old version).
KILL_POINTS = {
    "warmup": "old",  # mid-write: the SavedModel is in the temporary, its assets are not
    "verifying": "old",  # written, not yet checked
    "publishing": "old",  # checked, not yet swapped in
    "swapped": "centre",  # swapped in, the old tree not yet deleted
}
# The fallback without renameat2 (switched off by a sitecustomize): killed between its two
# renames, where version 1 is missing until the next export puts it back.
FALLBACK = "moved-aside"
COMPLETE = (
    "saved_model.pb",
    "variables/variables.index",
    "variables/variables.data-00000-of-00001",
    "assets.extra/tf_serving_warmup_requests",
    "assets.extra/qgcam.json",
)
NO_EXCHANGE = (
    "import errno\n"
    "import qgcam_tf.fileio\n\n\n"
    "def _no_exchange(a, b):\n"
    "    raise OSError(errno.ENOSYS, 'renameat2 switched off by tests/cli/export_test.py')\n\n\n"
    "qgcam_tf.fileio.exchange_paths = _no_exchange\n"
)


def _old_version(version_dir) -> dict:
    """Writes a stand-in old version (every file of a complete one; nothing loads it) whose
    qgcam.json names the method "old"; returns its files."""
    files = {rel: f"old {rel}".encode() for rel in COMPLETE}
    files["assets.extra/qgcam.json"] = json.dumps({"method": "old"}).encode()
    for rel, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(version_dir, rel)), exist_ok=True)
        with open(os.path.join(version_dir, rel), "wb") as f:
            f.write(data)
    return files


def _files(root) -> dict:
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as f:
                out[os.path.relpath(os.path.join(dirpath, name), root)] = f.read()
    return out


def _served_method(version_dir) -> str | None:
    """The method of the version at ``version_dir`` if it is complete, else None. The files
    are looked up through one directory descriptor, so in one tree even if the name moves."""
    try:
        fd = os.open(version_dir, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return None
    try:
        for rel in COMPLETE:
            os.stat(rel, dir_fd=fd)
        with open(os.open(COMPLETE[-1], os.O_RDONLY, dir_fd=fd)) as f:
            return json.load(f)["method"]
    except (FileNotFoundError, ValueError, KeyError):
        return None
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def killed_exports(tmp_path_factory):
    """Runs one `qgcam export --force --method centre` per kill point in parallel (umask
    022), polling the bases until all are reaped, then the next `qgcam export` on each base
    (it refuses, the version existing, after cleaning). Returns per point: the base, the old
    files, the exit status, stdout, what the reader saw, and the listings after the kill and
    after the next export."""
    root = tmp_path_factory.mktemp("killed")
    run = tiny_run(tmp_path_factory.getbasetemp())
    (root / "no_exchange").mkdir()
    (root / "no_exchange" / "sitecustomize.py").write_text(NO_EXCHANGE)
    runs = {}
    for point in [*KILL_POINTS, FALLBACK]:
        base = root / point
        old = _old_version(base / "1")
        env = {**os.environ, KILL_AT_ENV: point}
        if point == FALLBACK:
            env["PYTHONPATH"] = os.pathsep.join(
                [str(root / "no_exchange"), env.get("PYTHONPATH", "")]
            )
        out = open(root / f"{point}.out", "w")
        argv = ["export", "--model", run, "--out", str(base), "--force", "--method", "centre"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "qgcam_tf", *argv],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            umask=0o022,
        )
        runs[point] = {"base": str(base), "old": old, "proc": proc, "out": out, "seen": {}}

    stop = threading.Event()

    def read():
        while not stop.is_set():
            for r in runs.values():
                method = _served_method(os.path.join(r["base"], "1"))
                r["seen"][method] = r["seen"].get(method, 0) + 1
            stop.wait(0.0005)  # pacing only, to leave the CPU to the exports

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for r in runs.values():
            r["returncode"] = r["proc"].wait(timeout=900)
    finally:
        stop.set()
        reader.join()
        for r in runs.values():
            if r["proc"].poll() is None:  # only after a timeout
                r["proc"].kill()
            r["out"].close()
    for point, r in runs.items():
        r["stdout"] = (root / f"{point}.out").read_text()
        r["after_kill"] = sorted(os.listdir(r["base"]))
        r["method_after_kill"] = _served_method(os.path.join(r["base"], "1"))
        with contextlib.redirect_stderr(io.StringIO()) as err:
            r["next_status"] = main(["export", "--model", run, "--out", r["base"]])
        r["next_error"] = err.getvalue()
        r["after_next"] = sorted(os.listdir(r["base"]))
        r["method_after_next"] = _served_method(os.path.join(r["base"], "1"))
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_killed_force_export_always_leaves_a_complete_version(killed_exports, point):
    """SIGKILL at each point of `qgcam export --force`: the reader always found version 1
    complete (old, or new once swapped), the old files are byte-identical until the swap,
    and the progress lines name every stage up to the kill."""
    r = killed_exports[point]
    assert r["returncode"] == -signal.SIGKILL, r["stdout"][-3000:]
    assert None not in r["seen"], r["seen"]
    assert sum(r["seen"].values()) > 50, r["seen"]  # the reader really polled meanwhile
    assert set(r["seen"]) <= {"old", "centre"}
    assert r["method_after_kill"] == KILL_POINTS[point]
    if KILL_POINTS[point] == "old":
        assert set(r["seen"]) == {"old"}
        assert _files(os.path.join(r["base"], "1")) == r["old"]
    stages = ["loading", "tracing", "saving", "warmup", "verifying", "publishing"]
    last = stages.index(point) if point in stages else len(stages) - 1
    lines = [line for line in r["stdout"].splitlines() if re.match(r"\[\d/6\] ", line)]
    assert [line.split()[1] for line in lines] == [f"{s}:" for s in stages[: last + 1]]
    assert [line.split("]")[0] for line in lines] == [f"[{i + 1}/6" for i in range(last + 1)]


@pytest.mark.slow
@pytest.mark.parametrize("point", [*KILL_POINTS, FALLBACK])
def test_no_temporary_outlives_the_next_export(killed_exports, point):
    """A kill leaves only the dead process's own temporaries (.tmp-<pid>-*, and on the
    fallback <version>.replaced-<pid>); the next `qgcam export` removes them (it then
    refuses, the version existing), and the base holds version 1 alone."""
    r = killed_exports[point]
    pid = r["proc"].pid
    litter = [name for name in r["after_kill"] if name != "1"]
    assert litter, r["after_kill"]
    for name in litter:
        assert name.startswith(f".tmp-{pid}-") or name == f"1.replaced-{pid}", name
    assert r["next_status"] == 2
    assert "exists; pass --force to replace it" in r["next_error"]
    assert r["after_next"] == ["1"]
    assert r["method_after_next"] == KILL_POINTS.get(point, "old")


@pytest.mark.slow
def test_without_renameat2_a_kill_in_the_gap_is_repaired_by_the_next_export(killed_exports):
    """On the documented fallback (two renames), a kill between them leaves no version 1,
    the old one at 1.replaced-<pid>; the next export renames it back, byte-identical."""
    r = killed_exports[FALLBACK]
    assert r["returncode"] == -signal.SIGKILL, r["stdout"][-3000:]
    assert r["method_after_kill"] is None
    assert f"1.replaced-{r['proc'].pid}" in r["after_kill"]
    assert r["after_next"] == ["1"]
    assert _files(os.path.join(r["base"], "1")) == r["old"]


@pytest.mark.slow
def test_an_export_made_under_umask_022_is_readable_by_everyone(killed_exports):
    """The version published by `qgcam export` under umask 022 has every directory 0755
    and every file 0644, as a server running as another user needs."""
    version = os.path.join(killed_exports["swapped"]["base"], "1")
    modes = {}
    for dirpath, dirnames, filenames in os.walk(version):
        for name in [".", *dirnames, *filenames]:
            path = os.path.normpath(os.path.join(dirpath, name))
            modes[os.path.relpath(path, version)] = stat.S_IMODE(os.stat(path).st_mode)
    assert {"saved_model.pb", "variables", "assets.extra", "assets.extra/qgcam.json"} <= set(modes)
    want = {rel: 0o755 if os.path.isdir(os.path.join(version, rel)) else 0o644 for rel in modes}
    assert {rel: oct(m) for rel, m in modes.items()} == {rel: oct(m) for rel, m in want.items()}


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
