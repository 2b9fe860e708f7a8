"""Noise models by name: :func:`make_noise` and the names it accepts (:func:`presets`).

A hardware device name (:data:`~qgcam_tf.noise.hardware.HARDWARE_PRESETS`) gives the
device's calibrated model from :func:`~qgcam_tf.noise.hardware.hardware_noise`; a channel
name (:data:`SIMPLE_PRESETS`, the channels of :class:`~qgcam_tf.noise.model.NoiseModel`)
gives that channel alone.
"""

from __future__ import annotations

import dataclasses

import cirq

from qgcam_tf.noise.hardware import HARDWARE_PRESETS, hardware_noise
from qgcam_tf.noise.model import CHANNELS, NoiseModel, check_probability
from qgcam_tf.quantum.circuits import VQCSpec

__all__ = [
    "SIMPLE_PRESETS",
    "make_noise",
    "presets",
]

SIMPLE_PRESETS = CHANNELS


def presets() -> tuple[str, ...]:
    """Names accepted by :func:`make_noise`: hardware devices, then single channels."""
    return HARDWARE_PRESETS + SIMPLE_PRESETS


def make_noise(
    preset: str,
    strength: float | None = None,
    *,
    spec: VQCSpec | None = None,
    circuit: cirq.AbstractCircuit | None = None,
    **options,
) -> NoiseModel:
    """A model from a preset name.

    Args:
        preset: one of :func:`presets`. A channel name gives that channel alone, with
            ``strength`` after every gate (readout: on every measured qubit).
        strength: the channel's probability; for ``"rainbow"``/``"weber"`` a factor on all
            calibrated error rates (default 1, the device as calibrated).
        spec: the paper circuit (hardware presets place its qubits).
        circuit: any Cirq circuit instead of ``spec`` (hardware presets place its qubits
            with :func:`~qgcam_tf.noise.hardware.place_circuit`, in the order
            ``sorted(circuit.all_qubits())``).
        **options: ``method``/``repetitions`` of the returned
            :class:`~qgcam_tf.noise.model.NoiseModel`.

    Raises:
        ValueError: unknown preset, bad strength, a hardware preset without ``spec`` or
            ``circuit`` (or with both), or a circuit that does not fit the device.
    """
    if preset in HARDWARE_PRESETS:
        if (spec is None) == (circuit is None):
            raise ValueError(
                f"preset {preset!r} needs the circuit spec or a circuit (one of them) to "
                "place its qubits"
            )
        model = hardware_noise(preset, spec if circuit is None else circuit)
        if strength is not None:
            model = model.scaled(strength)
        return dataclasses.replace(model, **options)
    if preset not in SIMPLE_PRESETS:
        raise ValueError(f"unknown noise preset {preset!r}; choose from {presets()}")
    if strength is None:
        raise ValueError(f"preset {preset!r} needs a strength in [0, 1]")
    strength = check_probability(preset, strength)
    return NoiseModel(name=preset, **{preset: strength}, **options)
