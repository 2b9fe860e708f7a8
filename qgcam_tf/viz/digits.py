"""The digit figures of ``qgcam explain`` on an MNIST run (paper Fig. 4): picked from the whole
test split, not from the few examples the grid shows.

* one correctly classified test digit per class, each with its map and ``p``;
* misclassified test digits, each with the map of the class the model predicted and the map
  of the true class.

:func:`digit_test_figures` is what :func:`qgcam_tf.viz.explanations.write_explanations`
calls for MNIST (:data:`qgcam_tf.viz.datasets.TEST_SPLIT_FIGURES`); it also saves the
chosen rows, their maps and probabilities in ``digits.npz``, so what each figure shows can
be checked without reading the PNGs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from qgcam_tf.data.registry import pick_per_class
from qgcam_tf.fileio import atomic_path
from qgcam_tf.viz.common import overlay, pyplot, save_figure

__all__ = [
    "DIGITS_NPZ",
    "digit_test_figures",
    "pick_correct_per_class",
    "pick_misclassified",
    "save_correct_figure",
    "save_misclassified_figure",
]

DIGITS_NPZ = "digits.npz"


def _check_pair(predicted, labels) -> tuple[np.ndarray, np.ndarray]:
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.ndim != 1 or predicted.shape != labels.shape:
        raise ValueError(
            f"predicted and labels must be 1-D of one length, got shapes {predicted.shape} "
            f"and {labels.shape}"
        )
    return predicted, labels


def pick_correct_per_class(predicted, labels, n_classes: int, seed: int = 0) -> np.ndarray:
    """One correctly classified example of each class, drawn with ``seed``.

    Args:
        predicted / labels: ``[N]`` predicted and true classes.
        n_classes: classes to pick for.
        seed: which example of each class.

    Returns:
        int64 ``[n_classes]``: the index of an example with label ``c`` predicted ``c``, for
        each class ``c``; -1 where no example of ``c`` is classified correctly.

    Raises:
        ValueError: the arrays are not 1-D of one length.
    """
    predicted, labels = _check_pair(predicted, labels)
    rng = np.random.default_rng(seed)
    picked = np.full(n_classes, -1, np.int64)
    for c in range(n_classes):
        right = np.flatnonzero((labels == c) & (predicted == c))
        if right.size:
            picked[c] = right[rng.integers(right.size)]
    return picked


def pick_misclassified(predicted, labels, count: int, n_classes: int, seed: int = 0) -> np.ndarray:
    """Up to ``count`` misclassified examples, spread over their true classes (one of each
    class first, as :func:`qgcam_tf.data.registry.pick_per_class` picks).

    Returns:
        int64 ``[min(count, number misclassified)]`` indices into ``labels``.

    Raises:
        ValueError: the arrays are not 1-D of one length, or ``count`` < 1.
    """
    predicted, labels = _check_pair(predicted, labels)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be an int >= 1, got {count!r}")
    wrong = np.flatnonzero(predicted != labels)
    if wrong.size == 0:
        return np.zeros(0, np.int64)
    return wrong[pick_per_class(labels[wrong], int(count), n_classes, seed)].astype(np.int64)


def _digit(ax, image) -> None:
    ax.imshow(np.asarray(image)[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    ax.axis("off")


def _map(ax, image, heat) -> None:
    ax.imshow(overlay(image, heat))
    ax.axis("off")


def save_correct_figure(
    images: np.ndarray,
    maps: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    path: str,
    *,
    title: str = "QGrad-CAM",
    dpi: int = 120,
) -> str:
    """One column per digit: the digit over its map, titled with the class and ``p``.

    Args:
        images: ``[B, H, W, 1]`` in [0, 1] (B = one per class).
        maps: ``[B, H, W]`` maps of the predicted (= true) class.
        probabilities: ``[B]`` the model's probability of that class.
        class_names: ``B`` names, column titles.
        path: PNG to write.
        title: the method, in the figure title.

    Raises:
        ValueError: the shapes disagree or there is nothing to draw.
    """
    images, maps = np.asarray(images, np.float32), np.asarray(maps, np.float32)
    n = len(images)
    if n == 0 or maps.shape != images.shape[:3] or not len(probabilities) == len(class_names) == n:
        raise ValueError(
            f"need B >= 1 images [B, H, W, 1], maps [B, H, W], B probabilities and names; got "
            f"{images.shape}, {maps.shape}, {len(probabilities)}, {len(class_names)}"
        )
    plt = pyplot()
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.0), squeeze=False)
    for i in range(n):
        _digit(axes[0, i], images[i])
        axes[0, i].set_title(f"{class_names[i]}\np={float(probabilities[i]):.3f}", fontsize=8)
        _map(axes[1, i], images[i], maps[i])
    fig.suptitle(f"{title}: one correctly classified test digit per class", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=dpi)


def save_misclassified_figure(
    images: np.ndarray,
    maps_predicted: np.ndarray,
    maps_true: np.ndarray,
    predicted: Sequence[int],
    labels: Sequence[int],
    probabilities: np.ndarray,
    class_names: Sequence[str],
    path: str,
    *,
    title: str = "QGrad-CAM",
    dpi: int = 120,
) -> str:
    """One column per misclassified digit: the digit, the map of the predicted class, the
    map of the true class.

    Args:
        images: ``[B, H, W, 1]`` in [0, 1].
        maps_predicted / maps_true: ``[B, H, W]`` maps of the predicted and the true class.
        predicted / labels: ``[B]`` class indices.
        probabilities: ``[B, C]`` the model's output.
        class_names: one name per class index.
        path: PNG to write.
        title: the method, in the figure title.

    Raises:
        ValueError: the shapes disagree or there is nothing to draw.
    """
    images = np.asarray(images, np.float32)
    n = len(images)
    shapes = {np.shape(maps_predicted), np.shape(maps_true)}
    if n == 0 or shapes != {images.shape[:3]} or not len(predicted) == len(labels) == n:
        raise ValueError(
            f"need B >= 1 images [B, H, W, 1], two maps [B, H, W] and B classes; got "
            f"{images.shape}, {sorted(shapes)}, {len(predicted)}, {len(labels)}"
        )
    plt = pyplot()
    fig, axes = plt.subplots(3, n, figsize=(1.3 * n, 4.3), squeeze=False)
    for i in range(n):
        p, t = int(predicted[i]), int(labels[i])
        _digit(axes[0, i], images[i])
        axes[0, i].set_title(
            f"true {class_names[t]}\npred {class_names[p]} ({probabilities[i][p]:.2f})",
            fontsize=7,
        )
        _map(axes[1, i], images[i], maps_predicted[i])
        axes[1, i].set_title(f"map '{class_names[p]}'", fontsize=7)
        _map(axes[2, i], images[i], maps_true[i])
        axes[2, i].set_title(f"map '{class_names[t]}' ({probabilities[i][t]:.2f})", fontsize=7)
    fig.suptitle(
        f"{title}: misclassified test digits, maps of the predicted and true class", fontsize=9
    )
    fig.tight_layout()
    return save_figure(fig, path, dpi=dpi)


def digit_test_figures(
    out_dir: str,
    cam,
    x_test: np.ndarray,
    y_test: np.ndarray,
    metadata: dict,
    *,
    method: str = "qgradcam",
    title: str = "QGrad-CAM",
    count: int = 10,
    seed: int = 0,
    batch_size: int = 256,
) -> list[str]:
    """Predicts the whole test split, then draws one correct digit per class and up to
    ``count`` misclassified ones with ``cam``'s maps, and saves what was drawn.

    Args:
        out_dir: folder to write into.
        cam: a CAM object (:func:`qgcam_tf.explain.cams.make_cam`) of the run's model.
        x_test / y_test: the test split, ``[N, H, W, 1]`` and ``[N]``.
        metadata: the run's metadata (class names).
        method / title: the method's name (file names) and title (figure titles).
        count: misclassified digits to show at most.
        seed: which digits.
        batch_size: prediction batch.

    Returns:
        The paths written: ``<method>_digits_per_class.png`` (when some digit is classified
        correctly), ``<method>_misclassified.png`` (when some is not) and ``digits.npz``,
        which holds ``correct_index`` (-1 for a class with no correct digit), ``correct_maps``,
        ``correct_probability``, ``wrong_index``, ``wrong_predicted``, ``wrong_label``,
        ``wrong_maps_predicted``, ``wrong_maps_true``, ``wrong_probabilities``, the
        ``test_accuracy`` of the predictions and ``method``.

    Raises:
        ValueError: the test split is empty or its labels do not fit its images.
    """
    x_test, y_test = np.asarray(x_test, np.float32), np.asarray(y_test)
    if len(x_test) == 0 or len(x_test) != len(y_test):
        raise ValueError(
            f"need a non-empty test split with one label per image, got {len(x_test)} images "
            f"and {len(y_test)} labels"
        )
    probs = np.asarray(cam.model.predict(x_test, batch_size=batch_size, verbose=0))
    names = list(metadata.get("class_names") or [str(c) for c in range(probs.shape[1])])
    predicted = np.argmax(probs, axis=1)
    correct = pick_correct_per_class(predicted, y_test, len(names), seed)
    shown = correct[correct >= 0]
    wrong = pick_misclassified(predicted, y_test, count, len(names), seed)
    h, w = x_test.shape[1:3]
    maps_c = maps_p = maps_t = np.zeros((0, h, w), np.float32)
    if shown.size:
        maps_c = cam(x_test[shown], class_index=predicted[shown]).maps
    if wrong.size:
        maps_p = cam(x_test[wrong], class_index=predicted[wrong]).maps
        maps_t = cam(x_test[wrong], class_index=y_test[wrong]).maps
    os.makedirs(out_dir, exist_ok=True)
    written = []
    if shown.size:
        written.append(
            save_correct_figure(
                x_test[shown],
                maps_c,
                probs[shown, predicted[shown]],
                [names[int(c)] for c in y_test[shown]],
                os.path.join(out_dir, f"{method}_digits_per_class.png"),
                title=title,
            )
        )
    if wrong.size:
        written.append(
            save_misclassified_figure(
                x_test[wrong],
                maps_p,
                maps_t,
                predicted[wrong],
                y_test[wrong],
                probs[wrong],
                names,
                os.path.join(out_dir, f"{method}_misclassified.png"),
                title=title,
            )
        )
    npz = os.path.join(out_dir, DIGITS_NPZ)
    with atomic_path(npz, suffix=".npz") as tmp:
        np.savez_compressed(
            tmp,
            correct_index=correct,
            correct_maps=maps_c,
            correct_probability=probs[shown, predicted[shown]],
            wrong_index=wrong,
            wrong_predicted=predicted[wrong],
            wrong_label=y_test[wrong],
            wrong_maps_predicted=maps_p,
            wrong_maps_true=maps_t,
            wrong_probabilities=probs[wrong],
            test_accuracy=np.float64(np.mean(predicted == y_test)),
            method=np.array(method),
        )
    written.append(npz)
    return written
