"""qgcam_tf.noise.model: NoiseModel's checks of strengths and execution options."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from qgcam_tf.noise.model import NoiseModel  # noqa: E402


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (
            dict(depolarizing=-0.1),
            r"NoiseModel.depolarizing must be a probability in \[0, 1\], got -0.1",
        ),
        (dict(amplitude_damping=1.5), r"amplitude_damping .*got 1.5"),
        (dict(readout=(0.1, float("nan"))), r"readout .*got nan"),
        (dict(two_qubit_phase_damping=((0.1, 2.0),)), r"two_qubit_phase_damping .*got 2.0"),
        (dict(method="exact"), r"method must be one of .*got 'exact'"),
        (dict(repetitions=0), r"repetitions must be an int >= 1, got 0"),
    ],
)
def test_invalid_noise_models_raise(kwargs, match):
    """Out-of-range probabilities and bad execution options give one ValueError naming them."""
    with pytest.raises(ValueError, match=match):
        NoiseModel(**kwargs)


def test_unknown_noise_channel_raises():
    """from_dict with an unknown channel gives one ValueError naming it."""
    with pytest.raises(ValueError, match="unknown noise channel 'thermal'"):
        NoiseModel.from_dict({"thermal": 0.1})


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
