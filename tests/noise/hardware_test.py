"""qgcam_tf.noise.hardware: device presets against the calibrations shipped in cirq_google."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

from qgcam_tf.noise.hardware import (  # noqa: E402
    CNOT_NS,
    SINGLE_QUBIT_NS,
    SQRT_ISWAP_NS,
    hardware_noise,
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


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
