"""Speech in background noise (the paper's TIMIT experiment): clean vs noisy spectrograms.

Sources:

* the TIMIT layout: ``DATA/TRAIN|TEST/DR*/SPEAKER/*.WAV`` (NIST SPHERE, upper-case names,
  ``.TXT``/``.WRD``/``.PHN`` beside them when present); TRAIN and TEST are the splits;
* any folder of audio files (``.wav``, ``.sph``, ``.flac``), searched recursively; whole
  speakers making up at most ``test_fraction`` of the files are held out
  (:func:`clip_groups`: a ``manifest.csv`` speaker column, else TIMIT speaker folders, else
  each file on its own). Subtrees in the TIMIT layout are skipped in this mode (pass them as
  the data directory instead) so no clip appears twice.

Noise recordings are split the same way by noise kind (:func:`noise_groups`, about a
quarter of the files): the test clips get noise of kinds training never heard.
:func:`heldout_sets` mixes the test clips at several SNRs.

Every clip is resampled to 16 kHz, cut or zero-padded to ``duration_s``, set to a fixed
level, and yields two examples: the clean clip and the clip plus background noise at
``snr_db`` (recorded noise files from ``noise_dir``, or white / pink / brown noise).
The model input is the log-mel image ``[n_mels, n_frames, 1]`` (:mod:`qgcam_tf.data.audio`).
Speech / non-speech marks come from the clean clip's frame energies (``test_speech_frames``
of the bundle); :mod:`qgcam_tf.evaluate.attention` scores maps against them.

Options (``qgcam train --option KEY=VALUE``; :data:`qgcam_tf.data.DATASET_OPTIONS`):
``noise_dir``, ``noise`` (comma list of ``recorded,white,pink,brown``), ``test_noise`` (the
kinds of the test clips, default ``noise``: a colour training never heard is a fresh noise),
``snr_db`` (``5`` or a range ``0:10``), ``labels`` (``binary``: clean/noisy, or ``type``:
clean + one class per noise kind), ``duration_s``, ``fmax`` (top of the mel filterbank, Hz;
default 7600), ``test_fraction``, ``limit``, ``seed``, ``batch_size``.
"""

from __future__ import annotations

import csv
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
    "HeldOutSet",
    "heldout_sets",
    "split_by_group",
    "clip_groups",
    "noise_groups",
    "split_noise",
    "make_examples",
    "speech_frames_from_images",
    "load_clip_files",
]

log = logging.getLogger(__name__)
CLASS_NAMES = ("clean", "noisy")
AUDIO_EXTENSIONS = (".wav", ".sph", ".flac")
NOISE_KINDS = ("recorded", "white", "pink", "brown")
TARGET_RMS = 0.05  # about -26 dBFS: every clip at one level, so loudness says nothing
DITHER_RMS = 1e-4  # a -80 dBFS floor: real recordings are never digitally silent
NOISE_TEST_FRACTION = 0.25  # share of noise files (whole kinds) held out for the test clips
TEST_STREAM = 7919  # the test clips are mixed by a generator of their own: [seed, TEST_STREAM]


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
    return split_by_group(files, clip_groups(root, files), fraction, seed)


def _group_rank(group: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()


def split_by_group(
    files: Sequence[str], groups: Sequence[str], fraction: float, seed: int
) -> dict[str, list[str]]:
    """Holds out whole groups (speakers, noise kinds): no group has files in both splits.

    Groups are visited in an order fixed by ``seed`` (a hash of ``seed:group``); a group
    goes to the test split while the test split stays within ``fraction`` of the files, so
    a group larger than that share always stays in training. At least one group is held out
    (the smallest of the first ones in that order) and at least one is kept.

    Args:
        files: the files, in any order (kept in the splits).
        groups: the group of each file.
        fraction: the share of files to hold out, in (0, 1).
        seed: which groups.

    Returns:
        ``{"train": [...], "test": [...]}``.

    Raises:
        ValueError: lengths differ, ``fraction`` is not in (0, 1), or there is only one group.
    """
    if len(files) != len(groups):
        raise ValueError(f"files and groups differ in length: {len(files)} vs {len(groups)}")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    if not files:
        return {"train": [], "test": []}
    sizes: dict[str, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    if len(sizes) < 2:
        raise ValueError(
            f"cannot hold out a group: all {len(files)} files are in one group {groups[0]!r}"
        )
    order = sorted(sizes, key=lambda g: _group_rank(g, seed))
    budget, held = fraction * len(files), set()
    for g in order:
        if sum(sizes[h] for h in held) + sizes[g] <= budget:
            held.add(g)
    if not held:
        held.add(min(order, key=lambda g: sizes[g]))
    return {
        "train": [f for f, g in zip(files, groups) if g not in held],
        "test": [f for f, g in zip(files, groups) if g in held],
    }


def _manifest(root: str) -> dict[str, dict[str, str]]:
    """``manifest.csv`` of ``root`` (if any): absolute path -> row."""
    path = os.path.join(root, "manifest.csv")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {os.path.normpath(os.path.join(root, r.get("path") or "")): r for r in rows}


def clip_groups(root: str, files: Sequence[str]) -> list[str]:
    """The speaker of each speech file, so that no speaker is in both splits.

    From ``root/manifest.csv``'s ``speaker_or_voice`` (or ``speaker``) column where it lists
    the file; else, in a TIMIT layout (``.../DR*/SPEAKER/FILE``), the speaker folder; else the
    file itself (each file its own group).
    """
    rows = _manifest(root)
    out = []
    for f in files:
        row = rows.get(os.path.normpath(f), {})
        speaker = row.get("speaker_or_voice") or row.get("speaker")
        parent, grand = os.path.split(os.path.dirname(f))
        if speaker:
            out.append(f"speaker:{speaker}")
        elif os.path.basename(parent).upper().startswith("DR"):
            out.append(f"speaker:{grand}")
        else:
            out.append(f"file:{os.path.relpath(f, root)}")
    return out


def noise_groups(root: str, files: Sequence[str]) -> list[str]:
    """The noise kind of each noise file, so that a held-out kind is never heard in training.

    From ``root/manifest.csv``'s ``category`` column, cut at the first ``_``
    (``keyboard_click`` and ``keyboard_typing_sequence`` are one kind, ``keyboard``: the
    typing sequences are mixed from the click recordings); a file the manifest does not list
    is its own group.
    """
    rows = _manifest(root)
    out = []
    for f in files:
        category = rows.get(os.path.normpath(f), {}).get("category")
        out.append(
            f"kind:{category.split('_')[0]}" if category else f"file:{os.path.relpath(f, root)}"
        )
    return out


def split_noise(noise_dir: str, *, fraction: float = NOISE_TEST_FRACTION, seed: int = 0):
    """Noise files of ``noise_dir`` by split, whole kinds held out (:func:`noise_groups`).

    Returns:
        ``{"train": [...], "test": [...]}``.

    Raises:
        FileNotFoundError: ``noise_dir`` does not exist.
        ValueError: it holds fewer than two groups of audio files.
    """
    if not noise_dir or not os.path.isdir(noise_dir):
        raise FileNotFoundError(f"noise directory {noise_dir!r} does not exist")
    files = _audio_files(noise_dir, skip_timit=False)
    if len(files) < 2:
        raise ValueError(f"noise directory {noise_dir!r} has too few audio files ({len(files)})")
    return split_by_group(files, noise_groups(noise_dir, files), fraction, seed)


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


def _noise_for(kind, noises, n, rng) -> tuple[np.ndarray, int]:
    """A noise segment of ``kind`` and the index of its recording (-1: a colour)."""
    if kind == "recorded":
        which = int(rng.integers(len(noises)))
        src = noises[which]
        start = int(rng.integers(len(src)))
        return np.roll(np.resize(src, max(n, len(src))), -start)[:n], which
    return audio.coloured_noise(kind, n, rng), -1


def make_examples(clips, noises, *, cfg, kinds, snr, labels, rng, details: bool = False):
    """Clean and noisy versions of each clip.

    Args:
        clips / noises: 16 kHz signals (speech clips; noise recordings for kind ``recorded``).
        cfg: the framing (:class:`~qgcam_tf.data.audio.SpectrogramConfig`).
        kinds: noise kinds, assigned round robin.
        snr: ``(low, high)`` dB, drawn uniformly per clip.
        labels: ``binary`` or ``type``.
        rng: the generator of every draw.
        details: also return what each example is made of.

    Returns:
        ``(signals [2N, n_samples], clean [2N, n_samples], y [2N])``; with ``details``, a fourth
        item ``{"clip": [2N] clip index, "noise": [2N] noise recording index (-1 for a
        colour or a clean example), "kind": [2N] noise kind ("" when clean), "snr_db": [2N]
        (NaN when clean), "added": [2N, n_samples] the scaled noise (zeros when clean)}``.
    """
    signals, cleans, ys = [], [], []
    info = {"clip": [], "noise": [], "kind": [], "snr_db": [], "added": []}
    dither = lambda: (DITHER_RMS * rng.standard_normal(cfg.n_samples)).astype(np.float32)  # noqa: E731
    for i, clip in enumerate(clips):
        seg = _segment(clip, cfg, rng)
        kind = kinds[i % len(kinds)]
        noise, which = _noise_for(kind, noises, cfg.n_samples, rng)
        level = rng.uniform(*snr)
        noisy, added = audio.mix_at_snr(seg, noise, level)
        signals += [seg + dither(), noisy + dither()]
        cleans += [seg, seg]
        ys += [0, 1 if labels == "binary" else 1 + kinds.index(kind)]
        info["clip"] += [i, i]
        info["noise"] += [-1, which]
        info["kind"] += ["", kind]
        info["snr_db"] += [float("nan"), float(level)]
        info["added"] += [np.zeros_like(added), added]
    out = (np.stack(signals), np.stack(cleans), np.asarray(ys, np.int64))
    if details:
        return (*out, {k: np.asarray(v) for k, v in info.items()})
    return out


def _spectrogram_images(signals: np.ndarray, cfg, batch: int = 256) -> np.ndarray:
    parts = [
        audio.log_mel(signals[i : i + batch], cfg).numpy() for i in range(0, len(signals), batch)
    ]
    return np.concatenate(parts)[..., None].astype(np.float32)


@dataclasses.dataclass
class _Setup:
    cfg: audio.SpectrogramConfig
    kinds: tuple
    test_kinds: tuple
    snr: tuple
    labels: str
    seed: int
    splits: dict
    noise_files: dict


def _setup(options: dict) -> _Setup:
    seed = int(options.get("seed") or 0)
    noise_dir = options.get("noise_dir")
    labels = options.get("labels", "binary")
    if labels not in ("binary", "type"):
        raise ValueError(f"labels must be 'binary' or 'type', got {labels!r}")
    kinds = _parse_kinds(options.get("noise"), noise_dir)
    test_kinds = (
        _parse_kinds(options["test_noise"], noise_dir) if options.get("test_noise") else kinds
    )
    if labels == "type" and set(test_kinds) - set(kinds):
        raise ValueError(
            f"test_noise {options.get('test_noise')!r} names kinds without a class under "
            f"labels=type (the training kinds are {kinds})"
        )
    snr = _parse_snr(options.get("snr_db", 5))
    cfg = audio.SpectrogramConfig(
        duration_s=float(options.get("duration_s", 1.0)), fmax=float(options.get("fmax", 7600.0))
    )
    splits = find_clips(
        options.get("data_dir"), test_fraction=float(options.get("test_fraction", 0.2)), seed=seed
    )
    noise_files = {"train": [], "test": []}
    if "recorded" in kinds + test_kinds:
        noise_files = split_noise(noise_dir, seed=seed)
    return _Setup(cfg, kinds, test_kinds, snr, labels, seed, splits, noise_files)


def _read_noises(setup: _Setup, split: str) -> tuple[list[np.ndarray], list[str]]:
    kinds = setup.kinds if split == "train" else setup.test_kinds
    if "recorded" not in kinds:
        return [], []
    noises, kept = _read_all(setup.noise_files[split], setup.cfg, f"noise {split}")
    if not noises:
        raise ValueError(f"no readable noise files in the {split} split of the noise directory")
    return noises, kept


def _read_speech(setup: _Setup, files, split: str, data_dir) -> tuple[list, list[str]]:
    clips, kept = _read_all(files, setup.cfg, f"speech {split}")
    if not clips:
        raise ValueError(f"no readable speech clips in the {split} split of {data_dir!r}")
    return clips, kept


def _test_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, TEST_STREAM])


def load_speech(options: dict) -> SpeechBundle:
    """Builds the clean-vs-noisy dataset (see the module docstring for the options).

    The test split holds speakers (:func:`clip_groups`) and noise kinds
    (:func:`noise_groups`) that training never saw; its clips are mixed by a generator of
    their own, so they do not depend on ``limit``.

    Raises:
        FileNotFoundError: the data or noise directory does not exist.
        ValueError: bad options, or no readable clips / noise files.
    """
    setup = _setup(options)
    seed, cfg, kinds = setup.seed, setup.cfg, setup.kinds
    batch = int(options.get("batch_size") or 32)
    rng = np.random.default_rng(seed)
    train_files = setup.splits["train"]
    limit = options.get("limit")
    if limit:
        train_files = list(rng.permutation(train_files)[: int(limit)])
    arrays = {}
    for s, files, r, k in (
        ("train", train_files, rng, kinds),
        ("test", setup.splits["test"], _test_rng(seed), setup.test_kinds),
    ):
        clips, _ = _read_speech(setup, files, s, options.get("data_dir"))
        noises, _ = _read_noises(setup, s)
        signals, clean, y = make_examples(
            clips, noises, cfg=cfg, kinds=k, snr=setup.snr, labels=setup.labels, rng=r
        )
        if setup.labels == "type":  # test kinds may be a subset: classes follow training's
            y = _type_labels(y, k, kinds)
        arrays[s] = (_spectrogram_images(signals, cfg), y, audio.speech_frames(clean, cfg))
    class_names = CLASS_NAMES if setup.labels == "binary" else ("clean",) + kinds
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
            "test_noise": list(setup.test_kinds),
            "snr_db": list(setup.snr),
            "labels": setup.labels,
            # what `load` needs to rebuild this test split (e.g. for `qgcam explain`)
            "options": {
                "data_dir": options.get("data_dir"),
                "noise_dir": options.get("noise_dir"),
                "noise": ",".join(kinds),
                "test_noise": ",".join(setup.test_kinds),
                "snr_db": str(options.get("snr_db", 5)),
                "labels": setup.labels,
                "duration_s": cfg.duration_s,
                "fmax": cfg.fmax,
                "test_fraction": float(options.get("test_fraction", 0.2)),
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


def _type_labels(y: np.ndarray, test_kinds, kinds) -> np.ndarray:
    """Labels made with the test kinds' indices, moved to the training kinds' classes."""
    lookup = np.asarray([0, *[1 + kinds.index(k) for k in test_kinds]])
    return lookup[y]


def _noise_dominant(clean: np.ndarray, added: np.ndarray, cfg) -> np.ndarray:
    """Cells where the noise's mel power exceeds the clean speech's (both above the floor)."""
    speech_img = _spectrogram_images(clean, cfg)[..., 0]
    noise_img = _spectrogram_images(added, cfg)[..., 0]
    return (noise_img > speech_img) & (noise_img > 0)


@dataclasses.dataclass
class HeldOutSet:
    """The test clips of a speech run mixed at one SNR (or an SNR range).

    Attributes:
        snr: the SNR label (``"5"``, ``"0:10"``).
        images: float32 ``[2N, n_mels, n_frames, 1]``, clean and noisy version of each clip.
        labels: int ``[2N]``.
        speech: bool ``[2N, n_frames]`` speech marks of the clean signal.
        clips: ``[2N]`` the speech file of each example.
        noises: ``[2N]`` the noise of each example (a file, a colour, or "" when clean).
        snr_db: float ``[2N]`` the SNR drawn (NaN when clean).
        noise_dominant: bool ``[2N, n_mels, n_frames]``, the spectrogram cells where the added
            noise has more mel power than the clean speech (all False for a clean example):
            where the noise can be seen.
    """

    snr: str
    images: np.ndarray
    labels: np.ndarray
    speech: np.ndarray
    clips: list
    noises: list
    snr_db: np.ndarray
    noise_dominant: np.ndarray


def heldout_sets(options: dict, snrs: Sequence) -> dict[str, HeldOutSet]:
    """The test split of :func:`load_speech` (held-out speakers and noise kinds), mixed at each
    SNR of ``snrs``.

    Every SNR uses the same clip segments and noise segments (the same generator), so only the
    noise level changes from one set to the next; an SNR equal to the options' ``snr_db``
    gives exactly :func:`load_speech`'s test split.

    Args:
        options: the loader options (a run's saved options plus ``seed``).
        snrs: SNRs, each a number or ``LOW:HIGH``.

    Returns:
        ``{str(snr): HeldOutSet}`` in the order given.

    Raises:
        ValueError: no SNRs, a bad SNR, or what :func:`load_speech` raises.
    """
    if not snrs:
        raise ValueError("snrs must name at least one SNR, got none")
    levels = {str(v): _parse_snr(v) for v in snrs}
    setup = _setup(options)
    clips, kept = _read_speech(setup, setup.splits["test"], "test", options.get("data_dir"))
    noises, noise_names = _read_noises(setup, "test")
    root = options.get("noise_dir") or ""
    out = {}
    for name, level in levels.items():
        signals, clean, y, info = make_examples(
            clips,
            noises,
            cfg=setup.cfg,
            kinds=setup.test_kinds,
            snr=level,
            labels=setup.labels,
            rng=_test_rng(setup.seed),
            details=True,
        )
        if setup.labels == "type":
            y = _type_labels(y, setup.test_kinds, setup.kinds)
        noise = [
            ""
            if not kind
            else (os.path.relpath(noise_names[i], root) if kind == "recorded" else kind)
            for kind, i in zip(info["kind"], info["noise"])
        ]
        out[name] = HeldOutSet(
            snr=name,
            images=_spectrogram_images(signals, setup.cfg),
            labels=y,
            speech=audio.speech_frames(clean, setup.cfg),
            clips=[kept[i] for i in info["clip"]],
            noises=noise,
            snr_db=info["snr_db"],
            noise_dominant=_noise_dominant(clean, info["added"], setup.cfg),
        )
    return out


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
