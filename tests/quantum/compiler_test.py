"""The ``tf`` executor against cirq.Simulator (float64), finite differences and TFQ."""

from __future__ import annotations

import sys

import cirq
import numpy as np
import pytest
import sympy
import tensorflow as tf

from qgcam_tf.model.layers import VQCLayer
from qgcam_tf.quantum.circuits import VQCSpec, build_vqc, readout_operators
from qgcam_tf.quantum.compiler import (
    SUPPORTED_PARAMETRISED_GATES,
    CompiledCircuit,
    ExpectationProgram,
    MultiGate,
    SingleGate,
    UnsupportedGateError,
    append_multi_gate,
    apply_dense_gate,
    gate_matrix,
    parse_circuit,
    parse_operation,
    parse_operations,
    z_signs,
)
from qgcam_tf.testing.tfq_models import FAMILY_SYMBOLS, family_circuit
from qgcam_tf.testing.tfq_models import GATE_FAMILIES as FAMILIES

CASES = [(n, d) for n in (2, 4, 8, 12) for d in (1, 2, 3)]
# XLA compilation costs 4-14 s per (n, depth) on 2 loaded cores, so XLA gets every width
# and every depth, not the full grid.
XLA_CASES = [(2, 1), (2, 3), (4, 2), (8, 3), (12, 1), pytest.param(12, 3, marks=pytest.mark.slow)]
BATCH = 3
# The tf executor runs in complex64; against the float64 reference it is ~1e-7 accurate.
ATOL = 1e-5
# TFQ's adjoint gradients (float32 qsim) were measured 1.8e-5 .. 3.7e-5 away from the
# float64 finite differences (n = 2, 4; depth 1, 2), where the tf executor is within 4e-7.
# So tf-vs-TFQ gradients can only agree to TFQ's own error; the 1e-5 claim is checked
# against the float64 reference, and TFQ gets this wider tolerance.
TFQ_GRAD_TOL = dict(atol=6e-5, rtol=0.0)
FD_STEP = 1e-4


def _inputs(spec: VQCSpec, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, spec.n_qubits)).astype(np.float32)
    theta = rng.uniform(0.0, 2.0 * np.pi, size=spec.theta_shape).astype(np.float32)
    return x, theta, rng


def _layer(spec: VQCSpec, backend: str, theta, *, jit_compile: bool = False) -> VQCLayer:
    layer = VQCLayer(spec, backend, jit_compile=jit_compile)
    layer.build((None, spec.n_qubits))
    layer.theta.assign(theta)
    return layer


class _CirqReference:
    """``<Z_l>`` of the resolved circuit from cirq.Simulator in complex128."""

    def __init__(self, spec: VQCSpec):
        self.circuit, inputs, weights = build_vqc(spec)
        self.names = [str(s) for s in inputs + weights]
        self.observables = readout_operators(spec)
        self.sim = cirq.Simulator(dtype=np.complex128)

    def __call__(self, x: np.ndarray, theta: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        values = np.concatenate([np.arctan(x), np.arctan(x**2), np.ravel(theta)])
        resolver = cirq.ParamResolver(dict(zip(self.names, values)))
        out = self.sim.simulate_expectation_values(self.circuit, self.observables, resolver)
        return np.real(np.asarray(out))


def _value_and_grads(layer: VQCLayer, x: np.ndarray, b: int, l: int):
    """Outputs [B, L], and the gradients of the single output ``f[b, l]`` w.r.t. x, theta."""
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        f = layer(xv)
        target = f[b, l]
    gx, gtheta = tape.gradient(target, [xv, layer.theta])
    return f.numpy(), gx.numpy(), gtheta.numpy()


def _check_against_cirq(spec: VQCSpec, layer: VQCLayer, x, theta, rng) -> tuple:
    """Asserts outputs and gradients of ``layer`` equal the float64 cirq reference."""
    ref = _CirqReference(spec)
    b, l = int(rng.integers(BATCH)), int(rng.integers(spec.n_outputs))
    f, gx, gtheta = _value_and_grads(layer, x, b, l)
    expected = np.stack([ref(x[i], theta) for i in range(BATCH)])
    np.testing.assert_allclose(f, expected, atol=ATOL)

    # d f[b, l] / d x: every coordinate by central differences; other samples get zero.
    xb = x[b].astype(np.float64)
    fd_x = np.empty(spec.n_qubits)
    for m in range(spec.n_qubits):
        e = np.eye(spec.n_qubits)[m] * FD_STEP
        fd_x[m] = (ref(xb + e, theta)[l] - ref(xb - e, theta)[l]) / (2 * FD_STEP)
    np.testing.assert_allclose(gx[b], fd_x, atol=ATOL)
    np.testing.assert_array_equal(np.delete(gx, b, axis=0), 0.0)

    # d f[b, l] / d theta: two random unit directions (covering every entry) and two entries.
    theta64 = theta.astype(np.float64)
    directions = [rng.normal(size=theta.shape) for _ in range(2)]
    for k in rng.choice(theta.size, size=2, replace=False):
        directions.append(np.eye(theta.size)[k].reshape(theta.shape))
    for v in directions:
        v = v / np.linalg.norm(v)
        fd = (ref(xb, theta64 + FD_STEP * v)[l] - ref(xb, theta64 - FD_STEP * v)[l]) / (2 * FD_STEP)
        np.testing.assert_allclose(np.sum(gtheta * v), fd, atol=ATOL)
    return f, gx, gtheta, b, l


@pytest.mark.parametrize("n,depth", CASES)
def test_tf_executor_matches_cirq_and_tfq(n, depth):
    """Expectations and per-sample gradients (x, theta) equal cirq/FD and TFQ's adjoint."""
    spec = VQCSpec(n, depth, n)
    x, theta, rng = _inputs(spec, seed=100 * n + depth)
    f, gx, gtheta, b, l = _check_against_cirq(spec, _layer(spec, "tf", theta), x, theta, rng)
    f_q, gx_q, gtheta_q = _value_and_grads(_layer(spec, "tfq", theta), x, b, l)
    np.testing.assert_allclose(f, f_q, atol=ATOL)
    np.testing.assert_allclose(gx, gx_q, **TFQ_GRAD_TOL)
    np.testing.assert_allclose(gtheta, gtheta_q, **TFQ_GRAD_TOL)


@pytest.mark.parametrize("n,depth", XLA_CASES)
def test_tf_executor_with_xla_matches_cirq(n, depth):
    """With jit_compile=True the layer still equals cirq and its finite differences."""
    spec = VQCSpec(n, depth, n)
    x, theta, rng = _inputs(spec, seed=7 * n + depth)
    _check_against_cirq(spec, _layer(spec, "tf", theta, jit_compile=True), x, theta, rng)


def test_fewer_outputs_than_qubits():
    """n_outputs < n reads only the first <Z_l>, as cirq does."""
    spec = VQCSpec(5, 2, 2)
    x, theta, rng = _inputs(spec, seed=3)
    _check_against_cirq(spec, _layer(spec, "tf", theta), x, theta, rng)


def _generic_circuit():
    q = cirq.LineQubit.range(4)
    a, b = sympy.symbols("a b")
    circuit = cirq.Circuit(
        [cirq.H(q[0]), cirq.T(q[1]), cirq.S(q[2]), cirq.X(q[3]) ** 0.3, cirq.Y(q[1]) ** 0.7],
        cirq.CZ(q[0], q[1]),
        cirq.rx(2 * a + 0.1).on(q[2]),
        cirq.XPowGate(exponent=b, global_shift=0.25).on(q[3]),
        cirq.SWAP(q[2], q[3]),
        cirq.CNOT(q[3], q[0]),
        cirq.YPowGate(exponent=a - b).on(q[1]),
        cirq.CZ(q[1], q[2]) ** 0.5,
        cirq.ISWAP(q[0], q[2]),
        cirq.FSimGate(0.3, 0.2).on(q[1], q[3]),
        cirq.CCX(q[0], q[1], q[3]),
        cirq.ZPowGate(exponent=0.5 * b, global_shift=-0.1).on(q[0]),
        cirq.ry(-a).on(q[3]),
        cirq.rz(b).on(q[1]),
    )
    return circuit, q, (a, b)


def test_generic_circuit_state_matches_cirq():
    """CZ, SWAP, ISWAP, FSim, CCX, powers and shifted symbolic gates give cirq's state."""
    circuit, qubits, symbols = _generic_circuit()
    compiled = CompiledCircuit(circuit, symbols, qubits=qubits)
    values = np.array([[0.3, -1.2], [2.0, 0.45]], np.float32)
    states = compiled.state(tf.constant(values)).numpy()
    for row, state in zip(values, states):
        resolver = cirq.ParamResolver(dict(zip(map(str, symbols), row.astype(np.float64))))
        expected = cirq.final_state_vector(
            cirq.resolve_parameters(circuit, resolver), qubit_order=qubits, dtype=np.complex128
        )
        np.testing.assert_allclose(state, expected, atol=ATOL)


@pytest.mark.parametrize("n,depth", [(4, 2), (10, 2)])
def test_shared_symbols_give_the_per_sample_result(n, depth):
    """CompiledCircuit with the weights as shared_symbol_names (one matrix per batch, the
    layer-cycling path at n = 10) gives the state of the per-sample path and of cirq."""
    spec = VQCSpec(n, depth, n)
    circuit, inputs, weights = build_vqc(spec)
    qubits = sorted(circuit.all_qubits())
    x, theta, _ = _inputs(spec, seed=n)
    angles = np.concatenate([np.arctan(x), np.arctan(x**2)], axis=1).astype(np.float32)
    shared = CompiledCircuit(circuit, inputs, qubits=qubits, shared_symbol_names=weights)
    per_sample = CompiledCircuit(circuit, inputs + weights, qubits=qubits)
    got = shared.state(tf.constant(angles), tf.constant(theta.ravel())).numpy()
    values = np.concatenate([angles, np.tile(theta.ravel(), (BATCH, 1))], axis=1)
    np.testing.assert_allclose(got, per_sample.state(tf.constant(values)).numpy(), atol=1e-6)
    resolver = cirq.ParamResolver(
        dict(zip(map(str, inputs + weights), values[0].astype(np.float64)))
    )
    expected = cirq.final_state_vector(
        cirq.resolve_parameters(circuit, resolver), qubit_order=qubits, dtype=np.complex128
    )
    np.testing.assert_allclose(got[0], expected, atol=ATOL)
    with pytest.raises(ValueError, match="shared_values is required"):
        shared.state(tf.constant(angles))


def test_generic_circuit_z_products_match_cirq():
    """<Z_0 Z_2> and <Z_3> read from the sign matrix equal cirq's expectation values."""
    circuit, qubits, symbols = _generic_circuit()
    compiled = CompiledCircuit(circuit, symbols, qubits=qubits)
    values = np.array([[0.9, 0.1]], np.float32)
    got = compiled.expectation_z(tf.constant(values), compiled.z_signs([[0, 2], [3]])).numpy()
    resolver = cirq.ParamResolver({"a": 0.9, "b": 0.1})
    observables = [cirq.Z(qubits[0]) * cirq.Z(qubits[2]), cirq.Z(qubits[3])]
    expected = cirq.Simulator(dtype=np.complex128).simulate_expectation_values(
        circuit, observables, resolver, qubit_order=qubits
    )
    np.testing.assert_allclose(got[0], np.real(expected), atol=ATOL)


@pytest.mark.parametrize(
    "op_factory,match",
    [
        (
            lambda q, s: cirq.CCZPowGate(exponent=s).on(q[0], q[1], q[2]),
            r"moment 2: unsupported parametrised gate \(cirq.CCZ\*\*sympy.Symbol\('a'\)\).on",
        ),
        (
            lambda q, s: cirq.PhasedFSimGate(theta=s).on(q[0], q[1]),
            r"moment 2: unsupported parametrised gate cirq.PhasedFSimGate",
        ),
        (
            lambda q, s: cirq.measure(q[0], key="m"),
            r"moment 2: unsupported operation cirq.measure\(cirq.LineQubit\(0\)",
        ),
        (
            lambda q, s: cirq.depolarize(0.1).on(q[0]),
            r"moment 2: unsupported operation .*depolarize\(p=0.1\).*no unitary",
        ),
        (lambda q, s: cirq.rx(sympy.sin(s)).on(q[0]), r"moment 2: .*sin\(a\).*not linear"),
        (
            lambda q, s: cirq.CZPowGate(exponent=s**2).on(q[0], q[1]),
            r"moment 2: \(cirq.CZ\*\*sympy.Pow.*parameter a\*\*2 is not linear",
        ),
        (
            lambda q, s: cirq.FSimGate(theta=0.3, phi=s * sympy.Symbol("b")).on(q[0], q[2]),
            r"moment 2: cirq.FSimGate.*parameter a\*b is not linear",
        ),
    ],
)
def test_unsupported_gates_raise_naming_the_gate(op_factory, match):
    """An unsupported gate or a non-linear parameter raises UnsupportedGateError naming the
    gate, its moment and (for a parameter) the expression."""
    q = cirq.LineQubit.range(3)
    a, b = sympy.symbols("a b")
    circuit = cirq.Circuit(cirq.H(q[0]), cirq.CNOT(q[0], q[1]), op_factory(q, a))
    with pytest.raises(UnsupportedGateError, match=match):
        CompiledCircuit(circuit, [a, b], qubits=q)


def test_unknown_symbol_and_qubit_raise():
    """Symbols missing from symbol_names and qubits missing from qubits are named."""
    q = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.rx(sympy.Symbol("zeta")).on(q[0]), cirq.CNOT(q[0], q[1]))
    with pytest.raises(ValueError, match="symbols zeta of .* are not in symbol_names"):
        CompiledCircuit(circuit, ["a"], qubits=q)
    with pytest.raises(ValueError, match=r"qubits \[cirq.LineQubit\(1\)\] not in qubits"):
        CompiledCircuit(circuit, ["zeta"], qubits=q[:1])


# ------------------------------------------------ the public seam used by quantum.density
def test_parse_operation_records_the_gate():
    """rx(2a + 0.5) is a parametrised X record with exponent (2a + 0.5)/pi and shift -1/2;
    H is a fixed single record and CNOT a fixed multi record, both with Cirq's unitary."""
    q = cirq.LineQubit.range(3)
    a, b = sympy.symbols("a b")
    qindex = {q[0]: 2, q[1]: 0, q[2]: 1}
    sindex = {b: 0, a: 1}
    rx = parse_operation(cirq.rx(2 * a + 0.5).on(q[1]), qindex, sindex)
    assert isinstance(rx, SingleGate) and rx.matrix is None
    assert (rx.qubit, rx.pauli, rx.global_shift) == (0, "X", -0.5)
    assert rx.exponent.coeffs == pytest.approx({1: 2 / np.pi})
    assert rx.exponent.const == pytest.approx(0.5 / np.pi)
    h = parse_operation(cirq.H(q[2]), qindex, sindex)
    assert isinstance(h, SingleGate) and h.qubit == 1
    np.testing.assert_allclose(h.matrix, cirq.unitary(cirq.H), atol=1e-12)
    cnot = parse_operation(cirq.CNOT(q[0], q[2]), qindex, sindex)
    assert isinstance(cnot, MultiGate) and cnot.qubits == (2, 1)
    np.testing.assert_allclose(cnot.matrix, cirq.unitary(cirq.CNOT), atol=1e-12)
    circuit = cirq.Circuit(cirq.H(q[2]), cirq.CNOT(q[0], q[2]))
    assert [type(g) for g in parse_circuit(circuit, qindex, sindex)] == [SingleGate, MultiGate]


@pytest.mark.parametrize(
    "make",
    [
        lambda a, b: cirq.rx(a - 2 * b),
        lambda a, b: cirq.ry(0.7 * a),
        lambda a, b: cirq.rz(b + 1.0),
        lambda a, b: cirq.XPowGate(exponent=a, global_shift=0.3),
        lambda a, b: cirq.YPowGate(exponent=0.5 * b - a),
        lambda a, b: cirq.ZPowGate(exponent=2 * a, global_shift=-0.1),
        lambda a, b: cirq.S,
    ],
)
def test_gate_matrix_is_cirqs_unitary(make):
    """gate_matrix of a parsed gate equals Cirq's unitary of the resolved gate, row by row."""
    q = cirq.LineQubit(0)
    a, b = sympy.symbols("a b")
    op = make(a, b).on(q)
    record = parse_operation(op, {q: 0}, {a: 0, b: 1})
    values = np.array([[0.3, -1.2], [2.0, 0.45], [-0.8, 3.0]], np.float32)
    got = gate_matrix(record, tf.constant(values)).numpy()
    for i, row in enumerate(values):
        resolved = cirq.resolve_parameters(op, {"a": float(row[0]), "b": float(row[1])})
        want = cirq.unitary(resolved)
        np.testing.assert_allclose(got if got.ndim == 2 else got[i], want, atol=1e-6)


def _apply_program(program, psi, n):
    """Runs monomial and dense steps on state vectors with NumPy / apply_dense_gate."""
    for kind, payload in program:
        if kind == "monomial":
            src, phase = payload
            psi = phase * psi[:, src]
        else:
            psi = apply_dense_gate(tf.constant(psi, tf.complex64), payload, n).numpy()
    return psi


def test_append_multi_gate_fuses_monomials_and_keeps_dense_gates():
    """CNOT, CZ, SWAP fuse into one monomial step; sqrt(iSWAP) is a dense step that ends the
    run; the program equals Cirq's unitary of the whole circuit on random states."""
    n = 3
    q = cirq.LineQubit.range(n)
    ops = [
        cirq.CNOT(q[0], q[2]),
        cirq.CZ(q[1], q[2]),
        cirq.SWAP(q[0], q[1]),
        cirq.ISWAP(q[2], q[0]) ** 0.5,
        cirq.CNOT(q[1], q[0]),
    ]
    qindex = {x: i for i, x in enumerate(q)}
    program: list = []
    for op in ops:
        append_multi_gate(program, parse_operation(op, qindex, {}), n)
    assert [kind for kind, _ in program] == ["monomial", "dense", "monomial"]
    rng = np.random.default_rng(5)
    psi = rng.normal(size=(2, 2**n)) + 1j * rng.normal(size=(2, 2**n))
    want = psi @ cirq.unitary(cirq.Circuit(ops)).T
    np.testing.assert_allclose(_apply_program(program, psi, n), want, atol=1e-5)


def test_apply_dense_gate_on_unordered_qubits_is_cirqs():
    """A dense two-qubit gate on qubits (2, 0) of three equals Cirq's unitary on the state."""
    q = cirq.LineQubit.range(3)
    op = cirq.FSimGate(0.3, 0.2).on(q[2], q[0])
    gate = parse_operation(op, {x: i for i, x in enumerate(q)}, {})
    rng = np.random.default_rng(6)
    psi = (rng.normal(size=(2, 8)) + 1j * rng.normal(size=(2, 8))).astype(np.complex64)
    got = apply_dense_gate(tf.constant(psi), gate, 3).numpy()
    want = psi @ cirq.unitary(cirq.Circuit(op, cirq.I.on_each(*q))).T
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_z_signs_are_the_diagonals_of_cirqs_z_products():
    """Column l of z_signs is the diagonal of the Z product on observable l's qubits."""
    q = cirq.LineQubit.range(3)
    observables = [[0], [1, 2], [0, 1, 2], []]
    got = z_signs(3, observables)
    for l, qs in enumerate(observables):
        product = cirq.Circuit([cirq.Z(q[k]) for k in qs], cirq.I.on_each(*q))
        np.testing.assert_array_equal(got[:, l], np.real(np.diag(cirq.unitary(product))))


# ------------------------------------------- every parametrised gate family, ExpectationProgram
A, B = FAMILY_SYMBOLS
FAMILY_VALUES = np.array([[0.37, -1.3], [2.1, 0.45]], np.float32)


def _resolve(circuit, names, row):
    return cirq.resolve_parameters(
        circuit, cirq.ParamResolver(dict(zip(map(str, names), np.asarray(row, np.float64))))
    )


def _records_unitary(records, row, n):
    """The unitary of gate records on n qubits: gate_matrix for single-qubit records,
    cirq.MatrixGate for multi-qubit ones, multiplied in time order (a NumPy reference)."""
    q = cirq.LineQubit.range(n)
    u = np.eye(2**n, dtype=np.complex128)
    for r in records:
        if isinstance(r, SingleGate):
            m = gate_matrix(r, tf.constant([row], tf.float32)).numpy()
            op = cirq.MatrixGate(m if m.ndim == 2 else m[0], unitary_check=False).on(q[r.qubit])
        else:
            op = cirq.MatrixGate(r.matrix).on(*[q[i] for i in r.qubits])
        u = cirq.unitary(cirq.Circuit(op, cirq.I.on_each(*q))) @ u
    return u


def test_the_families_cover_every_supported_gate():
    """FAMILIES holds an operation of every class in SUPPORTED_PARAMETRISED_GATES."""
    q = cirq.LineQubit.range(3)
    assert {type(f(q).gate) for f in FAMILIES.values()} == set(SUPPORTED_PARAMETRISED_GATES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_gate_family_records_are_cirqs_unitary(family):
    """parse_operations of each family multiplies out to cirq.unitary of the resolved gate,
    global phase included."""
    q = cirq.LineQubit.range(3)
    op = FAMILIES[family](q)
    records = parse_operations(op, {x: i for i, x in enumerate(q)}, {A: 0, B: 1})
    for row in FAMILY_VALUES:
        want = cirq.unitary(cirq.Circuit(_resolve(op, [A, B], row), cirq.I.on_each(*q)))
        np.testing.assert_allclose(_records_unitary(records, row, 3), want, atol=ATOL)


def _cirq_expectations(circuit, names, readouts, qubits, row):
    out = cirq.Simulator(dtype=np.complex128).simulate_expectation_values(
        _resolve(circuit, names, row), readouts, qubit_order=qubits
    )
    return np.real(np.asarray(out))


def _check_program(program, circuit, names, readouts, values, rng):
    """Asserts state, outputs and gradients of ``program`` equal cirq.Simulator (float64)
    and its central finite differences."""
    qubits = list(program.qubits)
    states = program.state(tf.constant(values)).numpy()
    v = tf.Variable(values)
    weights = rng.normal(size=(len(values), program.n_outputs)).astype(np.float32)
    with tf.GradientTape() as tape:
        f = program(v)
        target = tf.reduce_sum(f * weights)
    grad = tape.gradient(target, v).numpy()
    for b, row in enumerate(values.astype(np.float64)):
        want = cirq.final_state_vector(
            _resolve(circuit, names, row), qubit_order=qubits, dtype=np.complex128
        )
        np.testing.assert_allclose(states[b], want, atol=ATOL)
        expect = _cirq_expectations(circuit, names, readouts, qubits, row)
        np.testing.assert_allclose(f.numpy()[b], expect, atol=ATOL)
        fd = np.empty(len(names))
        for i in range(len(names)):
            e = np.eye(len(names))[i] * FD_STEP
            up = _cirq_expectations(circuit, names, readouts, qubits, row + e)
            down = _cirq_expectations(circuit, names, readouts, qubits, row - e)
            fd[i] = np.dot(weights[b], up - down) / (2 * FD_STEP)
        np.testing.assert_allclose(grad[b], fd, atol=1e-4)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_gate_family_expectations_and_gradients_match_cirq(family):
    """ExpectationProgram on each family (Pauli-sum readouts in X/Y/Z) equals cirq.Simulator
    on state, expectations and symbol gradients; an unused symbol gets gradient 0."""
    circuit, q, readouts = family_circuit(family)
    names = [A, B, sympy.Symbol("unused")]
    program = ExpectationProgram(circuit, names, readouts)
    assert program.symbols == ("a", "b", "unused") and program.n_outputs == 3
    assert program.qubits == tuple(q)
    values = np.concatenate([FAMILY_VALUES, [[0.5], [-2.0]]], axis=1).astype(np.float32)
    _check_program(program, circuit, names, readouts, values, np.random.default_rng(1))


def _mixed_circuit(n: int):
    """A hardware-efficient / FSim / iSWAP circuit on n qubits with identity-angle
    encodings, data re-uploading and multi-qubit Pauli-sum readouts."""
    q = cirq.LineQubit.range(n)
    xs = sympy.symbols(f"x0:{n}")
    ws = sympy.symbols(f"w0:{2 * n + 2}")
    circuit = cirq.Circuit(
        [cirq.rx(xs[i]).on(q[i]) for i in range(n)],
        [cirq.ry(ws[i]).on(q[i]) for i in range(n)],
        [cirq.CZ(q[i], q[i + 1]) for i in range(n - 1)],
        [cirq.rz(ws[n + i] + 0.5 * xs[i]).on(q[i]) for i in range(n)],
        cirq.FSimGate(theta=ws[2 * n], phi=0.3).on(q[0], q[n - 1]),
        cirq.ISwapPowGate(exponent=ws[2 * n + 1]).on(q[1], q[2]),
        cirq.CZPowGate(exponent=xs[0] - ws[0]).on(q[n - 1], q[1]),
        cirq.PhasedXPowGate(exponent=xs[1], phase_exponent=ws[1]).on(q[2]),
    )
    rng = np.random.default_rng(n)
    readouts = []
    for _ in range(3):
        total = cirq.PauliSum()
        for _ in range(3):
            support = rng.choice(n, size=int(rng.integers(1, 4)), replace=False)
            paulis = [(cirq.X, cirq.Y, cirq.Z)[int(rng.integers(3))] for _ in support]
            string = cirq.PauliString({q[int(k)]: p for k, p in zip(support, paulis)})
            total += float(rng.normal()) * string
        readouts.append(total + float(rng.normal()))
    return circuit, q, list(xs + ws), readouts


@pytest.mark.parametrize("n", [3, 5, 8])
def test_mixed_circuit_with_pauli_sums_matches_cirq(n):
    """A CZ-ladder / FSim / iSWAP / PhasedX circuit with random multi-qubit Pauli-sum
    readouts equals cirq.Simulator on state, expectations and every symbol gradient."""
    circuit, q, names, readouts = _mixed_circuit(n)
    program = ExpectationProgram(circuit, names, readouts)
    rng = np.random.default_rng(20 + n)
    values = rng.uniform(-np.pi, np.pi, size=(2, len(names))).astype(np.float32)
    _check_program(program, circuit, names, readouts, values, rng)


def test_expectation_program_in_xla_with_a_dynamic_batch():
    """Traced by tf.function(jit_compile=True) with an unknown batch, the program gives
    its eager outputs and gradients, and the graph holds no TFQ op."""
    circuit, q, names, readouts = _mixed_circuit(3)
    program = ExpectationProgram(circuit, names, readouts)
    spec = tf.TensorSpec([None, len(names)], tf.float32)

    @tf.function(input_signature=[spec], jit_compile=True)
    def run(values):
        with tf.GradientTape() as tape:
            tape.watch(values)
            f = program(values)
            total = tf.reduce_sum(f)
        return f, tape.gradient(total, values)

    values = tf.constant(
        np.random.default_rng(3).uniform(-2, 2, size=(3, len(names))).astype(np.float32)
    )
    f, g = run(values)
    with tf.GradientTape() as tape:
        tape.watch(values)
        f_eager = program(values)
        total = tf.reduce_sum(f_eager)
    g_eager = tape.gradient(total, values)
    np.testing.assert_allclose(f.numpy(), f_eager.numpy(), atol=1e-5)
    np.testing.assert_allclose(g.numpy(), g_eager.numpy(), atol=1e-5)
    graph = run.get_concrete_function().graph.as_graph_def()
    op_types = {node.op for node in graph.node}
    op_types |= {node.op for fn in graph.library.function for node in fn.node_def}
    assert not [t for t in op_types if t.lower().startswith("tfq")]


def test_global_phase_identity_and_subcircuits_give_cirqs_state():
    """A global phase gate, cirq.I on two qubits and a symbolic CircuitOperation compile
    to cirq's state (global phase included)."""
    q = cirq.LineQubit.range(2)
    sub = cirq.FrozenCircuit(cirq.rx(A).on(q[0]), cirq.ISwapPowGate(exponent=B).on(q[0], q[1]))
    circuit = cirq.Circuit(
        cirq.H(q[1]),
        cirq.global_phase_operation(np.exp(0.3j)),
        cirq.IdentityGate(2).on(*q),
        cirq.CircuitOperation(sub, use_repetition_ids=False),
    )
    program = ExpectationProgram(circuit, [A, B], [cirq.X(q[0]) * cirq.X(q[1])])
    row = np.array([0.4, -0.9], np.float32)
    got = program.state(tf.constant([row])).numpy()[0]
    want = cirq.final_state_vector(
        _resolve(circuit, [A, B], row), qubit_order=q, dtype=np.complex128
    )
    np.testing.assert_allclose(got, want, atol=ATOL)


def test_expectation_program_bad_input_raises():
    """Missing circuit symbols, repeated symbols, a wrong value width, a qubit outside
    qubits, a non-real coefficient and a bare PauliSum raise one clear error naming them."""
    q = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.rx(A).on(q[0]), cirq.CZPowGate(exponent=B).on(*q))
    z = [cirq.Z(q[0])]
    with pytest.raises(ValueError, match=r"symbols \['b'\] of the circuit are not in symbols"):
        ExpectationProgram(circuit, [A], z)
    with pytest.raises(ValueError, match="must not repeat a name"):
        ExpectationProgram(circuit, [A, B, "a"], z)
    with pytest.raises(ValueError, match=r"symbol_values must be \[batch, 2\].*shape \(1, 3\)"):
        ExpectationProgram(circuit, [A, B], z)(tf.zeros([1, 3]))
    with pytest.raises(ValueError, match=r"lack \[cirq.LineQubit\(1\)\]"):
        ExpectationProgram(circuit, [A, B], z, qubits=q[:1])
    with pytest.raises(ValueError, match=r"readouts\[0\].*coefficient 1j.* not real"):
        ExpectationProgram(circuit, [A, B], [1j * cirq.X(q[0])])
    with pytest.raises(TypeError, match="readouts must be a sequence of Pauli sums"):
        ExpectationProgram(circuit, [A, B], cirq.Z(q[0]) + cirq.X(q[1]))
    with pytest.raises(TypeError, match=r"readouts\[1\] must be a cirq.PauliSum"):
        ExpectationProgram(circuit, [A, B], [cirq.Z(q[0]), cirq.H(q[0])])
    with pytest.raises(TypeError, match="symbols must be sympy.Symbol or str, got 2"):
        ExpectationProgram(circuit, [A, 2], z)


def test_parse_operation_refuses_a_gate_of_several_records():
    """parse_operation (one record) refuses a decomposed family and points to
    parse_operations; the density executor's seam is unchanged for one-record gates."""
    q = cirq.LineQubit.range(2)
    op = cirq.CZPowGate(exponent=A).on(*q)
    with pytest.raises(UnsupportedGateError, match="5 gate records, not one"):
        parse_operation(op, {q[0]: 0, q[1]: 1}, {A: 0})


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
