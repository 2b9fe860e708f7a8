"""Tests for qgcam_tf.cli.train: the dataset options it hands the loader, and a real tiny run."""

import json
import sys

import numpy as np
import pytest

from qgcam_tf.cli.main import build_parser, main
from qgcam_tf.cli.train import dataset_options
from qgcam_tf.data import DATASET_OPTIONS


def parse(*argv):
    """`qgcam train --out o ARGV`, parsed."""
    return build_parser().parse_args(["train", "--out", "o", *argv])


def test_common_values_come_from_their_own_flags():
    """data_dir, limit, batch_size and seed come from --data-dir, --limit, --batch-size, --seed."""
    args = parse("--data-dir", "D", "--limit", "5", "--batch-size", "7", "--seed", "3")
    assert dataset_options(args) == {"data_dir": "D", "limit": 5, "batch_size": 7, "seed": 3}
    assert dataset_options(parse()) == {
        "data_dir": None,
        "limit": None,
        "batch_size": 64,
        "seed": 0,
    }


def test_keys_take_dash_or_underscore_and_values_stay_text():
    """snr-db and snr_db are the same key; the value is the text after the first '='."""
    args = parse(
        "--dataset",
        "speech",
        "--option",
        "snr-db=3:9",
        "--option",
        "noise_dir=/n",
        "--option",
        " labels =type",
        "--option",
        "noise=white,pink=x",
    )
    options = dataset_options(args)
    assert {k: options[k] for k in ("snr_db", "noise_dir", "labels", "noise")} == {
        "snr_db": "3:9",
        "noise_dir": "/n",
        "labels": "type",
        "noise": "white,pink=x",
    }
    same = dataset_options(parse("--dataset", "speech", "--option", "snr_db=3:9"))
    assert same["snr_db"] == "3:9"


@pytest.mark.parametrize("dataset", sorted(DATASET_OPTIONS))
def test_unknown_key_names_the_dataset_and_lists_its_options(dataset):
    """A key the chosen dataset does not read is refused with the dataset's own options."""
    known = DATASET_OPTIONS[dataset]
    names = ", ".join(k.replace("_", "-") for k in known) or "none"
    with pytest.raises(ValueError) as e:
        dataset_options(parse("--dataset", dataset, "--option", "colour_depth=8"))
    assert str(e.value) == (
        f"--option 'colour_depth=8': {dataset} has no option 'colour-depth' (its options: {names})"
    )


def test_another_datasets_option_is_refused():
    """speech's snr-db is no option of MNIST, and dogs-vs-cats' image-size none of speech."""
    with pytest.raises(ValueError, match=r"mnist has no option 'snr-db' \(its options: none\)"):
        dataset_options(parse("--option", "snr-db=5"))
    with pytest.raises(ValueError, match="speech has no option 'image-size'"):
        dataset_options(parse("--dataset", "speech", "--option", "image_size=32"))


@pytest.mark.parametrize("item", ["snr-db", "=5", " =5", ""])
def test_option_must_be_key_equals_value(item):
    """An --option without '=' or without a key is refused, quoting it."""
    with pytest.raises(ValueError) as e:
        dataset_options(parse("--dataset", "speech", "--option", item))
    assert str(e.value) == f"--option must be KEY=VALUE, got {item!r}"


@pytest.mark.parametrize(
    "item,flag,key",
    [
        ("limit=5", "--limit", "limit"),
        ("data_dir=/d", "--data-dir", "data-dir"),
        ("data-dir=/d", "--data-dir", "data-dir"),
        ("batch-size=3", "--batch-size", "batch-size"),
        ("seed=1", "--seed", "seed"),
    ],
)
def test_common_keys_point_at_their_flag(item, flag, key):
    """A common key given as --option is refused with a pointer to its own flag."""
    with pytest.raises(ValueError) as e:
        dataset_options(parse("--option", item))
    assert str(e.value) == f"--option {item!r}: use {flag} for {key}"


@pytest.mark.slow
def test_tiny_mnist_run_trains_and_loads_back(tmp_path, capsys):
    """A real `qgcam train` writes metrics.json whose accuracy the saved run reproduces."""
    from qgcam_tf.model.run import Run

    out = str(tmp_path / "run")
    argv = ["train", "--out", out, "--limit", "128", "--epochs", "1", "--qubits", "10"]
    argv += ["--depth", "1", "--batch-size", "64", "--backend", "tf"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    with open(f"{out}/metrics.json") as f:
        metrics = json.load(f)
    assert json.loads(printed[printed.rindex("\n{\n") + 1 :]) == metrics  # what it printed
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert (metrics["dataset"], metrics["n_train"], metrics["epochs"]) == ("mnist", 128, 1)
    assert (metrics["n_qubits"], metrics["depth"], metrics["backend"]) == (10, 1, "tf")
    run = Run.open(out)
    x, y = run.bundle().test_arrays
    assert len(y) == metrics["n_test"]
    accuracy = float(np.mean(run.model().predict(x, batch_size=500, verbose=0).argmax(1) == y))
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)


def test_too_few_qubits_for_the_classes_is_one_error_line(tmp_path, capfd):
    """--qubits below MNIST's 10 classes (one <Z> per class) is one error line, exit 2."""
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--limit", "64", "--epochs", "1", "--qubits", "2"]
    assert main([*argv, "--backend", "tf"]) == 2
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("qgcam train: error: "), lines
    assert "n_qubits=2" in lines[0] and lines[0].endswith("got 10"), lines
    assert not (out / "metrics.json").exists()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
