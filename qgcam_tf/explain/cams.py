"""The CAM family on the hybrid CNN + VQC model, plus two map baselines.

Every method is a :class:`~qgcam_tf.explain.base.BaseCAM` subclass that supplies
:meth:`~qgcam_tf.explain.base.BaseCAM.get_cam_weights`; methods that weight each position
(HiResCAM, LayerCAM) also override :meth:`~qgcam_tf.explain.base.BaseCAM.combine`. All run
batched with one target class per sample, through the same pure-TensorFlow
``explain_tensors``. For these methods ``CAMResult.weights`` is ``[B, K]`` except for
HiResCAM and LayerCAM, where it is the elementwise ``[B, H', W', K]``.

With the hybrid model the score is the VQC's ``<Z_l>``; with the classical twin
(``score_layer="logits"``) :class:`QGradCAM` is exactly classical Grad-CAM. A one-output
model (one ``<Z>`` or logit, then a sigmoid or a sign decision) is explained as two classes,
class 0 by the negated score (Score-CAM: by ``1 - p``); ``eigen_smooth`` and ``aug_smooth``
apply to every method (see :class:`~qgcam_tf.explain.base.BaseCAM`). Every method also
takes a hybrid built with TensorFlow Quantum's layers (the score is the quantum layer's
output; see :class:`~qgcam_tf.explain.base.BaseCAM` for ``circuits=``).

References:
    Chattopadhyay et al. Grad-CAM++. arXiv 1710.11063.
    Draelos, Carin. HiResCAM. arXiv 2011.08891.
    Jiang et al. LayerCAM. IEEE TIP 30 (2021).
    Wang et al. Score-CAM. arXiv 1910.01279.
    Sundararajan, Taly, Yan. Axiomatic Attribution for Deep Networks. arXiv 1703.01365.
    Sattarzadeh et al. Integrated Grad-CAM. arXiv 2102.07805.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.explain.base import BaseCAM, TiledCircuits, normalize_maps, target_class_index
from qgcam_tf.explain.qgradcam import QGradCAM

__all__ = [
    "CAM_METHODS",
    "GradCAMPlusPlus",
    "HiResCAM",
    "IntegratedQGradCAM",
    "LayerCAM",
    "ScoreCAM",
    "RandomCAM",
    "CentreCAM",
    "make_cam",
    "method_name",
]


class GradCAMPlusPlus(BaseCAM):
    """Grad-CAM++: :math:`w_k = \\sum_{ij} \\alpha^k_{ij} \\mathrm{ReLU}(g^k_{ij})` with
    :math:`\\alpha^k_{ij} = g^2 / (2 g^2 + \\sum_{ab} A^k_{ab} g^3)` (the exponential-score
    closed form of the paper, with :math:`g = \\partial S / \\partial A`)."""

    def get_cam_weights(self, activations, grads, images, class_index):
        g2, g3 = grads**2, grads**3
        total = tf.reduce_sum(activations, axis=[1, 2], keepdims=True)
        # No epsilon in the denominator: the VQC's gradients are small (|g| ~ 1e-4 gives
        # 2 g^2 ~ 1e-8), and an epsilon would swamp alpha = 1/2 there; 0/0 -> 0.
        alpha = tf.math.divide_no_nan(g2, 2.0 * g2 + total * g3)
        return tf.reduce_sum(alpha * tf.nn.relu(grads), axis=[1, 2])


class HiResCAM(BaseCAM):
    """HiResCAM: :math:`\\mathrm{ReLU}(\\sum_k g^k \\odot A^k)`, gradients kept per position."""

    def get_cam_weights(self, activations, grads, images, class_index):
        return grads

    def combine(self, activations, weights):
        return tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1))


class LayerCAM(HiResCAM):
    """LayerCAM: :math:`\\mathrm{ReLU}(\\sum_k \\mathrm{ReLU}(g^k) \\odot A^k)`."""

    def get_cam_weights(self, activations, grads, images, class_index):
        return tf.nn.relu(grads)


class IntegratedQGradCAM(BaseCAM):
    """Integrated QGrad-CAM: the gradient of the class's log-probability averaged along the
    straight path from all-zero activations to the image's, instead of taken at the image.

    :math:`w_k = \\frac{1}{m}\\sum_{i=1}^{m} \\frac{1}{WH}\\sum_{ij}
    \\partial \\log p_c(\\alpha_i A) / \\partial A^k_{ij}` with the midpoints
    :math:`\\alpha_i = (i - 1/2)/m`; the map is :math:`\\mathrm{ReLU}(\\sum_k w_k A^k)`.
    The path integral is that of integrated gradients (Sundararajan et al. 2017) taken at the
    conv layer, as Integrated Grad-CAM (Sattarzadeh et al. 2021) does.

    Two departures from QGrad-CAM, both measured on Dogs vs Cats (docs/experiments.md):

    * **The path instead of the point.** A VQC's readout is a sum of products of cosines of
      the encoded features, so its slope at the image can point the other way from the
      change that got it there: on three trained photo hybrids QGrad-CAM's weighted sum was
      negative on average for 55-70 % of the test photos, their classical twin's for 10 %.
      Averaged along the path, the weights satisfy completeness: behind a global average
      pool, the grid sum of :math:`\\sum_k w_k A^k` is
      :math:`\\log p_c(A) - \\log p_c(0)` up to the midpoint rule's error
      (``tests/explain/cams_test.py``).
    * **The log-probability instead of the score.** The hybrid's score of class ``c`` is one
      qubit's readout, while its decision compares all readouts through the softmax; a class
      can win by lowering the others' readouts, which the score alone does not see.

    The head from the activations to the probabilities runs ``steps`` times per batch (the
    conv layers once). A model whose probabilities depend on the images through other paths
    than ``layer`` (a skip connection around it) cannot be explained this way.

    Args:
        model, layer, score_layer, batch_size, circuits, decision, aug_smooth,
            eigen_smooth: as :class:`~qgcam_tf.explain.base.BaseCAM` (``score_layer`` only
            names the scores reported beside the maps).
        steps: points of the midpoint rule along the path (default 16).

    Raises:
        ValueError: ``steps`` < 1, or the probabilities do not depend on the images through
            ``layer`` alone.
    """

    def __init__(self, *args, steps: int = 16, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}")
        self.steps = int(steps)
        model = self.class_model
        circuits_inputs = [t for t in model.inputs if t.dtype == tf.string]
        try:
            self._head = keras.Model(
                [model.get_layer(self.layer).output, *circuits_inputs], model.output
            )
        except ValueError as e:
            raise ValueError(
                f"IntegratedQGradCAM needs a model whose probabilities depend on the images "
                f"only through layer {self.layer!r} (no path around it): {e}"
            ) from None
        self._tilers = [TiledCircuits(self.circuits) for _ in circuits_inputs]

    def head_probabilities(self, activations: tf.Tensor) -> tf.Tensor:
        """The model's class probabilities computed from ``layer``'s activations."""
        if not self._tilers:
            return self._head(activations, training=False)
        feed = [activations, *[tile(activations) for tile in self._tilers]]
        return self._head(feed, training=False)

    def forward_and_gradients(self, images, class_index):
        acts, scores, probs = self.probe(images, training=False)
        return acts, None, scores, probs, target_class_index(class_index, probs)

    def get_cam_weights(self, activations, grads, images, class_index):
        total = tf.zeros_like(activations)
        tiny = np.finfo(np.float32).tiny
        for i in range(self.steps):
            alpha = (i + 0.5) / self.steps
            with tf.GradientTape() as tape:
                scaled = alpha * activations
                tape.watch(scaled)
                p = self.head_probabilities(scaled)
                chosen = tf.gather(p, class_index, axis=1, batch_dims=1)
                target = tf.math.log(tf.maximum(chosen, tiny))
            total += tape.gradient(target, scaled)
        return tf.reduce_mean(total, axis=[1, 2]) / float(self.steps)


class _ForwardOnlyCAM(BaseCAM):
    """A method that needs no gradient: one forward pass, no tape."""

    def forward_and_gradients(self, images, class_index):
        acts, scores, probs = self.probe(images, training=False)
        return acts, None, scores, probs, target_class_index(class_index, probs)


class ScoreCAM(_ForwardOnlyCAM):
    """Score-CAM: :math:`w_k = p_c(X \\odot \\mathrm{norm}(\\mathrm{up}(A^k)))`; forward only.

    Each conv map, upsampled to the input and min-max scaled to [0, 1], masks the image;
    the model's probability of the target class for the masked image is the map's weight.
    No gradient through the circuit is needed: on a quantum device this costs K circuit
    evaluations per image (times the shots) instead of a parameter-shift gradient.

    Args:
        model, layer, score_layer, batch_size: as :class:`~qgcam_tf.explain.base.BaseCAM`.
        mask_batch_size: masked images per forward pass (bounds the memory).
    """

    def __init__(self, *args, mask_batch_size: int = 1024, **kwargs):
        super().__init__(*args, **kwargs)
        if mask_batch_size < 1:
            raise ValueError(f"mask_batch_size must be >= 1, got {mask_batch_size}")
        self.mask_batch_size = int(mask_batch_size)

    def get_cam_weights(self, activations, grads, images, class_index):
        shape = tf.shape(activations)
        b, k = shape[0], shape[3]
        maps = tf.transpose(activations, [0, 3, 1, 2])  # [B, K, h, w]
        maps = tf.reshape(maps, [b * k, shape[1], shape[2]])
        masks = normalize_maps(
            tf.image.resize(maps[..., None], tf.shape(images)[1:3], method="bilinear")[..., 0]
        )
        masks = tf.reshape(masks, tf.concat([[b, k], tf.shape(images)[1:3]], 0))
        masked = images[:, None] * masks[..., None]  # [B, K, H, W, C]
        masked = tf.reshape(masked, tf.concat([[b * k], tf.shape(images)[1:]], 0))
        target = tf.repeat(class_index, k)
        probs = tf.map_fn(
            lambda x: self.image_model(x, training=False),
            _split(masked, self.mask_batch_size),
            fn_output_signature=tf.float32,
        )
        probs = tf.reshape(probs, [-1, tf.shape(probs)[-1]])[: b * k]
        weights = tf.gather(probs, target, axis=1, batch_dims=1)
        return tf.reshape(weights, [b, k])


def _split(x: tf.Tensor, size: int) -> tf.Tensor:
    """Pads ``x`` [N, ...] to a multiple of ``size`` and reshapes to [N / size, size, ...]."""
    n = tf.shape(x)[0]
    pad = (-n) % size
    padded = tf.concat([x, tf.zeros(tf.concat([[pad], tf.shape(x)[1:]], 0), x.dtype)], 0)
    return tf.reshape(padded, tf.concat([[-1, size], tf.shape(x)[1:]], 0))


class RandomCAM(_ForwardOnlyCAM):
    """Baseline: uniform noise on the conv grid (upsampled like any CAM); ignores the model.

    Args:
        seed: seed of the noise.
    """

    export_blocker = (
        "its noise comes from a tf.random.Generator whose state is no variable of the model, "
        "so a SavedModel signature cannot hold it"
    )

    def __init__(self, *args, seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self._generator = tf.random.Generator.from_seed(seed)

    def get_cam_weights(self, activations, grads, images, class_index):
        return tf.zeros(tf.shape(activations)[::3])  # [B, K]: no map is weighted

    def combine(self, activations, weights):
        return self._generator.uniform(tf.shape(activations)[:3])

    def weighted_activations(self, activations, weights):
        return None  # no weighted sum: eigen_smooth keeps the noise


class CentreCAM(_ForwardOnlyCAM):
    """Baseline: a Gaussian bump at the centre (std a quarter of the side); ignores the model."""

    def get_cam_weights(self, activations, grads, images, class_index):
        return tf.zeros(tf.shape(activations)[::3])

    def combine(self, activations, weights):
        shape = tf.shape(activations)
        h, w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
        y = (tf.range(h) + 0.5 - h / 2.0) / (h / 4.0)
        x = (tf.range(w) + 0.5 - w / 2.0) / (w / 4.0)
        bump = tf.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2))
        return tf.tile(bump[None], [shape[0], 1, 1])

    def weighted_activations(self, activations, weights):
        return None  # no weighted sum: eigen_smooth keeps the bump


CAM_METHODS = {
    "qgradcam": QGradCAM,
    "integrated": IntegratedQGradCAM,
    "gradcam++": GradCAMPlusPlus,
    "hirescam": HiResCAM,
    "layercam": LayerCAM,
    "scorecam": ScoreCAM,
    "random": RandomCAM,
    "centre": CentreCAM,
}


def make_cam(method: str, model, **kwargs) -> BaseCAM:
    """Builds the CAM ``method`` (a key of :data:`CAM_METHODS`) for ``model``.

    Raises:
        ValueError: unknown method.
    """
    if method not in CAM_METHODS:
        raise ValueError(f"method must be one of {sorted(CAM_METHODS)}, got {method!r}")
    return CAM_METHODS[method](model, **kwargs)


def method_name(cam) -> str:
    """The :data:`CAM_METHODS` key of ``cam``'s class, for file names and titles;
    ``"qgradcam"`` for an object of any other class (a stand-in of tests, or None)."""
    for name, cls in CAM_METHODS.items():
        if type(cam) is cls:
            return name
    return "qgradcam"
