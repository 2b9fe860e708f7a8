"""A :class:`DatasetAdapter` with the optional hooks the experiments use."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from qgcam_tf.data.registry import DatasetAdapter

__all__ = ["ExperimentAdapter"]


@dataclasses.dataclass(frozen=True)
class ExperimentAdapter(DatasetAdapter):
    """A dataset adapter with two optional hooks.

    Attributes:
        extra_metrics: ``(bundle, run_dir) -> dict`` merged into ``metrics.json`` after
            training (``qgcam train`` calls it).
        explain_figures: ``(model, paths, metadata, out_dir) -> list of PNG paths``: the
            dataset's paper-style figures for ``qgcam explain``.
    """

    extra_metrics: Callable | None = None
    explain_figures: Callable | None = None
