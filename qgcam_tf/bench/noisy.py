"""The benchmark's noisy rows: exact noisy QGrad-CAM maps against TFQ trajectories, and the
noise sweep's rate per preset.

:func:`noisy_rows` is what the benchmark suite calls; it returns a dict of plain numbers::

    {
      "noisy_maps_per_s": {"density": {n: maps/s}, "trajectories": {n: maps/s}},
      "peak_mb": {"density": {n: MB}},
      "paired": {"density_over_trajectories": {n: speedup}},
      "pairs": {n: [[density_s, trajectories_s], ...]},
      "agreement": {n: chi},
      "noise_sweep_maps_per_s": {preset: maps/s},
      "noise_sweep_seconds": {preset: s},
      "noise_sweep_method": {preset: "density" | "trajectories"},
      "params": {...},
    }

Keys ``n`` are strings (JSON object keys). What each row measures:

* ``noisy_maps_per_s[method][n]``: QGrad-CAM maps per second of
  :func:`~qgcam_tf.evaluate.robustness.noisy_maps` (the parameter-shift weights with every
  shifted circuit run noisy, then the maps) on the paper VQC of ``n`` qubits as the suite
  builds it (:func:`~qgcam_tf.model.hybrid.build_hybrid_model`, ``tf`` executor, the
  suite's depth and image shape, untrained weights), a fixed batch of ``batch`` random
  images, under the ``preset`` noise model at ``strength``. ``"density"`` is the exact method
  (:func:`~qgcam_tf.noise.executors.noisy_executor`), ``"trajectories"`` TFQ's Monte-Carlo
  trajectories with ``repetitions`` (100) trajectories per expectation. Rates are the
  median over the pairs below.
* ``paired["density_over_trajectories"][n]``: the speedup of the exact method, measured
  interleaved (density, trajectories, density, trajectories, ...; ``warmup`` untimed pairs
  first): the median over pairs of ``trajectories_s / density_s``. ``pairs[n]`` holds the
  recorded ``[density_s, trajectories_s]`` of every timed pair, so the ratio can be checked.
* ``peak_mb["density"][n]``: the largest resident set size of the process after the density
  calls at ``n`` (Linux ``ru_maxrss``; a process-wide high-water mark, so an upper bound).
* ``agreement[n]``: the root-mean-square difference of the mean trajectory maps from the
  exact maps, in units of the standard error of that mean (from the spread of the timed
  trajectory calls): near 1 when the two agree, far above when they differ.
* ``noise_sweep_maps_per_s[preset]``: maps per second of one sweep point of
  ``qgcam noise`` (:func:`~qgcam_tf.evaluate.robustness.noisy_predict` then
  :func:`~qgcam_tf.evaluate.robustness.noisy_maps` on ``sweep_batch`` images, the
  executors cached by the first call of another strength, as a sweep runs its points) on
  a ``sweep_n``-qubit paper model built without training (random weights) with ``method``
  ``"auto"``; ``noise_sweep_seconds`` is that call's time and ``noise_sweep_method`` the
  method ``"auto"`` picked.

Parameters: :class:`NoisyParams` (its defaults keep the whole run within a few minutes on
an idle 2-core machine), or a benchmark config (``depth``, ``image_shape``, ``warmup``
and ``train_n`` are read from it when present).

Example:
    >>> from qgcam_tf.bench.noisy import NoisyParams
    >>> NoisyParams(ns=(3,), batch=2).batch
    2
"""

from __future__ import annotations

import dataclasses
import resource
import time
from collections.abc import Sequence

import numpy as np

from qgcam_tf.bench.timing import interleaved_pairs

__all__ = ["NoisyParams", "noisy_rows"]

METHODS = ("density", "trajectories")


@dataclasses.dataclass(frozen=True)
class NoisyParams:
    """What :func:`noisy_rows` measures.

    Attributes:
        ns: qubit counts of the density / trajectory rows.
        batch: maps per timed call.
        depth: VQC depth.
        image_shape: the model's input.
        preset / strength: the noise model of the density / trajectory rows
            (:func:`~qgcam_tf.noise.presets.make_noise`).
        repetitions: trajectories per expectation.
        pairs: timed (density, trajectories) pairs per ``n``.
        warmup: untimed pairs first (tracing, executor caches).
        sweep_presets: presets of the sweep rows.
        sweep_n: qubits of the sweep rows' model.
        sweep_batch: images of a sweep point.
        seed: the random images and weights.
    """

    ns: Sequence[int] = (4, 6, 8)
    batch: int = 16
    depth: int = 2
    image_shape: tuple[int, int, int] = (28, 28, 1)
    preset: str = "depolarizing"
    strength: float = 0.02
    repetitions: int = 100
    pairs: int = 3
    warmup: int = 1
    sweep_presets: Sequence[str] = ("rainbow", "weber", "depolarizing")
    sweep_n: int = 10
    sweep_batch: int = 16
    seed: int = 0

    def validate(self) -> None:
        """Raises ValueError naming the first bad field."""
        if not self.ns or any(
            isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 10 for n in self.ns
        ):
            raise ValueError(f"ns must be ints in [2, 10], got {self.ns!r}")
        for name in ("batch", "depth", "repetitions", "pairs", "sweep_batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f"warmup must be an int >= 0, got {self.warmup!r}")
        if not 2 <= self.sweep_n <= 10:
            raise ValueError(f"sweep_n must be in [2, 10], got {self.sweep_n!r}")


def _params(cfg_or_params) -> NoisyParams:
    if cfg_or_params is None:
        return NoisyParams()
    if isinstance(cfg_or_params, NoisyParams):
        return cfg_or_params
    if isinstance(cfg_or_params, dict):
        return NoisyParams(**cfg_or_params)
    fields = {}
    for name in ("depth", "image_shape", "warmup"):
        if hasattr(cfg_or_params, name):
            fields[name] = getattr(cfg_or_params, name)
    if hasattr(cfg_or_params, "train_n"):
        fields["sweep_n"] = min(10, int(cfg_or_params.train_n))
    if getattr(cfg_or_params, "ns", None) and max(cfg_or_params.ns) < 8:  # a quick config
        fields["ns"] = tuple(n for n in cfg_or_params.ns if n <= 8)
        fields["batch"] = min(NoisyParams.batch, int(getattr(cfg_or_params, "batch", 16)))
        fields["sweep_batch"] = fields["batch"]
        fields["sweep_presets"] = ("depolarizing",)
    return NoisyParams(**fields)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _model(n: int, p: NoisyParams):
    import tf_keras as keras

    from qgcam_tf.model.hybrid import build_hybrid_model
    from qgcam_tf.quantum.circuits import VQCSpec

    keras.utils.set_random_seed(p.seed)
    spec = VQCSpec(n_qubits=n, depth=p.depth, n_outputs=n)
    return build_hybrid_model(p.image_shape, n, vqc=spec, backend="tf")


def _images(p: NoisyParams, count: int) -> np.ndarray:
    rng = np.random.default_rng(p.seed)
    return rng.uniform(0, 1, (count, *p.image_shape)).astype(np.float32)


def _agreement(density: np.ndarray, trajectories: list[np.ndarray]) -> float:
    """RMS of (mean trajectory map - exact map) over the RMS standard error of that mean."""
    stack = np.stack(trajectories).astype(np.float64)
    if len(stack) < 2:
        return float("nan")
    mean = stack.mean(axis=0)
    se2 = stack.var(axis=0, ddof=1) / len(stack)
    rms_se = float(np.sqrt(se2.mean()))
    diff = float(np.sqrt(((mean - density) ** 2).mean()))
    return diff / rms_se if rms_se > 0 else (0.0 if diff == 0 else float("inf"))


def _method_rows(p: NoisyParams) -> dict:
    from qgcam_tf.evaluate.robustness import NoiseConfig, noisy_maps, quantum_target
    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.noise.presets import make_noise

    rates = {m: {} for m in METHODS}
    out = {"noisy_maps_per_s": rates, "peak_mb": {"density": {}}, "paired": {}, "pairs": {}}
    ratios, agreement = {}, {}
    images = _images(p, p.batch)
    for n in p.ns:
        model = _model(n, p)
        cam = QGradCAM(model, batch_size=p.batch)
        class_index = np.argmax(model.predict(images, verbose=0), axis=-1)
        spec = quantum_target(model).spec
        calls = {}
        for method in METHODS:
            noise = make_noise(
                p.preset, p.strength, spec=spec, method=method, repetitions=p.repetitions
            )
            config = NoiseConfig(p.preset, p.strength, p.strength, noise)

            def call(config=config):
                return noisy_maps(cam, images, class_index, config)

            calls[method] = call
        timed = interleaved_pairs(
            calls["density"], calls["trajectories"], pairs=p.pairs, warmup=p.warmup
        )
        key = str(n)
        rates["density"][key] = p.batch / timed["a_s"]
        rates["trajectories"][key] = p.batch / timed["b_s"]
        ratios[key] = timed["ratio"]
        out["pairs"][key] = timed["seconds"]
        out["peak_mb"]["density"][key] = _peak_mb()
        agreement[key] = _agreement(timed["results"][0][0], [b for _, b in timed["results"]])
    out["paired"]["density_over_trajectories"] = ratios
    out["agreement"] = agreement
    return out


def _sweep_rows(p: NoisyParams) -> dict:
    from qgcam_tf.evaluate.robustness import (
        noise_configs,
        noisy_maps,
        noisy_predict,
        quantum_target,
    )
    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.noise.hardware import HARDWARE_PRESETS

    model = _model(p.sweep_n, p)
    target = quantum_target(model)
    cam = QGradCAM(model, batch_size=p.sweep_batch)
    images = _images(p, p.sweep_batch)
    class_index = np.argmax(model.predict(images, verbose=0), axis=-1)
    rates, seconds, methods = {}, {}, {}
    for preset in p.sweep_presets:
        hardware = preset in HARDWARE_PRESETS
        # the first point warms the caches of the code (tracing); the second is timed
        values = (0.5, 1.0) if hardware else (p.strength / 2, p.strength)
        configs = noise_configs(
            target,
            presets=[preset],
            strengths=values,
            scales=values,
            repetitions=p.repetitions,
        )
        for i, config in enumerate(configs):
            start = time.perf_counter()
            noisy_predict(model, images, config.model, score_layer=target.layer.name)
            noisy_maps(cam, images, class_index, config)
            elapsed = time.perf_counter() - start
        seconds[preset] = elapsed
        rates[preset] = p.sweep_batch / elapsed
        methods[preset] = _auto_method(config, target)
    return {
        "noise_sweep_maps_per_s": rates,
        "noise_sweep_seconds": seconds,
        "noise_sweep_method": methods,
    }


def _auto_method(config, target) -> str:
    from qgcam_tf.evaluate.robustness import is_random

    if config.model.method != "auto":
        return config.model.method
    # is_random is True exactly for trajectories at a non-zero strength without shots
    return "trajectories" if is_random(config, target) else "density"


def noisy_rows(cfg_or_params=None) -> dict:
    """The noisy rows of the benchmark (see the module docstring for every key).

    Args:
        cfg_or_params: a :class:`NoisyParams`, a dict of its fields, a benchmark config
            (its ``depth``, ``image_shape``, ``warmup`` and ``train_n`` are used; a config
            whose ``ns`` are all below 8, such as the suite's quick one, shrinks the rows to
            them, its batch and the depolarizing sweep), or None for the defaults.

    Raises:
        ValueError: a bad parameter (:meth:`NoisyParams.validate`).
    """
    p = _params(cfg_or_params)
    p.validate()
    start = time.perf_counter()
    out = _method_rows(p)
    out.update(_sweep_rows(p))
    out["params"] = dataclasses.asdict(p)
    out["seconds"] = time.perf_counter() - start
    return out
