"""Where a map puts its mass: the *background attention* of speech clips.

A clip's speech / non-speech marks (``[B, n_frames]``, from the clean signal's frame
energies: :func:`qgcam_tf.data.audio.speech_frames`) split a spectrogram map's mass by frame;
its background attention is the mass on non-speech frames divided by their share
(:func:`attention_ratio`). 1 means no preference, above 1 a map that looks at the noise.

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
    "attention_ratio",
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
