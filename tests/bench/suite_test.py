"""Tests of the benchmark suite (qgcam_tf.bench.suite, `qgcam benchmark`)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

import qgcam_tf
from qgcam_tf.bench import peers, report, suite, timing


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


def test_vqc_row_commands_parse_with_the_peers_own_command_line():
    """A VQC row's command line is `python -m qgcam_tf.bench.peers vqc ...` with this
    interpreter for qgcam's executors and the peers' for the peers, and carries the
    configuration's values through the peers' parser unchanged."""
    cfg = suite.BenchConfig(depth=3, warmup=1, repeats=5, check_max_n=10, peer_python="py")
    cmd = suite.vqc_row_command("lightning", 8, 16, cfg)
    assert cmd[:3] == ["py", "-m", "qgcam_tf.bench.peers"]
    a = peers.build_parser().parse_args(cmd[3:])
    assert (a.command, a.name, a.n, a.batch, a.depth, a.warmup, a.repeats, a.check_max_n) == (
        "vqc",
        "lightning",
        8,
        16,
        3,
        1,
        5,
        10,
    )
    assert suite.vqc_row_command("tf_xla", 8, 16, cfg)[0] == sys.executable
    cmd = suite.pair_command("tf_xla", "qsim", 12, 4, cfg)
    a = peers.build_parser().parse_args(cmd[3:])
    assert (cmd[0], a.a, a.b, a.n, a.batch, a.pairs) == ("py", "tf_xla", "qsim", 12, 4, 11)
    with pytest.raises(ValueError, match="name must be one of .*, got 'x'"):
        suite.vqc_row_command("x", 4, 1, cfg)


def test_config_names_must_be_rows():
    """names outside EXECUTORS, or none, are refused naming the field."""
    with pytest.raises(ValueError, match="names must be a non-empty subset"):
        suite.BenchConfig(names=("tf", "cuquantum")).validate()
    with pytest.raises(ValueError, match="names must be a non-empty subset"):
        suite.BenchConfig(names=()).validate()
    assert suite.EXECUTORS == peers.NAMES


def test_peer_rows_are_skipped_without_their_virtualenv(tmp_path):
    """A missing peers' interpreter skips every peer row with a message naming its path and
    the setup script, without starting a process, instead of failing the run."""
    cfg = suite.BenchConfig(
        ns=(4, 6), names=("qsim", "pennylane_jax"), peer_python=str(tmp_path / "bin" / "python")
    )
    got = suite.vqc_rows(cfg, on_row=lambda name, n: pytest.fail("no row should start"))
    why = got["notes"]["qsim"]
    assert cfg.peer_python in why and "setup_peers.sh" in why
    assert got["rows"]["pennylane_jax"] == {"4": {"skipped": why}, "6": {"skipped": why}}
    assert suite.train_pairs(cfg, {}) == {"skipped": why}


def _fake_row(name, n, batch, ms):
    return {
        "name": name,
        "n": n,
        "batch": batch,
        "version": "v",
        "check": {"passed": True},
        "timing": {"wall_ms": ms, "cpu_ms": ms, "repeats": 1},
        "peak_mb": 100.0,
        "baseline_mb": 50.0,
    }


def test_vqc_rows_shrink_the_batch_and_stop_where_a_row_runs_out(monkeypatch):
    """A row whose process fails at batch 64 and 16 is rerun at 4 (kept for the next n);
    a row that fails at batch 1 stops the name's larger n, and the note says where; the
    rows so far are handed on after each row that ran."""
    calls = []

    def fake_run(cmd, *, timeout, rss_limit_mb=None):
        a = peers.build_parser().parse_args(cmd[3:])
        calls.append((a.name, a.n, a.batch))
        if a.n >= 10 and a.batch > 4:
            return {"skipped": f"RSS passed {rss_limit_mb:.0f} MB"}
        if a.n >= 16:
            return {"skipped": "failed (exit 1): MemoryError"}
        return _fake_row(a.name, a.n, a.batch, 1.0)

    monkeypatch.setattr(suite, "run_module_json", fake_run)
    cfg = suite.BenchConfig(ns=(8, 10, 12, 16, 20), names=("tf",), rss_limit_mb=100.0)
    seen = []
    got = suite.vqc_rows(cfg, on_done=lambda rows: seen.append(sorted(rows["tf"], key=int)))
    assert seen == [["8"], ["8", "10"], ["8", "10", "12"], ["8", "10", "12", "16"]]
    assert calls == [
        ("tf", 8, 64),
        ("tf", 10, 64),
        ("tf", 10, 16),
        ("tf", 10, 4),
        ("tf", 12, 4),
        ("tf", 16, 4),
        ("tf", 16, 1),
    ]
    rows = got["rows"]["tf"]
    assert rows["10"]["batch"] == 4 and rows["10"]["tries"] == [
        "batch 64: RSS passed 100 MB",
        "batch 16: RSS passed 100 MB",
    ]
    assert rows["12"]["batch"] == 4 and rows["12"]["tries"] == []  # the batch that fitted
    assert rows["16"]["skipped"] == "failed (exit 1): MemoryError"
    assert rows["20"] == {"skipped": got["notes"]["tf"]}
    assert got["notes"]["tf"].startswith("ran out at n=16: batch 4: failed (exit 1)")


def test_vqc_rows_stop_after_a_row_over_the_time_limit(monkeypatch):
    """A row whose median fwd+bwd call takes longer than row_limit_s is kept, and the
    larger n are not run, saying why (5 ms against a limit of 1 ms)."""
    monkeypatch.setattr(
        suite,
        "run_module_json",
        lambda cmd, **kw: _fake_row("tf", int(cmd[7]), int(cmd[9]), 5.0),
    )
    cfg = suite.BenchConfig(ns=(4, 6), names=("tf",), row_limit_s=0.001)
    got = suite.vqc_rows(cfg)
    assert got["rows"]["tf"]["4"]["timing"]["wall_ms"] == 5.0
    assert got["rows"]["tf"]["6"] == {"skipped": got["notes"]["tf"]}
    assert got["notes"]["tf"] == (
        "one fwd+bwd call took 0.0 s at n=4 (limit 0.001 s): larger n not run"
    )


def test_noisy_results_pass_the_rows_through_and_report_failures_as_skipped():
    """noisy_results hands the config to the noisy rows and returns their dict as it is; a
    row that raises, or returns no dict, gives {"skipped": why} instead of ending the run;
    the default config measures them."""
    cfg = suite.BenchConfig(ns=(4,))
    seen = []

    def rows(c):
        seen.append(c)
        return {"noisy_maps_per_s": {"density": {"4": 10.0}}, "paired": {"x": {"4": 2.0}}}

    assert suite.noisy_results(cfg, rows) == rows(cfg) and seen[0] is cfg

    def broken(c):
        raise RuntimeError("out of memory")

    assert suite.noisy_results(cfg, broken) == {
        "skipped": "noisy rows failed: RuntimeError: out of memory"
    }
    assert suite.noisy_results(cfg, lambda c: [1]) == {
        "skipped": "noisy rows returned list, not a dict"
    }
    assert cfg.noisy is True


def test_fastest_peer_leaves_out_failed_checks_and_other_batches():
    """The fastest peer is the quickest checked row at that n and batch: a faster row whose
    check failed at any n, or that ran at another batch, does not win."""
    rows = {
        "qsim": {"10": _fake_row("qsim", 10, 64, 1.0)},
        "lightning": {"10": _fake_row("lightning", 10, 64, 3.0)},
        "tensorcircuit": {"10": _fake_row("tensorcircuit", 10, 64, 2.0)},
        "pennylane_jax": {"10": _fake_row("pennylane_jax", 10, 16, 0.5)},
    }
    rows["qsim"]["4"] = {**_fake_row("qsim", 4, 64, 0.1), "check": {"passed": False}}
    assert suite.fastest_peer(rows, "10", batch=64) == "tensorcircuit"
    assert suite.fastest_peer(rows, "10") == "pennylane_jax"
    assert suite.fastest_peer(rows, "12") is None


def test_train_pairs_interleave_rounds_with_the_peers_process(tmp_path):
    """The training pairs speak the peer's stdin protocol: one `time` per round after
    `ready`, and the ratio is the median of the per-round ratios (a fake peer that reports
    100 images/s stands in for PennyLane-JAX)."""
    fake = tmp_path / "python"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "print(json.dumps({'ready': {'pennylane': 'p', 'jax': 'j'}}), flush=True)\n"
        "for line in sys.stdin:\n"
        "    if line.strip() != 'time':\n"
        "        break\n"
        "    print(json.dumps({'images_per_s': 100.0}), flush=True)\n"
    )
    fake.chmod(0o755)
    cfg = suite.BenchConfig(peer_python=str(fake), train_rounds=3, repeats=1, batch=8)
    got = suite.train_pairs(cfg, {"tf": lambda: None})
    assert got["versions"] == {"pennylane": "p", "jax": "j"}
    assert len(got["rounds"]) == 3 and got["pennylane_jax"] == 100.0
    ratios = sorted(r["tf"] / 100.0 for r in got["rounds"])
    assert got["ratio"]["tf"] == pytest.approx(ratios[1])


def test_run_module_json_kills_a_child_over_its_rss_limit_or_time():
    """A child that holds 300 MB is killed at an RSS limit of 100 MB, and one that outlives
    its timeout is killed, each reported as skipped saying why."""
    hold = "import time; a = b'x' * (300 << 20); time.sleep(60)"
    got = suite.run_module_json([sys.executable, "-c", hold], timeout=60, rss_limit_mb=100)
    assert got == {"skipped": "RSS passed 100 MB"}
    got = suite.run_module_json([sys.executable, "-c", "while True: pass"], timeout=1)
    assert got["skipped"].startswith("timed out after 1 s")


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


def test_qgradcam_parts_script_checks_the_vqc_variants_and_prints_each_part():
    """`python benchmarks/qgradcam_parts.py` (the QGrad-CAM profile of docs/performance.md)
    finds the VQC's input gradient equal within 1e-5 on tf, with the layer under XLA and as
    one XLA cluster, then prints a finite positive paired ratio for each of its 7 parts."""
    script = os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
        "benchmarks",
        "qgradcam_parts.py",
    )
    cmd = [sys.executable, script, "--n", "3", "--batch", "4", "--pairs", "2"]
    proc = subprocess.run([*cmd, "--image-size", "8"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("VQC variants agree: largest difference ")
    assert float(lines[0].split()[5]) <= 1e-5
    rows = [line.split("|") for line in lines if line.startswith("| ") and "---" not in line]
    ratios = {r[1].strip(): float(r[2]) for r in rows[1:]}
    assert len(ratios) == 7 and "QGrad-CAM, tf hybrid" in ratios
    assert all(_finite_positive(v) for v in ratios.values())


def test_profile_row_script_prints_an_op_table(tmp_path):
    """`python benchmarks/profile_row.py vqc` (the profile docs/performance.md asks for where
    a target is missed) prints a Markdown table of op types whose shares add up to at most
    100 %, for a 3-qubit tf row."""
    script = os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "benchmarks", "profile_row.py"
    )
    cmd = [sys.executable, script, "vqc", "--n", "3", "--name", "tf", "--iterations", "1"]
    cmd += ["--logdir", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("VQC tf n=3: ") and lines[0].endswith(
        " ms per call under the profiler"
    )
    assert lines[1] == "| op type | ms per call | share of op time | events per call |"
    shares = [int(line.split("|")[3].strip().rstrip(" %")) for line in lines[3:]]
    assert shares and 0 < sum(shares) <= 100 + len(shares)  # rounded shares of the top ops


def test_profile_row_script_counts_the_xla_steps_instructions():
    """`python benchmarks/profile_row.py hlo --name tf_xla` prints the opcodes of the
    compiled step's entry computation, whose counts add up to the total it names (with at
    least one dot: the R_Y products); a row not compiled by XLA is refused, naming it."""
    script = os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "benchmarks", "profile_row.py"
    )
    cmd = [sys.executable, script, "hlo", "--n", "4", "--name", "tf_xla", "--top", "100"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    head = lines[0].split()
    assert head[:3] == ["XLA", "tf_xla", "n=4:"] and lines[1] == "| opcode | instructions |"
    counts = {row.split("|")[1].strip(): int(row.split("|")[2]) for row in lines[3:]}
    assert sum(counts.values()) == int(head[3]) and counts.get("dot", 0) >= 1
    refused = subprocess.run(
        [sys.executable, script, "hlo", "--n", "4", "--name", "tf"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert refused.returncode == 2 and "'tf' is not compiled by XLA" in refused.stderr


PROFILE_ROW = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "benchmarks",
    "profile_row.py",
)
TINY_TRAIN = ["--n", "3", "--batch", "4", "--image-size", "8"]


def _md_rows(text: str) -> list[list[str]]:
    """The cells of a Markdown table's body rows (header and rule left out)."""
    rows = [l.split("|")[1:-1] for l in text.splitlines() if l.startswith("| ")]
    return [[c.strip() for c in r] for r in rows[1:]]


def test_profile_row_train_prints_both_steps_and_their_difference(tmp_path):
    """`profile_row.py train` (the training profile of docs/performance.md) prints the op
    table of the tf hybrid's step, the twin's, per op type the hybrid's ms minus the twin's,
    and the ops by name (the conv filter gradient among them), which all agree with the first
    two tables (to their rounding)."""
    cmd = [sys.executable, PROFILE_ROW, "train", *TINY_TRAIN, "--iterations", "1", "--top", "5000"]
    proc = subprocess.run([*cmd, "--logdir", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    hybrid, twin, diff, names = proc.stdout.strip().split("\n\n")
    assert hybrid.startswith("Training step, tf hybrid (n=3, batch 4): ")
    assert twin.startswith("Training step, classical twin (n=3, batch 4): ")
    h = {r[0]: float(r[1]) for r in _md_rows(hybrid)}
    t = {r[0]: float(r[1]) for r in _md_rows(twin)}
    assert "_MklNativeFusedConv2D" in t or "Conv2D" in t
    d = _md_rows(diff)
    assert len(d) == len(set(h) | set(t))
    for kind, hms, tms, dms in d:
        assert float(hms) == h.get(kind, 0.0) and float(tms) == t.get(kind, 0.0)
        assert abs(float(dms) - (float(hms) - float(tms))) <= 0.011
    total = float(diff.splitlines()[0].split()[3])
    assert abs(total - (sum(h.values()) - sum(t.values()))) <= 0.006 * (len(h) + len(t)) + 0.01
    # by name, without the model's scope: the same ops, so the same sums (to the rounding)
    by_name = _md_rows(names)
    assert "gradient_tape/qgcam_conv/Conv2D/Conv2DBackpropFilter" in {
        r[0].split(":")[0] for r in by_name
    }
    for column, by_type in ((1, h), (2, t)):
        total = sum(float(r[column]) for r in by_name)
        assert abs(total - sum(by_type.values())) <= 0.006 * (len(by_name) + len(by_type)) + 0.01


def test_profile_row_train_split_interleaves_our_steps_with_the_peers(tmp_path):
    """`profile_row.py train-split` starts one peer process per PennyLane-JAX row (hybrid,
    twin, VQC alone, hybrid with 16/32 filters) with the run's sizes, and each row's ratio
    to the tf hybrid and to the twin is the median of per-round ratios (fake peers that
    report fixed step times stand in for PennyLane-JAX)."""
    log = tmp_path / "argv.log"
    fake = tmp_path / "python"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "argv = sys.argv[1:]\n"
        "model = argv[argv.index('--model') + 1]\n"
        "small = '--conv-filters' in argv and argv[argv.index('--conv-filters') + 1] == '16,32'\n"
        "ms = {'hybrid': 100.0, 'classical': 50.0, 'vqc': 40.0}[model] * (0.8 if small else 1)\n"
        f"open({str(log)!r}, 'a').write(' '.join(argv) + '\\n')\n"
        "print(json.dumps({'ready': {'pennylane': 'p', 'jax': 'j'}}), flush=True)\n"
        "for line in sys.stdin:\n"
        "    if line.strip() != 'time':\n"
        "        break\n"
        "    print(json.dumps({'wall_ms': ms}), flush=True)\n"
    )
    fake.chmod(0o755)
    cmd = [sys.executable, PROFILE_ROW, "train-split", *TINY_TRAIN, "--rounds", "3"]
    proc = subprocess.run(
        [*cmd, "--repeats", "1", "--peer-python", str(fake)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    argvs = sorted(log.read_text().splitlines())
    assert len(argvs) == 4 and all(a.startswith("-m qgcam_tf.bench.peers train ") for a in argvs)
    assert all("--n 3 --batch 4 --image-size 8 --repeats 1" in a for a in argvs)
    assert [a.split("--model ")[1] for a in argvs] == [
        "classical",
        "hybrid",
        "hybrid --conv-filters 16,32",
        "vqc",
    ]
    rows = {r[0]: [float(c) for c in r[1:]] for r in _md_rows(proc.stdout)}
    assert "(PennyLane p, JAX j; " in proc.stdout
    peer_ms = {
        "PennyLane-JAX hybrid": 100.0,
        "PennyLane-JAX twin": 50.0,
        "PennyLane-JAX VQC fwd+bwd": 40.0,
        "PennyLane-JAX hybrid, 16/32 filters": 80.0,
    }
    assert set(rows) == {"tf hybrid", "tf twin", "tf VQC fwd+bwd", *peer_ms}
    assert rows["tf hybrid"][2] == 1.0 and rows["tf twin"][3] == 1.0
    for label, ms in peer_ms.items():
        ms_row, per_s, over_hybrid, over_twin = rows[label]
        assert ms_row == ms and per_s == round(1e3 * 4 / ms)
        # a constant peer time over the median of 3 of ours is the median of the 3 ratios
        assert over_hybrid == pytest.approx(ms / rows["tf hybrid"][0], rel=0.01, abs=0.01)
        assert over_twin == pytest.approx(ms / rows["tf twin"][0], rel=0.01, abs=0.01)


def test_profile_row_train_variants_time_one_of_each_kind():
    """`profile_row.py train-variants --variant 2 --variant 6` times the twin's step under
    XLA against the default in this process and the hybrid with oneDNN off in a child
    against a default child, each a finite positive ratio; zero rounds are refused."""
    cmd = [sys.executable, PROFILE_ROW, "train-variants", *TINY_TRAIN, "--variant", "2"]
    cmd += ["--variant", "6", "--pairs", "2", "--rounds", "2", "--repeats", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r[0]: (float(r[1]), r[2]) for r in _md_rows(proc.stdout)}
    assert set(rows) == {
        "twin, XLA over the whole step",
        "hybrid, oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)",
    }
    assert rows["twin, XLA over the whole step"][1] == "2 pairs, one process"
    assert rows["hybrid, oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)"][1] == "2 rounds, two processes"
    assert all(_finite_positive(ratio) for ratio, _ in rows.values())
    refused = subprocess.run(
        [sys.executable, PROFILE_ROW, "train-variants", "--rounds", "0"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "--rounds must be >= 1, got 0" in refused.stderr


@pytest.mark.slow
def test_quick_benchmark_writes_valid_json_and_markdown(tmp_path):
    """`qgcam benchmark --quick` writes benchmark.json/.md with every required key, sane values."""
    from qgcam_tf.cli.main import main

    out = tmp_path / "bench"
    assert main(["benchmark", "--out", str(out), "--quick"]) == 0
    r = json.loads((out / "benchmark.json").read_text())
    md = (out / "benchmark.md").read_text()

    assert set(r["vqc_fwd_bwd_ms"]) == set(peers.NAMES)
    for key in ("tfq", "tf", "tf_xla"):
        assert _finite_positive(r["vqc_fwd_bwd_ms"][key]["4"]), (key, r["vqc_fwd_bwd_ms"][key])
        assert r["peak_mb"][key]["4"] > 0 and r["vqc_batch"][key]["4"] == 8
        assert r["vqc_check"][key]["4"] is not None
    for key in peers.PEER_NAMES:  # peers are not run with --quick
        assert r["vqc_fwd_bwd_ms"][key]["4"] is None and key in r["vqc_notes"]
    assert "pennylane_jax_train" in r["skipped"]
    assert r["pennylane_jax_train_images_per_s"] is None
    assert r["paired"]["qgradcam_over_gradcam"] == r["qgradcam_over_gradcam"]
    # the noisy rows, shrunk to n = 4 by the quick config: rates, their paired ratio, a sweep
    assert "noisy" not in r["skipped"], r["skipped"]
    assert set(r["noisy_maps_per_s"]) == {"density", "trajectories"}
    assert all(_finite_positive(v["4"]) for v in r["noisy_maps_per_s"].values())
    assert _finite_positive(r["paired"]["density_over_trajectories"]["4"])
    assert r["noise_sweep_maps_per_s"] == r["noisy"]["noise_sweep_maps_per_s"]
    assert "noisy_density_over_tfq_100_trajectories_n4" in r["targets"]
    assert "## Noisy maps (maps/s)" in md and "## Noise sweep (maps/s per preset)" in md

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
        assert set(lat) == set(suite.EXPORT_KINDS)
        for kind, by_batch in lat.items():
            assert set(by_batch) == {"1", "8"}
            assert all(_finite_positive(v) for v in by_batch.values())
            # maps/s at the run's batch and the batch's latency are one measurement
            assert r["export_explain_maps_per_s"][kind] == pytest.approx(8e3 / by_batch["8"])
        ratio = r["paired"]["export_explain_hybrid_over_classical"]
        assert set(ratio) == {"1", "8"} and all(_finite_positive(v) for v in ratio.values())
        assert r["export_tensorflow_quantum_loaded"] is False

    assert r["machine"]["cores"] == os.cpu_count()
    assert r["machine"]["tensorflow"].startswith("2.")
    assert r["machine"]["cpu"] in md and "| executor | n=4 |" in md and "Peak memory" in md
    assert "## Training" in md and "## Explanations" in md and "## Targets" in md
    assert r["targets"]["qgradcam_tf_over_gradcam"]["value"] == pytest.approx(
        r["qgradcam_over_gradcam"]["tf"]
    )
    assert set(r["cli_startup"]["commands"]) == set(suite.CLI_COMMANDS)
    assert "## CLI start-up" in md


def test_scaling_rows_interleave_worker_counts_and_pair_each_round(tmp_path):
    """Issue 15's rows: the counts run 1, 2, 1, 2, 1, 2; the rates are medians over rounds and
    the paired ratio is the median of per-round ratios (1.5 here), not the ratio of the
    medians (24 / 20 = 1.2); the rendered table shows both."""
    train = iter([10.0, 18.0, 20.0, 24.0, 30.0, 45.0])  # rounds: 1.8, 1.2, 1.5
    explain = iter([4.0, 2.0, 8.0, 8.0, 6.0, 9.0])  # rounds: 0.5, 1.0, 1.5
    calls = []

    def train_rate(w, **kw):
        calls.append(("train", w, kw["n_train"]))
        return next(train)

    def explain_rate(w, **kw):
        calls.append(("explain", w, os.path.basename(kw["out"])))
        assert os.path.isdir(kw["export"]) and kw["pattern"].endswith("*.png")
        return {"images_per_second": next(explain)}

    def in_process_rate(export, paths, batch_size):
        assert len(paths) == 5 and all(os.path.isfile(p) for p in paths)
        return {"images_per_second": 100.0}

    got = suite.scaling_rows(
        suite.BenchConfig.quick(),
        str(tmp_path),
        rounds=3,
        images=5,
        train_rate=train_rate,
        explain_rate=explain_rate,
        in_process_rate=in_process_rate,
    )
    assert [c[:2] for c in calls] == [("train", 1), ("train", 2)] * 3 + [
        ("explain", 1),
        ("explain", 2),
    ] * 3
    assert got["train_images_per_s"] == {1: 20.0, 2: 24.0}
    assert got["paired"]["train"] == {1: 1.0, 2: 1.5}
    assert got["explain_batch_images_per_s"] == {1: 6.0, 2: 8.0}
    assert got["paired"]["explain_batch"] == {1: 1.0, 2: 1.0}
    assert got["explain_in_process_images_per_s"] == 100.0
    table = "\n".join(report.scaling_markdown(json.loads(json.dumps(got))))
    assert "| 2 | 24.0 | 1.50 | 8.0 | 1.00 |" in table and "| 100 |" in table
    with pytest.raises(ValueError, match="workers must be ints >= 1, got"):
        suite.scaling_rows(suite.BenchConfig.quick(), str(tmp_path), workers=(0,))
    with pytest.raises(ValueError, match="rounds must be an int >= 1, got 0"):
        suite.scaling_rows(suite.BenchConfig.quick(), str(tmp_path), rounds=0)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
