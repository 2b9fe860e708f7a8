"""What ``qgcam explain`` writes: a grid, one overlay per input file, the dataset's own
figures, and the raw maps, each paired with the input it came from."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence

import numpy as np

from qgcam_tf.data.checks import fitted_as, is_constant, resolve_fit
from qgcam_tf.explain import METHOD_TITLES
from qgcam_tf.explain.cams import make_cam
from qgcam_tf.fileio import atomic_path
from qgcam_tf.model.hybrid import CONV_LAYER
from qgcam_tf.model.predict import check_finite_outputs
from qgcam_tf.model.run import Run
from qgcam_tf.viz.common import save_grid, save_overlay
from qgcam_tf.viz.datasets import explain_figures, split_figures

__all__ = ["METHOD_TITLES", "write_explanations"]


def _stem(source: str) -> str:
    """A file-name stem for an input: ``digits.npy[2]`` -> ``digits_2``."""
    base = os.path.basename(source)
    match = re.fullmatch(r"(.*)\[(\d+)\]", base)
    if match:
        return f"{os.path.splitext(match.group(1))[0]}_{match.group(2)}"
    return os.path.splitext(base)[0]


def write_explanations(
    run_dir: str,
    out: str,
    *,
    paths: Sequence[str] | None = None,
    count: int = 10,
    seed: int = 0,
    data_dir: str | None = None,
    class_index: int | None = None,
    method: str = "qgradcam",
    layer: str = CONV_LAYER,
    backend: str = "tf",
    dataset: str | None = None,
    fit: str | None = None,
    aug_smooth: bool = False,
    eigen_smooth: bool = False,
    log: Callable[[str], None] = print,
) -> list[str]:
    """Explains inputs of a trained run and writes the figures and maps into ``out``.

    Args:
        run_dir: run directory of ``qgcam train``.
        out: output folder (created).
        paths: the files to explain; None explains ``count`` examples of the run's own test
            split (``seed`` picks them, spread over the classes).
        data_dir: a moved copy of the run's data.
        class_index: the class to explain for every input; None or -1: the predicted class.
        method: a CAM method (:data:`qgcam_tf.explain.cams.CAM_METHODS`).
        layer: the conv layer whose maps are weighted (a run saved from a model of one's
            own names its own).
        backend: the VQC executor (the weights are the same).
        dataset: the dataset the caller expects the run to be trained on (None: any).
        fit: how a picture of another aspect ratio is fitted to the input (``stretch``,
            ``pad``, ``crop``; None: as in training), see :meth:`Run.load_inputs`, which
            also warns about suspicious inputs (:class:`qgcam_tf.data.checks.InputWarning`).
        aug_smooth / eigen_smooth: smooth the maps (:class:`~qgcam_tf.explain.base.BaseCAM`).
        log: where progress lines go.

    Returns:
        The paths written: ``<method>_grid.png``, ``<stem>_<method>.png`` per input (a
        batch file's i-th input is ``<stem>_<i>``; a repeated stem gets ``-2``, ``-3``), the
        dataset's own figures, those drawn from its whole test split when test examples are
        explained (:func:`qgcam_tf.viz.datasets.split_figures`; MNIST: one correct
        digit per class and misclassified digits, :mod:`qgcam_tf.viz.digits`), and
        ``maps.npz`` (maps, weights, scores, probabilities, explained class, labels, the
        source of every row, how each was fitted to the input
        (``fit``: ``stretch``/``pad``/``crop`` for a picture, ``none`` otherwise), and
        ``constant``: the rows whose input is constant, whose maps are written as zeros,
        since a map of an input without content shows only the model's border response).

    Raises:
        ValueError / FileNotFoundError: a bad method, class index, count or input file, a
            ``dataset`` that is not the run's, or a model that gives NaN or infinite
            probabilities or maps (nothing is written then).
    """
    run = Run.open(run_dir)
    if dataset is not None and dataset != run.dataset:
        raise ValueError(f"--dataset {dataset} does not match the model's {run.dataset!r}")
    labels, sources = None, None
    fit = resolve_fit(fit, run.metadata)
    if paths:
        images, sources = run.load_inputs(paths, fit=fit)
    else:
        images, labels, _ = run.test_examples(count=count, seed=seed, data_dir=data_dir)
    log(f"explaining {len(images)} inputs with {method} ({run.dataset}, {backend} executor)")
    cam = make_cam(
        method,
        run.model(backend=backend),
        layer=layer,
        aug_smooth=aug_smooth,
        eigen_smooth=eigen_smooth,
    )
    result = cam(images, class_index=class_index)
    rows = sources or [f"test example {i}" for i in range(len(images))]
    check_finite_outputs(run_dir, result.probabilities, rows)
    constant = is_constant(images)
    if constant.any():  # Run.load_inputs warned about each such file
        result.maps = np.where(constant[:, None, None], 0.0, result.maps).astype(np.float32)
    check_finite_outputs(run_dir, result.maps, rows)
    names = run.class_names or [str(i) for i in range(result.probabilities.shape[1])]
    os.makedirs(out, exist_ok=True)

    def caption(i: int) -> str:
        pred = names[int(np.argmax(result.probabilities[i]))]
        target = names[int(result.class_index[i])]
        head = f"label {names[int(labels[i])]}" if labels is not None else sources[i]
        return f"{os.path.basename(head)}\npred {pred}, map for {target}"

    titles = [caption(i) for i in range(len(images))]
    grid = os.path.join(out, f"{method}_grid.png")
    title = METHOD_TITLES.get(method, method)
    save_grid(
        images,
        result.maps,
        grid,
        titles=titles,
        columns=5,
        suptitle=f"{title} ({run.dataset})",
        map_title=title,
    )
    written = [grid]
    used: dict[str, int] = {}
    for i, source in enumerate(sources or []):
        stem = _stem(source)
        used[stem] = used.get(stem, 0) + 1
        if used[stem] > 1:  # a/x.png and b/x.png: the second overlay must not replace the first
            stem = f"{stem}-{used[stem]}"
        target = os.path.join(out, f"{stem}_{method}.png")
        save_overlay(images[i], result.maps[i], target, title=titles[i])
        written.append(target)
    figures = explain_figures(run.dataset)
    if figures is not None:
        written += list(figures(out, images, cam, result, run.metadata, labels))
    draw_split = None if paths else split_figures(run.dataset)
    test_arrays = run.bundle(data_dir=data_dir).test_arrays if draw_split else None
    if test_arrays is not None:
        x_test, y_test = test_arrays
        written += list(
            draw_split(
                out, cam, x_test, y_test, run.metadata, method=method, title=title, seed=seed
            )
        )
    fits = [fitted_as(s, fit) for s in sources] if sources else ["none"] * len(images)
    npz = os.path.join(out, "maps.npz")
    with atomic_path(npz, suffix=".npz") as tmp:
        np.savez_compressed(
            tmp,
            maps=result.maps,
            weights=result.weights,
            scores=result.scores,
            probabilities=result.probabilities,
            class_index=result.class_index,
            labels=labels if labels is not None else np.full(len(images), -1),
            sources=np.array(sources or [], dtype=str),
            fit=np.array(fits),
            constant=constant,
            method=np.array(method),
        )
    written.append(npz)
    return written
