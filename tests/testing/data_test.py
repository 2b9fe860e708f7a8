"""qgcam_tf.testing.data: where the shared data is, and skip-or-fail when it is absent."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from qgcam_tf.testing import data
from qgcam_tf.testing.data import SHARED_DATA, shared_data

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BESIDE_CHECKOUT = os.path.join(os.path.dirname(ROOT), "shared", "data")


@pytest.fixture
def fake_data(tmp_path, monkeypatch):
    """SHARED_DATA pointed at an empty temp folder, QGCAM_REQUIRE_SHARED_DATA unset."""
    monkeypatch.setattr(data, "SHARED_DATA", str(tmp_path))
    monkeypatch.delenv("QGCAM_REQUIRE_SHARED_DATA", raising=False)
    return tmp_path


def _shared_data_in_fresh_process(env: dict) -> str:
    """SHARED_DATA as a fresh interpreter computes it at import under ``env``."""
    code = "from qgcam_tf.testing.data import SHARED_DATA; print(SHARED_DATA)"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def test_default_location_is_beside_the_checkout_and_the_variable_overrides_it(tmp_path):
    """Unset, QGCAM_SHARED_DATA defaults to ../shared/data next to the checkout; set, it wins."""
    env = {k: v for k, v in os.environ.items() if k != "QGCAM_SHARED_DATA"}
    assert _shared_data_in_fresh_process(env) == BESIDE_CHECKOUT
    assert _shared_data_in_fresh_process({**env, "QGCAM_SHARED_DATA": str(tmp_path)}) == str(
        tmp_path
    )


def test_present_paths_are_returned(fake_data):
    """A folder or file that exists comes back as SHARED_DATA joined with the parts."""
    (fake_data / "set" / "part").mkdir(parents=True)
    (fake_data / "set" / "notes.txt").write_text("x")
    assert shared_data("set", "part") == os.path.join(str(fake_data), "set", "part")
    assert shared_data("set", "notes.txt") == os.path.join(str(fake_data), "set", "notes.txt")
    assert shared_data() == str(fake_data)


@pytest.mark.parametrize("require", [None, "0", "yes"])
def test_absent_path_skips_the_test(fake_data, monkeypatch, require):
    """Absent data skips (pytest's Skipped, naming the path) unless the variable is exactly 1."""
    if require is not None:
        monkeypatch.setenv("QGCAM_REQUIRE_SHARED_DATA", require)
    missing = os.path.join(str(fake_data), "speech-mini", "timit")
    with pytest.raises(
        pytest.skip.Exception, match=f"test data {re.escape(missing)} not available$"
    ):
        shared_data("speech-mini", "timit")


def test_absent_path_fails_when_the_data_is_required(fake_data, monkeypatch):
    """Under QGCAM_REQUIRE_SHARED_DATA=1 absent data fails the test (pytest's Failed)."""
    monkeypatch.setenv("QGCAM_REQUIRE_SHARED_DATA", "1")
    with pytest.raises(
        pytest.fail.Exception, match=r"not available \(QGCAM_REQUIRE_SHARED_DATA=1\)"
    ):
        shared_data("speech-mini")


@pytest.mark.parametrize("name", ["speech-mini", "dogs-vs-cats-mini", "noise-mini"])
def test_real_sets_are_found_in_the_shared_folder(name):
    """Each set the tests read is a non-empty folder of SHARED_DATA, by default the real
    ../shared/data (skips if absent)."""
    path = shared_data(name)
    assert os.path.realpath(os.path.dirname(path)) == os.path.realpath(SHARED_DATA)
    if "QGCAM_SHARED_DATA" not in os.environ:  # the real folder beside the checkout
        assert os.path.realpath(path) == os.path.realpath(os.path.join(BESIDE_CHECKOUT, name))
    assert os.path.isdir(path) and os.listdir(path)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
