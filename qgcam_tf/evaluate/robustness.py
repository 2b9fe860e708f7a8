"""Noise robustness of a trained hybrid model: accuracy and QGrad-CAM maps under NISQ noise.

For each noise configuration (a :class:`~qgcam_tf.noise.model.NoiseModel` and a shot count) the
model runs with the noisy VQC in place of the exact one: the classical part computes ``x``,
the noisy executor gives ``f = <Z_l>`` (estimated from ``shots`` measurements when shots are
given), then the trained scale and the softmax. The maps use
:meth:`~qgcam_tf.explain.qgradcam.QGradCAM.explicit_weights` with the same noise and shots (each
parameter-shift term measured on the noisy circuit), combined with the activations by
:meth:`~qgcam_tf.explain.base.BaseCAM.combine` /
:meth:`~qgcam_tf.explain.base.BaseCAM.upsample`,
and are compared with the noiseless maps of the same images and classes by Pearson
correlation, IoU of the top-20% pixels and SSIM.

Uncertainty: every stochastic configuration (trajectories or shots) is repeated with fresh
randomness; ``*_std`` is the standard deviation of the per-repeat means (the spread caused by
trajectories/shots) and ``*_ci95`` the half-width of the 95% confidence interval of the
mean over images (the spread across images).
"""

from __future__ import annotations

import csv
import dataclasses
import time
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from qgcam_tf.evaluate.metrics import map_stability, mean_ci
from qgcam_tf.explain.qgradcam import QGradCAM
from qgcam_tf.fileio import atomic_path
from qgcam_tf.model.hybrid import VQC_LAYER
from qgcam_tf.noise.executors import noisy_executor
from qgcam_tf.noise.hardware import HARDWARE_PRESETS
from qgcam_tf.noise.model import NoiseModel
from qgcam_tf.noise.presets import make_noise
from qgcam_tf.quantum.circuits import symbol_values
from qgcam_tf.quantum.shift import sample_expectations

__all__ = [
    "NoiseConfig",
    "MAP_METRICS",
    "compare_maps",
    "noisy_predict",
    "is_random",
    "noise_configs",
    "run_sweep",
    "write_csv",
]

MAP_METRICS = ("pearson", "iou", "ssim")
COLUMNS = (
    ["preset", "strength", "x", "shots", "method", "repetitions", "images", "repeats"]
    + [f"{m}_{s}" for m in ("accuracy",) + MAP_METRICS for s in ("mean", "std", "ci95")]
    + ["seconds"]
)


@dataclasses.dataclass(frozen=True)
class NoiseConfig:
    """One point of a sweep.

    Attributes:
        preset: label of the line it belongs to (a preset name).
        strength: the preset's strength (channel probability, or a hardware scale factor).
        x: position on the plot's strength axis (hardware presets: their mean two-qubit
            depolarizing probability, to compare them with the depolarizing line).
        model: the noise model (None: noiseless).
        shots: measurements per expectation (None: exact expectations).
    """

    preset: str
    strength: float
    x: float
    model: NoiseModel | None
    shots: int | None = None


def noise_configs(
    spec,
    *,
    presets: Sequence[str],
    strengths: Sequence[float] = (0.0,),
    scales: Sequence[float] = (1.0,),
    shots: Sequence[int | None] = (None,),
    method: str = "auto",
    repetitions: int = 100,
) -> list[NoiseConfig]:
    """The points of a sweep: every preset at each of its strengths, times each shot count.

    Channel presets are swept over ``strengths`` (probabilities); hardware presets
    (``rainbow``, ``weber``) over ``scales`` (factors on their calibrated error rates), with
    the mean two-qubit depolarizing probability of the placed circuit as their x value.
    Repeated values are swept once.
    """
    options = dict(method=method, repetitions=repetitions)
    configs = []
    for preset in dict.fromkeys(presets):
        hardware = preset in HARDWARE_PRESETS
        for strength in dict.fromkeys(scales if hardware else strengths):
            model = make_noise(preset, strength, spec=spec, **options)
            x = model.mean_two_qubit_depolarizing(spec.n_qubits) if hardware else strength
            for n_shots in dict.fromkeys(shots):
                configs.append(NoiseConfig(preset, strength, x, model, n_shots))
    return configs


def compare_maps(reference: np.ndarray, maps: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image Pearson, top-20% IoU and SSIM of ``maps`` against ``reference`` [B, H, W]."""
    out = map_stability(reference, maps, top_fraction=0.2)
    ssim = tf.image.ssim(
        tf.constant(reference[..., None], tf.float32),
        tf.constant(maps[..., None], tf.float32),
        max_val=1.0,
        filter_size=min(11, *reference.shape[1:]),
    )
    return {"pearson": out["pearson"], "iou": out["iou"], "ssim": ssim.numpy()}


def noisy_predict(
    model,
    images: np.ndarray,
    noise: NoiseModel | None,
    *,
    shots: int | None = None,
    rng: np.random.Generator | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Class probabilities ``[B, C]`` with the VQC run on the noisy executor (and shots)."""
    vqc = model.get_layer(VQC_LAYER)
    head = _head(model)
    run = vqc.executor if noise is None else noisy_executor(vqc.spec, noise)
    scale = model.get_layer("scale")
    rng = rng or np.random.default_rng()
    out = []
    for start in range(0, len(images), batch_size):
        x = head(tf.constant(images[start : start + batch_size]), training=False)
        f = run(symbol_values(x, vqc.theta)).numpy()
        if shots is not None:
            f = sample_expectations(f, shots, rng)
        out.append(tf.nn.softmax(scale(tf.constant(f, tf.float32))).numpy())
    return np.concatenate(out)


def _head(model):
    import tf_keras as keras

    return keras.Model(model.inputs, model.get_layer(VQC_LAYER).input)


def _noisy_maps(cam: QGradCAM, images, class_index, config: NoiseConfig, seed: int) -> np.ndarray:
    weights = cam.explicit_weights(
        images, class_index, shots=config.shots, noise=config.model, seed=seed
    )
    maps = []
    for start in range(0, len(images), cam.batch_size):
        batch = tf.constant(images[start : start + cam.batch_size])
        acts = cam.probe(batch, training=False)[0]
        cams = cam.combine(acts, tf.constant(weights[start : start + cam.batch_size]))
        maps.append(cam.upsample(cams, tf.shape(batch)[1:3]).numpy())
    return np.concatenate(maps)


def run_sweep(
    model,
    images: np.ndarray,
    labels: np.ndarray,
    configs: list[NoiseConfig],
    *,
    repeats: int = 3,
    seed: int = 0,
    progress=None,
) -> tuple[list[dict], dict]:
    """Evaluates every configuration; returns the table rows and the maps of image 0.

    Args:
        model: a hybrid model (``load_model``).
        images: ``[B, H, W, C]`` test images; labels: ``[B]`` their classes.
        configs: the sweep.
        repeats: repeats of each stochastic configuration (deterministic ones run once).
        seed: seed of the shot sampler (trajectories are not seedable in TFQ).
        progress: a tqdm bar, advanced once per (configuration, repeat).

    Returns:
        ``(rows, example)``: one dict per configuration with the columns of :data:`COLUMNS`,
        and ``{"image", "reference", "maps": [(config, map)]}`` for the first image.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    cam = QGradCAM(model)
    ref = cam(images)
    class_index = ref.class_index  # explain the noiseless prediction at every noise level
    rows, example = [], {"image": images[0], "reference": ref.maps[0], "maps": []}
    for i, config in enumerate(configs):
        start = time.time()
        reps = repeats if is_random(config, model) else 1
        acc, metric = [], {m: [] for m in MAP_METRICS}
        for r in range(reps):
            rng = np.random.default_rng([seed, i, r])
            probs = noisy_predict(model, images, config.model, shots=config.shots, rng=rng)
            acc.append(np.argmax(probs, -1) == labels)
            maps = _noisy_maps(cam, images, class_index, config, seed=int(rng.integers(2**31)))
            for m, v in compare_maps(ref.maps, maps).items():
                metric[m].append(v)
            if r == 0:
                example["maps"].append((config, maps[0]))
            if progress is not None:
                progress.update(1)
        row = {
            "preset": config.preset,
            "strength": config.strength,
            "x": config.x,
            "shots": config.shots or "",
            "method": _method(config, model),
            "repetitions": config.model.repetitions if config.model else "",
            "images": len(images),
            "repeats": reps,
        }
        for name, values in [("accuracy", acc)] + list(metric.items()):
            values = np.asarray(values, np.float64)  # [reps, B]
            std = float(values.mean(axis=1).std(ddof=1)) if reps > 1 else 0.0
            row[f"{name}_mean"] = round(float(values.mean()), 6)
            row[f"{name}_std"] = round(std, 6)
            row[f"{name}_ci95"] = round(mean_ci(values.mean(axis=0))[1], 6)
        row["seconds"] = round(time.time() - start, 1)
        rows.append(row)
    return rows, example


def _method(config: NoiseConfig, model) -> str:
    if config.model is None:
        return "exact"
    if config.model.method != "auto":
        return config.model.method
    n = model.get_layer(VQC_LAYER).spec.n_qubits
    from qgcam_tf.noise.executors import DENSITY_MAX_QUBITS

    return "density" if n <= DENSITY_MAX_QUBITS else "trajectories"


def is_random(config: NoiseConfig, model) -> bool:
    """Whether ``config``'s results vary from run to run, so that repeats are worth it.

    Shots do, and so do the trajectories of a noise model with any non-zero channel; the
    exact model and the density-matrix method do not. :func:`run_sweep` repeats only
    random configurations (``qgcam noise`` sizes its progress bar with this).

    Args:
        config: one point of a sweep.
        model: the hybrid model (its qubit count decides what method ``"auto"`` picks).
    """
    if config.shots is not None:
        return True
    if config.model is None or _method(config, model) != "trajectories":
        return False
    values = [getattr(config.model, f.name) for f in config.model.strength_fields()]
    return any(np.any(np.asarray(v, np.float64)) for v in values if v is not None)


def write_csv(rows: list[dict], path: str) -> None:
    """Writes the sweep table atomically."""
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
