"""Shared checks of the ``tf`` executor's kernels (``paper_kernel_test``, ``bond_kernel_test``).

The reference is always the generic CompiledCircuit, which shares no code with the kernels.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from qgcam_tf.quantum.circuits import symbol_values
from qgcam_tf.quantum.executors import TFExecutor

__all__ = ["check_any_batch_under_xla", "generic_outputs_and_grads", "outputs_and_grads"]


def outputs_and_grads(fn, x, theta):
    """``fn(x, theta)`` and the gradients of a fixed weighted sum of its outputs."""
    xv, tv = tf.Variable(x), tf.Variable(theta)
    with tf.GradientTape() as tape:
        y = fn(xv, tv)
        loss = tf.reduce_sum(y * tf.constant(np.linspace(-1, 1, y.shape[1], dtype=np.float32)))
    gx, gt = tape.gradient(loss, [xv, tv])
    return y.numpy(), gx.numpy(), gt.numpy()


def generic_outputs_and_grads(spec, x, theta):
    """:func:`outputs_and_grads` of the generic executor (per-sample gates)."""
    generic = TFExecutor(spec)
    return outputs_and_grads(lambda a, t: generic(symbol_values(a, t)), x, theta)


def check_any_batch_under_xla(kernel, spec, seed: int = 1):
    """Under jit_compile with batch None in the signature (as in the SavedModel), the
    output width stays static and batches 1 and 5 give the generic executor's numbers."""
    n = spec.n_qubits
    theta = tf.constant(np.random.default_rng(seed).uniform(0, 6, spec.theta_shape), tf.float32)
    fn = tf.function(
        lambda a: kernel(a, theta), input_signature=[tf.TensorSpec([None, n])], jit_compile=True
    )
    shape = fn.get_concrete_function().structured_outputs.shape.as_list()
    assert shape == [None, spec.n_outputs], f"output shape {shape}, not [None, {spec.n_outputs}]"
    generic = TFExecutor(spec)
    for b in (1, 5):
        x = np.random.default_rng(b).normal(size=(b, n)).astype(np.float32)
        np.testing.assert_allclose(
            fn(x).numpy(), generic(symbol_values(x, theta)).numpy(), atol=2e-6
        )
