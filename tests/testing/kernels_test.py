"""qgcam_tf.testing.kernels: the helpers compute what they claim (closed forms, cirq and
finite differences in float64), and the checks built on them fail for a wrong kernel."""

from __future__ import annotations

import sys

import cirq
import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.quantum.circuits import VQCSpec, build_vqc, readout_operators, vqc_qubits
from qgcam_tf.quantum.paper_kernel import PaperKernel
from qgcam_tf.testing.kernels import (
    check_any_batch_under_xla,
    generic_outputs_and_grads,
    outputs_and_grads,
)

SPEC = VQCSpec(3, 1, 2)


def _inputs(seed: int = 0, batch: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, SPEC.n_qubits)).astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi, size=SPEC.theta_shape).astype(np.float32)
    return x, theta


def _cirq_outputs(x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``<Z_l>`` [B, n_outputs] of build_vqc's circuit from cirq.Simulator in complex128,
    with the encoding angles atan(x), atan(x^2) computed here in float64."""
    circuit, inputs, weights = build_vqc(SPEC)
    names = [str(s) for s in inputs + weights]
    qubits = vqc_qubits(SPEC)
    sim = cirq.Simulator(dtype=np.complex128)
    rows = []
    for xb in np.asarray(x, np.float64):
        values = np.concatenate([np.arctan(xb), np.arctan(xb**2), np.ravel(theta)])
        resolver = dict(zip(names, map(float, values)))
        rows.append(
            sim.simulate_expectation_values(
                circuit, readout_operators(SPEC), resolver, qubit_order=qubits
            )
        )
    return np.real(np.array(rows))


def _weighted_sum(y: np.ndarray) -> float:
    """The loss outputs_and_grads differentiates: outputs weighted by linspace(-1, 1)."""
    return float(np.sum(y * np.linspace(-1, 1, y.shape[1])))


def _central_differences(f, a: np.ndarray, step: float = 1e-5) -> np.ndarray:
    a = np.asarray(a, np.float64)
    grad = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[i] += step
        down[i] -= step
        grad[i] = (f(up) - f(down)) / (2 * step)
    return grad


def test_outputs_and_grads_of_a_closed_form():
    """For y = sin(x) * t the helper returns y and the gradients of sum_l w_l y_l, w =
    linspace(-1, 1), exactly as written out in NumPy."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    t = rng.normal(size=5).astype(np.float32)
    y, gx, gt = outputs_and_grads(lambda a, b: tf.sin(a) * b[None], x, t)
    w = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(y, np.sin(x) * t, atol=1e-6)
    np.testing.assert_allclose(gx, np.cos(x) * t * w, atol=1e-6)
    np.testing.assert_allclose(gt, (np.sin(x) * w).sum(axis=0), atol=1e-6)


def test_generic_reference_equals_cirq_and_finite_differences():
    """generic_outputs_and_grads gives cirq's <Z_l> and the float64 central differences of
    the weighted sum with respect to x and theta."""
    x, theta = _inputs()
    y, gx, gt = generic_outputs_and_grads(SPEC, x, theta)
    np.testing.assert_allclose(y, _cirq_outputs(x, theta), atol=1e-5)
    want_gx = _central_differences(lambda a: _weighted_sum(_cirq_outputs(a, theta)), x)
    want_gt = _central_differences(lambda t: _weighted_sum(_cirq_outputs(x, t)), theta)
    np.testing.assert_allclose(gx, want_gx, atol=1e-5)
    np.testing.assert_allclose(gt, want_gt, atol=1e-5)


def test_a_wrong_gradient_is_caught_though_the_outputs_agree():
    """A kernel with the right outputs and a doubled custom gradient: its outputs equal the
    generic reference, its gradients do not, so a kernel test comparing the three fails."""
    kernel = PaperKernel(SPEC)

    def wrong(a, t):
        @tf.custom_gradient
        def doubled(a, t):
            y = kernel(a, t)

            def grad(dy):
                ga, gt = tf.gradients(y, [a, t], grad_ys=dy)
                return 2.0 * ga, 2.0 * gt

            return y, grad

        return doubled(a, t)

    x, theta = _inputs(2)
    want = generic_outputs_and_grads(SPEC, x, theta)
    right = outputs_and_grads(kernel, x, theta)
    got = outputs_and_grads(tf.function(wrong), x, theta)
    for r, w in zip(right, want):
        np.testing.assert_allclose(r, w, atol=2e-6)
    np.testing.assert_allclose(got[0], want[0], atol=2e-6)
    for g, w in zip(got[1:], want[1:]):
        with pytest.raises(AssertionError):
            np.testing.assert_allclose(g, w, atol=2e-6)


def test_xla_check_passes_for_the_kernel():
    """check_any_batch_under_xla accepts PaperKernel (the right numbers, static width)."""
    check_any_batch_under_xla(PaperKernel(SPEC), SPEC)


# (how the kernel is wrong, what the check says): the batch of 1 has 2 outputs, that of 5 ten.
WRONG_KERNELS = {
    # off by 1e-3 everywhere: caught on the first batch
    "values": (lambda k: lambda a, t: k(a, t) + 1e-3, "Mismatched elements: 2 / 2 "),
    # right for one sample, off for more: caught on the batch of 5
    "batch": (
        lambda k: lambda a, t: k(a, t) + 1e-3 * tf.cast(tf.shape(a)[0] > 1, tf.float32),
        "Mismatched elements: 10 / 10 ",
    ),
    # right numbers, but the output width is no longer static: caught before any run
    "width": (
        lambda k: lambda a, t: tf.reshape(k(a, t), [tf.shape(a)[0], -1]),
        r"output shape \[None, None\], not \[None, 2\]",
    ),
}


@pytest.mark.parametrize("how", sorted(WRONG_KERNELS))
def test_xla_check_fails_for_a_wrong_kernel(how):
    """check_any_batch_under_xla raises AssertionError for a kernel whose values are off,
    off only for a batch of 5, or whose output width is dynamic."""
    wrap, match = WRONG_KERNELS[how]
    with pytest.raises(AssertionError, match=match):
        check_any_batch_under_xla(wrap(PaperKernel(SPEC)), SPEC)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
