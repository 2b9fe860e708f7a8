"""Noise models of Google devices, from their median calibrations.

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

import functools
import math
from collections.abc import Sequence

import cirq
import numpy as np

from qgcam_tf.noise.model import NoiseModel
from qgcam_tf.quantum.circuits import VQCSpec

__all__ = [
    "CNOT_NS",
    "HARDWARE_PRESETS",
    "SINGLE_QUBIT_NS",
    "SQRT_ISWAP_NS",
    "hardware_noise",
]

HARDWARE_PRESETS = ("rainbow", "weber")
SINGLE_QUBIT_NS = 25.0
SQRT_ISWAP_NS = 32.0
CNOT_NS = 2 * (SINGLE_QUBIT_NS + SQRT_ISWAP_NS) + SINGLE_QUBIT_NS
_TWO_QUBIT_METRIC = "two_qubit_parallel_sqrt_iswap_gate_xeb_pauli_error_per_cycle"


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
