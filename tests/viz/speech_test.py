"""Tests of qgcam_tf.viz.speech: paper Figs. 6-7, spectrograms with their maps and speech band."""

import sys
import types

import matplotlib.image
import numpy as np
import pytest

from qgcam_tf.viz import speech as viz_speech


def test_speech_figure_png_and_shape_errors(tmp_path):
    """Figs. 6-7 are written as a PNG; mismatched maps or marks are rejected."""
    import matplotlib.image

    from qgcam_tf.viz.speech import save_speech_figure

    rng = np.random.default_rng(0)
    spec, maps = rng.uniform(size=(2, 64, 64, 1)), rng.uniform(size=(2, 64, 64))
    marks = rng.uniform(size=(2, 64)) < 0.5
    path = save_speech_figure(spec, maps, marks, str(tmp_path / "fig.png"), titles=["a", "b"])
    assert matplotlib.image.imread(path).shape[0] > 100
    with pytest.raises(ValueError, match="speech"):
        save_speech_figure(spec, maps, marks[:, :10], str(tmp_path / "bad.png"))


def test_explain_speech_figures_titles_and_marks(tmp_path, monkeypatch):
    """The `qgcam explain` figure gets one row per clip (at most max_clips), titled with the
    label and the prediction, and the speech band recovered from each image."""
    from qgcam_tf.data import speech as data_speech

    seen = {}

    def recording_figure(spectrograms, maps, speech, path, *, titles=None, **kwargs):
        seen.update(n=len(spectrograms), titles=titles, speech=speech)
        return path

    monkeypatch.setattr(viz_speech, "save_speech_figure", recording_figure)
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(4, 8, 6, 1))
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    result = types.SimpleNamespace(
        maps=rng.uniform(size=(4, 8, 6)), probabilities=probs, scores=probs
    )
    meta = {"class_names": ["clean", "noisy"]}
    out = viz_speech.explain_speech_figures(
        str(tmp_path), images, None, result, meta, [0, 0, 1, 1], max_clips=3
    )
    assert out == [str(tmp_path / "speech_qgradcam.png")] and seen["n"] == 3
    assert seen["titles"] == [
        "clean, pred clean (0.90)",
        "clean, pred noisy (0.80)",
        "noisy, pred clean (0.60)",
    ]
    np.testing.assert_array_equal(seen["speech"], data_speech.speech_frames_from_images(images[:3]))


def test_figure_of_the_test_split(tmp_path):
    """Figs. 6-7 from a speech bundle: a readable PNG of correctly classified clips; a bundle
    without speech marks raises ValueError."""
    import tensorflow as tf

    from qgcam_tf.data.registry import DatasetBundle
    from qgcam_tf.data.speech import SpeechBundle
    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.model.hybrid import build_hybrid_model
    from qgcam_tf.quantum.circuits import VQCSpec

    tf.keras.utils.set_random_seed(0)
    model = build_hybrid_model(
        (16, 16, 1), 2, vqc=VQCSpec(2, 1, 2), backend="tf", conv_filters=(4, 4)
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(6, 16, 16, 1)).astype(np.float32)
    y = QGradCAM(model)(x).class_index  # every clip correctly classified
    marks = np.zeros((6, 16), bool)
    marks[:, 4:10] = True  # 10 of 16 frames are background
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(6)
    common = (ds, ds, (16, 16, 1), ("clean", "noisy"), 6, 6)
    bundle = SpeechBundle(*common, test_arrays=(x, y), test_speech_frames=marks)
    path = viz_speech.test_split_figure(model, bundle, str(tmp_path / "fig.png"), dpi=40)
    assert matplotlib.image.imread(path).ndim == 3
    with pytest.raises(ValueError, match="speech marks"):
        viz_speech.test_split_figure(model, DatasetBundle(*common, test_arrays=(x, y)), "x.png")


def _tiny_speech_data(tmp_path):
    """8 tone-burst clips of 4 speakers and 4 noise files of 2 kinds, each folder with its
    manifest; returns the two folders."""
    import csv
    import os

    import soundfile

    sr, rng = 16000, np.random.default_rng(0)
    for name, n, column, kind in (
        ("speech", 8, "speaker_or_voice", None),
        ("noise", 4, "category", 1),
    ):
        os.makedirs(tmp_path / name)
        rows = []
        for i in range(n):
            t = np.arange(sr) / sr
            x = (
                0.1 * rng.standard_normal(sr)
                if kind
                else np.where(
                    (t > 0.3) & (t < 0.6), 0.4 * np.sin(2 * np.pi * (200 + 50 * i) * t), 0.0
                )
            )
            soundfile.write(str(tmp_path / name / f"c{i}.wav"), x.astype(np.float32), sr)
            rows.append({"path": f"c{i}.wav", column: f"k{i // 2}"})
        with open(tmp_path / name / "manifest.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["path", column])
            writer.writeheader()
            writer.writerows(rows)
    return str(tmp_path / "speech"), str(tmp_path / "noise")


def _speech_run(tmp_path):
    """A saved (untrained) speech run on :func:`_tiny_speech_data`, tf executor."""
    import tensorflow as tf

    from qgcam_tf.data.speech import load_speech
    from qgcam_tf.model.hybrid import build_hybrid_model
    from qgcam_tf.model.run import save_model
    from qgcam_tf.quantum.circuits import VQCSpec

    _tiny_speech_data(tmp_path)
    options = {
        "data_dir": str(tmp_path / "speech"),
        "noise_dir": str(tmp_path / "noise"),
        "snr_db": "5",
        "test_fraction": 0.3,
        "seed": 1,
    }
    bundle = load_speech(options)
    tf.keras.utils.set_random_seed(0)
    model = build_hybrid_model(
        (64, 64, 1), 2, vqc=VQCSpec(2, 1, 2), backend="tf", conv_filters=(4, 4)
    )
    run = str(tmp_path / "run")
    meta = {**bundle.metadata, "seed": 1, "class_names": list(bundle.class_names)}
    save_model(model, run, metadata=meta)
    return run, options


def test_speech_evaluation_per_clip_files(tmp_path):
    """write_speech_evaluation: per SNR (those given plus the training SNR) the accuracy and
    the noisy/clean summaries of the CSV's per-clip ratios; the figures are PNGs."""
    import csv
    import json

    from qgcam_tf.data.speech import heldout_sets
    from qgcam_tf.evaluate.attention import attention_summary
    from qgcam_tf.model.run import Run

    run, options = _speech_run(tmp_path)
    out = str(tmp_path / "eval")
    written = viz_speech.write_speech_evaluation(run, out, snrs=["0", "10"], examples=1)
    names = [p.rsplit("/", 1)[1] for p in written]
    assert names[:3] == ["speech_attention.json", "speech_attention.csv", "speech_attention.png"]
    with open(written[0]) as f:
        summary = json.load(f)
    with open(written[1]) as f:
        rows = list(csv.DictReader(f))
    assert list(summary["per_snr"]) == ["0", "10", "5"]
    model = Run.open(run).model()
    sets = heldout_sets(options, ["0", "10", "5"])
    for snr, held in sets.items():
        mine = [r for r in rows if r["snr"] == snr]
        assert len(mine) == len(held.labels)
        predicted = np.argmax(model.predict(held.images, verbose=0), axis=1)
        np.testing.assert_allclose(
            summary["per_snr"][snr]["accuracy"], np.mean(predicted == held.labels), rtol=1e-6
        )
        for name in ("noisy", "clean"):
            vals = [
                float(r["ratio"])
                for r in mine
                if r["label"] == name and r["correct"] == "1" and r["ratio"]
            ]
            got = summary["per_snr"][snr][name]
            assert got["n"] == len(vals)
            if vals:
                np.testing.assert_allclose(
                    got["median"], attention_summary(np.array(vals))["median"], atol=1e-4
                )
    np.testing.assert_allclose(
        summary["mean_accuracy"],
        np.mean([summary["per_snr"][s]["accuracy"] for s in ("0", "10", "5")]),
    )
    for path in written[2:]:
        assert matplotlib.image.imread(path).ndim == 3
    with pytest.raises(ValueError, match="explain must be"):
        viz_speech.write_speech_evaluation(run, out, explain="music")


def _doc_commands(path: str) -> list[list[str]]:
    """The shell commands (continuations joined, comments dropped) of the fenced blocks
    between ``<!-- speech-commands:begin -->`` and ``<!-- speech-commands:end -->``."""
    import re
    import shlex

    text = open(path).read()
    regions = re.findall(
        r"<!-- speech-commands:begin -->(.*?)<!-- speech-commands:end -->", text, re.S
    )
    commands = []
    for region in regions:
        for block in re.findall(r"```[a-z]*\n(.*?)```", region, re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    commands.append(shlex.split(line))
    return commands


def test_the_docs_speech_commands_run(tmp_path, monkeypatch):
    """Every command of docs/experiments.md's speech section runs, on tiny data (the shared
    folders replaced by 8 clips and 4 noise files, TIMIT by the TIMIT-format fixture) and a
    tiny model (training flags added), and writes what the page says; each `cp` source exists."""
    import os

    from qgcam_tf.cli.main import main
    from qgcam_tf.testing.data import shared_data

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    commands = _doc_commands(os.path.join(root, "docs", "experiments.md"))
    assert [c[:2] for c in commands if c[0] == "qgcam"], "the section shows its commands"
    speech_dir, noise_dir = _tiny_speech_data(tmp_path)
    timit = shared_data("speech-mini", "timit-format")
    subs = {
        "../shared/data/speech-mini": speech_dir,
        "../shared/data/noise-mini": noise_dir,
        "TIMIT/TEST/DR1/FAKS0": os.path.join(timit, "TEST", "DR1", "MCRD0"),
        "TIMIT": timit,
        "NOISE": noise_dir,
    }
    monkeypatch.chdir(tmp_path)
    copied = 0
    for command in commands:
        argv = []
        for word in command:
            for key, value in subs.items():
                if word == key or word.startswith(key + "/") or word.endswith("=" + key):
                    word = word.replace(key, value, 1)
                    break
            argv.append(word)
        if argv[0] == "cp":
            assert os.path.isfile(argv[1]), f"{argv[1]} is not written by the commands before it"
            copied += 1
            continue
        assert argv[0] == "qgcam", f"unexpected command {command}"
        if argv[1] == "train":
            argv += ["--epochs", "1", "--qubits", "2", "--depth", "1", "--batch-size", "8"]
        if argv[1] in ("train", "evaluate"):
            argv += ["--backend", "tf"]
        assert main(argv[1:]) == 0, argv
    assert copied


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
