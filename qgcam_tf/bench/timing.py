"""Timing helpers of the benchmark: medians of repeated calls, paired ratios, bandwidth.

Importable with the standard library and NumPy alone (TensorFlow and Cirq are imported
inside the functions that need them), so the peers' virtualenv, which has no qgcam_tf
stack, times its calls with the same code as ``qgcam benchmark``.

The clocks are parameters (``clock=``, ``cpu_clock=``), so the bookkeeping can be checked
with a fake clock.

Example:
    >>> from qgcam_tf.bench.timing import time_call
    >>> t = time_call(lambda: sum(range(10_000)), warmup=1, repeats=5)
    >>> sorted(t)
    ['cpu_ms', 'repeats', 'wall_ms']
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable

import numpy as np

__all__ = [
    "COMPLEX64_BYTES",
    "FWD_BWD_PASSES",
    "interleaved_pairs",
    "machine_info",
    "measure_bandwidth",
    "paired_ratio",
    "state_vector_lower_bound_ms",
    "time_call",
    "vqc_gate_count",
]

# The directory above the qgcam_tf package: the checkout when running from source.
_SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPLEX64_BYTES = 8
# A gate-by-gate forward pass reads and writes the state once per gate; backpropagation
# (or the adjoint method) sweeps back over the state and its adjoint: 3 sweeps in all.
FWD_BWD_PASSES = 3


def time_call(
    fn: Callable[[], object],
    *,
    warmup: int = 2,
    repeats: int = 7,
    max_seconds: float | None = None,
    min_seconds: float = 0.0,
    clock: Callable[[], float] = time.perf_counter,
    cpu_clock: Callable[[], float] = time.process_time,
) -> dict:
    """Median wall-clock and CPU milliseconds of ``fn()`` after ``warmup`` untimed calls.

    Args:
        fn: the call to time; it must block until its result is ready (``.numpy()``).
        warmup: untimed calls first (tracing, XLA compilation).
        repeats: timed calls.
        max_seconds: when the first timed call takes longer than ``max_seconds / repeats``,
            repeats drop to 3.
        min_seconds: keep calling (up to ``25 * repeats`` calls) until the timed calls add
            up to this many seconds.
        clock: wall clock in seconds.
        cpu_clock: CPU clock of the process in seconds.

    Returns:
        ``{"wall_ms", "cpu_ms", "repeats"}``; wall and CPU are medians.

    Raises:
        ValueError: ``repeats < 1`` or ``warmup < 0``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    target = repeats
    while len(wall) < target:
        t0, c0 = clock(), cpu_clock()
        fn()
        wall.append(clock() - t0)
        cpu.append(cpu_clock() - c0)
        if max_seconds is not None and len(wall) == 1 and wall[0] > max_seconds / repeats:
            target = min(repeats, 3)
        if len(wall) == target and sum(wall) < min_seconds and target < 25 * repeats:
            target += 1
    return {
        "wall_ms": 1e3 * statistics.median(wall),
        "cpu_ms": 1e3 * statistics.median(cpu),
        "repeats": len(wall),
    }


def paired_ratio(
    fn_a: Callable[[], object],
    fn_b: Callable[[], object],
    *,
    pairs: int = 15,
    warmup: int = 2,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median over ``pairs`` of ``time(fn_a) / time(fn_b)``, the two called back to back.

    On a shared machine the speed drifts between rows measured minutes apart; interleaving
    the calls makes both sides of each ratio see the same machine.

    Args:
        fn_a: the numerator's call; it must block until its result is ready.
        fn_b: the denominator's call.
        pairs: timed pairs (the median ratio is returned).
        warmup: untimed pairs first.
        clock: wall clock in seconds.

    Returns:
        The median ratio.

    Raises:
        ValueError: ``pairs < 1`` or ``warmup < 0``.
    """
    if pairs < 1:
        raise ValueError(f"pairs must be >= 1, got {pairs}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    timed = interleaved_pairs(fn_a, fn_b, pairs=pairs, warmup=warmup, clock=clock)
    return statistics.median(a / b for a, b in timed["seconds"])


def interleaved_pairs(
    fn_a: Callable[[], object],
    fn_b: Callable[[], object],
    *,
    pairs: int,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> dict:
    """Times ``fn_a`` and ``fn_b`` back to back ``pairs`` times (after ``warmup`` untimed pairs).

    Returns:
        ``{"seconds": [[a_s, b_s], ...], "ratio": median of b_s / a_s, "a_s": median a_s,
        "b_s": median b_s, "results": [(a_result, b_result), ...]}``: ``ratio`` is the
        speedup of ``a`` over ``b``, each pair's ratio taken on the same machine state.

    Raises:
        ValueError: ``pairs < 1`` or ``warmup < 0``.
    """
    if isinstance(pairs, bool) or not isinstance(pairs, int) or pairs < 1:
        raise ValueError(f"pairs must be an int >= 1, got {pairs!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    for _ in range(warmup):
        fn_a()
        fn_b()
    seconds, results = [], []
    for _ in range(pairs):
        t0 = clock()
        a = fn_a()
        t1 = clock()
        b = fn_b()
        t2 = clock()
        seconds.append([t1 - t0, t2 - t1])
        results.append((a, b))
    return {
        "seconds": seconds,
        "ratio": statistics.median(b / a for a, b in seconds),
        "a_s": statistics.median(a for a, _ in seconds),
        "b_s": statistics.median(b for _, b in seconds),
        "results": results,
    }


def state_vector_lower_bound_ms(
    n_qubits: int, batch: int, n_gates: int, bandwidth: float, *, passes: int = FWD_BWD_PASSES
) -> float:
    """Time to stream the state through memory once per gate, forward and backward.

    ``passes * n_gates * (2 * batch * 2**n * 8 bytes) / bandwidth``: each gate reads and
    writes every complex64 amplitude once; ``passes`` sweeps (3: forward, then the backward
    sweep over the state and its adjoint).

    Args:
        n_qubits: qubits.
        batch: circuits simulated together.
        n_gates: gates applied one by one.
        bandwidth: bytes per second.
        passes: sweeps over the circuit.

    Returns:
        milliseconds.
    """
    if bandwidth <= 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    bytes_per_gate = 2 * batch * (2**n_qubits) * COMPLEX64_BYTES
    return 1e3 * passes * n_gates * bytes_per_gate / bandwidth


def measure_bandwidth(
    n_bytes: int, *, repeats: int = 20, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Copy bandwidth (bytes/s, read + write) for a buffer of ``n_bytes``: best of ``repeats``.

    Measured at the state's own size, so a state that fits in cache is bounded by the
    cache's bandwidth, not DRAM's. Each timing copies the buffer ``max(1, 2**24 // (n_bytes
    // 4))`` times (about 64 MB), so that short copies are timed well.

    Args:
        n_bytes: buffer size (rounded down to whole float32 values, at least one).
        repeats: timings; the fastest is kept.
        clock: wall clock in seconds.

    Returns:
        bytes per second: twice the buffer (read + write) over the time of one copy.

    Raises:
        ValueError: ``n_bytes < 1`` or ``repeats < 1``.
    """
    if n_bytes < 1:
        raise ValueError(f"n_bytes must be >= 1, got {n_bytes}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    n = max(1, int(n_bytes) // 4)
    src = np.ones(n, np.float32)
    dst = np.empty_like(src)
    inner = max(1, int(2**24 // max(n, 1)))  # ~64 MB per timing, so short copies are timed well
    best = math.inf
    for _ in range(repeats):
        t0 = clock()
        for _ in range(inner):
            np.copyto(dst, src)
        best = min(best, (clock() - t0) / inner)
    return 2 * src.nbytes / best


def vqc_gate_count(n_qubits: int, depth: int) -> int:
    """Gates of the paper circuit: ``3n`` encoding + ``depth * (n CNOTs + 3n rotations)``."""
    from qgcam_tf.quantum.circuits import VQCSpec, build_vqc

    circuit, _, _ = build_vqc(VQCSpec(n_qubits=n_qubits, depth=depth, n_outputs=1))
    return len(list(circuit.all_operations()))


def machine_info() -> dict:
    """CPU model, cores, memory, TensorFlow / Python versions, load average, git commit.

    The commit is that of the checkout holding the qgcam_tf package (None for an installed
    package outside a git checkout).
    """
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                cwd=_SOURCE_DIR,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "load_average_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "git_commit": commit,
    }
