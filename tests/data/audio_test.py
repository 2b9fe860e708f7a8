"""Tests of qgcam_tf.data.audio against NumPy references and synthetic signals."""

from __future__ import annotations

import csv
import os
import sys

import numpy as np
import pytest
import soundfile
import tensorflow as tf

from qgcam_tf.data import audio
from qgcam_tf.testing.data import shared_data

SR = 16000


def _tone(seconds: float, freq: float = 440.0, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_read_wav_and_sphere_roundtrip(tmp_path):
    """16-bit WAV and NIST SPHERE files read back to the written samples within 1 LSB."""
    x = _tone(0.5)
    for name, fmt in (("a.wav", "WAV"), ("A.WAV", "NIST")):
        path = str(tmp_path / name)
        soundfile.write(path, x, SR, format=fmt, subtype="PCM_16")
        y, sr = audio.read_audio(path)
        assert sr == SR
        np.testing.assert_allclose(y, x, atol=1.0 / 32768 + 1e-7)


def test_read_stereo_is_averaged(tmp_path):
    """Stereo files become the mean of their channels."""
    left, right = _tone(0.1, 300.0), _tone(0.1, 500.0, 0.2)
    path = str(tmp_path / "st.wav")
    soundfile.write(path, np.stack([left, right], 1), SR, subtype="FLOAT")
    y, _ = audio.read_audio(path)
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-6)


def test_read_shared_timit_sphere_matches_its_wav_source():
    """A TIMIT-format SPHERE fixture holds the samples of its source WAV (found by transcript)."""
    root = shared_data("speech-mini")
    sph = os.path.join(root, "timit-format", "TRAIN", "DR1", "FALS0", "SA1.WAV")
    with open(sph, "rb") as f:
        assert f.read(7) == b"NIST_1A"
    with open(sph[:-4] + ".TXT") as f:
        start, end, text = f.read().split(maxsplit=2)
    y, sr = audio.read_audio(sph)
    assert sr == SR and len(y) == int(end) - int(start)
    with open(os.path.join(root, "manifest.csv"), encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["transcript"].strip() == text.strip()]
    if len(rows) != 1:
        pytest.skip("source clip not identifiable by its transcript")
    ref, _ = audio.read_audio(os.path.join(root, rows[0]["path"]))
    np.testing.assert_array_equal(y, ref)


def test_read_errors(tmp_path):
    """Missing, empty, header-truncated and non-audio files give one clear error each."""
    with pytest.raises(FileNotFoundError, match="does not exist"):
        audio.read_audio(str(tmp_path / "nope.wav"))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="is empty"):
        audio.read_audio(str(empty))
    good = tmp_path / "good.wav"
    soundfile.write(str(good), _tone(0.2), SR, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[:30])
    with pytest.raises(ValueError, match="not readable audio"):
        audio.read_audio(str(cut))
    text = tmp_path / "text.wav"
    text.write_bytes(b"this is not audio at all " * 20)
    with pytest.raises(ValueError, match="not readable audio"):
        audio.read_audio(str(text))


def test_undecodable_files_name_the_file_and_the_formats(tmp_path):
    """Random bytes under .wav/.sph and a PNG give one ValueError naming the file and the
    formats expected (TensorFlow's WAV decoder raised a bare UnicodeDecodeError on them)."""
    garbage = np.random.default_rng(0).integers(0, 256, 512, dtype=np.uint8).tobytes()
    files = {
        "garbage.wav": garbage,
        "garbage.sph": garbage,
        "picture.png": b"\x89PNG\r\n\x1a\n" + garbage[:64],
        "riff.wav": b"RIFF" + (500).to_bytes(4, "little") + b"WAVE" + garbage[:64],
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        message = rf"audio file '.*{name}' is not readable audio: expected WAV, NIST SPHERE"
        with pytest.raises(ValueError, match=message):
            audio.read_audio(str(tmp_path / name))


def test_truncated_wav_and_sphere_are_errors(tmp_path):
    """A WAV or SPHERE file cut inside its sample data (header promises more) is an error."""
    for name, fmt in (("a.wav", "WAV"), ("B.WAV", "NIST")):
        good = tmp_path / name
        soundfile.write(str(good), _tone(0.5), SR, format=fmt, subtype="PCM_16")
        cut = tmp_path / ("cut_" + name)
        data = good.read_bytes()
        cut.write_bytes(data[: len(data) - 1000])
        with pytest.raises(ValueError, match="is truncated: its header declares"):
            audio.read_audio(str(cut))
        assert len(audio.read_audio(str(good))[0]) == SR // 2


def test_resample_8k_tone_to_16k():
    """A 440 Hz tone at 8 kHz resampled to 16 kHz equals the tone sampled at 16 kHz."""
    y = audio.resample(_tone(0.5, sr=8000), 8000, SR)
    ref = _tone(0.5)
    assert len(y) == len(ref)
    np.testing.assert_allclose(y[400:-400], ref[400:-400], atol=5e-3)  # edges: filter start-up


def test_fit_length_crops_and_pads():
    """fit_length cuts at the offset and zero-pads the end."""
    x = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(audio.fit_length(x, 4, offset=3), [3, 4, 5, 6])
    np.testing.assert_array_equal(audio.fit_length(x, 12, offset=8), [8, 9] + [0] * 10)


@pytest.mark.parametrize("colour,slope", [("white", 0.0), ("pink", -1.0), ("brown", -2.0)])
def test_coloured_noise_spectral_slope(colour, slope):
    """White/pink/brown noise has unit RMS and a log-log power slope of 0/-1/-2."""
    n = 1 << 16
    x = audio.coloured_noise(colour, n, np.random.default_rng(0))
    assert abs(np.sqrt(np.mean(x.astype(np.float64) ** 2)) - 1.0) < 1e-4
    power = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(n)
    band = (f > 1e-3) & (f < 0.4)
    fitted = np.polyfit(np.log10(f[band]), np.log10(power[band]), 1)[0]
    assert abs(fitted - slope) < 0.1


def test_coloured_noise_rejects_unknown_colour():
    """An unknown colour is named in the error."""
    with pytest.raises(ValueError, match="'blue'"):
        audio.coloured_noise("blue", 100, np.random.default_rng(0))


@pytest.mark.parametrize("snr", [-5.0, 0.0, 5.0, 20.0])
def test_mix_at_snr_measured_equals_requested(snr):
    """The mixture's measured SNR equals the requested one within 0.1 dB (short noise is tiled)."""
    rng = np.random.default_rng(1)
    speech = _tone(1.0) * np.hanning(SR).astype(np.float32)
    noise = rng.standard_normal(3000).astype(np.float32) * 3.0
    mixture, scaled = audio.mix_at_snr(speech, noise, snr)
    assert mixture.shape == speech.shape
    np.testing.assert_allclose(mixture - speech, scaled, atol=1e-6)
    measured = 10 * np.log10(
        np.mean(speech.astype(np.float64) ** 2) / np.mean(scaled.astype(np.float64) ** 2)
    )
    assert abs(measured - snr) < 0.1
    assert abs(audio.snr_db(speech, scaled) - snr) < 0.1


def test_mix_at_snr_rejects_silence():
    """Silent speech or silent noise has no SNR."""
    with pytest.raises(ValueError, match="noise is silent"):
        audio.mix_at_snr(_tone(0.1), np.zeros(10), 5.0)
    with pytest.raises(ValueError, match="speech is silent"):
        audio.mix_at_snr(np.zeros(100), np.ones(10), 5.0)


def _reference_log_mel(x: np.ndarray, cfg: audio.SpectrogramConfig) -> np.ndarray:
    """NumPy framing, periodic Hann window, |rfft|^2, mel matrix, dB, [0, 1] scaling."""
    step, length = cfg.frame_step, cfg.frame_length
    padded = np.concatenate([x, np.zeros(length + step * cfg.n_frames)]).astype(np.float64)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)
    frames = np.stack([padded[t * step : t * step + length] * window for t in range(cfg.n_frames)])
    power = np.abs(np.fft.rfft(frames, n=cfg.fft_length)) ** 2 / (length / 2.0) ** 2
    mel = tf.signal.linear_to_mel_weight_matrix(
        cfg.n_mels, cfg.fft_length // 2 + 1, cfg.sample_rate, cfg.fmin, cfg.fmax
    ).numpy()
    db = 10 * np.log10(power @ mel + 1e-10)
    return np.clip((db + 100.0) / 100.0, 0.0, 1.0).T


def test_log_mel_equals_numpy_reference():
    """tf.signal log-mel equals a NumPy STFT + mel reference within 2e-3 (float32)."""
    cfg = audio.SpectrogramConfig()
    rng = np.random.default_rng(2)
    x = (_tone(1.0, 700.0, 0.3) + 0.01 * rng.standard_normal(SR)).astype(np.float32)
    x[:4000] = 0.0
    got = audio.log_mel(x[None], cfg).numpy()[0]
    assert got.shape == (cfg.n_mels, cfg.n_frames)
    np.testing.assert_allclose(got, _reference_log_mel(x, cfg), atol=2e-3)
    # a 700 Hz tone: the loudest band is the one whose centre is nearest 700 Hz
    mel_hz = tf.signal.linear_to_mel_weight_matrix(
        cfg.n_mels, cfg.fft_length // 2 + 1, SR, cfg.fmin, cfg.fmax
    )
    peak_band = int(np.argmax(mel_hz.numpy()[int(700 / (SR / cfg.fft_length))]))
    assert abs(int(np.argmax(got[:, 40])) - peak_band) <= 1


def test_full_scale_sine_power_follows_parseval():
    """A full-scale sine's summed frame power matches Parseval's closed form (absolute dB scale)."""
    cfg = audio.SpectrogramConfig()
    power = audio.power_frames(tf.constant(_tone(1.0, 1000.0, 1.0)), cfg).numpy()
    total_db = 10 * np.log10(power[5:-5].sum(axis=-1))
    length = cfg.frame_length
    # one-sided Parseval: sum_k |X_k|^2 = N_fft/2 * sum_n (x w)^2 = N_fft/2 * L * A^2/2 * mean(w^2)
    expected = 0.5 * cfg.fft_length * length * 0.5 * 0.375 / (length / 2.0) ** 2
    np.testing.assert_allclose(total_db, 10 * np.log10(expected), atol=0.05)


def test_speech_frames_marks_known_silences():
    """Frames inside a tone are speech, frames inside the silences around it are not."""
    cfg = audio.SpectrogramConfig()
    rng = np.random.default_rng(3)
    x = 1e-5 * rng.standard_normal(SR).astype(np.float32)
    x[4800:11200] += _tone(0.4, 300.0, 0.3)  # 0.3 s .. 0.7 s
    marks = audio.speech_frames(x[None], cfg)[0]
    step, length = cfg.frame_step, cfg.frame_length
    starts = np.arange(cfg.n_frames) * step
    inside = (starts >= 4800) & (starts + length <= 11200)
    outside = (starts + length <= 4800) | (starts >= 11200)
    assert marks[inside].all() and not marks[outside].any()
    assert audio.speech_frames(np.zeros((1, SR), np.float32), cfg).sum() == 0


def test_spectrogram_config_errors():
    """Bad spectrogram settings are named in the error."""
    with pytest.raises(ValueError, match="n_mels"):
        audio.SpectrogramConfig(n_mels=0)
    with pytest.raises(ValueError, match="fmax"):
        audio.SpectrogramConfig(fmax=9000.0)
    cfg = audio.SpectrogramConfig(duration_s=0.5, n_frames=32)
    assert audio.SpectrogramConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
