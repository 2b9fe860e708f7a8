"""Executes every notebook in notebooks/ top to bottom and checks the numbers its text relies on.

Each notebook writes ``summary.json`` into ``QGCAM_NOTEBOOK_OUT`` (the test's temporary folder):
its accuracy, whether the examples it shows as the model's reasoning are classified correctly,
how many of their maps are empty. A notebook that runs but shows noise fails here. Notebooks
01-03 load the trained runs in tests/fixtures/ (see its README); 04 and 05 train their tiny
models as they run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from qgcam_tf.testing.data import shared_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK_DIR = os.path.join(ROOT, "notebooks")
NOTEBOOKS = sorted(f for f in os.listdir(NOTEBOOK_DIR) if f.endswith(".ipynb"))
# shared test data each notebook reads (the test is skipped where it is absent)
NEEDS = {
    "02_dogs_vs_cats.ipynb": ("dogs-vs-cats-mini",),
    "03_speech_noise.ipynb": ("speech-mini", "noise-mini"),
}
# run through the README's command (`jupyter nbconvert --execute`); the others through nbclient
NBCONVERT = "01_mnist.ipynb"
TIMEOUT_S = 300  # per cell; docs/experiments.md has the measured time of each notebook


def _read(name: str):
    import nbformat

    return nbformat.read(os.path.join(NOTEBOOK_DIR, name), as_version=4)


def test_notebooks_exist():
    """The experiment notebooks are all there."""
    expected = {"01_mnist.ipynb", "02_dogs_vs_cats.ipynb", "03_speech_noise.ipynb"}
    assert expected | {"04_noise_robustness.ipynb", "05_your_tfq_model.ipynb"} <= set(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_clean(name):
    """Stored without outputs, and the first code cell selects Keras 2 before TensorFlow loads."""
    book = _read(name)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert 'os.environ["TF_USE_LEGACY_KERAS"] = "1"' in code[0].source
    assert code[0].source.index("TF_USE_LEGACY_KERAS") < code[0].source.find("qgcam_tf")


def _check_mnist(s: dict) -> None:
    # "about 97 %" on all 10 000 test digits, as the shipped run's metrics.json says
    assert s["n_test"] == 10000
    assert s["test_accuracy"] >= 0.965
    assert s["test_accuracy"] == pytest.approx(s["recorded_test_accuracy"], abs=2e-3)
    # the grid shows only correctly classified digits; "no correctly classified digit among
    # the 500 checked has an empty map"
    assert s["shown_correct"] == [True] * 10 and s["shown_empty_maps"] == 0
    assert s["n_checked"] == 500 and s["empty_maps"] == 0
    # "bright map pixels lie on a stroke about three times as often as a random pixel does"
    assert s["bright_on_stroke"] >= 2.5 * s["stroke_share"]
    assert s["shift_rule_error"] < 1e-4


def _check_dogs_vs_cats(s: dict) -> None:
    # "about 0.65, one photo in three wrong, leaning to cat", as the run's metrics.json says
    assert s["n_test"] == 200
    assert 0.6 <= s["test_accuracy"] <= 0.72
    assert s["test_accuracy"] == pytest.approx(s["recorded_test_accuracy"], abs=0.01)
    assert s["per_class_correct"][0] > s["per_class_correct"][1]
    # "a few correct photos have an empty map of their class; the cat maps put several times
    # their area's share into the bottom-right corner"
    assert 0 < s["empty_own_maps"] <= 0.1 * s["n_correct"]
    assert s["corner_share"]["cat"] >= 2 * s["corner_area"]
    # Fig. 5 shows correctly classified photos with a map of their class; the second figure
    # shows wrong ones and says so
    assert s["shown_correct"] == [True] * 4 and s["shown_empty_own_maps"] == 0
    assert s["wrong_shown_correct"] == [False, False]


def _check_speech(s: dict) -> None:
    # "the same 84 held-out clips (168 examples)", as the shipped run's metrics.json says
    assert s["n_test"] == 168
    # "about 24 test examples in 25 are right, at every SNR, a few noisy ones fewer at 10 dB"
    assert s["test_accuracy"] >= 0.94
    assert s["test_accuracy"] == pytest.approx(s["recorded_test_accuracy"], abs=0.01)
    assert sorted(s["per_snr_accuracy"]) == ["0", "10", "5"]
    assert all(a >= 0.94 for a in s["per_snr_accuracy"].values())
    assert s["per_snr_accuracy"]["10"] <= s["per_snr_accuracy"]["0"]
    noisy, clean = s["attention_5db"]["noisy"], s["attention_5db"]["clean"]
    assert noisy["n"] >= 60 and clean["n"] >= 60
    # "noisy clips: median about 0.84, its interval below 1, fewer than one in ten above 1;
    # a few correctly classified noisy clips get an empty map"
    assert 0.78 <= noisy["median"] <= 0.9 and noisy["median_ci"][1] < 1
    assert noisy["share_above_1"] < 0.1
    assert 0 < noisy["n_empty"] <= 0.1 * noisy["n_correct"]
    # "their mass on the noise cells is a little under those cells' share (about 0.94)"
    noise_cells = s["attention_5db"]["noise_dominance"]
    assert 0.88 <= noise_cells["median"] and noise_cells["median_ci"][1] < 1
    # "clean clips: median about 1.5, every one of them above 1"
    assert 1.4 <= clean["median"] <= 1.7 and clean["median_ci"][0] > 1
    assert clean["share_above_1"] == 1.0


def _check_noise(s: dict) -> None:
    rows = {(r["preset"], r["strength"], r["shots"] or None): r for r in s["rows"]}
    # "the accuracy stays at 1": the toy task is separable, with and without noise
    assert s["noiseless_accuracy"] >= 0.95 and s["n_test"] == 64
    assert all(r["accuracy_mean"] >= 0.95 for r in rows.values())
    # "depolarizing noise up to p = 0.1 changes the maps barely (Pearson above 0.99)"
    for p in (0.02, 0.1):
        assert rows["depolarizing", p, None]["pearson_mean"] >= 0.99
    # "100 shots: about 0.95; 1000 shots bring it back near 1"
    few, many = rows["shots", 0.0, 100], rows["shots", 0.0, 1000]
    assert 0.9 <= few["pearson_mean"] < many["pearson_mean"]
    assert many["pearson_mean"] >= 0.99


def _check_tfq_model(s: dict) -> None:
    # "about 19 test digits in 20 right", on the 1000 test digits of 3 and 6
    assert s["n_test"] == 1000
    assert s["test_accuracy"] >= 0.93
    assert s["fit_seconds"] < 60  # "a few seconds"; the brief of the notebook: under a minute
    # "the 6s' maps put about half their mass into the left third, the 3s' about a fifth;
    # a few 3s get an empty map"
    assert s["left_share"]["6"] >= 0.4 and s["left_share"]["3"] <= 0.3
    assert s["empty_maps"]["6"] <= 10 and s["empty_maps"]["3"] <= 10
    # "the parameter-shift weights equal the autodiff ones up to float32 rounding"
    assert s["shift_rule_error"] < 1e-5
    # "1% depolarizing: weights shrink by about a tenth, cosine above 0.999; 1000 shots:
    # a cosine near 0.995"
    assert 0.85 <= s["noise_shrink"] <= 0.95 and s["noise_cosine"] > 0.999
    assert 0.98 <= s["shots_cosine"] < s["noise_cosine"]
    # "the converted model equals the TFQ model within 1e-5 on every test probability, its
    # maps agree to TFQ's float32 gradient error (about 1e-4); the served answers as closely"
    assert s["convert_probability_error"] < 1e-5 and s["served_probability_error"] < 1e-5
    assert s["convert_map_error"] < 3e-4 and s["served_map_error"] < 3e-4
    assert s["tfq_ops"] == []


CHECKS = {
    "01_mnist.ipynb": _check_mnist,
    "02_dogs_vs_cats.ipynb": _check_dogs_vs_cats,
    "03_speech_noise.ipynb": _check_speech,
    "04_noise_robustness.ipynb": _check_noise,
    "05_your_tfq_model.ipynb": _check_tfq_model,
}


def _execute_with_nbconvert(name: str, out: str):
    """The README's way: ``jupyter nbconvert --to notebook --execute`` in a subprocess."""
    import nbformat

    jupyter = os.path.join(os.path.dirname(sys.executable), "jupyter")
    command = [jupyter, "nbconvert", "--to", "notebook", "--execute"]
    command += [os.path.join(NOTEBOOK_DIR, name), "--output-dir", out]
    command += [f"--ExecutePreprocessor.timeout={TIMEOUT_S}"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=3 * TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return nbformat.read(os.path.join(out, name), as_version=4)


def _execute_with_nbclient(name: str):
    from nbclient import NotebookClient

    book = _read(name)
    resources = {"metadata": {"path": NOTEBOOK_DIR}}
    NotebookClient(book, timeout=TIMEOUT_S, kernel_name="python3", resources=resources).execute()
    return book


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_its_numbers_hold(name, tmp_path, monkeypatch):
    """The notebook executes without an error, and the numbers its text states hold."""
    data = os.environ.get("QGCAM_DATA")
    for part in NEEDS.get(name, ()):
        if data:
            if not os.path.isdir(os.path.join(data, part)):
                pytest.skip(f"{part} not in QGCAM_DATA={data}")
        else:
            shared_data(part)
    monkeypatch.setenv("QGCAM_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.delenv("QGCAM_NOTEBOOK_TRAIN", raising=False)  # load the shipped runs
    if name == NBCONVERT:
        book = _execute_with_nbconvert(name, str(tmp_path))
    else:
        book = _execute_with_nbclient(name)
    errors = [
        o
        for c in book.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors
    shown = [o.output_type for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert "display_data" in shown and "execute_result" not in shown, "figures, and no stray values"
    with open(tmp_path / "summary.json") as f:
        CHECKS[name](json.load(f))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
