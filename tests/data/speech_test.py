"""Tests of qgcam_tf.data.speech: TIMIT/WAV readers, clean/noisy examples, speech marks."""

from __future__ import annotations

import json
import logging
import os
import sys

import numpy as np
import pytest
import soundfile

from qgcam_tf.data import audio, speech
from qgcam_tf.testing.data import shared_data

SR = 16000


def _write_clips(folder, n: int, *, sr: int = SR, ext: str = ".wav", fmt: str = "WAV") -> list[str]:
    """``n`` 1 s clips: 0.3 s silence, a 0.4 s tone burst (a stand-in for a word), silence."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(n):
        t = np.arange(sr) / sr
        x = np.zeros(sr, np.float32)
        burst = (t >= 0.3) & (t < 0.7)
        x[burst] = 0.4 * np.sin(2 * np.pi * (200 + 40 * i) * t[burst])
        path = os.path.join(str(folder), f"clip{i:02d}{ext}")
        soundfile.write(path, x, sr, format=fmt, subtype="PCM_16")
        paths.append(path)
    return paths


def test_find_clips_reads_shared_timit_layout():
    """The TIMIT-format fixture gives TRAIN (8) and TEST (4) splits of upper-case SPHERE files."""
    root = shared_data("speech-mini", "timit-format")
    splits = speech.find_clips(root)
    assert len(splits["train"]) == 8 and len(splits["test"]) == 4
    assert all(os.sep + "TEST" + os.sep in p for p in splits["test"])
    assert all(p.endswith(".WAV") for p in splits["train"] + splits["test"])
    notes = speech.read_timit_annotations(splits["test"][0])
    with open(splits["test"][0][:-4] + ".TXT") as f:
        assert notes["text"] == f.read().split(maxsplit=2)[2].strip()
    assert notes["words"] == [] and notes["phones"] == []


def test_timit_word_and_phone_files(tmp_path):
    """.WRD and .PHN files are parsed into (start, end, label) sample spans."""
    wav = _write_clips(tmp_path, 1, ext=".WAV", fmt="NIST")[0]
    stem = wav[:-4]
    with open(stem + ".TXT", "w") as f:
        f.write("0 16000 She had your dark suit.\n")
    with open(stem + ".WRD", "w") as f:
        f.write("4800 8000 she\n8000 11200 had\n")
    with open(stem + ".PHN", "w") as f:
        f.write("0 4800 h#\n4800 6000 sh\n")
    notes = speech.read_timit_annotations(wav)
    assert notes == {
        "text": "She had your dark suit.",
        "words": [(4800, 8000, "she"), (8000, 11200, "had")],
        "phones": [(0, 4800, "h#"), (4800, 6000, "sh")],
    }


def test_find_clips_wav_folder_skips_embedded_timit(tmp_path):
    """A WAV folder is split deterministically; a TIMIT subtree inside it is skipped."""
    _write_clips(tmp_path / "wav", 20)
    _write_clips(tmp_path / "timit" / "TRAIN" / "DR1" / "FABC0", 2, ext=".WAV", fmt="NIST")
    a = speech.find_clips(str(tmp_path), test_fraction=0.3, seed=1)
    b = speech.find_clips(str(tmp_path), test_fraction=0.3, seed=1)
    assert a == b
    files = a["train"] + a["test"]
    assert len(files) == 20 and not any("timit" in p for p in files)
    assert 0 < len(a["test"]) < 20 and not set(a["train"]) & set(a["test"])


@pytest.mark.parametrize(
    "options,error,match",
    [
        ({"data_dir": "/nonexistent/speech"}, FileNotFoundError, "does not exist"),
        ({"snr_db": "loud"}, ValueError, "snr_db must be a number"),
        ({"snr_db": "10:0"}, ValueError, "LOW <= HIGH"),
        ({"noise": "recorded"}, ValueError, "needs noise_dir"),
        ({"noise": "blue"}, ValueError, "noise must be a comma list"),
        ({"labels": "many"}, ValueError, "labels must be"),
        ({"noise_dir": "/nonexistent/noise"}, FileNotFoundError, "noise directory"),
    ],
)
def test_load_speech_option_errors(tmp_path, options, error, match):
    """Bad options or directories give one clear error naming them."""
    _write_clips(tmp_path, 4)
    with pytest.raises(error, match=match):
        speech.load_speech({"data_dir": str(tmp_path), **options})


def test_load_speech_empty_folder(tmp_path):
    """A folder without audio files is rejected with the expected layouts in the message."""
    with pytest.raises(ValueError, match="needs a data directory"):
        speech.find_clips(None)
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(ValueError, match="holds no audio files"):
        speech.find_clips(str(tmp_path))


def test_load_speech_skips_broken_files_and_labels_pairs(tmp_path, caplog):
    """Broken files are skipped with a warning; each clip gives a clean and a noisy example whose
    non-speech frames are louder by the added noise."""
    _write_clips(tmp_path, 12, sr=8000)  # resampled to 16 kHz on reading
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_bytes(b"not audio " * 50)
    good = (tmp_path / "clip00.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(good[:30])
    (tmp_path / "short.wav").write_bytes(good[: len(good) // 2])
    with caplog.at_level(logging.WARNING, logger="qgcam_tf.data.speech"):
        bundle = speech.load_speech(
            {
                "data_dir": str(tmp_path),
                "noise": "white,pink",
                "snr_db": "0",
                "test_fraction": 0.3,
                "seed": 2,
            }
        )
    assert sum(r.getMessage().startswith("skipping") for r in caplog.records) == 4
    assert "is truncated" in caplog.text
    x, y = bundle.test_arrays
    assert bundle.class_names == ("clean", "noisy") and bundle.input_shape == (64, 64, 1)
    assert bundle.n_train + bundle.n_test == 24
    np.testing.assert_array_equal(y, np.tile([0, 1], len(y) // 2))
    marks = bundle.test_speech_frames
    # the burst spans 0.3-0.7 s: about 40 % of the 64 frames are speech
    assert np.all(np.abs(marks.mean(axis=1) - 0.4) < 0.1)
    background = np.array([x[i, :, ~marks[i], 0].mean() for i in range(len(x))])
    assert np.all(background[1::2] > background[0::2] + 0.2)  # noise at 0 dB fills the silences
    assert np.all((x >= 0) & (x <= 1))


def test_type_labels_one_class_per_noise_kind(tmp_path):
    """labels=type gives classes clean + each noise kind, assigned round robin."""
    _write_clips(tmp_path, 6)
    bundle = speech.load_speech(
        {
            "data_dir": str(tmp_path),
            "noise": "white,brown",
            "labels": "type",
            "test_fraction": 0.5,
            "seed": 0,
        }
    )
    assert bundle.class_names == ("clean", "white", "brown")
    _, y = bundle.test_arrays
    assert set(y[0::2]) == {0} and set(y[1::2]) <= {1, 2}


def test_recorded_noise_on_shared_data():
    """Real speech with real noise: clean and noisy test pairs from the shared samples."""
    root = shared_data("speech-mini")
    noise = shared_data("noise-mini")
    bundle = speech.load_speech({"data_dir": root, "noise_dir": noise, "limit": 8, "seed": 0})
    assert bundle.n_train == 16
    x, y = bundle.test_arrays
    assert len(x) == bundle.n_test and len(x) % 2 == 0 and bundle.metadata["noise"] == ["recorded"]
    assert np.all(y[0::2] == 0) and np.all(y[1::2] == 1)


def test_load_files_match_training_inputs(tmp_path):
    """load_files turns a clean WAV into the same image as the training pipeline (no dither)."""
    paths = _write_clips(tmp_path, 1)
    meta = {"spectrogram": audio.SpectrogramConfig().to_dict()}
    images, marks = speech.load_clip_files(paths, meta)
    x, _ = audio.read_audio(paths[0])  # 1 s at 16 kHz: exactly one clip, no cut
    seg = x * (speech.TARGET_RMS / np.sqrt(np.mean(x[x != 0] ** 2)))  # level of the non-zeros
    np.testing.assert_allclose(images[0, ..., 0], audio.log_mel(seg[None]).numpy()[0], atol=1e-6)
    np.testing.assert_array_equal(marks[0], audio.speech_frames(seg[None])[0])
    with pytest.raises(ValueError, match="no audio files"):
        speech.load_clip_files([], meta)


@pytest.mark.slow
def test_train_command_writes_background_attention(tmp_path):
    """`qgcam train --dataset speech` with noise-dir/snr-db options writes background_attention."""
    from qgcam_tf.cli.main import main

    _write_clips(tmp_path / "speech", 10)
    noise_dir = tmp_path / "noise"
    noise_dir.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        soundfile.write(str(noise_dir / f"n{i}.wav"), 0.1 * rng.standard_normal(SR), SR)
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--dataset",
            "speech",
            "--data-dir",
            str(tmp_path / "speech"),
            "--option",
            f"noise-dir={noise_dir}",
            "--option",
            "snr-db=0:5",
            "--out",
            str(out),
            "--epochs",
            "1",
            "--qubits",
            "2",
            "--depth",
            "1",
            "--backend",
            "tf",
        ]
    )
    assert code == 0
    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert set(metrics["background_attention_n"]) == {"noisy", "clean"}
    with open(out / "model.json") as f:
        meta = json.load(f)["metadata"]
    assert meta["snr_db"] == [0.0, 5.0] and meta["noise"] == ["recorded"]


def test_marks_from_images_match_marks_from_signal(tmp_path):
    """Speech marks recovered from a clean log-mel image equal the marks of its signal."""
    paths = _write_clips(tmp_path, 3)
    images, marks = speech.load_clip_files(paths, {})
    np.testing.assert_array_equal(speech.speech_frames_from_images(images), marks)


def test_load_speech_on_shared_timit_layout():
    """The TIMIT-format fixture loads end to end: TRAIN 8 and TEST 4 clips, two examples each."""
    root = shared_data("speech-mini", "timit-format")
    bundle = speech.load_speech({"data_dir": root, "noise": "white", "snr_db": "0:10", "seed": 0})
    assert (bundle.n_train, bundle.n_test) == (16, 8)
    assert bundle.metadata["options"]["data_dir"] == root and bundle.metadata["snr_db"] == [
        0.0,
        10.0,
    ]


def test_a_run_rebuilds_its_trained_test_split(tmp_path):
    """A run's saved metadata (options + training seed) rebuilds exactly its noisy test split,
    also when it trained on a --limit subset (the test clips are mixed by a generator of their
    own, so the training set does not change them)."""
    from qgcam_tf.model.run import Run

    _write_clips(tmp_path, 12)
    options = {
        "data_dir": str(tmp_path),
        "noise": "white,pink",
        "test_fraction": 0.3,
        "seed": 5,
        "limit": 4,
    }
    trained = speech.load_speech(options)
    metadata = {**trained.metadata, "seed": 5}  # what training saves beside the options
    again = Run(str(tmp_path), metadata).bundle()
    np.testing.assert_array_equal(again.test_arrays[0], trained.test_arrays[0])
    np.testing.assert_array_equal(again.test_arrays[1], trained.test_arrays[1])
    other = speech.load_speech({**options, "limit": None})  # a different training set ...
    np.testing.assert_array_equal(other.test_arrays[0], trained.test_arrays[0])  # same test clips
    assert other.n_train > trained.n_train


def _write_manifest(folder, rows, columns) -> None:
    """``manifest.csv`` with ``columns``: one row per dict of ``rows``."""
    import csv

    with open(os.path.join(str(folder), "manifest.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _speaker_folder(tmp_path, speakers=("ann", "bob", "cy", "dee", "eve", "fay")):
    """Three clips per speaker in wav/, listed in a manifest with their speaker."""
    paths = _write_clips(tmp_path / "wav", 3 * len(speakers))
    rows = [
        {"path": os.path.relpath(p, str(tmp_path)), "speaker_or_voice": speakers[i // 3]}
        for i, p in enumerate(paths)
    ]
    _write_manifest(tmp_path, rows, ["path", "speaker_or_voice"])
    return {os.path.normpath(p): speakers[i // 3] for i, p in enumerate(paths)}


def _noise_folder(folder):
    """Noise files of four kinds; keyboard_click and keyboard_typing_sequence are one kind."""
    os.makedirs(str(folder), exist_ok=True)
    rng = np.random.default_rng(0)
    categories = ["keyboard_click"] * 4 + ["keyboard_typing_sequence"] * 2
    categories += ["animal"] * 3 + ["music"] * 2 + ["household"] * 3
    rows = []
    for i, cat in enumerate(categories):
        path = os.path.join(str(folder), f"n{i:02d}.wav")
        soundfile.write(path, 0.1 * rng.standard_normal(SR // 2), SR)
        rows.append({"path": f"n{i:02d}.wav", "category": cat})
    _write_manifest(folder, rows, ["path", "category"])
    return {os.path.join(str(folder), r["path"]): r["category"].split("_")[0] for r in rows}


def test_split_by_group_holds_out_whole_groups():
    """split_by_group never splits a group, keeps the test share within the fraction,
    is deterministic per seed, and a group larger than the share stays in training."""
    rng = np.random.default_rng(0)
    groups = [f"g{k}" for k in rng.integers(0, 12, size=200)] + ["big"] * 150
    files = [f"f{i}" for i in range(len(groups))]
    of = dict(zip(files, groups))
    seen_test = set()
    for seed in range(8):
        a = speech.split_by_group(files, groups, 0.2, seed)
        assert a == speech.split_by_group(files, groups, 0.2, seed)
        assert sorted(a["train"] + a["test"]) == sorted(files)
        test_groups = {of[f] for f in a["test"]}
        assert not test_groups & {of[f] for f in a["train"]}
        assert 0 < len(a["test"]) <= 0.2 * len(files) and "big" not in test_groups
        seen_test |= test_groups
    assert len(seen_test) > 3  # seeds hold out different groups
    with pytest.raises(ValueError, match="one group"):
        speech.split_by_group(["a", "b"], ["g", "g"], 0.5, 0)
    with pytest.raises(ValueError, match="fraction must be in"):
        speech.split_by_group(["a", "b"], ["g", "h"], 1.0, 0)
    with pytest.raises(ValueError, match="differ in length"):
        speech.split_by_group(["a", "b"], ["g"], 0.5, 0)


def test_find_clips_keeps_speakers_apart(tmp_path):
    """With a manifest speaker column, no speaker has clips in both splits; in a TIMIT copy
    with one split, speaker folders are held out whole."""
    speaker_of = _speaker_folder(tmp_path)
    for seed in range(5):
        splits = speech.find_clips(str(tmp_path), test_fraction=0.35, seed=seed)
        train = {speaker_of[os.path.normpath(p)] for p in splits["train"]}
        test = {speaker_of[os.path.normpath(p)] for p in splits["test"]}
        assert test and train and not train & test
    timit = tmp_path / "timit"
    for spk in ("FAAA0", "MBBB0", "FCCC0", "MDDD0"):
        _write_clips(timit / "TRAIN" / "DR1" / spk, 3, ext=".WAV", fmt="NIST")
    splits = speech.find_clips(str(timit), test_fraction=0.3, seed=0)
    spk = lambda p: os.path.basename(os.path.dirname(p))  # noqa: E731
    assert splits["test"] and not {spk(p) for p in splits["train"]} & {
        spk(p) for p in splits["test"]
    }


def test_split_noise_holds_out_whole_kinds(tmp_path):
    """Noise files split by kind: clicks and typing sequences (made from the clicks) stay
    together, and no kind is in both splits."""
    kind_of = _noise_folder(tmp_path / "noise")
    for seed in range(6):
        s = speech.split_noise(str(tmp_path / "noise"), fraction=0.4, seed=seed)
        train, test = ({kind_of[p] for p in s[k]} for k in ("train", "test"))
        assert test and train and not train & test
        assert len(s["train"]) + len(s["test"]) == len(kind_of)
    with pytest.raises(FileNotFoundError, match="noise directory"):
        speech.split_noise(str(tmp_path / "absent"))


def test_test_clips_use_only_held_out_speakers_and_noise(tmp_path):
    """load_speech's test split and heldout_sets use held-out speakers and noise kinds only;
    the set at the training SNR is the bundle's test split, other SNRs change only the level."""
    speaker_of = _speaker_folder(tmp_path / "speech")
    kind_of = _noise_folder(tmp_path / "noise")
    options = {
        "data_dir": str(tmp_path / "speech"),
        "noise_dir": str(tmp_path / "noise"),
        "snr_db": "5",
        "test_fraction": 0.35,
        "seed": 3,
    }
    bundle = speech.load_speech(options)
    splits = speech.find_clips(options["data_dir"], test_fraction=0.35, seed=3)
    noise = speech.split_noise(options["noise_dir"], seed=3)
    sets = speech.heldout_sets(options, ["0", "5", "10"])
    np.testing.assert_array_equal(sets["5"].images, bundle.test_arrays[0])
    np.testing.assert_array_equal(sets["5"].labels, bundle.test_arrays[1])
    np.testing.assert_array_equal(sets["5"].speech, bundle.test_speech_frames)
    train_speakers = {speaker_of[os.path.normpath(p)] for p in splits["train"]}
    train_kinds = {kind_of[p] for p in noise["train"]}
    for snr, held in sets.items():
        assert not {speaker_of[os.path.normpath(p)] for p in held.clips} & train_speakers
        used = [n for n in held.noises if n]
        assert used and not {kind_of[os.path.join(options["noise_dir"], n)] for n in used} & (
            train_kinds
        )
        np.testing.assert_allclose(held.snr_db[1::2], float(snr))
        assert np.all(np.isnan(held.snr_db[0::2]))
        # clean examples do not depend on the SNR; the noisy ones differ
        np.testing.assert_array_equal(held.images[0::2], sets["5"].images[0::2])
        assert held.clips == sets["5"].clips and held.noises == sets["5"].noises
    assert not np.array_equal(sets["0"].images[1::2], sets["10"].images[1::2])
    # noise-dominated cells: none in a clean example, and more at 0 dB than at 10 dB
    assert not sets["5"].noise_dominant[0::2].any()
    assert sets["0"].noise_dominant.sum() > sets["10"].noise_dominant.sum() > 0
    # more noise fills the silences more: mean pixel of the noisy images falls with the SNR
    means = [sets[s].images[1::2].mean() for s in ("0", "5", "10")]
    assert means[0] > means[1] > means[2]
    with pytest.raises(ValueError, match="snrs must name"):
        speech.heldout_sets(options, [])


def test_make_examples_mix_at_the_drawn_snr():
    """make_examples' details give the noise recording and SNR of every noisy example, and
    the noisy signal minus the clean one has exactly that SNR (NumPy)."""
    rng = np.random.default_rng(0)
    cfg = audio.SpectrogramConfig()
    clips = [0.1 * np.sin(np.arange(SR) / 7.0).astype(np.float32) for _ in range(3)]
    noises = [rng.standard_normal(SR // 3).astype(np.float32) for _ in range(2)]
    signals, clean, y, info = speech.make_examples(
        clips,
        noises,
        cfg=cfg,
        kinds=("recorded",),
        snr=(2.0, 8.0),
        labels="binary",
        rng=np.random.default_rng(1),
        details=True,
    )
    np.testing.assert_array_equal(y, [0, 1] * 3)
    np.testing.assert_array_equal(info["clip"], [0, 0, 1, 1, 2, 2])
    assert set(info["noise"][1::2]) <= {0, 1} and np.all(info["noise"][0::2] == -1)
    for i in range(1, 6, 2):
        added = signals[i].astype(np.float64) - clean[i]
        dither = signals[i - 1].astype(np.float64) - clean[i - 1]  # about 1e-4 RMS
        assert np.sqrt(np.mean(dither**2)) < 2e-4
        got = 10 * np.log10(np.mean(clean[i].astype(np.float64) ** 2) / np.mean(added**2))
        assert 2.0 <= info["snr_db"][i] <= 8.0
        np.testing.assert_allclose(got, info["snr_db"][i], atol=0.05)


def test_fresh_colour_for_the_test_clips(tmp_path):
    """test_noise gives the test clips a noise colour training never heard."""
    _write_clips(tmp_path, 8)
    options = {"data_dir": str(tmp_path), "noise": "white", "test_noise": "pink", "seed": 1}
    bundle = speech.load_speech(options)
    assert bundle.metadata["noise"] == ["white"] and bundle.metadata["test_noise"] == ["pink"]
    held = speech.heldout_sets(options, ["5"])["5"]
    assert set(held.noises) == {"", "pink"}
    np.testing.assert_array_equal(held.images, bundle.test_arrays[0])
    with pytest.raises(ValueError, match="without a class"):
        speech.load_speech({**options, "labels": "type"})


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
