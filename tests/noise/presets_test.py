"""qgcam_tf.noise.presets: models by preset name and the list of names."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import cirq  # noqa: E402

from qgcam_tf.noise.hardware import HARDWARE_PRESETS, hardware_noise  # noqa: E402
from qgcam_tf.noise.model import CHANNELS, NoiseModel  # noqa: E402
from qgcam_tf.noise.presets import SIMPLE_PRESETS, make_noise, presets  # noqa: E402
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


def test_a_channel_preset_sets_that_channel_alone():
    """make_noise(channel, p) is the NoiseModel with only that channel at p, named after it,
    with the options passed through."""
    for channel in SIMPLE_PRESETS:
        got = make_noise(channel, 0.2, method="density", repetitions=5)
        want = NoiseModel(name=channel, method="density", repetitions=5, **{channel: 0.2})
        assert got == want
    with pytest.raises(ValueError, match="preset 'readout' needs a strength in"):
        make_noise("readout")


def test_a_hardware_preset_is_the_device_model_scaled():
    """make_noise(device, f, spec=...) is hardware_noise(device, spec).scaled(f); without a
    strength it is the calibrated model itself; options replace the model's."""
    spec = VQCSpec(4, 1, 2)
    device = hardware_noise("rainbow", spec)
    assert make_noise("rainbow", spec=spec) == device
    assert make_noise("rainbow", 0.5, spec=spec) == device.scaled(0.5)
    assert make_noise("rainbow", spec=spec, method="trajectories").method == "trajectories"


def test_a_hardware_preset_places_any_circuit():
    """make_noise(device, f, circuit=c) is hardware_noise(device, c).scaled(f); giving both
    spec and circuit is refused."""
    q = cirq.LineQubit.range(4)
    circuit = cirq.Circuit(cirq.CZ(q[0], q[1]), cirq.ISWAP(q[1], q[2]), cirq.CZ(q[3], q[2]))
    device = hardware_noise("weber", circuit)
    assert make_noise("weber", circuit=circuit) == device
    assert make_noise("weber", 2.0, circuit=circuit) == device.scaled(2.0)
    assert device.edges == ((0, 1), (1, 2), (2, 3))
    with pytest.raises(ValueError, match="needs the circuit spec or a circuit"):
        make_noise("weber", spec=VQCSpec(4, 1, 2), circuit=circuit)


def test_presets_are_the_devices_then_the_channels():
    """presets() is HARDWARE_PRESETS followed by the NoiseModel channels."""
    assert presets() == HARDWARE_PRESETS + CHANNELS
    assert SIMPLE_PRESETS == CHANNELS


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
