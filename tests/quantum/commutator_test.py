"""Tests for qgcam_tf.quantum.commutator: commutator (Lie-bracket) derivatives against
complex128 finite differences of cirq.Simulator, a float64 parameter-shift rule and dense
density-matrix brackets."""

import sys

import cirq
import numpy as np
import pytest
import sympy

from qgcam_tf.quantum.ansatz import hardware_efficient_circuit, reuploading_circuit
from qgcam_tf.quantum.circuits import VQCSpec, variational_circuit
from qgcam_tf.quantum.commutator import (
    CommutatorRule,
    bracket_derivative,
    heisenberg_observable,
)
from qgcam_tf.quantum.compiler import UnsupportedGateError
from qgcam_tf.quantum.shift import ShiftRule
from qgcam_tf.testing.tfq_models import (
    FAMILY_SYMBOLS,
    GATE_FAMILIES,
    family_circuit,
    simulate,
)

A, B = FAMILY_SYMBOLS
VALUES = np.array([[0.37, -1.3], [2.1, 0.45], [-0.8, 1.7]])


def _simulate(circuit, symbols, values, readouts):
    """cirq.Simulator (complex128) expectations ``[B, L]`` of ``readouts`` at each row of
    ``values``, in one parameter sweep."""
    qubits = sorted(circuit.all_qubits().union(*(cirq.PauliSum.wrap(r).qubits for r in readouts)))
    sweep = [cirq.ParamResolver(dict(zip(symbols, map(float, row)))) for row in values]
    out = cirq.Simulator(dtype=np.complex128).simulate_expectation_values_sweep(
        circuit, observables=list(readouts), params=sweep, qubit_order=qubits
    )
    return np.real(np.array(out))


def _finite_differences(circuit, symbols, values, readouts, eps=1e-6):
    """Central differences of cirq.Simulator's complex128 expectations: [B, S, L]."""
    steps = np.eye(len(symbols)) * eps  # [S, S]: row i moves symbol i
    up = (values[:, None] + steps).reshape(-1, len(symbols))
    down = (values[:, None] - steps).reshape(-1, len(symbols))
    diff = _simulate(circuit, symbols, up, readouts) - _simulate(circuit, symbols, down, readouts)
    return diff.reshape(len(values), len(symbols), len(readouts)) / (2 * eps)


def _float64_shift(circuit, symbols, values, readouts):
    """The parameter-shift rule in float64: ShiftRule's one-symbol-per-factor circuit, each
    factor's exponent shifted by +-1/2 and run on cirq.Simulator (complex128)."""
    rule = ShiftRule(circuit, symbols, readouts)
    occ = [sympy.Symbol(f"t{k}") for k in range(len(rule.offsets))]
    t = rule.occurrence_values(values)
    qubits_readouts = list(rule.readouts)
    shifts = np.eye(len(occ)) * 0.5  # [K, K]: row k shifts factor k's exponent by 1/2
    up = (t[:, None] + shifts).reshape(-1, len(occ))
    down = (t[:, None] - shifts).reshape(-1, len(occ))
    f_up = _simulate(rule.occurrence_circuit, occ, up, qubits_readouts)
    f_down = _simulate(rule.occurrence_circuit, occ, down, qubits_readouts)
    dfdt = (np.pi / 2 * (f_up - f_down)).reshape(len(values), len(occ), len(readouts))
    return np.einsum("ki,bkl->bil", rule.coefficients, dfdt)


def _user_circuit():
    """Three qubits: symbol ``u`` in an ``ry`` and in an ``XXPowGate`` (twice), a symbolic
    ``PhasedXPowGate`` exponent and phase, a fixed random two-qubit gate, Pauli-sum readouts."""
    q = cirq.LineQubit.range(3)
    u, v, w = sympy.symbols("u v w")
    circuit = cirq.Circuit(
        cirq.H.on_each(*q),
        cirq.ry(u).on(q[0]),
        cirq.XXPowGate(exponent=0.5 * u - 0.2, global_shift=0.1).on(q[0], q[1]),
        cirq.PhasedXPowGate(exponent=v, phase_exponent=0.3 * w + 0.1).on(q[2]),
        cirq.MatrixGate(cirq.testing.random_unitary(4, random_state=3)).on(q[1], q[2]),
        cirq.rz(w - u).on(q[1]),
        cirq.CNOT(q[2], q[0]),
    )
    readouts = [
        cirq.Z(q[0]) + 0.5 * cirq.X(q[1]) * cirq.Y(q[2]),
        cirq.PauliString(cirq.Y(q[0]) * cirq.Z(q[2])),
        -0.7 * cirq.X(q[2]) + 0.2,
    ]
    return circuit, [u, v, w], readouts


def _circuits():
    """``(name, circuit, symbols, readouts)``: the paper's circuit at 2-4 qubits, the
    hardware-efficient and re-uploading families and the user circuit."""
    out = []
    for n in (2, 3, 4):
        vqc = variational_circuit(VQCSpec(n, 2, n))
        out.append((f"paper{n}", vqc.circuit, vqc.symbols, list(vqc.readouts)))
    families = {
        "hardware_efficient": hardware_efficient_circuit,
        "reuploading": reuploading_circuit,
    }
    for name, build in families.items():
        circuit, inputs, weights = build(3, 2, "paper")
        q = cirq.LineQubit.range(3)
        out.append((name, circuit, inputs + weights, [cirq.Z(x) for x in q]))
    out.append(("user", *_user_circuit()))
    return out


CIRCUITS = _circuits()


@pytest.mark.parametrize("family", sorted(GATE_FAMILIES))
def test_every_gate_family_equals_complex128_finite_differences(family):
    """For every parametrised gate family, the bracket Jacobian equals complex128 central
    differences of cirq.Simulator within 1e-7 and the expectations equal cirq's within
    1e-12."""
    circuit, _, readouts = family_circuit(family)
    rule = CommutatorRule(circuit, [A, B], readouts)
    want = _finite_differences(circuit, [A, B], VALUES, readouts)
    assert np.abs(want).max() > 0.1  # the gate matters
    np.testing.assert_allclose(rule.jacobian(VALUES), want, atol=1e-7)
    np.testing.assert_allclose(
        rule.expectations(VALUES), simulate(circuit, [A, B], VALUES, readouts), atol=1e-12
    )


@pytest.mark.parametrize("name,circuit,symbols,readouts", CIRCUITS, ids=[c[0] for c in CIRCUITS])
def test_brackets_equal_a_float64_shift_rule_and_finite_differences(
    name, circuit, symbols, readouts
):
    """On the paper's circuit (2-4 qubits), both ansatz families and a user circuit (a
    symbol in two gates, XXPowGate, PhasedXPowGate), at three random inputs: the brackets
    equal the float64 parameter-shift rule within 1e-10 and finite differences within
    1e-7."""
    rng = np.random.default_rng(len(name))
    values = rng.normal(0.0, 1.5, size=(3, len(symbols)))
    rule = CommutatorRule(circuit, symbols, readouts)
    got = rule.jacobian(values)
    assert np.abs(got).max() > 0.1
    np.testing.assert_allclose(got, _float64_shift(circuit, symbols, values, readouts), atol=1e-10)
    np.testing.assert_allclose(
        got, _finite_differences(circuit, symbols, values, readouts), atol=1e-7
    )


def test_one_bracket_equals_the_dense_density_matrix_form():
    """d<O>/da of one ry gate equals (i/2) tr([P, V^+ O V] rho) with dense matrices, taken
    before or after the gate and with a state vector or a density matrix, and equals the
    backward pass's value for that factor."""
    circuit, symbols, readouts = _user_circuit()
    q = sorted(circuit.all_qubits())
    a = sympy.Symbol("a")
    before = cirq.Circuit(circuit[:4])
    after = cirq.Circuit(circuit[4:])
    full = before + cirq.Circuit(cirq.ry(a).on(q[2])) + after
    values = np.array([[0.4, -0.9, 1.3, 0.77]])
    resolver = dict(zip([*symbols, a], values[0]))
    rule = CommutatorRule(full, [*symbols, a], readouts)
    want = rule.jacobian(values, wrt=[3])[0, 0]
    psi = cirq.final_state_vector(
        cirq.resolve_parameters(before, resolver), qubit_order=q, dtype=np.complex128
    )
    gate = cirq.Circuit(cirq.I.on_each(*q), cirq.ry(0.77).on(q[2])).unitary(qubit_order=q)
    v = cirq.resolve_parameters(after, resolver).unitary(qubit_order=q)
    p = cirq.Circuit(cirq.I.on_each(*q), cirq.Y(q[2])).unitary(qubit_order=q)
    for l, readout in enumerate(readouts):
        o = cirq.PauliSum.wrap(readout).matrix(q)
        after_gate = gate @ psi
        d_after = bracket_derivative(after_gate, p, heisenberg_observable(v, o))
        d_before = bracket_derivative(psi, p, heisenberg_observable(v @ gate, o))
        d_rho = bracket_derivative(np.outer(psi, psi.conj()), p, heisenberg_observable(v @ gate, o))
        np.testing.assert_allclose([d_after, d_before, d_rho], want[l], atol=1e-12)
    assert np.abs(want).max() > 0.1


def test_paper_circuit_factors_are_its_rotation_gates():
    """The paper's circuit at 3 qubits, depth 2: 6 encoding factors (RY, RZ per qubit) and
    18 weight factors, the first six generated by Y, Y, Y, Z, Z, Z with angle = value."""
    vqc = variational_circuit(VQCSpec(3, 2, 3))
    rule = CommutatorRule(vqc.circuit, vqc.symbols, vqc.readouts)
    assert len(rule.generators) == 6 + 18
    assert rule.generators[:6] == ("Y", "Y", "Y", "Z", "Z", "Z")
    np.testing.assert_allclose(rule.coefficients[:6, :6], np.eye(6) / np.pi)


def test_derivatives_by_some_columns_are_those_columns_of_the_full_one():
    """jacobian(wrt=[2, 0]) is columns 2 and 0 of the full Jacobian (the backward pass
    stops early); angle_derivatives of no factor is zeros."""
    circuit, symbols, readouts = _user_circuit()
    rule = CommutatorRule(circuit, symbols, readouts)
    values = np.array([[0.3, -0.2, 1.1], [1.4, 0.9, -0.6]])
    full = rule.jacobian(values)
    np.testing.assert_allclose(rule.jacobian(values, wrt=[2, 0]), full[:, [2, 0]], atol=1e-14)
    np.testing.assert_array_equal(
        rule.angle_derivatives(values, []), np.zeros((2, len(rule.offsets), 3))
    )


def test_bad_input_raises_naming_it():
    """Channels, wrong symbol values, bad wrt / factors and mismatched dense shapes raise
    one clear error naming the argument."""
    q = cirq.LineQubit.range(2)
    s = sympy.Symbol("s")
    noisy = cirq.Circuit(cirq.rx(s).on(q[0]), cirq.depolarize(0.1).on(q[1]))
    with pytest.raises(UnsupportedGateError, match="moment 0"):
        CommutatorRule(noisy, [s], [cirq.Z(q[0])])
    with pytest.raises(ValueError, match=r"symbols \['s'\] of the circuit are not in"):
        CommutatorRule(cirq.Circuit(cirq.rx(s).on(q[0])), [], [cirq.Z(q[0])])
    with pytest.raises(TypeError, match="readouts must be a sequence"):
        CommutatorRule(cirq.Circuit(cirq.rx(s).on(q[0])), [s], cirq.Z(q[0]))
    with pytest.raises(ValueError, match="qubits .* lack"):
        CommutatorRule(cirq.Circuit(cirq.rx(s).on(q[0])), [s], [cirq.Z(q[1])], qubits=q[:1])
    rule = CommutatorRule(cirq.Circuit(cirq.rx(s).on(q[0])), [s], [cirq.Z(q[0])])
    with pytest.raises(ValueError, match=r"symbol_values must be \[batch, 1\]"):
        rule.jacobian(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        rule.expectations(np.array([[np.nan]]))
    with pytest.raises(ValueError, match="wrt must be distinct column indices"):
        rule.jacobian(np.zeros((1, 1)), wrt=[1])
    with pytest.raises(ValueError, match="factors must be indices"):
        rule.angle_derivatives(np.zeros((1, 1)), [3])
    with pytest.raises(ValueError, match="state must be"):
        bracket_derivative(np.zeros(3), np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match="square matrices of one size"):
        heisenberg_observable(np.eye(2), np.eye(4))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
