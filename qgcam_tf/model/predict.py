"""Class probabilities for input files, one CSV row per input, each paired with its source."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence

import numpy as np

from qgcam_tf.data.checks import fitted_as, resolve_fit
from qgcam_tf.fileio import atomic_path
from qgcam_tf.model.run import Run

__all__ = ["check_finite_outputs", "predictions_csv", "write_predictions"]


def check_finite_outputs(run_dir: str, outputs, sources: Sequence[str]) -> None:
    """Raises ValueError when a row of ``outputs`` (one per source) holds NaN or infinity.

    A model whose weights went non-finite in training (a too-large learning rate) answers
    NaN for every input; such numbers must never reach a CSV or a map.

    Args:
        run_dir: the run directory, named in the message.
        outputs: array ``[N, ...]``, one row per input.
        sources: the input of each row, named in the message.
    """
    outputs = np.asarray(outputs)
    bad = ~np.isfinite(outputs.reshape(len(outputs), -1)).all(axis=1)
    if bad.any():
        first = [sources[i] for i in np.flatnonzero(bad)[:3]]
        more = f" and {int(bad.sum()) - len(first)} more" if bad.sum() > len(first) else ""
        raise ValueError(
            f"the model of {run_dir!r} gives NaN or infinite outputs for "
            f"{', '.join(map(repr, first))}{more}: are its weights finite? (a run trained with "
            "too large a learning rate can end with NaN weights)"
        )


def predictions_csv(
    run: Run,
    paths: Sequence[str],
    *,
    backend: str = "tf",
    batch_size: int = 64,
    fit: str | None = None,
) -> tuple[str, int]:
    """The CSV text of the run's predictions for ``paths``, and its number of rows.

    Columns: ``source`` (the file, or ``file[i]`` for the i-th input of a batch file),
    ``class_index``, ``class_name``, one probability column ``p_<class name>`` per class,
    and ``fit``: how the input was fitted to the model's shape (``stretch``, ``pad`` or
    ``crop`` for a picture, ``none`` for arrays and audio, which are never resized).

    Inputs are read by :meth:`Run.load_inputs` (``fit`` as there; None: as in training),
    which warns about suspicious inputs (:class:`qgcam_tf.data.checks.InputWarning`).
    """
    inputs, sources = run.load_inputs(paths, fit=fit)
    fit = resolve_fit(fit, run.metadata)
    probs = run.model(backend=backend).predict(inputs, batch_size=batch_size, verbose=0)
    check_finite_outputs(run.run_dir, probs, sources)
    names = run.class_names or [str(i) for i in range(probs.shape[1])]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["source", "class_index", "class_name"] + [f"p_{n}" for n in names] + ["fit"]
    writer.writerow(header)
    for source, p in zip(sources, probs, strict=True):
        k = int(np.argmax(p))
        writer.writerow([source, k, names[k]] + [f"{v:.6f}" for v in p] + [fitted_as(source, fit)])
    return buffer.getvalue(), len(sources)


def write_predictions(
    run_dir: str,
    paths: Sequence[str],
    out: str | None = None,
    *,
    backend: str = "tf",
    batch_size: int = 64,
    fit: str | None = None,
) -> int:
    """Writes :func:`predictions_csv` to ``out`` (atomically) or to stdout; returns the rows."""
    text, rows = predictions_csv(
        Run.open(run_dir), paths, backend=backend, batch_size=batch_size, fit=fit
    )
    if out is None:
        sys.stdout.write(text)
    else:
        with atomic_path(out, suffix=".csv") as tmp, open(tmp, "w", newline="") as f:
            f.write(text)
    return rows
