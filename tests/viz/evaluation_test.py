"""Tests of qgcam_tf.viz.evaluation: the figures of ``qgcam evaluate``."""

import os
import sys

import numpy as np
import pytest

from qgcam_tf.viz.evaluation import (
    plot_curves,
    plot_examples,
    plot_metric_bars,
    plot_model_comparison,
    plot_randomisation,
    write_evaluation,
    write_randomisation,
)


def _recorder(monkeypatch, method):
    """Records the (label, x, y) of every call of matplotlib's Axes.<method>."""
    from qgcam_tf.viz import evaluation

    plt = evaluation.pyplot()
    drawn = []
    real = getattr(plt.Axes, method)

    def record(ax, x, y, *args, **kwargs):
        drawn.append((kwargs.get("label"), list(np.asarray(x, float)), list(np.asarray(y, float))))
        return real(ax, x, y, *args, **kwargs)

    monkeypatch.setattr(plt.Axes, method, record)
    return drawn


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


def test_plot_curves_pixel_flipping_and_region_perturbation(tmp_path, monkeypatch):
    """Pixel flipping is drawn at x = 1/T..1 with its trapezoid AUC ([.8, .4, .1, 0] on
    x = 1/4..1: (1/3)(.6 + .25 + .05) = 0.3); region perturbation at x = 0..R with its AOPC
    (the mean of [0, .2, .4]: 0.2); four panels make a 2 x 2 grid."""
    drawn = _recorder(monkeypatch, "plot")
    results = {
        "qgradcam": {
            "curves": {
                "deletion": np.array([[1.0, 0.5, 0.0]]),
                "insertion": np.array([[0.0, 0.5, 1.0]]),
                "pixel_flipping": np.array([[0.8, 0.4, 0.1, 0.0]]),
                "region_perturbation": np.array([[0.0, 0.2, 0.4]]),
            }
        }
    }
    assert plot_curves(results, str(tmp_path / "four.png"))
    assert drawn[2] == ("qgradcam (0.300)", [0.25, 0.5, 0.75, 1.0], [0.8, 0.4, 0.1, 0.0])
    assert drawn[3] == ("qgradcam (0.200)", [0.0, 1.0, 2.0], [0.0, 0.2, 0.4])
    import matplotlib.image as mpimg

    height, width = mpimg.imread(str(tmp_path / "four.png")).shape[:2]
    assert 0.8 < width / height < 1.6  # 2 x 2 panels of 5.5 x 4.2 inches


def test_plot_metric_bars_draws_each_method_mean_with_its_interval(tmp_path, monkeypatch):
    """One bar per method at its mean, error bars its CI half-width, per standard column;
    columns outside the set (deletion) get no panel, and no standard column means no file."""
    from qgcam_tf.viz import evaluation

    plt = evaluation.pyplot()
    bars = []
    real = plt.Axes.bar

    def record(ax, x, height, *args, **kwargs):
        bars.append((list(height), list(kwargs["yerr"])))
        return real(ax, x, height, *args, **kwargs)

    monkeypatch.setattr(plt.Axes, "bar", record)
    row = lambda m, c, mean, ci: dict(method=m, metric=c, better="higher", mean=mean, ci=ci, n=5)  # noqa: E731
    rows = [
        row("qgradcam", "sparseness", 0.7, 0.01),
        row("random", "sparseness", 0.2, 0.02),
        row("qgradcam", "ink_enrichment", 2.5, 0.1),
        row("qgradcam", "deletion", 0.3, 0.01),
    ]
    assert plot_metric_bars(rows, str(tmp_path / "bars.png"))
    assert bars == [([0.7, 0.2], [0.01, 0.02]), ([2.5], [0.1])]
    assert not plot_metric_bars(rows[3:], str(tmp_path / "none.png"))
    assert not (tmp_path / "none.png").exists()


def test_plot_randomisation_lines_follow_each_tables_step_order(tmp_path, monkeypatch):
    """A mode="both" run gives two rows of panels: the independent steps (vqc, dense, all)
    and the cascade (vqc, vqc+dense, all); each line is the method's means in that order."""
    drawn = _recorder(monkeypatch, "plot")
    means = {"vqc": 0.3, "dense": 0.2, "vqc+dense": 0.1, "all": 0.05}
    rows = [
        dict(method="qgradcam", step=s, metric=m, mean=v, ci=0.01, n=4)
        for s, v in means.items()
        for m in ("spearman", "ssim", "topk_overlap")
    ]
    assert plot_randomisation(rows, str(tmp_path / "r.png"))
    assert len(drawn) == 6  # 2 tables x 3 similarities, one method
    assert drawn[0] == ("qgradcam", [0.0, 1.0, 2.0], [0.3, 0.2, 0.05])
    assert drawn[3] == ("qgradcam", [0.0, 1.0, 2.0], [0.3, 0.1, 0.05])
    assert not plot_randomisation([], str(tmp_path / "empty.png"))
    compare = [dict(r, step="data") for r in rows if r["step"] == "all"]
    assert plot_model_comparison(compare, str(tmp_path / "c.png"))


def test_write_randomisation_of_a_model_against_itself(tmp_path, capsys):
    """Parts and data tests end to end on tiny 28x28 runs: the hybrid's steps (both tables)
    and the twin's; the random baseline ignores the model (similarity 1 at every step);
    the hybrid compared with its own copy gives identical maps (every similarity 1)."""
    import csv
    import json

    import tf_keras as keras

    from qgcam_tf.model.hybrid import build_classical_twin, build_hybrid_model
    from qgcam_tf.model.run import save_model
    from qgcam_tf.quantum.circuits import VQCSpec

    keras.utils.set_random_seed(5)
    meta = {"dataset": "mnist", "input_shape": [28, 28, 1], "class_names": list("0123456789")}
    hybrid = build_hybrid_model(
        (28, 28, 1), 10, vqc=VQCSpec(n_qubits=10, depth=1, n_outputs=10), conv_filters=(2, 4)
    )
    save_model(hybrid, str(tmp_path / "hybrid"), metadata=meta)
    save_model(hybrid, str(tmp_path / "copy"), metadata=meta)
    twin = build_classical_twin((28, 28, 1), 10, conv_filters=(2, 4))
    save_model(twin, str(tmp_path / "twin"), metadata=meta)
    out = tmp_path / "out"
    written = write_randomisation(
        str(tmp_path / "hybrid"),
        str(out),
        methods=["qgradcam", "random"],
        shuffled_dir=str(tmp_path / "copy"),
        twin_dir=str(tmp_path / "twin"),
        twin_methods=["random"],
        count=4,
        batch_size=4,
        backend="tf",
        log=lambda line: None,
    )
    names = sorted(os.path.basename(p) for p in written)
    assert names == sorted(
        [f"randomisation_{k}.{e}" for k in ("parts", "data") for e in ("csv", "md", "png")]
        + ["randomisation.json"]
    )
    with open(out / "randomisation_parts.csv") as f:
        parts = list(csv.DictReader(f))
    steps = {
        m: list(dict.fromkeys(r["step"] for r in parts if r["method"] == m))
        for m in ("qgradcam", "twin:random")
    }
    assert steps["qgradcam"] == ["vqc", "dense", "conv", "vqc+dense", "vqc+dense+conv", "all"]
    assert steps["twin:random"] == ["dense", "conv", "dense+conv", "all"]
    for r in parts:
        if r["method"].endswith("random"):
            assert float(r["mean"]) == pytest.approx(1.0, abs=1e-9)
    with open(out / "randomisation_data.csv") as f:
        data = list(csv.DictReader(f))
    assert len(data) == 6 and all(float(r["mean"]) == pytest.approx(1.0, abs=1e-6) for r in data)
    summary = json.loads((out / "randomisation.json").read_text())
    accuracy = summary["accuracy_on_these_images"]
    assert accuracy["shuffled"] == accuracy["hybrid"]
    assert "| twin:random |" in (out / "randomisation_parts.md").read_text()
    with pytest.raises(ValueError, match="needs parts=True or a shuffled_dir"):
        write_randomisation(str(tmp_path / "hybrid"), str(out), methods=["random"], parts=False)


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
