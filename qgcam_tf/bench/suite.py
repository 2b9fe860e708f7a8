"""Benchmark suite: the VQC, training, QGrad-CAM and serving, measured beside their peers,
and the CLI's start-up.

Every figure is measured in one run, after warm-up, as the median of several repeats, and
written as ``benchmark.json`` and ``benchmark.md`` (a Markdown table with the machine's
description). Wall-clock medians are the headline numbers; CPU-time medians are recorded
beside them because the machine may be shared (the load average at start and end is kept).

Peers (PennyLane 0.44.1, tensorcircuit-ng) live in their own virtualenv (by default
``benchmarks/.venv-bench`` under the working directory, made by
``bash benchmarks/setup_pennylane.sh``) and run there as ``python -m qgcam_tf.bench.peers``;
their rows are skipped with a message when that environment is absent. The
exported-``explain`` latency runs as ``python -m qgcam_tf.bench.serve_latency``, a
process in which ``tensorflow_quantum`` cannot be imported. Both subprocesses find this
qgcam_tf package through ``PYTHONPATH`` (see :func:`run_module_json`), so neither needs a
source checkout nor qgcam_tf installed in the peers' environment. The CLI start-up rows
(:func:`cli_startup`) run ``python -m qgcam_tf`` the same way, beside ``python -c pass``.

Example:
    >>> from qgcam_tf.bench.suite import run_benchmark
    >>> results = run_benchmark("benchmarks/results", quick=True)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

import numpy as np

from qgcam_tf.bench.report import render_markdown, targets_table
from qgcam_tf.bench.timing import (
    COMPLEX64_BYTES,
    FWD_BWD_PASSES,
    machine_info,
    measure_bandwidth,
    paired_ratio,
    state_vector_lower_bound_ms,
    time_call,
    vqc_gate_count,
)
from qgcam_tf.fileio import atomic_path, write_json_atomic

__all__ = [
    "BenchConfig",
    "CLI_COMMANDS",
    "EXECUTORS",
    "cli_startup",
    "explain_call",
    "explain_time",
    "export_latency",
    "peer",
    "peer_command",
    "run_module_json",
    "run_benchmark",
    "train_throughput",
    "vqc_fwd_bwd",
]

PEERS_MODULE = "qgcam_tf.bench.peers"
SERVE_MODULE = "qgcam_tf.bench.serve_latency"
DEFAULT_PEERS_VENV = os.path.join("benchmarks", ".venv-bench")
DEFAULT_PEER_PYTHON = os.path.join(DEFAULT_PEERS_VENV, "bin", "python")
# The qgcam_tf package this module belongs to (a checkout's or an installed one).
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXECUTORS = ("tfq", "tf", "tf_xla", "tensorcircuit")
# The command lines of the CLI start-up rows (`python -m qgcam_tf ARGS`) and the exit
# status each must end with: help, a subcommand's help, and an argument error.
CLI_COMMANDS = {
    "qgcam --help": (("--help",), 0),
    "qgcam train --help": (("train", "--help"), 0),
    "qgcam train --out x --epochs 0": (("train", "--out", "x", "--epochs", "0"), 2),
}


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
        peer_python: the peers' interpreter (relative paths: to the working directory).
        max_seconds_per_row: fewer repeats for rows slower than this (never below 3).
        min_seconds_per_row: fast rows repeat until their timed calls add up to this
            (at most 25x ``repeats`` calls), so a short slow spell of a shared machine
            does not decide their median.
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
    min_seconds_per_row: float = 1.0
    xla_models: bool = True

    @classmethod
    def quick(cls) -> BenchConfig:
        """A small subset for tests: 4 qubits, 8x8 images, batch 8, no peers, no XLA models."""
        return cls(
            ns=(4,),
            batch=8,
            image_shape=(8, 8, 1),
            warmup=1,
            repeats=3,
            train_n=4,
            peers=False,
            export=True,
            max_seconds_per_row=5.0,
            min_seconds_per_row=0.0,
            xla_models=False,
        )

    def validate(self) -> None:
        """Raises ValueError naming the first bad field."""
        if not self.ns or any(
            isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 24 for n in self.ns
        ):
            raise ValueError(f"ns must be ints in [2, 24], got {self.ns!r}")
        for name in ("batch", "depth", "repeats", "train_n"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup!r}")
        if not 2 <= self.train_n <= 24:
            raise ValueError(f"train_n must be in [2, 24], got {self.train_n}")


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

    from qgcam_tf.model.layers import VQCLayer
    from qgcam_tf.quantum.circuits import VQCSpec

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
    return time_call(
        lambda: [g.numpy() for g in fn(x)],
        warmup=cfg.warmup,
        repeats=cfg.repeats,
        max_seconds=cfg.max_seconds_per_row,
        min_seconds=cfg.min_seconds_per_row,
    )


def _data(cfg: BenchConfig, n_classes: int = 10):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 1, (cfg.batch, *cfg.image_shape)).astype(np.float32))
    labels = tf.constant(rng.integers(0, n_classes, cfg.batch))
    return images, labels


def _model(kind: str, cfg: BenchConfig):
    from qgcam_tf.model.hybrid import build_classical_twin, build_hybrid_model
    from qgcam_tf.quantum.circuits import VQCSpec

    if kind == "classical":
        return build_classical_twin(cfg.image_shape, min(10, cfg.train_n))
    # The MNIST default model has 10 qubits for 10 classes; quick runs use fewer of both.
    n_classes = min(10, cfg.train_n)
    spec = VQCSpec(n_qubits=cfg.train_n, depth=cfg.depth, n_outputs=n_classes)
    backend = "tf" if kind == "tf_xla" else kind
    return build_hybrid_model(
        cfg.image_shape, spec.n_outputs, vqc=spec, backend=backend, jit_compile=kind == "tf_xla"
    )


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

    t = time_call(
        lambda: train_step(images, labels).numpy(),
        warmup=cfg.warmup,
        repeats=cfg.repeats,
        max_seconds=cfg.max_seconds_per_row,
        min_seconds=cfg.min_seconds_per_row,
    )
    t["images_per_s"] = cfg.batch / (t["wall_ms"] / 1e3)
    return t


def explain_call(kind: str, cfg: BenchConfig) -> Callable[[], object]:
    """One batch of maps, ready to time: QGrad-CAM on the hybrid, Grad-CAM on the twin."""
    import tensorflow as tf

    from qgcam_tf.explain.base import BaseCAM
    from qgcam_tf.explain.qgradcam import QGradCAM

    class GradCAM(BaseCAM):
        """Classical Grad-CAM: the weights are the spatial means of d logit / d A^k."""

        def get_cam_weights(self, activations, grads, images, class_index):
            return tf.reduce_mean(grads, axis=[1, 2])

    model = _model(kind, cfg)
    if kind == "classical":
        cam = GradCAM(model, score_layer="logits", batch_size=cfg.batch)
    else:
        cam = QGradCAM(model, batch_size=cfg.batch)
    explain = tf.function(cam.explain_tensors, reduce_retracing=True)  # as cam(images) runs it
    images, _ = _data(cfg)
    ci = tf.fill([cfg.batch], tf.constant(-1, tf.int64))
    return lambda: explain(images, ci)["maps"].numpy()


def explain_time(kind: str, cfg: BenchConfig, call: Callable[[], object] | None = None) -> dict:
    """Wall time of one batch of maps (see :func:`explain_call`) and maps per second."""
    t = time_call(
        call or explain_call(kind, cfg),
        warmup=cfg.warmup,
        repeats=cfg.repeats,
        max_seconds=cfg.max_seconds_per_row,
        min_seconds=cfg.min_seconds_per_row,
    )
    t["maps_per_s"] = cfg.batch / (t["wall_ms"] / 1e3)
    return t


def export_latency(cfg: BenchConfig, workdir: str) -> dict:
    """Latency of the exported ``explain`` signature, batch 1 and ``cfg.batch``, in a
    subprocess where ``tensorflow_quantum`` cannot be imported."""
    try:
        from qgcam_tf.serving.export import export_saved_model
    except ImportError as e:
        return {"skipped": f"qgcam_tf.serving.export is not available ({e})"}
    model = _model("tf", cfg)
    path = export_saved_model(model, os.path.join(workdir, "export"), version=1)
    batches = sorted({1, cfg.batch})
    cmd = [
        sys.executable,
        "-m",
        SERVE_MODULE,
        path,
        "--batches",
        ",".join(map(str, batches)),
        "--warmup",
        str(max(cfg.warmup, 1)),
        "--repeats",
        str(cfg.repeats),
    ]
    return run_module_json(cmd, timeout=600)


@contextlib.contextmanager
def _package_path():
    """A temporary directory holding only a link to this qgcam_tf package.

    On ``PYTHONPATH`` it makes ``qgcam_tf`` importable in another interpreter without the
    rest of the directory above the package: for an installed package that is the main
    environment's site-packages, whose libraries must not shadow the peers' own.
    """
    with tempfile.TemporaryDirectory(prefix="qgcam-bench-path-") as tmp:
        os.symlink(_PACKAGE_DIR, os.path.join(tmp, "qgcam_tf"), target_is_directory=True)
        yield tmp


def _child_env(path: str) -> dict:
    """The environment of a child that runs this package: ``path`` first on ``PYTHONPATH``,
    legacy Keras, TensorFlow's C++ log quiet (as the CLI itself sets them)."""
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (path, env.get("PYTHONPATH")) if p)
    return env


def cli_startup(repeats: int = 5, *, timeout: float = 120.0) -> dict:
    """Wall time of the CLI answering at once: each of :data:`CLI_COMMANDS` as
    ``python -m qgcam_tf ARGS`` in a fresh process, beside ``python -c pass``.

    Each repeat runs the baseline and then every command, back to back, so a slow spell of a
    shared machine hits them alike. The child's environment is :func:`run_module_json`'s
    (this package on ``PYTHONPATH``); it runs in an empty temporary directory.

    Args:
        repeats: rounds of calls (the median is reported).
        timeout: seconds before one call is given up (then the row says why).

    Returns:
        ``{"repeats", "baseline_s", "commands": {name: {"argv", "exit", "seconds",
        "ratio"}}}``: ``seconds`` is the median wall time of the command, ``ratio`` the
        median of its per-round ratios to the baseline, ``exit`` its exit status (a command
        that fails, ends with another status than :data:`CLI_COMMANDS` says or times out
        has ``skipped`` instead of numbers).

    Raises:
        ValueError: ``repeats`` < 1.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    baseline = []
    times: dict[str, list[float]] = {name: [] for name in CLI_COMMANDS}
    skipped: dict[str, str] = {}

    def call(argv, cwd, env) -> tuple[float, int]:
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, cwd=cwd, env=env, timeout=timeout)
        return time.perf_counter() - start, proc.returncode

    with _package_path() as path, tempfile.TemporaryDirectory(prefix="qgcam-cli-") as cwd:
        env = _child_env(path)
        for _ in range(repeats):
            baseline.append(call([sys.executable, "-c", "pass"], cwd, env)[0])
            for name, (args, expected) in CLI_COMMANDS.items():
                if name in skipped:
                    continue
                try:
                    seconds, code = call([sys.executable, "-m", "qgcam_tf", *args], cwd, env)
                except subprocess.TimeoutExpired:
                    skipped[name] = f"timed out after {timeout:.0f} s"
                    continue
                if code != expected:
                    skipped[name] = f"exit {code}, expected {expected}"
                    continue
                times[name].append(seconds)
    rows = {}
    for name, (args, expected) in CLI_COMMANDS.items():
        row: dict = {"argv": list(args), "exit": expected}
        if name in skipped:
            row["skipped"] = skipped[name]
        else:
            row["seconds"] = statistics.median(times[name])
            row["ratio"] = statistics.median(t / b for t, b in zip(times[name], baseline))
        rows[name] = row
    return {"repeats": repeats, "baseline_s": statistics.median(baseline), "commands": rows}


def run_module_json(cmd: list[str], *, timeout: float) -> dict:
    """Runs ``cmd`` (``[python, "-m", module, ...]``) and parses its last stdout line as JSON.

    The child finds this qgcam_tf package through ``PYTHONPATH`` (ahead of any path already
    there), so ``python -m qgcam_tf.bench.peers`` works in an interpreter that has no
    qgcam_tf installed (``python -m`` still puts the working directory first on
    ``sys.path``). ``TF_USE_LEGACY_KERAS=1`` and ``TF_CPP_MIN_LOG_LEVEL=2`` are set.

    Args:
        cmd: the command line.
        timeout: seconds before the child is killed.

    Returns:
        The JSON object, or ``{"skipped": why}`` when the command fails, times out or
        prints no JSON.
    """
    with _package_path() as path:
        env = _child_env(path)
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


def peer_command(kind: str, cfg: BenchConfig, *, ns: Sequence[int] = ()) -> list[str]:
    """The command line that runs ``python -m qgcam_tf.bench.peers kind`` for ``cfg``.

    Args:
        kind: ``"tensorcircuit"`` (the VQC rows of ``ns``) or ``"pennylane"`` (training at
            ``max(cfg.train_n, 10)`` qubits, and the VQC alone).
        cfg: the run's configuration (``peer_python``, batch, depth, warm-up, repeats).
        ns: qubit counts of the tensorcircuit-ng rows.

    Raises:
        ValueError: an unknown ``kind``.
    """
    if kind == "tensorcircuit":
        cmd = [
            cfg.peer_python,
            "-m",
            PEERS_MODULE,
            "tensorcircuit",
            "--ns",
            ",".join(map(str, ns)),
            "--batch",
            str(cfg.batch),
            "--depth",
            str(cfg.depth),
            "--warmup",
            str(cfg.warmup),
            "--repeats",
            str(cfg.repeats),
        ]
    elif kind == "pennylane":
        cmd = [
            cfg.peer_python,
            "-m",
            PEERS_MODULE,
            "pennylane",
            "--n",
            str(max(cfg.train_n, 10)),
            "--batch",
            str(cfg.batch),
            "--depth",
            str(cfg.depth),
            "--warmup",
            "1",
            "--repeats",
            str(min(cfg.repeats, 3)),
            "--vqc-only",
        ]
    else:
        raise ValueError(f"kind must be 'tensorcircuit' or 'pennylane', got {kind!r}")
    return cmd


def peer(kind: str, cfg: BenchConfig, *, ns: Sequence[int] = ()) -> dict:
    """Runs :func:`peer_command` in the peers' venv; ``{"skipped": why}`` when it is absent."""
    if not os.path.isfile(cfg.peer_python):
        return {
            "skipped": f"peers' virtualenv not found ({cfg.peer_python}); create it with "
            "`bash benchmarks/setup_pennylane.sh`"
        }
    return run_module_json(peer_command(kind, cfg, ns=ns), timeout=1800)


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
    train_kinds = (
        ("tfq", "tf", "tf_xla", "classical") if cfg.xla_models else ("tfq", "tf", "classical")
    )
    total = len(cfg.ns) * 3 + 1 + 2 * len(train_kinds) + 1 + 2 + 1
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
    tc = (
        peer("tensorcircuit", cfg, ns=cfg.ns)
        if cfg.peers
        else {"skipped": "peers not run (--quick)"}
    )
    for n in cfg.ns:
        row = tc.get("vqc_fwd_bwd", {}).get(str(n))
        fwd_bwd["tensorcircuit"][str(n)] = row["wall_ms"] if row else None
        cpu["tensorcircuit"][str(n)] = row["cpu_ms"] if row else None
    if "skipped" in tc:
        results["skipped"]["tensorcircuit"] = tc["skipped"]
    else:
        results["tensorcircuit_version"] = tc.get("tensorcircuit_version")
        # tf + XLA against tensorcircuit-ng call by call in the peer's process: the rows
        # above run minutes apart, and their ratio drifts with the machine's load.
        results["tf_xla_over_tensorcircuit_paired"] = tc.get("tf_xla_over_tensorcircuit_paired")
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
    results["lower_bound_inputs"] = {
        "gates": gates,
        "bandwidth_bytes_per_s": bandwidth,
        "passes": FWD_BWD_PASSES,
        "bytes_per_amplitude": COMPLEX64_BYTES,
    }

    # Training and explanations ---------------------------------------------------------
    train, explain = {}, {}
    for kind in train_kinds:
        step(f"train {kind}")
        train[kind] = train_throughput(kind, cfg)
        bar.update()
    calls = {kind: explain_call(kind, cfg) for kind in train_kinds}
    paired = {}
    for kind in train_kinds:
        step(f"explain {kind}")
        explain[kind] = explain_time(kind, cfg, calls[kind])
        if kind != "classical":  # the target ratio, interleaved with the twin's calls
            paired[kind] = paired_ratio(calls[kind], calls["classical"], pairs=2 * cfg.repeats + 1)
        bar.update()
    results["train_images_per_s"] = {k: v["images_per_s"] for k, v in train.items()}
    results["train_step_ms"] = {k: v["wall_ms"] for k, v in train.items()}
    results["explain_maps_per_s"] = {k: v["maps_per_s"] for k, v in explain.items()}
    results["explain_batch_ms"] = {k: v["wall_ms"] for k, v in explain.items()}
    results["qgradcam_over_gradcam"] = paired

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

    # CLI start-up ----------------------------------------------------------------------
    step("CLI start-up")
    results["cli_startup"] = cli_startup(cfg.repeats)
    bar.update()
    bar.close()

    results["targets"] = targets_table(results)
    results["machine"]["load_average_end"] = (
        list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    )
    write_json_atomic(os.path.join(out_dir, "benchmark.json"), results)
    with atomic_path(os.path.join(out_dir, "benchmark.md"), suffix=".md") as tmp:
        with open(tmp, "w") as f:
            f.write(render_markdown(results))
    return results
