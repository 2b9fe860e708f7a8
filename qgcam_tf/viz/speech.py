"""Paper Figs. 6-7: spectrograms, QGrad-CAM overlays and the speech / non-speech band.

NumPy + matplotlib (Agg) only; :func:`explain_speech_figures` is what ``qgcam explain``
draws for the speech dataset (:func:`qgcam_tf.viz.datasets.explain_figures`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from qgcam_tf.viz.common import overlay, pyplot, save_figure

__all__ = ["save_speech_figure", "explain_speech_figures", "test_split_figure"]

BAND_SPEECH = (0.20, 0.65, 0.30)
BAND_BACKGROUND = (0.75, 0.75, 0.75)


def _band(speech: np.ndarray) -> np.ndarray:
    colours = np.where(np.asarray(speech, bool)[:, None], BAND_SPEECH, BAND_BACKGROUND)
    return colours[None].astype(np.float32)  # [1, T, 3]


def _draw(ax, image: np.ndarray, speech: np.ndarray, title: str) -> None:
    n_mels, n_frames = image.shape[:2]
    band_h = max(2.0, n_mels / 12)
    ax.imshow(
        image,
        origin="lower",
        aspect="auto",
        cmap=None if image.ndim == 3 else "magma",
        extent=(-0.5, n_frames - 0.5, -0.5, n_mels - 0.5),
        vmin=0.0,
        vmax=1.0,
    )
    ax.imshow(
        _band(speech),
        origin="lower",
        aspect="auto",
        extent=(-0.5, n_frames - 0.5, -1.5 - band_h, -1.5),
    )
    ax.set_ylim(-1.5 - band_h, n_mels - 0.5)
    ax.set_xlim(-0.5, n_frames - 0.5)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def save_speech_figure(
    spectrograms: np.ndarray,
    maps: np.ndarray,
    speech: np.ndarray,
    path: str,
    *,
    titles: Sequence[str] | None = None,
    alpha: float = 0.5,
    dpi: int = 100,
) -> str:
    """One row per clip: log-mel spectrogram | QGrad-CAM overlay, each over a band marking
    speech (green) and non-speech (grey) frames.

    Args:
        spectrograms: ``[B, n_mels, n_frames]`` or ``[B, n_mels, n_frames, 1]`` in [0, 1]
            (row 0 = lowest mel band).
        maps: ``[B, n_mels, n_frames]`` in [0, 1].
        speech: bool ``[B, n_frames]``.
        path: PNG to write.
        titles: one label per clip (e.g. "noisy, predicted noisy").
        alpha: weight of the heatmap in the overlay.
        dpi: resolution of the PNG.

    Returns:
        ``path``.

    Raises:
        ValueError: the shapes disagree.
    """
    import matplotlib

    plt = pyplot()

    spec = np.asarray(spectrograms, np.float32)
    spec = spec[..., 0] if spec.ndim == 4 else spec
    maps = np.asarray(maps, np.float32)
    speech = np.asarray(speech, bool)
    if spec.ndim != 3 or maps.shape != spec.shape or speech.shape != (spec.shape[0], spec.shape[2]):
        raise ValueError(
            f"need spectrograms [B, F, T], maps [B, F, T], speech [B, T]; got {spec.shape}, "
            f"{maps.shape}, {speech.shape}"
        )
    titles = list(titles) if titles is not None else [f"clip {i}" for i in range(len(spec))]
    fig, axes = plt.subplots(len(spec), 2, figsize=(5.2, 2.0 * len(spec)), squeeze=False)
    colour_map = matplotlib.colormaps["magma"]
    for i in range(len(spec)):
        rgb = colour_map(spec[i])[..., :3]
        _draw(axes[i, 0], spec[i], speech[i], f"{titles[i]}: log-mel")
        _draw(axes[i, 1], overlay(rgb, maps[i], alpha=alpha), speech[i], "QGrad-CAM")
    axes[-1, 0].set_xlabel("time (frames); band: green speech, grey non-speech", fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=dpi, tight=False)
    return path


def explain_speech_figures(
    out_dir, images, cam, result, metadata, labels=None, *, max_clips: int = 6
) -> list[str]:
    """``qgcam explain``'s speech figure: Figs. 6-7 for the inputs.

    The speech band is recovered from each input's own energy
    (:func:`qgcam_tf.data.speech.speech_frames_from_images`).

    Returns:
        The PNG paths written (``out_dir/speech_qgradcam.png``).
    """
    from qgcam_tf.data.speech import speech_frames_from_images

    n = min(len(images), max_clips)
    names = metadata.get("class_names") or [str(i) for i in range(result.scores.shape[1])]
    titles = []
    for i in range(n):
        pred = int(np.argmax(result.probabilities[i]))
        head = f"{names[int(labels[i])]}, " if labels is not None else ""
        titles.append(f"{head}pred {names[pred]} ({result.probabilities[i, pred]:.2f})")
    out = os.path.join(out_dir, "speech_qgradcam.png")
    speech = speech_frames_from_images(images[:n])
    return [save_speech_figure(images[:n], result.maps[:n], speech, out, titles=titles)]


def test_split_figure(
    model, bundle, path: str, *, per_class: int = 2, seed: int = 0, dpi: int = 100
) -> str:
    """Figs. 6-7 from a speech bundle's test split, with the speech band of the *clean* signal.

    Picks at random ``per_class`` correctly classified clips of each class among those with
    25-75 % non-speech frames (any with both kinds of frame if there are none); each title
    gives the clip's background-attention ratio.

    Raises:
        ValueError: the bundle has no test arrays or speech marks.
    """
    from qgcam_tf.evaluate.attention import attention_ratio
    from qgcam_tf.explain.qgradcam import QGradCAM

    if bundle.test_arrays is None or getattr(bundle, "test_speech_frames", None) is None:
        raise ValueError("bundle has no test arrays with speech marks (use the speech dataset)")
    x, y = bundle.test_arrays
    marks = bundle.test_speech_frames
    result = QGradCAM(model)(x)
    ratio = attention_ratio(result.maps, marks)
    share = (~marks).mean(axis=1)
    ok = (result.class_index == y) & np.isfinite(ratio)
    if np.any(ok & (share >= 0.25) & (share <= 0.75)):
        ok &= (share >= 0.25) & (share <= 0.75)  # clips with a clear speech/background split
    rng = np.random.default_rng(seed)
    picked = []
    for c in sorted(set(y.tolist()), reverse=True):  # noisy first, as in the paper
        pool = rng.permutation(np.flatnonzero(ok & (y == c)))
        picked += pool[:per_class].tolist()
    if not picked:
        raise ValueError("no correctly classified test clips with speech and non-speech frames")
    names = bundle.class_names
    titles = [f"{names[y[i]]} (attention ratio {ratio[i]:.2f})" for i in picked]
    return save_speech_figure(
        x[picked], result.maps[picked], marks[picked], path, titles=titles, dpi=dpi
    )
