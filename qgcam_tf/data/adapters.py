"""A :class:`DatasetAdapter` with the optional post-training hook the experiments use."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from qgcam_tf.data.registry import DatasetAdapter

__all__ = ["ExperimentAdapter"]


@dataclasses.dataclass(frozen=True)
class ExperimentAdapter(DatasetAdapter):
    """A dataset adapter with an ``extra_metrics`` hook (besides ``explain_figures``).

    Attributes:
        extra_metrics: ``(bundle, run_dir) -> dict`` merged into ``metrics.json`` after
            training (``qgcam train`` calls it).
    """

    extra_metrics: Callable | None = None
