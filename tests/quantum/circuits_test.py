"""Tests for qgcam_tf.quantum.circuits: the paper's circuit, pinned against hand-built
references."""

import sys

import cirq
import numpy as np
import pytest

from qgcam_tf.quantum.ansatz import encode, hardware_efficient_circuit, reuploading_circuit
from qgcam_tf.quantum.circuits import (
    ANSATZE,
    ENCODINGS,
    VQCSpec,
    build_vqc,
    compact_vqc,
    encoding_angles,
    readout_operators,
    symbol_values,
    variational_circuit,
    vqc_qubits,
)


def _reference_unitary_state(n, depth, x, theta):
    """The paper's circuit written out with explicit matrices, independent of build_vqc."""

    def ry(a):
        c, s = np.cos(a / 2), np.sin(a / 2)
        return np.array([[c, -s], [s, c]], complex)

    def rz(a):
        return np.diag([np.exp(-0.5j * a), np.exp(0.5j * a)])

    h = np.array([[1, 1], [1, -1]], complex) / np.sqrt(2)

    def on(q, m):
        ops = [np.eye(2)] * n
        ops[q] = m
        out = ops[0]
        for o in ops[1:]:
            out = np.kron(out, o)
        return out

    def cnot(c, t):
        dim = 2**n
        u = np.zeros((dim, dim))
        for i in range(dim):
            j = i ^ (1 << (n - 1 - t)) if (i >> (n - 1 - c)) & 1 else i
            u[j, i] = 1
        return u

    psi = np.zeros(2**n, complex)
    psi[0] = 1
    for k in range(n):
        psi = on(k, rz(np.arctan(x[k] ** 2)) @ ry(np.arctan(x[k])) @ h) @ psi
    for d in range(depth):
        for i in range(n):
            psi = cnot(i, (i + 1) % n) @ psi
        for k in range(n):
            phi, th, om = theta[d, k]
            psi = on(k, rz(om) @ ry(th) @ rz(phi)) @ psi
    return psi


@pytest.mark.parametrize("n,depth", [(2, 1), (3, 2), (4, 3)])
def test_circuit_matches_hand_built_matrices(n, depth, rng):
    """build_vqc resolved with atan angles equals the paper's gates multiplied by hand."""
    spec = VQCSpec(n_qubits=n, depth=depth, n_outputs=n)
    circuit, inputs, weights = build_vqc(spec)
    x = rng.normal(size=n)
    theta = rng.uniform(-np.pi, np.pi, size=spec.theta_shape)
    angles = np.concatenate([np.arctan(x), np.arctan(x**2)])  # float64 for the reference
    resolver = dict(zip(map(str, inputs), angles)) | dict(zip(map(str, weights), theta.ravel()))
    state = cirq.final_state_vector(
        circuit, param_resolver=resolver, qubit_order=vqc_qubits(spec), dtype=np.complex128
    )
    ref = _reference_unitary_state(n, depth, x, theta)
    np.testing.assert_allclose(state, ref, atol=1e-10)


def test_symbols_and_gate_counts():
    """The circuit has 2n input symbols, 3*depth*n weight symbols and n*depth CNOTs."""
    spec = VQCSpec(n_qubits=5, depth=3, n_outputs=2)
    circuit, inputs, weights = build_vqc(spec)
    assert [str(s) for s in inputs[:2]] == ["enc_ry_0", "enc_ry_1"]
    assert len(inputs) == 10 and len(weights) == 45
    assert str(weights[1 * 5 * 3]) == "theta_1_0_0"  # row-major [depth, n, 3]
    cnots = [op for op in circuit.all_operations() if op.gate == cirq.CNOT]
    assert len(cnots) == 15
    assert cirq.parameter_names(circuit) == {str(s) for s in inputs + weights}
    assert [str(o) for o in readout_operators(spec)] == ["Z(q(0))", "Z(q(1))"]


@pytest.mark.parametrize("n,depth", [(2, 1), (3, 2), (4, 3), (5, 2)])
def test_compact_circuit_gives_the_same_expectations(n, depth, rng):
    """compact_vqc at values @ matrix + offset: every <Z_l> of the hand-built reference.

    The compact form ends in R_Z(omega + phi) on every qubit, which it drops; so the states
    differ by that diagonal phase. Probabilities (hence every <Z_l>) agree to 1e-10, and
    the states up to one global phase once the diagonal is undone.
    """
    spec = VQCSpec(n_qubits=n, depth=depth, n_outputs=n)
    compact = compact_vqc(spec)
    x = rng.normal(scale=1.5, size=n)
    theta = rng.uniform(-np.pi, np.pi, size=spec.theta_shape)
    values = np.concatenate([np.arctan(x), np.arctan(x**2), theta.ravel()])
    resolved = values @ compact.matrix + compact.offset
    state = cirq.final_state_vector(
        compact.circuit,
        param_resolver=dict(zip(map(str, compact.symbols), resolved)),
        qubit_order=vqc_qubits(spec),
        dtype=np.complex128,
    )
    ref = _reference_unitary_state(n, depth, x, theta)
    np.testing.assert_allclose(np.abs(state) ** 2, np.abs(ref) ** 2, atol=1e-10)
    # without the dropped phases the states agree up to one global phase
    unphased = ref * np.conj(_last_rz_phases(n, theta[-1, :, 2] + theta[-1, :, 0]))
    overlap = np.vdot(state, unphased)
    np.testing.assert_allclose(abs(overlap), 1.0, atol=1e-10)


def _last_rz_phases(n, omegas):
    """Diagonal of R_Z(omegas[k]) on every qubit k (big-endian)."""
    diag = np.ones(1, complex)
    for om in omegas:
        diag = np.kron(diag, [np.exp(-0.5j * om), np.exp(0.5j * om)])
    return diag


def test_compact_circuit_gate_count():
    """n = 10, depth 2: 60 gates instead of 110, and one symbol column per gate angle."""
    spec = VQCSpec(n_qubits=10, depth=2, n_outputs=10)
    circuit, inputs, weights = build_vqc(spec)
    compact = compact_vqc(spec)
    assert len(list(circuit.all_operations())) == 110
    assert len(list(compact.circuit.all_operations())) == 60
    assert compact.matrix.shape == (len(inputs) + len(weights), len(compact.symbols))
    assert cirq.parameter_names(compact.circuit) == {str(s) for s in compact.symbols}


def test_encoding_angles_values():
    """encoding_angles returns atan(x) then atan(x^2)."""
    x = np.array([[0.5, -2.0]], np.float32)
    got = encoding_angles(x).numpy()
    np.testing.assert_allclose(
        got, [[np.arctan(0.5), np.arctan(-2.0), np.arctan(0.25), np.arctan(4.0)]], rtol=1e-6
    )


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(n_qubits=1), ValueError, "n_qubits"),
        (dict(depth=0), ValueError, "depth"),
        (dict(n_qubits=4, n_outputs=5), ValueError, "n_outputs"),
        (dict(n_qubits=4.0), TypeError, "n_qubits must be an int"),
        (dict(ansatz="hea"), ValueError, "ansatz"),
        (dict(ansatz=None), ValueError, "VQCSpec.ansatz must be one of .*got None"),
        (dict(ansatz="reuploading", encoding="cos"), ValueError, "VQCSpec.encoding must be one"),
        (dict(encoding="identity"), ValueError, "must be 'paper' for the 'paper' ansatz"),
    ],
)
def test_spec_validation(kwargs, error, match):
    """Bad VQCSpec values raise with the argument named."""
    with pytest.raises(error, match=match):
        VQCSpec(**kwargs)


def test_build_vqc_rejects_non_spec():
    """build_vqc names the wrong type it was given."""
    with pytest.raises(TypeError, match="VQCSpec"):
        build_vqc({"n_qubits": 2})


def test_spec_round_trip():
    """VQCSpec survives to_dict/from_dict."""
    spec = VQCSpec(6, 2, 3)
    assert VQCSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("ansatz", ANSATZE[1:])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_family_spec_round_trip_and_theta_shape(ansatz, encoding):
    """Every family and encoding survives to_dict/from_dict; its theta is [depth, n, 2]."""
    spec = VQCSpec(4, 3, 2, ansatz=ansatz, encoding=encoding)
    assert VQCSpec.from_dict(spec.to_dict()) == spec
    assert spec.theta_shape == (3, 4, 2)


def test_paper_dicts_are_unchanged_and_old_dicts_load():
    """A paper spec's dict has the four keys it always had; dicts without ansatz or encoding
    are the paper's; an unknown key or a non-dict is named."""
    assert VQCSpec(4, 1, 3).to_dict() == {
        "n_qubits": 4,
        "depth": 1,
        "n_outputs": 3,
        "ansatz": "paper",
    }
    assert VQCSpec.from_dict({"n_qubits": 4, "depth": 1, "n_outputs": 3}) == VQCSpec(4, 1, 3)
    he = VQCSpec(4, 1, 3, ansatz="hardware_efficient")
    assert he.to_dict() == {
        "n_qubits": 4,
        "depth": 1,
        "n_outputs": 3,
        "ansatz": "hardware_efficient",
    }
    assert VQCSpec.from_dict(he.to_dict()).encoding == "paper"
    with pytest.raises(ValueError, match=r"unknown keys \['qubits'\]"):
        VQCSpec.from_dict({"qubits": 4})
    with pytest.raises(TypeError, match="VQCSpec config must be a dict, got 4"):
        VQCSpec.from_dict(4)


@pytest.mark.parametrize(
    "ansatz,builder",
    [("hardware_efficient", hardware_efficient_circuit), ("reuploading", reuploading_circuit)],
)
def test_build_vqc_builds_each_family_and_variational_circuit_describes_it(ansatz, builder, rng):
    """build_vqc(spec) is the family's builder; variational_circuit adds <Z_l> readouts,
    the encoding and theta_shape, and its symbol values are symbol_values(x, theta, encoding)."""
    spec = VQCSpec(3, 2, 2, ansatz=ansatz, encoding="atan")
    assert build_vqc(spec) == builder(3, 2, "atan")
    vc = variational_circuit(spec)
    assert (vc.circuit, vc.input_symbols + vc.weight_symbols) == (
        build_vqc(spec)[0],
        build_vqc(spec)[1] + build_vqc(spec)[2],
    )
    assert list(vc.readouts) == [cirq.PauliSum.wrap(z) for z in readout_operators(spec)]
    assert (vc.encoding, vc.theta_shape, vc.n_inputs) == ("atan", (2, 3, 2), 3)
    x = rng.normal(size=(2, 3)).astype(np.float32)
    theta = rng.uniform(size=spec.theta_shape).astype(np.float32)
    np.testing.assert_array_equal(
        vc.symbol_values(x, theta).numpy(), symbol_values(x, theta, "atan").numpy()
    )
    np.testing.assert_allclose(symbol_values(x, theta, "atan").numpy()[:, :3], encode(x, "atan"))


def test_compact_vqc_refuses_other_families():
    """compact_vqc is the paper's circuit only, and says so."""
    with pytest.raises(ValueError, match="only the 'paper' ansatz, got 'reuploading'"):
        compact_vqc(VQCSpec(3, 1, 2, ansatz="reuploading"))


def test_symbol_values_layout(rng):
    """symbol_values puts atan(x), atan(x^2), then theta row-major, per sample."""
    theta = rng.uniform(size=(2, 3, 3)).astype(np.float32)
    x = rng.normal(size=(2, 3)).astype(np.float32)
    v = symbol_values(x, theta).numpy()
    np.testing.assert_allclose(v[:, :3], np.arctan(x), rtol=1e-6)
    np.testing.assert_allclose(v[:, 3:6], np.arctan(x**2), rtol=1e-6)
    np.testing.assert_allclose(v[1, 6:], theta.ravel())


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
