"""Tests for qgcam_tf.cli.train: the dataset options it hands the loader, and a real tiny run."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from qgcam_tf.cli.main import build_parser, main
from qgcam_tf.cli.train import check_out, dataset_options, explicit_settings
from qgcam_tf.data import BUILTIN_DATASETS, DATASET_OPTIONS
from qgcam_tf.model.recipes import RECIPE_FIELDS, RECIPES, describe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse(*argv):
    """`qgcam train --out o ARGV`, parsed."""
    return build_parser().parse_args(["train", "--out", "o", *argv])


def test_common_values_come_from_their_own_flags():
    """data_dir (made absolute), limit, batch_size, seed and validation_fraction come from
    their own flags; the validation share defaults to 0.1, the batch size to the recipe's."""
    args = parse("--data-dir", "D", "--limit", "5", "--batch-size", "7", "--seed", "3")
    args.validation_fraction = 0.25
    assert dataset_options(args) == {
        "data_dir": os.path.join(os.getcwd(), "D"),
        "limit": 5,
        "batch_size": 7,
        "seed": 3,
        "validation_fraction": 0.25,
    }
    assert dataset_options(parse()) == {
        "data_dir": None,
        "limit": None,
        "batch_size": RECIPES["mnist"].batch_size,
        "seed": 0,
        "validation_fraction": 0.1,
    }


@pytest.mark.parametrize("dataset", BUILTIN_DATASETS)
def test_left_out_flags_and_options_come_from_the_datasets_recipe(dataset):
    """With no training flag, every recipe field and recipe option is the recipe's of
    --dataset, and the run records no flag as given."""
    args = parse("--dataset", dataset)
    options = dataset_options(args)
    recipe = RECIPES[dataset]
    assert {f: getattr(args, f) for f in RECIPE_FIELDS} == {
        f: getattr(recipe, f) for f in RECIPE_FIELDS
    }
    assert {k: options[k] for k in recipe.options} == dict(recipe.options)
    assert explicit_settings(args) == []


def test_given_flags_and_options_win_and_are_recorded_as_given():
    """A flag or --option that is given wins over the recipe and is listed as given; the
    rest still comes from the recipe."""
    args = parse(
        "--dataset", "dogs-vs-cats", "--epochs", "3", "--backend", "tf", "--option", "image-size=32"
    )
    options = dataset_options(args)
    recipe = RECIPES["dogs-vs-cats"]
    assert (args.epochs, args.backend, options["image_size"]) == (3, "tf", "32")
    assert (args.qubits, args.learning_rate, options["augment"]) == (
        recipe.qubits,
        recipe.learning_rate,
        recipe.options["augment"],
    )
    assert explicit_settings(args) == ["--backend", "--epochs", "--option image_size"]


def test_help_shows_each_datasets_recipe(capsys):
    """`qgcam train --help` prints one line per dataset with its recipe, as flags."""
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for name, recipe in RECIPES.items():
        assert f"  {name}: {describe(recipe)}" in text


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


@pytest.mark.parametrize(
    "flag,value,message",
    [
        ("--epochs", "0", "must be an int in [1, 1000], got '0'"),
        ("--depth", "100000", "must be an int in [1, 50], got '100000'"),
        ("--qubits", "64", "must be an int in [2, 20], got '64'"),
        ("--batch-size", "1000000", "must be an int in [1, 4096], got '1000000'"),
        ("--learning-rate", "inf", "must be a finite number > 0 and <= 1, got 'inf'"),
        ("--learning-rate", "nan", "must be a finite number > 0 and <= 1, got 'nan'"),
        ("--learning-rate", "2", "must be a finite number > 0 and <= 1, got '2'"),
        ("--validation-fraction", "0.9", "must be a number in [0, 0.5], got '0.9'"),
        ("--validation-fraction", "nan", "must be a number in [0, 0.5], got 'nan'"),
        ("--seed", "-1", "must be an int in [0, 2147483647], got '-1'"),
    ],
)
def test_numbers_out_of_range_are_one_error_line_and_no_directory(
    tmp_path, capfd, flag, value, message
):
    """A number that is not finite, out of range or unbounded enough to take hours is one
    error line naming the flag and value, exit 2, before anything is created."""
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        main(["train", "--out", str(out), f"{flag}={value}"])
    assert e.value.code == 2
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and flag in lines[0] and lines[0].endswith(message), lines
    assert not out.exists()


def test_out_is_checked_before_the_data_loads(tmp_path):
    """An --out that is a file, lies under one, is empty, or holds a finished run (without
    --force) is refused naming it; a new or unfinished directory passes."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        check_out(str(tmp_path / "file"), False)
    with pytest.raises(ValueError, match=r"file'? is a file, not a directory"):
        check_out(str(tmp_path / "file" / "run"), False)
    with pytest.raises(ValueError, match="--out must name a directory"):
        check_out("", False)
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "metrics.json").write_text("{}")
    with pytest.raises(ValueError, match="already holds a finished run; pass --force"):
        check_out(str(tmp_path / "done"), False)
    check_out(str(tmp_path / "done"), True)
    check_out(str(tmp_path / "new" / "run"), False)


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    """A small MNIST .npz (600 training, 200 test digits of the embedded copy)."""
    from qgcam_tf.data.mnist import load_mnist

    (x, y), (xt, yt) = load_mnist()
    folder = tmp_path_factory.mktemp("data")
    np.savez(folder / "mnist.npz", x_train=x[:600, ..., 0], y_train=y[:600],
             x_test=xt[:200, ..., 0], y_test=yt[:200])  # fmt: skip
    return folder


KERAS_LOAD = """
import sys
import numpy as np
import qgcam_tf
import tf_keras as keras
model = keras.models.load_model(sys.argv[1])
np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
"""


@pytest.mark.slow
def test_tiny_runs_are_deterministic_resumable_and_keras_readable(
    tmp_path, small_mnist, capsys, monkeypatch
):
    """Two seeded `qgcam train` runs (the second with --force over the first, beside a user's
    files, which stay) give the same metrics.json but train_seconds and the same weights;
    the log has one line per epoch and per stage, no bars; a relative --data-dir is stored
    absolute; the settings record the flags given; an unfinished run restarted with
    another --seed is refused naming it, and with the same values (one now from the recipe
    instead of a flag) finishes without training again; model.keras loads in a fresh
    process with keras.models.load_model and predicts as the run does."""
    from qgcam_tf.model.run import Run

    monkeypatch.chdir(small_mnist)
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--data-dir", "mnist.npz", "--epochs", "2"]
    argv += ["--qubits", "10", "--depth", "1", "--batch-size", "64", "--backend", "tf"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    first = json.loads((out / "metrics.json").read_text())
    assert json.loads(printed[printed.rindex("\n{\n") + 1 :]) == first  # what it printed
    assert "\r" not in printed and printed.count("Epoch ") == 2
    assert "evaluating on 200 test examples" in printed and "recalibrating" in printed
    assert (first["n_train"], first["n_validation"], first["n_test"]) == (540, 60, 200)
    run = Run.open(str(out))
    assert run.metadata["options"]["data_dir"] == str(small_mnist / "mnist.npz")
    weights = [w.copy() for w in run.model().get_weights()]
    rows = (out / "history.csv").read_text().splitlines()
    assert rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and len(rows) == 3
    assert "NA" not in "".join(rows)

    (out / "important.txt").write_text("mine")
    (out / "photos").mkdir()
    (out / "photos" / "x.png").write_bytes(b"png")
    assert main([*argv, "--force"]) == 0
    capsys.readouterr()
    assert (out / "important.txt").read_text() == "mine"
    assert (out / "photos" / "x.png").read_bytes() == b"png"
    second = json.loads((out / "metrics.json").read_text())
    assert first.pop("train_seconds") > 0 and second.pop("train_seconds") > 0
    assert second == first
    for a, b in zip(Run.open(str(out)).model().get_weights(), weights, strict=True):
        np.testing.assert_array_equal(a, b)

    progress = json.loads((out / "progress.json").read_text())
    given = ["--backend", "--batch-size", "--depth", "--epochs", "--qubits"]
    assert progress["settings"]["options"]["explicit_flags"] == given
    (out / "metrics.json").unlink()  # an unfinished run whose every stage is recorded
    assert main([*argv, "--seed", "1"]) == 2
    error = capsys.readouterr().err
    assert "unfinished run with other settings" in error and "seed 0 there, 1 now" in error
    assert "--force" in error
    # the same values, one of them now from the recipe instead of a flag: the same run
    assert RECIPES["mnist"].qubits == 10
    assert main([a for a in argv if a not in ("--qubits", "10")]) == 0
    printed = capsys.readouterr().out
    assert "all 2 epochs done" in printed and "Epoch " not in printed
    assert "evaluating" not in printed  # recorded stages are not redone
    third = json.loads((out / "metrics.json").read_text())
    third.pop("train_seconds")
    assert third == first

    x, _ = Run.open(str(out)).bundle().test_arrays
    np.save(tmp_path / "x.npy", x[:16])
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("TF_USE_LEGACY_KERAS", None)  # import qgcam_tf sets it
    loaded = subprocess.run(
        [sys.executable, "-c", KERAS_LOAD, str(out / "model.keras"), "x.npy", "p.npy"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    expected = Run.open(str(out)).model().predict(x[:16], verbose=0)
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, atol=1e-5)


def test_too_few_qubits_for_the_classes_is_one_error_line(tmp_path, small_mnist, capfd):
    """--qubits below MNIST's 10 classes (one <Z> per class) is one error line naming
    --qubits, exit 2, and leaves no run directory."""
    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--data-dir", str(small_mnist / "mnist.npz")]
    assert main([*argv, "--qubits", "2", "--backend", "tf"]) == 2
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("qgcam train: error: "), lines
    assert "--qubits must be >= 10, the number of classes of mnist" in lines[0], lines
    assert lines[0].endswith("got 2"), lines
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--encoding", "identity"), "--encoding identity needs another --ansatz"),
        (("--ansatz", "paper", "--encoding", "atan"), "--encoding atan needs another --ansatz"),
        (("--classical", "--ansatz", "reuploading"), "--classical trains none"),
        (("--ansatz", "ring"), "argument --ansatz: invalid choice: 'ring'"),
    ],
)
def test_ansatz_and_encoding_clashes_are_one_line_before_anything_loads(
    tmp_path, capfd, argv, message
):
    """An encoding the paper's ansatz cannot take, an ansatz with --classical, or an unknown
    family: exit 2, one line naming the flags, and no run directory."""
    out = tmp_path / "run"
    try:
        code = main(["train", "--out", str(out), *argv])
    except SystemExit as exit_:  # argparse's own errors exit from inside main
        code = exit_.code
    assert code == 2
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], lines
    assert not out.exists()


def test_another_ansatz_trains_and_its_run_loads_with_that_circuit(tmp_path, small_mnist):
    """--ansatz reuploading --encoding atan trains; metrics.json, the settings checked on
    restart and the reloaded model all carry that circuit, and the reloaded VQC layer
    computes what a freshly built layer of the same spec computes with the run's weights."""
    import tensorflow as tf

    from qgcam_tf.model.layers import VQCLayer
    from qgcam_tf.model.run import Run

    out = tmp_path / "run"
    argv = ["train", "--out", str(out), "--data-dir", str(small_mnist / "mnist.npz")]
    argv += ["--epochs", "1", "--backend", "tf", "--no-tensorboard", "--limit", "64"]
    assert main([*argv, "--ansatz", "reuploading", "--encoding", "atan"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["ansatz"], metrics["encoding"]) == ("reuploading", "atan")
    layer = next(l for l in Run.open(str(out)).model().layers if isinstance(l, VQCLayer))
    assert (layer.spec.ansatz, layer.spec.encoding) == ("reuploading", "atan")
    fresh = VQCLayer(layer.spec, backend="tfq")
    x = tf.random.stateless_uniform([3, layer.spec.n_qubits], seed=(1, 2), minval=-2, maxval=2)
    fresh(x)
    fresh.set_weights(layer.get_weights())
    np.testing.assert_allclose(fresh(x).numpy(), layer(x).numpy(), atol=1e-5)


@pytest.mark.parametrize(
    "argv, message",
    [
        (("--backbone-weights", "none"), "--backbone-weights and --fine-tune need a --backbone"),
        (("--fine-tune",), "--backbone-weights and --fine-tune need a --backbone"),
        (
            ("--backbone", "mobilenetv2"),
            "--backbone needs RGB photos (dogs-vs-cats), not --dataset",
        ),
        (
            ("--dataset", "dogs-vs-cats", "--backbone", "resnet50", "--backbone-weights", "no.h5"),
            "--backbone-weights 'no.h5': no such file",
        ),
        (("--backbone", "vgg"), "argument --backbone: invalid choice: 'vgg'"),
    ],
)
def test_backbone_clashes_are_one_line_before_anything_loads(tmp_path, capfd, argv, message):
    """Backbone weights or fine-tuning without a backbone, a backbone for grey inputs, a
    missing weights file or an unknown backbone: exit 2, one line, no run directory."""
    out = tmp_path / "run"
    try:
        code = main(["train", "--out", str(out), *argv])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], lines
    assert not out.exists()


def test_backbone_run_from_a_weights_file_explains_its_last_block(tmp_path, capsys):
    """qgcam train --backbone mobilenetv2-0.35 --backbone-weights FILE (32x32 photos, one
    epoch): the run's frozen backbone holds the file's weights, and qgcam explain's default
    layer is the backbone's last block (qgcam_conv); --layer names an earlier block."""
    import tf_keras as keras
    from PIL import Image

    from qgcam_tf.cli.train import BACKBONE_CHOICES
    from qgcam_tf.model.hybrid import BACKBONES, build_backbone
    from qgcam_tf.model.run import load_model

    assert BACKBONE_CHOICES == BACKBONES
    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    for split in ("train", "test"):
        (photos / split).mkdir(parents=True)
        for name in ("cat", "dog"):
            for i in range(3):
                pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(photos / split / f"{name}.{i}.png")
    keras.utils.set_random_seed(3)
    source = build_backbone("mobilenetv2-0.35", (32, 32, 3))
    weights = str(tmp_path / "backbone.weights.h5")
    source.save_weights(weights)
    run = str(tmp_path / "run")
    argv = ["train", "--dataset", "dogs-vs-cats", "--data-dir", str(photos), "--out", run]
    argv += ["--epochs", "1", "--qubits", "2", "--depth", "1", "--batch-size", "6"]
    argv += ["--option", "image-size=32", "--validation-fraction", "0", "--no-tensorboard"]
    argv += ["--backbone", "mobilenetv2-0.35", "--backbone-weights", weights]
    assert main(argv) == 0, capsys.readouterr().err
    model = load_model(run)
    for layer in (layer for layer in source.layers if layer.weights):
        for a, b in zip(model.get_layer(layer.name).get_weights(), layer.get_weights()):
            np.testing.assert_array_equal(a, b)
    block = "block_13_expand_relu"
    for layer_args, layer in (((), "out_relu"), (("--layer", block), block)):
        out = tmp_path / f"explain{len(layer_args)}"
        argv = ["explain", "--model", run, "--out", str(out), "--count", "2", *layer_args]
        assert main(argv) == 0, capsys.readouterr().err
        with np.load(out / "maps.npz") as saved:  # one weight per channel of the layer
            assert saved["weights"].shape == (2, model.get_layer(layer).output.shape[-1])
            assert saved["maps"].shape == (2, 32, 32)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
