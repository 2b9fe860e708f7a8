"""The fuzz test: every bad input of qgcam_tf.testing.fuzz is refused cleanly.

A CLI case must exit 2 with exactly one stderr line (no traceback) that matches its message,
and leave its working directory as it was; a signature case must raise INVALID_ARGUMENT.
Most CLI cases run in this process through ``main`` (a subprocess each would cost a
TensorFlow start-up); a few run ``python -m qgcam_tf``, and the permission cases run in a
subprocess without root's permission override (``setpriv``), so they hold for root too.
"""

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from qgcam_tf.cli.main import COMMANDS, main
from qgcam_tf.testing.fuzz import (
    build_world,
    cli_cases,
    expand,
    prepare_case,
    signature_cases,
    snapshot,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI_CASES = cli_cases()
SIGNATURE_CASES = signature_cases()
MIN_CASES = 300
# TensorFlow's native log lines ("2026-01-01 10:00:00.000000: E tensorflow/..."). The CLI
# silences them (TF_CPP_MIN_LOG_LEVEL=3 before TensorFlow loads, checked by the subprocess
# cases), but in this process TensorFlow was loaded by the test session with its own level.
NATIVE_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] \S+\.cc:\d+\].*\n?", re.M)


def params(cases):
    """pytest params of ``cases``, a case with an xfail_reason marked as a strict xfail."""
    return [
        pytest.param(
            c,
            id=c.name,
            marks=[pytest.mark.xfail(strict=True, reason=f"{c.owner}: {c.xfail_reason}")]
            if c.xfail_reason
            else [],
        )
        for c in cases
    ]


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """The catalogue's runs and files, written once per session."""
    return build_world(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def world_content(world):
    """The content digests of the shared files when the session first used them."""
    return snapshot(world.root)


def test_the_catalogue_covers_every_command_and_prints_its_size(capsys):
    """At least 300 cases, every subcommand among them, names unique; the count is printed."""
    total = len(CLI_CASES) + len(SIGNATURE_CASES)
    commands = {c.argv[0] for c in CLI_CASES if c.argv}
    assert set(COMMANDS) <= commands
    assert {c.signature for c in SIGNATURE_CASES} == {"serving_default", "explain"}
    names = [c.name for c in CLI_CASES] + [c.name for c in SIGNATURE_CASES]
    assert len(set(names)) == len(names)
    assert total >= MIN_CASES
    known = sum(bool(c.xfail_reason) for c in CLI_CASES + SIGNATURE_CASES)
    with capsys.disabled():
        print(
            f"\nfuzz: {total} bad inputs ({len(CLI_CASES)} command lines, "
            f"{len(SIGNATURE_CASES)} signature requests), {known} known failures"
        )


def test_the_cheap_snapshot_sees_writes_and_replacements(tmp_path):
    """snapshot(content=False) changes when a file's time, size or inode does (a write, or
    a rename over it), and names the same paths as the content snapshot."""
    (tmp_path / "sub").mkdir()
    target = tmp_path / "sub" / "a.txt"
    target.write_text("one")
    os.utime(target, ns=(10**18, 10**18))
    first = snapshot(str(tmp_path), content=False)
    assert set(first) == set(snapshot(str(tmp_path))) == {"sub", os.path.join("sub", "a.txt")}
    os.utime(target, ns=(10**18, 10**18 + 1))  # a write in place moves the time
    assert snapshot(str(tmp_path), content=False) != first
    os.utime(target, ns=(10**18, 10**18))
    assert snapshot(str(tmp_path), content=False) == first
    other = tmp_path / "b.txt"
    other.write_text("two")
    os.utime(other, ns=(10**18, 10**18))
    os.replace(other, target)  # same size and time, another inode
    assert snapshot(str(tmp_path), content=False) != first


def _subprocess(argv, cwd, *, unprivileged: bool):
    """``python -m qgcam_tf ARGV`` in ``cwd``: (exit status, stdout, stderr)."""
    prefix = []
    if unprivileged and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "the permission cases need setpriv (util-linux) when run as root"
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]
    env = dict(os.environ, PYTHONPATH=ROOT, TF_USE_LEGACY_KERAS="1")
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "qgcam_tf", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("case", params(CLI_CASES))
def test_bad_command_line_exits_2_with_one_line_and_no_output(
    case, world, world_content, tmp_path, capfd, monkeypatch
):
    """The case exits 2, prints one matching stderr line, and changes nothing on disk."""
    case_dir = str(tmp_path / "case")
    os.makedirs(case_dir)
    prepare_case(case, case_dir, world)
    argv = expand(case.argv, world.paths(case_dir))
    before = snapshot(case_dir)
    files_before = snapshot(world.root, content=False)
    for key, value in case.env:  # e.g. a bad TF_CONFIG
        monkeypatch.setenv(key, value)
    if case.mode == "in-process":
        monkeypatch.chdir(case_dir)
        capfd.readouterr()
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's own errors
            code = e.code
        _, err = capfd.readouterr()
        err = NATIVE_LOG.sub("", err).lstrip("\n")
    else:
        code, _, err = _subprocess(argv, case_dir, unprivileged=case.mode == "unprivileged")
    for name in ("locked", "secret.png"):  # let pytest clean up
        if os.path.lexists(os.path.join(case_dir, name)):
            os.chmod(os.path.join(case_dir, name), 0o755)
    assert code == 2, (code, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    assert err.endswith("\n") and err.count("\n") == 1, err[-2000:]
    assert err.startswith("qgcam"), err
    assert re.search(case.message, err), (case.message, err)
    after = snapshot(case_dir)
    if case.setup and "locked" in case.setup:  # its mode was restored above
        after.pop("locked", None), before.pop("locked", None)
    if "secret" in case.setup:
        after.pop("secret.png", None), before.pop("secret.png", None)
    assert after == before, sorted(set(after.items()) ^ set(before.items()))
    # the shared files are never touched (their contents: in the test after the cases)
    assert snapshot(world.root, content=False) == files_before
    assert not os.path.exists(os.path.join(world.files, "PICKLE-RAN"))  # no pickle was run


def test_no_case_changed_the_shared_files(world, world_content):
    """After every command-line case, the shared runs and files hold what they held before
    the first (each case compared their sizes and times; this compares their contents)."""
    assert snapshot(world.root) == world_content


@pytest.fixture(scope="module")
def signatures(tmp_path_factory):
    """The tiny export's two signatures, loaded once."""
    import tensorflow as tf

    from qgcam_tf.testing.exports import tiny_export

    export = tiny_export(tmp_path_factory.getbasetemp())
    loaded = tf.saved_model.load(export.version_dir)
    return loaded, dict(loaded.signatures)


def test_the_tiny_export_answers_a_good_request(signatures):
    """A good request is answered (the bad ones below fail for their badness alone)."""
    import tensorflow as tf

    _, sigs = signatures
    images = tf.constant(np.full((2, 8, 8, 1), 0.5, np.float32))
    probs = sigs["serving_default"](images=images)["probabilities"].numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    out = sigs["explain"](images=images, class_index=tf.constant([-1, 0], tf.int64))
    assert np.all(np.isfinite(out["heatmap"].numpy()))


@pytest.mark.parametrize("case", params(SIGNATURE_CASES))
def test_bad_tensor_is_invalid_argument(case, signatures):
    """The signature refuses the request with INVALID_ARGUMENT (a bad dtype: while binding)."""
    import tensorflow as tf

    _, sigs = signatures
    images = case.images()
    kwargs = {"images": tf.constant(images)}
    if case.signature == "explain":
        if case.class_index is None:
            batch = images.shape[0] if images.ndim else 1
            index = np.full([batch], -1, np.int64)
        else:
            index = case.class_index()
        kwargs["class_index"] = tf.constant(index)
    refused = (tf.errors.InvalidArgumentError,)
    if case.binding:
        refused += (TypeError, ValueError)
    with pytest.raises(refused):
        result = sigs[case.signature](**kwargs)
        pytest.fail(f"accepted: { ({k: v.numpy() for k, v in result.items()}) }")  # noqa: PT017


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
