"""Tests of the benchmark's timing helpers (qgcam_tf.bench.timing).

The bookkeeping is checked with a fake clock that the timed calls advance by known amounts;
the real clocks only on work whose cost differs by a large known factor, with wide margins.
No sleeps, no absolute times.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time

import pytest

from qgcam_tf.bench import timing
from qgcam_tf.quantum.circuits import VQCSpec, build_vqc


class FakeClock:
    """A wall clock and a CPU clock that only move when a timed call advances them."""

    def __init__(self):
        self.wall = 0.0
        self.cpu = 0.0

    def call(self, wall: float, cpu: float = 0.0):
        """A callable that, when called, takes ``wall`` seconds and ``cpu`` CPU seconds."""

        def fn():
            self.wall += wall
            self.cpu += cpu

        return fn

    def sequence(self, walls, cpus=None):
        """A callable whose k-th call takes ``walls[k]`` seconds (and ``cpus[k]`` CPU)."""
        walls, cpus = list(walls), list(cpus or [0.0] * len(walls))
        calls = []

        def fn():
            k = len(calls)
            calls.append(k)
            self.wall += walls[k]
            self.cpu += cpus[k]

        fn.calls = calls
        return fn

    def kwargs(self) -> dict:
        return {"clock": lambda: self.wall, "cpu_clock": lambda: self.cpu}


def _work(k: int) -> int:
    """``k`` iterations of integer arithmetic: CPU cost proportional to ``k``."""
    acc = 0
    for i in range(k):
        acc = (acc * 31 + i) % 1_000_003
    return acc


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


def test_time_call_reports_medians_of_known_durations():
    """Timed calls of 5, 1 and 3 ms (CPU 2, 1, 4 ms) after one untimed call: medians 3 and 2."""
    clock = FakeClock()
    fn = clock.sequence([0.5, 0.005, 0.001, 0.003], [0.5, 0.002, 0.001, 0.004])
    t = timing.time_call(fn, warmup=1, repeats=3, **clock.kwargs())
    assert len(fn.calls) == 4 and t["repeats"] == 3
    assert t["wall_ms"] == pytest.approx(3.0, rel=1e-9)
    assert t["cpu_ms"] == pytest.approx(2.0, rel=1e-9)


def test_time_call_rejects_bad_counts():
    """repeats < 1 and warmup < 0 are refused, naming the argument and the value."""
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        timing.time_call(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="warmup must be >= 0, got -1"):
        timing.time_call(lambda: None, warmup=-1)


def test_time_call_repeats_fast_calls_up_to_min_seconds():
    """Calls of 1/128 s with min_seconds 1/8 run exactly 16 times; the cap is 25 x repeats."""
    clock = FakeClock()
    t = timing.time_call(
        clock.call(1 / 128), warmup=0, repeats=3, min_seconds=1 / 8, **clock.kwargs()
    )
    assert t["repeats"] == 16
    t = timing.time_call(clock.call(0.0), warmup=0, repeats=2, min_seconds=10.0, **clock.kwargs())
    assert t["repeats"] == 50


def test_time_call_drops_to_three_repeats_for_slow_calls():
    """A first timed call above max_seconds / repeats cuts the repeats to 3; one below it
    keeps them."""
    clock = FakeClock()
    slow = timing.time_call(clock.call(0.2), repeats=7, max_seconds=1.0, **clock.kwargs())
    fast = timing.time_call(clock.call(0.1), repeats=7, max_seconds=1.0, **clock.kwargs())
    assert (slow["repeats"], fast["repeats"]) == (3, 7)


def test_time_call_orders_real_work():
    """20x the work takes more CPU (at least 4x: a wide margin) and more wall time."""
    small = timing.time_call(lambda: _work(20_000), warmup=1, repeats=5)
    large = timing.time_call(lambda: _work(400_000), warmup=1, repeats=5)
    assert large["cpu_ms"] > 4 * small["cpu_ms"]
    assert large["wall_ms"] > small["wall_ms"]


def test_paired_ratio_of_known_durations():
    """Pairs of (3, 1), (30, 1), (3, 1) units: median ratio 3; each side called
    warmup + pairs times."""
    clock = FakeClock()
    a = clock.sequence([9.0, 3.0, 30.0, 3.0])
    b = clock.sequence([9.0, 1.0, 1.0, 1.0])
    r = timing.paired_ratio(a, b, pairs=3, warmup=1, clock=lambda: clock.wall)
    assert len(a.calls) == len(b.calls) == 4
    assert r == pytest.approx(3.0, rel=1e-12)


def test_interleaved_pairs_ratio_is_the_median_of_per_pair_ratios():
    """With a fake clock, the recorded seconds are the calls' own and the ratio is the median
    of b/a per pair, not the ratio of medians; the warmup pair is not recorded."""
    clock = FakeClock()
    a_time = clock.sequence([9.0, 1.0, 2.0, 4.0])
    b_time = clock.sequence([9.0, 10.0, 30.0, 8.0])

    def a():
        a_time()
        return "a"

    def b():
        b_time()
        return "b"

    out = timing.interleaved_pairs(a, b, pairs=3, warmup=1, clock=lambda: clock.wall)
    assert out["seconds"] == [[1.0, 10.0], [2.0, 30.0], [4.0, 8.0]]
    assert out["ratio"] == 10.0  # median of 10, 15, 2
    assert out["a_s"] == 2.0 and out["b_s"] == 10.0
    assert out["results"] == [("a", "b")] * 3
    with pytest.raises(ValueError, match="pairs must be an int >= 1, got 0"):
        timing.interleaved_pairs(a, b, pairs=0)
    with pytest.raises(ValueError, match="warmup must be an int >= 0, got -1"):
        timing.interleaved_pairs(a, b, pairs=1, warmup=-1)


def test_paired_ratio_rejects_bad_counts():
    """pairs < 1 and warmup < 0 are refused, naming the argument and the value."""
    with pytest.raises(ValueError, match="pairs must be >= 1, got 0"):
        timing.paired_ratio(lambda: None, lambda: None, pairs=0)
    with pytest.raises(ValueError, match="warmup must be >= 0, got -2"):
        timing.paired_ratio(lambda: None, lambda: None, warmup=-2)


def test_paired_ratio_of_real_work():
    """20x the work against 1x, interleaved: a ratio well above 1 (between 4 and 100). The
    clock is the process's CPU time, so other jobs on a shared machine cannot move it."""
    r = timing.paired_ratio(
        lambda: _work(400_000), lambda: _work(20_000), pairs=7, warmup=1, clock=time.process_time
    )
    assert 4 < r < 100


def test_bandwidth_accounts_for_reads_writes_and_inner_copies():
    """1 MiB buffer, 64 copies per timing, each timing 0.5 s on the fake clock:
    2 * 2**20 B * 64 / 0.5 s = 2**28 B/s exactly."""
    ticks = iter(0.5 * k for k in range(100))
    bw = timing.measure_bandwidth(2**20, repeats=3, clock=lambda: next(ticks))
    assert bw == 2**28


def test_bandwidth_of_the_real_clock_is_finite_and_positive():
    """On the real clock the bandwidth of a small buffer is a finite positive number."""
    bw = timing.measure_bandwidth(2**16, repeats=2)
    assert math.isfinite(bw) and bw > 0


def test_bandwidth_rejects_bad_arguments():
    """n_bytes < 1 and repeats < 1 are refused, naming the argument and the value."""
    with pytest.raises(ValueError, match="n_bytes must be >= 1, got 0"):
        timing.measure_bandwidth(0)
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        timing.measure_bandwidth(16, repeats=0)


def test_imports_with_the_standard_library_and_numpy_only():
    """A fresh interpreter in which TensorFlow, Cirq and TFQ cannot be imported still imports
    the module (the peers' virtualenv relies on it)."""
    code = (
        "import sys\n"
        "for m in ('tensorflow', 'cirq', 'tensorflow_quantum', 'sympy'):\n"
        "    sys.modules[m] = None\n"
        "from qgcam_tf.bench import timing\n"
        "print(timing.time_call(lambda: None, warmup=0, repeats=2)['repeats'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2"


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
