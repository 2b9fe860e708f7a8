"""Where a benchmark row spends its time: a ``tf.profiler`` trace summed per op type.

Usage (from the checkout, main venv)::

    python benchmarks/profile_row.py qgradcam [--iterations 10] [--logdir runs/profile]
    python benchmarks/profile_row.py vqc --n 10 [--name tf_xla]
    python benchmarks/profile_row.py hlo --n 10 --name tf_xla
    benchmarks/.venv-bench/bin/python benchmarks/profile_row.py hlo --n 10 --name tensorcircuit
    python benchmarks/profile_row.py train [--n 10 --batch 64 --image-size 28]
    python benchmarks/profile_row.py train-split [--rounds 5 --repeats 5]
    python benchmarks/profile_row.py train-variants [--pairs 15 --rounds 5]

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

The training target (``tf`` images/s / PennyLane-JAX's): ``train`` profiles one Adam step
of the ``tf`` hybrid and of its classical twin (``qgcam benchmark``'s training calls),
then the op types by how much longer they take in the hybrid's step than in the twin's,
and the slowest ops by name (which conv, forward or which gradient) in both steps.
``train-split`` times, in interleaved rounds (each round: every step here, then every
peer's step in its own process of the peers' interpreter, ``--peer-python``), the ``tf``
hybrid, the twin and the ``tf`` VQC forward + backward alone, and PennyLane-JAX's hybrid,
its classical twin (``peers train --model classical``), its QNode alone (``--model vqc``)
and its hybrid with 16/32 filters (the CNN ``qgcam benchmark`` gave the peer before it
copied ``build_hybrid_model``'s 32/64); each row's step time over the ``tf`` hybrid's and
over the twin's are medians of per-round ratios. The peer's time over our twin's bounds
what a VQC of zero cost would give. ``train-variants`` times changes to the ``tf`` step
against it: XLA over the whole step (``tf.function(jit_compile=True)``), XLA on the VQC
only, and the whole twin step under XLA, each by ``paired_ratio`` in this process; thread
settings and oneDNN off, which TensorFlow fixes when it starts, in interleaved rounds of
two child processes (``train-serve``, the default's and the variant's).
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
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _ROOT)


def op_summary(call, iterations: int, logdir: str, *, by_name: bool = False) -> tuple[list, float]:
    """Runs ``call`` ``iterations`` times under ``tf.profiler``.

    Returns:
        ``(rows, wall_ms)``: rows ``(op type, ms per call, events per call)``, slowest
        first, and the mean wall time of one call while profiled. With ``by_name``, rows
        also hold the ops by their full name: ``(rows_by_type, rows_by_name, wall_ms)``.
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
    total, count = collections.Counter(), collections.Counter()
    named, named_count = collections.Counter(), collections.Counter()
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
                named[name] += event.duration_ps / 1e9 / iterations
                named_count[name] += 1 / iterations
    rows = sorted(((k, v, count[k]) for k, v in total.items()), key=lambda r: -r[1])
    if by_name:
        by = sorted(((k, v, named_count[k]) for k, v in named.items()), key=lambda r: -r[1])
        return rows, by, wall_ms
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


TRAIN_KINDS = ("tf", "classical", "tf_xla", "tf_vqc")
# Variants timed in a child process against a child with the defaults: (label, env).
PROCESS_VARIANTS = (
    (
        "threads: inter-op 1, intra-op 2",
        {"TF_NUM_INTEROP_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "2"},
    ),
    (
        "threads: inter-op 2, intra-op 1",
        {"TF_NUM_INTEROP_THREADS": "2", "TF_NUM_INTRAOP_THREADS": "1"},
    ),
    (
        "threads: inter-op 1, intra-op 1",
        {"TF_NUM_INTEROP_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1"},
    ),
    ("oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)", {"TF_ENABLE_ONEDNN_OPTS": "0"}),
)
PEER_ROWS = (
    ("PennyLane-JAX hybrid", ["--model", "hybrid"]),
    ("PennyLane-JAX twin", ["--model", "classical"]),
    ("PennyLane-JAX VQC fwd+bwd", ["--model", "vqc"]),
    ("PennyLane-JAX hybrid, 16/32 filters", ["--model", "hybrid", "--conv-filters", "16,32"]),
)


def _bench_config(args):
    from qgcam_tf.bench.suite import BenchConfig

    side = args.image_size
    return BenchConfig(batch=args.batch, image_shape=(side, side, 1), train_n=args.n)


def train_step(kind: str, cfg, *, jit_compile: bool = False):
    """One Adam step of ``qgcam benchmark``'s training call (``suite.train_call``) for
    ``kind`` (``tf``, ``classical``, ``tf_xla``: the hybrid's VQC under XLA), with the whole
    step under XLA when ``jit_compile``; or, for ``tf_vqc``, the ``tf`` VQC forward +
    backward call of ``peers vqc --name tf`` at the model's qubits and batch."""
    if kind == "tf_vqc":
        from qgcam_tf.bench.peers import row_inputs, vqc_call

        x, theta = row_inputs(cfg.train_n, cfg.batch, cfg.depth)
        return vqc_call("tf", cfg.train_n, cfg.depth, min(10, cfg.train_n), x, theta)[0]
    from qgcam_tf.bench.suite import train_call

    return train_call(kind, cfg, jit_compile=jit_compile)


def _children(specs):
    """Starts each ``(label, argv, env)`` child, waits for its ``{"ready": ...}`` line."""
    import json
    import subprocess

    procs = {}
    for label, argv, env in specs:
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", **env}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
        procs[label] = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
    ready = {}
    for label, proc in procs.items():
        line = proc.stdout.readline()
        got = json.loads(line) if line.strip() else {}
        if "ready" not in got:
            _stop(procs)
            raise RuntimeError(f"{label}: the child did not start (exit {proc.poll()})")
        ready[label] = got["ready"]
    return procs, ready


def _child_ms(proc) -> float:
    import json

    proc.stdin.write("time\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())["wall_ms"]


def _stop(procs) -> None:
    for proc in procs.values():
        try:
            proc.stdin.write("quit\n")
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=60)
        except Exception:  # noqa: BLE001 - a child that hangs is killed, whatever the cause
            proc.kill()


def _round_table(rounds: list, first: str, second: str) -> None:
    """Prints each row's median ms per step and its per-round ratios to two rows."""
    import statistics

    print(
        f"| step | ms per step (median of {len(rounds)} rounds) | images/s | x {first} (paired) "
        f"| x {second} (paired) |"
    )
    print("|---|---:|---:|---:|---:|")
    batch = rounds[0]["_batch"]
    for label in (k for k in rounds[0] if not k.startswith("_")):
        ms = statistics.median(r[label] for r in rounds)
        a = statistics.median(r[label] / r[first] for r in rounds)
        b = statistics.median(r[label] / r[second] for r in rounds)
        print(f"| {label} | {ms:.2f} | {1e3 * batch / ms:.0f} | {a:.2f} | {b:.2f} |")


def train_split(args) -> int:
    """The ``train-split`` target: our steps and the peer's, interleaved in rounds."""
    from qgcam_tf.bench.timing import time_call

    cfg = _bench_config(args)
    ours = {
        "tf hybrid": train_step("tf", cfg),
        "tf twin": train_step("classical", cfg),
        "tf VQC fwd+bwd": train_step("tf_vqc", cfg),
    }
    common = ["--n", str(args.n), "--batch", str(args.batch), "--image-size"]
    common += [str(args.image_size), "--repeats", str(args.repeats)]
    specs = [
        (label, [args.peer_python, "-m", "qgcam_tf.bench.peers", "train", *common, *extra], {})
        for label, extra in PEER_ROWS
    ]
    procs, ready = _children(specs)
    rounds = []
    try:
        for call in ours.values():
            call()
        for _ in range(args.rounds):
            r = {"_batch": args.batch}
            for label, call in ours.items():
                r[label] = time_call(call, warmup=1, repeats=args.repeats)["wall_ms"]
            for label, proc in procs.items():
                r[label] = _child_ms(proc)
            rounds.append(r)
    finally:
        _stop(procs)
    versions = ready[PEER_ROWS[0][0]]
    print(
        f"Training steps, n={args.n}, batch {args.batch}, {args.image_size}x{args.image_size} "
        f"images, {args.rounds} rounds of {args.repeats} steps each (PennyLane "
        f"{versions.get('pennylane')}, JAX {versions.get('jax')}; trainable values: peer hybrid "
        f"{versions.get('parameters')}, peer twin {ready[PEER_ROWS[1][0]].get('parameters')})"
    )
    _round_table(rounds, "tf hybrid", "tf twin")
    return 0


def _serve(args) -> int:
    """``train-serve``: a child that builds one step, then times it on each ``time`` line."""
    import json

    from qgcam_tf.bench.timing import time_call

    call = train_step(args.kind, _bench_config(args), jit_compile=args.jit_step)
    call()
    print(json.dumps({"ready": {"kind": args.kind}}), flush=True)
    for line in sys.stdin:
        if line.strip() != "time":
            break
        print(json.dumps(time_call(call, warmup=1, repeats=args.repeats)), flush=True)
    return 0


def train_variants(args) -> int:
    """The ``train-variants`` target: changes to the ``tf`` training step, each timed
    against the step as ``qgcam benchmark`` runs it."""
    import statistics

    from qgcam_tf.bench.timing import paired_ratio

    cfg = _bench_config(args)
    print(
        f"Training-step variants, n={args.n}, batch {args.batch}: time / the default's "
        f"(median of per-pair or per-round ratios; < 1 is faster)"
    )
    print("| variant | x default (paired) | pairing |")
    print("|---|---:|---|")
    in_process = (  # (label, kind, whole step under XLA, the default's kind)
        ("hybrid, XLA over the whole step", "tf", True, "tf"),
        ("hybrid, XLA on the VQC only (tf_xla)", "tf_xla", False, "tf"),
        ("twin, XLA over the whole step", "classical", True, "classical"),
    )
    defaults = {}
    chosen = set(args.variant or range(len(in_process) + len(PROCESS_VARIANTS)))
    for i, (label, kind, jit, base) in enumerate(in_process):
        if i not in chosen:
            continue
        if base not in defaults:
            defaults[base] = train_step(base, cfg)
        variant = train_step(kind, cfg, jit_compile=jit)
        ratio = paired_ratio(variant, defaults[base], pairs=args.pairs, warmup=2)
        print(f"| {label} | {ratio:.2f} | {args.pairs} pairs, one process |", flush=True)
    script = os.path.abspath(__file__)
    serve = [sys.executable, script, "train-serve", "--kind", "tf", "--n", str(args.n)]
    serve += ["--batch", str(args.batch), "--image-size", str(args.image_size)]
    serve += ["--repeats", str(args.repeats)]
    for i, (label, env) in enumerate(PROCESS_VARIANTS, start=len(in_process)):
        if i not in chosen:
            continue
        procs, _ = _children([("default", serve, {}), (label, serve, env)])
        try:
            ratios = []
            for _ in range(args.rounds):
                base = _child_ms(procs["default"])
                ratios.append(_child_ms(procs[label]) / base)
        finally:
            _stop(procs)
        ratio = statistics.median(ratios)
        print(
            f"| hybrid, {label} | {ratio:.2f} | {args.rounds} rounds, two processes |", flush=True
        )
    return 0


def _diff(hybrid: list, twin: list, top: int) -> None:
    """Prints the op types by their time in the hybrid's step minus the twin's."""
    h = {k: ms for k, ms, _ in hybrid}
    t = {k: ms for k, ms, _ in twin}
    rows = sorted(
        ((k, h.get(k, 0.0) - t.get(k, 0.0)) for k in set(h) | set(t)), key=lambda r: -r[1]
    )
    print(f"\nhybrid - twin: {sum(h.values()) - sum(t.values()):.2f} ms of op time per step")
    print("| op type | hybrid ms | twin ms | difference ms |")
    print("|---|---:|---:|---:|")
    for kind, d in rows[:top]:
        print(f"| {kind} | {h.get(kind, 0.0):.2f} | {t.get(kind, 0.0):.2f} | {d:+.2f} |")


def _strip_model(name: str) -> str:
    """An op's name without its model's scope (``qgcam_hybrid/``, ``classical_twin/``)."""
    return re.sub(r"(^|/)(qgcam_hybrid|classical_twin)/", r"\1", name)


def _by_name(hybrid: dict, twin: dict, top: int) -> None:
    """Prints the slowest ops by name (model scope dropped), the hybrid's ms beside the twin's."""
    rows = sorted(set(hybrid) | set(twin), key=lambda k: -max(hybrid.get(k, 0), twin.get(k, 0)))
    print("\nslowest ops by name (the model's scope dropped)")
    print("| op | hybrid ms | twin ms |")
    print("|---|---:|---:|")
    for name in rows[:top]:
        print(f"| {name} | {hybrid.get(name, 0.0):.2f} | {twin.get(name, 0.0):.2f} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from qgcam_tf.bench.peers import NAMES

    p.add_argument(
        "target",
        choices=("qgradcam", "vqc", "hlo", "train", "train-split", "train-variants", "train-serve"),
    )
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--batch", type=int, default=64, help="train targets")
    p.add_argument("--image-size", type=int, default=28, help="train targets")
    p.add_argument("--rounds", type=int, default=5, help="train-split, train-variants")
    p.add_argument("--repeats", type=int, default=5, help="steps per round")
    p.add_argument("--pairs", type=int, default=15, help="train-variants, in-process pairs")
    p.add_argument(
        "--peer-python",
        default=os.path.join("benchmarks", ".venv-bench", "bin", "python"),
        help="train-split: the peers' interpreter",
    )
    p.add_argument(
        "--variant",
        type=int,
        action="append",
        help="train-variants: run only these (0-2: XLA over the hybrid's step, on its VQC, "
        "over the twin's step; 3-6: threads 1/2, 2/1, 1/1, oneDNN off); default all",
    )
    p.add_argument("--kind", choices=TRAIN_KINDS, default="tf", help="train-serve")
    p.add_argument("--jit-step", action="store_true", help="train-serve: XLA over the step")
    p.add_argument("--name", default="tf_xla", choices=NAMES)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--logdir", default=os.path.join("runs", "profile"))
    args = p.parse_args(argv)
    for name in ("batch", "image_size", "rounds", "repeats", "pairs"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.target == "train-serve":
        return _serve(args)
    if args.target == "train-split":
        return train_split(args)
    if args.target == "train-variants":
        return train_variants(args)
    if args.target == "train":
        cfg = _bench_config(args)
        got, names = {}, {}
        for kind, title in (
            ("tf", "Training step, tf hybrid"),
            ("classical", "Training step, classical twin"),
        ):
            logdir = os.path.join(args.logdir, f"train-{kind}")
            rows, by_name, wall = op_summary(
                train_step(kind, cfg), args.iterations, logdir, by_name=True
            )
            _print(f"{title} (n={args.n}, batch {args.batch})", rows, wall, args.top)
            got[kind] = rows
            names[kind] = {_strip_model(k): ms for k, ms, _ in by_name}
        _diff(got["tf"], got["classical"], args.top)
        _by_name(names["tf"], names["classical"], args.top)
    elif args.target == "qgradcam":
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
