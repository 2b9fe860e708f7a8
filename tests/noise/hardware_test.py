"""qgcam_tf.noise.hardware: device presets against the calibrations shipped in cirq_google."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import itertools  # noqa: E402

import cirq  # noqa: E402
import numpy as np  # noqa: E402

from qgcam_tf.noise.circuits import interaction_pairs  # noqa: E402
from qgcam_tf.noise.hardware import (  # noqa: E402
    CNOT_NS,
    SINGLE_QUBIT_NS,
    SQRT_ISWAP_NS,
    hardware_noise,
    place_circuit,
)
from qgcam_tf.noise.presets import make_noise  # noqa: E402
from qgcam_tf.quantum.circuits import VQCSpec  # noqa: E402


@pytest.mark.parametrize("device,n", [("rainbow", 4), ("rainbow", 5), ("weber", 10)])
def test_hardware_preset_follows_calibration(device, n):
    """Placement is connected on the device; readout and T1 damping follow its calibration."""
    import cirq_google

    spec = VQCSpec(n, 2, 2)
    noise = make_noise(device, spec=spec)
    cal = cirq_google.engine.load_median_device_calibration(device)
    q = noise.qubits
    assert len(set(q)) == n
    assert all(q[i].is_adjacent(q[i + 1]) for i in range(n - 1))
    if n % 2 == 0:  # even rings exist on a grid: the closing CNOT is native too
        assert q[-1].is_adjacent(q[0])

    def metric(name, qubit):
        return float(cal[name][(qubit,)][0])

    expected_readout = [
        (metric("single_qubit_p00_error", x) + metric("single_qubit_p11_error", x)) / 2 for x in q
    ]
    np.testing.assert_allclose(noise.readout, expected_readout, rtol=1e-12)
    t1_ns = np.array([metric("single_qubit_idle_t1_micros", x) * 1000 for x in q])
    np.testing.assert_allclose(
        noise.amplitude_damping, 1 - np.exp(-SINGLE_QUBIT_NS / t1_ns), rtol=1e-9
    )
    dep2 = np.array(noise.two_qubit_depolarizing)
    # where T1/T_phi already explain a pair's XEB error the remaining depolarizing is 0
    assert np.all((dep2 >= 0) & (dep2 < 0.05)) and dep2.mean() > 1e-3
    if n % 2:  # the routed closing edge of a line costs more than any native CNOT
        assert dep2[-1, 0] > dep2[:-1, 0].max()


def test_cnot_damping_follows_t1_over_the_cnot_duration():
    """On a native ring (rainbow, 4 qubits) the damping after CNOT i is 1 - exp(-t/T1) of
    both qubits, t = CNOT_NS = 2 (25 + 32) + 25 ns, with T1 from the calibration."""
    import cirq_google

    assert CNOT_NS == 2 * (SINGLE_QUBIT_NS + SQRT_ISWAP_NS) + SINGLE_QUBIT_NS == 139.0
    spec = VQCSpec(4, 1, 2)
    noise = hardware_noise("rainbow", spec)
    cal = cirq_google.engine.load_median_device_calibration("rainbow")
    t1 = [float(cal["single_qubit_idle_t1_micros"][(q,)][0]) * 1000 for q in noise.qubits]
    for i, (control, target) in enumerate(noise.two_qubit_amplitude_damping):
        assert control == pytest.approx(1 - np.exp(-CNOT_NS / t1[i]), rel=1e-12)
        assert target == pytest.approx(1 - np.exp(-CNOT_NS / t1[(i + 1) % 4]), rel=1e-12)


def test_unknown_device_and_too_many_qubits_raise():
    """An unknown device and a circuit larger than the device give one ValueError each."""
    with pytest.raises(ValueError, match=r"device must be one of \('rainbow', 'weber'\), got 'x'"):
        hardware_noise("x", VQCSpec(3, 1, 2))
    with pytest.raises(ValueError, match="device 'rainbow' has 23 qubits, the circuit needs 24"):
        hardware_noise("rainbow", VQCSpec(24, 1, 2))


_XEB = "two_qubit_parallel_sqrt_iswap_gate_xeb_pauli_error_per_cycle"


def _couplers(device):
    """``{frozenset(pair): xeb error}`` of the device, from cirq_google's calibration."""
    import cirq_google

    cal = cirq_google.engine.load_median_device_calibration(device)
    return {frozenset(k): float(v[0]) for k, v in cal[_XEB].items()}, cal


def test_any_circuit_is_placed_with_every_pair_on_a_coupler():
    """A 6-qubit ladder of CZ, iSWAP and FSim gates lands on distinct weber qubits, every
    interaction pair on a calibrated coupler; the model's edges are its pairs, the damping
    after each pair follows T1 over a CNOT's duration and readout the p00/p11 mean."""
    q = cirq.LineQubit.range(6)
    circuit = cirq.Circuit(
        cirq.H.on_each(*q),
        [cirq.CZ(q[i], q[i + 1]) for i in range(5)],
        cirq.ISWAP(q[0], q[5]) ** 0.5,
        cirq.FSimGate(0.3, 0.2)(q[4], q[1]),
    )
    couplers, cal = _couplers("weber")
    noise = hardware_noise("weber", circuit)
    placed = noise.qubits
    assert placed == place_circuit("weber", circuit)
    assert len(set(placed)) == 6
    assert (
        noise.edges
        == interaction_pairs(circuit)
        == ((0, 1), (0, 5), (1, 2), (1, 4), (2, 3), (3, 4), (4, 5))
    )
    assert all(frozenset((placed[a], placed[b])) in couplers for a, b in noise.edges)
    t1 = [float(cal["single_qubit_idle_t1_micros"][(x,)][0]) * 1000 for x in placed]
    for (a, b), (ga, gb) in zip(noise.edges, noise.two_qubit_amplitude_damping):
        assert (ga, gb) == pytest.approx(
            (1 - np.exp(-CNOT_NS / t1[a]), 1 - np.exp(-CNOT_NS / t1[b]))
        )
    readout = [
        (
            float(cal["single_qubit_p00_error"][(x,)][0])
            + float(cal["single_qubit_p11_error"][(x,)][0])
        )
        / 2
        for x in placed
    ]
    np.testing.assert_allclose(noise.readout, readout, rtol=1e-12)


def test_placement_of_a_path_has_the_least_summed_coupler_error():
    """For a 3-qubit path (CZ, iSWAP) the placement's summed XEB error is the minimum over
    every path of three rainbow qubits (brute force)."""
    q = cirq.GridQubit.rect(1, 3)
    circuit = cirq.Circuit(cirq.CZ(q[0], q[1]), cirq.ISWAP(q[2], q[1]))
    couplers, _ = _couplers("rainbow")
    qubits = sorted(set().union(*couplers))
    best = min(
        couplers[frozenset((a, b))] + couplers[frozenset((b, c))]
        for a, b, c in itertools.permutations(qubits, 3)
        if frozenset((a, b)) in couplers and frozenset((b, c)) in couplers
    )
    a, b, c = place_circuit("rainbow", circuit)
    assert couplers[frozenset((a, b))] + couplers[frozenset((b, c))] == pytest.approx(best)


def test_a_circuit_that_does_not_fit_names_the_pairs():
    """An odd cycle (a triangle), a qubit with five partners and a three-qubit gate do not
    fit a square grid: one ValueError naming the device, the qubit count and the pairs;
    a budget too small to finish says so."""
    q = cirq.LineQubit.range(6)
    triangle = cirq.Circuit(cirq.CZ(q[0], q[1]), cirq.ISWAP(q[1], q[2]), cirq.CZ(q[2], q[0]))
    with pytest.raises(
        ValueError,
        match=r"circuit does not fit device 'rainbow': its 3 qubits need every coupled pair on "
        r"a coupler \(none exists\); the pair\(s\) \(q\(0\), q\(2\)\), \(q\(1\), q\(2\)\) "
        "cannot be placed",
    ):
        hardware_noise("rainbow", triangle)
    star = cirq.Circuit(cirq.CZ(q[0], q[k]) for k in range(1, 6))
    with pytest.raises(
        ValueError, match=r"its 6 qubits .*\(q\(0\), q\(1\)\), .*\(q\(0\), q\(5\)\) cannot"
    ):
        hardware_noise("weber", star)
    with pytest.raises(ValueError, match=r"'weber': its 3 qubits .*\(q\(1\), q\(2\)\) cannot"):
        place_circuit("weber", cirq.Circuit(cirq.CCZ(*q[:3])))
    ring = cirq.Circuit(cirq.CZ(q[k], q[(k + 1) % 6]) for k in range(6))
    with pytest.raises(ValueError, match=r"no placement found within budget=3 steps"):
        place_circuit("weber", ring, budget=3)
    with pytest.raises(ValueError, match="budget must be an int >= 1, got 0"):
        place_circuit("weber", ring, budget=0)
    big = cirq.Circuit(cirq.CZ(*cirq.LineQubit.range(k, k + 2)) for k in range(0, 24, 2))
    with pytest.raises(ValueError, match="device 'rainbow' has 23 qubits, the circuit needs 24"):
        hardware_noise("rainbow", big)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
