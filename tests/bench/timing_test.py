"""Tests of the benchmark's timing helpers (qgcam_tf.bench.timing)."""

from __future__ import annotations

import sys
import time

import pytest

from qgcam_tf.bench import timing
from qgcam_tf.quantum.circuits import VQCSpec, build_vqc


def test_lower_bound_matches_hand_computation():
    """n=10, batch 64, 110 gates at 10 GB/s: 3 * 110 * (2 * 64 * 1024 * 8 B) / 1e10 B/s."""
    # 2 * 64 * 1024 * 8 = 1_048_576 bytes per gate; * 110 * 3 = 346_030_080 bytes.
    got = timing.state_vector_lower_bound_ms(10, 64, 110, 1e10)
    assert got == pytest.approx(34.603008, rel=1e-12)
    assert timing.state_vector_lower_bound_ms(10, 64, 110, 1e10, passes=1) == pytest.approx(
        34.603008 / 3
    )


def test_lower_bound_rejects_bad_bandwidth():
    """A non-positive bandwidth is refused with a message naming it."""
    with pytest.raises(ValueError, match="bandwidth must be > 0, got 0"):
        timing.state_vector_lower_bound_ms(4, 1, 1, 0.0)


def test_gate_count_of_the_paper_circuit():
    """3n encoding gates + depth * (n CNOTs + 3n rotations), as counted in the Cirq circuit."""
    assert timing.vqc_gate_count(10, 2) == 30 + 2 * (10 + 30)
    circuit, _, _ = build_vqc(VQCSpec(n_qubits=6, depth=3, n_outputs=2))
    assert timing.vqc_gate_count(6, 3) == len(list(circuit.all_operations())) == 18 + 3 * 24


def test_time_call_reports_medians_of_a_known_delay():
    """A 20 ms sleep times as ~20 ms of wall clock and almost no CPU."""
    calls = []
    t = timing.time_call(lambda: (calls.append(1), time.sleep(0.02)), warmup=1, repeats=3)
    assert len(calls) == 4 and t["repeats"] == 3
    assert 19.0 <= t["wall_ms"] < 200.0
    assert 0.0 <= t["cpu_ms"] < t["wall_ms"]
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        timing.time_call(lambda: None, repeats=0)


def test_time_call_repeats_fast_calls_up_to_min_seconds():
    """5 ms calls with min_seconds 0.1 run ~20 times; the cap is 25 x repeats."""
    t = timing.time_call(lambda: time.sleep(0.005), warmup=0, repeats=3, min_seconds=0.1)
    assert 15 <= t["repeats"] <= 22
    t = timing.time_call(lambda: None, warmup=0, repeats=2, min_seconds=10.0)
    assert t["repeats"] == 50


def test_paired_ratio_of_known_delays():
    """30 ms against 10 ms sleeps: a ratio of ~3, each side called warmup + pairs times."""
    a, b = [], []
    r = timing.paired_ratio(
        lambda: (a.append(1), time.sleep(0.03)),
        lambda: (b.append(1), time.sleep(0.01)),
        pairs=3,
        warmup=1,
    )
    assert len(a) == len(b) == 4
    assert 2.0 < r < 3.5
    with pytest.raises(ValueError, match="pairs must be >= 1, got 0"):
        timing.paired_ratio(lambda: None, lambda: None, pairs=0)


def test_bandwidth_is_positive_and_plausible():
    """Copy bandwidth of a 1 MiB buffer is between 100 MB/s and 10 TB/s."""
    bw = timing.measure_bandwidth(2**20, repeats=3)
    assert 1e8 < bw < 1e13


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
