"""Where a map puts its mass: the *background attention* of speech clips.

A clip's speech / non-speech marks (``[B, n_frames]``, from the clean signal's frame
energies: :func:`qgcam_tf.data.audio.speech_frames`) split a spectrogram map's mass by frame;
its background attention is the mass on non-speech frames divided by their share
(:func:`attention_ratio`). 1 means no preference, above 1 a map that looks at the noise.

Per clip: :func:`per_clip_attention` (the map of the predicted, the true or a fixed class);
:func:`attention_by_class` and :func:`attention_summary` give the distribution of the
correctly classified noisy and clean clips: mean, median and share above 1, each with a
percentile-bootstrap 95 % interval (:func:`bootstrap_ci`).

:func:`dataset_metrics` names the metrics a dataset adds to a run's ``metrics.json``
(``qgcam train`` hands them to :func:`qgcam_tf.model.training.train_model`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qgcam_tf.data.registry import get_adapter
from qgcam_tf.explain.qgradcam import QGradCAM

__all__ = [
    "DATASET_METRICS",
    "attention_by_class",
    "attention_ratio",
    "attention_summary",
    "bootstrap_ci",
    "per_clip_attention",
    "background_attention",
    "dataset_metrics",
    "speech_metrics",
]


def attention_ratio(maps: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """Per map: (mass on non-speech frames / total mass) / (share of non-speech frames).

    Args:
        maps: ``[B, n_mels, n_frames]`` non-negative maps.
        speech: bool ``[B, n_frames]`` speech marks.

    Returns:
        ``[B]`` ratios; NaN where a clip has no speech or no non-speech frames, or a zero map.
    """
    maps = np.asarray(maps, np.float64)
    speech = np.asarray(speech, bool)
    if maps.ndim != 3 or speech.shape != (maps.shape[0], maps.shape[2]):
        raise ValueError(
            f"maps [B, F, T] and speech [B, T] disagree: {maps.shape} vs {speech.shape}"
        )
    per_frame = maps.sum(axis=1)
    total = per_frame.sum(axis=1)
    background = np.where(~speech, per_frame, 0.0).sum(axis=1)
    share = (~speech).mean(axis=1)
    valid = (share > 0) & (share < 1) & (total > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            valid,
            background / np.where(total > 0, total, 1.0) / np.where(valid, share, 1.0),
            np.nan,
        )


def mask_ratio(maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per map: (mass on the cells of ``mask`` / total mass) / (share of cells in ``mask``).

    The cell-level form of :func:`attention_ratio`: with ``mask`` the cells where the added
    noise outweighs the speech, above 1 means the map sits on the noise.

    Args:
        maps: ``[B, H, W]`` non-negative maps.
        mask: bool ``[B, H, W]``.

    Returns:
        ``[B]`` ratios; NaN where the mask is empty or full, or the map is zero.

    Raises:
        ValueError: the shapes differ.
    """
    maps = np.asarray(maps, np.float64)
    mask = np.asarray(mask, bool)
    if maps.ndim != 3 or mask.shape != maps.shape:
        raise ValueError(
            f"maps [B, H, W] and mask must have one shape: {maps.shape} vs {mask.shape}"
        )
    total = maps.sum(axis=(1, 2))
    inside = np.where(mask, maps, 0.0).sum(axis=(1, 2))
    share = mask.mean(axis=(1, 2))
    valid = (share > 0) & (share < 1) & (total > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = inside / np.where(valid, total, 1.0) / np.where(valid, share, 1.0)
    return np.where(valid, ratio, np.nan)


def bootstrap_ci(
    values, statistic=np.mean, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``values``.

    ``n_boot`` resamples of ``len(values)`` values drawn with replacement by
    ``np.random.default_rng(seed).integers``; the interval is the ``(1 - level) / 2`` and
    ``(1 + level) / 2`` quantiles of the resampled statistics.

    Args:
        values: 1-D finite values.
        statistic: a function of a ``[n_boot, n]`` array along ``axis=1`` (``np.mean``,
            ``np.median``, ...).
        n_boot: resamples.
        level: coverage in (0, 1).
        seed: the resampling.

    Returns:
        ``(low, high)``; ``(nan, nan)`` for no values.

    Raises:
        ValueError: ``values`` is not 1-D or not finite, ``n_boot < 1`` or ``level``
            outside (0, 1).
    """
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise ValueError(f"values must be 1-D and finite, got shape {values.shape}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"n_boot must be an int >= 1, got {n_boot!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if values.size == 0:
        return float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, values.size, size=(n_boot, values.size))
    stats = statistic(values[idx], axis=1)
    lo, hi = np.quantile(stats, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)


def _share_above_one(x, axis=None):
    return np.mean(x > 1.0, axis=axis)


def attention_summary(ratios, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """Distribution summary of per-clip background-attention ratios (NaNs dropped).

    Returns:
        ``{"n", "mean", "mean_ci", "median", "median_ci", "share_above_1",
        "share_above_1_ci", "quartiles"}``, intervals from :func:`bootstrap_ci` (95 %);
        values are None when there is no finite ratio.
    """
    vals = np.asarray(ratios, np.float64).ravel()
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        keys = ("mean", "mean_ci", "median", "median_ci", "share_above_1", "share_above_1_ci")
        return {"n": 0, **dict.fromkeys(keys), "quartiles": None}
    out = {"n": int(vals.size)}
    for name, fn in (("mean", np.mean), ("median", np.median), ("share_above_1", _share_above_one)):
        out[name] = float(fn(vals))
        out[f"{name}_ci"] = list(bootstrap_ci(vals, fn, n_boot=n_boot, seed=seed))
    out["quartiles"] = [float(q) for q in np.quantile(vals, [0.25, 0.75])]
    return out


def per_clip_attention(
    model, images, labels, speech, *, explain="predicted", noise_mask=None, batch_size: int = 64
) -> dict:
    """QGrad-CAM background attention of every clip.

    Args:
        model: the trained model.
        images: ``[N, n_mels, n_frames, 1]`` model inputs.
        labels: ``[N]`` true classes.
        speech: bool ``[N, n_frames]`` speech marks of the clean signals.
        explain: ``"predicted"`` (the map of each clip's predicted class), ``"true"`` (of its
            true class) or a class index (that class for every clip, e.g. the noisy class).
        noise_mask: optional bool ``[N, n_mels, n_frames]``, the cells where the added noise
            outweighs the speech; adds ``"noise_ratio"`` (:func:`mask_ratio`).
        batch_size: images per QGrad-CAM pass.

    Returns:
        ``{"ratio", "predicted", "label", "correct", "explained", "background_share",
        "empty", "maps"}``: arrays of length N (``maps`` ``[N, n_mels, n_frames]``);
        ``ratio`` is :func:`attention_ratio` (NaN where undefined: an empty map, or a clip
        without speech or without non-speech frames); ``empty`` marks all-zero maps.

    Raises:
        ValueError: ``explain`` is none of those, or shapes disagree.
    """
    labels = np.asarray(labels).astype(np.int64)
    images = np.asarray(images, np.float32)
    if len(labels) != len(images):
        raise ValueError(f"labels ({len(labels)}) and images ({len(images)}) differ in length")
    if explain == "predicted":
        class_index = None
    elif explain == "true":
        class_index = labels
    elif isinstance(explain, (int, np.integer)) and not isinstance(explain, bool):
        class_index = int(explain)
    else:
        raise ValueError(f"explain must be 'predicted', 'true' or a class index, got {explain!r}")
    cam = QGradCAM(model, batch_size=batch_size)
    result = cam(images, class_index)
    predicted = np.argmax(result.probabilities, axis=1)
    speech = np.asarray(speech, bool)
    extra = {} if noise_mask is None else {"noise_ratio": mask_ratio(result.maps, noise_mask)}
    return {
        **extra,
        "ratio": attention_ratio(result.maps, speech),
        "predicted": predicted,
        "label": labels,
        "correct": predicted == labels,
        "explained": np.asarray(result.class_index),
        "background_share": (~speech).mean(axis=1),
        "empty": ~np.any(result.maps > 0, axis=(1, 2)),
        "maps": result.maps,
    }


def attention_by_class(per_clip: dict, class_names, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """:func:`attention_summary` of correctly classified noisy and clean clips.

    Args:
        per_clip: what :func:`per_clip_attention` returns.
        class_names: the run's classes (one is ``"clean"``; every other is noise).

    Returns:
        ``{"noisy": summary, "clean": summary}``, each summary with ``n_correct`` (correctly
        classified clips of the class) and ``n_empty`` (those of them with an all-zero map)
        beside ``n`` (those with a ratio); with ``per_clip["noise_ratio"]`` also
        ``"noise_dominance"``: the summary of that ratio over the correct noisy clips.
    """
    clean = per_clip["label"] == list(class_names).index("clean")
    ok = per_clip["correct"]
    out = {
        name: {
            **attention_summary(per_clip["ratio"][ok & mask], n_boot=n_boot, seed=seed),
            "n_correct": int(np.sum(ok & mask)),
            "n_empty": int(np.sum(ok & mask & per_clip["empty"])),
        }
        for name, mask in (("noisy", ~clean), ("clean", clean))
    }
    if "noise_ratio" in per_clip:
        out["noise_dominance"] = attention_summary(
            per_clip["noise_ratio"][ok & ~clean], n_boot=n_boot, seed=seed
        )
    return out


def background_attention(
    model, images, labels, speech, class_names, *, batch_size: int = 64
) -> dict:
    """Mean :func:`attention_ratio` of correctly classified clean and noisy clips.

    Maps are QGrad-CAM maps of the predicted (= true) class.

    Returns:
        ``{"background_attention": noisy mean, "background_attention_clean": clean mean,
        "background_attention_n": {"noisy": k, "clean": m},
        "background_attention_median": {"noisy": ..., "clean": ...}}``
    """
    result = QGradCAM(model, batch_size=batch_size)(images)
    correct = result.class_index == np.asarray(labels)
    ratio = attention_ratio(result.maps, speech)
    clean = np.asarray(labels) == list(class_names).index("clean")
    out = {}
    for name, mask in (("noisy", correct & ~clean), ("clean", correct & clean)):
        vals = ratio[mask & np.isfinite(ratio)]
        out[name] = (
            float(vals.mean()) if vals.size else None,
            int(vals.size),
            float(np.median(vals)) if vals.size else None,
        )
    return {
        "background_attention": out["noisy"][0],
        "background_attention_clean": out["clean"][0],
        "background_attention_n": {"noisy": out["noisy"][1], "clean": out["clean"][1]},
        # the ratio is bounded by 1/share, so clips with few non-speech frames weigh on the mean
        "background_attention_median": {"noisy": out["noisy"][2], "clean": out["clean"][2]},
    }


def speech_metrics(model, bundle, *, batch_size: int = 64) -> dict:
    """:func:`background_attention` of a speech bundle's whole test split.

    Args:
        model: the trained model.
        bundle: a :class:`~qgcam_tf.data.speech.SpeechBundle` (test arrays and speech marks).
        batch_size: images per QGrad-CAM pass.

    Raises:
        ValueError: the bundle has no test arrays or no speech marks.
    """
    marks = getattr(bundle, "test_speech_frames", None)
    if bundle.test_arrays is None or marks is None:
        raise ValueError(
            "bundle must hold test arrays and test_speech_frames (the speech dataset), got "
            f"{type(bundle).__name__} without them"
        )
    x, y = bundle.test_arrays
    return background_attention(model, x, y, marks, bundle.class_names, batch_size=batch_size)


# dataset name -> (model, bundle) -> dict merged into metrics.json after training
DATASET_METRICS: dict[str, Callable] = {"speech": speech_metrics}


def dataset_metrics(dataset_name: str) -> Callable | None:
    """The extra metrics of dataset ``dataset_name``: ``(model, bundle) -> dict``, or None.

    Example:
        >>> train_model(bundle, run_dir, extra_metrics=dataset_metrics("speech"))

    Raises:
        ValueError: ``dataset_name`` is not a registered dataset.
    """
    get_adapter(dataset_name)  # the registry's own check of the name
    return DATASET_METRICS.get(dataset_name)
