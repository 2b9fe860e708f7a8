"""Tests for qgcam_tf.cli.main: parsing without TensorFlow, the name lists the CLI offers,
help with defaults, and one clear error line per mistake across the commands."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from qgcam_tf.cli.main import COMMANDS, main
from qgcam_tf.testing.fuzz import fake_run_dir

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAVY = ("tensorflow", "numpy", "cirq")

# Runs `python -m qgcam_tf ARGV` for each ARGV in one fresh interpreter and reports, per
# call, its exit status, its output and which of HEAVY were imported by then.
_PROBE = r"""
import contextlib, io, json, runpy, sys
heavy = json.loads(sys.argv[2])
report = {"before": [m for m in heavy if m in sys.modules], "calls": []}
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["qgcam", *argv]
    code = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_module("qgcam_tf", run_name="__main__", alter_sys=True)
        except SystemExit as e:
            code = e.code
    loaded = [m for m in heavy if m in sys.modules]
    report["calls"].append(
        {"argv": argv, "code": code, "out": out.getvalue(), "err": err.getvalue(), "loaded": loaded}
    )
print(json.dumps(report))
"""


def probe(argvs):
    """Runs each argv through `python -m qgcam_tf` in one fresh process; returns the report."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argvs), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return json.loads(proc.stdout)


def test_help_version_and_argument_errors_import_no_tensorflow_numpy_or_cirq(tmp_path):
    """--help, --version and a bad argument of every command leave TF, NumPy and Cirq unloaded."""
    fake = tmp_path / "run"  # a run directory as far as parsing checks
    fake_run_dir(fake)
    run, out, missing = str(fake), str(tmp_path / "out"), str(tmp_path / "missing")
    errors = {
        "benchmark": (
            ["--out", out, "--repeats", "x"],
            "argument --repeats: must be an int in [1, 1000], got 'x'",
        ),
        "evaluate": (
            ["--model", run, "--out", out, "--metrics", "pointing_game"],
            "argument --metrics: choose from deletion, insertion, avg_drop, increase, road, "
            "stability, faithfulness_correlation, pixel_flipping, max_sensitivity, "
            "avg_sensitivity, sparseness, complexity, randomisation, region_perturbation, "
            "localisation, none; got 'pointing_game'",
        ),
        "explain": (
            ["--model", run, "--out", out, "--class-index", "-2"],
            "argument --class-index: must be a class index >= 0, or -1 for the predicted class, "
            "got '-2'",
        ),
        "explain-batch": (
            ["--export", run, "--input", "*.png", "--out", out, "--batch-size", "0"],
            "argument --batch-size: must be an int in [1, 4096], got '0'",
        ),
        "export": (
            ["--model", run, "--out", out, "--version", "0"],
            "argument --version: must be an int >= 1, got '0'",
        ),
        "noise": (
            ["--model", run, "--out", out, "--method", "exact"],
            "argument --method: invalid choice: 'exact'",
        ),
        "predict": (
            ["--model", missing, "--images", run],
            f"argument --model: run directory {missing!r} does not exist",
        ),
        "train": (
            ["--out", out, "--learning-rate", "nan"],
            "argument --learning-rate: must be a finite number > 0",
        ),
    }
    assert sorted(errors) == sorted(COMMANDS)  # one bad argument for every command
    helps = [["--help"]] + [[c, "--help"] for c in COMMANDS]
    bad = [[c, *errors[c][0]] for c in COMMANDS] + [["nope"], []]
    report = probe(helps + [["--version"]] + bad)
    assert report["before"] == []  # the probe itself imports none of them
    calls = report["calls"]
    for call in calls:
        assert call["loaded"] == [], call["argv"]
    for call in calls[: len(helps)]:
        assert call["code"] == 0 and call["err"] == "", call
        prog = " ".join(["qgcam", *call["argv"][:-1]])
        assert call["out"].startswith(f"usage: {prog} "), call["out"][:80]
    version = calls[len(helps)]
    from qgcam_tf import __version__

    assert version["code"] == 0 and version["out"] == f"qgcam_tf {__version__}\n"
    for call, command in zip(calls[len(helps) + 1 :], COMMANDS, strict=False):
        message = errors[command][1]
        assert call["code"] == 2 and call["out"] == "", call
        assert call["err"].startswith(f"qgcam {command}: error: {message}"), call["err"]
        assert call["err"].count("\n") == 1, call["err"]  # one line, no usage block
    unknown, empty = calls[-2:]
    assert unknown["code"] == 2 and unknown["err"].startswith(
        "qgcam: error: argument command: invalid choice: 'nope'"
    )
    assert empty["code"] == 2
    assert empty["err"] == "qgcam: error: the following arguments are required: command\n"


def test_name_lists_known_without_tensorflow_equal_the_registries():
    """The CLI's choices (no TF needed) are exactly the CAM, preset and method names (the
    metric names are the library's own tuple; faithfulness_test checks their columns)."""
    import qgcam_tf.explain
    import qgcam_tf.noise
    from qgcam_tf.explain.cams import CAM_METHODS
    from qgcam_tf.noise.model import METHODS
    from qgcam_tf.noise.presets import presets

    assert qgcam_tf.explain.METHOD_NAMES == tuple(CAM_METHODS)
    assert qgcam_tf.noise.PRESET_NAMES == presets()
    assert qgcam_tf.noise.SIMULATION_METHODS == METHODS


def help_text(capsys, *argv) -> str:
    """The help of `qgcam ARGV --help` (exit 0), raw."""
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    return capsys.readouterr().out


def flat(text: str) -> str:
    """``text`` with every run of whitespace made one space (help wraps at the terminal width)."""
    return " ".join(text.split())


def test_help_shows_defaults_where_they_say_something(capsys):
    """Options show '(default: X)' once; flags, empty lists and None show none."""
    train = flat(help_text(capsys, "train"))
    recipe = "(default: the dataset's recipe, below)"  # qgcam_tf/model/recipes.py
    assert re.search(r"epochs of training in all.{0,40}" + re.escape(recipe), train)
    assert re.search(r"Adam's \(peak\) step size.{0,40}" + re.escape(recipe), train)
    assert re.search(r"examples per step.{0,40}" + re.escape(recipe), train)
    assert f"VQC executor to train on, same weights either way {recipe} " in train
    assert train.count("(default: the dataset's recipe") == 7  # once per recipe flag
    assert re.search(r"seed of weights, shuffling and splits \(default: 0\)", train)
    assert "(default: False)" not in train and "(default: True)" not in train  # flags
    assert "(default: [])" not in train and "repeatable (default" not in train  # --option
    assert "(default: None)" not in train
    assert train.count("(default: recompute") == 1  # --no-recalibrate-bn says it itself
    evaluate = flat(help_text(capsys, "evaluate"))
    assert (
        "(default: qgradcam integrated gradcam++ hirescam layercam scorecam random centre)"
        in evaluate
    )
    assert "methods run on the twin (default: gradcam random)" in evaluate
    noise = flat(help_text(capsys, "noise"))
    assert "(default: 0.0 0.01 0.02 0.05)" in noise
    assert noise.count("(default: none)") == 1 and "[None]" not in noise


def test_train_help_lists_every_dataset_option_as_written(capsys):
    """The train epilog holds one line per dataset option, keys spelt with '-', kept unwrapped."""
    from qgcam_tf.data import DATASET_OPTIONS

    lines = help_text(capsys, "train").splitlines()
    start = lines.index("dataset options (--option KEY=VALUE, repeatable):")
    expected = []
    for dataset, options in DATASET_OPTIONS.items():
        expected += [f"  {dataset}: none"] if not options else []
        expected += [f"  {dataset}: {k.replace('_', '-')}: {t}" for k, t in options.items()]
    assert lines[start + 1 : start + 1 + len(expected)] == expected
    assert lines[start + 1 + len(expected) :][:2] == [
        "",
        "recipes (what a dataset trains with when these flags are left out):",
    ]  # then one line per dataset (tests/cli/train_test.py)
    assert "  speech: snr-db: SNR of the noisy clips in dB, a number or LOW:HIGH (default 5)" in (
        expected
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--dataset", "cifar", "--out", "X"], "invalid choice: 'cifar'"),
        (["train", "--out", "X", "--epochs", "0"], "must be an int .*, got '0'"),
        (["train", "--out", "X", "--option", "snr-db=5"], "mnist has no option 'snr-db'"),
        (["predict", "--model", "RUN", "--images", "/no/such.png"], "'/no/such.png': not found"),
        (["predict", "--model", "/no/run", "--images", "a.png"], "'/no/run' does not exist"),
        (["predict", "--model", "RUN", "--images", "WRONG"], r"shape \[B, 28, 28, 1\]"),
        (["predict", "--model", "RUN", "--images", "NAN"], "NaN"),
        (
            [
                "explain",
                "--model",
                "RUN",
                "--out",
                "O",
                "--dataset",
                "mnist",
                "--class-index",
                "10",
            ],
            r"--class-index: must be a class index in \[0, 9\]",
        ),
        (["explain", "--model", "RUN", "--out", "O", "--count", "0"], "must be an int >= 1"),
        (["explain", "--model", "RUN", "--out", "O", "--method", "nope"], "invalid choice: 'nope'"),
    ],
)
def test_errors_are_one_line(run_dir, tmp_path, capfd, args, message):
    """Each bad argument or input gives exactly one stderr line naming it and exit code 2."""
    np.save(tmp_path / "wrong.npy", np.zeros((1, 20, 28, 1), np.float32))
    nan = np.zeros((1, 28, 28, 1), np.float32)
    nan[0, 1, 1] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    subst = {
        "RUN": run_dir,
        "WRONG": str(tmp_path / "wrong.npy"),
        "NAN": str(tmp_path / "nan.npy"),
        "X": str(tmp_path / "x"),
        "O": str(tmp_path / "o"),
    }
    try:  # in-process (a subprocess per case costs a TensorFlow start-up each)
        rc = main([subst.get(a, a) for a in args])
    except SystemExit as e:  # argparse's own errors
        rc = e.code
    err = capfd.readouterr().err
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("qgcam") and "Traceback" not in err
    assert re.search(message, lines[0]), lines[0]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
