"""Tests of qgcam_tf.evaluate.placement: empty maps and border mass against NumPy by hand."""

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from qgcam_tf.evaluate.placement import (
    border_band,
    border_mass,
    empty_maps,
    map_placement,
    mass_share,
    placement_summary,
    uniform_border_mass,
)


def _band_reference(h, w, bh, bw):
    """The band by explicit loops: a pixel is in it if within bh rows or bw columns of a side."""
    return np.array(
        [[min(i, h - 1 - i) < bh or min(j, w - 1 - j) < bw for j in range(w)] for i in range(h)]
    )


@pytest.mark.parametrize(
    "h, w, bh, bw", [(8, 8, 1, 1), (16, 16, 2, 2), (64, 64, 8, 8), (9, 17, 1, 2), (3, 5, 1, 1)]
)
def test_border_band_is_the_outer_eighth(h, w, bh, bw):
    """The band holds exactly the pixels within round(side / 8) (>= 1) of an edge."""
    np.testing.assert_array_equal(border_band(h, w), _band_reference(h, w, bh, bw))


def test_uniform_border_mass_is_the_band_area():
    """A constant map puts 1 - (6/8)^2 = 0.4375 of its mass in the outer eighth of 64 px."""
    assert uniform_border_mass(64, 64) == pytest.approx(1 - (48 / 64) ** 2, abs=1e-12)
    maps = np.ones((2, 64, 64))
    np.testing.assert_allclose(border_mass(maps), [0.4375, 0.4375], atol=1e-12)


def test_border_mass_by_hand():
    """Border mass of 8x8 maps equals a hand sum over the outer ring; an empty map is NaN."""
    rng = np.random.default_rng(0)
    maps = rng.uniform(0, 1, (3, 8, 8))
    maps[2] = 0.0
    ring = np.ones((8, 8), bool)
    ring[1:7, 1:7] = False
    got = border_mass(maps)
    for i in range(2):
        assert got[i] == pytest.approx(maps[i][ring].sum() / maps[i].sum(), abs=1e-12)
    assert np.isnan(got[2])
    center = np.zeros((1, 8, 8))
    center[0, 3:5, 3:5] = 1.0
    edge = np.zeros((1, 8, 8))
    edge[0, 7, :] = 1.0
    assert border_mass(center)[0] == 0.0 and border_mass(edge)[0] == 1.0
    np.testing.assert_allclose(mass_share(maps[:2], ~ring), 1 - got[:2], atol=1e-12)


def test_region_agreement_by_hand():
    """Pointing and enrichment against a reference map's region (>= half its maximum),
    against loops over the pixels; empty maps miss and give NaN; bad input is an error."""
    from qgcam_tf.evaluate.placement import region_agreement

    rng = np.random.default_rng(3)
    ref = rng.uniform(0, 1, (4, 6, 5))
    maps = rng.uniform(0, 1, (4, 6, 5))
    maps[1] = 0.0
    ref[2] = 0.0
    got = region_agreement(maps, ref, threshold=0.5)
    for b in range(4):
        region = [
            (i, j)
            for i in range(6)
            for j in range(5)
            if ref[b].max() > 0 and ref[b, i, j] >= 0.5 * ref[b].max()
        ]
        share = len(region) / 30
        assert got["region_share"][b] == pytest.approx(share)
        best = max(((maps[b, i, j], -(i * 5 + j)), (i, j)) for i in range(6) for j in range(5))[1]
        assert got["pointing"][b] == (maps[b].max() > 0 and best in region)
        if maps[b].sum() > 0 and share > 0:
            inside = sum(maps[b, i, j] for i, j in region)
            assert got["enrichment"][b] == pytest.approx(inside / maps[b].sum() / share)
        else:
            assert np.isnan(got["enrichment"][b])
    assert not got["pointing"][1] and not got["pointing"][2]
    same = region_agreement(ref[:1], ref[:1])
    assert same["pointing"][0] and same["enrichment"][0] > 1.0
    with pytest.raises(ValueError, match="one shape"):
        region_agreement(maps[:, :5], ref)
    with pytest.raises(ValueError, match="threshold"):
        region_agreement(maps, ref, threshold=0.0)
    with pytest.raises(ValueError, match=">= 0"):
        region_agreement(-maps, ref)


def test_empty_maps_and_summary():
    """Empty = every value <= atol; the summary averages border mass over maps with mass."""
    cams = np.zeros((4, 2, 2))
    cams[0, 0, 0] = 0.5
    cams[1] = 1e-9
    cams[3, 1, 1] = 2.0
    np.testing.assert_array_equal(empty_maps(cams), [False, False, True, False])
    np.testing.assert_array_equal(empty_maps(cams, atol=1e-6), [False, True, True, False])
    maps = np.zeros((4, 8, 8))
    maps[0] = 1.0  # uniform: 0.4375
    maps[1, 0, 0] = 1.0  # corner: 1.0
    maps[3, 4, 4] = 1.0  # centre: 0.0
    summary = placement_summary(cams, maps)
    assert summary["n"] == 4 and summary["n_nonempty"] == 3
    assert summary["empty_share"] == pytest.approx(0.25)
    assert summary["border_mass_mean"] == pytest.approx((0.4375 + 1.0 + 0.0) / 3)
    assert summary["border_mass_median"] == pytest.approx(0.4375)
    assert summary["border_mass_uniform"] == pytest.approx(0.4375)


def test_map_placement_batches_a_cam():
    """map_placement over batches equals the summary of the whole set, predicted class kept."""
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1, (5, 8, 8, 1)).astype(np.float32)
    calls = []

    def cam(x, class_index=None):
        calls.append(len(x))
        cams = np.maximum(x[..., 0] - 0.5, 0.0)
        probs = np.stack([x.mean(axis=(1, 2, 3)), 1 - x.mean(axis=(1, 2, 3))], axis=1)
        return SimpleNamespace(maps=cams, activations_maps=cams, probabilities=probs)

    found = map_placement(cam, images, batch_size=2)
    assert calls == [2, 2, 1]
    cams = np.maximum(images[..., 0] - 0.5, 0.0)
    expected = placement_summary(cams, cams)
    for key, value in expected.items():
        assert found[key] == pytest.approx(value, nan_ok=True)
    np.testing.assert_array_equal(found["predicted"], (images.mean(axis=(1, 2, 3)) < 0.5) * 1)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: border_band(8, 8, 0.5), ValueError, "fraction must be in"),
        (lambda: border_band(0, 8), ValueError, "height must be an int"),
        (lambda: border_band(8, 8, "x"), TypeError, "fraction must be a number"),
        (lambda: border_mass(np.zeros((8, 8))), ValueError, r"maps must be \[B, H, W\]"),
        (lambda: border_mass(-np.ones((1, 8, 8))), ValueError, "maps must be >= 0"),
        (lambda: mass_share(np.ones((1, 4, 4)), np.ones((3, 3))), ValueError, "mask must"),
        (lambda: empty_maps(np.full((1, 2, 2), np.nan)), ValueError, "cams must be finite"),
        (lambda: empty_maps(np.ones((1, 2, 2)), atol=-1.0), ValueError, "atol must be"),
        (
            lambda: placement_summary(np.ones((2, 2, 2)), np.ones((3, 4, 4))),
            ValueError,
            "as many maps",
        ),
        (lambda: map_placement(None, np.zeros((0, 4, 4, 1))), ValueError, "images must be"),
    ],
)
def test_bad_input_is_one_clear_error(call, error, match):
    """Bad shapes, values and fractions raise one error naming the argument."""
    with pytest.raises(error, match=match):
        call()


def _diagnose_script():
    """scripts/photos_diagnose.py as a module (scripts/ is no package)."""
    import importlib.util
    import os

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "scripts", "photos_diagnose.py")
    spec = importlib.util.spec_from_file_location("photos_diagnose", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_photo_run(tmp_path_factory):
    """A hybrid trained 1 epoch on 16x16 random photos (8 per class in train/, 4 in test/)."""
    from PIL import Image

    from qgcam_tf.cli.main import main

    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("photos")
    for split, count in (("train", 8), ("test", 4)):
        (folder / split).mkdir()
        for name in ("cat", "dog"):
            for i in range(count):
                pixels = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / split / f"{name}.{i}.png")
    run = str(tmp_path_factory.mktemp("run") / "run")
    argv = ["train", "--dataset", "dogs-vs-cats", "--data-dir", str(folder), "--out", run]
    argv += ["--epochs", "1", "--qubits", "2", "--depth", "1", "--batch-size", "4"]
    argv += ["--backend", "tf", "--validation-fraction", "0.25", "--no-tensorboard"]
    argv += ["--option", "image-size=16", "--option", "augment=none"]
    assert main(argv) == 0
    return run


def test_seed_summary_equals_numpy_and_scipy():
    """seed_summary's t interval over runs and bootstrap interval over photos equal a direct
    scipy t formula and a NumPy percentile bootstrap of the per-photo means."""
    from scipy import stats

    diag = _diagnose_script()
    correct = np.array([[1, 0, 1, 1, 0, 1], [1, 1, 0, 1, 0, 1], [0, 1, 1, 1, 1, 1]], float)
    rows = [{"run": f"r{i}", "correct": list(c)} for i, c in enumerate(correct)]
    got = diag.seed_summary(rows, n_boot=500, seed=3)
    per_run = correct.mean(axis=1)
    half = stats.t.ppf(0.975, 2) * per_run.std(ddof=1) / np.sqrt(3)
    assert got["test_accuracy_mean"] == pytest.approx(per_run.mean(), abs=1e-12)
    np.testing.assert_allclose(
        got["t_interval_95_over_runs"], [per_run.mean() - half, per_run.mean() + half], atol=1e-12
    )
    picks = np.random.default_rng(3).integers(0, 6, size=(500, 6))
    boot = correct.mean(axis=0)[picks].mean(axis=1)
    np.testing.assert_allclose(
        got["bootstrap_interval_95_over_photos"], np.percentile(boot, [2.5, 97.5]), atol=1e-12
    )


def test_diagnose_script_runs_the_documented_variants(tiny_photo_run, tmp_path):
    """scripts/photos_diagnose.py as docs/experiments.md runs it: validation accuracy equals
    the model's own predictions on the rebuilt validation split; the seed summary of two
    copies of a run has their accuracy as mean and a zero-width t interval; the zero
    reference and class target reproduce QGrad-CAM's maps, and the margin's weighted sum is
    the difference of the two classes' weighted sums (NumPy); a run compared with itself
    (--agree-with) peaks inside its own region wherever its map has mass."""
    import json

    import tensorflow as tf

    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.model.run import Run

    diag = _diagnose_script()
    out = str(tmp_path / "val.json")
    assert (
        diag.main(
            [tiny_photo_run, tiny_photo_run, "--split", "validation"]
            + ["--accuracy-only", "--out", out]
        )
        == 0
    )
    rows = json.load(open(out))
    run = Run.open(tiny_photo_run)
    model = run.model(backend="tf")
    bundle = run.adapter().load(diag.validation_options(run))
    x, y = diag.split_arrays(bundle, "validation")
    assert len(y) == 4  # 0.25 of the 16 training photos
    expected = float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))
    assert rows[0]["validation_accuracy"] == pytest.approx(expected, abs=1e-12)
    summary = rows[-1]["summary"]
    assert summary["validation_accuracy_mean"] == pytest.approx(expected, abs=1e-12)
    assert summary["t_interval_95_over_runs"] == pytest.approx([expected, expected], abs=1e-12)

    x_test = run.bundle().test_arrays[0]
    cam = QGradCAM(model)
    plain = diag.VariantCAM(cam, reference=np.zeros(model.get_layer("bn").moving_mean.shape))
    # float32: the script sums the weighted maps in another order than QGrad-CAM's einsum
    np.testing.assert_allclose(plain(x_test).maps, cam(x_test).maps, atol=1e-5)
    images = tf.constant(x_test)
    sums = []
    for c in (0, 1):
        acts, grads, _, _, ci = cam.forward_and_gradients(
            images, tf.constant([c] * len(x_test), tf.int64)
        )
        weights = cam.get_cam_weights(acts, grads, images, ci).numpy()
        sums.append(np.einsum("bhwk,bk->bhw", acts.numpy(), weights))
    margin = diag.VariantCAM(cam, margin=True)
    got = margin.weighted_sum(images, tf.constant([1] * len(x_test), tf.int64))[0].numpy()
    reference = sums[1] - sums[0]
    np.testing.assert_allclose(got, reference, rtol=1e-4, atol=1e-5 * np.abs(reference).max())

    figure = str(tmp_path / "fig.png")
    argv = [tiny_photo_run, "--reference", "bn-mean", "--figure", figure, "--per-class", "1"]
    assert diag.main(argv + ["--out", str(tmp_path / "d.json")]) == 0
    row = json.load(open(tmp_path / "d.json"))[0]
    assert (row["reference"], row["n"]) == ("bn-mean", 8) and 0 <= row["empty_share"] <= 1
    assert (tmp_path / "fig.png").stat().st_size > 1000

    # a run against itself: every map with mass peaks inside its own region
    argv = [tiny_photo_run, "--agree-with", tiny_photo_run, "--out", str(tmp_path / "a.json")]
    assert diag.main(argv) == 0
    agreement = json.load(open(tmp_path / "a.json"))[0]["agreement"]
    x_test, y_test = run.bundle().test_arrays
    correct = np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test
    own = cam(x_test[correct], class_index=y_test[correct]).activations_maps
    assert agreement["n_both_correct"] == int(correct.sum())
    has_mass = own.reshape(len(own), -1).max(axis=1) > 0
    assert agreement["pointing_share"] == pytest.approx(has_mass.mean(), abs=1e-12)
    assert agreement["enrichment_mean"] > 1.0 or not has_mass.any()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
