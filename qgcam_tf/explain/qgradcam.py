"""QGrad-CAM: class activation maps for hybrid CNN + VQC classifiers.

The importance of conv map :math:`A^k` for class :math:`l` is
:math:`w_k^l = \\frac{1}{WH}\\sum_{ij} \\partial f^l / \\partial A^k_{ij}`, where
:math:`f^l = \\langle Z_l \\rangle` is the VQC's score for class :math:`l` (before the
scale and the softmax); the map is :math:`L^l = \\mathrm{ReLU}(\\sum_k w_k^l A^k)`, upsampled
bilinearly to the input and min-max scaled to [0, 1].

:class:`BaseCAM` is a template: it runs the model, takes the gradients and turns weights
into maps; a CAM method supplies only :meth:`BaseCAM.get_cam_weights`.

References:
    Lin, Tseng, Chen, Yoo. Quantum Gradient Class Activation Map for Model
    Interpretability. arXiv 2408.05899.
    Selvaraju et al. Grad-CAM. arXiv 1610.02391.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.model.hybrid import CONV_LAYER, VQC_LAYER
from qgcam_tf.model.layers import VQCLayer, symbol_values

__all__ = ["BaseCAM", "CAMResult", "QGradCAM", "normalize_maps", "resolve_class_index"]

EPSILON = 1e-7


@dataclasses.dataclass
class CAMResult:
    """What a CAM call returns (NumPy arrays).

    Attributes:
        maps: ``[B, H, W]`` heatmaps at input resolution, in [0, 1].
        weights: ``[B, K]`` importance of each conv map for the target class.
        scores: ``[B, C]`` class scores (the VQC's ``<Z_l>``, or a classical model's logits).
        probabilities: ``[B, C]`` softmax output of the model.
        class_index: ``[B]`` the explained class of each sample.
        activations_maps: ``[B, H', W']`` the maps before upsampling and scaling.
    """

    maps: np.ndarray
    weights: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    class_index: np.ndarray
    activations_maps: np.ndarray


def normalize_maps(maps: tf.Tensor) -> tf.Tensor:
    """Min-max scales each map of ``[B, H, W]`` to [0, 1] (an all-equal map becomes 0)."""
    lo = tf.reduce_min(maps, axis=[1, 2], keepdims=True)
    hi = tf.reduce_max(maps, axis=[1, 2], keepdims=True)
    return (maps - lo) / (hi - lo + EPSILON)


def resolve_class_index(class_index, batch: int, n_classes: int) -> np.ndarray:
    """Validates ``class_index`` (None, an int, or one int per sample; -1 = predicted).

    Returns:
        int64 ``[batch]``, with -1 wherever the predicted class is wanted.

    Raises:
        ValueError: wrong length, not integers, or out of ``[-1, n_classes)``.
    """
    if class_index is None:
        return np.full([batch], -1, np.int64)
    ci = np.asarray(class_index)
    if ci.dtype.kind not in "iu":
        if ci.dtype.kind == "f" and np.all(np.isfinite(ci)) and np.all(ci == np.round(ci)):
            ci = ci.astype(np.int64)
        else:
            raise ValueError(f"class_index must be integers, got {class_index!r}")
    if ci.ndim == 0:
        ci = np.full([batch], int(ci), np.int64)
    if ci.shape != (batch,):
        raise ValueError(f"class_index must be one int or {batch} ints, got shape {ci.shape}")
    bad = (ci < -1) | (ci >= n_classes)
    if np.any(bad):
        raise ValueError(
            f"class_index must be in [0, {n_classes}) or -1 (predicted), got {ci[bad][0]}"
        )
    return ci.astype(np.int64)


def _check_images(images, input_shape) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype.kind not in "fiu":
        raise ValueError(f"images must be numeric, got dtype {images.dtype}")
    images = images.astype(np.float32)
    expected = tuple(input_shape[1:])
    if images.ndim == len(expected):
        images = images[None]
    if images.shape[1:] != expected:
        raise ValueError(
            f"images must have shape [B, {', '.join(map(str, expected))}], got {images.shape}"
        )
    if not np.all(np.isfinite(images)):
        raise ValueError("images contain NaN or infinite values")
    return images


class BaseCAM:
    """Template for gradient-based CAM methods on a Keras model.

    Args:
        model: a functional model with a conv layer ``layer`` and a score layer.
        layer: name of the conv layer whose activations are explained.
        score_layer: name of the layer whose output is the class score (``"vqc"`` for the
            hybrid model, ``"logits"`` for the classical twin); default: whichever exists.
        batch_size: images per forward/backward pass.

    Raises:
        ValueError: a named layer does not exist.
    """

    def __init__(
        self, model: keras.Model, layer: str = CONV_LAYER, *, score_layer=None, batch_size: int = 64
    ):
        self.model = model
        names = [l.name for l in model.layers]
        if layer not in names:
            raise ValueError(f"layer {layer!r} is not in the model; it has {names}")
        if score_layer is None:
            score_layer = next((n for n in (VQC_LAYER, "logits") if n in names), None)
        if score_layer not in names:
            raise ValueError(f"score_layer {score_layer!r} is not in the model; it has {names}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.layer, self.score_layer, self.batch_size = layer, score_layer, int(batch_size)
        self._probe = keras.Model(
            model.inputs,
            [model.get_layer(layer).output, model.get_layer(score_layer).output, model.output],
        )
        self._explain_fn = tf.function(self.explain_tensors, reduce_retracing=True)

    # -- hook ---------------------------------------------------------------------------
    def get_cam_weights(self, activations, grads, images, class_index) -> tf.Tensor:
        """``[B, K]`` weights of the conv maps; each method overrides this."""
        raise NotImplementedError

    # -- phases -------------------------------------------------------------------------
    def forward_and_gradients(self, images, class_index):
        """Activations, d score[class] / d activations, scores, probabilities, class index."""
        with tf.GradientTape() as tape:
            acts, scores, probs = self._probe(images, training=False)
            ci = tf.where(
                class_index < 0, tf.argmax(probs, axis=-1, output_type=tf.int64), class_index
            )
            target = tf.gather(scores, ci, axis=1, batch_dims=1)
        grads = tape.gradient(target, acts)
        return acts, grads, scores, probs, ci

    def combine(self, activations, weights) -> tf.Tensor:
        """``ReLU(sum_k w_k A^k)``: [B, H', W']."""
        return tf.nn.relu(tf.einsum("bhwk,bk->bhw", activations, weights))

    def upsample(self, cams, image_hw) -> tf.Tensor:
        """Bilinear resize to the input size, then min-max scaling to [0, 1]."""
        up = tf.image.resize(cams[..., None], image_hw, method="bilinear")[..., 0]
        return normalize_maps(up)

    def explain_tensors(self, images: tf.Tensor, class_index: tf.Tensor) -> dict:
        """Pure-TensorFlow explanation of one batch (traceable into a SavedModel signature).

        Args:
            images: float32 ``[B, H, W, C]``.
            class_index: int64 ``[B]``; -1 picks the predicted class.

        Returns:
            dict of tensors: maps, weights, scores, probabilities, class_index, activations_maps.
        """
        acts, grads, scores, probs, ci = self.forward_and_gradients(images, class_index)
        weights = self.get_cam_weights(acts, grads, images, ci)
        cams = self.combine(acts, weights)
        maps = self.upsample(cams, tf.shape(images)[1:3])
        return dict(
            maps=maps,
            weights=weights,
            scores=scores,
            probabilities=probs,
            class_index=ci,
            activations_maps=cams,
        )

    def __call__(self, images, class_index=None) -> CAMResult:
        """Explains ``images`` ([B, H, W, C] or one [H, W, C]) for ``class_index``.

        Args:
            images: float32 images as the model takes them.
            class_index: None (predicted class), one int for all, or one int per sample;
                -1 means the predicted class.

        Raises:
            ValueError: bad image shape or values, or a bad class index.
        """
        images = _check_images(images, self.model.input_shape)
        n_classes = int(self.model.output_shape[-1])
        ci = resolve_class_index(class_index, len(images), n_classes)
        parts = []
        for start in range(0, len(images), self.batch_size):
            stop = start + self.batch_size
            out = self._explain_fn(tf.constant(images[start:stop]), tf.constant(ci[start:stop]))
            parts.append({k: v.numpy() for k, v in out.items()})
        return CAMResult(**{k: np.concatenate([p[k] for p in parts]) for k in parts[0]})


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
        images = _check_images(images, self.model.input_shape)
        ci = resolve_class_index(class_index, len(images), int(self.model.output_shape[-1]))
        if noise is None:
            run = vqc._executor
        else:
            from qgcam_tf.noise.model import noisy_executor

            run = noisy_executor(vqc.spec, noise)
        rng = np.random.default_rng(seed)
        out = []
        for start in range(0, len(images), self.batch_size):
            batch = tf.constant(images[start : start + self.batch_size])
            with tf.GradientTape() as tape:
                acts, x, probs = self._encoding_probe(batch, training=False)
            pred = np.argmax(probs.numpy(), axis=-1)
            cls = np.where(ci[start : start + len(batch)] < 0, pred, ci[start : start + len(batch)])
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
        f = _sample(f, shots, rng)
    f = f.reshape(2, 2 * n, batch, -1)
    dangle = (f[0] - f[1]) / 2.0  # [2n, B, L]
    da, db = dangle[:n].transpose(1, 0, 2), dangle[n:].transpose(1, 0, 2)  # [B, n, L]
    xv = x.numpy()[..., None]
    dfdx = da / (1.0 + xv**2) + db * 2.0 * xv / (1.0 + xv**4)
    return tf.constant(dfdx.astype(np.float32))


def _sample(expectations: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """Estimates each ``<Z>`` from ``shots`` measurements (outcome +1 w.p. (1+<Z>)/2)."""
    p = np.clip((1.0 + expectations) / 2.0, 0.0, 1.0)
    return 2.0 * rng.binomial(shots, p) / shots - 1.0
