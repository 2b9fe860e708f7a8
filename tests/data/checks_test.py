"""Tests of qgcam_tf.data.checks: the input checks that warn (polarity, aspect, constant)."""

import io
import sys
import warnings

import numpy as np
import pytest

from qgcam_tf.data.checks import (
    ASPECT_TOLERANCE,
    FITS,
    InputWarning,
    aspect_message,
    check_inputs,
    fitted_as,
    is_constant,
    polarity_message,
    print_input_warnings,
    resolve_fit,
    training_mean,
)
from qgcam_tf.data.mnist import load_mnist


def warned(inputs, sources, train_mean) -> list[str]:
    """The InputWarning messages check_inputs gives, in order."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_inputs(inputs, sources, train_mean=train_mean)
    assert all(issubclass(w.category, InputWarning) for w in caught)
    return [str(w.message) for w in caught]


@pytest.fixture(scope="module")
def mnist_test_digits():
    """The 10 000 MNIST test digits and the training mean (0.130)."""
    (x_train, _), (x_test, _) = load_mnist()
    return x_test, float(x_train.mean())


def test_no_mnist_digit_warns_and_every_inverted_one_does(mnist_test_digits):
    """All 10 000 test digits pass; all 10 000 inverted (1 - x) get the polarity warning,
    which names the source, the training polarity and both means."""
    x, mean = mnist_test_digits
    sources = [f"t[{i}]" for i in range(len(x))]
    assert warned(x, sources, mean) == []
    inverted = warned(1.0 - x, sources, mean)
    assert len(inverted) == len(x)
    means = 1.0 - x.reshape(len(x), -1).mean(1)
    i = int(np.argmin(means))  # the boldest digit, inverted: the closest call
    assert inverted[i] == (
        f"t[{i}]: the model was trained on light-on-dark inputs (mean {mean:.2f}); this input "
        f"has mean {means[i]:.2f}: invert it (1 - x)?"
    )


def test_polarity_rule():
    """Only a polarised training mean (>= 0.2 from 0.5) and an input >= 0.1 past 0.5 on the
    other side warn; photos (mean near 0.45) and runs without a mean never do."""
    assert polarity_message(0.87, 0.13) is not None
    assert polarity_message(0.61, 0.13) is not None
    assert polarity_message(0.59, 0.13) is None  # too close to 0.5 to call
    assert polarity_message(0.10, 0.13) is None  # same side
    assert "dark-on-light" in polarity_message(0.12, 0.88)
    assert polarity_message(0.95, 0.45) is None  # training not polarised (photos)
    assert polarity_message(0.95, None) is None


def test_training_mean_sources():
    """The recorded input_mean first (channel lists averaged), else the dataset's known mean;
    none for spectrograms, unknown datasets or a broken value."""
    assert training_mean({"dataset": "mnist", "input_mean": 0.2}) == pytest.approx(0.2)
    assert training_mean({"input_mean": [0.1, 0.2, 0.6]}, "dogs-vs-cats") == pytest.approx(0.3)
    assert training_mean({"dataset": "mnist"}) == pytest.approx(0.1307)
    assert training_mean({}, "mnist") == pytest.approx(0.1307)
    assert training_mean({"dataset": "dogs-vs-cats"}) is None
    assert training_mean({"dataset": "speech", "input_mean": 0.2}) is None
    assert training_mean({"dataset": "mnist", "input_mean": "x"}) is None
    assert training_mean({"dataset": "mnist", "input_mean": float("nan")}) is None


def test_constant_inputs_warn_instead_of_polarity():
    """An all-zero and an all-white image warn as constant (never as inverted); a flat image
    with one grey level of noise is constant, two levels are not."""
    x = np.zeros((4, 6, 6, 1), np.float32)
    x[1] = 1.0
    x[2, 0, 0] = 1.0 / 255  # one grey level: still constant
    x[3, 0, 0] = 2.0 / 255
    np.testing.assert_array_equal(is_constant(x), [True, True, True, False])
    messages = warned(x, ["zero", "white", "one-level", "two-level"], 0.13)
    assert messages == [
        "zero: constant input (every value 0.000): the model sees no content, so its "
        "prediction and its CAM map carry no information (explain writes its map as zeros)",
        "white: constant input (every value 1.000): the model sees no content, so its "
        "prediction and its CAM map carry no information (explain writes its map as zeros)",
        "one-level: constant input (every value 0.000): the model sees no content, so its "
        "prediction and its CAM map carry no information (explain writes its map as zeros)",
    ]
    with pytest.raises(ValueError, match="4 inputs but 3 sources"):
        check_inputs(x, ["a", "b", "c"], train_mean=None)


def test_aspect_message_says_what_each_fit_does():
    """A 2:1 picture for a square input warns under every fit, saying what was done; 4:3
    (what Dogs vs Cats training stretched) and the tolerance itself do not."""
    stretch = aspect_message((28, 56), (28, 28), "stretch")
    assert stretch == (
        "aspect ratio 2.00 (56x28) is far from the model input's 1.00 (28x28): stretched to "
        "fit, as training did (--fit pad letterboxes it, --fit crop keeps the centre)"
    )
    assert "letterboxed (--fit pad): the picture fills 50% of the input" in aspect_message(
        (56, 28), (28, 28), "pad"
    )
    assert "centre-cropped (--fit crop): 50% of the picture is cut off" in aspect_message(
        (28, 56), (28, 28), "crop"
    )
    assert aspect_message((375, 500), (64, 64), "stretch") is None  # 4:3
    assert aspect_message((100, int(100 * ASPECT_TOLERANCE)), (28, 28), "stretch") is None
    assert aspect_message((14, 28), (8, 16), "stretch") is None  # same ratio, other size


def test_resolve_fit_and_fitted_as():
    """None means the run's recorded fit or stretch; an unknown fit names itself; arrays,
    batch rows and audio are never fitted."""
    assert FITS == ("stretch", "pad", "crop")
    assert resolve_fit(None) == "stretch"
    assert resolve_fit(None, {"fit": "pad"}) == "pad"
    assert resolve_fit("crop", {"fit": "pad"}) == "crop"
    with pytest.raises(ValueError, match="fit must be one of stretch, pad, crop, got 'zoom'"):
        resolve_fit("zoom")
    assert fitted_as("a/x.PNG", "pad") == "pad"
    assert fitted_as("b.jpeg", "crop") == "crop"
    assert fitted_as("b.npy[3]", "crop") == "none"
    assert fitted_as("b.npy", "crop") == "none"
    assert fitted_as("clip.wav", "pad") == "none"


def test_print_input_warnings_prints_each_once_as_one_line():
    """Each distinct InputWarning is one `warning: ` line (newlines in a name folded);
    a repeat is not printed again, and other warnings still reach the usual handler."""
    stream = io.StringIO()
    with warnings.catch_warnings(record=True) as others:
        warnings.simplefilter("always")
        with print_input_warnings(stream):
            warnings.warn("a.png: constant input", InputWarning)
            warnings.warn("a.png: constant input", InputWarning)
            warnings.warn("b\nc.png: odd name", InputWarning)
            warnings.warn("something else", UserWarning)
        warnings.warn("after: not printed", InputWarning)
    assert stream.getvalue() == "warning: a.png: constant input\nwarning: b c.png: odd name\n"
    assert [str(w.message) for w in others] == ["something else", "after: not printed"]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
