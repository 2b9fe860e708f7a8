"""Audio for the speech-in-noise experiment: reading, resampling, noise mixing, log-mel.

* :func:`read_audio` reads WAV, NIST SPHERE (TIMIT's ``.WAV``), FLAC and OGG through
  ``soundfile`` and falls back to ``tf.audio.decode_wav``; every failure is one
  ``ValueError`` naming the file.
* :func:`mix_at_snr` scales a noise so that ``10 log10(P_speech / P_noise)`` is exactly the
  requested SNR (powers are means of squares over the whole segment).
* :func:`log_mel` is pure TensorFlow (``tf.signal``): frames, Hann window, ``|rfft|^2``,
  mel filterbank, dB, then a fixed mapping of ``[-100, 0]`` dB to ``[0, 1]``. The dB scale
  is absolute (not relative to each clip's peak) so a noise floor stays visible.
* :func:`speech_frames` marks the frames of a clean signal whose energy is within
  ``threshold_db`` of its loudest frame (and above an absolute floor).
"""

from __future__ import annotations

import math
import os

import numpy as np
import tensorflow as tf

__all__ = [
    "SAMPLE_RATE",
    "SpectrogramConfig",
    "read_audio",
    "resample",
    "fit_length",
    "coloured_noise",
    "mix_at_snr",
    "snr_db",
    "power_frames",
    "log_mel",
    "speech_frames",
]

SAMPLE_RATE = 16000
NOISE_COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
DB_FLOOR = -100.0
EPSILON = 1e-10


class SpectrogramConfig:
    """Framing and mel settings shared by training, prediction and the speech marks.

    Defaults give a ``[64 mel bins, 64 frames]`` image for a 1 s clip at 16 kHz
    (25 ms Hann frames every 15.6 ms, FFT 512, 60-7600 Hz).
    """

    def __init__(
        self,
        *,
        sample_rate: int = SAMPLE_RATE,
        duration_s: float = 1.0,
        n_mels: int = 64,
        n_frames: int = 64,
        frame_length: int = 400,
        fft_length: int = 512,
        fmin: float = 60.0,
        fmax: float = 7600.0,
    ):
        for name, value in (
            ("sample_rate", sample_rate),
            ("n_mels", n_mels),
            ("n_frames", n_frames),
            ("frame_length", frame_length),
            ("fft_length", fft_length),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not duration_s > 0:
            raise ValueError(f"duration_s must be > 0, got {duration_s!r}")
        if fft_length < frame_length:
            raise ValueError(f"fft_length ({fft_length}) must be >= frame_length ({frame_length})")
        if not 0 <= fmin < fmax <= sample_rate / 2:
            raise ValueError(
                f"need 0 <= fmin < fmax <= sample_rate/2, got fmin={fmin}, fmax={fmax}"
            )
        self.sample_rate, self.duration_s = int(sample_rate), float(duration_s)
        self.n_mels, self.n_frames = int(n_mels), int(n_frames)
        self.frame_length, self.fft_length = int(frame_length), int(fft_length)
        self.fmin, self.fmax = float(fmin), float(fmax)

    @property
    def n_samples(self) -> int:
        return int(round(self.duration_s * self.sample_rate))

    @property
    def frame_step(self) -> int:
        # pad_end framing: n_frames = ceil(n_samples / frame_step)
        return int(math.ceil(self.n_samples / self.n_frames))

    def to_dict(self) -> dict:
        return dict(
            sample_rate=self.sample_rate,
            duration_s=self.duration_s,
            n_mels=self.n_mels,
            n_frames=self.n_frames,
            frame_length=self.frame_length,
            fft_length=self.fft_length,
            fmin=self.fmin,
            fmax=self.fmax,
        )

    @classmethod
    def from_dict(cls, d: dict) -> "SpectrogramConfig":
        return cls(**{k: d[k] for k in cls().to_dict() if k in d})


def _declared_bytes(path: str) -> tuple[int, int] | None:
    """``(declared, present)`` sample-data bytes of a RIFF/WAVE or NIST SPHERE file, or None
    when the header does not say (another format, or a streaming WAV with size 0 / 0xFFFFFFFF)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(4096)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        pos = 12
        while pos + 8 <= len(head):
            chunk, length = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
            if chunk == b"data":
                if length in (0, 0xFFFFFFFF):
                    return None
                return length, size - (pos + 8)
            pos += 8 + length + (length & 1)
        return None
    if head[:8] == b"NIST_1A\n":
        fields = {}
        for line in head.decode("ascii", "replace").splitlines()[1:]:
            parts = line.split()
            if len(parts) == 3 and parts[1] == "-i":
                fields[parts[0]] = int(parts[2])
        header = int(head[8:16].strip() or 1024)
        if "sample_count" not in fields or fields.get("sample_coding", "pcm") != "pcm":
            return None
        width = fields.get("sample_n_bytes", 2) * fields.get("channel_count", 1)
        return fields["sample_count"] * width, size - header
    return None


def read_audio(path: str) -> tuple[np.ndarray, int]:
    """Reads an audio file as float32 mono samples in [-1, 1] and its sample rate.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is empty, truncated (a WAV or SPHERE header promises more sample
            data than the file holds), or not audio.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"audio file {path!r} does not exist")
    if os.path.getsize(path) == 0:
        raise ValueError(f"audio file {path!r} is empty")
    declared = _declared_bytes(path)
    if declared is not None and declared[1] < declared[0]:
        raise ValueError(
            f"audio file {path!r} is truncated: its header declares {declared[0]} bytes of "
            f"samples, the file holds {max(declared[1], 0)}"
        )
    import soundfile

    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, ValueError, TypeError) as sf_error:
        with open(path, "rb") as f:
            riff = f.read(12)
        # soundfile's message repeats the path: keep only what it says about the content
        why = str(sf_error).rsplit(": ", 1)[-1].strip() or type(sf_error).__name__
        error = ValueError(
            f"audio file {path!r} is not readable audio: expected WAV, NIST SPHERE, FLAC or "
            f"OGG ({why})"
        )
        if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            raise error from None
        try:  # some WAV variants only TensorFlow's decoder accepts
            audio, rate = tf.audio.decode_wav(tf.io.read_file(path))
            data, rate = audio.numpy(), int(rate.numpy())
        # TensorFlow's message may quote the file's bytes, which are not UTF-8
        except (tf.errors.OpError, UnicodeDecodeError):
            raise error from None
    if data.shape[0] == 0:
        raise ValueError(f"audio file {path!r} holds no samples")
    samples = data.mean(axis=1).astype(np.float32)
    if not np.all(np.isfinite(samples)):
        raise ValueError(f"audio file {path!r} holds NaN or infinite samples")
    return samples, int(rate)


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling (anti-aliased) from ``rate`` to ``target`` Hz."""
    if rate <= 0 or target <= 0:
        raise ValueError(f"sample rates must be > 0, got rate={rate}, target={target}")
    if rate == target:
        return np.asarray(samples, np.float32)
    from scipy.signal import resample_poly

    g = math.gcd(int(rate), int(target))
    return resample_poly(samples, target // g, rate // g).astype(np.float32)


def fit_length(samples: np.ndarray, n: int, *, offset: int = 0) -> np.ndarray:
    """``samples[offset: offset + n]``, zero-padded at the end to exactly ``n`` samples."""
    out = np.zeros(n, np.float32)
    part = np.asarray(samples, np.float32)[max(0, offset) : max(0, offset) + n]
    out[: len(part)] = part
    return out


def coloured_noise(colour: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power spectrum ``1/f^a`` (white a=0, pink 1, brown 2), unit RMS."""
    if colour not in NOISE_COLOURS:
        raise ValueError(f"colour must be one of {sorted(NOISE_COLOURS)}, got {colour!r}")
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1] if n > 1 else 1.0  # no infinite DC gain
    spectrum = spectrum / f ** (NOISE_COLOURS[colour] / 2.0)
    noise = np.fft.irfft(spectrum, n)
    noise = noise - noise.mean()
    return (noise / (np.sqrt(np.mean(noise**2)) + EPSILON)).astype(np.float32)


def snr_db(signal: np.ndarray, noise: np.ndarray) -> float:
    """``10 log10(mean(signal^2) / mean(noise^2))``."""
    return float(
        10.0
        * np.log10(
            np.mean(np.square(signal, dtype=np.float64))
            / np.mean(np.square(noise, dtype=np.float64))
        )
    )


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr: float) -> tuple[np.ndarray, np.ndarray]:
    """Adds ``noise`` (tiled/cropped to the speech length) scaled to ``snr`` dB.

    Returns:
        ``(mixture, scaled_noise)``, float32, the length of ``speech``.

    Raises:
        ValueError: silent speech or silent noise (no SNR is defined).
    """
    speech = np.asarray(speech, np.float32)
    noise = np.resize(np.asarray(noise, np.float32), speech.shape)
    p_speech = float(np.mean(np.square(speech, dtype=np.float64)))
    p_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    if p_speech <= 0.0:
        raise ValueError("speech is silent: the SNR is undefined")
    if p_noise <= 0.0:
        raise ValueError("noise is silent: the SNR is undefined")
    gain = math.sqrt(p_speech / (p_noise * 10.0 ** (snr / 10.0)))
    scaled = (noise * gain).astype(np.float32)
    return speech + scaled, scaled


def power_frames(signals: tf.Tensor, cfg: SpectrogramConfig) -> tf.Tensor:
    """Power spectrum of each frame, ``|STFT|^2 / (sum of the window)^2``.

    The framing (Hann window, ``frame_step``, padded end, first ``n_frames`` frames) that
    :func:`log_mel` and :func:`speech_frames` share, so frame ``t`` is image column ``t``.
    The scale makes a full-scale sine peak near 0 dB.

    Args:
        signals: float32 ``[..., n_samples]`` at ``cfg.sample_rate``.
        cfg: the framing.

    Returns:
        float32 ``[..., n_frames, fft_length // 2 + 1]``.
    """
    stft = tf.signal.stft(
        signals,
        cfg.frame_length,
        cfg.frame_step,
        cfg.fft_length,
        window_fn=tf.signal.hann_window,
        pad_end=True,
    )
    norm = (
        cfg.frame_length / 2.0
    ) ** 2  # (sum of a Hann window)^2: a full-scale sine peaks near 0 dB
    return tf.square(tf.abs(stft))[..., : cfg.n_frames, :] / norm


def log_mel(signals, cfg: SpectrogramConfig | None = None) -> tf.Tensor:
    """Log-mel images of ``[..., n_samples]`` signals: ``[..., n_mels, n_frames]`` in [0, 1].

    Row 0 is the lowest mel band, column 0 the first frame. Pure TensorFlow.
    """
    cfg = cfg or SpectrogramConfig()
    signals = tf.convert_to_tensor(signals, tf.float32)
    power = power_frames(signals, cfg)
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        cfg.n_mels, cfg.fft_length // 2 + 1, cfg.sample_rate, cfg.fmin, cfg.fmax
    )
    mel = tf.tensordot(power, mel_matrix, axes=1)  # [..., frames, mels]
    db = 10.0 * tf.math.log(mel + EPSILON) / math.log(10.0)
    image = tf.clip_by_value((db - DB_FLOOR) / -DB_FLOOR, 0.0, 1.0)
    return tf.linalg.matrix_transpose(image)


def speech_frames(
    signals,
    cfg: SpectrogramConfig | None = None,
    *,
    threshold_db: float = 30.0,
    floor_db: float = -60.0,
) -> np.ndarray:
    """Energy-based speech marks: bool ``[..., n_frames]``.

    A frame is speech when its energy is within ``threshold_db`` of the loudest frame of its
    signal and above ``floor_db`` (relative to a full-scale sine), using the same framing as
    :func:`log_mel`, so mark ``t`` belongs to image column ``t``.
    """
    cfg = cfg or SpectrogramConfig()
    power = power_frames(tf.convert_to_tensor(signals, tf.float32), cfg)
    db = 10.0 * np.log10(tf.reduce_sum(power, axis=-1).numpy() + EPSILON)
    loudest = db.max(axis=-1, keepdims=True)
    return (db > loudest - threshold_db) & (db > floor_db)
