"""QGrad-CAM: class activation maps for hybrid CNN + VQC classifiers.

The importance of conv map :math:`A^k` for class :math:`l` is
:math:`w_k^l = \\frac{1}{WH}\\sum_{ij} \\partial f^l / \\partial A^k_{ij}`, where
:math:`f^l = \\langle Z_l \\rangle` is the VQC's score for class :math:`l` (before the
scale and the softmax); the map is :math:`L^l = \\mathrm{ReLU}(\\sum_k w_k^l A^k)`, upsampled
bilinearly to the input and min-max scaled to [0, 1].

:class:`QGradCAM` is a :class:`~qgcam_tf.explain.base.BaseCAM` that supplies these weights;
:meth:`QGradCAM.explicit_weights` computes them the way quantum hardware can (the
parameter-shift rule).

References:
    Lin, Tseng, Chen, Yoo. Quantum Gradient Class Activation Map for Model
    Interpretability. arXiv 2408.05899.
    Selvaraju et al. Grad-CAM. arXiv 1610.02391.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.explain.base import (
    BaseCAM,
    check_images,
    resolve_class_index,
    target_class_index,
)
from qgcam_tf.model.layers import VQCLayer
from qgcam_tf.quantum.circuits import symbol_values
from qgcam_tf.quantum.shift import sample_expectations

__all__ = ["QGradCAM"]


class QGradCAM(BaseCAM):
    """Quantum Grad-CAM: weights are the spatial means of ``d f^l / d A^k``.

    ``f^l = <Z_l>`` is the VQC's score (before the trainable scale and the softmax).
    :meth:`explicit_weights` computes the same weights the way quantum hardware can: the
    derivative through the circuit by the parameter-shift rule, optionally with finite
    shots and noise, and the chain rule through the classical layers.

    Example:
        >>> cam = QGradCAM(model)
        >>> res = cam(images)            # res.maps [B, H, W] in [0, 1]
    """

    def get_cam_weights(self, activations, grads, images, class_index):
        return tf.reduce_mean(grads, axis=[1, 2])

    def _vqc(self) -> VQCLayer:
        layer = self.model.get_layer(self.score_layer)
        if not isinstance(layer, VQCLayer):
            raise ValueError(
                f"explicit weights need a VQCLayer as score layer, got {type(layer).__name__}"
            )
        if getattr(self, "_encoding_probe", None) is None:  # built once, reused by every call
            self._encoding_probe = keras.Model(
                self.model.inputs,
                [self.model.get_layer(self.layer).output, layer.input, self.model.output],
            )
        return layer

    def explicit_weights(
        self,
        images,
        class_index=None,
        *,
        shots: int | None = None,
        noise=None,
        seed: int | None = None,
    ) -> np.ndarray:
        """QGrad-CAM weights with the quantum derivative in closed form (no autodiff).

        For an encoding gate :math:`e^{-i a P / 2}`,
        :math:`\\partial f / \\partial a = (f(a + \\pi/2) - f(a - \\pi/2)) / 2` exactly.
        Each input :math:`x_m` enters through :math:`a_m = \\arctan x_m` and
        :math:`b_m = \\arctan x_m^2`, so
        :math:`\\partial f / \\partial x_m = \\partial_a f / (1 + x_m^2) +
        \\partial_b f \\, 2 x_m / (1 + x_m^4)`; the classical layers from :math:`A` to
        :math:`x` (GAP, BatchNorm, Dense) contribute a vector-Jacobian product.

        Args:
            images: ``[B, H, W, C]`` images.
            class_index: as in :meth:`__call__`.
            shots: measure each shifted expectation with this many shots (None: exact).
            noise: a :mod:`qgcam_tf.noise.model` model; each term then runs on the noisy circuit.
            seed: seed of the shot sampler.

        Returns:
            ``[B, K]`` float32 weights.

        Raises:
            ValueError: bad images, class index, or ``shots < 1``.
        """
        if shots is not None and (
            isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1
        ):
            raise ValueError(f"shots must be an int >= 1 or None, got {shots!r}")
        vqc = self._vqc()
        images = check_images(images, self.model.input_shape)
        ci = resolve_class_index(class_index, len(images), int(self.model.output_shape[-1]))
        if noise is None:
            run = vqc.executor
        else:
            from qgcam_tf.noise.executors import noisy_executor

            run = noisy_executor(vqc.spec, noise)
        rng = np.random.default_rng(seed)
        out = []
        for start in range(0, len(images), self.batch_size):
            batch = tf.constant(images[start : start + self.batch_size])
            with tf.GradientTape() as tape:
                acts, x, probs = self._encoding_probe(batch, training=False)
            cls = target_class_index(ci[start : start + len(batch)], probs)
            dfdx = _shift_rule_input_gradients(run, x, vqc.theta, shots, rng)  # [B, n, L]
            g = tf.gather(dfdx, cls, axis=2, batch_dims=1)  # [B, n]
            grads = tape.gradient(x, acts, output_gradients=g)
            out.append(tf.reduce_mean(grads, axis=[1, 2]).numpy())
        return np.concatenate(out)


def _shift_rule_input_gradients(run, x, theta, shots, rng) -> tf.Tensor:
    """``d<Z_l>/dx_m`` [B, n, L] by the parameter-shift rule on the 2n encoding angles."""
    x = tf.convert_to_tensor(x, tf.float32)
    batch, n = x.shape[0], x.shape[1]
    values = symbol_values(x, theta).numpy()  # [B, S]
    shifted = np.repeat(values[None, None], 2 * n, axis=1).repeat(2, axis=0)  # [2, 2n, B, S]
    for j in range(2 * n):
        shifted[0, j, :, j] += math.pi / 2
        shifted[1, j, :, j] -= math.pi / 2
    flat = shifted.reshape(-1, values.shape[1])
    f = run(tf.constant(flat)).numpy()  # [4nB, L]
    if shots is not None:
        f = sample_expectations(f, shots, rng)
    f = f.reshape(2, 2 * n, batch, -1)
    dangle = (f[0] - f[1]) / 2.0  # [2n, B, L]
    da, db = dangle[:n].transpose(1, 0, 2), dangle[n:].transpose(1, 0, 2)  # [B, n, L]
    xv = x.numpy()[..., None]
    dfdx = da / (1.0 + xv**2) + db * 2.0 * xv / (1.0 + xv**4)
    return tf.constant(dfdx.astype(np.float32))
