"""Dogs vs. Cats photographs (the paper's Fig. 5 experiment).

Layouts read (``data_dir``):

* Kaggle: ``DIR/cat.N.jpg`` and ``DIR/dog.N.jpg`` (the label is the name before the first dot);
* class folders: ``DIR/<class>/*.jpg`` (one folder per class, e.g. ``cats/``, ``dogs/``);
* either of them under ``DIR/train/`` with an optional labelled ``DIR/test/`` beside it
  (``dogs-vs-cats-mini``). Kaggle's unlabelled ``test1/`` (``N.jpg``) is not a test split.

Without a labelled test folder (the full 25k Kaggle ``train/``), a deterministic
``test_fraction`` (default 0.1) of the files is held out. Option ``test_dir`` names a
test folder explicitly.

Every photo is decoded once (JPEG/PNG/BMP/GIF), resized to ``image_size`` x ``image_size``
RGB (default 64) and kept as uint8 in memory; unreadable files are skipped and counted in
the log. Training batches are augmented inside ``tf.data``: option ``augment``, a comma list
of ``flip`` (horizontal), ``crop`` (a random crop of up to 1/8 of the side) and ``brightness``
(+-0.1), or ``none``; default ``flip``.

Options: ``image_size``, ``augment``, ``conv_filters`` (comma list, default ``16,32,64,128``:
the last block is ``qgcam_conv``, after three poolings), ``padding`` (``reflect``, the default,
or ``zero``: how the conv blocks pad), ``dropout`` (rate of a Dropout on the pooled features
before the encoding Dense, default 0: none), ``test_dir``, ``test_fraction``, ``limit``,
``seed``, ``batch_size``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from qgcam_tf.data.images import fit_image
from qgcam_tf.data.registry import DatasetAdapter, DatasetBundle, register, split_validation

__all__ = [
    "CLASS_NAMES",
    "find_photos",
    "read_photos",
    "augment",
    "load_dogs_vs_cats",
    "load_photo_files",
]

log = logging.getLogger(__name__)
CLASS_NAMES = ("cat", "dog")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def _images_in(folder: str) -> list[str]:
    return sorted(
        os.path.join(folder, f)
        for f in os.listdir(folder)
        if f.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(folder, f))
    )


def _subdirs(folder: str) -> dict[str, str]:
    return {
        d.lower(): os.path.join(folder, d)
        for d in sorted(os.listdir(folder))
        if os.path.isdir(os.path.join(folder, d))
    }


def _labelled(folder: str) -> tuple[list[str], list[str]]:
    """``(paths, label names)`` of one folder in Kaggle or class-folder layout."""
    paths, names = [], []
    for p in _images_in(folder):  # Kaggle: cat.123.jpg
        stem = os.path.basename(p).split(".")
        if len(stem) >= 3 and stem[0].isalpha():
            paths.append(p)
            names.append(stem[0].lower())
    if paths:
        return paths, names
    for name, sub in _subdirs(folder).items():  # class folders
        if name in ("train", "test", "test1", "valid", "validation"):
            continue
        files = _images_in(sub)
        paths += files
        names += [name] * len(files)
    return paths, names


def _class_of(name: str) -> str:
    # Kaggle prefixes are "cat"/"dog"; class folders are often "cats"/"dogs"
    return name[:-1] if name in ("cats", "dogs") else name


def find_photos(
    data_dir: str, *, test_dir: str | None = None, test_fraction: float = 0.1, seed: int = 0
) -> dict:
    """Labelled photo paths by split.

    Returns:
        ``{"class_names": (...), "train": (paths, labels), "test": (paths, labels),
        "test_source": "folder" | "held out"}``

    Raises:
        FileNotFoundError: ``data_dir`` (or ``test_dir``) does not exist.
        ValueError: no labelled photos, fewer than two classes, or a bad ``test_fraction``.
    """
    if not data_dir:
        raise ValueError(
            "dogs-vs-cats needs a data directory (--data-dir): Kaggle train/ or class folders"
        )
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"Dogs vs Cats directory {data_dir!r} does not exist")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    subs = _subdirs(data_dir)
    train_dir = subs.get("train", data_dir)
    if test_dir is None and "train" in subs and "test" in subs:
        test_dir = subs["test"]
    train_paths, train_names = _labelled(train_dir)
    if not train_paths:
        raise ValueError(
            f"{train_dir!r} holds no labelled photos: expected cat.N.jpg / dog.N.jpg files "
            "(Kaggle layout) or one sub-folder of images per class"
        )
    test_paths, test_names, source = [], [], "held out"
    if test_dir is not None:
        if not os.path.isdir(test_dir):
            raise FileNotFoundError(f"test directory {test_dir!r} does not exist")
        test_paths, test_names = _labelled(test_dir)
        source = "folder"
        if not test_paths:
            log.warning(
                "%s has no labelled photos (Kaggle's test1?): holding out %.0f%% of train",
                test_dir,
                100 * test_fraction,
            )
            source = "held out"
    if source == "held out":
        held = [_hash01(os.path.basename(p), seed) < test_fraction for p in train_paths]
        test_paths = [p for p, h in zip(train_paths, held) if h]
        test_names = [n for n, h in zip(train_names, held) if h]
        train_paths = [p for p, h in zip(train_paths, held) if not h]
        train_names = [n for n, h in zip(train_names, held) if not h]
    class_names = tuple(sorted({_class_of(n) for n in train_names}))
    if len(class_names) < 2:
        raise ValueError(f"{train_dir!r} holds only the class(es) {class_names}; need at least two")
    unknown = sorted({_class_of(n) for n in test_names} - set(class_names))
    if unknown:
        raise ValueError(f"test photos have classes {unknown} not seen in training {class_names}")
    index = {c: i for i, c in enumerate(class_names)}
    return {
        "class_names": class_names,
        "train": (train_paths, np.array([index[_class_of(n)] for n in train_names], np.int64)),
        "test": (test_paths, np.array([index[_class_of(n)] for n in test_names], np.int64)),
        "test_source": source,
    }


def _hash01(name: str, seed: int) -> float:
    return int(hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _decode(path: str, size: int, fit: str = "stretch", source: str | None = None) -> np.ndarray:
    # training stretches every photo to a square (fit="stretch"); qgcam predict/explain --fit
    # may pad or crop instead, and name the photo (source) to warn about its aspect ratio
    raw = tf.io.read_file(path)
    image = tf.io.decode_image(raw, channels=3, expand_animations=False)
    image = fit_image(image, (size, size), fit, method="area", antialias=False, source=source)
    return np.clip(np.round(image.numpy()), 0, 255).astype(np.uint8)


def read_photos(paths: Sequence[str], labels: np.ndarray, *, size: int, what: str = "photos"):
    """Decodes and resizes photos to uint8 ``[N, size, size, 3]``; unreadable ones are skipped.

    Returns:
        ``(images, labels, skipped_paths)``.
    """
    from tqdm.auto import tqdm

    images, kept, skipped = [], [], []
    for p, y in zip(tqdm(paths, desc=f"reading {what}", unit="photo", leave=False), labels):
        try:
            images.append(_decode(p, size))
            kept.append(y)
        except (tf.errors.InvalidArgumentError, tf.errors.OpError):
            skipped.append(p)
    if skipped:
        log.warning(
            "%s: skipped %d unreadable file(s) of %d, e.g. %s",
            what,
            len(skipped),
            len(paths),
            skipped[0],
        )
    if not images:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros((0,), np.int64), skipped
    return np.stack(images), np.asarray(kept, np.int64), skipped


AUGMENTATIONS = ("flip", "crop", "brightness")


def augment(image: tf.Tensor, *, seed: int = 0, kinds: Sequence[str] = AUGMENTATIONS) -> tf.Tensor:
    """Random horizontal flip, crop (up to 1/8 of each side) and brightness (+-0.1)."""
    size = tf.shape(image)[0]
    if "flip" in kinds:
        image = tf.image.random_flip_left_right(image, seed=seed)
    if "crop" in kinds:
        pad = tf.maximum(size // 8, 1)
        bigger = tf.image.resize(image, (size + pad, size + pad), method="bilinear")
        image = tf.image.random_crop(bigger, tf.shape(image), seed=seed)
    if "brightness" in kinds:
        image = tf.image.random_brightness(image, 0.1, seed=seed)
    return tf.clip_by_value(image, 0.0, 1.0)


# Default: flips only. With crop and brightness too, the model's inference-mode accuracy on its
# own (unaugmented) training photos fell well below its training-mode accuracy, and test
# accuracy on dogs-vs-cats-mini was lower (classical twin 0.605 vs 0.64; docs/experiments.md).
AUGMENT_DEFAULT = ("flip",)


def _augmentations(value) -> tuple[str, ...]:
    if value is None:
        return AUGMENT_DEFAULT
    kinds = tuple(k.strip() for k in str(value).split(",") if k.strip() and k.strip() != "none")
    bad = [k for k in kinds if k not in AUGMENTATIONS]
    if bad:
        raise ValueError(
            f"augment must be 'none' or a comma list of {AUGMENTATIONS}, got {value!r}"
        )
    return kinds


def _conv_filters(value) -> tuple[int, ...]:
    # default: four conv blocks, three poolings -> qgcam_conv is size/8 (8 x 8 on 64 x 64); the
    # three-block (16, 32, 64) backbone sees too little of a photo (receptive field ~18 px) and
    # stayed near chance on the 1000-photo sample (docs/experiments.md)
    if value is None:
        return (16, 32, 64, 128)
    try:
        filters = tuple(int(v) for v in str(value).split(",") if v.strip())
    except ValueError:
        filters = ()
    if not filters or min(filters) < 1:
        raise ValueError(f"conv_filters must be a comma list of positive ints, got {value!r}")
    return filters


PADDING_DEFAULT = "reflect"


def _padding(value) -> str:
    # default reflect: with zero padding the conv blocks see a dark frame around every photo,
    # and the maps piled up along it (docs/experiments.md, "Why the maps failed")
    padding = PADDING_DEFAULT if value is None else str(value).strip()
    if padding not in ("zero", "reflect"):
        raise ValueError(f"padding must be 'zero' or 'reflect', got {value!r}")
    return padding


def _dropout(value) -> float:
    # default 0: no Dropout layer, the models of every run before the option existed
    try:
        rate = 0.0 if value is None else float(value)
    except ValueError:
        rate = -1.0
    if not 0 <= rate < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {value!r}")
    return rate


def load_dogs_vs_cats(options: dict) -> DatasetBundle:
    """Builds the training and test pipelines (see the module docstring for the options).

    Raises:
        FileNotFoundError: the directory does not exist.
        ValueError: bad options, or no readable photos.
    """
    size = int(options.get("image_size") or 64)
    if size < 8:
        raise ValueError(f"image_size must be >= 8, got {size}")
    seed = int(options.get("seed") or 0)
    batch = int(options.get("batch_size") or 32)
    kinds = _augmentations(options.get("augment"))
    filters = _conv_filters(options.get("conv_filters"))
    padding = _padding(options.get("padding"))
    dropout = _dropout(options.get("dropout"))
    found = find_photos(
        options.get("data_dir"),
        test_dir=options.get("test_dir"),
        test_fraction=float(options.get("test_fraction", 0.1)),
        seed=seed,
    )
    paths, labels = found["train"]
    if options.get("limit"):
        keep = np.random.default_rng(seed).permutation(len(paths))[: int(options["limit"])]
        paths, labels = [paths[i] for i in keep], labels[keep]
    x_tr, y_tr, _ = read_photos(paths, labels, size=size, what="train photos")
    x_te, y_te, _ = read_photos(*found["test"], size=size, what="test photos")
    if len(x_tr) == 0 or len(x_te) == 0:
        raise ValueError(f"no readable photos in the {'train' if len(x_tr) == 0 else 'test'} split")
    log.info(
        "dogs-vs-cats: %d train, %d test (%s) photos at %dx%d",
        len(x_tr),
        len(x_te),
        found["test_source"],
        size,
        size,
    )
    x_te = x_te.astype(np.float32) / 255.0
    (x_tr, y_tr), (x_va, y_va) = split_validation(x_tr, y_tr, options)
    train = (
        tf.data.Dataset.from_tensor_slices((x_tr, y_tr))
        .shuffle(len(x_tr), seed=seed, reshuffle_each_iteration=True)
        .map(
            lambda x, y: (augment(tf.cast(x, tf.float32) / 255.0, seed=seed, kinds=kinds), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .batch(batch)
        .prefetch(tf.data.AUTOTUNE)
    )
    shape = (size, size, 3)
    return DatasetBundle(
        train=train,
        test=tf.data.Dataset.from_tensor_slices((x_te, y_te)).batch(256),
        input_shape=shape,
        class_names=found["class_names"],
        n_train=len(x_tr),
        n_test=len(x_te),
        model_kwargs={"conv_filters": filters, "padding": padding, "dropout": dropout},
        metadata={
            "dataset": "dogs-vs-cats",
            "input_shape": list(shape),
            "test_split": found["test_source"],
            # what `load` needs to rebuild this test split (e.g. for `qgcam explain`)
            "options": {
                "data_dir": options.get("data_dir"),
                "image_size": size,
                "test_dir": options.get("test_dir"),
                "augment": ",".join(kinds) or "none",
                "test_fraction": float(options.get("test_fraction", 0.1)),
            },
        },
        test_arrays=(x_te, y_te),
        validation=tf.data.Dataset.from_tensor_slices(
            (x_va.astype(np.float32) / 255.0, y_va)
        ).batch(256)
        if len(x_va)
        else None,
        n_validation=len(x_va),
    )


def load_photo_files(paths: Sequence[str], metadata: dict) -> np.ndarray:
    """Photos as model inputs, float32 ``[B, H, W, 3]``, decoded and resized as in training.

    ``metadata["fit"]`` (default ``stretch``, as in training) says how a photo of another
    aspect ratio is fitted (:func:`qgcam_tf.data.images.fit_image`; ``pad``'s bars are black).

    Raises:
        FileNotFoundError: a file does not exist.
        ValueError: no paths, or a file is not a readable image.
    """
    if not paths:
        raise ValueError("no image files given")
    size = int(metadata.get("input_shape", (64, 64, 3))[0])
    fit = metadata.get("fit") or "stretch"
    out = []
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"image file {p!r} does not exist")
        try:
            out.append(_decode(p, size, fit, source=p))
        except (tf.errors.InvalidArgumentError, tf.errors.OpError):
            raise ValueError(f"{p!r} is not a readable JPEG/PNG/BMP/GIF image") from None
    return np.stack(out).astype(np.float32) / 255.0


def _load_files(paths, metadata: dict) -> np.ndarray:
    return load_photo_files(paths, metadata)


register(
    DatasetAdapter(
        "dogs-vs-cats",
        load_dogs_vs_cats,
        _load_files,
        "Kaggle Dogs vs. Cats photos (cat.N.jpg / dog.N.jpg, or class folders)",
    )
)
