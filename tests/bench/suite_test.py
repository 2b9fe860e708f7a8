"""Tests of the benchmark suite (qgcam_tf.bench.suite, `qgcam benchmark`)."""

from __future__ import annotations

import json
import math
import os
import sys
import time

import pytest

from qgcam_tf.bench import suite as bm
from qgcam_tf.quantum.circuits import VQCSpec, build_vqc


def test_lower_bound_matches_hand_computation():
    """n=10, batch 64, 110 gates at 10 GB/s: 3 * 110 * (2 * 64 * 1024 * 8 B) / 1e10 B/s."""
    # 2 * 64 * 1024 * 8 = 1_048_576 bytes per gate; * 110 * 3 = 346_030_080 bytes.
    got = bm.state_vector_lower_bound_ms(10, 64, 110, 1e10)
    assert got == pytest.approx(34.603008, rel=1e-12)
    assert bm.state_vector_lower_bound_ms(10, 64, 110, 1e10, passes=1) == pytest.approx(
        34.603008 / 3
    )


def test_lower_bound_rejects_bad_bandwidth():
    """A non-positive bandwidth is refused with a message naming it."""
    with pytest.raises(ValueError, match="bandwidth must be > 0, got 0"):
        bm.state_vector_lower_bound_ms(4, 1, 1, 0.0)


def test_gate_count_of_the_paper_circuit():
    """3n encoding gates + depth * (n CNOTs + 3n rotations), as counted in the Cirq circuit."""
    assert bm.vqc_gate_count(10, 2) == 30 + 2 * (10 + 30)
    circuit, _, _ = build_vqc(VQCSpec(n_qubits=6, depth=3, n_outputs=2))
    assert bm.vqc_gate_count(6, 3) == len(list(circuit.all_operations())) == 18 + 3 * 24


def test_time_call_reports_medians_of_a_known_delay():
    """A 20 ms sleep times as ~20 ms of wall clock and almost no CPU."""
    calls = []
    t = bm.time_call(lambda: (calls.append(1), time.sleep(0.02)), warmup=1, repeats=3)
    assert len(calls) == 4 and t["repeats"] == 3
    assert 19.0 <= t["wall_ms"] < 200.0
    assert 0.0 <= t["cpu_ms"] < t["wall_ms"]
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        bm.time_call(lambda: None, repeats=0)


def test_time_call_repeats_fast_calls_up_to_min_seconds():
    """5 ms calls with min_seconds 0.1 run ~20 times; the cap is 25 x repeats."""
    t = bm.time_call(lambda: time.sleep(0.005), warmup=0, repeats=3, min_seconds=0.1)
    assert 15 <= t["repeats"] <= 22
    t = bm.time_call(lambda: None, warmup=0, repeats=2, min_seconds=10.0)
    assert t["repeats"] == 50


def test_paired_ratio_of_known_delays():
    """30 ms against 10 ms sleeps: a ratio of ~3, each side called warmup + pairs times."""
    a, b = [], []
    r = bm.paired_ratio(
        lambda: (a.append(1), time.sleep(0.03)),
        lambda: (b.append(1), time.sleep(0.01)),
        pairs=3,
        warmup=1,
    )
    assert len(a) == len(b) == 4
    assert 2.0 < r < 3.5
    with pytest.raises(ValueError, match="pairs must be >= 1, got 0"):
        bm.paired_ratio(lambda: None, lambda: None, pairs=0)


def test_bandwidth_is_positive_and_plausible():
    """Copy bandwidth of a 1 MiB buffer is between 100 MB/s and 10 TB/s."""
    bw = bm.measure_bandwidth(2**20, repeats=3)
    assert 1e8 < bw < 1e13


def test_config_validation_names_the_field():
    """Bad qubit counts and batch sizes are refused, naming the field."""
    with pytest.raises(ValueError, match=r"ns must be ints in \[2, 24\]"):
        bm.BenchConfig(ns=(1,)).validate()
    with pytest.raises(ValueError, match="batch must be an int >= 1, got 0"):
        bm.BenchConfig(batch=0).validate()


def test_cli_rejects_bad_repeats(capsys):
    """`qgcam benchmark --repeats 0` exits 2 with one error line, before measuring anything."""
    from qgcam_tf.cli.main import main

    assert main(["benchmark", "--out", "unused", "--quick", "--repeats", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["qgcam benchmark: error: --repeats must be >= 1, got 0"]


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
        bm.state_vector_lower_bound_ms(
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


def test_update_doc_replaces_only_the_marked_block(tmp_path):
    """The tables go between the markers; text around them is kept; no markers is an error."""
    doc = tmp_path / "perf.md"
    doc.write_text(f"# Perf\n\nintro\n\n{bm.DOC_BEGIN}\nold table\n{bm.DOC_END}\n\noutro\n")
    bm.update_doc(str(doc), "# qgcam benchmark\n\nMachine: X\n\n## VQC\n\n| a |\n")
    assert doc.read_text() == (
        f"# Perf\n\nintro\n\n{bm.DOC_BEGIN}\nMachine: X\n\n### VQC\n\n| a |\n"
        f"{bm.DOC_END}\n\noutro\n"
    )
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    with pytest.raises(ValueError, match="has no .* block to update"):
        bm.update_doc(str(plain), "x\n")
    with pytest.raises(FileNotFoundError, match="not found"):
        bm.update_doc(str(tmp_path / "missing.md"), "x\n")


def test_targets_prefer_the_paired_tensorcircuit_ratio():
    """The tf+XLA / tensorcircuit-ng target uses the interleaved measurement where there is
    one (n = 10 here) and falls back to the ratio of the two rows (n = 12)."""
    r = {
        "vqc_fwd_bwd_ms": {
            "tf_xla": {"10": 4.0, "12": 12.0},
            "tensorcircuit": {"10": 2.0, "12": 10.0},
        },
        "tf_xla_over_tensorcircuit_paired": {"10": 1.4},
        "qgradcam_over_gradcam": {"tf": 1.6},
        "train_images_per_s": {"tfq": 1000.0, "tf": 4000.0},
        "pennylane_train_images_per_s": None,
    }
    t = bm._targets(r)
    assert t["tf_xla_over_tensorcircuit_n10"] == {
        "value": 1.4,
        "goal": "<= 1.5",
        "met": True,
        "paired": True,
    }
    assert t["tf_xla_over_tensorcircuit_n12"]["value"] == pytest.approx(1.2)
    assert t["tf_xla_over_tensorcircuit_n12"]["paired"] is False
    assert t["qgradcam_tf_over_gradcam"] == {
        "value": 1.6,
        "goal": "<= 1.5",
        "met": False,
        "paired": True,
    }
    assert t["train_tfq_over_pennylane"] == {"value": None, "goal": ">= 10", "met": None}


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
