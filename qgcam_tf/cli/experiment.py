"""The paper's experiments end to end: ``qgcam train`` (and the twin), a figure, ``qgcam explain``.

The scripts in ``scripts/`` parse their arguments and make one call to
:func:`run_experiment`, so every experiment runs through the same commands a user types.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

__all__ = ["run_experiment"]


def run_experiment(
    dataset: str,
    out: str,
    *,
    train_args: Sequence[str] = (),
    data_dir: str | None = None,
    seed: int = 0,
    count: int = 10,
    baseline: bool = False,
    figure: str | None = None,
    figure_fn: Callable | None = None,
) -> int:
    """Trains on ``dataset`` into ``out``, writes the paper-style figure, then explains.

    Args:
        dataset: a registered dataset name.
        out: run directory of the hybrid model (the classical twin goes to
            ``OUT-classical``); replaced if it holds a finished run.
        train_args: further ``qgcam train`` arguments (epochs, qubits, ...).
        data_dir: the dataset's files (None: the dataset's default).
        seed: training seed and example choice.
        count: test examples for ``qgcam explain``.
        baseline: also train the classical twin with the same arguments.
        figure: PNG path for ``figure_fn`` (default ``OUT/<dataset>_test_split.png``).
        figure_fn: ``(model, bundle, path, *, seed, dpi) -> path`` drawing a figure from the
            test split the model was trained with (e.g. ``qgcam_tf.viz.photos.test_split_figure``).

    Returns:
        0 on success, else the failing command's exit status.
    """
    from qgcam_tf.cli.main import main

    def qgcam(argv) -> int:
        try:
            return main(argv)
        except SystemExit as e:  # argparse rejects an argument by exiting (status 2)
            return int(e.code or 0)

    data = ["--data-dir", data_dir] if data_dir else []
    common = ["--dataset", dataset, *data, "--seed", str(seed)]
    runs = [(out, [])] + ([(out + "-classical", ["--classical"])] if baseline else [])
    for run_dir, extra in runs:
        status = qgcam(["train", *common, *train_args, "--out", run_dir, "--force", *extra])
        if status:
            return status
    if figure_fn is not None:
        from qgcam_tf.model.run import Run

        run = Run.open(out)
        path = figure or os.path.join(out, f"{dataset.replace('-', '_')}_test_split.png")
        figure_path = figure_fn(run.model(), run.bundle(data_dir=data_dir), path, seed=seed, dpi=72)
        print("wrote", figure_path)
    explain = ["explain", "--model", out, *common, "--count", str(count)]
    return qgcam([*explain, "--out", os.path.join(out, "explain")])
