"""qgcam_tf.noise.presets: models by preset name and the list of names."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from qgcam_tf.noise.presets import make_noise, presets  # noqa: E402
from qgcam_tf.quantum.circuits import VQCSpec  # noqa: E402


def test_invalid_presets_and_arguments_raise():
    """Unknown presets, bad strengths and a hardware preset without spec give a clear
    ValueError; presets() lists the hardware devices, then the single channels."""
    spec = VQCSpec(3, 1, 3)
    with pytest.raises(ValueError, match="unknown noise preset 'sycamore'"):
        make_noise("sycamore", 0.1, spec=spec)
    with pytest.raises(ValueError, match="depolarizing must be a probability .*got 1.2"):
        make_noise("depolarizing", 1.2)
    with pytest.raises(ValueError, match="needs the circuit spec"):
        make_noise("rainbow")
    assert presets() == (
        "rainbow",
        "weber",
        "depolarizing",
        "amplitude_damping",
        "phase_damping",
        "readout",
    )


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
