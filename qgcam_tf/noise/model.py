"""NISQ noise for the QGrad-CAM circuit: noise models, hardware presets, noisy executors.

A :class:`NoiseModel` holds the strengths of four single-qubit channels that TensorFlow
Quantum's noisy backend (``tfq.noise``) supports:

* depolarizing ``cirq.depolarize(p)``: X, Y, Z each with probability ``p/3``;
* amplitude damping ``cirq.amplitude_damp(gamma)`` (energy relaxation, T1);
* phase damping ``cirq.phase_damp(lambda)`` (pure dephasing, T_phi);
* readout bit flip ``cirq.bit_flip(p)``.

Convention of :func:`noisy_circuit`: after *every* gate, on each qubit the gate acts on,
the channels depolarizing, then amplitude damping, then phase damping are applied (the
strengths of single-qubit gates after single-qubit gates, the ``two_qubit_*`` strengths
after the CNOTs); the readout bit flip is applied to every measured qubit at the end of the
circuit, where the measurement would be (it scales ``<Z_l>`` by ``1 - 2p``). Idle qubits
get no noise. A channel of strength 0 is not inserted, so a zero model gives exactly the
noiseless circuit.

Hardware presets (:func:`hardware_noise`, names ``"rainbow"`` and ``"weber"``) derive the
strengths from the median calibrations shipped inside ``cirq_google``
(``load_median_device_calibration``). Approximations, all deliberate:

1. Placement: the circuit's CNOT ring is put on a cycle of ``n`` grid qubits of the device
   (lowest summed two-qubit error among the cycles found). A square grid has cycles of even
   length >= 4 only; otherwise a line is used and the closing CNOT ``(q_{n-1}, q_0)``, whose
   qubits are not neighbours, is charged the error and duration of routing it with
   ``d - 1`` SWAPs (3 CNOTs each) at the device's median CNOT error, ``d`` the grid
   distance of its ends.
2. CNOT: not native on Sycamore; it is charged two cycles of the pair's
   ``two_qubit_parallel_sqrt_iswap_gate_xeb_pauli_error_per_cycle`` (a CNOT compiles to two
   sqrt-iSWAPs plus single-qubit gates), ``e = 1 - (1 - e_cycle)^2``. TFQ supports only
   single-qubit depolarizing, so the two-qubit error becomes independent depolarizing on
   both qubits with ``1 - (1 - p)^2`` equal to ``e`` minus the T1/T_phi part below.
3. Single-qubit gates: each gate of the circuit (H, RY, RZ) is charged the qubit's
   ``single_qubit_rb_pauli_error_per_gate`` minus its T1/T_phi part as depolarizing
   probability. Hardware would fuse each run into one microwave gate and make RZ virtual
   (error free), so this over-counts single-qubit error (which is ~10x smaller than the
   two-qubit error).
4. T1 is ``single_qubit_idle_t1_micros``; T_phi is not calibrated, it is inferred from the
   RB incoherent error ``r = t/(3 T1) + t/(3 T_phi)`` at ``t`` = 25 ns (T_phi infinite where
   that is <= 0). A gate of duration ``t`` gives amplitude damping ``1 - exp(-t/T1)`` and
   phase damping ``1 - exp(-2 t / T_phi)`` (the coherence decays as ``exp(-t/T_phi)``).
   Durations: 25 ns per single-qubit gate, 2 x (25 + 32) + 25 = 139 ns per CNOT.
5. Readout: the calibrated ``p00``/``p11`` errors are asymmetric; a bit flip is symmetric,
   so ``p = (p00 + p11) / 2`` (the bias ``(p11 - p00)`` of ``<Z>`` is dropped).
6. Coherent errors (entangler theta/phi errors), crosstalk, leakage and idling are ignored.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import cirq
import numpy as np

from qgcam_tf.quantum.circuits import VQCSpec, build_vqc, vqc_qubits
from qgcam_tf.quantum.shards import run_in_shards, tfq_shards

__all__ = [
    "CHANNELS",
    "NoiseModel",
    "check_execution",
    "check_probability",
    "hardware_noise",
    "make_noise",
    "noisy_circuit",
    "noisy_executor",
    "noisy_qubits",
    "presets",
]

CHANNELS = ("depolarizing", "amplitude_damping", "phase_damping", "readout")
SIMPLE_PRESETS = CHANNELS
HARDWARE_PRESETS = ("rainbow", "weber")
METHODS = ("auto", "density", "trajectories")
SINGLE_QUBIT_NS = 25.0
SQRT_ISWAP_NS = 32.0
CNOT_NS = 2 * (SINGLE_QUBIT_NS + SQRT_ISWAP_NS) + SINGLE_QUBIT_NS
_TWO_QUBIT_METRIC = "two_qubit_parallel_sqrt_iswap_gate_xeb_pauli_error_per_cycle"
DENSITY_MAX_QUBITS = 8
_OPTIONS = ("qubits", "name", "method", "repetitions")


def presets() -> tuple[str, ...]:
    """Names accepted by :func:`make_noise`: hardware devices, then single channels."""
    return HARDWARE_PRESETS + SIMPLE_PRESETS


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


def _normalise(name: str, value, *, pairs: bool):
    """A float, or a tuple of floats (per qubit), or of pairs (per ring edge, ``pairs``)."""
    if value is None or np.ndim(value) == 0:
        return None if value is None else check_probability(name, value)
    out = []
    for v in value:
        if pairs and np.ndim(v) == 1:
            if len(v) != 2:
                raise ValueError(f"NoiseModel.{name} entries must be floats or pairs, got {v!r}")
            out.append(tuple(check_probability(name, x) for x in v))
        else:
            out.append(check_probability(name, v))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class NoiseModel:
    """Strengths of the noise channels of :func:`noisy_circuit`.

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
        method: how :func:`noisy_executor` simulates this model unless told otherwise
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


def make_noise(
    preset: str, strength: float | None = None, *, spec: VQCSpec | None = None, **options
) -> NoiseModel:
    """A model from a preset name.

    Args:
        preset: one of :func:`presets`. A channel name gives that channel alone, with
            ``strength`` after every gate (readout: on every measured qubit).
        strength: the channel's probability; for ``"rainbow"``/``"weber"`` a factor on all
            calibrated error rates (default 1, the device as calibrated).
        spec: the circuit (needed by hardware presets, which place its qubits).
        **options: ``method``/``repetitions`` of the returned :class:`NoiseModel`.

    Raises:
        ValueError: unknown preset, bad strength, or a hardware preset without ``spec``.
    """
    if preset in HARDWARE_PRESETS:
        if spec is None:
            raise ValueError(f"preset {preset!r} needs the circuit spec to place its qubits")
        model = hardware_noise(preset, spec)
        if strength is not None:
            model = model.scaled(strength)
        return dataclasses.replace(model, **options)
    if preset not in SIMPLE_PRESETS:
        raise ValueError(f"unknown noise preset {preset!r}; choose from {presets()}")
    if strength is None:
        raise ValueError(f"preset {preset!r} needs a strength in [0, 1]")
    strength = check_probability(preset, strength)
    return NoiseModel(name=preset, **{preset: strength}, **options)


# --------------------------------------------------------------------------- circuits
def noisy_qubits(spec: VQCSpec, noise: NoiseModel) -> list:
    """Qubit order of the noisy circuit: the placement's device qubits, else line qubits."""
    if noise.qubits is None:
        return vqc_qubits(spec)
    if len(noise.qubits) != spec.n_qubits:
        raise ValueError(
            f"noise.qubits has {len(noise.qubits)} qubits for n_qubits={spec.n_qubits}"
        )
    return list(noise.qubits)


def _channels(dep: float, amp: float, phase: float, qubit) -> list:
    out = []
    if dep > 0:
        out.append(cirq.depolarize(dep).on(qubit))
    if amp > 0:
        out.append(cirq.amplitude_damp(amp).on(qubit))
    if phase > 0:
        out.append(cirq.phase_damp(phase).on(qubit))
    return out


def noisy_circuit(spec: VQCSpec, noise: NoiseModel) -> tuple[cirq.Circuit, tuple, list]:
    """The paper circuit of :func:`~qgcam_tf.quantum.circuits.build_vqc` with noise channels.

    Channels follow the convention of the module docstring: after each gate on each of its
    qubits depolarizing, amplitude damping, phase damping; readout bit flips at the end.

    Args:
        spec: the circuit.
        noise: the noise model.

    Returns:
        ``(circuit, symbols, qubits)``: the noisy circuit (on ``qubits``), the symbols in
        the column order of :func:`~qgcam_tf.quantum.circuits.symbol_values`, and the qubit order.

    Raises:
        ValueError: a per-qubit strength has the wrong length.
    """
    if not isinstance(noise, NoiseModel):
        raise TypeError(f"noise must be a NoiseModel, got {type(noise).__name__}")
    n = spec.n_qubits
    base, inputs, weights = build_vqc(spec)
    line = vqc_qubits(spec)
    qubits = noisy_qubits(spec, noise)
    index = {q: i for i, q in enumerate(line)}
    single = {c: noise.per_qubit(c, n) for c in CHANNELS}
    edges = {c: noise.per_edge(c, n) for c in CHANNELS[:3]}
    ops = []
    for op in base.all_operations():
        ks = [index[q] for q in op.qubits]
        ops.append(op.transform_qubits(lambda q: qubits[index[q]]))
        if len(ks) == 1:
            k = ks[0]
            ops += _channels(*(single[c][k] for c in CHANNELS[:3]), qubits[k])
        else:
            edge = ks[0]
            if ks[1] != (edge + 1) % n:
                raise ValueError(f"two-qubit gate {op} is not a ring CNOT of the paper circuit")
            for side, k in enumerate(ks):
                ops += _channels(*(edges[c][edge][side] for c in CHANNELS[:3]), qubits[k])
    for l in range(spec.n_outputs):
        if single["readout"][l] > 0:
            ops.append(cirq.bit_flip(single["readout"][l]).on(qubits[l]))
    circuit = cirq.Circuit(ops, strategy=cirq.InsertStrategy.EARLIEST)
    return circuit, inputs + weights, qubits


def noisy_readout_operators(spec: VQCSpec, noise: NoiseModel) -> list[cirq.PauliString]:
    """``Z_0 .. Z_{n_outputs-1}`` on the qubits of :func:`noisy_qubits`."""
    qubits = noisy_qubits(spec, noise)
    return [cirq.Z(qubits[l]) for l in range(spec.n_outputs)]


# ----------------------------------------------------------------- hardware presets
def _pauli_error(channels: Sequence[cirq.Gate]) -> float:
    """Probability of a non-identity Pauli in the Pauli twirl of the composed channels."""
    kraus = [np.eye(2, dtype=complex)]
    for gate in channels:
        kraus = [k2 @ k1 for k1 in kraus for k2 in cirq.kraus(gate)]
    paulis = [cirq.unitary(p) for p in (cirq.X, cirq.Y, cirq.Z)]
    return float(sum(abs(np.trace(p @ k) / 2) ** 2 for k in kraus for p in paulis))


def _device_graph(calibration):
    def one(metric):
        return {key[0]: float(v[0]) for key, v in calibration[metric].items()}

    t1 = one("single_qubit_idle_t1_micros")
    qubits = sorted(t1)
    metrics = {
        "t1_ns": {q: 1000.0 * v for q, v in t1.items()},
        "rb_pauli": one("single_qubit_rb_pauli_error_per_gate"),
        "rb_incoherent": one("single_qubit_rb_incoherent_error_per_gate"),
        "p00": one("single_qubit_p00_error"),
        "p11": one("single_qubit_p11_error"),
    }
    edges = {}
    for key, v in calibration[_TWO_QUBIT_METRIC].items():
        a, b = key
        if a in t1 and b in t1:
            edges[frozenset((a, b))] = float(v[0])
    return qubits, metrics, edges


def _search(qubits, edges, n: int, *, cycle: bool, budget: int = 200_000):
    """Lowest-cost simple cycle (or path) of ``n`` qubits found within ``budget`` steps."""
    neighbours = {
        q: sorted(
            (p for p in qubits if frozenset((p, q)) in edges),
            key=lambda p: edges[frozenset((p, q))],
        )
        for q in qubits
    }
    best, steps = None, 0

    def cost(path):
        pairs = list(zip(path, path[1:])) + ([(path[-1], path[0])] if cycle else [])
        return sum(edges[frozenset(p)] for p in pairs)

    def grow(path, seen):
        nonlocal best, steps
        steps += 1
        if steps > budget:
            return
        if len(path) == n:
            if cycle and frozenset((path[-1], path[0])) not in edges:
                return
            c = cost(path)
            if best is None or c < best[0]:
                best = (c, list(path))
            return
        for p in neighbours[path[-1]]:
            if p not in seen and (not cycle or p > path[0]):  # a cycle starts at its smallest qubit
                seen.add(p)
                path.append(p)
                grow(path, seen)
                path.pop()
                seen.discard(p)

    for start in qubits:
        grow([start], {start})
    return None if best is None else best[1]


@functools.lru_cache(maxsize=None)
def hardware_noise(device: str, spec: VQCSpec) -> NoiseModel:
    """A noise model from the median calibration of a Google device (see module docstring).

    Args:
        device: ``"rainbow"`` or ``"weber"``.
        spec: the circuit to place on the device.

    Raises:
        ValueError: unknown device, or more qubits than the device has.
    """
    if device not in HARDWARE_PRESETS:
        raise ValueError(f"device must be one of {HARDWARE_PRESETS}, got {device!r}")
    import cirq_google  # noqa: PLC0415  (heavy; only hardware presets need it)

    qubits, m, edges = _device_graph(cirq_google.engine.load_median_device_calibration(device))
    n = spec.n_qubits
    if n > len(qubits):
        raise ValueError(f"device {device!r} has {len(qubits)} qubits, the circuit needs {n}")
    ring = _search(qubits, edges, n, cycle=True) if n >= 4 and n % 2 == 0 else None
    line = ring or _search(qubits, edges, n, cycle=False)
    if line is None:
        raise ValueError(f"no connected line of {n} qubits found on device {device!r}")

    def damping(q, t_ns):
        t1 = m["t1_ns"][q]
        excess = m["rb_incoherent"][q] - SINGLE_QUBIT_NS / (3.0 * t1)
        gamma = 1.0 - math.exp(-t_ns / t1)
        lam = 0.0 if excess <= 0 else 1.0 - math.exp(-2.0 * t_ns * 3.0 * excess / SINGLE_QUBIT_NS)
        return gamma, lam

    dep, amp, phase = [], [], []
    for q in line:
        gamma, lam = damping(q, SINGLE_QUBIT_NS)
        decoherence = _pauli_error([cirq.amplitude_damp(gamma), cirq.phase_damp(lam)])
        dep.append(max(0.0, m["rb_pauli"][q] - decoherence))
        amp.append(gamma)
        phase.append(lam)
    cnot = {e: 1.0 - (1.0 - v) ** 2 for e, v in edges.items()}
    median_cnot = float(np.median(list(cnot.values())))
    dep2, amp2, phase2 = [], [], []
    for i in range(n):
        a, b = line[i], line[(i + 1) % n]
        if frozenset((a, b)) in cnot:
            error, duration = cnot[frozenset((a, b))], CNOT_NS
        else:  # the closing edge of a line: route it with SWAPs (3 CNOTs each)
            d = abs(a.row - b.row) + abs(a.col - b.col)
            count = 1 + 3 * (d - 1)
            error, duration = 1.0 - (1.0 - median_cnot) ** count, CNOT_NS * count
        damp = [damping(q, duration) for q in (a, b)]
        decoherence = [_pauli_error([cirq.amplitude_damp(g), cirq.phase_damp(l)]) for g, l in damp]
        rest = max(0.0, 1.0 - (1.0 - error) / ((1.0 - decoherence[0]) * (1.0 - decoherence[1])))
        p = 1.0 - math.sqrt(1.0 - rest)
        dep2.append((p, p))
        amp2.append(tuple(g for g, _ in damp))
        phase2.append(tuple(l for _, l in damp))
    readout = [(m["p00"][q] + m["p11"][q]) / 2.0 for q in line]
    return NoiseModel(
        depolarizing=tuple(dep),
        amplitude_damping=tuple(amp),
        phase_damping=tuple(phase),
        readout=tuple(readout),
        two_qubit_depolarizing=tuple(dep2),
        two_qubit_amplitude_damping=tuple(amp2),
        two_qubit_phase_damping=tuple(phase2),
        qubits=tuple(line),
        name=device,
    )


# ------------------------------------------------------------------------ executors
class _TrajectoryExecutor:
    """TFQ's noisy backend: ``repetitions`` Monte-Carlo trajectories per row, averaged."""

    max_batch = 1024

    def __init__(self, spec: VQCSpec, noise: NoiseModel, repetitions: int):
        import tensorflow as tf
        import tensorflow_quantum as tfq

        circuit, symbols, _ = noisy_circuit(spec, noise)
        self._tf = tf
        self._circuit = tfq.convert_to_tensor([circuit])
        self._operators = tfq.convert_to_tensor([noisy_readout_operators(spec, noise)])
        self._names = tf.constant([str(s) for s in symbols])
        # without channels every trajectory is the same state: one is exact
        noisy = any(
            not cirq.is_parameterized(op) and not cirq.has_unitary(op)
            for op in circuit.all_operations()
        )
        self._repetitions = int(repetitions) if noisy else 1
        self._n_outputs = spec.n_outputs
        self._op = tfq.differentiators.ParameterShift().generate_differentiable_op(
            sampled_op=tfq.noise.expectation
        )

    def __call__(self, symbol_values):
        tf = self._tf
        values = tf.convert_to_tensor(symbol_values, tf.float32)
        rows = values.shape[0]
        if rows is not None and rows > self.max_batch:  # bounds the tiled circuit strings
            parts = [self(values[i : i + self.max_batch]) for i in range(0, rows, self.max_batch)]
            return tf.concat(parts, axis=0)
        # independent ops on row blocks use both cores (n = 10, batch 64, 20 trajectories
        # on "rainbow": 263 ms in one op, 216 ms in 4)
        return run_in_shards(self._one_op, values, tfq_shards())

    def _one_op(self, values):
        tf = self._tf
        batch = tf.shape(values)[0]
        return self._op(
            tf.tile(self._circuit, [batch]),
            self._names,
            values,
            tf.tile(self._operators, [batch, 1]),
            tf.fill([batch, self._n_outputs], self._repetitions),
        )


class _DensityExecutor:
    """Exact density-matrix simulation in plain TensorFlow (:mod:`qgcam_tf.quantum.density`)."""

    def __init__(self, spec: VQCSpec, noise: NoiseModel, max_batch: int | None):
        from qgcam_tf.quantum.density import DensityCircuit

        circuit, symbols, qubits = noisy_circuit(spec, noise)
        self._circuit = DensityCircuit(circuit, symbols, qubits=qubits)
        self._signs = self._circuit.z_signs([[l] for l in range(spec.n_outputs)])
        self._max_batch = max_batch or max(1, 2**26 // 4**spec.n_qubits)

    def __call__(self, symbol_values):
        import tensorflow as tf

        values = tf.convert_to_tensor(symbol_values, tf.float32)
        total = int(values.shape[0])
        if total <= self._max_batch:
            return self._circuit.expectation_z(values, self._signs)
        parts = [
            self._circuit.expectation_z(values[i : i + self._max_batch], self._signs)
            for i in range(0, total, self._max_batch)
        ]
        return tf.concat(parts, axis=0)


def noisy_executor(
    spec: VQCSpec,
    noise: NoiseModel | str,
    *,
    method: str | None = None,
    repetitions: int | None = None,
    max_batch: int | None = None,
):
    """A callable ``symbol_values [N, S] -> <Z_l> [N, n_outputs]`` (float32) on the noisy circuit.

    Args:
        spec: the circuit.
        noise: a :class:`NoiseModel`, or a hardware preset name (``"rainbow"``, ``"weber"``).
        method: ``"density"`` (exact, plain TensorFlow, differentiable by backprop),
            ``"trajectories"`` (TFQ's noisy backend, Monte-Carlo, parameter-shift gradients),
            or ``"auto"``: density up to 8 qubits, trajectories above. Default: the
            model's ``method``.
        repetitions: trajectories per row for ``"trajectories"`` (default: the model's).
        max_batch: rows per density-matrix pass (default: as many as fit 512 MiB).

    Raises:
        ValueError: unknown method or preset, ``repetitions < 1``, or a bad noise model.
    """
    if isinstance(noise, str):
        noise = make_noise(noise, spec=spec)
    if not isinstance(noise, NoiseModel):
        raise ValueError(f"noise must be a NoiseModel or a preset name, got {noise!r}")
    method = noise.method if method is None else method
    repetitions = noise.repetitions if repetitions is None else repetitions
    check_execution(method, repetitions)
    if method == "auto":
        method = "density" if spec.n_qubits <= DENSITY_MAX_QUBITS else "trajectories"
    return _cached_executor(spec, noise, method, int(repetitions), max_batch)


@functools.lru_cache(maxsize=16)
def _cached_executor(spec, noise, method, repetitions, max_batch):
    if method == "density":
        return _DensityExecutor(spec, noise, max_batch)
    return _TrajectoryExecutor(spec, noise, repetitions)
