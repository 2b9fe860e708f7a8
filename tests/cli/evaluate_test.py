"""Tests for qgcam_tf.cli.evaluate: what the command parses and hands to write_evaluation.

The evaluation itself runs end to end in tests/evaluate/faithfulness_test.py; here the
library call is replaced by a recorder, so each case costs no model loading.
"""

import sys

import pytest

from qgcam_tf.cli.evaluate import TWIN_METHODS
from qgcam_tf.cli.main import main
from qgcam_tf.evaluate import METRIC_NAMES
from qgcam_tf.explain import METHOD_NAMES
from qgcam_tf.testing.fuzz import fake_run_dir


@pytest.fixture
def runs(tmp_path):
    """Two folders that pass as run directories while parsing (hybrid, twin)."""
    return fake_run_dir(tmp_path / "hybrid"), fake_run_dir(tmp_path / "twin")


@pytest.fixture
def recorded(monkeypatch):
    """Replaces viz.evaluation.write_evaluation; returns the list its calls are appended to."""
    import qgcam_tf.viz.evaluation

    calls = []

    def fake(run_dir, out, **kwargs):
        calls.append((run_dir, out, kwargs))
        return [f"{out}/evaluation.csv", f"{out}/evaluation.md"]

    monkeypatch.setattr(qgcam_tf.viz.evaluation, "write_evaluation", fake)
    return calls


def test_twin_methods_are_the_cam_family_with_the_twins_gradcam():
    """TWIN_METHODS is METHOD_NAMES in order, with qgradcam named gradcam (the twin's CAM)."""
    assert "gradcam" in TWIN_METHODS and "qgradcam" not in TWIN_METHODS
    assert ["qgradcam" if m == "gradcam" else m for m in TWIN_METHODS] == list(METHOD_NAMES)


def test_defaults_reach_the_library_call(runs, recorded, tmp_path, capsys):
    """Without options: every method and metric, 500 images, no twin, the tfq executor."""
    hybrid, _ = runs
    out = str(tmp_path / "out")
    assert main(["evaluate", "--model", hybrid, "--out", out]) == 0
    assert recorded == [
        (
            hybrid,
            out,
            dict(
                methods=list(METHOD_NAMES),
                metrics=list(METRIC_NAMES),
                count=500,
                twin_dir=None,
                twin_methods=["gradcam", "random"],
                data_dir=None,
                steps=28,
                batch_size=64,
                backend="tfq",
                seed=0,
                aug_smooth=False,
                eigen_smooth=False,
            ),
        )
    ]
    assert capsys.readouterr().out == f"wrote {out}/evaluation.csv\nwrote {out}/evaluation.md\n"


def test_names_given_with_spaces_and_commas_are_flattened_without_repeats(runs, recorded, tmp_path):
    """--methods a,b c a gives [a, b, c]: first-seen order, each name once (likewise metrics)."""
    hybrid, twin = runs
    argv = ["evaluate", "--model", hybrid, "--out", str(tmp_path / "o"), "--twin", twin]
    argv += ["--methods", "random,qgradcam", "centre", "random", "--metrics", "road,deletion"]
    argv += ["road", "--twin-methods", "gradcam", "gradcam,centre", "--count", "6"]
    assert main([*argv, "--backend", "tf", "--steps", "4", "--batch-size", "2", "--seed", "5"]) == 0
    ((_, _, kwargs),) = recorded
    assert kwargs["methods"] == ["random", "qgradcam", "centre"]
    assert kwargs["metrics"] == ["road", "deletion"]
    assert kwargs["twin_methods"] == ["gradcam", "centre"]
    assert (kwargs["twin_dir"], kwargs["count"], kwargs["backend"]) == (twin, 6, "tf")
    assert (kwargs["steps"], kwargs["batch_size"], kwargs["seed"]) == (4, 2, 5)


def test_smoothing_flags_reach_the_library_call(runs, recorded, tmp_path):
    """--aug-smooth and --eigen-smooth are handed to write_evaluation, each on its own."""
    hybrid, _ = runs
    for flag, expected in [("--aug-smooth", (True, False)), ("--eigen-smooth", (False, True))]:
        recorded.clear()
        assert main(["evaluate", "--model", hybrid, "--out", str(tmp_path / "o"), flag]) == 0
        ((_, _, kwargs),) = recorded
        assert (kwargs["aug_smooth"], kwargs["eigen_smooth"]) == expected


@pytest.fixture
def recorded_randomisation(monkeypatch):
    """Replaces viz.evaluation.write_randomisation; returns the list of its calls."""
    import qgcam_tf.viz.evaluation

    calls = []

    def fake(run_dir, out, **kwargs):
        calls.append((run_dir, out, kwargs))
        return [f"{out}/randomisation.json"]

    monkeypatch.setattr(qgcam_tf.viz.evaluation, "write_randomisation", fake)
    return calls


def test_randomisation_flags_reach_their_library_call(
    runs, recorded, recorded_randomisation, tmp_path, capsys
):
    """--randomisation parts and --randomisation-model RUN call write_randomisation with the
    methods, twin and images of the evaluation; --metrics none skips write_evaluation."""
    hybrid, twin = runs
    out = str(tmp_path / "o")
    argv = ["evaluate", "--model", hybrid, "--out", out, "--twin", twin, "--count", "7"]
    argv += ["--methods", "qgradcam,random", "--metrics", "none", "--randomisation", "parts"]
    argv += ["--randomisation-model", twin, "--backend", "tf", "--seed", "3"]
    assert main(argv) == 0
    assert recorded == []
    assert recorded_randomisation == [
        (
            hybrid,
            out,
            dict(
                methods=["qgradcam", "random"],
                parts=True,
                shuffled_dir=twin,
                twin_dir=twin,
                twin_methods=["gradcam", "random"],
                count=7,
                data_dir=None,
                batch_size=64,
                backend="tf",
                seed=3,
            ),
        )
    ]
    assert capsys.readouterr().out == f"wrote {out}/randomisation.json\n"
    recorded_randomisation.clear()
    argv = ["evaluate", "--model", hybrid, "--out", out, "--randomisation-model", twin]
    assert main([*argv, "--metrics", "sparseness"]) == 0
    assert recorded[0][2]["metrics"] == ["sparseness"]
    assert recorded_randomisation[0][2]["parts"] is False


def test_metrics_none_alone_is_refused(runs, recorded, recorded_randomisation, tmp_path, capsys):
    """--metrics none without a randomisation test has nothing to do: exit 2, one line."""
    out = tmp_path / "o"
    assert main(["evaluate", "--model", runs[0], "--out", str(out), "--metrics", "none"]) == 2
    err = capsys.readouterr().err
    assert "--metrics none leaves nothing to do" in err and "Traceback" not in err
    assert recorded == [] and recorded_randomisation == []


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--methods", "qgradcam,gradcam"], "argument --methods: choose from qgradcam, "),
        (["--methods", ","], "argument --methods: choose from"),
        (["--twin-methods", "qgradcam"], "argument --twin-methods: choose from gradcam, "),
        (["--metrics", "pointing_game"], "argument --metrics: choose from deletion, "),
        (["--count", "0"], "argument --count: must be an int in [1, 10000], got '0'"),
        (["--count", "10001"], "argument --count: must be an int in [1, 10000], got '10001'"),
        (["--steps", "-3"], "argument --steps: must be an int in [1, 784], got '-3'"),
        (["--batch-size", "x"], "argument --batch-size: must be an int in [1, 4096], got 'x'"),
        (["--backend", "cirq"], "argument --backend: invalid choice: 'cirq'"),
        (["--randomisation", "vqc"], "argument --randomisation: invalid choice: 'vqc'"),
        (["--twin", "MISSING"], "argument --twin: run directory 'MISSING' does not exist"),
    ],
)
def test_bad_arguments_exit_2_while_parsing(runs, recorded, tmp_path, capsys, argv, message):
    """Each bad argument is one error line at parse time; write_evaluation is never called."""
    argv = [str(tmp_path / "missing") if a == "MISSING" else a for a in argv]
    message = message.replace("MISSING", str(tmp_path / "missing"))
    with pytest.raises(SystemExit) as e:
        main(["evaluate", "--model", runs[0], "--out", str(tmp_path / "o"), *argv])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"qgcam evaluate: error: {message}") and err.count("\n") == 1, err
    assert recorded == []


def test_speech_runs_reach_the_speech_evaluation(tmp_path, monkeypatch, capsys):
    """A speech run: --metrics none is enough, and --snr-db / --explain-class reach
    write_speech_evaluation (defaults 0 5 10 and predicted)."""
    import json

    import qgcam_tf.viz.speech

    run = fake_run_dir(tmp_path / "speech")
    with open(tmp_path / "speech" / "model.json", "w") as f:
        json.dump({"keras_model": {}, "metadata": {"dataset": "speech"}}, f)
    calls = []

    def fake(run_dir, out, **kwargs):
        calls.append((run_dir, out, kwargs))
        return [f"{out}/speech_attention.json"]

    monkeypatch.setattr(qgcam_tf.viz.speech, "write_speech_evaluation", fake)
    out = str(tmp_path / "o")
    assert main(["evaluate", "--model", run, "--out", out, "--metrics", "none"]) == 0
    out2 = str(tmp_path / "o2")
    argv = ["evaluate", "--model", run, "--out", out2, "--metrics", "none", "--snr-db", "0:10"]
    assert main([*argv, "2", "--explain-class", "noisy"]) == 0
    common = dict(data_dir=None, batch_size=64, backend="tfq", seed=0)
    assert calls == [
        (run, out, dict(snrs=["0", "5", "10"], explain="predicted", **common)),
        (run, out2, dict(snrs=["0:10", "2"], explain="noisy", **common)),
    ]
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {out}/speech_attention.json",
        f"wrote {out2}/speech_attention.json",
    ]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
