"""Tests for qgcam_tf.quantum.ansatz: encodings, the hardware-efficient and re-uploading
families pinned against circuits written out in NumPy matrices, and VariationalCircuit's
checks."""

import sys

import cirq
import numpy as np
import pytest
import sympy

from qgcam_tf.quantum import ANSATZE, ENCODINGS
from qgcam_tf.quantum.ansatz import (
    ENCODING_GATES,
    VariationalCircuit,
    encode,
    encoding_symbols,
    encoding_width,
    hardware_efficient_circuit,
    reuploading_circuit,
)
from qgcam_tf.quantum.compiler import UnsupportedGateError


def _ry(a):
    c, s = np.cos(a / 2), np.sin(a / 2)
    return np.array([[c, -s], [s, c]], complex)


def _rz(a):
    return np.diag([np.exp(-0.5j * a), np.exp(0.5j * a)])


def _on(n, q, m):
    ops = [np.eye(2)] * n
    ops[q] = m
    out = ops[0]
    for o in ops[1:]:
        out = np.kron(out, o)
    return out


def _cz(n, a, b):
    idx = np.arange(2**n)
    bits = ((idx >> (n - 1 - a)) & 1) & ((idx >> (n - 1 - b)) & 1)
    return np.diag(1.0 - 2.0 * bits)


def _np_angles(x, encoding):
    """The encoding angles in NumPy float64: per gate of the encoding, one angle per input."""
    return {
        "paper": [np.arctan(x), np.arctan(x**2)],
        "identity": [x],
        "atan": [np.arctan(x)],
    }[encoding]


def _reference_state(family, n, depth, x, theta, encoding):
    """The family written out with explicit matrices (independent of the builders)."""
    angles = _np_angles(np.asarray(x, float), encoding)
    gates = {"paper": (_ry, _rz), "identity": (_ry,), "atan": (_ry,)}[encoding]

    def encoding_layer(psi):
        for k in range(n):
            for gate, block in zip(gates, angles):
                psi = _on(n, k, gate(block[k])) @ psi
        return psi

    def block(psi, d):
        for i in range(n - 1):
            psi = _cz(n, i, i + 1) @ psi
        for k in range(n):
            psi = _on(n, k, _ry(theta[d, k, 1]) @ _rz(theta[d, k, 0])) @ psi
        return psi

    psi = np.zeros(2**n, complex)
    psi[0] = 1
    if family == "hardware_efficient":
        psi = encoding_layer(psi)
    for d in range(depth):
        if family == "reuploading":
            psi = encoding_layer(psi)
        psi = block(psi, d)
    return psi


BUILDERS = {"hardware_efficient": hardware_efficient_circuit, "reuploading": reuploading_circuit}


@pytest.mark.parametrize("family", sorted(BUILDERS))
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("n,depth", [(2, 1), (3, 2), (4, 2)])
def test_family_matches_hand_built_matrices(family, encoding, n, depth, rng):
    """cirq.Simulator on the resolved family circuit equals the NumPy-matrix circuit (1e-10,
    up to a global phase)."""
    circuit, inputs, weights = BUILDERS[family](n, depth, encoding)
    x = rng.normal(scale=1.5, size=n)
    theta = rng.uniform(0, 2 * np.pi, size=(depth, n, 2))
    values = np.concatenate(_np_angles(x, encoding))
    resolver = dict(zip(map(str, inputs), values)) | dict(zip(map(str, weights), theta.ravel()))
    got = (
        cirq.Simulator(dtype=np.complex128)
        .simulate(circuit, resolver, qubit_order=cirq.LineQubit.range(n))
        .final_state_vector
    )
    want = _reference_state(family, n, depth, x, theta, encoding)
    overlap = np.vdot(want, got)
    assert abs(abs(overlap) - 1) < 1e-10
    np.testing.assert_allclose(got, want * overlap, atol=1e-10)


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_family_symbols_and_gate_counts(family):
    """Input symbols follow encode's columns, weights theta's row-major order; the
    re-uploading circuit uses each input symbol depth times, the other once."""
    n, depth = 3, 2
    circuit, inputs, weights = BUILDERS[family](n, depth, "paper")
    assert [str(s) for s in inputs] == [f"enc_{g}_{k}" for g in ("ry", "rz") for k in range(n)]
    assert [str(s) for s in weights] == [
        f"theta_{d}_{k}_{j}" for d in range(depth) for k in range(n) for j in range(2)
    ]
    uses = depth if family == "reuploading" else 1
    ops = list(circuit.all_operations())
    for s in inputs:
        assert sum(s in cirq.parameter_symbols(op) for op in ops) == uses
    n_cz = sum(isinstance(op.gate, cirq.CZPowGate) for op in ops)
    assert n_cz == depth * (n - 1)


def test_encode_values_widths_and_symbols():
    """encode gives concat(atan x, atan x^2), x, atan x; widths 2, 1, 1; symbols per gate."""
    x = np.array([[0.5, -2.0]], np.float32)
    np.testing.assert_allclose(
        encode(x, "paper").numpy(),
        [[np.arctan(0.5), np.arctan(-2.0), np.arctan(0.25), np.arctan(4.0)]],
        rtol=1e-6,
    )
    np.testing.assert_allclose(encode(x, "identity").numpy(), x)
    np.testing.assert_allclose(encode(x, "atan").numpy(), np.arctan(x), rtol=1e-6)
    assert [encoding_width(e) for e in ENCODINGS] == [len(ENCODING_GATES[e]) for e in ENCODINGS]
    assert [encoding_width(e) for e in ("paper", "identity", "atan")] == [2, 1, 1]
    assert [str(s) for s in encoding_symbols(2, "atan")] == ["enc_ry_0", "enc_ry_1"]
    assert set(ANSATZE) == {"paper", "hardware_efficient", "reuploading"}


@pytest.mark.parametrize("call", [lambda: encode([[1.0]], "cos"), lambda: encoding_width("x2")])
def test_unknown_encoding_is_named(call):
    """An unknown encoding is one ValueError naming the choices and the value."""
    with pytest.raises(ValueError, match="encoding must be one of .*got '"):
        call()


def _two_qubit():
    q = cirq.LineQubit.range(2)
    a, b, w = sympy.symbols("a b w")
    circuit = cirq.Circuit(cirq.ry(a)(q[0]), cirq.ry(b)(q[1]), cirq.CZ(*q), cirq.rx(w)(q[0]))
    return q, circuit, (a, b), (w,)


def test_variational_circuit_normalises_and_lays_out_symbol_values(rng):
    """Names become symbols, readouts Pauli sums; symbol_values = encode(x) then theta."""
    q, circuit, inputs, weights = _two_qubit()
    vc = VariationalCircuit(circuit, ["a", "b"], ["w"], [cirq.Z(q[0])], "atan")
    assert vc.input_symbols == inputs and vc.weight_symbols == weights
    assert vc.readouts == (cirq.PauliSum.wrap(cirq.Z(q[0])),)
    assert (vc.n_inputs, vc.n_outputs, vc.theta_shape, vc.qubits) == (2, 1, (1,), tuple(q))
    x = rng.normal(size=(3, 2)).astype(np.float32)
    values = vc.symbol_values(x, np.array([0.25], np.float32)).numpy()
    np.testing.assert_allclose(values[:, :2], np.arctan(x), rtol=1e-6)
    np.testing.assert_allclose(values[:, 2], 0.25)


@pytest.mark.parametrize(
    "change,error,match",
    [
        (dict(input_symbols=["a"]), ValueError, r"symbols \['b'\] of the circuit"),
        (dict(weight_symbols=["w", "a"]), ValueError, r"must not repeat a symbol, got \['a'\]"),
        (
            dict(encoding="paper", input_symbols=["a", "b", "c"]),
            ValueError,
            "non-empty multiple of 2, got 3",
        ),
        (dict(input_symbols=[]), ValueError, "non-empty multiple of 1, got 0"),
        (dict(encoding="sin"), ValueError, "encoding must be one of"),
        (dict(readouts=[cirq.Z(cirq.LineQubit(5))]), ValueError, r"qubits \[cirq.LineQubit\(5\)\]"),
        (dict(readouts=[]), ValueError, "at least one Pauli sum"),
        (dict(readouts=cirq.Z(cirq.LineQubit(0))), TypeError, "readouts must be a sequence"),
        (dict(readouts=["Z0"]), TypeError, r"readouts\[0\] must be a cirq.PauliSum"),
        (dict(theta_shape=(2,)), ValueError, "theta_shape must be ints whose product is"),
        (dict(input_symbols="ab"), TypeError, "input_symbols must be a sequence"),
        (dict(circuit="not a circuit"), TypeError, "circuit must be a cirq.Circuit"),
    ],
)
def test_variational_circuit_rejects_bad_input(change, error, match):
    """Each bad field is one clear error naming it and the value."""
    q, circuit, _, _ = _two_qubit()
    fields = dict(
        circuit=circuit,
        input_symbols=["a", "b"],
        weight_symbols=["w"],
        readouts=[cirq.Z(q[0])],
        encoding="identity",
    )
    with pytest.raises(error, match=match):
        VariationalCircuit(**(fields | change))


def test_variational_circuit_refuses_a_gate_the_tf_executor_cannot_compile():
    """A symbolic CCZ power is refused up front, naming the moment and the gate."""
    q = cirq.LineQubit.range(3)
    a, w = sympy.symbols("a w")
    circuit = cirq.Circuit(cirq.ry(a)(q[0]), (cirq.CCZ**w)(*q))
    with pytest.raises(UnsupportedGateError, match="moment 1: unsupported parametrised gate"):
        VariationalCircuit(circuit, [a], [w], [cirq.Z(q[0])])


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
