"""Tests for qgcam_tf.fileio: all or nothing, with the modes a plain open/mkdir would give."""

import errno
import json
import os
import stat
import subprocess
import sys

import pytest

import qgcam_tf.fileio
from qgcam_tf.fileio import (
    atomic_dir,
    atomic_path,
    exchange_paths,
    pid_alive,
    remove_stale,
    temp_prefix,
    umask,
    write_json_atomic,
)


@pytest.fixture(params=[0o022, 0o027, 0o077])
def mask(request):
    """Runs the test under each umask, and restores the process's own afterwards."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_umask_reads_the_mask_without_changing_it(mask):
    """umask() returns the mask in force and leaves it in force."""
    assert umask() == mask
    assert umask() == mask


def test_atomic_path_writes_the_file_with_the_umask_mode(tmp_path, mask):
    """The renamed file has mode 0666 & ~umask, as open() would create it, and holds the data."""
    target = tmp_path / "sub" / "out.csv"
    with atomic_path(str(target)) as tmp:
        assert tmp.endswith(".csv") and os.path.dirname(tmp) == str(target.parent)
        with open(tmp, "w") as f:
            f.write("a,b\n")
    assert target.read_text() == "a,b\n"
    assert _mode(target) == 0o666 & ~mask
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert _mode(target) == _mode(plain)
    assert sorted(os.listdir(target.parent)) == ["out.csv"]


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path):
    """An exception leaves the previous content in place and no temporary file behind."""
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_path(str(target)) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_atomic_path_keeps_an_explicit_suffix(tmp_path):
    """suffix= names the temporary file for writers that need an extension."""
    with atomic_path(str(tmp_path / "w"), suffix=".weights.h5") as tmp:
        assert tmp.endswith(".weights.h5")
        open(tmp, "w").close()
    assert (tmp_path / "w").exists()


def test_atomic_dir_renames_a_complete_folder_with_the_umask_mode(tmp_path, mask):
    """The folder appears whole, with mode 0777 & ~umask, as mkdir would create it."""
    target = tmp_path / "export" / "1"
    with atomic_dir(str(target)) as tmp:
        assert not target.exists()
        with open(os.path.join(tmp, "saved_model.pb"), "w") as f:
            f.write("pb")
    assert (target / "saved_model.pb").read_text() == "pb"
    assert _mode(target) == 0o777 & ~mask
    plain = tmp_path / "plain"
    plain.mkdir()
    assert _mode(target) == _mode(plain)


def test_atomic_dir_leaves_nothing_when_the_writer_fails(tmp_path):
    """An exception removes the half-written folder; the target never appears."""
    with pytest.raises(RuntimeError):
        with atomic_dir(str(tmp_path / "v1")) as tmp:
            open(os.path.join(tmp, "part"), "w").close()
            raise RuntimeError("killed")
    assert os.listdir(tmp_path) == []


def test_write_json_atomic_round_trips(tmp_path, mask):
    """write_json_atomic writes indented JSON that reads back equal, with the umask mode."""
    obj = {"accuracy": 0.975, "classes": ["a", "b"], "nested": {"n": 3}}
    path = tmp_path / "m.json"
    write_json_atomic(str(path), obj)
    assert json.loads(path.read_text()) == obj
    assert path.read_text().endswith("}\n")
    assert _mode(path) == 0o666 & ~mask


def _dead_pid() -> int:
    """The pid of a child that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


def _tree(root) -> dict:
    """``{relative path: file content}`` of every file under ``root``."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, root)] = open(path).read()
    return out


def _make(root, files: dict) -> None:
    for rel, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "w") as f:
            f.write(text)


OLD = {"saved_model.pb": "old", "variables/v.index": "old index"}
NEW = {"saved_model.pb": "new", "assets.extra/qgcam.json": "{}"}


def test_temporary_names_carry_the_pid(tmp_path):
    """atomic_path and atomic_dir name their temporaries .tmp-<pid>-*, this process's pid."""
    assert temp_prefix() == f".tmp-{os.getpid()}-"
    with atomic_path(str(tmp_path / "a.json")) as tmp:
        assert os.path.basename(tmp).startswith(f".tmp-{os.getpid()}-")
        open(tmp, "w").close()
    with atomic_dir(str(tmp_path / "d")) as tmp:
        assert os.path.basename(tmp).startswith(f".tmp-{os.getpid()}-")
    assert sorted(os.listdir(tmp_path)) == ["a.json", "d"]


def test_pid_alive_tells_live_dead_and_zombie_processes():
    """This process is alive; a reaped child is not; an exited child not yet reaped (a
    zombie, as a SIGKILLed export is until its parent waits) is not either."""
    assert pid_alive(os.getpid())
    assert not pid_alive(_dead_pid())
    proc = subprocess.Popen([sys.executable, "-c", ""])
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, still unreaped
    try:
        assert not pid_alive(proc.pid)
    finally:
        proc.wait()


@pytest.mark.parametrize("pid", [0, -3, True, "12", 1.0])
def test_pid_alive_rejects_what_is_not_a_pid(pid):
    """A pid that is not a positive int is a ValueError naming it."""
    with pytest.raises(ValueError, match=f"pid must be a positive int, got {pid!r}"):
        pid_alive(pid)


def test_remove_stale_removes_dead_writers_leftovers_only(tmp_path):
    """Temporaries of dead processes go; those of live ones, and .tmp- names without a pid,
    stay; an old tree moved aside by a dead writer is put back if its name is free and
    deleted if not."""
    dead, live = _dead_pid(), os.getpid()
    _make(tmp_path / f".tmp-{dead}-abc", NEW)
    (tmp_path / f".tmp-{dead}-x.json").write_text("half")
    _make(tmp_path / f".tmp-{live}-def", NEW)
    _make(tmp_path / ".tmp-nopid", NEW)
    _make(tmp_path / f"1.replaced-{dead}", OLD)  # killed between the fallback's renames
    _make(tmp_path / f"2.replaced-{dead}", OLD)  # killed after the new version was in
    _make(tmp_path / "2", NEW)
    _make(tmp_path / f"3.replaced-{live}", OLD)
    handled = remove_stale(str(tmp_path))
    assert handled == sorted(
        [f".tmp-{dead}-abc", f".tmp-{dead}-x.json", f"1.replaced-{dead}", f"2.replaced-{dead}"]
    )
    assert sorted(os.listdir(tmp_path)) == sorted(
        [f".tmp-{live}-def", ".tmp-nopid", "1", "2", f"3.replaced-{live}"]
    )
    assert _tree(tmp_path / "1") == OLD and _tree(tmp_path / "2") == NEW
    assert remove_stale(str(tmp_path / "missing")) == []
    (tmp_path / "file").write_text("x")
    assert remove_stale(str(tmp_path / "file")) == [] and (tmp_path / "file").read_text() == "x"


def test_exchange_paths_swaps_two_trees(tmp_path):
    """After exchange_paths each name holds the other's complete tree; a missing name is
    an OSError with ENOENT and changes nothing."""
    _make(tmp_path / "a", OLD)
    _make(tmp_path / "b", NEW)
    exchange_paths(str(tmp_path / "a"), str(tmp_path / "b"))
    assert _tree(tmp_path / "a") == NEW and _tree(tmp_path / "b") == OLD
    with pytest.raises(OSError) as e:
        exchange_paths(str(tmp_path / "a"), str(tmp_path / "missing"))
    assert e.value.errno == errno.ENOENT
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]


@pytest.mark.parametrize("exchange", ["renameat2", "two renames"])
def test_atomic_dir_replaces_a_tree_completely(tmp_path, monkeypatch, mask, exchange):
    """replace=True puts the new tree in place of the old one (umask mode, no old file
    left, nothing else left), by an exchange or, where that is missing, by the fallback."""
    steps, seen = [], []
    if exchange == "two renames":
        unsupported = OSError(errno.ENOSYS, "renameat2 is not available")
        monkeypatch.setattr(qgcam_tf.fileio, "exchange_paths", lambda a, b: _raise(unsupported))

    def on_step(step):
        steps.append(step)
        seen.append(sorted(os.listdir(tmp_path)))
        if step == "swapped":
            assert _tree(target) == NEW

    target = tmp_path / "1"
    _make(target, OLD)
    with atomic_dir(str(target), replace=True, on_step=on_step) as tmp:
        _make(tmp, NEW)
        assert _tree(target) == OLD  # untouched until the block ends
    assert _tree(target) == NEW and _mode(target) == 0o777 & ~mask
    assert os.listdir(tmp_path) == ["1"]
    if exchange == "renameat2":
        assert steps == ["swapped"]
        # At "swapped" the new tree is at "1" and the old one at the temporary name.
        assert seen[0][1] == "1" and seen[0][0].startswith(temp_prefix())
    else:
        assert steps == ["moved-aside", "swapped"]
        assert seen[0][0].startswith(temp_prefix()) and seen[0][1] == f"1.replaced-{os.getpid()}"


def _raise(error):
    raise error


def test_the_fallback_puts_the_old_tree_back_when_the_new_one_cannot_go_in(tmp_path, monkeypatch):
    """Without the exchange, a failure after the old tree was moved aside renames it back:
    the old version is in place and nothing is left over."""
    monkeypatch.setattr(
        qgcam_tf.fileio, "exchange_paths", lambda a, b: _raise(OSError(errno.EINVAL, "no"))
    )

    def on_step(step):
        if step == "moved-aside":
            raise RuntimeError("interrupted")

    target = tmp_path / "1"
    _make(target, OLD)
    with pytest.raises(RuntimeError, match="interrupted"):
        with atomic_dir(str(target), replace=True, on_step=on_step) as tmp:
            _make(tmp, NEW)
    assert _tree(target) == OLD and os.listdir(tmp_path) == ["1"]


def test_atomic_dir_without_replace_refuses_an_existing_tree(tmp_path):
    """replace=False and an existing path: FileExistsError when publishing, the old tree
    untouched, the new one removed."""
    target = tmp_path / "1"
    _make(target, OLD)
    with pytest.raises(FileExistsError, match="1' exists"):
        with atomic_dir(str(target)) as tmp:
            _make(tmp, NEW)
    assert _tree(target) == OLD and os.listdir(tmp_path) == ["1"]


def test_a_folder_that_appears_while_writing_is_not_replaced(tmp_path):
    """replace=False and a folder created at the path meanwhile (a concurrent writer), even
    an empty one: FileExistsError, that folder kept as it is, the new tree removed."""
    target = tmp_path / "1"
    with pytest.raises(FileExistsError, match="1' exists"):
        with atomic_dir(str(target)) as tmp:
            _make(tmp, NEW)
            target.mkdir()
    assert os.listdir(target) == [] and os.listdir(tmp_path) == ["1"]


def test_a_failure_inside_the_block_keeps_the_old_tree(tmp_path):
    """With replace=True an exception while writing leaves the old tree and no temporary."""
    target = tmp_path / "1"
    _make(target, OLD)
    with pytest.raises(ValueError, match="check failed"):
        with atomic_dir(str(target), replace=True) as tmp:
            _make(tmp, NEW)
            raise ValueError("check failed")
    assert _tree(target) == OLD and os.listdir(tmp_path) == ["1"]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
