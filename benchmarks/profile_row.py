"""Where a benchmark row spends its time: a ``tf.profiler`` trace summed per op type.

Usage (from the checkout, main venv)::

    python benchmarks/profile_row.py qgradcam [--iterations 10] [--logdir runs/profile]
    python benchmarks/profile_row.py vqc --n 10 [--name tf_xla]
    python benchmarks/profile_row.py hlo --n 10 --name tf_xla
    benchmarks/.venv-bench/bin/python benchmarks/profile_row.py hlo --n 10 --name tensorcircuit

``qgradcam`` profiles one batch of 64 maps of QGrad-CAM on the ``tf`` hybrid and of
classical Grad-CAM on the twin (the calls of ``qgcam benchmark``'s explanation rows);
``vqc`` profiles the VQC fwd+bwd row ``--name`` at ``--n`` qubits (batch 64). For each
call it prints the op types by their summed time per call (events of TensorFlow's compute
threads, nested events counted in their own right, so the shares are of the op events'
sum, not of wall time) and the call's wall time under the profiler.

Under XLA the profiler sees one compiled cluster, not its ops. ``hlo`` prints what XLA
compiled instead: the instructions of the optimised HLO module's entry computation (each
fusion, dot, reduce... is one kernel run per call) by opcode, for a row compiled as one
step (``tf_xla``, and the peers run by ``jax.jit``: run those with the peers' interpreter).
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def op_summary(call, iterations: int, logdir: str) -> tuple[list, float]:
    """Runs ``call`` ``iterations`` times under ``tf.profiler``.

    Returns:
        ``(rows, wall_ms)``: rows ``(op type, ms per call, events per call)``, slowest
        first, and the mean wall time of one call while profiled.
    """
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    call()  # trace and compile outside the profile
    os.makedirs(logdir, exist_ok=True)
    tf.profiler.experimental.start(logdir)
    start = time.perf_counter()
    for _ in range(iterations):
        call()
    wall_ms = 1e3 * (time.perf_counter() - start) / iterations
    tf.profiler.experimental.stop()
    path = max(
        glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True), key=os.path.getmtime
    )
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    total = collections.Counter()
    count = collections.Counter()
    for plane in space.planes:
        meta = plane.event_metadata
        for line in plane.lines:
            if line.name == "python":
                continue
            for event in line.events:
                name = meta[event.metadata_id].name
                if ":" not in name or "::" in name:  # executor bookkeeping, not an op
                    continue
                kind = name.rsplit(":", 1)[1]
                total[kind] += event.duration_ps / 1e9 / iterations
                count[kind] += 1 / iterations
    rows = sorted(((k, v, count[k]) for k, v in total.items()), key=lambda r: -r[1])
    return rows, wall_ms


def entry_instructions(hlo: str) -> collections.Counter:
    """Opcodes of the instructions of an HLO module's ``ENTRY`` computation, counted."""
    if "ENTRY" not in hlo:
        raise ValueError("the HLO text has no ENTRY computation")
    entry = hlo[hlo.index("ENTRY") :]
    entry = entry[: entry.find("\n}") + 1 or None]  # up to the computation's closing brace
    return collections.Counter(
        m.group(1) for m in re.finditer(r"^\s*(?:ROOT )?%?\S+ = \S+ ([\w-]+)\(", entry, re.M)
    )


def _print(title: str, rows: list, wall_ms: float, top: int) -> None:
    s = sum(r[1] for r in rows) or 1.0
    print(f"\n{title}: {wall_ms:.1f} ms per call under the profiler")
    print("| op type | ms per call | share of op time | events per call |")
    print("|---|---:|---:|---:|")
    for kind, ms, n in rows[:top]:
        print(f"| {kind} | {ms:.2f} | {100 * ms / s:.0f} % | {n:.0f} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from qgcam_tf.bench.peers import NAMES

    p.add_argument("target", choices=("qgradcam", "vqc", "hlo"))
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--name", default="tf_xla", choices=NAMES)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--logdir", default=os.path.join("runs", "profile"))
    args = p.parse_args(argv)
    if args.target == "qgradcam":
        from qgcam_tf.bench.suite import BenchConfig, explain_call

        cfg = BenchConfig()
        for kind, title in (("tf", "QGrad-CAM, tf"), ("classical", "Grad-CAM, classical twin")):
            call = explain_call(kind, cfg)
            rows, wall = op_summary(call, args.iterations, os.path.join(args.logdir, kind))
            _print(title, rows, wall, args.top)
    elif args.target == "hlo":
        from qgcam_tf.bench.peers import row_inputs, vqc_call

        x, theta = row_inputs(args.n, 64, 2)
        call, _ = vqc_call(args.name, args.n, 2, min(10, args.n), x, theta)
        if not hasattr(call, "optimized_hlo"):
            p.error(f"--name {args.name!r} is not compiled by XLA as one step")
        call()
        ops = entry_instructions(call.optimized_hlo())
        print(
            f"XLA {args.name} n={args.n}: {sum(ops.values())} instructions in the entry computation"
        )
        print("| opcode | instructions |")
        print("|---|---:|")
        for op, count in ops.most_common(args.top):
            print(f"| {op} | {count} |")
    else:
        from qgcam_tf.bench.peers import row_inputs, vqc_call

        x, theta = row_inputs(args.n, 64, 2)
        call, _ = vqc_call(args.name, args.n, 2, min(10, args.n), x, theta)
        rows, wall = op_summary(call, args.iterations, os.path.join(args.logdir, args.name))
        _print(f"VQC {args.name} n={args.n}", rows, wall, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
