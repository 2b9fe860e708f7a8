"""qgcam_tf.noise.executors: the density-matrix executor against cirq.DensityMatrixSimulator,
TFQ trajectories within their standard errors, and the zero model."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import cirq  # noqa: E402
import numpy as np  # noqa: E402
import sympy  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy import stats  # noqa: E402

from qgcam_tf.noise.circuits import noisy_circuit  # noqa: E402
from qgcam_tf.noise.executors import (  # noqa: E402
    EXACT_MAX_QUBITS,
    NoisyExpectationProgram,
    noisy_executor,
)
from qgcam_tf.noise.model import NoiseModel  # noqa: E402
from qgcam_tf.noise.presets import make_noise  # noqa: E402
from qgcam_tf.quantum.circuits import VQCSpec, build_vqc  # noqa: E402
from qgcam_tf.quantum.compiler import ExpectationProgram  # noqa: E402
from qgcam_tf.quantum.density import HeisenbergExpectation  # noqa: E402
from qgcam_tf.quantum.executors import make_executor  # noqa: E402
from qgcam_tf.testing.tfq_models import circuit_cases  # noqa: E402

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


def _shared_weights(spec, rng, rows=4):
    """Rows of random encodings that share one random set of weights (as a trained model)."""
    values = _values(spec, rng, rows)
    values[:, 2 * spec.n_qubits :] = values[0, 2 * spec.n_qubits :]
    return values


@pytest.mark.parametrize("n,preset,strength", CASES)
def test_heisenberg_path_with_shared_weights_matches_cirq(n, preset, strength, rng):
    """Rows sharing the weights take the Heisenberg path; it equals cirq's complex128
    DensityMatrixSimulator within 1e-5, hardware presets included."""
    spec, noise = _model(n, preset, strength)
    values = _shared_weights(spec, rng)
    got = noisy_executor(spec, noise, method="density")(tf.constant(values)).numpy()
    np.testing.assert_allclose(got, _cirq_reference(spec, noise, values), atol=1e-5)


def test_heisenberg_path_gradients_are_the_density_paths(rng):
    """A call on shared weights (the fast path) has the gradient of the density-matrix path:
    equal to central differences of the Cirq reference (1e-3)."""
    spec, noise = _model(3, "rainbow", None)
    values = _shared_weights(spec, rng, rows=2)
    run = noisy_executor(spec, noise, method="density")
    x = tf.constant(values)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reduce_sum(run(x))
    grad = tape.gradient(out, x).numpy()
    eps = 1e-3
    for j in (0, 2 * spec.n_qubits - 1, 2 * spec.n_qubits, values.shape[1] - 1):
        shift = np.zeros(values.shape[1])
        shift[j] = eps
        plus = _cirq_reference(spec, noise, values + shift).sum(axis=1)
        minus = _cirq_reference(spec, noise, values - shift).sum(axis=1)
        np.testing.assert_allclose(grad[:, j], (plus - minus) / (2 * eps), atol=1e-3)


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


def test_auto_takes_density_up_to_exact_max_qubits():
    """method "auto" is the paper circuit's density executor up to EXACT_MAX_QUBITS qubits and
    the trajectory executor above (executors are cached, so "auto" returns the same object)."""
    noise = NoiseModel(depolarizing=0.01)
    small, large = VQCSpec(EXACT_MAX_QUBITS, 1, 2), VQCSpec(EXACT_MAX_QUBITS + 1, 1, 2)
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


# ------------------------------------------------------ any circuit (NoisyExpectationProgram)
def _hardware_efficient():
    """5 qubits: RY/RZ layers around a CZ ladder, readouts with X, Y and Z terms."""
    q = cirq.LineQubit.range(5)
    t = sympy.symbols("t0:10")
    circuit = cirq.Circuit(
        [cirq.ry(t[i])(q[i]) for i in range(5)],
        [cirq.rz(t[5 + i])(q[i]) for i in range(5)],
        [cirq.CZ(q[i], q[i + 1]) for i in range(4)],
        [cirq.ry(0.5 * t[i] + 0.1)(q[i]) for i in range(5)],
    )
    readouts = (
        cirq.X(q[0]) * cirq.Y(q[2]) + 0.5 * cirq.Z(q[4]),
        -0.8 * cirq.Z(q[1]) * cirq.Z(q[3]) + 0.2 * cirq.Y(q[4]),
    )
    return circuit, t, readouts


def _general_cases():
    """(name, circuit, symbols, readouts, noise model): the three TFQ test circuits (CZ
    ladder, iSWAP, FSim entanglers) and a 5-qubit CZ ladder, with scalar, hardware-placed and
    per-qubit / per-edge models."""
    cz, iswap, fsim = circuit_cases()
    hea = _hardware_efficient()
    scalar = NoiseModel(
        depolarizing=0.02,
        amplitude_damping=0.03,
        phase_damping=0.04,
        readout=0.05,
        two_qubit_depolarizing=0.06,
        two_qubit_amplitude_damping=0.05,
    )
    per_edge = NoiseModel(
        depolarizing=0.01,
        amplitude_damping=(0.01, 0.05, 0.03),
        phase_damping=0.03,
        readout=(0.02, 0.05, 0.08),
        two_qubit_depolarizing=((0.05, 0.01), 0.03, (0.02, 0.08)),
        edges=((1, 0), (1, 2), (0, 2)),
    )
    return [
        ("cz_ladder", cz.circuit, cz.symbols, cz.readouts, scalar),
        (
            "iswap",
            iswap.circuit,
            iswap.symbols,
            iswap.readouts,
            make_noise("rainbow", 3.0, circuit=iswap.circuit),
        ),
        ("fsim", fsim.circuit, fsim.symbols, fsim.readouts, per_edge),
        ("hardware_efficient", *hea, make_noise("weber", 3.0, circuit=hea[0])),
    ]


GENERAL = {c[0]: c for c in _general_cases()}


def _strengths(model, n, ks, edges):
    """The test's own reading of a model: [dep, amp, phase] on each qubit after a gate."""
    names = ("depolarizing", "amplitude_damping", "phase_damping")

    def single(name, k):
        v = getattr(model, name)
        return v[k] if isinstance(v, tuple) else v

    if len(ks) == 1:
        return [[single(c, ks[0]) for c in names]]
    rows = [[None] * 3 for _ in ks]
    for j, c in enumerate(names):
        v = getattr(model, "two_qubit_" + c)
        for side, k in enumerate(ks):
            if v is None:
                rows[side][j] = single(c, k)
            elif not isinstance(v, tuple):
                rows[side][j] = v
            else:
                e = edges.index(tuple(ks)) if tuple(ks) in edges else edges.index(tuple(ks[::-1]))
                pair = v[e] if isinstance(v[e], tuple) else (v[e], v[e])
                rows[side][j] = pair[side if tuple(ks) in edges else 1 - side]
    return rows


def _reference(circuit, symbols, readouts, model, values):
    """Noisy expectations by cirq.DensityMatrixSimulator: the test inserts cirq's channels
    itself, then measures each Pauli term in its basis (H for X, S^-1 then H for Y) with a
    bit flip of p_q on each measured qubit before reading the Z product (float64)."""
    order = sorted(circuit.all_qubits().union(*(r.qubits for r in readouts)))
    n = len(order)
    index = {q: i for i, q in enumerate(order)}
    placed = list(model.qubits) if model.qubits is not None else order
    move = dict(zip(order, placed))
    edges = list(model.edges) if model.edges is not None else [(i, (i + 1) % n) for i in range(n)]
    ops = []
    for op in circuit.all_operations():
        ks = [index[q] for q in op.qubits]
        ops.append(op.transform_qubits(move))
        for k, (dep, amp, phase) in zip(ks, _strengths(model, n, ks, edges)):
            for make, p in (
                (cirq.depolarize, dep),
                (cirq.amplitude_damp, amp),
                (cirq.phase_damp, phase),
            ):
                if p > 0:
                    ops.append(make(p).on(placed[k]))
    noisy = cirq.Circuit(ops)
    flip = model.readout if isinstance(model.readout, tuple) else (model.readout,) * n
    sim = cirq.DensityMatrixSimulator(dtype=np.complex128)
    out = []
    for row in np.asarray(values, np.float64):
        resolver = cirq.ParamResolver({s: float(v) for s, v in zip(symbols, row)})
        rho = sim.simulate(noisy, resolver, qubit_order=placed).final_density_matrix
        got = []
        for total in readouts:
            value = 0.0
            for term in total:
                measure = []
                for q, pauli in term.items():
                    d = move[q]
                    if pauli == cirq.X:
                        measure.append(cirq.H(d))
                    elif pauli == cirq.Y:
                        measure += [cirq.S(d) ** -1, cirq.H(d)]
                    if flip[index[q]] > 0:
                        measure.append(cirq.bit_flip(flip[index[q]]).on(d))
                final = sim.simulate(
                    cirq.Circuit(measure, cirq.I.on_each(*placed)),
                    initial_state=rho,
                    qubit_order=placed,
                ).final_density_matrix
                bits = np.arange(2**n)
                parity = np.zeros_like(bits)
                for q in term.qubits:
                    parity ^= (bits >> (n - 1 - placed.index(move[q]))) & 1
                z = np.real(np.diag(final)) @ (1 - 2 * parity)
                value += float(np.real(term.coefficient)) * z
            got.append(value)
        out.append(got)
    return np.array(out)


def _symbol_values(symbols, rng, rows):
    return rng.uniform(-np.pi, np.pi, size=(rows, len(symbols))).astype(np.float32)


@pytest.mark.parametrize("name", list(GENERAL))
def test_noisy_program_matches_cirq_with_channels_inserted_by_the_test(name, rng):
    """The density method equals cirq.DensityMatrixSimulator on the circuit with channels
    and readout flips inserted by the test itself (1e-5), for CZ-ladder, iSWAP, FSim and a
    5-qubit CZ ladder, with scalar, per-qubit/per-edge and hardware-placed models."""
    _, circuit, symbols, readouts, model = GENERAL[name]
    values = _symbol_values(symbols, rng, 3)
    program = NoisyExpectationProgram(circuit, symbols, readouts, model, method="density")
    got = program(tf.constant(values)).numpy()
    ref = _reference(circuit, symbols, readouts, model, values)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    clean = ExpectationProgram(circuit, symbols, readouts)(values).numpy()
    assert np.abs(clean - ref).max() > 1e-2  # the noise is visible


@pytest.mark.parametrize("name", ["cz_ladder", "iswap", "fsim"])
def test_zero_noise_is_the_noiseless_expectation_program(name, rng):
    """With a zero model both methods equal the noiseless ExpectationProgram (1e-5)."""
    _, circuit, symbols, readouts, _ = GENERAL[name]
    values = tf.constant(_symbol_values(symbols, rng, 4))
    exact = ExpectationProgram(circuit, symbols, readouts)(values).numpy()
    for method in ("density", "trajectories"):
        program = NoisyExpectationProgram(circuit, symbols, readouts, NoiseModel(), method=method)
        assert program.repetitions == 1
        np.testing.assert_allclose(program(values), exact, atol=1e-5)


def test_noisy_program_gradients_match_central_differences(rng):
    """d(sum of readouts)/d symbols by backpropagation through the density method equals
    central differences of the Cirq reference (1e-3)."""
    _, circuit, symbols, readouts, model = GENERAL["fsim"]
    program = NoisyExpectationProgram(circuit, symbols, readouts, model, method="density")
    values = _symbol_values(symbols, rng, 2)
    x = tf.constant(values)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reduce_sum(program(x))
    grad = tape.gradient(out, x).numpy()
    eps = 1e-4
    for j in range(len(symbols)):
        shift = np.zeros(len(symbols))
        shift[j] = eps
        plus = _reference(circuit, symbols, readouts, model, values + shift).sum(axis=1)
        minus = _reference(circuit, symbols, readouts, model, values - shift).sum(axis=1)
        np.testing.assert_allclose(grad[:, j], (plus - minus) / (2 * eps), atol=1e-3)


@pytest.mark.parametrize("name", list(GENERAL))
def test_noisy_program_heisenberg_path_matches_cirq(name, rng):
    """Rows that agree on the symbols used after the first multi-qubit gate take the
    Heisenberg path of the density method; it equals the Cirq reference within 1e-5."""
    _, circuit, symbols, readouts, model = GENERAL[name]
    program = NoisyExpectationProgram(circuit, symbols, readouts, model, method="density")
    noisy = program.noisy
    fixed = HeisenbergExpectation(
        noisy.circuit, program.symbols, noisy.readouts, qubits=noisy.qubits
    ).fixed_columns
    values = _symbol_values(symbols, rng, 3)
    values[:, list(fixed)] = values[0, list(fixed)]
    got = program(tf.constant(values)).numpy()
    np.testing.assert_allclose(
        got, _reference(circuit, symbols, readouts, model, values), atol=1e-5
    )


# Trajectories on any circuit, bounded as the paper-circuit test above: CHUNKS independent
# chunk means per row, Student's t with CHUNKS - 1 degrees of freedom, Bonferroni over
# GENERAL_COMPARISONS (2 cases x 2 rows x their readouts) at 1e-6 false failures a run.
# Power as above: the model with every strength doubled lies more than 2 * GENERAL_T_BOUND
# standard errors from the exact values in some comparison, so such a model would fail
# (largest ratios measured: about 35-45 standard errors for cz_ladder, 120-135 for iswap).
GENERAL_TRAJECTORY_CASES = ["cz_ladder", "iswap"]
GENERAL_COMPARISONS = sum(TRAJECTORY_ROWS * len(GENERAL[c][3]) for c in GENERAL_TRAJECTORY_CASES)
GENERAL_T_BOUND = float(stats.t.isf(FALSE_FAILURES_PER_RUN / (2 * GENERAL_COMPARISONS), CHUNKS - 1))


@pytest.mark.parametrize("name", GENERAL_TRAJECTORY_CASES)
def test_trajectories_on_any_circuit_match_density_within_bonferroni_t_bound(name, rng):
    """TFQ trajectory means of a non-paper circuit agree with the density method within
    GENERAL_T_BOUND standard errors (false failures <= 1e-6 a run)."""
    _, circuit, symbols, readouts, model = GENERAL[name]
    values = _symbol_values(symbols, rng, TRAJECTORY_ROWS)
    run = NoisyExpectationProgram(
        circuit, symbols, readouts, model, method="trajectories", repetitions=CHUNK_TRAJECTORIES
    )
    means = run(tf.constant(np.repeat(values, CHUNKS, axis=0))).numpy().astype(np.float64)
    means = means.reshape(TRAJECTORY_ROWS, CHUNKS, -1)
    estimate = means.mean(axis=1)
    stderr = means.std(axis=1, ddof=1) / np.sqrt(CHUNKS)
    assert np.all(stderr > 0), "trajectory chunks are not independent"
    exact = NoisyExpectationProgram(circuit, symbols, readouts, model, method="density")
    ref = exact(tf.constant(values)).numpy()
    assert np.all(np.abs(estimate - ref) <= GENERAL_T_BOUND * stderr + 1e-5), (estimate, ref)
    doubled = NoisyExpectationProgram(
        circuit, symbols, readouts, model.scaled(2.0), method="density"
    )
    wrong = doubled(tf.constant(values)).numpy()
    assert np.any(np.abs(wrong - ref) > 2 * GENERAL_T_BOUND * stderr + 2e-5), (wrong, ref)


def test_noisy_program_takes_a_preset_name_and_refuses_bad_input(rng):
    """A preset name places the circuit (make_noise(name, circuit=...)); "auto" is the
    density method at this size; missing symbols, bad noise and bad shapes are refused."""
    _, circuit, symbols, readouts, _ = GENERAL["iswap"]
    values = tf.constant(_symbol_values(symbols, rng, 2))
    by_name = NoisyExpectationProgram(circuit, symbols, readouts, "weber")
    assert by_name.method == "density"
    model = make_noise("weber", circuit=circuit)
    assert by_name.noisy.qubits == model.qubits
    want = _reference(circuit, symbols, readouts, model, values.numpy())
    np.testing.assert_allclose(by_name(values), want, atol=1e-5)
    with pytest.raises(ValueError, match=r"symbols \['e'\] of the circuit are not in symbols"):
        NoisyExpectationProgram(circuit, symbols[1:], readouts, model)
    with pytest.raises(TypeError, match="noise must be a NoiseModel or a preset name, got 0.1"):
        NoisyExpectationProgram(circuit, symbols, readouts, 0.1)
    with pytest.raises(ValueError, match=r"symbol_values must be \[batch, 5\]"):
        by_name(tf.zeros([2, 4]))
    with pytest.raises(ValueError, match="method must be one of"):
        NoisyExpectationProgram(circuit, symbols, readouts, model, method="exact")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
