"""Tests of qgcam_tf.data.images: picture files and .npy arrays read into model inputs."""

import sys
import warnings

import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.data.checks import InputWarning
from qgcam_tf.data.images import fit_image, load_array, load_image, load_images

# ITU-R BT.601 luma, the weights tf.image.rgb_to_grayscale uses
LUMA = np.array([0.2989, 0.587, 0.114])


def _png(path, pixels: np.ndarray) -> str:
    """Writes uint8 ``[H, W, C]`` pixels as a PNG."""
    tf.io.write_file(str(path), tf.io.encode_png(tf.constant(pixels, tf.uint8)))
    return str(path)


@pytest.fixture
def rgb(tmp_path):
    """A 4 x 6 RGB PNG of random pixels, and the pixels."""
    pixels = np.random.default_rng(0).integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    return _png(tmp_path / "rgb.png", pixels), pixels


def test_same_size_reads_exact_values(rgb):
    """At the file's own size, RGB pixels come back as value / 255."""
    path, pixels = rgb
    np.testing.assert_allclose(load_image(path, (4, 6, 3)), pixels / 255.0, atol=1e-6)


def test_colour_conversions(rgb, tmp_path):
    """RGB -> grey by luminance, grey -> RGB by repetition, RGBA and grey + alpha lose alpha."""
    path, pixels = rgb
    grey = load_image(path, (4, 6, 1))[..., 0]
    np.testing.assert_allclose(grey, pixels @ LUMA / 255.0, atol=1.5 / 255)
    grey_png = _png(tmp_path / "grey.png", pixels[..., :1])
    np.testing.assert_allclose(
        load_image(grey_png, (4, 6, 3)), np.repeat(pixels[..., :1], 3, -1) / 255.0, atol=1e-6
    )
    alpha = np.full((4, 6, 1), 7, np.uint8)
    rgba_png = _png(tmp_path / "rgba.png", np.concatenate([pixels, alpha], -1))
    np.testing.assert_allclose(load_image(rgba_png, (4, 6, 3)), pixels / 255.0, atol=1e-6)
    ga_png = _png(tmp_path / "ga.png", np.concatenate([pixels[..., :1], alpha], -1))
    np.testing.assert_allclose(load_image(ga_png, (4, 6, 1)), pixels[..., :1] / 255.0, atol=1e-6)


def test_resize_keeps_a_flat_image_flat_and_in_range(tmp_path):
    """Any size is accepted: a flat grey file stays that grey at the model's size."""
    path = _png(tmp_path / "flat.png", np.full((30, 17, 1), 128, np.uint8))
    with pytest.warns(InputWarning, match="aspect ratio 0.57"):
        out = load_image(path, (8, 8, 1))
    assert out.shape == (8, 8, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out, 128 / 255.0, atol=1e-6)


def test_unreadable_files(tmp_path):
    """A missing file is FileNotFoundError, a file that is no picture ValueError."""
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image(str(tmp_path / "nope.png"), (4, 4, 1))
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(ValueError, match="is not a readable PNG/JPEG/GIF/BMP image"):
        load_image(str(text), (4, 4, 1))


def test_load_array_checks(tmp_path):
    """One [H, W, C] array gets a batch axis; wrong shape, dtype, NaN and values outside
    [0, 1] raise ValueError naming the file."""
    good = np.random.default_rng(1).uniform(size=(4, 4, 1)).astype(np.float64)
    np.save(tmp_path / "one.npy", good)
    out = load_array(str(tmp_path / "one.npy"), (4, 4, 1))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, good[None], atol=1e-7)
    cases = {
        "shape": (np.zeros((2, 4, 5, 1)), r"images must have shape \[B, 4, 4, 1\]"),
        "dtype": (np.zeros((4, 4, 1), bool), "images must be numeric, got dtype bool"),
        "nan": (np.full((4, 4, 1), np.nan), "NaN or infinite"),
        "range": (np.full((4, 4, 1), 2.0), r"pixel values must be in \[0, 1\], got \[2.0, 2.0\]"),
    }
    for name, (array, message) in cases.items():
        np.save(tmp_path / f"{name}.npy", array)
        with pytest.raises(ValueError, match=message):
            load_array(str(tmp_path / f"{name}.npy"), (4, 4, 1))
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="is not a readable .npy file"):
        load_array(str(tmp_path / "bad.npy"), (4, 4, 1))
    with pytest.raises(FileNotFoundError):
        load_array(str(tmp_path / "missing.npy"), (4, 4, 1))


def test_load_array_reads_only_the_npy_format_and_refuses_an_empty_batch(tmp_path):
    """An empty file, a zip, a pickle and a batch of 0 images are one ValueError naming the
    file (np.load would raise EOFError or BadZipFile, or open the zip as an .npz)."""
    import io
    import pickle
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("x.npy", b"")
    files = {
        "empty.npy": (b"", r"empty\.npy' is not a readable \.npy file: EOF"),
        "zip.npy": (buffer.getvalue(), r"zip\.npy' is not a readable \.npy file: the magic"),
        "pickle.npy": (pickle.dumps([1, 2]), r"pickle\.npy' is not a readable \.npy file"),
    }
    for name, (data, message) in files.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=message):
            load_array(str(tmp_path / name), (4, 4, 1))
    np.save(tmp_path / "none.npy", np.zeros((0, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"none\.npy' holds no images \(shape \(0, 4, 4, 1\)\)"):
        load_array(str(tmp_path / "none.npy"), (4, 4, 1))


def test_load_images_stacks_files_and_arrays_in_order(rgb, tmp_path):
    """Pictures and .npy batches are stacked in the order given; no paths is an error."""
    path, pixels = rgb
    batch = np.random.default_rng(2).uniform(size=(2, 4, 6, 3)).astype(np.float32)
    np.save(tmp_path / "batch.npy", batch)
    out = load_images([str(tmp_path / "batch.npy"), path], (4, 6, 3))
    np.testing.assert_allclose(out[:2], batch)
    np.testing.assert_allclose(out[2], pixels / 255.0, atol=1e-6)
    with pytest.raises(ValueError, match="no image files given"):
        load_images([], (4, 6, 3))


@pytest.fixture
def wide(tmp_path):
    """A 2:1 grey PNG (8 rows, 16 columns) of random pixels, and the pixels / 255."""
    pixels = np.random.default_rng(4).integers(0, 256, size=(8, 16, 1), dtype=np.uint8)
    return _png(tmp_path / "wide.png", pixels), pixels / 255.0


def test_a_far_aspect_ratio_warns_under_stretch_and_is_stretched(wide):
    """A 2:1 picture for a square input warns (naming the file and what was done) and is
    resized to 8x8 as before; a square picture does not warn."""
    path, x = wide
    with pytest.warns(InputWarning, match=r"wide.png: aspect ratio 2.00 \(16x8\).*stretched"):
        out = load_image(path, (8, 8, 1))
    expected = tf.image.resize(x, (8, 8), method="bilinear", antialias=True).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(out[:, 0], x[:, :2].mean(1), atol=0.2)  # columns squeezed
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        load_image(path, (4, 8, 1))  # same ratio, no warning


def test_crop_keeps_the_centre_and_pad_letterboxes(wide):
    """--fit crop of a 16x8 picture into 8x8 is its centre columns 4..11 exactly; --fit pad
    of it into 16x16 is the picture between two 4-row bars of background."""
    path, x = wide
    with pytest.warns(InputWarning, match="centre-cropped"):
        crop = load_image(path, (8, 8, 1), fit="crop")
    np.testing.assert_allclose(crop, x[:, 4:12], atol=1e-6)
    with pytest.warns(InputWarning, match="letterboxed"):
        pad = load_image(path, (16, 16, 1), fit="pad")
    expected = np.zeros((16, 16, 1))
    expected[4:12] = x
    np.testing.assert_allclose(pad, expected, atol=1e-6)
    with pytest.warns(InputWarning):
        white = load_image(path, (16, 16, 1), fit="pad", background=1.0)
    np.testing.assert_allclose(white[:4], 1.0)
    with pytest.raises(ValueError, match="fit must be one of stretch, pad, crop, got 'fill'"):
        load_image(path, (8, 8, 1), fit="fill")


def test_fit_image_geometry_with_resizing():
    """Pad scales a tall 12x6 flat picture into 8x4 and centres it in 8x8 with bars of 2
    columns, and an odd leftover goes below; crop of a 6x12 ramp keeps its middle 6x6; area
    stretch averages column pairs."""
    tall = np.full((12, 6, 1), 0.7, np.float32)
    pad = fit_image(tall, (8, 8), "pad").numpy()
    expected = np.zeros((8, 8, 1))
    expected[:, 2:6] = 0.7
    np.testing.assert_allclose(pad, expected, atol=1e-6)
    odd = fit_image(np.ones((4, 5, 1)), (4, 4), "pad").numpy()[..., 0]
    np.testing.assert_allclose(odd, [[1] * 4] * 3 + [[0] * 4], atol=1e-6)  # 4x5 -> 3x4, bar below
    ramp = np.tile(np.arange(12, dtype=np.float32), (6, 1))[..., None]  # columns 0..11
    crop = fit_image(ramp, (6, 6), "crop").numpy()
    np.testing.assert_allclose(crop[0, :, 0], np.arange(3, 9), atol=1e-6)
    stretch = fit_image(ramp, (6, 6), "stretch", method="area").numpy()
    np.testing.assert_allclose(stretch[0, :, 0], np.arange(6) * 2 + 0.5, atol=1e-5)


def test_load_images_fits_pictures_but_not_arrays(wide, tmp_path):
    """fit applies to the pictures of a mixed list; a .npy array is read as it is."""
    path, x = wide
    arr = np.random.default_rng(5).uniform(size=(2, 8, 8, 1)).astype(np.float32)
    np.save(tmp_path / "two.npy", arr)
    with pytest.warns(InputWarning):
        out = load_images([str(tmp_path / "two.npy"), path], (8, 8, 1), fit="crop")
    np.testing.assert_allclose(out[:2], arr)
    np.testing.assert_allclose(out[2], x[:, 4:12], atol=1e-6)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
