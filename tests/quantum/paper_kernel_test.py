"""PaperKernel's own pieces: every chunking and layout, NaN isolation,
the layout chosen for XLA, dynamic batch.

Exactness against cirq and finite differences is in ``tf_executor_test.py`` (the ``tf``
layer runs this kernel); here it is compared with the generic CompiledCircuit, which shares
no code with it.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.quantum.circuits import VQCSpec, symbol_values
from qgcam_tf.quantum.executors import TFExecutor
from qgcam_tf.quantum.paper_kernel import PaperKernel, chunk_sizes
from qgcam_tf.testing.kernels import (
    check_any_batch_under_xla,
    generic_outputs_and_grads,
    outputs_and_grads,
)


def test_chunk_sizes_cover_the_qubits():
    for n in range(2, 25):
        for k in range(1, 7):
            sizes = chunk_sizes(n, k)
            assert sum(sizes) == n and max(sizes) <= k and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("layout", ["complex", "planes"])
@pytest.mark.parametrize("n,depth", [(5, 2), (7, 3), (8, 1)])
def test_every_chunking_equals_the_generic_executor(n, depth, layout):
    """Outputs and gradients for max_chunk 1..n and both layouts equal CompiledCircuit's
    (per-sample gates). Odd n gives unequal halves; depth 1 has no ring but the first."""
    spec = VQCSpec(n, depth, n)
    rng = np.random.default_rng(n)
    x = rng.normal(size=(4, n)).astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape).astype(np.float32)
    want = generic_outputs_and_grads(spec, x, theta)
    for k in range(1, n + 1):
        got = outputs_and_grads(
            PaperKernel(spec, max_chunk=k, layout=layout, method="state"), x, theta
        )
        for g, w, name in zip(got, want, ("outputs", "d/dx", "d/dtheta")):
            np.testing.assert_allclose(g, w, atol=2e-6, err_msg=f"max_chunk={k} {name}")


def _op_types(concrete) -> set[str]:
    return {op.type for op in concrete.graph.get_operations()}


def test_auto_layout_is_complex_in_graphs_and_planes_under_xla():
    """``auto`` views the state as complex (Bitcast ops) in a plain graph; XLA cannot bitcast
    complex numbers, so a jit-compiled trace takes the planes and still compiles. Outputs and
    d/dx equal the generic executor's either way."""
    spec = VQCSpec(6, 2, 4)  # the state-vector kernel for n = 6, depth 2 (prefer_bond)
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(5, 6)).astype(np.float32))
    theta = tf.constant(rng.uniform(0, 2 * np.pi, size=spec.theta_shape).astype(np.float32))

    def step_of(fn):
        def step(a):
            with tf.GradientTape() as tape:
                tape.watch(a)
                y = fn(a, theta)
                score = tf.reduce_sum(y[:, 1])
            return y, tape.gradient(score, a)

        return step

    kernel = PaperKernel(spec)
    graph_fn = tf.function(step_of(kernel))
    xla_fn = tf.function(step_of(kernel), jit_compile=True)
    assert "Bitcast" in _op_types(graph_fn.get_concrete_function(x))
    assert "Bitcast" not in _op_types(xla_fn.get_concrete_function(x))
    generic = TFExecutor(spec)
    want = step_of(lambda a, t: generic(symbol_values(a, t)))(x)
    for fn in (graph_fn, xla_fn):
        for got, w in zip(fn(x), want):
            np.testing.assert_allclose(got.numpy(), w.numpy(), atol=2e-6)


def test_unknown_layout_or_method_is_refused():
    with pytest.raises(ValueError, match="layout must be one of"):
        PaperKernel(VQCSpec(4, 1, 2), layout="dense")
    with pytest.raises(ValueError, match="method must be one of"):
        PaperKernel(VQCSpec(4, 1, 2), method="mps")
    with pytest.raises(ValueError, match="two arcs of >= 2 qubits, got 1 and 2"):
        PaperKernel(VQCSpec(3, 1, 2), method="bond")


@pytest.mark.parametrize("layout", ["complex", "planes"])
def test_a_nan_sample_stays_in_its_row(layout):
    """One NaN input makes its own outputs NaN and leaves the other samples exact."""
    spec = VQCSpec(6, 2, 6)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6)).astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape).astype(np.float32)
    kernel = PaperKernel(spec, layout=layout, method="state")
    clean = kernel(x, theta).numpy()
    x[1, 2] = np.nan
    dirty = kernel(x, theta).numpy()
    assert np.all(np.isnan(dirty[1]))
    np.testing.assert_array_equal(dirty[[0, 2]], clean[[0, 2]])


def test_unknown_batch_size_under_xla():
    """A signature with batch None (as the SavedModel's) keeps the output width static and
    serves any batch."""
    spec = VQCSpec(4, 2, 3)
    check_any_batch_under_xla(PaperKernel(spec), spec)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
