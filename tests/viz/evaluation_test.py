"""Tests of qgcam_tf.viz.evaluation: the figures of ``qgcam evaluate``."""

import sys

import numpy as np
import pytest

from qgcam_tf.viz.evaluation import plot_curves, plot_examples, write_evaluation


def test_plot_curves_only_for_present_metrics(tmp_path):
    """No deletion/insertion curves: no figure and False; deletion only: a one-panel figure."""
    none = {"qgradcam": {"values": {"avg_drop": np.ones(2)}, "curves": {}}}
    assert not plot_curves(none, str(tmp_path / "a.png"))
    assert not (tmp_path / "a.png").exists()
    one = {"qgradcam": {"values": {}, "curves": {"deletion": np.array([[1.0, 0.5, 0.0]])}}}
    assert plot_curves(one, str(tmp_path / "b.png"))
    import matplotlib.image as mpimg

    height, width = mpimg.imread(str(tmp_path / "b.png")).shape[:2]
    assert width < 1.5 * height  # one 5.5 x 4.2 inch panel, not two side by side


def test_plot_curves_legend_carries_the_mean_auc(tmp_path, monkeypatch):
    """Each method's legend gives the mean trapezoid AUC of its curves: [1, 0.5, 0] -> 0.5,
    [1, 1, 1] -> 1.0; the plotted line is the mean curve."""
    from qgcam_tf.viz import evaluation

    plt = evaluation.pyplot()
    drawn = []
    real_plot = plt.Axes.plot

    def recording_plot(ax, x, y, style, label=None):
        drawn.append((label, list(x), list(y)))
        return real_plot(ax, x, y, style, label=label)

    monkeypatch.setattr(plt.Axes, "plot", recording_plot)
    results = {
        "_class_index": np.zeros(2),
        "qgradcam": {"curves": {"deletion": np.array([[1.0, 0.5, 0.0], [1.0, 0.5, 0.0]])}},
        "random": {"curves": {"deletion": np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])}},
    }
    assert plot_curves(results, str(tmp_path / "c.png"))
    assert drawn == [
        ("qgradcam (0.500)", [0.0, 0.5, 1.0], [1.0, 0.5, 0.0]),
        ("random (1.000)", [0.0, 0.5, 1.0], [1.0, 1.0, 1.0]),
    ]


def test_plot_examples_one_row_per_method(tmp_path):
    """The input row plus one row per method: three methods make a taller PNG than one."""
    import matplotlib.image as mpimg

    rng = np.random.default_rng(0)
    images = rng.uniform(size=(4, 8, 8, 1))
    result = lambda: {"maps_example": rng.uniform(size=(4, 8, 8))}  # noqa: E731
    three = {"_class_index": np.zeros(4), "a": result(), "b": result(), "c": result()}
    plot_examples(images, three, str(tmp_path / "three.png"))
    plot_examples(images, {"a": three["a"]}, str(tmp_path / "one.png"))
    tall = mpimg.imread(str(tmp_path / "three.png")).shape[0]
    short = mpimg.imread(str(tmp_path / "one.png")).shape[0]
    assert 1.6 < tall / short < 2.4  # 4 rows against 2


def test_a_classical_model_is_refused_before_the_data_is_read(tmp_path):
    """A classical twin given as the model is one ValueError naming it (its rows would be
    labelled hybrid and QGrad-CAM); no data is read (the data path does not exist) and
    nothing is written."""
    from qgcam_tf.model.hybrid import build_classical_twin
    from qgcam_tf.model.run import save_model

    twin = str(tmp_path / "twin")
    meta = {"dataset": "mnist", "input_shape": [8, 8, 1], "class_names": ["a", "b", "c"]}
    save_model(build_classical_twin((8, 8, 1), 3, conv_filters=(2,)), twin, metadata=meta)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"--model '.*twin' has no VQC layer: .* --twin"):
        write_evaluation(
            twin,
            str(out),
            methods=["centre"],
            metrics=["deletion"],
            count=2,
            data_dir=str(tmp_path / "no-such-data.npz"),
            log=lambda line: None,
        )
    assert not out.exists()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
