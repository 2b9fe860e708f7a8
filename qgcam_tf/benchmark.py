"""Benchmark suite: the VQC, training, QGrad-CAM and serving, measured beside their peers.

Every figure is measured in one run, after warm-up, as the median of several repeats, and
written as ``benchmark.json`` and ``benchmark.md`` (a Markdown table with the machine's
description). Wall-clock medians are the headline numbers; CPU-time medians are recorded
beside them because the machine may be shared (the load average at start and end is kept).

Peers (PennyLane 0.44.1, tensorcircuit-ng) live in their own virtualenv,
``benchmarks/.venv-bench`` (``bash benchmarks/setup_pennylane.sh``), and run as
subprocesses of ``benchmarks/peers.py``; their rows are skipped with a message when that
environment is absent. The exported-``explain`` latency runs in a subprocess in which
``tensorflow_quantum`` cannot be imported.

Example:
    >>> from qgcam_tf.benchmark import run_benchmark
    >>> results = run_benchmark("benchmarks/results", quick=True)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

import numpy as np

from qgcam_tf.fileio import atomic_path, write_json_atomic

__all__ = [
    "BenchConfig",
    "COMPLEX64_BYTES",
    "FWD_BWD_PASSES",
    "machine_info",
    "measure_bandwidth",
    "render_markdown",
    "run_benchmark",
    "state_vector_lower_bound_ms",
    "time_call",
    "vqc_gate_count",
]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS_SCRIPT = os.path.join(ROOT, "benchmarks", "peers.py")
SERVE_SCRIPT = os.path.join(ROOT, "benchmarks", "serve_latency.py")
DEFAULT_PEER_PYTHON = os.path.join(ROOT, "benchmarks", ".venv-bench", "bin", "python")
COMPLEX64_BYTES = 8
# A gate-by-gate forward pass reads and writes the state once per gate; backpropagation
# (or the adjoint method) sweeps back over the state and its adjoint: 3 sweeps in all.
FWD_BWD_PASSES = 3
EXECUTORS = ("tfq", "tf", "tf_xla", "tensorcircuit")


@dataclasses.dataclass
class BenchConfig:
    """What one benchmark run measures.

    Attributes:
        ns: qubit counts of the VQC-alone rows.
        batch: batch size of every row.
        depth: VQC depth.
        image_shape: input of the hybrid model (MNIST: 28x28x1).
        warmup: untimed calls before timing.
        repeats: timed calls (the median is reported).
        train_n: qubits of the training / explanation / serving rows.
        peers: run the PennyLane and tensorcircuit-ng rows (needs the peers' venv).
        export: measure the exported ``explain`` signature.
        peer_python: the peers' interpreter.
        max_seconds_per_row: fewer repeats for rows slower than this (never below 3).
        xla_models: also time training and QGrad-CAM with the VQC under XLA.
    """

    ns: Sequence[int] = (4, 6, 8, 10, 12, 14, 16)
    batch: int = 64
    depth: int = 2
    image_shape: tuple[int, int, int] = (28, 28, 1)
    warmup: int = 2
    repeats: int = 7
    train_n: int = 10
    peers: bool = True
    export: bool = True
    peer_python: str = DEFAULT_PEER_PYTHON
    max_seconds_per_row: float = 30.0
    xla_models: bool = True

    @classmethod
    def quick(cls) -> BenchConfig:
        """A small subset for tests: 4 qubits, 8x8 images, batch 8, no peers, no XLA models."""
        return cls(ns=(4,), batch=8, image_shape=(8, 8, 1), warmup=1, repeats=3, train_n=4,
                   peers=False, export=True, max_seconds_per_row=5.0, xla_models=False)

    def validate(self) -> None:
        """Raises ValueError naming the first bad field."""
        if not self.ns or any(isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 24 for n in self.ns):
            raise ValueError(f"ns must be ints in [2, 24], got {self.ns!r}")
        for name in ("batch", "depth", "repeats", "train_n"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup!r}")
        if not 2 <= self.train_n <= 24:
            raise ValueError(f"train_n must be in [2, 24], got {self.train_n}")


# --------------------------------------------------------------------------- helpers
def time_call(fn: Callable[[], object], *, warmup: int = 2, repeats: int = 7,
              max_seconds: float | None = None) -> dict:
    """Median wall-clock and CPU milliseconds of ``fn()`` after ``warmup`` untimed calls.

    Args:
        fn: the call to time; it must block until its result is ready (``.numpy()``).
        warmup: untimed calls first (tracing, XLA compilation).
        repeats: timed calls.
        max_seconds: when the first timed call takes longer, repeats drop to 3.

    Returns:
        ``{"wall_ms", "cpu_ms", "repeats"}``; wall and CPU are medians.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    target = repeats
    while len(wall) < target:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if max_seconds is not None and len(wall) == 1 and wall[0] > max_seconds / repeats:
            target = min(repeats, 3)
    return {"wall_ms": 1e3 * statistics.median(wall), "cpu_ms": 1e3 * statistics.median(cpu),
            "repeats": len(wall)}


def state_vector_lower_bound_ms(n_qubits: int, batch: int, n_gates: int, bandwidth: float,
                                *, passes: int = FWD_BWD_PASSES) -> float:
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


def measure_bandwidth(n_bytes: int, *, repeats: int = 20) -> float:
    """Copy bandwidth (bytes/s, read + write) for a buffer of ``n_bytes``: best of ``repeats``.

    Measured at the state's own size, so a state that fits in cache is bounded by the
    cache's bandwidth, not DRAM's.
    """
    n = max(1, int(n_bytes) // 4)
    src = np.ones(n, np.float32)
    dst = np.empty_like(src)
    inner = max(1, int(2**24 // max(n, 1)))  # ~64 MB per timing, so short copies are timed well
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            np.copyto(dst, src)
        best = min(best, (time.perf_counter() - t0) / inner)
    return 2 * src.nbytes / best


def vqc_gate_count(n_qubits: int, depth: int) -> int:
    """Gates of the paper circuit: ``3n`` encoding + ``depth * (n CNOTs + 3n rotations)``."""
    from qgcam_tf.circuits import VQCSpec, build_vqc

    circuit, _, _ = build_vqc(VQCSpec(n_qubits=n_qubits, depth=depth, n_outputs=1))
    return len(list(circuit.all_operations()))


def machine_info() -> dict:
    """CPU model, cores, memory, TensorFlow / Python versions, load average, git commit."""
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
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
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


def _progress(total: int, desc: str):
    try:
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="row", file=sys.stderr, leave=True)
    except ImportError:  # pragma: no cover - tqdm is installed with the stack
        class _Plain:
            def update(self, k=1):
                pass

            def set_postfix_str(self, s):
                print(f"{desc}: {s}", file=sys.stderr, flush=True)

            def close(self):
                pass

        return _Plain()


# --------------------------------------------------------------------------- rows
def vqc_fwd_bwd(backend: str, n: int, cfg: BenchConfig) -> dict:
    """VQC alone: forward + gradient w.r.t. inputs and weights, batch ``cfg.batch``.

    ``tf_xla`` compiles the whole step (forward and backward) with XLA, as the
    tensorcircuit-ng row does.
    """
    import tensorflow as tf

    from qgcam_tf.circuits import VQCSpec
    from qgcam_tf.layers import VQCLayer

    spec = VQCSpec(n_qubits=n, depth=cfg.depth, n_outputs=min(10, n))
    layer = VQCLayer(spec, "tfq" if backend == "tfq" else "tf")
    x = tf.random.normal([cfg.batch, n], seed=2)
    layer(x)

    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, layer.theta])

    fn = tf.function(step, jit_compile=backend == "tf_xla")
    return time_call(lambda: [g.numpy() for g in fn(x)], warmup=cfg.warmup, repeats=cfg.repeats,
                     max_seconds=cfg.max_seconds_per_row)


def _data(cfg: BenchConfig, n_classes: int = 10):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 1, (cfg.batch, *cfg.image_shape)).astype(np.float32))
    labels = tf.constant(rng.integers(0, n_classes, cfg.batch))
    return images, labels


def _model(kind: str, cfg: BenchConfig):
    from qgcam_tf.circuits import VQCSpec
    from qgcam_tf.models import build_classical_twin, build_hybrid_model

    if kind == "classical":
        return build_classical_twin(cfg.image_shape, min(10, cfg.train_n))
    # The MNIST default model has 10 qubits for 10 classes; quick runs use fewer of both.
    n_classes = min(10, cfg.train_n)
    spec = VQCSpec(n_qubits=cfg.train_n, depth=cfg.depth, n_outputs=n_classes)
    backend = "tf" if kind == "tf_xla" else kind
    return build_hybrid_model(cfg.image_shape, spec.n_outputs, vqc=spec, backend=backend,
                              jit_compile=kind == "tf_xla")


def train_throughput(kind: str, cfg: BenchConfig) -> dict:
    """Images/s of one optimizer step (Adam, sparse cross-entropy) in ``tf.function``."""
    import tensorflow as tf
    import tf_keras as keras

    model = _model(kind, cfg)
    n_classes = int(model.output_shape[-1])
    images, labels = _data(cfg, n_classes)
    opt = keras.optimizers.Adam(1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    t = time_call(lambda: train_step(images, labels).numpy(), warmup=cfg.warmup, repeats=cfg.repeats,
                  max_seconds=cfg.max_seconds_per_row)
    t["images_per_s"] = cfg.batch / (t["wall_ms"] / 1e3)
    return t


def explain_time(kind: str, cfg: BenchConfig) -> dict:
    """One batch of maps: QGrad-CAM on the hybrid model, or Grad-CAM on the classical twin."""
    import tensorflow as tf

    from qgcam_tf.gradcam import BaseCAM, QGradCAM

    class GradCAM(BaseCAM):
        """Classical Grad-CAM: the weights are the spatial means of d logit / d A^k."""

        def get_cam_weights(self, activations, grads, images, class_index):
            return tf.reduce_mean(grads, axis=[1, 2])

    model = _model(kind, cfg)
    if kind == "classical":
        cam = GradCAM(model, score_layer="logits", batch_size=cfg.batch)
    else:
        cam = QGradCAM(model, batch_size=cfg.batch)
    images, _ = _data(cfg)
    ci = tf.fill([cfg.batch], tf.constant(-1, tf.int64))
    t = time_call(lambda: cam._explain_fn(images, ci)["maps"].numpy(), warmup=cfg.warmup,
                  repeats=cfg.repeats, max_seconds=cfg.max_seconds_per_row)
    t["maps_per_s"] = cfg.batch / (t["wall_ms"] / 1e3)
    return t


def export_latency(cfg: BenchConfig, workdir: str) -> dict:
    """Latency of the exported ``explain`` signature, batch 1 and ``cfg.batch``, in a
    subprocess where ``tensorflow_quantum`` cannot be imported."""
    try:
        from qgcam_tf.export import export_saved_model
    except ImportError as e:
        return {"skipped": f"qgcam_tf.export is not available ({e})"}
    model = _model("tf", cfg)
    path = export_saved_model(model, os.path.join(workdir, "export"), version=1)
    batches = sorted({1, cfg.batch})
    cmd = [sys.executable, SERVE_SCRIPT, path, "--batches", ",".join(map(str, batches)),
           "--warmup", str(max(cfg.warmup, 1)), "--repeats", str(cfg.repeats)]
    return _run_json(cmd, timeout=600)


def _run_json(cmd: list[str], *, timeout: float) -> dict:
    """Runs ``cmd`` and parses the JSON object on its last stdout line."""
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s: {' '.join(cmd)}"}
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"failed (exit {proc.returncode}): {tail}"}
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"skipped": f"unreadable output: {lines[-1][:200]}"}


def peer(kind: str, cfg: BenchConfig, *, ns: Sequence[int] = ()) -> dict:
    """Runs ``benchmarks/peers.py kind`` in the peers' venv; ``{"skipped": why}`` when absent."""
    if not os.path.isfile(cfg.peer_python):
        return {"skipped": f"peers' virtualenv not found ({cfg.peer_python}); create it with "
                           "`bash benchmarks/setup_pennylane.sh`"}
    if kind == "tensorcircuit":
        cmd = [cfg.peer_python, PEERS_SCRIPT, "tensorcircuit", "--ns", ",".join(map(str, ns)),
               "--batch", str(cfg.batch), "--depth", str(cfg.depth), "--warmup", str(cfg.warmup),
               "--repeats", str(cfg.repeats)]
    else:
        cmd = [cfg.peer_python, PEERS_SCRIPT, "pennylane", "--n", str(max(cfg.train_n, 10)),
               "--batch", str(cfg.batch), "--depth", str(cfg.depth), "--warmup", "1",
               "--repeats", str(min(cfg.repeats, 3)), "--vqc-only"]
    return _run_json(cmd, timeout=1800)


# --------------------------------------------------------------------------- driver
def run_benchmark(out_dir: str, *, quick: bool = False, config: BenchConfig | None = None) -> dict:
    """Measures everything and writes ``out_dir/benchmark.json`` and ``benchmark.md``.

    Args:
        out_dir: output directory (created).
        quick: the small subset of :meth:`BenchConfig.quick` (for tests).
        config: explicit configuration (overrides ``quick``).

    Returns:
        The results dict that was written as JSON.

    Raises:
        ValueError: a bad configuration.
    """
    cfg = config or (BenchConfig.quick() if quick else BenchConfig())
    cfg.validate()
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.makedirs(out_dir, exist_ok=True)
    results: dict = {"machine": machine_info(), "config": dataclasses.asdict(cfg), "skipped": {}}
    results["config"]["quick"] = bool(quick and config is None)
    results["config"].pop("peer_python")
    train_kinds = ("tfq", "tf", "tf_xla", "classical") if cfg.xla_models else ("tfq", "tf", "classical")
    total = len(cfg.ns) * 3 + 1 + 2 * len(train_kinds) + 1 + 2
    bar = _progress(total, "qgcam benchmark")

    def step(label: str):
        bar.set_postfix_str(label)

    # VQC alone ------------------------------------------------------------------------
    fwd_bwd: dict = {e: {} for e in EXECUTORS}
    cpu: dict = {e: {} for e in EXECUTORS}
    for n in cfg.ns:
        for backend in ("tfq", "tf", "tf_xla"):
            step(f"VQC {backend} n={n}")
            t = vqc_fwd_bwd(backend, n, cfg)
            fwd_bwd[backend][str(n)], cpu[backend][str(n)] = t["wall_ms"], t["cpu_ms"]
            bar.update()
    step("tensorcircuit-ng")
    tc = peer("tensorcircuit", cfg, ns=cfg.ns) if cfg.peers else {"skipped": "peers not run (--quick)"}
    for n in cfg.ns:
        row = tc.get("vqc_fwd_bwd", {}).get(str(n))
        fwd_bwd["tensorcircuit"][str(n)] = row["wall_ms"] if row else None
        cpu["tensorcircuit"][str(n)] = row["cpu_ms"] if row else None
    if "skipped" in tc:
        results["skipped"]["tensorcircuit"] = tc["skipped"]
    else:
        results["tensorcircuit_version"] = tc.get("tensorcircuit_version")
    bar.update()
    results["vqc_fwd_bwd_ms"] = fwd_bwd
    results["vqc_fwd_bwd_cpu_ms"] = cpu

    bounds, bandwidth, gates = {}, {}, {}
    for n in cfg.ns:
        state_bytes = cfg.batch * 2**n * COMPLEX64_BYTES
        bandwidth[str(n)] = measure_bandwidth(state_bytes)
        gates[str(n)] = vqc_gate_count(n, cfg.depth)
        bounds[str(n)] = state_vector_lower_bound_ms(n, cfg.batch, gates[str(n)], bandwidth[str(n)])
    results["state_vector_lower_bound_ms"] = bounds
    results["lower_bound_inputs"] = {"gates": gates, "bandwidth_bytes_per_s": bandwidth,
                                     "passes": FWD_BWD_PASSES, "bytes_per_amplitude": COMPLEX64_BYTES}

    # Training and explanations ---------------------------------------------------------
    train, explain = {}, {}
    for kind in train_kinds:
        step(f"train {kind}")
        train[kind] = train_throughput(kind, cfg)
        bar.update()
    for kind in train_kinds:
        step(f"explain {kind}")
        explain[kind] = explain_time(kind, cfg)
        bar.update()
    results["train_images_per_s"] = {k: v["images_per_s"] for k, v in train.items()}
    results["train_step_ms"] = {k: v["wall_ms"] for k, v in train.items()}
    results["explain_maps_per_s"] = {k: v["maps_per_s"] for k, v in explain.items()}
    results["explain_batch_ms"] = {k: v["wall_ms"] for k, v in explain.items()}
    results["qgradcam_over_gradcam"] = {
        k: explain[k]["wall_ms"] / explain["classical"]["wall_ms"] for k in train_kinds if k != "classical"
    }

    # PennyLane -------------------------------------------------------------------------
    step("PennyLane")
    pl = peer("pennylane", cfg) if cfg.peers else {"skipped": "peers not run (--quick)"}
    results["pennylane_train_images_per_s"] = pl.get("train_images_per_s")
    if "skipped" in pl:
        results["skipped"]["pennylane"] = pl["skipped"]
    else:
        results["pennylane_version"] = pl.get("pennylane_version")
        for n, row in pl.get("vqc_fwd_bwd", {}).items():
            results.setdefault("pennylane_vqc_fwd_bwd_ms", {})[n] = row["wall_ms"]
    bar.update()

    # Serving ---------------------------------------------------------------------------
    step("exported explain")
    if cfg.export:
        with tempfile.TemporaryDirectory(prefix="qgcam-bench-") as tmp:
            serve = export_latency(cfg, tmp)
    else:
        serve = {"skipped": "export not measured"}
    if "skipped" in serve:
        results["skipped"]["export"] = serve["skipped"]
        results["export_explain_latency_ms"] = None
    else:
        results["export_explain_latency_ms"] = serve["explain_latency_ms"]
        results["export_tensorflow_quantum_loaded"] = serve["tensorflow_quantum_loaded"]
    bar.update()
    bar.close()

    results["targets"] = _targets(results)
    results["machine"]["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    write_json_atomic(os.path.join(out_dir, "benchmark.json"), results)
    with atomic_path(os.path.join(out_dir, "benchmark.md"), suffix=".md") as tmp:
        with open(tmp, "w") as f:
            f.write(render_markdown(results))
    return results


def _ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def _targets(r: dict) -> dict:
    """The issue's targets, each with the measured ratio and whether it is met."""
    out = {}
    tc = r["vqc_fwd_bwd_ms"].get("tensorcircuit", {})
    for n in ("10", "12"):
        ratio = _ratio(r["vqc_fwd_bwd_ms"]["tf_xla"].get(n), tc.get(n))
        out[f"tf_xla_over_tensorcircuit_n{n}"] = {"value": ratio, "goal": "<= 1.5",
                                                  "met": None if ratio is None else ratio <= 1.5}
    ratio = r["qgradcam_over_gradcam"]["tf"]
    out["qgradcam_tf_over_gradcam"] = {"value": ratio, "goal": "<= 1.5", "met": ratio <= 1.5}
    pl = r.get("pennylane_train_images_per_s")
    for kind, goal in (("tfq", 10.0), ("tf", 20.0)):
        ratio = _ratio(r["train_images_per_s"][kind], pl)
        out[f"train_{kind}_over_pennylane"] = {"value": ratio, "goal": f">= {goal:g}",
                                               "met": None if ratio is None else ratio >= goal}
    return out


def _fmt(v, digits: int = 1) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if v >= 100:
            return f"{v:.0f}"
        return f"{v:.{digits}f}" if v >= 1 else f"{v:.{digits + 1}f}"
    return str(v)


def render_markdown(r: dict) -> str:
    """The results as Markdown: machine, VQC table, training, explanations, serving, targets."""
    m, cfg = r["machine"], r["config"]
    load = m.get("load_average_start")
    lines = [
        "# qgcam benchmark",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m.get('memory_gb')} GB; TensorFlow "
        f"{m['tensorflow']}, Python {m['python']}; {m['date_utc']} UTC, commit {m.get('git_commit')}.",
        f"Load average at start {', '.join(f'{v:.1f}' for v in load) if load else '—'}"
        f" (the machine may be shared: other processes slow every row alike).",
        f"Batch {cfg['batch']}, depth {cfg['depth']}; medians of {cfg['repeats']} timed calls after "
        f"{cfg['warmup']} warm-up calls" + (" (**--quick subset**)" if cfg.get("quick") else "") + ".",
        "",
        "## VQC forward + backward (ms, batch %d)" % cfg["batch"],
        "",
    ]
    ns = list(r["vqc_fwd_bwd_ms"]["tf"].keys())
    rows = [("tfq (adjoint)", r["vqc_fwd_bwd_ms"]["tfq"]), ("tf", r["vqc_fwd_bwd_ms"]["tf"]),
            ("tf + XLA", r["vqc_fwd_bwd_ms"]["tf_xla"]),
            ("tensorcircuit-ng + XLA", r["vqc_fwd_bwd_ms"]["tensorcircuit"])]
    if r.get("pennylane_vqc_fwd_bwd_ms"):
        rows.append(("PennyLane backprop (tf.function)", r["pennylane_vqc_fwd_bwd_ms"]))
    rows.append(("state-vector lower bound", r["state_vector_lower_bound_ms"]))
    lines.append("| executor | " + " | ".join(f"n={n}" for n in ns) + " |")
    lines.append("|---|" + "---:|" * len(ns))
    for name, row in rows:
        lines.append(f"| {name} | " + " | ".join(_fmt(row.get(n), 2) for n in ns) + " |")
    lines += ["", "CPU time of the same calls (ms, all threads; steadier than wall time when the "
              "machine is shared):", "",
              "| executor | " + " | ".join(f"n={n}" for n in ns) + " |", "|---|" + "---:|" * len(ns)]
    for name, key in (("tfq (adjoint)", "tfq"), ("tf", "tf"), ("tf + XLA", "tf_xla"),
                      ("tensorcircuit-ng + XLA", "tensorcircuit")):
        row = r["vqc_fwd_bwd_cpu_ms"][key]
        lines.append(f"| {name} | " + " | ".join(_fmt(row.get(n), 2) for n in ns) + " |")
    lines += [
        "",
        "Lower bound: 3 sweeps x gates x (read + write of batch x 2^n complex64) / copy "
        "bandwidth measured at the state's size.",
        "",
        "## Training (MNIST default model, batch %d)" % cfg["batch"],
        "",
        "| model | images/s | ms/step |",
        "|---|---:|---:|",
    ]
    names = {"tfq": "hybrid, tfq", "tf": "hybrid, tf", "tf_xla": "hybrid, tf + XLA",
             "classical": "classical twin"}
    for k, v in r["train_images_per_s"].items():
        lines.append(f"| {names.get(k, k)} | {_fmt(v)} | {_fmt(r['train_step_ms'][k], 2)} |")
    lines.append(f"| hybrid, PennyLane 0.44.1 | {_fmt(r.get('pennylane_train_images_per_s'))} | "
                 f"{_fmt(cfg['batch'] / r['pennylane_train_images_per_s'] * 1e3 if r.get('pennylane_train_images_per_s') else None, 2)} |")
    lines += ["", "## Explanations (batch %d)" % cfg["batch"], "",
              "| method | maps/s | ms/batch | x classical Grad-CAM |", "|---|---:|---:|---:|"]
    cam_names = {"tfq": "QGrad-CAM, tfq", "tf": "QGrad-CAM, tf", "tf_xla": "QGrad-CAM, tf + XLA",
                 "classical": "Grad-CAM, classical twin"}
    for k, v in r["explain_maps_per_s"].items():
        ratio = r["qgradcam_over_gradcam"].get(k, 1.0 if k == "classical" else None)
        lines.append(f"| {cam_names[k]} | {_fmt(v)} | {_fmt(r['explain_batch_ms'][k], 2)} | {_fmt(ratio, 2)} |")
    lines += ["", "## Exported `explain` signature (process without tensorflow_quantum)", ""]
    lat = r.get("export_explain_latency_ms")
    if lat:
        lines += ["| batch | latency ms |", "|---:|---:|"]
        lines += [f"| {b} | {_fmt(v, 2)} |" for b, v in lat.items()]
    else:
        lines.append(f"Skipped: {r['skipped'].get('export', 'not measured')}")
    lines += ["", "## Targets (issue 7)", "", "| target | measured | goal | met |", "|---|---:|---:|:---:|"]
    for k, v in r["targets"].items():
        met = "—" if v["met"] is None else ("yes" if v["met"] else "no")
        lines.append(f"| {k} | {_fmt(v['value'], 2)} | {v['goal']} | {met} |")
    if r.get("skipped"):
        lines += ["", "Skipped rows:", ""] + [f"- {k}: {v}" for k, v in r["skipped"].items()]
    versions = [f"{k.split('_')[0]} {r[k]}" for k in ("tensorcircuit_version", "pennylane_version") if r.get(k)]
    if versions:
        lines += ["", "Peers: " + ", ".join(versions) + " (own virtualenv, TensorFlow 2.18.1)."]
    return "\n".join(lines) + "\n"
