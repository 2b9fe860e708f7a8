"""``qgcam evaluate`` and the evaluation helpers: plumbing, tables, and CLI errors."""

from __future__ import annotations

import csv
import os
import sys

import numpy as np
import pytest
import tf_keras as keras

from qgcam_tf.cli.main import main
from qgcam_tf.evaluate import METRIC_NAMES, sanity
from qgcam_tf.evaluate import faithfulness as ev
from qgcam_tf.evaluate import metrics as qm
from qgcam_tf.evaluate import standard as qs
from qgcam_tf.explain.cams import CentreCAM, LayerCAM
from qgcam_tf.explain.qgradcam import QGradCAM
from qgcam_tf.model.hybrid import build_classical_twin, build_hybrid_model
from qgcam_tf.model.run import save_model
from qgcam_tf.quantum.circuits import VQCSpec


@pytest.fixture(scope="module")
def tiny_hybrid():
    """8x8 hybrid model, 4 qubits, 3 classes."""
    keras.utils.set_random_seed(11)
    return build_hybrid_model(
        (8, 8, 1), 3, vqc=VQCSpec(n_qubits=4, depth=1, n_outputs=3), conv_filters=(4, 6)
    )


@pytest.fixture(scope="module")
def mnist_runs(tmp_path_factory):
    """Run directories of a small 28x28 hybrid (10 qubits, depth 1) and a classical twin."""
    root = tmp_path_factory.mktemp("runs")
    keras.utils.set_random_seed(5)
    meta = {
        "dataset": "mnist",
        "input_shape": [28, 28, 1],
        "class_names": [str(d) for d in range(10)],
    }
    hybrid = build_hybrid_model(
        (28, 28, 1), 10, vqc=VQCSpec(n_qubits=10, depth=1, n_outputs=10), conv_filters=(2, 4)
    )
    twin = build_classical_twin((28, 28, 1), 10, conv_filters=(2, 4))
    save_model(hybrid, str(root / "hybrid"), metadata=meta)
    save_model(twin, str(root / "twin"), metadata=meta)
    return root


def test_evaluate_methods_equals_direct_metrics(tiny_hybrid, tiny_images):
    """Per-sample deletion and stability values equal the metrics applied to the maps directly."""
    res = ev.evaluate_methods(
        tiny_hybrid,
        tiny_images,
        methods=["qgradcam", "centre"],
        metrics=["deletion", "stability"],
        batch_size=4,
        steps=4,
        noise_std=0.05,
        seed=0,
    )
    predict = ev.make_predict_fn(tiny_hybrid)
    ci = np.argmax(predict(tiny_images).numpy(), axis=1)
    np.testing.assert_array_equal(res["_class_index"], ci)
    noisy = np.clip(
        tiny_images + np.random.default_rng(0).normal(0, 0.05, tiny_images.shape), 0, 1
    ).astype(np.float32)
    for name, cls in (("qgradcam", QGradCAM), ("centre", CentreCAM)):
        maps = cls(tiny_hybrid)(tiny_images, ci).maps
        direct = qm.DeletionAUC(steps=4)(predict, tiny_images, maps, ci)
        np.testing.assert_allclose(res[name]["values"]["deletion"], direct.values, atol=1e-6)
        np.testing.assert_allclose(res[name]["curves"]["deletion"], direct.curves, atol=1e-6)
        st = qm.map_stability(maps, cls(tiny_hybrid)(noisy, ci).maps)
        np.testing.assert_allclose(res[name]["values"]["stability_iou"], st["iou"], atol=1e-6)
    np.testing.assert_allclose(res["centre"]["values"]["stability_pearson"], 1.0, atol=1e-6)


def test_evaluate_methods_standard_metrics_equal_direct_calls(tiny_hybrid, tiny_images):
    """The new columns equal evaluate.standard / evaluate.sanity applied to the maps directly;
    one set of perturbed maps fills both sensitivity columns."""
    metrics = [
        "faithfulness_correlation",
        "pixel_flipping",
        "avg_sensitivity",
        "max_sensitivity",
        "sparseness",
        "complexity",
        "randomisation",
    ]
    images = tiny_images[:4]
    res = ev.evaluate_methods(
        tiny_hybrid, images, methods=["layercam"], metrics=metrics, batch_size=4, steps=4, seed=2
    )
    assert sorted(res["layercam"]["values"]) == sorted(metrics)
    predict = ev.make_predict_fn(tiny_hybrid)
    ci = res["_class_index"]
    cam = LayerCAM(tiny_hybrid)
    maps = cam(images, ci).maps
    values = res["layercam"]["values"]
    fc = qs.FaithfulnessCorrelation(runs=ev.FAITHFULNESS_RUNS, subset_size=32, seed=2)
    np.testing.assert_allclose(
        values["faithfulness_correlation"], fc(predict, images, maps, ci).values, atol=1e-6
    )
    pf = qs.PixelFlipping(features_in_step=16)(predict, images, maps, ci)  # 64 pixels / 4 steps
    np.testing.assert_allclose(values["pixel_flipping"], pf.values, atol=1e-6)
    np.testing.assert_allclose(res["layercam"]["curves"]["pixel_flipping"], pf.curves, atol=1e-6)
    sens = qs.sensitivities(
        lambda x, c: cam(x, class_index=c).maps,
        images,
        maps,
        ci,
        samples=ev.SENSITIVITY_SAMPLES,
        perturb=qs.uniform_noise(ev.SENSITIVITY_RADIUS, seed=2),
    )
    np.testing.assert_allclose(values["max_sensitivity"], sens.max(axis=1), rtol=1e-5)
    np.testing.assert_allclose(values["avg_sensitivity"], sens.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(values["sparseness"], qs.Sparseness()(maps).values, atol=1e-9)
    np.testing.assert_allclose(values["complexity"], qs.Complexity()(maps).values, atol=1e-9)
    random_model = sanity.randomised_model(tiny_hybrid, ["vqc", "dense", "conv", "other"], seed=2)
    spearman = sanity.map_similarity(maps, LayerCAM(random_model)(images, ci).maps)["spearman"]
    np.testing.assert_allclose(values["randomisation"], spearman, atol=1e-6)
    only_max = ev.evaluate_methods(
        tiny_hybrid, images, methods=["centre"], metrics=["max_sensitivity"], batch_size=4
    )
    assert list(only_max["centre"]["values"]) == ["max_sensitivity"]
    np.testing.assert_allclose(only_max["centre"]["values"]["max_sensitivity"], 0.0, atol=1e-6)


def test_region_perturbation_and_localisation_columns_equal_direct_calls(tiny_hybrid, tiny_images):
    """region_perturbation is RegionPerturbation's AOPC with REGION_PATCH patches (its curves
    kept); localisation fills energy_pointing and ink_enrichment from EnergyPointingGame on
    the images' ink."""
    images = tiny_images[:4]
    res = ev.evaluate_methods(
        tiny_hybrid,
        images,
        methods=["qgradcam"],
        metrics=["region_perturbation", "localisation"],
        batch_size=4,
        seed=3,
    )
    values = res["qgradcam"]["values"]
    assert sorted(values) == ["energy_pointing", "ink_enrichment", "region_perturbation"]
    ci = res["_class_index"]
    maps = QGradCAM(tiny_hybrid)(images, ci).maps
    rp = qs.RegionPerturbation(patch_size=ev.REGION_PATCH, seed=3)(
        ev.make_predict_fn(tiny_hybrid), images, maps, ci
    )
    np.testing.assert_allclose(values["region_perturbation"], rp.values, atol=1e-6)
    np.testing.assert_allclose(
        res["qgradcam"]["curves"]["region_perturbation"], rp.curves, atol=1e-6
    )
    ink = images.mean(axis=-1) > 0.5  # the threshold by hand
    share = (np.clip(maps, 0, None) * ink).sum((1, 2)) / (np.clip(maps, 0, None).sum((1, 2)) + 1e-9)
    np.testing.assert_allclose(values["energy_pointing"], share, atol=1e-6)
    np.testing.assert_allclose(values["ink_enrichment"], share / ink.mean(axis=(1, 2)), rtol=1e-6)


def test_metric_names_match_the_columns():
    """Every metric name the CLI offers has its table columns, in the names' order, and
    nothing else has columns."""
    assert list(ev.COLUMNS) == list(METRIC_NAMES)


def test_summary_tables_by_hand(tmp_path):
    """Mean and t-interval of [1, 2, 3] (2 +- 2.484) reach the CSV and the Markdown table."""
    results = {
        "_class_index": np.zeros(3),
        "qgradcam": {"values": {"deletion": np.array([1.0, 2.0, 3.0])}, "curves": {}},
        "random": {"values": {"deletion": np.array([4.0, 4.0, 4.0])}, "curves": {}},
    }
    rows = ev.summarize(results)
    assert [(r["method"], r["metric"], r["better"]) for r in rows] == [
        ("qgradcam", "deletion", "lower"),
        ("random", "deletion", "lower"),
    ]
    assert rows[0]["mean"] == pytest.approx(2.0) and rows[0]["ci"] == pytest.approx(
        2.484138, rel=1e-5
    )
    assert rows[1]["ci"] == pytest.approx(0.0)
    ev.write_tables(rows, str(tmp_path / "t.csv"), str(tmp_path / "t.md"))
    with open(tmp_path / "t.csv") as f:
        table = list(csv.DictReader(f))
    assert float(table[0]["mean"]) == pytest.approx(2.0) and table[1]["method"] == "random"
    md = (tmp_path / "t.md").read_text()
    assert "| method | deletion ↓ |" in md
    assert "| qgradcam | 2.000 ± 2.484 |" in md


def test_paired_differences_by_hand():
    """Differences pair each model with its own random rows: [1,2,3] - [2,2,2] -> 0 +- 2.484."""
    v = lambda *x: {"deletion": np.array(x), "stability_iou": np.array(x)}  # noqa: E731
    results = {
        "qgradcam": {"values": v(1.0, 2.0, 3.0)},
        "random": {"values": v(2.0, 2.0, 2.0)},
        "twin:gradcam": {"values": v(0.0, 0.0, 0.3)},
        "twin:random": {"values": v(0.5, 0.5, 0.5)},
    }
    rows = {(r["method"], r["metric"]): r for r in ev.paired_differences(results)}
    assert set(rows) == {("qgradcam", "deletion"), ("twin:gradcam", "deletion")}
    assert rows[("qgradcam", "deletion")]["mean"] == pytest.approx(0.0)
    assert rows[("qgradcam", "deletion")]["ci"] == pytest.approx(2.484138, rel=1e-5)
    assert rows[("twin:gradcam", "deletion")]["mean"] == pytest.approx(-0.4)


def test_evaluate_unknown_names_raise(tiny_hybrid, tiny_images):
    """Unknown methods or metrics raise ValueError listing the valid ones."""
    with pytest.raises(ValueError, match="methods must be among"):
        ev.evaluate_methods(tiny_hybrid, tiny_images, methods=["gradcam"])
    with pytest.raises(ValueError, match="metrics must be among"):
        ev.evaluate_methods(tiny_hybrid, tiny_images, metrics=["pointing_game"])


def test_cli_errors(mnist_runs, tmp_path, capsys):
    """Bad arguments exit 2 with one line naming the problem, never a traceback."""
    out = str(tmp_path / "out")
    hybrid = str(mnist_runs / "hybrid")
    parse_errors = [
        (["--model", str(tmp_path / "missing"), "--out", out], "does not exist"),
        (["--model", hybrid, "--out", out, "--count", "0"], "--count: must be an int in [1, "),
        (["--model", hybrid, "--out", out, "--methods", "qgradcam,nope"], "choose from"),
        (["--model", hybrid, "--out", out, "--count", "20000"], "[1, 10000], got '20000'"),
    ]
    for argv, message in parse_errors:  # rejected while parsing, before anything loads
        with pytest.raises(SystemExit) as exc:
            main(["evaluate", *argv])
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    cases = [
        (
            ["--model", hybrid, "--out", out, "--twin", hybrid, "--count", "2"],
            "is not a classical twin",
        ),
    ]
    for argv, message in cases:
        assert main(["evaluate", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not os.path.exists(out)


def test_cli_end_to_end(mnist_runs, tmp_path, capsys):
    """A small run writes table, curves and per-sample values; the table means match them."""
    out = tmp_path / "eval"
    argv = [
        "evaluate",
        "--model",
        str(mnist_runs / "hybrid"),
        "--twin",
        str(mnist_runs / "twin"),
        "--out",
        str(out),
        "--count",
        "6",
        "--methods",
        "qgradcam",
        "random",
        "--metrics",
        "deletion,insertion",
        "--steps",
        "4",
        "--batch-size",
        "4",
    ]
    assert main(argv) == 0
    for name in (
        "evaluation.csv",
        "evaluation.md",
        "evaluate_curves.png",
        "evaluate_maps.png",
        "evaluation.json",
        "evaluation_vs_random.csv",
        "evaluation_vs_random.md",
    ):
        assert (out / name).stat().st_size > 0
    with open(out / "evaluation.csv") as f:
        rows = {(r["method"], r["metric"]): float(r["mean"]) for r in csv.DictReader(f)}
    assert set(m for m, _ in rows) == {"qgradcam", "random", "twin:gradcam", "twin:random"}
    per = np.load(out / "per_sample.npz")
    for method in ("qgradcam", "twin:gradcam"):
        assert len(per[f"{method}/deletion"]) == 6
        assert rows[(method, "insertion")] == pytest.approx(
            per[f"{method}/insertion"].mean(), abs=1e-6
        )
        assert rows[(method, "deletion")] == pytest.approx(
            qm.trapezoid_auc(per[f"{method}/curve_deletion"]).mean(), abs=1e-6
        )
    assert "| twin:gradcam |" in capsys.readouterr().out


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
