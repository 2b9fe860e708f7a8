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
    also when it trained on a --limit subset (the test noise draws follow the training ones)."""
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
    assert not np.array_equal(other.test_arrays[0], trained.test_arrays[0])  # ... other test noise


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
