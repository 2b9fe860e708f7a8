"""Speech in background noise (the paper's TIMIT experiment): clean vs noisy spectrograms.

Sources:

* the TIMIT layout: ``DATA/TRAIN|TEST/DR*/SPEAKER/*.WAV`` (NIST SPHERE, upper-case names,
  ``.TXT``/``.WRD``/``.PHN`` beside them when present); TRAIN and TEST are the splits;
* any folder of audio files (``.wav``, ``.sph``, ``.flac``), searched recursively; a
  deterministic ``test_fraction`` of the files is held out. Subtrees in the TIMIT layout are
  skipped in this mode (pass them as the data directory instead) so no clip appears twice.

Every clip is resampled to 16 kHz, cut or zero-padded to ``duration_s``, set to a fixed
level, and yields two examples: the clean clip and the clip plus background noise at
``snr_db`` (recorded noise files from ``noise_dir``, or white / pink / brown noise).
The model input is the log-mel image ``[n_mels, n_frames, 1]`` (:mod:`qgcam_tf.data.audio`).
Speech / non-speech marks come from the clean clip's frame energies (``test_speech_frames``
of the bundle); :mod:`qgcam_tf.evaluate.attention` scores maps against them.

Options (``qgcam train --option KEY=VALUE``; :data:`qgcam_tf.data.DATASET_OPTIONS`): ``noise_dir``,
``noise`` (comma list of ``recorded,white,pink,brown``), ``snr_db`` (``5`` or a range
``0:10``), ``labels`` (``binary``: clean/noisy, or ``type``: clean + one class per noise
kind), ``duration_s``, ``fmax`` (top of the mel filterbank, Hz; default 7600), ``test_fraction``,
``limit``, ``seed``, ``batch_size``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from qgcam_tf.data import audio
from qgcam_tf.data.registry import DatasetAdapter, DatasetBundle, register, split_validation

__all__ = [
    "CLASS_NAMES",
    "SpeechBundle",
    "find_clips",
    "read_timit_annotations",
    "load_speech",
    "speech_frames_from_images",
    "load_clip_files",
]

log = logging.getLogger(__name__)
CLASS_NAMES = ("clean", "noisy")
AUDIO_EXTENSIONS = (".wav", ".sph", ".flac")
NOISE_KINDS = ("recorded", "white", "pink", "brown")
TARGET_RMS = 0.05  # about -26 dBFS: every clip at one level, so loudness says nothing
DITHER_RMS = 1e-4  # a -80 dBFS floor: real recordings are never digitally silent


@dataclasses.dataclass
class SpeechBundle(DatasetBundle):
    """A :class:`DatasetBundle` with the speech marks of the test clips (``[N, n_frames]``)."""

    test_speech_frames: np.ndarray | None = None


def _is_timit_root(path: str) -> bool:
    try:
        names = {n.upper(): n for n in os.listdir(path)}
    except OSError:
        return False
    return any(
        s in names and os.path.isdir(os.path.join(path, names[s])) for s in ("TRAIN", "TEST")
    )


def _audio_files(root: str, *, skip_timit: bool) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        if skip_timit and dirpath != root and _is_timit_root(dirpath):
            log.warning(
                "skipping %s: it is a TIMIT layout (pass it as the data directory)", dirpath
            )
            dirnames[:] = []
            continue
        dirnames.sort()
        found += [
            os.path.join(dirpath, f)
            for f in sorted(filenames)
            if f.lower().endswith(AUDIO_EXTENSIONS)
        ]
    return found


def _held_out(path: str, root: str, fraction: float, seed: int) -> bool:
    key = f"{seed}:{os.path.relpath(path, root)}".encode()
    return int(hashlib.sha256(key).hexdigest()[:8], 16) / 0xFFFFFFFF < fraction


def find_clips(data_dir: str, *, test_fraction: float = 0.2, seed: int = 0) -> dict[str, list[str]]:
    """Audio files of ``data_dir`` by split: ``{"train": [...], "test": [...]}``.

    Raises:
        FileNotFoundError: ``data_dir`` does not exist.
        ValueError: it holds no audio files, or ``test_fraction`` is not in (0, 1).
    """
    if not data_dir:
        raise ValueError("speech needs a data directory (--data-dir): a TIMIT root or a WAV folder")
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"speech data directory {data_dir!r} does not exist")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    if _is_timit_root(data_dir):
        names = {n.upper(): n for n in os.listdir(data_dir)}
        splits = {
            s.lower(): _audio_files(os.path.join(data_dir, names[s]), skip_timit=False)
            if s in names
            else []
            for s in ("TRAIN", "TEST")
        }
        if not splits["train"] or not splits["test"]:
            # a TIMIT copy with only one split: hold out part of it
            files = splits["train"] + splits["test"]
            splits = _split(files, data_dir, test_fraction, seed)
    else:
        splits = _split(_audio_files(data_dir, skip_timit=True), data_dir, test_fraction, seed)
    if not splits["train"] and not splits["test"]:
        raise ValueError(
            f"{data_dir!r} holds no audio files ({', '.join(AUDIO_EXTENSIONS)}); expected a TIMIT "
            "layout (TRAIN/DR*/SPEAKER/*.WAV) or a folder of WAV files"
        )
    return splits


def _split(files, root, fraction, seed) -> dict[str, list[str]]:
    test = [f for f in files if _held_out(f, root, fraction, seed)]
    train = [f for f in files if not _held_out(f, root, fraction, seed)]
    return {"train": train, "test": test}


def read_timit_annotations(wav_path: str) -> dict:
    """The ``.TXT``/``.WRD``/``.PHN`` files beside a TIMIT ``.WAV`` (any that exist).

    Returns:
        ``{"text": str | None, "words": [(start, end, word)], "phones": [(start, end, phone)]}``
        with sample offsets as in TIMIT.
    """
    stem, _ = os.path.splitext(wav_path)
    out: dict = {"text": None, "words": [], "phones": []}
    for ext, key in ((".TXT", "text"), (".WRD", "words"), (".PHN", "phones")):
        path = next((stem + e for e in (ext, ext.lower()) if os.path.isfile(stem + e)), None)
        if path is None:
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [ln.split(maxsplit=2) for ln in f.read().splitlines() if ln.strip()]
        if key == "text":
            out["text"] = lines[0][2] if lines and len(lines[0]) == 3 else None
        else:
            out[key] = [(int(a), int(b), c) for a, b, c in (ln for ln in lines if len(ln) == 3)]
    return out


def _parse_snr(value) -> tuple[float, float]:
    text = str(value)
    try:
        lo, _, hi = text.partition(":")
        lo_f, hi_f = float(lo), float(hi) if hi else float(lo)
    except ValueError:
        raise ValueError(f"snr_db must be a number or a range LOW:HIGH, got {value!r}") from None
    if hi_f < lo_f:
        raise ValueError(f"snr_db range must be LOW:HIGH with LOW <= HIGH, got {value!r}")
    return lo_f, hi_f


def _parse_kinds(value, noise_dir) -> tuple[str, ...]:
    if value is None:
        return ("recorded",) if noise_dir else ("white", "pink", "brown")
    kinds = tuple(k.strip() for k in str(value).split(",") if k.strip())
    bad = [k for k in kinds if k not in NOISE_KINDS]
    if not kinds or bad:
        raise ValueError(f"noise must be a comma list of {NOISE_KINDS}, got {value!r}")
    if "recorded" in kinds and not noise_dir:
        raise ValueError("noise 'recorded' needs noise_dir (--option noise-dir=DIR)")
    return kinds


def _read_clip(path: str, cfg: audio.SpectrogramConfig) -> np.ndarray | None:
    try:
        samples, rate = audio.read_audio(path)
    except ValueError as e:
        log.warning("skipping %s", e)
        return None
    return audio.resample(samples, rate, cfg.sample_rate)


def _read_all(paths, cfg, what: str) -> tuple[list[np.ndarray], list[str]]:
    from tqdm.auto import tqdm

    clips, kept = [], []
    for p in tqdm(paths, desc=f"reading {what}", unit="file", leave=False):
        x = _read_clip(p, cfg)
        if x is not None and np.any(x):
            clips.append(x)
            kept.append(p)
        elif x is not None:
            log.warning("skipping %s: silent", p)
    skipped = len(paths) - len(kept)
    if skipped:
        log.warning("%s: skipped %d of %d files (unreadable or silent)", what, skipped, len(paths))
    return clips, kept


def _segment(x: np.ndarray, cfg, rng) -> np.ndarray:
    n = cfg.n_samples
    offset = int(rng.integers(0, len(x) - n + 1)) if len(x) > n else 0
    seg = audio.fit_length(x, n, offset=offset)
    active = seg[np.abs(seg) > 0]
    rms = float(np.sqrt(np.mean(active**2))) if active.size else 0.0
    return seg * (TARGET_RMS / rms) if rms > 0 else seg


def _noise_for(kind, noises, n, rng) -> np.ndarray:
    if kind == "recorded":
        src = noises[int(rng.integers(len(noises)))]
        start = int(rng.integers(len(src)))
        return np.roll(np.resize(src, max(n, len(src))), -start)[:n]
    return audio.coloured_noise(kind, n, rng)


def make_examples(clips, noises, *, cfg, kinds, snr, labels, rng):
    """Clean and noisy versions of each clip.

    Returns:
        ``(signals [2N, n_samples], clean [2N, n_samples], y [2N])``.
    """
    signals, cleans, ys = [], [], []
    dither = lambda: (DITHER_RMS * rng.standard_normal(cfg.n_samples)).astype(np.float32)  # noqa: E731
    for i, clip in enumerate(clips):
        seg = _segment(clip, cfg, rng)
        kind = kinds[i % len(kinds)]
        noisy, _ = audio.mix_at_snr(
            seg, _noise_for(kind, noises, cfg.n_samples, rng), rng.uniform(*snr)
        )
        signals += [seg + dither(), noisy + dither()]
        cleans += [seg, seg]
        ys += [0, 1 if labels == "binary" else 1 + kinds.index(kind)]
    return np.stack(signals), np.stack(cleans), np.asarray(ys, np.int64)


def _spectrogram_images(signals: np.ndarray, cfg, batch: int = 256) -> np.ndarray:
    parts = [
        audio.log_mel(signals[i : i + batch], cfg).numpy() for i in range(0, len(signals), batch)
    ]
    return np.concatenate(parts)[..., None].astype(np.float32)


def load_speech(options: dict) -> SpeechBundle:
    """Builds the clean-vs-noisy dataset (see the module docstring for the options).

    Raises:
        FileNotFoundError: the data or noise directory does not exist.
        ValueError: bad options, or no readable clips / noise files.
    """
    seed = int(options.get("seed") or 0)
    batch = int(options.get("batch_size") or 32)
    noise_dir = options.get("noise_dir")
    labels = options.get("labels", "binary")
    if labels not in ("binary", "type"):
        raise ValueError(f"labels must be 'binary' or 'type', got {labels!r}")
    kinds = _parse_kinds(options.get("noise"), noise_dir)
    snr = _parse_snr(options.get("snr_db", 5))
    cfg = audio.SpectrogramConfig(
        duration_s=float(options.get("duration_s", 1.0)), fmax=float(options.get("fmax", 7600.0))
    )
    splits = find_clips(
        options.get("data_dir"), test_fraction=float(options.get("test_fraction", 0.2)), seed=seed
    )
    rng = np.random.default_rng(seed)
    limit = options.get("limit")
    if limit:
        splits["train"] = list(rng.permutation(splits["train"])[: int(limit)])
    noises = {"train": [], "test": []}
    if "recorded" in kinds:
        if not os.path.isdir(noise_dir):
            raise FileNotFoundError(f"noise directory {noise_dir!r} does not exist")
        nsplit = _split(_audio_files(noise_dir, skip_timit=False), noise_dir, 0.2, seed)
        for s in ("train", "test"):
            noises[s], _ = _read_all(nsplit[s], cfg, f"noise {s}")
        if not noises["train"] or not noises["test"]:
            raise ValueError(f"noise directory {noise_dir!r} has too few readable audio files")
    arrays = {}
    for s in ("train", "test"):
        clips, kept = _read_all(splits[s], cfg, f"speech {s}")
        if not clips:
            raise ValueError(
                f"no readable speech clips in the {s} split of {options.get('data_dir')!r}"
            )
        signals, clean, y = make_examples(
            clips, noises[s], cfg=cfg, kinds=kinds, snr=snr, labels=labels, rng=rng
        )
        arrays[s] = (_spectrogram_images(signals, cfg), y, audio.speech_frames(clean, cfg))
    class_names = CLASS_NAMES if labels == "binary" else ("clean",) + kinds
    (x_tr, y_tr, _), (x_te, y_te, marks_te) = arrays["train"], arrays["test"]
    shape = (cfg.n_mels, cfg.n_frames, 1)
    (x_tr, y_tr), (x_va, y_va) = split_validation(x_tr, y_tr, options)
    train = tf.data.Dataset.from_tensor_slices((x_tr, y_tr)).shuffle(len(x_tr), seed=seed)
    return SpeechBundle(
        train=train.batch(batch).prefetch(tf.data.AUTOTUNE),
        test=tf.data.Dataset.from_tensor_slices((x_te, y_te)).batch(256),
        input_shape=shape,
        class_names=class_names,
        n_train=len(x_tr),
        n_test=len(x_te),
        # two poolings: qgcam_conv is 16 x 16 on 64 x 64, i.e. one map column per 4 frames
        model_kwargs={"conv_filters": (8, 16, 16)},
        metadata={
            "dataset": "speech",
            "input_shape": list(shape),
            "spectrogram": cfg.to_dict(),
            "noise": list(kinds),
            "snr_db": list(snr),
            "labels": labels,
            # what `load` needs to rebuild this test split (e.g. for `qgcam explain`)
            "options": {
                "data_dir": options.get("data_dir"),
                "noise_dir": noise_dir,
                "noise": ",".join(kinds),
                "snr_db": str(options.get("snr_db", 5)),
                "labels": labels,
                "duration_s": cfg.duration_s,
                "fmax": cfg.fmax,
                "test_fraction": float(options.get("test_fraction", 0.2)),
                # the test clips are mixed with the generator the training clips used first,
                # so the test split depends on how many training clips there were
                "limit": options.get("limit"),
            },
        },
        test_arrays=(x_te, y_te),
        test_speech_frames=marks_te,
        validation=tf.data.Dataset.from_tensor_slices((x_va, y_va)).batch(256)
        if len(x_va)
        else None,
        n_validation=len(x_va),
    )


def load_clip_files(paths: Sequence[str], metadata: dict) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs and speech marks for audio files, prepared as in training.

    Marks come from each file's own signal (for a noisy file they are only approximate).

    Raises:
        ValueError: no paths, or a file is not readable audio.
    """
    if not paths:
        raise ValueError("no audio files given")
    cfg = audio.SpectrogramConfig.from_dict(metadata.get("spectrogram", {}))
    segments = []
    for p in paths:
        samples, rate = audio.read_audio(p)
        segments.append(
            _segment(audio.resample(samples, rate, cfg.sample_rate), cfg, np.random.default_rng(0))
        )
    signals = np.stack(segments)
    return _spectrogram_images(signals, cfg), audio.speech_frames(signals, cfg)


def _load_files(paths, metadata: dict) -> np.ndarray:
    return load_clip_files(paths, metadata)[0]


def speech_frames_from_images(
    images: np.ndarray, *, threshold_db: float = 30.0, floor_db: float = -60.0
) -> np.ndarray:
    """Energy-based speech marks ``[B, n_frames]`` recovered from log-mel images.

    Used where only the model input exists (``qgcam explain``): the mel power is summed per
    frame and thresholded as in :func:`qgcam_tf.data.audio.speech_frames`. For a noisy input
    the noise raises the background, so the marks are only approximate.
    """
    db = np.asarray(images, np.float64)[..., 0] * -audio.DB_FLOOR + audio.DB_FLOOR
    frame_db = 10.0 * np.log10(np.sum(10.0 ** (db / 10.0), axis=1))
    loudest = frame_db.max(axis=-1, keepdims=True)
    return (frame_db > loudest - threshold_db) & (frame_db > floor_db)


register(
    DatasetAdapter(
        "speech",
        load_speech,
        _load_files,
        "speech clips (TIMIT layout or WAV folder) clean vs with background noise",
    )
)
