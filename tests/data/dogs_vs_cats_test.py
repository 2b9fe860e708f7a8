"""Tests of qgcam_tf.data.dogs_vs_cats: layouts, decoding, skipping broken files, augmentation."""

from __future__ import annotations

import logging
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.data import dogs_vs_cats as dvc
from qgcam_tf.testing.data import shared_data


def _write_image(path: str, rng, size=(40, 56), fmt="jpg") -> np.ndarray:
    pixels = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
    encoded = tf.io.encode_jpeg(pixels, quality=95) if fmt == "jpg" else tf.io.encode_png(pixels)
    tf.io.write_file(path, encoded)
    return pixels


def _kaggle_folder(folder, n_per_class: int, rng) -> None:
    os.makedirs(folder, exist_ok=True)
    for i in range(n_per_class):
        for name in ("cat", "dog"):
            _write_image(os.path.join(str(folder), f"{name}.{i}.jpg"), rng)


def test_shared_mini_layout_train_and_test():
    """dogs-vs-cats-mini: 1000 train and 200 test photos, labels from the Kaggle names."""
    root = shared_data("dogs-vs-cats-mini")
    found = dvc.find_photos(root)
    assert found["class_names"] == ("cat", "dog") and found["test_source"] == "folder"
    for split, n in (("train", 1000), ("test", 200)):
        paths, labels = found[split]
        assert len(paths) == n and np.bincount(labels).tolist() == [n // 2, n // 2]
        assert all(
            os.path.basename(p).startswith(dvc.CLASS_NAMES[y]) for p, y in zip(paths, labels)
        )
    # the train/ folder alone: a held-out part of it becomes the test split
    held = dvc.find_photos(os.path.join(root, "train"), test_fraction=0.1)
    assert held["test_source"] == "held out"
    assert len(held["train"][0]) + len(held["test"][0]) == 1000
    assert 60 < len(held["test"][0]) < 140 and not set(held["train"][0]) & set(held["test"][0])


def test_shared_mini_bundle_and_load_files():
    """The bundle's test images equal what load_files makes of the same JPEGs; the default
    backbone pads by reflection and has no dropout, and option dropout sets its rate."""
    root = shared_data("dogs-vs-cats-mini")
    bundle = dvc.load_dogs_vs_cats({"data_dir": root, "limit": 16, "image_size": 32})
    assert bundle.n_train == 16 and bundle.n_test == 200 and bundle.input_shape == (32, 32, 3)
    assert bundle.model_kwargs == {
        "conv_filters": (16, 32, 64, 128),
        "padding": "reflect",
        "dropout": 0.0,
    }
    with_dropout = dvc.load_dogs_vs_cats(
        {"data_dir": root, "limit": 4, "image_size": 16, "dropout": "0.3"}
    )
    assert with_dropout.model_kwargs["dropout"] == 0.3
    x_test, y_test = bundle.test_arrays
    paths, labels = dvc.find_photos(root)["test"]
    np.testing.assert_array_equal(y_test, labels)
    got = dvc.load_photo_files(paths[:3], bundle.metadata)
    np.testing.assert_allclose(got, x_test[:3], atol=1e-7)


def test_area_resize_matches_numpy_block_mean(tmp_path):
    """A 64x64 PNG resized to 32x32 equals the NumPy 2x2 block mean (rounded to uint8)."""
    rng = np.random.default_rng(0)
    pixels = _write_image(str(tmp_path / "cat.1.png"), rng, size=(64, 64), fmt="png")
    images, labels, skipped = dvc.read_photos([str(tmp_path / "cat.1.png")], np.array([0]), size=32)
    ref = pixels.astype(np.float64).reshape(32, 2, 32, 2, 3).mean(axis=(1, 3))
    assert skipped == [] and labels.tolist() == [0]
    np.testing.assert_allclose(images[0].astype(np.float64), ref, atol=0.51)


def test_broken_files_are_skipped_and_counted(tmp_path, caplog):
    """Empty, truncated and non-image files are skipped; the log says how many."""
    rng = np.random.default_rng(1)
    _kaggle_folder(tmp_path, 8, rng)
    (tmp_path / "cat.100.jpg").write_bytes(b"")
    (tmp_path / "dog.101.jpg").write_bytes(b"definitely not a jpeg" * 10)
    good = (tmp_path / "cat.0.jpg").read_bytes()
    (tmp_path / "dog.102.jpg").write_bytes(good[:40])
    with caplog.at_level(logging.WARNING, logger="qgcam_tf.data.dogs_vs_cats"):
        bundle = dvc.load_dogs_vs_cats(
            {"data_dir": str(tmp_path), "test_fraction": 0.5, "image_size": 16}
        )
    assert bundle.n_train + bundle.n_test == 16
    counts = [int(part.split()[0]) for part in caplog.text.split("skipped ")[1:]]
    assert sum(counts) == 3
    x, _ = bundle.test_arrays
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0


def test_class_folder_layout(tmp_path):
    """cats/ and dogs/ folders give the classes cat and dog."""
    rng = np.random.default_rng(2)
    for name in ("cats", "dogs"):
        os.makedirs(tmp_path / name)
        for i in range(5):
            _write_image(str(tmp_path / name / f"img{i}.jpg"), rng)
    found = dvc.find_photos(str(tmp_path), test_fraction=0.4)
    assert found["class_names"] == ("cat", "dog")
    all_paths = found["train"][0] + found["test"][0]
    all_labels = np.concatenate([found["train"][1], found["test"][1]])
    assert len(all_paths) == 10
    assert all(
        os.path.basename(os.path.dirname(p)) == dvc.CLASS_NAMES[y] + "s"
        for p, y in zip(all_paths, all_labels)
    )


def test_unlabelled_kaggle_test1_is_not_a_test_split(tmp_path, caplog):
    """Kaggle's unlabelled test1/ (N.jpg) falls back to a held-out part of train/."""
    rng = np.random.default_rng(3)
    _kaggle_folder(tmp_path / "train", 6, rng)
    os.makedirs(tmp_path / "test")
    _write_image(str(tmp_path / "test" / "1.jpg"), rng)
    with caplog.at_level(logging.WARNING, logger="qgcam_tf.data.dogs_vs_cats"):
        found = dvc.find_photos(str(tmp_path), test_fraction=0.5)
    assert found["test_source"] == "held out" and "no labelled photos" in caplog.text


@pytest.mark.parametrize(
    "setup,error,match",
    [
        ("missing", FileNotFoundError, "does not exist"),
        ("empty", ValueError, "holds no labelled photos"),
        ("one_class", ValueError, "need at least two"),
        ("bad_fraction", ValueError, "test_fraction"),
    ],
)
def test_directory_errors(tmp_path, setup, error, match):
    """A missing, empty or one-class directory fails with one clear error."""
    data_dir = str(tmp_path / "photos")
    fraction = 0.1
    if setup != "missing":
        os.makedirs(data_dir)
    if setup == "one_class":
        rng = np.random.default_rng(4)
        for i in range(4):
            _write_image(os.path.join(data_dir, f"cat.{i}.jpg"), rng)
    if setup == "bad_fraction":
        fraction = 1.5
    with pytest.raises(error, match=match):
        dvc.find_photos(data_dir, test_fraction=fraction)


def test_image_size_and_file_errors(tmp_path):
    """image_size < 8, bad augment/conv_filters/padding/dropout, an empty path list, and a
    missing or broken file are named in the error."""
    with pytest.raises(ValueError, match="needs a data directory"):
        dvc.load_dogs_vs_cats({"data_dir": None})
    with pytest.raises(ValueError, match="image_size must be >= 8"):
        dvc.load_dogs_vs_cats({"data_dir": str(tmp_path), "image_size": 4})
    with pytest.raises(ValueError, match="augment must be 'none' or a comma list"):
        dvc.load_dogs_vs_cats({"data_dir": str(tmp_path), "augment": "flip,zoom"})
    with pytest.raises(ValueError, match="conv_filters must be a comma list"):
        dvc.load_dogs_vs_cats({"data_dir": str(tmp_path), "conv_filters": "16,x"})
    with pytest.raises(ValueError, match="padding must be 'zero' or 'reflect', got 'mirror'"):
        dvc.load_dogs_vs_cats({"data_dir": str(tmp_path), "padding": "mirror"})
    for rate in ("1", "-0.2", "half"):
        with pytest.raises(
            ValueError, match=f"dropout must be a number in \\[0, 1\\), got '{rate}'"
        ):
            dvc.load_dogs_vs_cats({"data_dir": str(tmp_path), "dropout": rate})
    meta = {"input_shape": [16, 16, 3]}
    with pytest.raises(ValueError, match="no image files"):
        dvc.load_photo_files([], meta)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        dvc.load_photo_files([str(tmp_path / "x.jpg")], meta)
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable"):
        dvc.load_photo_files([str(tmp_path / "bad.jpg")], meta)


def test_augment_bounds_and_flip():
    """Augmenting a constant image changes it only by the brightness bound; a horizontal ramp
    stays a monotone ramp (flipped or not)."""
    constant = tf.fill([32, 32, 3], 0.5)
    for seed in range(5):
        out = dvc.augment(constant, seed=seed).numpy()
        assert np.ptp(out) < 1e-5 and abs(out.mean() - 0.5) <= 0.1 + 1e-6
    ramp = tf.tile(tf.linspace(0.2, 0.8, 32)[None, :, None], [32, 1, 3])
    for seed in range(5):
        row = dvc.augment(ramp, seed=seed).numpy()[16, :, 0]
        steps = np.diff(row)
        assert np.all(steps >= -1e-5) or np.all(steps <= 1e-5)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
