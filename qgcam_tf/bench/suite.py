"""Benchmark suite: the VQC, training, QGrad-CAM and serving, measured beside their peers,
and the CLI's start-up.

Every figure is measured in one run, after warm-up, as the median of several repeats, and
written as ``benchmark.json`` and ``benchmark.md`` (a Markdown table with the machine's
description). Wall-clock medians are the headline numbers; CPU-time medians are recorded
beside them because the machine may be shared (the load average at start and end is kept).

Every VQC row (``tfq``, ``tf``, ``tf_xla`` and the peers: tensorcircuit-ng on JAX and on
TensorFlow, PennyLane-JAX, PennyLane lightning.qubit, qsimcirq) runs in a process of its own,
``python -m qgcam_tf.bench.peers vqc --name NAME --n N`` (:func:`vqc_rows`), which checks the
row against a complex128 reference before timing it and reports its peak RSS. The peers live
in their own virtualenv (by default ``benchmarks/.venv-bench`` under the working directory,
made by ``bash benchmarks/setup_peers.sh``); their rows are skipped with a message when that
environment is absent. Every target ratio is paired (:func:`paired_vqc`, :func:`train_pairs`,
and QGrad-CAM against Grad-CAM): its two sides are measured interleaved in one run. The
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

from qgcam_tf.bench.peers import MAIN_NAMES, NAMES, PEER_NAMES
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
    "EXPORT_KINDS",
    "NOISY_TOP_LEVEL",
    "cli_startup",
    "explain_call",
    "explain_time",
    "export_latency",
    "fastest_peer",
    "noisy_results",
    "pair_command",
    "paired_vqc",
    "peers_missing",
    "run_module_json",
    "run_benchmark",
    "train_call",
    "train_pairs",
    "train_throughput",
    "vqc_row_command",
    "vqc_rows",
]

PEERS_MODULE = "qgcam_tf.bench.peers"
SERVE_MODULE = "qgcam_tf.bench.serve_latency"
DEFAULT_PEERS_VENV = os.path.join("benchmarks", ".venv-bench")
DEFAULT_PEER_PYTHON = os.path.join(DEFAULT_PEERS_VENV, "bin", "python")
# The qgcam_tf package this module belongs to (a checkout's or an installed one).
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The VQC rows, in table order: qgcam's executors, then the peers (qgcam_tf.bench.peers).
EXECUTORS = NAMES
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
        names: the VQC rows (of :data:`EXECUTORS`).
        batch: batch size of every row.
        depth: VQC depth.
        image_shape: input of the hybrid model (MNIST: 28x28x1).
        warmup: untimed calls before timing.
        repeats: timed calls (the median is reported).
        train_n: qubits of the training / explanation / serving rows.
        peers: run the peers' rows and the training pairs (needs the peers' venv).
        export: measure the exported ``explain`` signature.
        peer_python: the peers' interpreter (relative paths: to the working directory).
        max_seconds_per_row: fewer repeats for rows slower than this (never below 3).
        min_seconds_per_row: fast rows repeat until their timed calls add up to this
            (at most 25x ``repeats`` calls), so a short slow spell of a shared machine
            does not decide their median.
        xla_models: also time training and QGrad-CAM with the VQC under XLA.
        check_max_n: the rows are checked against the reference up to this many qubits.
        row_limit_s: a VQC row whose median fwd+bwd call took longer than this stops that
            name's larger ``n`` (each 2 more qubits cost ~4x; the process start, tracing
            and the check do not count, so a loaded machine does not cut a row short).
        row_timeout_s: a VQC row's process is killed after this many seconds.
        rss_limit_mb: a VQC row's process is killed when its RSS passes this; the row is
            retried with a quarter of the batch (down to 1).
        target_ns: the qubit counts of the paired ``tf_xla`` / fastest-peer ratios.
        train_rounds: interleaved rounds of the training pairs against PennyLane-JAX.
        scale: measure issue 15's scaling rows (training with 1 and 2 local workers of
            ``MultiWorkerMirroredStrategy``; ``explain-batch`` with 1 and 2 DirectRunner
            worker processes beside the in-process rate).
        noisy: measure the noisy rows (:func:`noisy_results`: exact density-matrix maps
            against TFQ trajectories, the noise sweep's maps/s per preset).
    """

    ns: Sequence[int] = (4, 6, 8, 10, 12, 16, 20)
    names: Sequence[str] = EXECUTORS
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
    check_max_n: int = 12
    row_limit_s: float = 10.0
    row_timeout_s: float = 600.0
    rss_limit_mb: float = 8192.0
    target_ns: Sequence[int] = (10, 12, 16, 20)
    train_rounds: int = 3
    scale: bool = True
    noisy: bool = True

    @classmethod
    def quick(cls) -> BenchConfig:
        """A small subset for tests: 4 qubits, 8x8 images, batch 8, no peers (their rows are
        skipped, saying so), no XLA models, no scaling rows; the noisy rows shrink to n = 4
        and one sweep preset (:func:`qgcam_tf.bench.noisy.noisy_rows` reads the config)."""
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
            scale=False,
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
        bad = [name for name in self.names if name not in EXECUTORS]
        if not self.names or bad:
            raise ValueError(f"names must be a non-empty subset of {EXECUTORS}, got {self.names!r}")
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
def _circuit_args(n: int, batch: int, cfg: BenchConfig) -> list[str]:
    """The options that ``peers vqc`` and ``peers pair`` share: the circuit and warm-up."""
    values = {"--n": n, "--batch": batch, "--depth": cfg.depth, "--warmup": cfg.warmup}
    return [word for option, value in values.items() for word in (option, str(value))]


def vqc_row_command(name: str, n: int, batch: int, cfg: BenchConfig) -> list[str]:
    """The command line of one VQC row: ``python -m qgcam_tf.bench.peers vqc --name NAME``.

    qgcam's executors (:data:`~qgcam_tf.bench.peers.MAIN_NAMES`) run with this interpreter,
    the peers with ``cfg.peer_python``.

    Raises:
        ValueError: an unknown ``name``.
    """
    if name not in EXECUTORS:
        raise ValueError(f"name must be one of {EXECUTORS}, got {name!r}")
    python = sys.executable if name in MAIN_NAMES else cfg.peer_python
    return [
        python,
        "-m",
        PEERS_MODULE,
        "vqc",
        "--name",
        name,
        *_circuit_args(n, batch, cfg),
        "--repeats",
        str(cfg.repeats),
        "--check-max-n",
        str(cfg.check_max_n),
        "--max-seconds",
        str(cfg.max_seconds_per_row),
    ]


def peers_missing(cfg: BenchConfig) -> str | None:
    """Why the peers' rows cannot run (no interpreter at ``cfg.peer_python``), or None."""
    if os.path.isfile(cfg.peer_python):
        return None
    return (
        f"peers' virtualenv not found ({cfg.peer_python}); create it with "
        "`bash benchmarks/setup_peers.sh`"
    )


def vqc_rows(
    cfg: BenchConfig,
    on_row: Callable[[str, int], None] | None = None,
    on_done: Callable[[dict], None] | None = None,
) -> dict:
    """Runs every VQC row of ``cfg``: each (name, n) in a process of its own.

    A row starts at batch ``cfg.batch`` (or the batch that fitted at the name's previous
    ``n``); when its process passes ``cfg.rss_limit_mb`` of RSS or fails, it is retried with
    a quarter of the batch, down to 1. Once a row's median fwd+bwd call takes longer than
    ``cfg.row_limit_s`` (or the row fails at batch 1, or its process passes
    ``cfg.row_timeout_s``), the name's larger ``n`` are not run, and ``notes[name]`` says
    where and why it ran out.

    Args:
        cfg: the run's configuration (``names``, ``ns``, ``peers``, the limits).
        on_row: called with ``(name, n)`` before each row (progress).
        on_done: called with the rows so far after each row (``{name: {n: row}}``), so a
            long run that is stopped keeps what it measured.

    Returns:
        ``{"rows": {name: {n: row}}, "notes": {name: text}}``: a row is the child's JSON
        (:func:`qgcam_tf.bench.peers.run_vqc_row`) plus ``"seconds"`` (its process's wall
        time) and ``"tries"``, or ``{"skipped": why}``.
    """
    rows: dict = {}
    notes: dict = {}
    missing = peers_missing(cfg) if cfg.peers else "peers not run (--no-peers / --quick)"
    for name in cfg.names:
        rows[name] = {}
        if name in PEER_NAMES and missing:
            notes[name] = missing
            rows[name] = {str(n): {"skipped": missing} for n in cfg.ns}
            continue
        batch, stop = cfg.batch, None
        for n in sorted(cfg.ns):
            if stop:
                rows[name][str(n)] = {"skipped": stop}
                continue
            if on_row:
                on_row(name, n)
            tries = []
            while True:
                start = time.perf_counter()
                row = run_module_json(
                    vqc_row_command(name, n, batch, cfg),
                    timeout=cfg.row_timeout_s,
                    rss_limit_mb=cfg.rss_limit_mb,
                )
                seconds = time.perf_counter() - start
                if "skipped" not in row:
                    break
                tries.append(f"batch {batch}: {row['skipped']}")
                if batch == 1 or "timed out" in row["skipped"]:
                    break
                batch = max(1, batch // 4)
            row["seconds"] = seconds
            row["tries"] = tries
            rows[name][str(n)] = row
            if on_done:
                on_done(rows)
            if "skipped" in row:
                stop = f"ran out at n={n}: {'; '.join(tries)}"
                notes[name] = stop
            elif row["timing"]["wall_ms"] > 1e3 * cfg.row_limit_s:
                stop = (
                    f"one fwd+bwd call took {row['timing']['wall_ms'] / 1e3:.1f} s at n={n} "
                    f"(limit {cfg.row_limit_s:g} s): larger n not run"
                )
                notes[name] = stop
            elif tries:  # ran at a smaller batch than it started with
                notes.setdefault(name, f"batch {batch} from n={n} ({tries[-1]})")
    return {"rows": rows, "notes": notes}


def _usable(rows: dict, name: str, n: str) -> dict | None:
    """The row if it was timed and no check of the name failed, else None."""
    row = rows.get(name, {}).get(n) or {}
    if not row.get("timing"):
        return None
    if any((r.get("check") or {}).get("passed") is False for r in rows[name].values()):
        return None
    return row


def fastest_peer(rows: dict, n: str, batch: int | None = None) -> str | None:
    """The peer with the smallest fwd+bwd median at ``n`` among those whose checks passed
    (and that ran at ``batch``, when given), or None."""
    best = None
    for name in PEER_NAMES:
        row = _usable(rows, name, n)
        if row is None or (batch is not None and row["batch"] != batch):
            continue
        if best is None or row["timing"]["wall_ms"] < best[1]:
            best = (name, row["timing"]["wall_ms"])
    return best[0] if best else None


def pair_command(a: str, b: str, n: int, batch: int, cfg: BenchConfig) -> list[str]:
    """``peers pair --a A --b B``, run by the peers' interpreter (it has both sides: the
    peers and TensorFlow with qgcam's ``tf`` executor)."""
    return [
        cfg.peer_python,
        "-m",
        PEERS_MODULE,
        "pair",
        "--a",
        a,
        "--b",
        b,
        *_circuit_args(n, batch, cfg),
        "--pairs",
        str(2 * cfg.repeats + 1),
    ]


def paired_vqc(cfg: BenchConfig, rows: dict) -> dict:
    """``tf_xla`` against the fastest checked peer at each of ``cfg.target_ns``, paired.

    The two calls alternate in one process (:func:`qgcam_tf.bench.peers.run_pair`); the
    ratio is the median of the per-pair ratios, at the smaller of the two rows' batches.

    Returns:
        ``{n: {"ratio", "peer", "batch", "pairs"}}``, or ``{n: {"skipped": why}}``.
    """
    out = {}
    for n in cfg.target_ns:
        key = str(n)
        if key not in rows.get("tf_xla", {}):
            continue
        ours = _usable(rows, "tf_xla", key)
        peer = fastest_peer(rows, key)
        if ours is None or peer is None:
            out[key] = {"skipped": "no checked tf_xla row or no checked peer row at this n"}
            continue
        batch = min(ours["batch"], rows[peer][key]["batch"])
        got = run_module_json(
            pair_command("tf_xla", peer, n, batch, cfg),
            timeout=cfg.row_timeout_s,
            rss_limit_mb=cfg.rss_limit_mb,
        )
        if "skipped" in got:
            out[key] = {"skipped": got["skipped"], "peer": peer}
        else:
            out[key] = {"ratio": got["ratio"], "peer": peer, "batch": batch, "pairs": got["pairs"]}
    return out


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


def train_call(kind: str, cfg: BenchConfig, *, jit_compile: bool = False) -> Callable[[], object]:
    """One optimizer step (Adam, sparse cross-entropy) of the hybrid (``kind``: ``tfq``,
    ``tf``, ``tf_xla``) or of the classical twin, in ``tf.function``, ready to time;
    ``jit_compile`` compiles the whole step with XLA (its optimizer state is built first,
    since XLA cannot create variables)."""
    import tensorflow as tf
    import tf_keras as keras

    model = _model(kind, cfg)
    n_classes = int(model.output_shape[-1])
    images, labels = _data(cfg, n_classes)
    opt = keras.optimizers.Adam(1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    if jit_compile:
        opt.build(model.trainable_variables)

    @tf.function(jit_compile=jit_compile or None)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return lambda: train_step(images, labels).numpy()


def train_throughput(kind: str, cfg: BenchConfig, call: Callable[[], object] | None = None) -> dict:
    """Images/s of one optimizer step (see :func:`train_call`)."""
    t = time_call(
        call or train_call(kind, cfg),
        warmup=cfg.warmup,
        repeats=cfg.repeats,
        max_seconds=cfg.max_seconds_per_row,
        min_seconds=cfg.min_seconds_per_row,
    )
    t["images_per_s"] = cfg.batch / (t["wall_ms"] / 1e3)
    return t


def train_pairs(cfg: BenchConfig, calls: dict[str, Callable[[], object]]) -> dict:
    """Training images/s of qgcam's models against PennyLane-JAX's, interleaved.

    The peer's model (:func:`qgcam_tf.bench.peers.pennylane_jax_train`, ``max(train_n,
    10)`` qubits) runs in one child process of the peers' interpreter, built and compiled
    once; then each of ``cfg.train_rounds`` rounds times ``cfg.repeats`` steps of each of
    ``calls`` here and then ``cfg.repeats`` steps of the child (it times them on a
    ``time`` line on its stdin). The ratios are medians of the per-round ratios.

    Args:
        cfg: the run's configuration.
        calls: ``{kind: step}`` of :func:`train_call`.

    Returns:
        ``{"pennylane_jax": images/s (median of rounds), "versions", "rounds": [{kind:
        images/s}], "ratio": {kind: median of per-round ratios}, "method"}``, or
        ``{"skipped": why}``.
    """
    missing = peers_missing(cfg)
    if missing:
        return {"skipped": missing}
    cmd = [
        cfg.peer_python,
        "-m",
        PEERS_MODULE,
        "train",
        "--n",
        str(max(cfg.train_n, 10)),
        "--batch",
        str(cfg.batch),
        "--depth",
        str(cfg.depth),
        "--warmup",
        str(max(cfg.warmup, 1)),
        "--repeats",
        str(cfg.repeats),
        "--image-size",
        str(cfg.image_shape[0]),
    ]
    rounds = []
    with _package_path() as path:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=_child_env(path),
        )
        try:
            ready = json.loads(proc.stdout.readline() or "{}")
            if "ready" not in ready:
                return {"skipped": f"PennyLane-JAX training did not start (exit {proc.poll()})"}
            for _ in range(cfg.train_rounds):
                here = {
                    kind: cfg.batch
                    / (time_call(call, warmup=1, repeats=cfg.repeats)["wall_ms"] / 1e3)
                    for kind, call in calls.items()
                }
                proc.stdin.write("time\n")
                proc.stdin.flush()
                here["pennylane_jax"] = json.loads(proc.stdout.readline())["images_per_s"]
                rounds.append(here)
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.write("quit\n")
                proc.stdin.close()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return {
        "pennylane_jax": statistics.median(r["pennylane_jax"] for r in rounds),
        "versions": ready["ready"],
        "rounds": rounds,
        "ratio": {
            kind: statistics.median(r[kind] / r["pennylane_jax"] for r in rounds) for kind in calls
        },
        "method": "median of per-round ratios; rounds alternate qgcam's steps and the peer's",
    }


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


EXPORT_KINDS = ("hybrid", "classical")


def export_latency(cfg: BenchConfig, workdir: str) -> dict:
    """The exported ``explain`` signature of the hybrid (``tf`` executor) and of its
    classical twin, exported the same way, timed in one subprocess where
    ``tensorflow_quantum`` cannot be imported (:mod:`qgcam_tf.bench.serve_latency`).

    Both go through :func:`~qgcam_tf.serving.export.export_saved_model` with its default
    method (``qgradcam``: on the twin, whose score layer is classical, that weight is
    classical Grad-CAM's), as ``qgcam export`` treats a classical run.

    Returns:
        ``{"explain_latency_ms": {kind: {batch: ms}}, "maps_per_s": {kind: maps/s at
        cfg.batch}, "hybrid_over_classical": {batch: paired ratio}, "pairs",
        "tensorflow_quantum_loaded"}`` (kinds :data:`EXPORT_KINDS`, batches 1 and
        ``cfg.batch``), or ``{"skipped": why}``.
    """
    try:
        from qgcam_tf.serving.export import export_saved_model
    except ImportError as e:
        return {"skipped": f"qgcam_tf.serving.export is not available ({e})"}
    paths = {
        kind: export_saved_model(
            _model("tf" if kind == "hybrid" else kind, cfg),
            os.path.join(workdir, f"export-{kind}"),
            version=1,
        )
        for kind in EXPORT_KINDS
    }
    batches = sorted({1, cfg.batch})
    cmd = [
        sys.executable,
        "-m",
        SERVE_MODULE,
        paths["hybrid"],
        "--classical",
        paths["classical"],
        "--batches",
        ",".join(map(str, batches)),
        "--warmup",
        str(max(cfg.warmup, 1)),
        "--repeats",
        str(cfg.repeats),
        "--pairs",
        str(2 * cfg.repeats + 1),
    ]
    got = run_module_json(cmd, timeout=600)
    if "skipped" in got:
        return got
    latency = {
        "hybrid": got["explain_latency_ms"],
        "classical": got["classical_explain_latency_ms"],
    }
    return {
        "explain_latency_ms": latency,
        "maps_per_s": {
            kind: cfg.batch / (by_batch[str(cfg.batch)] / 1e3) for kind, by_batch in latency.items()
        },
        "hybrid_over_classical": got["hybrid_over_classical"],
        "pairs": got["pairs"],
        "tensorflow_quantum_loaded": got["tensorflow_quantum_loaded"],
    }


# The keys of the noisy rows that benchmark.json also holds at its top level (all of them
# are under "noisy", as noisy_rows returns them; their paired ratios join "paired").
NOISY_TOP_LEVEL = ("noisy_maps_per_s", "noise_sweep_maps_per_s")


def noisy_results(cfg: BenchConfig, rows: Callable[..., dict] | None = None) -> dict:
    """The noisy rows of issue 19, from :func:`qgcam_tf.bench.noisy.noisy_rows`.

    Args:
        cfg: the run's configuration (handed to ``rows``).
        rows: the measurement (default :func:`qgcam_tf.bench.noisy.noisy_rows`).

    Returns:
        ``rows(cfg)``'s dict as it is (``noisy_maps_per_s[method][n]``,
        ``noise_sweep_maps_per_s[preset]``, ``paired["density_over_trajectories"][n]``,
        ...), or ``{"skipped": why}`` when the module is missing or the measurement fails
        (a failure is reported, not raised: the rest of a long run is kept).
    """
    if rows is None:
        try:
            from qgcam_tf.bench.noisy import noisy_rows as rows
        except ImportError as e:
            return {"skipped": f"qgcam_tf.bench.noisy is not available ({e})"}
    try:
        got = rows(cfg)
    except Exception as e:  # noqa: BLE001 - one row's failure must not end the whole run
        return {"skipped": f"noisy rows failed: {type(e).__name__}: {e}"}
    if not isinstance(got, dict):
        return {"skipped": f"noisy rows returned {type(got).__name__}, not a dict"}
    return got


SCALE_WORKERS = (1, 2)


def scaling_rows(
    cfg: BenchConfig,
    workdir: str,
    *,
    workers: Sequence[int] = SCALE_WORKERS,
    rounds: int = 2,
    images: int = 256,
    train_rate: Callable[..., float] | None = None,
    explain_rate: Callable[..., dict] | None = None,
    in_process_rate: Callable[..., dict] | None = None,
) -> dict:
    """Issue 15's scaling rows: training images/s of ``workers`` local worker processes
    (``qgcam train --distribute multi-worker``) and images/s of ``qgcam explain-batch`` with
    ``workers`` DirectRunner processes, beside the in-process rate of the same export.

    The worker counts run interleaved, ``rounds`` times (1, 2, 1, 2, ...); each rate is the
    median of its rounds, and ``paired`` holds the median over rounds of each count's rate
    divided by the first count's rate in the same round.

    Args:
        cfg: the benchmark's configuration (``train_n`` qubits, ``image_shape``).
        workdir: a scratch folder (export, digits, runs).
        workers: the worker counts; the first is the baseline of the ratios.
        rounds: interleaved rounds.
        images: training digits and explained digits.
        train_rate / explain_rate / in_process_rate: the measurements
            (:func:`qgcam_tf.bench.distributed.training_images_per_second`,
            :func:`qgcam_tf.bench.beam.explain_batch_images_per_second`,
            :func:`qgcam_tf.bench.beam.in_process_images_per_second` by default).

    Returns:
        ``{"workers", "rounds", "train_images_per_s": {w: rate}, "explain_batch_images_per_s":
        {w: rate}, "explain_in_process_images_per_s", "paired": {"train": {w: ratio},
        "explain_batch": {w: ratio}}, "train_rounds", "explain_rounds"}``.

    Raises:
        ValueError: no worker counts, or ``rounds`` / ``images`` below 1.
    """
    if not workers or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in workers):
        raise ValueError(f"workers must be ints >= 1, got {workers!r}")
    for name, value in (("rounds", rounds), ("images", images)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    from qgcam_tf.bench import beam, distributed
    from qgcam_tf.serving.export import export_saved_model

    train_rate = train_rate or distributed.training_images_per_second
    explain_rate = explain_rate or beam.explain_batch_images_per_second
    in_process_rate = in_process_rate or beam.in_process_images_per_second
    os.makedirs(workdir, exist_ok=True)
    train_rounds = []
    for r in range(rounds):
        train_rounds.append(
            {
                w: train_rate(
                    w,
                    n_train=images,
                    epochs=3,
                    batch_size=32,
                    n_qubits=cfg.train_n,
                    depth=1,
                    out=os.path.join(workdir, f"train-{r}-{w}"),
                )
                for w in workers
            }
        )
    export = export_saved_model(_model("tf", cfg), os.path.join(workdir, "export"), version=1)
    paths = beam.write_digits(os.path.join(workdir, "digits"), images)
    pattern = os.path.join(workdir, "digits", "*.png")
    local = in_process_rate(export, paths, batch_size=32)
    explain_rounds = []
    for r in range(rounds):
        explain_rounds.append(
            {
                w: explain_rate(
                    w,
                    export=export,
                    pattern=pattern,
                    out=os.path.join(workdir, f"explained-{r}-{w}"),
                    batch_size=32,
                )["images_per_second"]
                for w in workers
            }
        )
    base = workers[0]
    return {
        "workers": list(workers),
        "rounds": rounds,
        "images": images,
        "train_images_per_s": {w: _median([x[w] for x in train_rounds]) for w in workers},
        "explain_batch_images_per_s": {w: _median([x[w] for x in explain_rounds]) for w in workers},
        "explain_in_process_images_per_s": local["images_per_second"],
        "paired": {
            "train": {w: _median([x[w] / x[base] for x in train_rounds]) for w in workers},
            "explain_batch": {
                w: _median([x[w] / x[base] for x in explain_rounds]) for w in workers
            },
        },
        "train_rounds": train_rounds,
        "explain_rounds": explain_rounds,
    }


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


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


def _rss_mb(pid: int) -> float:
    """The current RSS of process ``pid`` in MiB (0 when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def run_module_json(cmd: list[str], *, timeout: float, rss_limit_mb: float | None = None) -> dict:
    """Runs ``cmd`` (``[python, "-m", module, ...]``) and parses its last stdout line as JSON.

    The child finds this qgcam_tf package through ``PYTHONPATH`` (ahead of any path already
    there), so ``python -m qgcam_tf.bench.peers`` works in an interpreter that has no
    qgcam_tf installed (``python -m`` still puts the working directory first on
    ``sys.path``). ``TF_USE_LEGACY_KERAS=1`` and ``TF_CPP_MIN_LOG_LEVEL=2`` are set.

    Args:
        cmd: the command line.
        timeout: seconds before the child is killed.
        rss_limit_mb: the child is killed when its RSS (read from ``/proc`` every 0.1 s)
            passes this many MiB, so that one row cannot take a shared machine's memory.

    Returns:
        The JSON object, or ``{"skipped": why}`` when the command fails, times out, passes
        the RSS limit or prints no JSON.
    """
    with (
        _package_path() as path,
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
    ):
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=_child_env(path))
        start, killed = time.perf_counter(), None
        while proc.poll() is None:
            if time.perf_counter() - start > timeout:
                killed = f"timed out after {timeout:.0f} s: {' '.join(cmd)}"
            elif rss_limit_mb is not None and _rss_mb(proc.pid) > rss_limit_mb:
                killed = f"RSS passed {rss_limit_mb:.0f} MB"
            if killed:
                proc.kill()
                proc.wait()
                return {"skipped": killed}
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    lines = [l for l in stdout.splitlines() if l.strip()]
    if proc.returncode != 0 or not lines:
        tail = (stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"failed (exit {proc.returncode}): {tail}"}
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"skipped": f"unreadable output: {lines[-1][:200]}"}


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
    total = len(cfg.names) * len(cfg.ns) + 1 + 2 * len(train_kinds) + 1 + 2 + 1 + 1 + 1
    bar = _progress(total, "qgcam benchmark")

    def step(label: str):
        bar.set_postfix_str(label)

    # VQC alone: one process per (name, n) ------------------------------------------------
    def on_row(name, n):
        step(f"VQC {name} n={n}")
        bar.update()

    partial = os.path.join(out_dir, "vqc_rows.partial.json")
    got = vqc_rows(cfg, on_row, lambda rows: write_json_atomic(partial, rows))
    rows = got["rows"]
    results["vqc_rows"] = rows
    results["vqc_notes"] = got["notes"]
    results["vqc_fwd_bwd_ms"] = {
        name: {n: (row.get("timing") or {}).get("wall_ms") for n, row in by_n.items()}
        for name, by_n in rows.items()
    }
    results["vqc_fwd_bwd_cpu_ms"] = {
        name: {n: (row.get("timing") or {}).get("cpu_ms") for n, row in by_n.items()}
        for name, by_n in rows.items()
    }
    results["peak_mb"] = {
        name: {n: row.get("peak_mb") for n, row in by_n.items()} for name, by_n in rows.items()
    }
    results["vqc_batch"] = {
        name: {n: row.get("batch") for n, row in by_n.items()} for name, by_n in rows.items()
    }
    results["vqc_check"] = {
        name: {n: (row.get("check") or {}).get("passed") for n, row in by_n.items()}
        for name, by_n in rows.items()
    }
    results["versions"] = {
        name: next((r["version"] for r in by_n.values() if r.get("version")), None)
        for name, by_n in rows.items()
    }
    step("paired tf_xla / fastest peer")
    paired: dict = {"method": "median of per-pair ratios (calls or rounds interleaved)"}
    pairs = paired_vqc(cfg, rows) if cfg.peers and not peers_missing(cfg) else {}
    paired["tf_xla_over_fastest_peer"] = {n: p.get("ratio") for n, p in pairs.items()}
    paired["tf_xla_fastest_peer"] = {n: p.get("peer") for n, p in pairs.items()}
    paired["tf_xla_over_fastest_peer_detail"] = pairs
    bar.update()

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
    train_calls = {kind: train_call(kind, cfg) for kind in train_kinds}
    for kind in train_kinds:
        step(f"train {kind}")
        train[kind] = train_throughput(kind, cfg, train_calls[kind])
        bar.update()
    calls = {kind: explain_call(kind, cfg) for kind in train_kinds}
    cam_paired = {}
    for kind in train_kinds:
        step(f"explain {kind}")
        explain[kind] = explain_time(kind, cfg, calls[kind])
        if kind != "classical":  # the target ratio, interleaved with the twin's calls
            cam_paired[kind] = paired_ratio(
                calls[kind], calls["classical"], pairs=2 * cfg.repeats + 1
            )
        bar.update()
    results["train_images_per_s"] = {k: v["images_per_s"] for k, v in train.items()}
    results["train_step_ms"] = {k: v["wall_ms"] for k, v in train.items()}
    results["explain_maps_per_s"] = {k: v["maps_per_s"] for k, v in explain.items()}
    results["explain_batch_ms"] = {k: v["wall_ms"] for k, v in explain.items()}
    results["qgradcam_over_gradcam"] = cam_paired
    paired["qgradcam_over_gradcam"] = cam_paired

    # PennyLane-JAX training, interleaved with ours ------------------------------------
    step("training against PennyLane-JAX")
    if cfg.peers:
        pl = train_pairs(cfg, {k: train_calls[k] for k in ("tf", "tfq")})
    else:
        pl = {"skipped": "peers not run (--no-peers / --quick)"}
    results["pennylane_jax_train_images_per_s"] = pl.get("pennylane_jax")
    if "skipped" in pl:
        results["skipped"]["pennylane_jax_train"] = pl["skipped"]
    else:
        results["train_images_per_s"]["pennylane_jax"] = pl["pennylane_jax"]
        results["pennylane_jax_train"] = pl
        paired["tf_train_over_pennylane_jax"] = pl["ratio"]["tf"]
        paired["tfq_train_over_pennylane_jax"] = pl["ratio"]["tfq"]
    results["paired"] = paired
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
        results["export_explain_maps_per_s"] = None
    else:
        results["export_explain_latency_ms"] = serve["explain_latency_ms"]
        results["export_explain_maps_per_s"] = serve["maps_per_s"]
        results["export_tensorflow_quantum_loaded"] = serve["tensorflow_quantum_loaded"]
        paired["export_explain_hybrid_over_classical"] = serve["hybrid_over_classical"]
    bar.update()

    # Noisy maps (issue 19) ------------------------------------------------------------
    step("noisy maps: density matrix, trajectories, sweep presets")
    noisy = noisy_results(cfg) if cfg.noisy else {"skipped": "not measured (noisy=False)"}
    if "skipped" in noisy:
        results["skipped"]["noisy"] = noisy["skipped"]
    else:
        results["noisy"] = noisy  # its keys as they are (its own peak_mb, pairs, params...)
        for key in NOISY_TOP_LEVEL:  # the tables' rows, also at the top level
            results[key] = noisy.get(key)
        paired.update(noisy.get("paired") or {})
    bar.update()

    # Past one process (issue 15) ------------------------------------------------------
    step("1 and 2 workers: training, explain-batch")
    if cfg.scale:
        with tempfile.TemporaryDirectory(prefix="qgcam-bench-scale-") as tmp:
            results["scaling"] = scaling_rows(cfg, tmp)
    else:
        results["skipped"]["scaling"] = "not measured (scale=False)"
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
