"""qgcam_tf.noise.hardware: device presets against the calibrations shipped in cirq_google."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

from qgcam_tf.noise.hardware import SINGLE_QUBIT_NS  # noqa: E402
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


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
