"""Tests for qgcam_tf.quantum.shift: the parameter-shift rule of every gate family against
float64 finite differences of cirq.Simulator, shot estimates against the binomial law."""

import sys

import cirq
import numpy as np
import pytest
import sympy

from qgcam_tf.quantum.compiler import UnsupportedGateError
from qgcam_tf.quantum.shift import ShiftRule, check_shots, sample_expectations
from qgcam_tf.testing.tfq_models import (
    FAMILY_SYMBOLS,
    circuit_cases,
    family_circuit,
    simulate,
)
from qgcam_tf.testing.tfq_models import (
    GATE_FAMILIES as FAMILIES,
)

A, B = FAMILY_SYMBOLS
VALUES = np.array([[0.37, -1.3], [2.1, 0.45], [-0.8, 1.7]])


def _family(family: str):
    """:func:`family_circuit` with every readout a ``cirq.PauliSum`` (the density-matrix
    reference below iterates their terms)."""
    circuit, _, readouts = family_circuit(family)
    return circuit, [cirq.PauliSum.wrap(r) for r in readouts]


def _finite_differences(circuit, symbols, values, readouts, eps=1e-5):
    """Central differences of cirq.Simulator's float64 expectations: [B, S, L]."""
    out = np.zeros((len(values), len(symbols), len(readouts)))
    for i in range(len(symbols)):
        up, down = values.copy(), values.copy()
        up[:, i] += eps
        down[:, i] -= eps
        out[:, i] = (
            simulate(circuit, symbols, up, readouts) - simulate(circuit, symbols, down, readouts)
        ) / (2 * eps)
    return out


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_shift_rule_of_every_gate_family_equals_finite_differences(family):
    """d<O_l>/dv_i by the shift rule equals float64 finite differences of cirq.Simulator
    within 2e-5, and the exact expectations equal cirq's within 1e-5."""
    circuit, readouts = _family(family)
    rule = ShiftRule(circuit, [A, B], readouts)
    want = _finite_differences(circuit, [A, B], VALUES, readouts)
    assert np.abs(want).max() > 0.1  # the gate matters
    np.testing.assert_allclose(rule.jacobian(VALUES), want, atol=2e-5)
    np.testing.assert_allclose(
        rule.expectations(VALUES), simulate(circuit, [A, B], VALUES, readouts), atol=1e-5
    )


@pytest.mark.parametrize(
    "family,occurrences",
    [("rx", 1), ("cz", 3), ("iswap", 2), ("swap", 3), ("fsim", 5), ("phasedx", 3)],
)
def test_multi_eigenvalue_gates_shift_each_two_eigenvalue_factor(family, occurrences):
    """A gate is shifted once per Pauli-power factor that depends on the symbols: rx one,
    an iSWAP exponent two (XX and YY: four shifted circuits, as the four-term rule),
    FSim's theta two and phi three, a phase exponent twice beside the exponent."""
    circuit, readouts = _family(family)
    rule = ShiftRule(circuit, [A, B], readouts)
    assert rule.coefficients.shape == (occurrences, 2)
    assert len(rule.offsets) == occurrences


@pytest.mark.parametrize("case", circuit_cases(), ids=lambda c: c.name)
def test_shift_rule_on_the_test_circuits_equals_finite_differences(case):
    """On the three non-paper circuits (encodings, CZ / iSWAP / FSim, repeated symbols,
    Pauli-sum readouts) the Jacobian equals cirq finite differences within 2e-5."""
    rng = np.random.default_rng(5)
    values = rng.normal(0.0, 1.5, size=(3, len(case.symbols)))
    rule = ShiftRule(case.circuit, case.symbols, case.readouts)
    want = _finite_differences(case.circuit, case.symbols, values, case.readouts)
    np.testing.assert_allclose(rule.jacobian(values), want, atol=2e-5)


def _noisy(circuit):
    """``circuit`` with a depolarizing and an amplitude-damping channel after every gate."""
    ops = []
    for op in circuit.all_operations():
        ops.append(op)
        for q in op.qubits:
            ops += [cirq.depolarize(0.04).on(q), cirq.amplitude_damp(0.06).on(q)]
    return cirq.Circuit(ops)


def _density_expectations(circuit, symbols, values, readouts, flips):
    """cirq.DensityMatrixSimulator's float64 expectations, each Pauli term scaled by its
    readout-error factor prod(1 - 2 p_q): [B, L]."""
    sim = cirq.DensityMatrixSimulator(dtype=np.complex128)
    qubits = sorted(circuit.all_qubits())
    out = []
    for row in values:
        resolved = cirq.resolve_parameters(circuit, dict(zip(map(str, symbols), row)))
        rho = sim.simulate(resolved, qubit_order=qubits).final_density_matrix
        qindex = {q: i for i, q in enumerate(qubits)}
        out.append(
            [
                sum(
                    np.real(term.expectation_from_density_matrix(rho, qindex))
                    * np.prod([1 - 2 * flips[qindex[q]] for q in term.qubits])
                    for term in total
                )
                for total in readouts
            ]
        )
    return np.array(out)


@pytest.mark.parametrize("family", ["fsim", "phasedx", "iswap"])
def test_shift_rule_with_channels_and_readout_error_equals_density_differences(family):
    """With channels after every gate and readout error, expectations equal
    cirq.DensityMatrixSimulator's and the Jacobian its finite differences within 2e-5."""
    circuit, readouts = _family(family)
    noisy = _noisy(circuit)
    flips = np.array([0.02, 0.05, 0.1])
    rule = ShiftRule(noisy, [A, B], readouts, readout_error=flips)
    assert rule.noisy and not ShiftRule(circuit, [A, B], readouts).noisy
    ref = _density_expectations(noisy, [A, B], VALUES, readouts, flips)
    np.testing.assert_allclose(rule.expectations(VALUES), ref, atol=1e-5)
    eps = 1e-5
    want = np.zeros((len(VALUES), 2, len(readouts)))
    for i in range(2):
        up, down = VALUES.copy(), VALUES.copy()
        up[:, i] += eps
        down[:, i] -= eps
        want[:, i] = (
            _density_expectations(noisy, [A, B], up, readouts, flips)
            - _density_expectations(noisy, [A, B], down, readouts, flips)
        ) / (2 * eps)
    np.testing.assert_allclose(rule.jacobian(VALUES), want, atol=2e-5)
    clean = ShiftRule(circuit, [A, B], readouts).jacobian(VALUES)
    assert np.abs(rule.jacobian(VALUES) - clean).max() > 1e-2  # the noise matters


def test_jacobian_by_some_columns_is_those_columns_of_the_full_one():
    """wrt=[3, 0] gives columns 3 and 0 of the full Jacobian; a symbol no gate uses gets 0."""
    case = circuit_cases()[0]
    values = np.random.default_rng(4).normal(size=(3, len(case.symbols)))
    rule = ShiftRule(case.circuit, (*case.symbols, sympy.Symbol("unused")), case.readouts)
    full = rule.jacobian(np.concatenate([values, np.ones((3, 1))], axis=1))
    assert np.all(full[:, -1] == 0)
    part = rule.jacobian(np.concatenate([values, np.ones((3, 1))], axis=1), wrt=[3, 0])
    np.testing.assert_allclose(part, full[:, [3, 0]], atol=1e-7)
    for bad in ([0, 0], [7], [-1], [0.5]):
        with pytest.raises(ValueError, match="wrt must be distinct column indices in"):
            rule.jacobian(np.zeros((1, 7)), wrt=bad)


def test_batches_split_into_chunks_give_the_same_jacobian():
    """max_rows=5 (many small TensorFlow calls) gives the Jacobian of one call."""
    case = circuit_cases()[1]
    values = np.random.default_rng(2).normal(size=(4, len(case.symbols)))
    one = ShiftRule(case.circuit, case.symbols, case.readouts).jacobian(values)
    chunked = ShiftRule(case.circuit, case.symbols, case.readouts, max_rows=5).jacobian(values)
    np.testing.assert_allclose(chunked, one, atol=1e-6)


def _predicted_mse(rule, values):
    """The mean squared error of the shot Jacobian with one shot per term and circuit:
    sum over occurrences and terms of (pi/2 a_ki w_jl)^2 (2 - <P_j>_+^2 - <P_j>_-^2),
    from cirq's exact term expectations at the shifted exponents."""
    t = rule.occurrence_values(values)
    names = [f"t{k}" for k in range(t.shape[1])]
    var = np.zeros((len(values), len(rule.symbols), rule.n_outputs))
    for k in range(t.shape[1]):
        terms = []
        for sign in (1.0, -1.0):
            shifted = t.copy()
            shifted[:, k] += 0.5 * sign
            terms.append(simulate(rule.occurrence_circuit, names, shifted, rule.terms))
        per_term = 2.0 - terms[0] ** 2 - terms[1] ** 2  # [B, T] variances of one shot each
        var += (np.pi / 2) ** 2 * np.einsum(
            "i,bj,jl->bil", rule.coefficients[k] ** 2, per_term, rule.term_weights**2
        )
    return var.mean()


def test_shot_jacobian_error_falls_as_inverse_sqrt_shots():
    """With S shots per term the Jacobian is unbiased and its RMS error falls like
    S^-1/2: log-log slope in [-0.65, -0.35], and S * MSE within 25% of the binomial
    prediction at every S (40 seeded repeats)."""
    case = circuit_cases()[0]
    values = np.random.default_rng(7).normal(0.0, 1.5, size=(2, len(case.symbols)))
    rule = ShiftRule(case.circuit, case.symbols, case.readouts)
    exact = rule.jacobian(values)
    predicted = _predicted_mse(rule, values)
    shots = np.array([100, 400, 1600, 6400])
    rms = []
    for s in shots:
        rng = np.random.default_rng(int(s))
        draws = np.stack([rule.jacobian(values, shots=int(s), rng=rng) for _ in range(40)])
        mse = np.mean((draws - exact) ** 2)
        assert abs(s * mse / predicted - 1.0) < 0.25, (s, s * mse, predicted)
        rms.append(np.sqrt(mse))
    slope = np.polyfit(np.log(shots), np.log(rms), 1)[0]
    assert -0.65 <= slope <= -0.35, (slope, rms)


def test_bad_input_raises_naming_it():
    """Bad shots, symbol values, max_rows and unsupported gates: one clear error each."""
    case = circuit_cases()[0]
    rule = ShiftRule(case.circuit, case.symbols, case.readouts)
    good = np.zeros((1, len(case.symbols)))
    for bad in (0, -3, 2.5, True, "10"):
        with pytest.raises(ValueError, match=f"shots must be an int >= 1 or None, got {bad!r}"):
            rule.jacobian(good, shots=bad)
    assert check_shots(None) is None and check_shots(np.int64(7)) == 7
    with pytest.raises(ValueError, match=r"symbol_values must be \[batch, 6\]"):
        rule.jacobian(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        rule.expectations(np.full((1, 6), np.nan))
    with pytest.raises(ValueError, match="max_rows must be an int >= 1, got 0"):
        ShiftRule(case.circuit, case.symbols, case.readouts, max_rows=0)
    with pytest.raises(ValueError, match=r"readout_error must be 3 probabilities in \[0, 1\]"):
        ShiftRule(case.circuit, case.symbols, case.readouts, readout_error=[0.1, 0.2])
    with pytest.raises(ValueError, match="readout_error must be 3 probabilities"):
        ShiftRule(case.circuit, case.symbols, case.readouts, readout_error=[0.1, 0.2, 1.5])
    q = cirq.LineQubit.range(3)
    with pytest.raises(UnsupportedGateError, match="CCZ"):
        ShiftRule(cirq.Circuit(cirq.CCZPowGate(exponent=A).on(*q)), [A], [cirq.Z(q[0])])
    with pytest.raises(UnsupportedGateError, match="moment 1: unsupported operation"):
        ShiftRule(cirq.Circuit(cirq.rx(A).on(q[0]), cirq.measure(q[0])), [A], [cirq.Z(q[0])])
    with pytest.raises(UnsupportedGateError, match="not linear"):
        ShiftRule(cirq.Circuit(cirq.rx(A**2).on(q[0])), [A], [cirq.Z(q[0])])
    with pytest.raises(ValueError, match="symbols"):
        ShiftRule(cirq.Circuit(cirq.rx(A).on(q[0])), [B], [cirq.Z(q[0])])


def test_sample_expectations_are_binomial_shot_estimates():
    """Shot estimates: exact at <Z> = +-1, multiples of 2/shots, unbiased within 4 sigma."""
    rng = np.random.default_rng(0)
    exact = np.array([[-1.0, -0.5, 0.0, 0.3, 1.0]])
    assert np.array_equal(sample_expectations(np.array([-1.0, 1.0]), 7, rng), [-1.0, 1.0])
    shots = 200
    draws = sample_expectations(np.repeat(exact, 2000, axis=0), shots, rng)  # [2000, 5]
    k = (draws + 1.0) * shots / 2.0
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)
    sigma = np.sqrt((1 - exact**2) / shots / len(draws))  # std of the mean of the estimates
    assert np.all(np.abs(draws.mean(axis=0) - exact) <= 4 * sigma + 1e-12)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="shots must be an int >= 1"):
            sample_expectations(exact, bad, rng)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
