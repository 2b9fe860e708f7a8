"""Noise models for the QGrad-CAM circuit: the channel strengths and their checks.

A :class:`NoiseModel` holds the strengths of four single-qubit channels that TensorFlow
Quantum's noisy backend (``tfq.noise``) supports:

* depolarizing ``cirq.depolarize(p)``: X, Y, Z each with probability ``p/3``;
* amplitude damping ``cirq.amplitude_damp(gamma)`` (energy relaxation, T1);
* phase damping ``cirq.phase_damp(lambda)`` (pure dephasing, T_phi);
* readout bit flip ``cirq.bit_flip(p)``.

The rest of the noise tier builds on it: :mod:`qgcam_tf.noise.circuits` inserts the channels
into the paper circuit or any circuit, :mod:`qgcam_tf.noise.hardware` derives strengths from
Google device calibrations, :mod:`qgcam_tf.noise.presets` builds models by name, and
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
_OPTIONS = ("qubits", "edges", "name", "method", "repetitions")


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


def _check_edges(edges) -> tuple:
    """``edges`` as a tuple of ``(a, b)`` pairs of distinct circuit-qubit indices >= 0."""
    if not _is_sequence(edges):
        raise ValueError(f"NoiseModel.edges must be a sequence of index pairs, got {edges!r}")
    out = []
    for e in edges:
        ok = _is_sequence(e) and len(e) == 2
        ok = ok and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in e)
        if not ok or e[0] < 0 or e[1] < 0 or e[0] == e[1]:
            raise ValueError(
                f"NoiseModel.edges entries must be pairs of distinct qubit indices >= 0, got {e!r}"
            )
        out.append((int(e[0]), int(e[1])))
    if len({frozenset(e) for e in out}) != len(out):
        raise ValueError(f"NoiseModel.edges must not repeat a pair, got {tuple(out)}")
    return tuple(out)


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
    (one per circuit qubit). Each ``two_qubit_*`` strength is a probability, or a tuple with
    one entry per *edge* (pair of circuit qubits that share a multi-qubit gate), each a
    probability for both of its qubits or a pair ``(first, second)`` in the edge's qubit
    order; ``None`` means "the single-qubit value" (per qubit). The edges are ``edges``;
    without them (``None``) entry ``i`` is the paper's ring CNOT ``(q_i, q_{(i+1) mod n})``
    (``(control, target)``), so a tuple has ``n_qubits`` entries.

    Args:
        depolarizing: depolarizing probability after each single-qubit gate.
        amplitude_damping: amplitude damping ``gamma`` after each single-qubit gate.
        phase_damping: phase damping ``lambda`` after each single-qubit gate.
        readout: bit-flip probability of each measured qubit.
        two_qubit_depolarizing: depolarizing after each CNOT, on both qubits.
        two_qubit_amplitude_damping: amplitude damping after each CNOT.
        two_qubit_phase_damping: phase damping after each CNOT.
        qubits: device qubits the circuit qubits ``0..n-1`` are placed on (None: line qubits).
        edges: the circuit-qubit index pairs ``(a, b)`` that the entries of tuple-valued
            ``two_qubit_*`` strengths belong to, in order (None: the paper's ring); see
            :meth:`two_qubit_pair`.
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
    edges: tuple | None = None
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
        if self.edges is not None:
            object.__setattr__(self, "edges", _check_edges(self.edges))

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
        """``(control, target)`` strengths after ring CNOT ``i`` for ``i < n`` (a model with
        ``edges`` must list every ring pair, see :meth:`two_qubit_pair`)."""
        if self.edges is not None:
            return [self.two_qubit_pair(channel, n, i, (i + 1) % n) for i in range(n)]
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
        """Mean depolarizing probability per qubit after a CNOT (the dominant error); for a
        model with ``edges``, after a two-qubit gate on each of its edges."""
        if self.edges is not None:
            pairs = [self.two_qubit_pair("depolarizing", n, a, b) for a, b in self.edges]
            return float(np.mean(pairs))
        return float(np.mean(self.per_edge("depolarizing", n)))

    def two_qubit_pair(self, channel: str, n: int, a: int, b: int) -> tuple[float, float]:
        """Strengths of ``channel`` on qubits ``a`` and ``b`` after a gate on the pair.

        A ``None`` two-qubit strength gives each qubit its single-qubit value, a float the
        same value on both; a tuple gives the entry of the edge ``(a, b)`` among ``edges``
        (the ring ``(i, (i+1) mod n)`` when ``edges`` is None), its sides swapped when the
        edge is listed as ``(b, a)``.

        Args:
            channel: ``"depolarizing"``, ``"amplitude_damping"`` or ``"phase_damping"``.
            n: the number of circuit qubits.
            a: circuit-qubit index of the gate's first qubit.
            b: circuit-qubit index of its second qubit.

        Raises:
            ValueError: a tuple of the wrong length, or ``(a, b)`` is not one of the edges.
        """
        value = getattr(self, f"two_qubit_{channel}")
        if value is None:
            single = self.per_qubit(channel, n)
            return single[a], single[b]
        if not isinstance(value, tuple):
            return value, value
        edges = self.edges
        if edges is None:
            edges = tuple((i, (i + 1) % n) for i in range(n))
        if len(value) != len(edges):
            raise ValueError(
                f"NoiseModel.two_qubit_{channel} has {len(value)} values for "
                f"{len(edges)} edges {edges}"
            )
        for edge, v in zip(edges, value):
            pair = v if isinstance(v, tuple) else (v, v)
            if edge == (a, b):
                return pair
            if edge == (b, a):
                return pair[1], pair[0]
        raise ValueError(
            f"NoiseModel.two_qubit_{channel} has per-edge values for edges {edges}, "
            f"not for the pair ({a}, {b}) of qubits the circuit couples"
        )
