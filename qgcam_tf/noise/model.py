"""Noise models for the QGrad-CAM circuit: the channel strengths and their checks.

A :class:`NoiseModel` holds the strengths of four single-qubit channels that TensorFlow
Quantum's noisy backend (``tfq.noise``) supports:

* depolarizing ``cirq.depolarize(p)``: X, Y, Z each with probability ``p/3``;
* amplitude damping ``cirq.amplitude_damp(gamma)`` (energy relaxation, T1);
* phase damping ``cirq.phase_damp(lambda)`` (pure dephasing, T_phi);
* readout bit flip ``cirq.bit_flip(p)``.

The rest of the noise tier builds on it: :mod:`qgcam_tf.noise.circuits` inserts the channels
into the paper circuit, :mod:`qgcam_tf.noise.hardware` derives strengths from Google device
calibrations, :mod:`qgcam_tf.noise.presets` builds models by name, and
:mod:`qgcam_tf.noise.executors` simulates the noisy circuit.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = [
    "CHANNELS",
    "METHODS",
    "NoiseModel",
    "check_execution",
    "check_probability",
]

CHANNELS = ("depolarizing", "amplitude_damping", "phase_damping", "readout")
METHODS = ("auto", "density", "trajectories")
_OPTIONS = ("qubits", "name", "method", "repetitions")


def check_probability(name: str, value) -> float:
    """``value`` as a float, after checking it is a probability in [0, 1].

    Args:
        name: the strength's name, used in the message (``NoiseModel.<name>``).
        value: a real number (bools, NaN and values outside [0, 1] are refused).

    Raises:
        ValueError: naming ``name`` and ``value``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"NoiseModel.{name} must be a probability in [0, 1], got {value!r}")
    value = float(value)
    if not (0.0 <= value <= 1.0):  # also rejects NaN
        raise ValueError(f"NoiseModel.{name} must be a probability in [0, 1], got {value!r}")
    return value


def check_execution(method, repetitions) -> None:
    """Checks how a model is simulated: ``method`` in :data:`METHODS`, ``repetitions`` an
    int >= 1.

    Raises:
        ValueError: naming the bad argument and its value.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if (
        isinstance(repetitions, bool)
        or not isinstance(repetitions, (int, np.integer))
        or repetitions < 1
    ):
        raise ValueError(f"repetitions must be an int >= 1, got {repetitions!r}")


def _is_sequence(value) -> bool:
    return isinstance(value, (tuple, list)) or (isinstance(value, np.ndarray) and value.ndim > 0)


def _normalise(name: str, value, *, pairs: bool):
    """A float, or a tuple of floats (per qubit), or of pairs (per ring edge, ``pairs``).

    Ring edges may mix floats and pairs, so the entries are looked at one by one (NumPy
    would refuse the ragged sequence as a whole).
    """
    if value is None:
        return None
    if not _is_sequence(value):
        return check_probability(name, value)
    out = []
    for v in value:
        if pairs and _is_sequence(v):
            if len(v) != 2:
                raise ValueError(f"NoiseModel.{name} entries must be floats or pairs, got {v!r}")
            out.append(tuple(check_probability(name, x) for x in v))
        else:
            out.append(check_probability(name, v))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class NoiseModel:
    """Strengths of the noise channels of :func:`~qgcam_tf.noise.circuits.noisy_circuit`.

    Each single-qubit strength is a probability, or a tuple of ``n_qubits`` probabilities
    (one per circuit qubit). Each ``two_qubit_*`` strength is a probability, or a tuple of
    ``n_qubits`` entries, entry ``i`` for the ring CNOT ``(q_i, q_{(i+1) mod n})``, each a
    probability for both of its qubits or a pair ``(control, target)``; ``None`` means
    "the single-qubit value" (per qubit).

    Args:
        depolarizing: depolarizing probability after each single-qubit gate.
        amplitude_damping: amplitude damping ``gamma`` after each single-qubit gate.
        phase_damping: phase damping ``lambda`` after each single-qubit gate.
        readout: bit-flip probability of each measured qubit.
        two_qubit_depolarizing: depolarizing after each CNOT, on both qubits.
        two_qubit_amplitude_damping: amplitude damping after each CNOT.
        two_qubit_phase_damping: phase damping after each CNOT.
        qubits: device qubits the circuit qubits ``0..n-1`` are placed on (None: line qubits).
        name: a label (used in tables and plots).
        method: how :func:`~qgcam_tf.noise.executors.noisy_executor` simulates this model
            unless told otherwise
            (``"auto"``, ``"density"``, ``"trajectories"``); carried by the model so that
            callers that only pass a model (``QGradCAM.explicit_weights(noise=...)``)
            can choose it.
        repetitions: trajectories per expectation for ``"trajectories"``.

    Raises:
        ValueError: a strength is not a probability in [0, 1], or a bad method/repetitions.
    """

    depolarizing: float | tuple = 0.0
    amplitude_damping: float | tuple = 0.0
    phase_damping: float | tuple = 0.0
    readout: float | tuple = 0.0
    two_qubit_depolarizing: float | tuple | None = None
    two_qubit_amplitude_damping: float | tuple | None = None
    two_qubit_phase_damping: float | tuple | None = None
    qubits: tuple | None = None
    name: str = "custom"
    method: str = "auto"
    repetitions: int = 200

    def __post_init__(self):
        check_execution(self.method, self.repetitions)
        for f in self.strength_fields():
            value = _normalise(f.name, getattr(self, f.name), pairs=f.name.startswith("two_"))
            object.__setattr__(self, f.name, value)
        if self.qubits is not None:
            object.__setattr__(self, "qubits", tuple(self.qubits))

    @classmethod
    def strength_fields(cls) -> list[dataclasses.Field]:
        """The fields holding channel strengths."""
        return [f for f in dataclasses.fields(cls) if f.name not in _OPTIONS]

    @classmethod
    def from_dict(cls, config: dict) -> NoiseModel:
        """Builds a model from ``{channel: strength}``; unknown keys raise ValueError."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown noise channel {unknown[0]!r}; known: {sorted(known)}")
        return cls(**config)

    def scaled(self, factor: float) -> NoiseModel:
        """Every strength multiplied by ``factor`` (clipped to 1)."""
        if not (isinstance(factor, (int, float)) and factor >= 0 and math.isfinite(factor)):
            raise ValueError(f"factor must be a finite number >= 0, got {factor!r}")

        def scale(v):
            if v is None:
                return None
            if isinstance(v, tuple):
                return tuple(scale(x) for x in v)
            return min(1.0, v * factor)

        changes = {f.name: scale(getattr(self, f.name)) for f in self.strength_fields()}
        return dataclasses.replace(self, **changes)

    def per_qubit(self, channel: str, n: int) -> list[float]:
        """The single-qubit strength of ``channel`` for each of ``n`` qubits."""
        value = getattr(self, channel)
        if isinstance(value, tuple):
            if len(value) != n:
                raise ValueError(f"NoiseModel.{channel} has {len(value)} values for {n} qubits")
            return list(value)
        return [value] * n

    def per_edge(self, channel: str, n: int) -> list[tuple[float, float]]:
        """``(control, target)`` strengths after ring CNOT ``i`` for ``i < n``."""
        value = getattr(self, f"two_qubit_{channel}")
        if value is None:
            single = self.per_qubit(channel, n)
            return [(single[i], single[(i + 1) % n]) for i in range(n)]
        if isinstance(value, tuple):
            if len(value) != n:
                raise ValueError(
                    f"NoiseModel.two_qubit_{channel} has {len(value)} values for {n} ring edges"
                )
            return [v if isinstance(v, tuple) else (v, v) for v in value]
        return [(value, value)] * n

    def mean_two_qubit_depolarizing(self, n: int) -> float:
        """Mean depolarizing probability per qubit after a CNOT (the dominant error)."""
        return float(np.mean(self.per_edge("depolarizing", n)))
