"""PaperKernel's own pieces: the ring permutation, every chunking, NaN isolation, dynamic batch.

Exactness against cirq and finite differences is in ``tf_executor_test.py`` (the ``tf``
layer runs this kernel); here it is compared with the generic CompiledCircuit, which shares
no code with it.
"""

from __future__ import annotations

import cirq
import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.circuits import VQCSpec
from qgcam_tf.layers import _TFExecutor, symbol_values
from qgcam_tf.paper_kernel import PaperKernel, chunk_sizes, ring_source


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_ring_source_is_cirqs_cnot_ring(n):
    """``(P psi)[i] = psi[src[i]]`` is the unitary of CNOT(q_i, q_(i+1) mod n), i = 0..n-1."""
    q = cirq.LineQubit.range(n)
    ring = cirq.Circuit(cirq.CNOT(q[i], q[(i + 1) % n]) for i in range(n))
    unitary = cirq.unitary(ring)
    src = ring_source(n)
    expected = np.zeros((2**n, 2**n))
    expected[np.arange(2**n), src] = 1.0
    np.testing.assert_array_equal(np.real(unitary), expected)


def test_chunk_sizes_cover_the_qubits():
    for n in range(2, 25):
        for k in range(1, 7):
            sizes = chunk_sizes(n, k)
            assert sum(sizes) == n and max(sizes) <= k and max(sizes) - min(sizes) <= 1


def _grads(fn, x, theta):
    xv, tv = tf.Variable(x), tf.Variable(theta)
    with tf.GradientTape() as tape:
        y = fn(xv, tv)
        loss = tf.reduce_sum(y * tf.constant(np.linspace(-1, 1, y.shape[1], dtype=np.float32)))
    gx, gt = tape.gradient(loss, [xv, tv])
    return y.numpy(), gx.numpy(), gt.numpy()


@pytest.mark.parametrize("n,depth", [(5, 2), (7, 3)])
def test_every_chunking_equals_the_generic_executor(n, depth):
    """Outputs and gradients for max_chunk 1..n equal CompiledCircuit's (per-sample gates)."""
    spec = VQCSpec(n, depth, n)
    rng = np.random.default_rng(n)
    x = rng.normal(size=(4, n)).astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape).astype(np.float32)
    generic = _TFExecutor(spec)
    want = _grads(lambda a, t: generic(symbol_values(a, t)), x, theta)
    for k in range(1, n + 1):
        got = _grads(PaperKernel(spec, max_chunk=k), x, theta)
        for g, w, name in zip(got, want, ("outputs", "d/dx", "d/dtheta")):
            np.testing.assert_allclose(g, w, atol=2e-6, err_msg=f"max_chunk={k} {name}")


def test_a_nan_sample_stays_in_its_row():
    """One NaN input makes its own outputs NaN and leaves the other samples exact."""
    spec = VQCSpec(6, 2, 6)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6)).astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi, size=spec.theta_shape).astype(np.float32)
    kernel = PaperKernel(spec)
    clean = kernel(x, theta).numpy()
    x[1, 2] = np.nan
    dirty = kernel(x, theta).numpy()
    assert np.all(np.isnan(dirty[1]))
    np.testing.assert_array_equal(dirty[[0, 2]], clean[[0, 2]])


def test_unknown_batch_size_under_xla():
    """A signature with batch None (as the SavedModel's) keeps the output width static and
    serves any batch."""
    spec = VQCSpec(4, 2, 3)
    theta = tf.constant(np.random.default_rng(1).uniform(0, 6, spec.theta_shape), tf.float32)
    kernel = PaperKernel(spec)
    fn = tf.function(lambda a: kernel(a, theta), input_signature=[tf.TensorSpec([None, 4])],
                     jit_compile=True)
    assert fn.get_concrete_function().structured_outputs.shape.as_list() == [None, 3]
    generic = _TFExecutor(spec)
    for b in (1, 5):
        x = np.random.default_rng(b).normal(size=(b, 4)).astype(np.float32)
        np.testing.assert_allclose(fn(x).numpy(), generic(symbol_values(x, theta)).numpy(), atol=2e-6)
