"""Paper Figs. 6-7: spectrograms, QGrad-CAM overlays and the speech / non-speech band.

NumPy + matplotlib (Agg) only; :func:`explain_speech_figures` is what ``qgcam explain``
draws for the speech dataset (:func:`qgcam_tf.viz.datasets.explain_figures`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from qgcam_tf.viz.common import overlay, pyplot, save_figure

__all__ = [
    "save_speech_figure",
    "explain_speech_figures",
    "test_split_figure",
    "plot_attention_distributions",
    "write_speech_evaluation",
]

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
        The PNG paths written (``out_dir/speech_METHOD.png``, METHOD the CAM's key of
        :data:`~qgcam_tf.explain.cams.CAM_METHODS`: ``speech_qgradcam.png`` by default).
    """
    from qgcam_tf.data.speech import speech_frames_from_images

    n = min(len(images), max_clips)
    names = metadata.get("class_names") or [str(i) for i in range(result.scores.shape[1])]
    titles = []
    for i in range(n):
        pred = int(np.argmax(result.probabilities[i]))
        head = f"{names[int(labels[i])]}, " if labels is not None else ""
        titles.append(f"{head}pred {names[pred]} ({result.probabilities[i, pred]:.2f})")
    from qgcam_tf.explain.cams import method_name

    out = os.path.join(out_dir, f"speech_{method_name(cam)}.png")
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


CSV_COLUMNS = (
    "snr",
    "clip",
    "noise",
    "snr_db",
    "label",
    "predicted",
    "correct",
    "explained",
    "background_share",
    "ratio",
    "noise_ratio",
)


def _explain_index(explain: str, class_names) -> str | int:
    if explain in ("predicted", "true"):
        return explain
    if explain in class_names:
        return list(class_names).index(explain)
    raise ValueError(
        f"explain must be 'predicted', 'true' or a class name of the run {list(class_names)}, "
        f"got {explain!r}"
    )


def plot_attention_distributions(results: dict, path: str, *, title: str = "") -> str:
    """Per-clip background attention of correctly classified noisy and clean clips at each
    SNR: the clips as dots (log scale), with median and 95 % bootstrap interval.

    Args:
        results: ``{snr: {"ratio", "correct", "noisy" (bool), "summary": {"noisy", "clean"}}}``.
        path: PNG to write.
        title: figure title.

    Returns:
        ``path``.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.2 + 1.3 * len(results), 3.2))
    rng = np.random.default_rng(0)
    ticks, labels = [], []
    for k, (snr, r) in enumerate(results.items()):
        for j, (name, colour) in enumerate((("noisy", "tab:red"), ("clean", "tab:blue"))):
            mask = r["correct"] & (r["noisy"] if name == "noisy" else ~r["noisy"])
            vals = r["ratio"][mask & np.isfinite(r["ratio"])]
            x = 2 * k + 0.8 * j
            ax.scatter(
                x + 0.25 * (rng.random(vals.size) - 0.5), vals, s=5, alpha=0.45, color=colour
            )
            summary = r["summary"][name]
            if summary["n"]:
                lo, hi = summary["median_ci"]
                ax.errorbar(
                    x + 0.3,
                    summary["median"],
                    yerr=[[summary["median"] - lo], [hi - summary["median"]]],
                    fmt="o",
                    color="k",
                    ms=3,
                    capsize=2,
                )
            ticks.append(x)
            labels.append(f"{name}\n{snr} dB")
    ax.axhline(1.0, color="0.4", lw=0.8, ls="--")
    ax.set_yscale("log")
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("background attention (1 = uniform)", fontsize=8)
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=100, tight=False)
    return path


def write_speech_evaluation(
    run_dir: str,
    out: str,
    *,
    snrs: Sequence = ("0", "5", "10"),
    explain: str = "predicted",
    data_dir: str | None = None,
    batch_size: int = 64,
    backend: str | None = None,
    examples: int = 2,
    seed: int = 0,
) -> list[str]:
    """Accuracy and per-clip background attention of a speech run on its held-out clips.

    The test clips (speakers and noise kinds training never saw,
    :func:`qgcam_tf.data.speech.heldout_sets`) are mixed at each SNR of ``snrs`` and at the
    run's training SNR; each clip's QGrad-CAM map is scored by
    :func:`qgcam_tf.evaluate.attention.per_clip_attention`.

    Args:
        run_dir: a run trained on the speech dataset.
        out: output folder (created).
        snrs: SNRs in dB (numbers or ``LOW:HIGH``).
        explain: which class each map explains: ``predicted``, ``true`` or a class name
            (``noisy``: the noise class on every clip).
        data_dir: a moved copy of the speech data.
        batch_size: images per QGrad-CAM pass.
        backend: the VQC executor (None: the run's).
        examples: clips per class in the example figure.
        seed: which example clips; the bootstrap.

    Returns:
        The paths written: ``speech_attention.json`` (per SNR: accuracy, and for noisy and
        clean correctly classified clips the mean, median and share above 1 with 95 %
        bootstrap intervals), ``speech_attention.csv`` (one row per clip and SNR),
        ``speech_attention.png`` (the distributions) and ``speech_examples.png`` (correctly
        classified clips with 25-75 % non-speech frames where there are any).

    Raises:
        ValueError: the run is not a speech run, or a bad SNR or class name.
    """
    import csv

    from qgcam_tf.data.speech import heldout_sets
    from qgcam_tf.evaluate.attention import attention_by_class, per_clip_attention
    from qgcam_tf.fileio import atomic_path, write_json_atomic
    from qgcam_tf.model.run import Run

    run = Run.open(run_dir)
    if run.dataset != "speech":
        raise ValueError(f"run {run_dir!r} was trained on {run.dataset!r}, not on speech")
    names = run.class_names or ["clean", "noisy"]
    target = _explain_index(explain, names)
    options = {**run.metadata.get("options", {}), "seed": run.metadata.get("seed", 0)}
    if data_dir:
        options["data_dir"] = data_dir
    levels = list(dict.fromkeys([*map(str, snrs), str(options.get("snr_db", 5))]))
    sets = heldout_sets(options, levels)
    model = run.model(backend=backend)
    os.makedirs(out, exist_ok=True)
    results, summary, rows = {}, {}, []
    clean_index = list(names).index("clean")
    for snr, held in sets.items():
        per = per_clip_attention(
            model,
            held.images,
            held.labels,
            held.speech,
            explain=target,
            noise_mask=held.noise_dominant,
            batch_size=batch_size,
        )
        by_class = attention_by_class(per, names, seed=seed)
        noisy = held.labels != clean_index
        results[snr] = {**per, "noisy": noisy, "summary": by_class, "held": held}
        summary[snr] = {
            "accuracy": float(np.mean(per["correct"])),
            "accuracy_noisy": float(np.mean(per["correct"][noisy])),
            "accuracy_clean": float(np.mean(per["correct"][~noisy])),
            "n_examples": int(len(held.labels)),
            **by_class,
        }
        for i in range(len(held.labels)):
            rows.append(
                {
                    "snr": snr,
                    "clip": os.path.relpath(held.clips[i], options.get("data_dir") or ""),
                    "noise": held.noises[i],
                    "snr_db": "" if np.isnan(held.snr_db[i]) else f"{held.snr_db[i]:.2f}",
                    "label": names[int(held.labels[i])],
                    "predicted": names[int(per["predicted"][i])],
                    "correct": int(per["correct"][i]),
                    "explained": names[int(per["explained"][i])],
                    "background_share": f"{per['background_share'][i]:.4f}",
                    "ratio": "" if not np.isfinite(per["ratio"][i]) else f"{per['ratio'][i]:.4f}",
                    "noise_ratio": ""
                    if not np.isfinite(per["noise_ratio"][i])
                    else f"{per['noise_ratio'][i]:.4f}",
                }
            )
    numeric = [s for s in sets if ":" not in s]
    written = []
    path = os.path.join(out, "speech_attention.json")
    write_json_atomic(
        path,
        {
            "run": os.path.abspath(run_dir),
            "explain": explain,
            "test_noise": run.metadata.get("test_noise", run.metadata.get("noise")),
            "per_snr": summary,
            "mean_accuracy": float(np.mean([summary[s]["accuracy"] for s in numeric]))
            if numeric
            else None,
            "mean_accuracy_snrs": numeric,
        },
    )
    written.append(path)
    path = os.path.join(out, "speech_attention.csv")
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    written.append(path)
    title = f"{os.path.basename(os.path.normpath(run_dir))}: map of the {explain} class"
    written.append(
        plot_attention_distributions(
            results, os.path.join(out, "speech_attention.png"), title=title
        )
    )
    # example clips at the middle SNR given
    r = results[str(snrs[len(snrs) // 2])] if snrs else next(iter(results.values()))
    held, ok = r["held"], r["correct"] & np.isfinite(r["ratio"])
    share = r["background_share"]
    if np.any(ok & (share >= 0.25) & (share <= 0.75)):
        ok &= (share >= 0.25) & (share <= 0.75)
    rng = np.random.default_rng(seed)
    picked = []
    for c in sorted(set(held.labels.tolist()), reverse=True):
        pool = np.flatnonzero(ok & (held.labels == c))
        if not pool.size:  # no correct clip with a ratio: show what the model did instead
            pool = np.flatnonzero(held.labels == c)
        picked += rng.permutation(pool)[:examples].tolist()
    if picked:
        titles = [
            f"{names[held.labels[i]]}"
            + (
                f" {held.snr} dB {os.path.splitext(os.path.basename(held.noises[i]))[0][-12:]}"
                if held.noises[i]
                else ""
            )
            + f", ratio {r['ratio'][i]:.2f}"
            for i in picked
        ]
        written.append(
            save_speech_figure(
                held.images[picked],
                r["maps"][picked],
                held.speech[picked],
                os.path.join(out, "speech_examples.png"),
                titles=titles,
            )
        )
    return written
