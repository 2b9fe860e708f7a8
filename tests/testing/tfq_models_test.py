"""qgcam_tf.testing.tfq_models: each TFQ hybrid's quantum layer outputs what simulate()
says (cirq.Simulator), for every circuit case and every way of wiring it."""

from __future__ import annotations

import sys

import cirq
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.testing.tfq_models import KINDS, circuit_cases, simulate, tfq_hybrid


@pytest.mark.parametrize("case", circuit_cases(), ids=lambda c: c.name)
def test_tfq_layers_compute_the_simulated_expectations(case):
    """For each kind, the layer "q" equals cirq.Simulator on the circuit TFQ runs (the input
    circuit first, then the layer's), with the symbols bound in the documented column
    order; SampledExpectation within its shot noise (2000 shots, 5 sigma)."""
    import tensorflow_quantum as tfq

    images = np.random.default_rng(3).uniform(size=(3, 8, 8, 1)).astype(np.float32)
    assert 3 <= len(case.circuit.all_qubits()) <= 8 and cirq.is_parameterized(case.circuit)
    for kind in KINDS:
        model = tfq_hybrid(case, kind)
        feed, circuit = images, case.circuit
        if isinstance(model.input, list):
            given = case.circuit if kind == "ExpectationOnInput" else case.prefix
            feed = [tfq.convert_to_tensor([given] * len(images)), images]
            circuit = case.circuit if kind == "ExpectationOnInput" else case.prefix + case.circuit
        probe = keras.Model(model.inputs, [model.get_layer(n).output for n in ("angles", "q")])
        values, q = (t.numpy() for t in probe(feed))
        controlled = "Controlled" in kind
        symbols = sorted(case.symbols, key=str) if controlled else case.symbols
        ref = simulate(circuit, symbols, values, case.readouts)
        scale = sum(abs(t.coefficient) for r in case.readouts for t in r) + 1
        atol = 5 * scale / np.sqrt(2000) if kind == "SampledExpectation" else 1e-5
        np.testing.assert_allclose(q, ref, atol=atol, err_msg=kind)
        if kind != "SampledExpectation":  # (a second call draws other shots)
            probs = model(feed).numpy()
            np.testing.assert_allclose(probs, tf.nn.softmax(q).numpy(), atol=1e-6)


def test_cases_differ_from_the_paper_circuit_and_each_other():
    """Three cases: CZ, iSWAP and FSim entanglers, multi-qubit readouts with coefficients,
    symbol names whose string order is not their column order in two of them."""
    cases = circuit_cases()
    gates = [{type(op.gate).__name__ for op in c.circuit.all_operations()} for c in cases]
    assert "CZPowGate" in gates[0] and "ISwapPowGate" in gates[1] and "FSimGate" in gates[2]
    for case in cases:
        assert any(len(t.qubits) > 1 and t.coefficient != 1 for r in case.readouts for t in r)
    assert [str(s) for s in cases[2].symbols] == ["c0", "c2", "c10"]
    assert sorted(map(str, cases[0].symbols)) != [str(s) for s in cases[0].symbols]
    assert not cirq.is_parameterized(cases[1].prefix)


def test_unknown_kind_is_refused():
    """A kind outside KINDS is a ValueError naming it."""
    with pytest.raises(ValueError, match="kind must be one of .* got 'PQC'"):
        tfq_hybrid(circuit_cases()[0], "PQC")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
