"""qgcam_tf.noise.executors: the density-matrix executor against cirq.DensityMatrixSimulator,
TFQ trajectories within their standard errors, and the zero model."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import cirq  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy import stats  # noqa: E402

from qgcam_tf.noise.circuits import noisy_circuit  # noqa: E402
from qgcam_tf.noise.executors import DENSITY_MAX_QUBITS, noisy_executor  # noqa: E402
from qgcam_tf.noise.model import NoiseModel  # noqa: E402
from qgcam_tf.noise.presets import make_noise  # noqa: E402
from qgcam_tf.quantum.circuits import VQCSpec, build_vqc  # noqa: E402
from qgcam_tf.quantum.executors import make_executor  # noqa: E402

CASES = [
    (3, "depolarizing", 0.03),
    (3, "amplitude_damping", 0.08),
    (3, "phase_damping", 0.1),
    (3, "readout", 0.06),
    (3, "rainbow", None),
    (4, "rainbow", None),
    (3, "weber", None),
    (4, "weber", None),
]


def _model(n, preset, strength):
    spec = VQCSpec(n_qubits=n, depth=2, n_outputs=n)
    return spec, make_noise(preset, strength, spec=spec)


def _values(spec, rng, rows=3):
    return rng.uniform(
        -np.pi, np.pi, size=(rows, 2 * spec.n_qubits + 3 * spec.depth * spec.n_qubits)
    ).astype(np.float32)


def _cirq_reference(spec, noise, values):
    """<Z_l> of the noisy circuit from cirq.DensityMatrixSimulator (float64)."""
    circuit, symbols, qubits = noisy_circuit(spec, noise)
    sim = cirq.DensityMatrixSimulator(dtype=np.complex128)
    n = spec.n_qubits
    bits = (np.arange(2**n)[:, None] >> (n - 1 - np.arange(spec.n_outputs))[None]) & 1
    out = []
    for row in values:
        rho = sim.simulate(
            circuit, cirq.ParamResolver(dict(zip(symbols, map(float, row)))), qubit_order=qubits
        )
        out.append(np.real(np.diag(rho.final_density_matrix)) @ (1 - 2 * bits))
    return np.array(out)


@pytest.mark.parametrize("n,preset,strength", CASES)
def test_density_executor_matches_cirq(n, preset, strength, rng):
    """The exact executor equals cirq.DensityMatrixSimulator on the same noisy circuit (1e-5)."""
    spec, noise = _model(n, preset, strength)
    values = _values(spec, rng)
    got = noisy_executor(spec, noise, method="density")(tf.constant(values)).numpy()
    ref = _cirq_reference(spec, noise, values)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    # the noise is visible: the noiseless circuit differs by far more than the tolerance
    clean = make_executor(spec, "tf")(tf.constant(values)).numpy()
    assert np.abs(clean - ref).max() > 1e-3


# The trajectory test. TFQ's noisy op seeds its Philox generator from OS entropy
# (tensorflow::random::New64() in tfq_noisy_expectation.cc) and takes no seed, so the test
# cannot be made deterministic; it bounds its false-failure probability instead. Each row is
# run as CHUNKS independent chunks of CHUNK_TRAJECTORIES trajectories (each trajectory has its
# own seed from a reserved Philox stream), so (estimate - exact) / stderr follows Student's
# t with CHUNKS - 1 degrees of freedom (each chunk mean averages 75 bounded trajectories, near
# normal; the test is two-sided, so the skewness term of the Edgeworth correction cancels).
# Bonferroni over all COMPARISONS (44: 6 three-qubit cases x 2 rows x 3 outputs + 1 four-qubit
# case x 2 x 4) at T_BOUND = t_127 quantile 1 - 1e-6 / 88 = 5.96 gives at most 1e-6 false
# failures per run. (It was 4 standard errors with 64 chunks: 44 * P(|t_63| > 4) = 0.7% a run.)
# Power: the test also checks that the model with every channel doubled lies more than
# 2 * T_BOUND standard errors from the exact values in some comparison, so such a model would
# fail it (ratios measured: 23 to 60 standard errors for the worst to the best case, 2 * T_BOUND
# = 11.9: the check fails only if a sample SE exceeds its expectation 1.96 times,
# P(chi2_127 > 489) < 1e-40).
TRAJECTORY_CASES = [c for c in CASES if c[0] == 3] + [(4, "rainbow", None)]
TRAJECTORY_ROWS = 2
CHUNKS = 128
CHUNK_TRAJECTORIES = 75
COMPARISONS = sum(TRAJECTORY_ROWS * n for n, _, _ in TRAJECTORY_CASES)  # n_outputs = n
FALSE_FAILURES_PER_RUN = 1e-6
T_BOUND = float(stats.t.isf(FALSE_FAILURES_PER_RUN / (2 * COMPARISONS), CHUNKS - 1))


@pytest.mark.parametrize("n,preset,strength", TRAJECTORY_CASES)
def test_trajectories_match_cirq_within_bonferroni_t_bound(n, preset, strength, rng):
    """TFQ trajectory means agree with the exact noisy expectations within T_BOUND standard
    errors (false failures <= 1e-6 a run), a bound that rejects every channel doubled."""
    spec, noise = _model(n, preset, strength)
    values = _values(spec, rng, rows=TRAJECTORY_ROWS)
    run = noisy_executor(spec, noise, method="trajectories", repetitions=CHUNK_TRAJECTORIES)
    means = run(tf.constant(np.repeat(values, CHUNKS, axis=0))).numpy().astype(np.float64)
    means = means.reshape(TRAJECTORY_ROWS, CHUNKS, -1)
    estimate = means.mean(axis=1)
    stderr = means.std(axis=1, ddof=1) / np.sqrt(CHUNKS)
    assert np.all(stderr > 0), "trajectory chunks are not independent"
    ref = _cirq_reference(spec, noise, values)
    assert np.all(np.abs(estimate - ref) <= T_BOUND * stderr + 1e-6), (estimate, ref, stderr)
    # power: a model with every channel doubled would fail (module comment above)
    doubled = make_noise(preset, 2 * (strength or 1.0), spec=spec)
    wrong = _cirq_reference(spec, doubled, values)
    assert np.any(np.abs(wrong - ref) > 2 * T_BOUND * stderr + 2e-6), (wrong, ref, stderr)


def test_zero_noise_is_the_paper_circuit(rng):
    """A zero model inserts no channel, and its expectations equal the noiseless executor's."""
    spec = VQCSpec(3, 2, 3)
    circuit, _, _ = noisy_circuit(spec, NoiseModel())
    assert circuit == cirq.Circuit(build_vqc(spec)[0].all_operations())
    values = tf.constant(_values(spec, rng))
    exact = make_executor(spec, "tf")(values).numpy()
    for method in ("density", "trajectories"):
        run = noisy_executor(spec, NoiseModel(), method=method)
        np.testing.assert_allclose(run(values), exact, atol=1e-5)


def test_noisy_executor_rejects_a_non_model():
    """A noise argument that is neither a model nor a preset name gives a clear ValueError."""
    spec = VQCSpec(3, 1, 3)
    with pytest.raises(ValueError, match="noise must be a NoiseModel or a preset name"):
        noisy_executor(spec, 0.1)


def test_auto_takes_density_up_to_density_max_qubits():
    """method "auto" is the density executor up to DENSITY_MAX_QUBITS qubits and the
    trajectory executor above (executors are cached, so "auto" returns the same object)."""
    noise = NoiseModel(depolarizing=0.01)
    small, large = VQCSpec(DENSITY_MAX_QUBITS, 1, 2), VQCSpec(DENSITY_MAX_QUBITS + 1, 1, 2)
    assert noisy_executor(small, noise) is noisy_executor(small, noise, method="density")
    assert noisy_executor(large, noise) is noisy_executor(
        large, noise, method="trajectories", repetitions=noise.repetitions
    )


def test_the_models_method_and_repetitions_are_the_defaults():
    """A model's method and repetitions apply unless the call overrides them."""
    spec = VQCSpec(3, 1, 3)
    noise = NoiseModel(depolarizing=0.01, method="trajectories", repetitions=7)
    assert noisy_executor(spec, noise) is noisy_executor(
        spec, noise, method="trajectories", repetitions=7
    )
    with pytest.raises(ValueError, match="method must be one of .*got 'exact'"):
        noisy_executor(spec, noise, method="exact")
    with pytest.raises(ValueError, match="repetitions must be an int >= 1, got 0"):
        noisy_executor(spec, noise, repetitions=0)


def test_density_in_row_blocks_equals_one_pass(rng):
    """max_batch=2 on 5 rows (blocks 2, 2, 1) gives the single pass's values (1e-6)."""
    spec, noise = _model(3, "amplitude_damping", 0.1)
    values = tf.constant(_values(spec, rng, rows=5))
    whole = noisy_executor(spec, noise, method="density")(values).numpy()
    blocks = noisy_executor(spec, noise, method="density", max_batch=2)(values).numpy()
    np.testing.assert_allclose(blocks, whole, atol=1e-6)


def test_a_preset_name_is_the_presets_model(rng):
    """noisy_executor(spec, "weber") runs make_noise("weber", spec=spec)'s model."""
    spec = VQCSpec(3, 1, 3)
    values = tf.constant(_values(spec, rng))
    by_name = noisy_executor(spec, "weber", method="density")(values).numpy()
    model = make_noise("weber", spec=spec)
    np.testing.assert_allclose(by_name, _cirq_reference(spec, model, values.numpy()), atol=1e-5)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
