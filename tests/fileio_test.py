"""Tests for qgcam_tf.fileio: all or nothing, with the modes a plain open/mkdir would give."""

import json
import os
import stat
import sys

import pytest

from qgcam_tf.fileio import atomic_dir, atomic_path, umask, write_json_atomic


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


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
