"""The figures ``qgcam explain`` adds for a dataset, looked up by the dataset's name.

A figure function is called as ``fn(out_dir, images, cam, result, metadata, labels)``:
the inputs explained, the CAM object and its :class:`~qgcam_tf.explain.base.CAMResult`,
the run's metadata and the true labels (None for files); it returns the PNG paths it wrote.

A test-split figure function draws from the run's whole test split (when ``qgcam explain``
explains test examples, not files): ``fn(out_dir, cam, x_test, y_test, metadata, *,
method, title, seed)``, returning the paths it wrote.
"""

from __future__ import annotations

from collections.abc import Callable

from qgcam_tf.data.registry import get_adapter
from qgcam_tf.viz.digits import digit_test_figures
from qgcam_tf.viz.photos import explain_photo_figures
from qgcam_tf.viz.speech import explain_speech_figures

__all__ = ["EXPLAIN_FIGURES", "TEST_SPLIT_FIGURES", "explain_figures", "split_figures"]

# dataset name -> figure function (paper Fig. 5 for photos, Figs. 6-7 for speech)
EXPLAIN_FIGURES: dict[str, Callable] = {
    "dogs-vs-cats": explain_photo_figures,
    "speech": explain_speech_figures,
}


def explain_figures(dataset_name: str) -> Callable | None:
    """The extra ``qgcam explain`` figures of dataset ``dataset_name``, or None if it has none.

    Raises:
        ValueError: ``dataset_name`` is not a registered dataset.
    """
    get_adapter(dataset_name)  # the registry's own check of the name
    return EXPLAIN_FIGURES.get(dataset_name)


# dataset name -> test-split figure function (paper Fig. 4 for digits: correct and
# misclassified test digits)
TEST_SPLIT_FIGURES: dict[str, Callable] = {"mnist": digit_test_figures}


def split_figures(dataset_name: str) -> Callable | None:
    """The ``qgcam explain`` figures drawn from the whole test split of dataset
    ``dataset_name``, or None if it has none.

    Raises:
        ValueError: ``dataset_name`` is not a registered dataset.
    """
    get_adapter(dataset_name)
    return TEST_SPLIT_FIGURES.get(dataset_name)
