"""Tests for qgcam_tf.viz.digits: the digits `qgcam explain` picks from an MNIST test split
are what their figures say (correct per class, truly misclassified) and carry QGrad-CAM's maps
of the classes named."""

import os
import sys

import numpy as np
import pytest

from qgcam_tf.viz.digits import (
    DIGITS_NPZ,
    digit_test_figures,
    pick_correct_per_class,
    pick_misclassified,
    save_correct_figure,
)

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "mnist-2epochs")


def test_correct_picks_are_labelled_and_predicted_as_their_class():
    """Each pick of class c has label c and prediction c; a class with no correct example
    gets -1; the same seed picks the same, and every correct example can be picked."""
    labels = np.array([0, 0, 1, 1, 2, 2, 2, 3])
    predicted = np.array([0, 1, 1, 1, 0, 2, 2, 2])
    picked = pick_correct_per_class(predicted, labels, 5, seed=4)
    assert picked[3] == -1 and picked[4] == -1  # 3 is never right, 4 never occurs
    for c in range(3):
        assert labels[picked[c]] == c and predicted[picked[c]] == c
    assert picked[0] == 0
    np.testing.assert_array_equal(pick_correct_per_class(predicted, labels, 5, seed=4), picked)
    seen = {int(pick_correct_per_class(predicted, labels, 5, seed=s)[2]) for s in range(40)}
    assert seen == {5, 6}


def test_misclassified_picks_are_wrong_distinct_and_spread_over_true_classes():
    """Every pick is misclassified, none twice, one per true class before a second of any,
    and at most count (or every wrong one when fewer)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)
    predicted = np.where(rng.uniform(size=200) < 0.3, (labels + 1) % 4, labels)
    picked = pick_misclassified(predicted, labels, 6, 4, seed=1)
    assert len(picked) == 6 and len(set(picked.tolist())) == 6
    assert np.all(predicted[picked] != labels[picked])
    assert sorted(labels[picked[:4]].tolist()) == [0, 1, 2, 3]
    n_wrong = int(np.sum(predicted != labels))
    assert len(pick_misclassified(predicted, labels, 10_000, 4)) == n_wrong
    assert pick_misclassified(labels, labels, 3, 4).shape == (0,)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: pick_correct_per_class([0, 1], [0], 2), "predicted and labels must be 1-D"),
        (lambda: pick_misclassified([0, 1], [1, 0], 0, 2), "count must be an int >= 1, got 0"),
        (
            lambda: save_correct_figure(
                np.zeros((2, 4, 4, 1)), np.zeros((2, 4, 4)), [1], "ab", "x"
            ),
            "need B >= 1 images",
        ),
    ],
)
def test_bad_inputs_are_one_value_error(call, match):
    """Arrays of different lengths, a count below 1, or figure inputs of disagreeing sizes
    are one ValueError saying what was expected and given."""
    with pytest.raises(ValueError, match=match):
        call()


def test_figures_of_a_trained_run_show_what_they_say(tmp_path):
    """On the trained fixture and 600 test digits: the per-class digits are classified
    correctly (checked by the model's own predictions), the misclassified ones are wrong,
    and every map equals QGrad-CAM's map of the class named; both PNGs are written."""
    from qgcam_tf.data.mnist import load_mnist
    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.model.run import load_model, read_metadata

    model = load_model(FIXTURE, backend="tf")
    _, (x, y) = load_mnist()
    x, y = x[:600], y[:600]
    cam = QGradCAM(model)
    written = digit_test_figures(str(tmp_path), cam, x, y, read_metadata(FIXTURE), seed=3)
    names = sorted(os.path.basename(p) for p in written)
    assert names == sorted(
        ["qgradcam_digits_per_class.png", "qgradcam_misclassified.png", DIGITS_NPZ]
    )
    for path in written[:2]:
        with open(path, "rb") as f:
            assert f.read(4) == b"\x89PNG"
    data = np.load(tmp_path / DIGITS_NPZ)
    predicted = np.argmax(model.predict(x, verbose=0), axis=1)
    assert float(data["test_accuracy"]) == pytest.approx(np.mean(predicted == y), abs=1e-12)

    correct = data["correct_index"]
    assert correct.shape == (10,) and np.all(correct >= 0)
    np.testing.assert_array_equal(y[correct], np.arange(10))
    np.testing.assert_array_equal(predicted[correct], np.arange(10))
    expected = cam(x[correct], class_index=np.arange(10))
    np.testing.assert_allclose(data["correct_maps"], expected.maps, atol=1e-5)
    np.testing.assert_allclose(
        data["correct_probability"], expected.probabilities[np.arange(10), np.arange(10)], atol=1e-5
    )

    wrong = data["wrong_index"]
    assert 1 <= len(wrong) <= 10
    assert np.all(predicted[wrong] != y[wrong])
    np.testing.assert_array_equal(data["wrong_predicted"], predicted[wrong])
    np.testing.assert_array_equal(data["wrong_label"], y[wrong])
    maps_p = cam(x[wrong], class_index=predicted[wrong]).maps
    maps_t = cam(x[wrong], class_index=y[wrong]).maps
    np.testing.assert_allclose(data["wrong_maps_predicted"], maps_p, atol=1e-5)
    np.testing.assert_allclose(data["wrong_maps_true"], maps_t, atol=1e-5)
    assert np.abs(maps_p - maps_t).max() > 0.1  # two classes, two different maps


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
