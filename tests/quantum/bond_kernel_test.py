"""BondKernel (two arcs of the ring joined by a bond index) against the generic executor.

Exactness against cirq in complex128 and float64 finite differences is also covered by
``tf_executor_test.py``, whose n = 8 and n = 12 cases take the bond through ``auto``.
The generic CompiledCircuit shares no code with this kernel.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.quantum.bond_kernel import BondKernel, prefer_bond
from qgcam_tf.quantum.circuits import VQCSpec
from qgcam_tf.quantum.paper_kernel import PaperKernel
from qgcam_tf.testing.kernels import (
    check_any_batch_under_xla,
    generic_outputs_and_grads,
    outputs_and_grads,
)


def _case(n, depth, n_out, seed=0):
    spec = VQCSpec(n, depth, n_out)
    rng = np.random.default_rng(seed + 10 * n + depth)
    x = rng.normal(scale=1.5, size=(4, n)).astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape).astype(np.float32)
    return spec, x, theta, generic_outputs_and_grads(spec, x, theta)


@pytest.mark.parametrize(
    "n,depth,n_out,cut",
    [
        (4, 1, 4, None),
        (5, 2, 5, None),
        (6, 3, 2, None),
        (7, 2, 7, None),
        (8, 2, 8, 3),
        (8, 1, 5, 5),
        (9, 1, 9, None),
    ],
)
def test_bond_equals_the_generic_executor(n, depth, n_out, cut):
    """Outputs and gradients equal CompiledCircuit's (per-sample gates) to 2e-6: odd n,
    uneven cuts, every readout on arc A (n_out <= cut) or on both arcs, depth 1-3."""
    spec, x, theta, want = _case(n, depth, n_out)
    got = outputs_and_grads(BondKernel(spec, cut=cut), x, theta)
    for g, w, name in zip(got, want, ("outputs", "d/dx", "d/dtheta")):
        np.testing.assert_allclose(g, w, atol=2e-6, err_msg=name)


def test_bond_compiles_with_xla_and_serves_any_batch():
    """Under jit_compile, batch None in the signature: the same numbers for batch 1 and 5."""
    spec = VQCSpec(8, 2, 6)
    check_any_batch_under_xla(BondKernel(spec), spec, seed=2)


def test_a_nan_sample_stays_in_its_row():
    """One NaN input makes its own outputs NaN and leaves the other samples exact."""
    spec = VQCSpec(8, 2, 8)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 8)).astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape).astype(np.float32)
    kernel = BondKernel(spec)
    clean = kernel(x, theta).numpy()
    x[1, 5] = np.nan
    dirty = kernel(x, theta).numpy()
    assert np.all(np.isnan(dirty[1]))
    np.testing.assert_array_equal(dirty[[0, 2]], clean[[0, 2]])


def test_prefer_bond_follows_the_measured_crossover():
    """XLA: the bond from 2 depth <= n//2 - 1; without XLA one qubit later; never below 6."""
    assert prefer_bond(VQCSpec(10, 2, 10), xla=True)
    assert not prefer_bond(VQCSpec(10, 2, 10), xla=False)
    assert prefer_bond(VQCSpec(12, 2, 10), xla=False)
    assert not prefer_bond(VQCSpec(12, 3, 10), xla=True)
    assert prefer_bond(VQCSpec(14, 3, 10), xla=True)
    assert not prefer_bond(VQCSpec(5, 1, 5), xla=True)


def test_auto_takes_the_bond_where_preferred():
    """PaperKernel(method="auto") at n = 10, depth 2 runs the bond under XLA only; both
    traces give the generic executor's numbers."""
    spec, x, theta, want = _case(10, 2, 10)
    kernel = PaperKernel(spec)
    graph = tf.function(lambda a: kernel(a, theta))
    xla = tf.function(lambda a: kernel(a, theta), jit_compile=True)

    def ran_bond(fn) -> bool:  # the bond kernel names its ops bond_kernel/...
        ops = fn.get_concrete_function(tf.constant(x)).graph.get_operations()
        return any(op.name.startswith("bond_kernel/") for op in ops)

    np.testing.assert_allclose(graph(x).numpy(), want[0], atol=2e-6)
    assert not ran_bond(graph)
    np.testing.assert_allclose(xla(x).numpy(), want[0], atol=2e-6)
    assert ran_bond(xla)


def test_one_kernel_serves_several_graphs():
    """The bond's constants belong to no graph: one PaperKernel traced into two functions
    (as Keras traces a layer for fit, predict and a SavedModel) gives the same numbers."""
    spec, x, theta, want = _case(12, 1, 4)
    kernel = PaperKernel(spec)
    first = tf.function(lambda a: kernel(a, theta))
    second = tf.function(lambda a: kernel(a, theta) * 1.0, jit_compile=True)
    for fn in (first, second, first):
        np.testing.assert_allclose(fn(x).numpy(), want[0], atol=2e-6)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
