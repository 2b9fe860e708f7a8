"""Tests for qgcam_tf.bench.distributed: the multi-worker training throughput."""

import json
import os
import sys
import time

import numpy as np
import pytest

from qgcam_tf.bench.distributed import training_images_per_second, write_mnist_subset


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"workers": 0}, "workers must be an int in [1, 16], got 0"),
        ({"workers": 2.0}, "workers must be an int in [1, 16], got 2.0"),
        ({"workers": 1, "epochs": 1}, "epochs must be an int in [2, 1000], got 1"),
        ({"workers": 1, "n_train": 0}, "n_train must be an int in [1, 60000], got 0"),
        ({"workers": 1, "backend": "cirq"}, "backend must be 'tfq' or 'tf', got 'cirq'"),
    ],
)
def test_bad_arguments_are_refused_before_any_process_starts(tmp_path, kwargs, match):
    """Each bad argument is one ValueError naming it and its value; nothing is written."""
    with pytest.raises(ValueError, match=match.replace("[", r"\[").replace("]", r"\]")):
        training_images_per_second(out=str(tmp_path / "out"), **kwargs)
    assert not (tmp_path / "out").exists()


def test_the_subset_holds_the_first_digits_as_bytes(tmp_path):
    """The .npz holds the embedded MNIST's first digits, as uint8 [N, 28, 28] that round back."""
    from qgcam_tf.data.mnist import load_mnist

    data = np.load(write_mnist_subset(str(tmp_path / "d.npz"), 5, n_test=3))
    (x, y), (xt, yt) = load_mnist(None)
    assert data["x_train"].dtype == np.uint8 and data["x_train"].shape == (5, 28, 28)
    np.testing.assert_allclose(data["x_train"] / 255, x[:5, ..., 0], atol=0.5 / 255 + 1e-3)
    np.testing.assert_array_equal(data["y_train"], y[:5])
    np.testing.assert_array_equal(data["y_test"], yt[:3])


def test_one_worker_rate_is_the_chiefs_later_epochs(tmp_path):
    """A one-worker cluster's rate is n_train over the median of its later epochs' seconds
    (from the chief's progress.json), and at least n_train / the whole call's wall time."""
    start = time.perf_counter()
    rate = training_images_per_second(
        1, n_train=64, epochs=2, batch_size=32, backend="tf", out=str(tmp_path), timeout_s=600
    )
    wall = time.perf_counter() - start
    with open(os.path.join(tmp_path, "run-1", "progress.json")) as f:
        progress = json.load(f)
    assert progress["settings"]["steps_per_epoch"] == 2 and progress["epochs_done"] == 2
    assert rate == pytest.approx(64 / progress["epoch_seconds"][1], rel=1e-12)
    assert 64 / wall < rate < float("inf")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
