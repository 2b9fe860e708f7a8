"""Tests for qgcam_tf.cli.experiment: train -> figure -> explain, through the real commands."""

import json
import sys

import numpy as np
import pytest

from qgcam_tf.cli.experiment import run_experiment
from qgcam_tf.data.mnist import load_mnist


def test_mnist_experiment_end_to_end(tmp_path):
    """The run is trained, the figure gets the test split the model saw, explain writes maps."""
    seen = {}

    def figure(model, bundle, path, *, seed, dpi):
        seen["x"], seen["y"] = bundle.test_arrays
        seen["accuracy"] = float(
            np.mean(model.predict(seen["x"], verbose=0).argmax(1) == seen["y"])
        )
        open(path, "wb").write(b"png")
        return path

    out = str(tmp_path / "run")
    train = ["--epochs", "1", "--limit", "256", "--depth", "1", "--backend", "tf"]
    assert run_experiment("mnist", out, train_args=train, count=3, figure_fn=figure) == 0
    (_, _), (x_test, y_test) = load_mnist()
    np.testing.assert_array_equal(seen["y"], y_test)  # the full MNIST test split, not another
    metrics = json.load(open(f"{out}/metrics.json"))
    assert abs(metrics["test_accuracy"] - seen["accuracy"]) < 1e-6  # the same model and data
    maps = np.load(f"{out}/explain/maps.npz")
    assert len(set(maps["labels"].tolist())) == 3  # three examples, three different digits
    assert (tmp_path / "run" / "mnist_test_split.png").exists()


def test_failing_training_stops_the_experiment(tmp_path, capfd):
    """A bad training argument returns its exit status and nothing is explained."""
    out = tmp_path / "run"
    assert run_experiment("mnist", str(out), train_args=["--epochs", "0"]) == 2
    assert "must be an int" in capfd.readouterr().err
    assert not (out / "explain").exists()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
