"""Noise models of Google devices, from their median calibrations.

Hardware presets (:func:`hardware_noise`, names ``"rainbow"`` and ``"weber"``) derive the
strengths from the median calibrations shipped inside ``cirq_google``
(``load_median_device_calibration``). Approximations, all deliberate:

1. Placement of the paper circuit (a :class:`~qgcam_tf.quantum.circuits.VQCSpec`): its CNOT
   ring is put on a cycle of ``n`` grid qubits of the device (lowest summed two-qubit error
   among the cycles found). A square grid has cycles of even length >= 4 only; otherwise a
   line is used and the closing CNOT ``(q_{n-1}, q_0)``, whose qubits are not neighbours,
   is charged the error and duration of routing it with ``d - 1`` SWAPs (3 CNOTs each) at
   the device's median CNOT error, ``d`` the grid distance of its ends.
   Placement of any other circuit (:func:`place_circuit`): its interaction graph (pairs of
   qubits that share a gate on two or more qubits, :func:`~qgcam_tf.noise.circuits.
   interaction_pairs`) is embedded in the device's coupler graph, every pair on a coupler
   (lowest summed two-qubit error among the embeddings a branch-and-bound search finds in
   :data:`PLACEMENT_BUDGET` steps). Nothing is routed: a circuit that does not fit (an odd
   cycle on a square grid, a qubit with more partners than couplers, a gate on three
   qubits) is a ValueError naming the pairs that cannot be placed.
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
   Every two-qubit gate of another circuit (CZ, iSWAP, FSim, ...) is charged as a CNOT
   (error and duration): each compiles to at most two sqrt-iSWAP cycles for the gates
   Cirq users write, and a per-gate calibration is not shipped.
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

from qgcam_tf.noise.circuits import interaction_pairs
from qgcam_tf.noise.model import NoiseModel
from qgcam_tf.quantum.circuits import VQCSpec

__all__ = [
    "CNOT_NS",
    "HARDWARE_PRESETS",
    "PLACEMENT_BUDGET",
    "SINGLE_QUBIT_NS",
    "SQRT_ISWAP_NS",
    "hardware_noise",
    "place_circuit",
]

HARDWARE_PRESETS = ("rainbow", "weber")
SINGLE_QUBIT_NS = 25.0
SQRT_ISWAP_NS = 32.0
CNOT_NS = 2 * (SINGLE_QUBIT_NS + SQRT_ISWAP_NS) + SINGLE_QUBIT_NS
PLACEMENT_BUDGET = 200_000
"""Search steps (tried qubit assignments) of :func:`place_circuit` for one circuit."""
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


def _check_device(device) -> None:
    if device not in HARDWARE_PRESETS:
        raise ValueError(f"device must be one of {HARDWARE_PRESETS}, got {device!r}")


@functools.lru_cache(maxsize=None)
def _device(device: str):
    import cirq_google  # noqa: PLC0415  (heavy; only hardware presets need it)

    return _device_graph(cirq_google.engine.load_median_device_calibration(device))


def _damping(m, q, t_ns):
    t1 = m["t1_ns"][q]
    excess = m["rb_incoherent"][q] - SINGLE_QUBIT_NS / (3.0 * t1)
    gamma = 1.0 - math.exp(-t_ns / t1)
    lam = 0.0 if excess <= 0 else 1.0 - math.exp(-2.0 * t_ns * 3.0 * excess / SINGLE_QUBIT_NS)
    return gamma, lam


def _single_qubit_strengths(m, placed) -> dict:
    """Per-qubit depolarizing, damping and readout strengths of the placed qubits."""
    dep, amp, phase = [], [], []
    for q in placed:
        gamma, lam = _damping(m, q, SINGLE_QUBIT_NS)
        decoherence = _pauli_error([cirq.amplitude_damp(gamma), cirq.phase_damp(lam)])
        dep.append(max(0.0, m["rb_pauli"][q] - decoherence))
        amp.append(gamma)
        phase.append(lam)
    readout = [(m["p00"][q] + m["p11"][q]) / 2.0 for q in placed]
    return {
        "depolarizing": tuple(dep),
        "amplitude_damping": tuple(amp),
        "phase_damping": tuple(phase),
        "readout": tuple(readout),
    }


def _pair_strengths(m, a, b, error, duration):
    """``(depolarizing, amplitude, phase)`` pairs after a two-qubit gate on ``(a, b)``."""
    damp = [_damping(m, q, duration) for q in (a, b)]
    decoherence = [_pauli_error([cirq.amplitude_damp(g), cirq.phase_damp(l)]) for g, l in damp]
    rest = max(0.0, 1.0 - (1.0 - error) / ((1.0 - decoherence[0]) * (1.0 - decoherence[1])))
    p = 1.0 - math.sqrt(1.0 - rest)
    return (p, p), tuple(g for g, _ in damp), tuple(l for _, l in damp)


def hardware_noise(
    device: str,
    circuit: VQCSpec | cirq.AbstractCircuit,
    *,
    qubits: Sequence[cirq.Qid] | None = None,
    budget: int = PLACEMENT_BUDGET,
) -> NoiseModel:
    """A noise model from the median calibration of a Google device (see module docstring).

    Args:
        device: ``"rainbow"`` or ``"weber"``.
        circuit: the circuit to place on the device: the paper circuit's
            :class:`~qgcam_tf.quantum.circuits.VQCSpec` (its ring, placed as a cycle or a
            routed line), or any Cirq circuit (placed by :func:`place_circuit`; the model's
            ``edges`` are its :func:`~qgcam_tf.noise.circuits.interaction_pairs`).
        qubits: for a Cirq circuit, the circuit-qubit order of the model's per-qubit
            strengths and placement (default ``sorted(circuit.all_qubits())``).
        budget: search steps of :func:`place_circuit` (Cirq circuits).

    Raises:
        ValueError: unknown device, more qubits than the device has, or a circuit that does
            not fit the device's couplers (the message names the pairs).
    """
    _check_device(device)
    if isinstance(circuit, VQCSpec):
        return _ring_noise(device, circuit)
    if not isinstance(circuit, cirq.AbstractCircuit):
        raise TypeError(f"circuit must be a VQCSpec or a cirq.Circuit, got {circuit!r}")
    order = tuple(sorted(circuit.all_qubits()) if qubits is None else qubits)
    pairs = interaction_pairs(circuit, order)
    return _graph_noise(device, order, pairs, _check_budget(budget))


def _check_budget(budget) -> int:
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"budget must be an int >= 1, got {budget!r}")
    return int(budget)


@functools.lru_cache(maxsize=64)
def _graph_noise(device: str, order: tuple, pairs: tuple, budget: int) -> NoiseModel:
    _, m, edges = _device(device)
    placed = _place(device, order, pairs, budget)
    dep2, amp2, phase2 = [], [], []
    for a, b in pairs:
        error = 1.0 - (1.0 - edges[frozenset((placed[a], placed[b]))]) ** 2
        d, g, l = _pair_strengths(m, placed[a], placed[b], error, CNOT_NS)
        dep2.append(d)
        amp2.append(g)
        phase2.append(l)
    return NoiseModel(
        **_single_qubit_strengths(m, placed),
        two_qubit_depolarizing=tuple(dep2),
        two_qubit_amplitude_damping=tuple(amp2),
        two_qubit_phase_damping=tuple(phase2),
        qubits=placed,
        edges=pairs,
        name=device,
    )


def place_circuit(
    device: str,
    circuit: cirq.AbstractCircuit,
    *,
    qubits: Sequence[cirq.Qid] | None = None,
    budget: int = PLACEMENT_BUDGET,
) -> tuple[cirq.GridQubit, ...]:
    """Device qubits for the circuit's qubits, every interaction pair on a coupler.

    A branch-and-bound search over injective maps of the circuit's qubits to the device's
    (qubits with the most placed partners first, each next to its placed partners), keeping
    the map of lowest summed two-qubit error found within ``budget`` steps. Qubits without
    partners go on free qubits.

    Args:
        device: ``"rainbow"`` or ``"weber"``.
        circuit: the circuit.
        qubits: the circuit-qubit order (default ``sorted(circuit.all_qubits())``).
        budget: the most qubit assignments tried.

    Returns:
        The device qubit of each circuit qubit, in the order ``qubits``.

    Raises:
        ValueError: unknown device, too many qubits, or no placement found: the message
            names the device, the circuit's qubit count and the pairs that cannot be placed.
    """
    _check_device(device)
    order = tuple(sorted(circuit.all_qubits()) if qubits is None else qubits)
    return _place(device, order, interaction_pairs(circuit, order), _check_budget(budget))


def _place(device: str, order: tuple, pairs: tuple, budget: int) -> tuple:
    qubits, _, edges = _device(device)
    n = len(order)
    if n > len(qubits):
        raise ValueError(f"device {device!r} has {len(qubits)} qubits, the circuit needs {n}")
    placed, blocked, exhausted = _embed(qubits, edges, n, pairs, budget)
    if placed is not None:
        return placed
    names = ", ".join(f"({order[a]}, {order[b]})" for a, b in blocked)
    why = f"no placement found within budget={budget} steps" if exhausted else "none exists"
    raise ValueError(
        f"circuit does not fit device {device!r}: its {n} qubits need every coupled pair on "
        f"a coupler ({why}); the pair(s) {names} cannot be placed"
    )


def _embed(qubits, edges, n: int, pairs, budget: int):
    """Lowest-cost embedding of the pair graph in the device; else the pairs that blocked.

    Returns ``(placement or None, blocked pairs, budget exhausted)``; the blocked pairs are
    those of the qubit the deepest partial placement could not place (or of a qubit with
    more partners than any device qubit has couplers).
    """
    partners = {k: set() for k in range(n)}
    for a, b in pairs:
        partners[a].add(b)
        partners[b].add(a)
    neighbours = {
        q: sorted(
            (p for p in qubits if frozenset((p, q)) in edges),
            key=lambda p: (edges[frozenset((p, q))], p),
        )
        for q in qubits
    }
    max_degree = max(len(v) for v in neighbours.values())
    for k in range(n):
        if len(partners[k]) > max_degree:
            return None, [tuple(sorted((k, j))) for j in sorted(partners[k])], False
    # placing order: most placed partners first, then most partners, then index
    order: list[int] = []
    while len(order) < n:
        done = set(order)
        k = max(
            (k for k in range(n) if k not in done),
            key=lambda k: (len(partners[k] & done), len(partners[k]), -k),
        )
        order.append(k)
    quality = sorted(
        qubits,
        key=lambda q: (min((edges[frozenset((p, q))] for p in neighbours[q]), default=1.0), q),
    )
    best: list = [None, None]  # cost, placement
    deepest = [-1, None]  # depth, blocked qubit
    steps = 0
    exhausted = False
    image: dict[int, object] = {}
    used: set = set()

    def grow(depth: int, cost: float) -> None:
        nonlocal steps, exhausted
        if depth == n:
            if best[0] is None or cost < best[0]:
                best[0], best[1] = cost, tuple(image[k] for k in range(n))
            return
        k = order[depth]
        placed_partners = [j for j in partners[k] if j in image]
        if placed_partners:
            candidates = [
                p
                for p in neighbours[image[placed_partners[0]]]
                if p not in used
                and len(neighbours[p]) >= len(partners[k])
                and all(frozenset((p, image[j])) in edges for j in placed_partners)
            ]
        else:
            candidates = [
                p for p in quality if p not in used and len(neighbours[p]) >= len(partners[k])
            ]
        scored = sorted(
            (
                (sum(edges[frozenset((p, image[j]))] for j in placed_partners), p)
                for p in candidates
            ),
            key=lambda t: (t[0], t[1]),
        )
        if not scored and depth > deepest[0]:
            deepest[0], deepest[1] = depth, k
        for extra, p in scored:
            if best[0] is not None and cost + extra >= best[0]:
                break  # candidates are sorted by their cost
            steps += 1
            if steps > budget:
                exhausted = True
                return
            image[k] = p
            used.add(p)
            grow(depth + 1, cost + extra)
            used.discard(p)
            del image[k]
            if exhausted:
                return

    grow(0, 0.0)
    if best[1] is not None:
        return best[1], [], exhausted
    if deepest[1] is None:  # the budget ran out before any dead end
        return None, list(pairs), exhausted
    k = deepest[1]
    placed_before = set(order[: deepest[0]])
    blocked = [tuple(sorted((k, j))) for j in sorted(partners[k]) if j in placed_before]
    return None, blocked or [tuple(sorted((k, j))) for j in sorted(partners[k])], exhausted


@functools.lru_cache(maxsize=None)
def _ring_noise(device: str, spec: VQCSpec) -> NoiseModel:
    """The paper circuit's model: its ring on a cycle, or on a line with routing."""
    qubits, m, edges = _device(device)
    n = spec.n_qubits
    if n > len(qubits):
        raise ValueError(f"device {device!r} has {len(qubits)} qubits, the circuit needs {n}")
    ring = _search(qubits, edges, n, cycle=True) if n >= 4 and n % 2 == 0 else None
    line = ring or _search(qubits, edges, n, cycle=False)
    if line is None:
        raise ValueError(f"no connected line of {n} qubits found on device {device!r}")
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
        d2, g2, l2 = _pair_strengths(m, a, b, error, duration)
        dep2.append(d2)
        amp2.append(g2)
        phase2.append(l2)
    return NoiseModel(
        **_single_qubit_strengths(m, line),
        two_qubit_depolarizing=tuple(dep2),
        two_qubit_amplitude_damping=tuple(amp2),
        two_qubit_phase_damping=tuple(phase2),
        qubits=tuple(line),
        name=device,
    )
