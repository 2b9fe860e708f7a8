"""Tests of the benchmark suite (qgcam_tf.bench.suite, `qgcam benchmark`)."""

from __future__ import annotations

import json
import math
import os
import sys

import pytest

import qgcam_tf
from qgcam_tf.bench import peers, suite, timing


def test_config_validation_names_the_field():
    """Bad qubit counts and batch sizes are refused, naming the field."""
    with pytest.raises(ValueError, match=r"ns must be ints in \[2, 24\]"):
        suite.BenchConfig(ns=(1,)).validate()
    with pytest.raises(ValueError, match="batch must be an int >= 1, got 0"):
        suite.BenchConfig(batch=0).validate()


def test_cli_rejects_bad_repeats(capsys):
    """`qgcam benchmark --repeats 0` exits 2 with one error line while parsing."""
    from qgcam_tf.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(["benchmark", "--out", "unused", "--quick", "--repeats", "0"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "qgcam benchmark: error: argument --repeats: must be an int in [1, 1000], got '0'"
    ]


def test_cli_rejects_a_peers_venv_without_python(tmp_path, capsys):
    """`--peers-venv DIR` without DIR/bin/python exits 2 naming the option, before measuring."""
    from qgcam_tf.cli.main import main

    out = tmp_path / "out"
    assert main(["benchmark", "--out", str(out), "--peers-venv", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"qgcam benchmark: error: --peers-venv {str(tmp_path)!r} has no bin/python"]
    assert not out.exists()


def test_peer_commands_parse_with_the_peers_own_command_line():
    """The suite's command lines for both peers are `python -m qgcam_tf.bench.peers ...` and
    carry the configuration's values through the peers' parser unchanged."""
    cfg = suite.BenchConfig(batch=16, depth=3, warmup=1, repeats=5, train_n=6, peer_python="py")
    cmd = suite.peer_command("tensorcircuit", cfg, ns=(8, 10))
    assert cmd[:3] == ["py", "-m", "qgcam_tf.bench.peers"]
    a = peers.build_parser().parse_args(cmd[3:])
    assert (a.peer, a.ns, a.batch, a.depth, a.warmup, a.repeats) == (
        "tensorcircuit",
        [8, 10],
        16,
        3,
        1,
        5,
    )
    cmd = suite.peer_command("pennylane", cfg)
    assert cmd[:3] == ["py", "-m", "qgcam_tf.bench.peers"]
    a = peers.build_parser().parse_args(cmd[3:])
    # PennyLane trains the MNIST default model: at least 10 qubits, one warm-up, <= 3 repeats
    assert (a.peer, a.n, a.batch, a.depth, a.warmup, a.repeats, a.vqc_only) == (
        "pennylane",
        10,
        16,
        3,
        1,
        3,
        True,
    )
    with pytest.raises(ValueError, match="kind must be 'tensorcircuit' or 'pennylane', got 'x'"):
        suite.peer_command("x", cfg)


def test_peer_is_skipped_without_its_virtualenv(tmp_path):
    """A missing peers' interpreter skips the row with a message naming its path and the
    setup script, instead of failing the run."""
    cfg = suite.BenchConfig(peer_python=str(tmp_path / "none" / "bin" / "python"))
    got = suite.peer("tensorcircuit", cfg, ns=(4,))
    assert set(got) == {"skipped"}
    assert cfg.peer_python in got["skipped"] and "setup_pennylane.sh" in got["skipped"]


def test_run_module_json_gives_a_bare_interpreter_this_package():
    """An interpreter without site-packages (-S) and without the working directory on its
    path (-P) imports this qgcam_tf through run_module_json's PYTHONPATH alone, and
    `import qgcam_tf.bench` needs nothing beyond the standard library."""
    code = (
        "import json, os, sys, qgcam_tf.bench\n"
        "print(json.dumps({'real': os.path.realpath(os.path.dirname(qgcam_tf.__file__)),\n"
        "    'modules': sorted(m for m in sys.modules if m.startswith('qgcam_tf'))}))\n"
    )
    got = suite.run_module_json([sys.executable, "-S", "-P", "-c", code], timeout=60)
    assert got == {
        "real": os.path.realpath(os.path.dirname(qgcam_tf.__file__)),
        "modules": ["qgcam_tf", "qgcam_tf.bench"],
    }


def test_run_module_json_reports_failures_as_skipped():
    """A failing child is skipped with its exit code and last stderr line; output that is
    not JSON is skipped quoting it."""
    fail = "import sys; sys.exit('no peer here')"
    assert suite.run_module_json([sys.executable, "-c", fail], timeout=60) == {
        "skipped": "failed (exit 1): no peer here"
    }
    noise = "print('{not json')"
    assert suite.run_module_json([sys.executable, "-c", noise], timeout=60) == {
        "skipped": "unreadable output: {not json"
    }


def test_cli_startup_runs_each_command_beside_the_baseline(monkeypatch):
    """One round: every CLI command ends with its exit status, its ratio is its time over
    the baseline's, and a command that ends otherwise is skipped with both statuses (no
    time is asserted: the numbers are the benchmark's, not a test's)."""
    commands = {**suite.CLI_COMMANDS, "qgcam nope": (("nope",), 0)}
    monkeypatch.setattr(suite, "CLI_COMMANDS", commands)
    got = suite.cli_startup(1)
    assert got["repeats"] == 1 and _finite_positive(got["baseline_s"])
    assert list(got["commands"]) == list(commands)
    for name, (args, code) in list(commands.items())[:-1]:
        row = got["commands"][name]
        assert row["argv"] == list(args) and row["exit"] == code, row
        assert _finite_positive(row["seconds"])
        assert row["ratio"] == pytest.approx(row["seconds"] / got["baseline_s"], rel=1e-12)
    assert got["commands"]["qgcam nope"] == {
        "argv": ["nope"],
        "exit": 0,
        "skipped": "exit 2, expected 0",
    }
    assert [args for args, _ in commands.values()][-2] == ("train", "--out", "x", "--epochs", "0")
    with pytest.raises(ValueError, match="repeats must be an int >= 1, got 0"):
        suite.cli_startup(0)


def _finite_positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.slow
def test_quick_benchmark_writes_valid_json_and_markdown(tmp_path):
    """`qgcam benchmark --quick` writes benchmark.json/.md with every required key, sane values."""
    from qgcam_tf.cli.main import main

    out = tmp_path / "bench"
    assert main(["benchmark", "--out", str(out), "--quick"]) == 0
    r = json.loads((out / "benchmark.json").read_text())
    md = (out / "benchmark.md").read_text()

    for key in ("tfq", "tf", "tf_xla", "tensorcircuit"):
        assert key in r["vqc_fwd_bwd_ms"]
    for key in ("tfq", "tf", "tf_xla"):
        assert _finite_positive(r["vqc_fwd_bwd_ms"][key]["4"]), (key, r["vqc_fwd_bwd_ms"][key])
    assert r["vqc_fwd_bwd_ms"]["tensorcircuit"]["4"] is None  # peers are not run with --quick
    assert "tensorcircuit" in r["skipped"] and "pennylane" in r["skipped"]
    assert r["pennylane_train_images_per_s"] is None

    assert set(r["train_images_per_s"]) >= {"tfq", "tf", "classical"}
    for kind, ips in r["train_images_per_s"].items():
        assert _finite_positive(ips)
        # images/s and ms/step are two views of one measurement
        assert ips == pytest.approx(r["config"]["batch"] / r["train_step_ms"][kind] * 1e3, rel=1e-9)
    assert set(r["qgradcam_over_gradcam"]) >= {"tfq", "tf"}
    assert all(_finite_positive(v) for v in r["qgradcam_over_gradcam"].values())

    lb = r["state_vector_lower_bound_ms"]["4"]
    inputs = r["lower_bound_inputs"]
    assert lb == pytest.approx(
        timing.state_vector_lower_bound_ms(
            4, r["config"]["batch"], inputs["gates"]["4"], inputs["bandwidth_bytes_per_s"]["4"]
        )
    )
    assert inputs["gates"]["4"] == 12 + 2 * (4 + 12)

    lat = r["export_explain_latency_ms"]
    if lat is None:  # only when the export module is missing
        assert "export" in r["skipped"]
    else:
        assert set(lat) == {"1", "8"} and all(_finite_positive(v) for v in lat.values())
        assert r["export_tensorflow_quantum_loaded"] is False

    assert r["machine"]["cores"] == os.cpu_count()
    assert r["machine"]["tensorflow"].startswith("2.")
    assert r["machine"]["cpu"] in md and "| executor | n=4 |" in md
    assert "## Training" in md and "## Explanations" in md and "## Targets" in md
    assert r["targets"]["qgradcam_tf_over_gradcam"]["value"] == pytest.approx(
        r["qgradcam_over_gradcam"]["tf"]
    )
    assert set(r["cli_startup"]["commands"]) == set(suite.CLI_COMMANDS)
    assert "## CLI start-up" in md


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
