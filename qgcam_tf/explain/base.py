"""The CAM template: what every gradient-based CAM method shares.

:class:`BaseCAM` is a template method: it runs the model, takes the gradients of the class
score with respect to a conv layer's activations and turns weights into maps; a CAM method
supplies only :meth:`BaseCAM.get_cam_weights` (and, for per-position weights,
:meth:`BaseCAM.combine`). :class:`CAMResult` is what a call returns; :func:`normalize_maps`
is the map scaling they share.

A model with one output unit (a sigmoid probability of class 1, or a score whose sign
decides) is explained as a two-class model: :func:`two_class_model` gives its probabilities
``[1 - p, p]``, and the target of class 0 is the negated score (see :class:`BaseCAM`).
Two smoothing options of pytorch-grad-cam apply to every method: ``eigen_smooth``
(:func:`eigen_projection`) and ``aug_smooth`` (:data:`AUGMENTATIONS`).

"-1 means the predicted class" has one home: :func:`resolve_class_index` validates a
request in NumPy, :func:`check_class_index_tensor` does the same inside a graph (a SavedModel
signature), and :func:`target_class_index` replaces -1 by the predicted class.

References:
    Selvaraju et al. Grad-CAM. arXiv 1610.02391.
"""

from __future__ import annotations

import dataclasses

import cirq
import numpy as np
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.model.convert import feeds, is_quantum_layer, quantum_calls
from qgcam_tf.model.hybrid import CONV_LAYER

__all__ = [
    "AUGMENTATIONS",
    "BaseCAM",
    "CAMResult",
    "TiledCircuits",
    "check_class_index_tensor",
    "check_images",
    "default_score_layer",
    "eigen_projection",
    "images_only",
    "normalize_maps",
    "ONE_OUTPUT_DECISIONS",
    "resolve_class_index",
    "target_class_index",
    "two_class_model",
]

EPSILON = 1e-7

# How a one-output model's unit y reads as the probability p of class 1: "sigmoid", y is p
# (a sigmoid output); "sign", y is a score whose sign decides, and p = sigmoid(y) (monotone,
# so the predicted class is the sign decision, with p = 1/2 at y = 0).
ONE_OUTPUT_DECISIONS = ("sigmoid", "sign")

# aug_smooth's test-time augmentations (horizontal flip, brightness factor), as
# pytorch-grad-cam's aug_smooth (ttach's HorizontalFlip x Multiply([0.9, 1, 1.1])); the
# first is the identity.
AUGMENTATIONS = tuple((flip, factor) for flip in (False, True) for factor in (1.0, 1.1, 0.9))


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
            f"class_index must be in [0, {n_classes}) or -1 (predicted class), got {ci[bad][0]}"
        )
    return ci.astype(np.int64)


def check_class_index_tensor(class_index: tf.Tensor, batch, n_classes: int) -> tf.Tensor:
    """:func:`resolve_class_index`'s checks inside a graph: ``class_index`` must be int64
    ``[batch]`` with values in ``[-1, n_classes)``.

    For a traced function whose inputs are only known at run time (a SavedModel signature):
    a bad request fails with ``InvalidArgumentError`` whose message says what was expected.

    Args:
        class_index: int64 tensor of any shape.
        batch: the expected length (a scalar tensor, e.g. ``tf.shape(images)[0]``).
        n_classes: the number of classes.

    Returns:
        ``class_index``, after the checks.
    """
    shape = tf.shape(class_index)
    dims = tf.concat([shape, [-1]], axis=0)[:1]  # padding keeps this valid for a scalar
    ok = tf.logical_and(tf.equal(tf.size(shape), 1), tf.equal(dims[0], batch))
    check_shape = tf.debugging.Assert(
        ok,
        ["class_index must be int64 [batch] with batch =", batch, "; got shape", shape],
        summarize=8,
    )
    with tf.control_dependencies([check_shape]):
        in_range = tf.logical_and(class_index >= -1, class_index < n_classes)
        check_range = tf.debugging.Assert(
            tf.reduce_all(in_range),
            [f"class_index must be in [0, {n_classes}) or -1 (predicted class); got", class_index],
            summarize=16,
        )
    with tf.control_dependencies([check_range]):
        return tf.identity(class_index)


def target_class_index(class_index, probabilities) -> tf.Tensor:
    """The class each sample is explained for: ``class_index``, or where it is -1 the
    predicted class (the argmax of ``probabilities``).

    Args:
        class_index: int64 ``[B]`` (already validated: :func:`resolve_class_index`).
        probabilities: ``[B, C]`` model output.

    Returns:
        int64 ``[B]`` tensor (eager or in a graph, like its inputs).
    """
    predicted = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
    class_index = tf.convert_to_tensor(class_index, tf.int64)
    return tf.where(class_index < 0, predicted, class_index)


def check_images(images, input_shape) -> np.ndarray:
    """Images as float32 ``[B, *input_shape[1:]]`` (one image gets a batch axis).

    Raises:
        ValueError: not numeric, the wrong shape, or NaN/inf values.
    """
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


def default_score_layer(model: keras.Model) -> str:
    """The score layer of ``model`` when none is named: its one quantum layer (a
    :class:`~qgcam_tf.model.layers.VQCLayer`, ``CircuitLayer`` or TFQ layer), else
    ``"logits"`` (the classical twin).

    Raises:
        ValueError: two or more quantum layers (the caller must name ``score_layer``), or
            none and no ``"logits"`` layer.
    """
    quantum = [l.name for l in model.layers if is_quantum_layer(l)]
    if len(quantum) > 1:
        raise ValueError(
            f"the model has {len(quantum)} quantum layers {quantum}; name the one whose "
            f"output is the class score with score_layer="
        )
    if quantum:
        return quantum[0]
    names = [l.name for l in model.layers]
    if "logits" in names:
        return "logits"
    raise ValueError(
        f"the model has no quantum layer and no 'logits' layer; name the layer whose output "
        f"is the class score with score_layer= (it has {names})"
    )


def _check_circuits(circuits, model: keras.Model):
    """``circuits`` (None: the empty circuit) as a ``cirq.Circuit``, if the model has a
    circuits input; None if it has none."""
    has_circuits_input = any(t.dtype == tf.string for t in model.inputs)
    if circuits is not None and not isinstance(circuits, cirq.Circuit):
        raise TypeError(f"circuits must be a cirq.Circuit or None, got {circuits!r}")
    if not has_circuits_input:
        if circuits is not None:
            raise ValueError(
                f"circuits was given but the model has no circuits (string) input; its "
                f"inputs are {[t.name for t in model.inputs]}"
            )
        return None
    return cirq.Circuit() if circuits is None else circuits


class TiledCircuits(keras.layers.Layer):
    """Images ``[B, ...]`` -> ``circuits`` serialised ``B`` times (string ``[B]``)."""

    def __init__(self, circuits: cirq.Circuit, **kwargs):
        super().__init__(trainable=False, **kwargs)
        import tensorflow_quantum as tfq

        self.serialized = tfq.convert_to_tensor([circuits])

    def call(self, images):
        return tf.tile(self.serialized, tf.shape(images)[:1])


def images_only(model: keras.Model, circuits) -> keras.Model:
    """``model`` as a model of its one image input, each circuits input fed ``circuits``.

    How :class:`BaseCAM` (and a method that probes other tensors of the model) reads a
    model with circuits inputs from images alone.

    Args:
        model: a functional model of one numeric input plus circuits inputs (dtype string).
        circuits: the ``cirq.Circuit`` every circuits input gets for every sample, or None
            (``model`` is returned as it is).

    Raises:
        ValueError: the model's inputs are not one numeric input plus string inputs.
    """
    numeric = [t for t in model.inputs if t.dtype != tf.string]
    if len(numeric) != 1:
        raise ValueError(
            f"the model must have one image input (plus circuits inputs of dtype string), "
            f"got inputs {[(t.name, t.dtype.name) for t in model.inputs]}"
        )
    if circuits is None:
        return model
    images = keras.Input(numeric[0].shape[1:], dtype=numeric[0].dtype, name="images")
    tiled = TiledCircuits(circuits, name="circuits")(images)
    feed = [images if t.dtype != tf.string else tiled for t in model.inputs]
    return keras.Model(images, model(feed), name=f"{model.name}_images")


class _TwoClasses(keras.layers.Layer):
    """``[B, 1]`` -> ``[B, 2]``: ``"score"`` gives ``[-s, s]``, ``"sigmoid"`` ``[1 - p, p]``,
    ``"sign"`` ``[1 - sigmoid(y), sigmoid(y)]``."""

    def __init__(self, mode: str, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.mode = mode

    def call(self, y):
        if self.mode == "score":
            return tf.concat([-y, y], axis=-1)
        p = tf.sigmoid(y) if self.mode == "sign" else y
        return tf.concat([1.0 - p, p], axis=-1)


def _check_decision(decision) -> str:
    if decision not in ONE_OUTPUT_DECISIONS:
        raise ValueError(f"decision must be one of {ONE_OUTPUT_DECISIONS}, got {decision!r}")
    return decision


def two_class_model(model: keras.Model, decision: str = "sigmoid") -> keras.Model:
    """``model`` with class probabilities as its output: itself if it has two or more output
    units; a one-output model gives ``[1 - p, p]`` (p read from its unit as ``decision``
    says, :data:`ONE_OUTPUT_DECISIONS`), so that class 1 is predicted where ``p > 1/2``.

    Args:
        model: a functional Keras model with one output ``[B, C]``.
        decision: ``"sigmoid"`` (the unit is p) or ``"sign"`` (p = sigmoid of the unit).

    Raises:
        ValueError: ``decision`` is not in :data:`ONE_OUTPUT_DECISIONS`.
    """
    _check_decision(decision)
    if int(model.output_shape[-1]) != 1:
        return model
    probs = _TwoClasses(decision, name="two_classes")(model.output)
    return keras.Model(model.inputs, probs, name=f"{model.name}_two_classes")


def eigen_projection(weighted: tf.Tensor, reference: tf.Tensor | None = None) -> tf.Tensor:
    """pytorch-grad-cam's ``eigen_smooth``: each sample's weighted activations projected
    onto their first principal component.

    For each sample the ``[H' W', K]`` matrix of weighted activations (the rows are
    positions) is centred column-wise; the map is its projection onto the first right
    singular vector (the direction of largest variance across positions). A singular
    vector's sign is arbitrary, so the map's sign is chosen to correlate non-negatively with
    ``reference`` (default: the plain map ``sum_k`` of the weighted activations). The
    result is ReLU'd like a plain map.

    Args:
        weighted: ``[B, H', W', K]`` weighted activations (``w_k A^k``, or per position).
        reference: ``[B, H', W']`` map whose sign the projection follows (None: the plain
            sum over ``K``).

    Returns:
        ``[B, H', W']`` non-negative maps.
    """
    shape = tf.shape(weighted)
    flat = tf.reshape(weighted, [shape[0], shape[1] * shape[2], shape[3]])
    centred = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
    _, _, v = tf.linalg.svd(centred, full_matrices=False)
    projection = tf.einsum("bpk,bk->bp", centred, v[:, :, 0])
    if reference is None:
        reference = tf.reduce_sum(weighted, axis=-1)
    ref = tf.reshape(reference, [shape[0], -1])
    ref = ref - tf.reduce_mean(ref, axis=1, keepdims=True)
    sign = tf.where(tf.reduce_sum(projection * ref, axis=1) < 0, -1.0, 1.0)
    projection = projection * sign[:, None]
    return tf.nn.relu(tf.reshape(projection, shape[:3]))


class BaseCAM:
    """Template for gradient-based CAM methods on a Keras model.

    The model may be the project's hybrid (a :class:`~qgcam_tf.model.layers.VQCLayer`), its
    classical twin, or a hybrid built the TensorFlow Quantum way: its quantum layer a TFQ
    ``ControlledPQC`` / ``NoisyControlledPQC`` / ``Expectation`` / ``SampledExpectation``
    whose symbol values the network computes (see :mod:`qgcam_tf.model.convert`). The score
    of class ``l`` is the quantum layer's output ``l``, the expectation of its readout ``l``.
    A model with a circuits input (dtype string, as in TFQ's controller pattern) is
    explained from images alone: every sample gets ``circuits``.

    A model with one output unit (a VQC reading one ``<Z>`` then a sigmoid, or a score
    whose sign decides) is explained as two classes: probabilities ``[1 - p, p]``
    (:func:`two_class_model`), class index 0 or 1, and class scores ``[-s, s]`` with ``s``
    the score layer's one output. The target of class 1 is ``s``; that of class 0 is
    ``-s``: ``d(-s)/dA = -ds/dA`` flips the sign of every gradient, so the regions that
    push the score down (evidence for class 0) get the positive weights that survive the
    ReLU. Explaining class 0 by ``s`` itself would show the evidence for class 1 instead
    (the failure reported for binary models in pytorch-grad-cam #428 and tf-keras-vis #78).
    Score-based methods (Score-CAM) use ``1 - p`` for class 0.

    Smoothing (pytorch-grad-cam's options, for every method): ``eigen_smooth`` replaces
    ``ReLU(sum_k w_k A^k)`` by the first principal component of the weighted activations
    (:func:`eigen_projection`; the model-free baselines keep their maps); ``aug_smooth``
    averages the maps of the :data:`AUGMENTATIONS` of each image (flipped maps flipped
    back), each explained for the class resolved on the original image, then min-max scales
    the mean to [0, 1]. With ``aug_smooth`` only ``maps`` is smoothed; the weights, scores,
    probabilities and activation maps are the original image's.

    Args:
        model: a functional model with a conv layer ``layer`` and a score layer.
        layer: name of the conv layer whose activations are explained.
        score_layer: name of the layer whose output is the class score; default: the
            model's one quantum layer (``"vqc"`` in the project's hybrid), else ``"logits"``
            (the classical twin).
        batch_size: images per forward/backward pass.
        circuits: the ``cirq.Circuit`` fed to each string (circuits) input of the model for
            every sample; default the empty circuit. Only for a model with such an input.
        decision: how a one-output model's unit reads as the probability of class 1, one of
            :data:`ONE_OUTPUT_DECISIONS` (ignored for a model of two or more outputs).
        aug_smooth: smooth every map over test-time augmentations (default of
            :meth:`__call__` and what :meth:`explain_tensors` / an export does).
        eigen_smooth: maps from the first principal component of the weighted activations.

    Attributes:
        class_model: :func:`two_class_model` of ``model`` (``model`` itself unless it has
            one output unit).
        image_model: ``class_model`` as a Keras model of the images alone (itself unless
            it has a circuits input, which is then fed ``circuits``).
        probe: a Keras model from the images to ``[activations of layer, class scores,
            probabilities]``; every phase reads the model through it (two columns for a
            one-output model: ``[-s, s]`` and ``[1 - p, p]``).
        one_output: whether ``model`` has one output unit.
        export_blocker: None if :meth:`explain_tensors` can be traced into a SavedModel
            signature; otherwise why not (a method sets it on its class).

    Raises:
        ValueError: a named layer does not exist; no ``score_layer`` and the model has two
            or more quantum layers (or none and no ``"logits"``); ``layer`` does not feed
            ``score_layer``; a TFQ score layer's symbols are not what the network supplies;
            the model's inputs are not one image input plus circuits inputs; ``circuits``
            given to a model without a circuits input, or with symbols the layer does not
            bind, or empty where a layer takes its whole circuit from the circuits input;
            a one-output model whose score layer has more than one output; a bad
            ``decision``.
        TypeError: ``circuits`` is not a ``cirq.Circuit``.
    """

    export_blocker: str | None = None

    def __init__(
        self,
        model: keras.Model,
        layer: str = CONV_LAYER,
        *,
        score_layer=None,
        batch_size: int = 64,
        circuits=None,
        decision: str = "sigmoid",
        aug_smooth: bool = False,
        eigen_smooth: bool = False,
    ):
        self.model = model
        names = [l.name for l in model.layers]
        if layer not in names:
            raise ValueError(f"layer {layer!r} is not in the model; it has {names}")
        if score_layer is None:
            score_layer = default_score_layer(model)
        if score_layer not in names:
            raise ValueError(f"score_layer {score_layer!r} is not in the model; it has {names}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not feeds(model, layer, score_layer):
            raise ValueError(
                f"layer {layer!r} does not feed score_layer {score_layer!r}: the score does not "
                f"depend on its activations, so it has no gradient to explain"
            )
        self.circuits = _check_circuits(circuits, model)
        for call in quantum_calls(model):  # raises on symbols the network does not supply
            if call.circuits_input is not None:
                if not list((self.circuits + call.circuit).all_operations()):
                    raise ValueError(
                        f"layer {call.layer.name!r} takes its whole circuit from the circuits "
                        f"input and circuits is empty (TFQ outputs -2 for an empty circuit); "
                        f"give the circuit with circuits="
                    )
                missing = cirq.parameter_symbols(self.circuits) - set(call.symbols)
                if missing:
                    raise ValueError(
                        f"circuits has symbols {sorted(map(str, missing))} that layer "
                        f"{call.layer.name!r} does not bind"
                    )
        self.layer, self.score_layer, self.batch_size = layer, score_layer, int(batch_size)
        self.decision = _check_decision(decision)
        self.aug_smooth, self.eigen_smooth = bool(aug_smooth), bool(eigen_smooth)
        self.one_output = int(model.output_shape[-1]) == 1
        scores = model.get_layer(score_layer).output
        self.class_model = two_class_model(model, decision)
        if self.one_output:
            if int(scores.shape[-1]) != 1:
                raise ValueError(
                    f"the model has one output unit but score_layer {score_layer!r} has "
                    f"{scores.shape[-1]}; name the layer of the one score with score_layer="
                )
            scores = _TwoClasses("score", name="two_scores")(scores)
        probe = keras.Model(
            model.inputs, [model.get_layer(layer).output, scores, self.class_model.output]
        )
        self.image_model = images_only(self.class_model, self.circuits)
        self.probe = images_only(probe, self.circuits)
        self._explain_fn = tf.function(self.explain_tensors, reduce_retracing=True)
        self._probe_fn = tf.function(
            lambda images: self.probe(images, training=False), reduce_retracing=True
        )

    @property
    def explain_fn(self):
        """:meth:`explain_tensors` as a ``tf.function`` (traced once per batch shape).

        What :meth:`__call__` runs on each batch; call it with float32 ``[B, H, W, C]`` and
        int64 ``[B]`` tensors (no input checks) to time or reuse the graph.
        """
        return self._explain_fn

    def probe_outputs(self, images: tf.Tensor) -> list[tf.Tensor]:
        """``probe(images, training=False)`` as a ``tf.function`` (traced once per batch
        shape): the conv activations, the scores and the probabilities of float32
        ``[B, H, W, C]`` images (no input checks). Called eagerly, the Keras model runs op by
        op, which for a small batch costs more than the ops themselves."""
        return self._probe_fn(images)

    # -- hook ---------------------------------------------------------------------------
    def get_cam_weights(self, activations, grads, images, class_index) -> tf.Tensor:
        """``[B, K]`` weights of the conv maps; each method overrides this."""
        raise NotImplementedError

    # -- phases -------------------------------------------------------------------------
    def forward_and_gradients(self, images, class_index):
        """Activations, d score[class] / d activations, scores, probabilities, class index."""
        with tf.GradientTape() as tape:
            acts, scores, probs = self.probe(images, training=False)
            ci = target_class_index(class_index, probs)
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

    def weighted_activations(self, activations, weights) -> tf.Tensor | None:
        """``[B, H', W', K]``: each map times its weight (``[B, K]`` or per position), what
        ``eigen_smooth`` decomposes; None for a method whose map is no weighted sum (the
        model-free baselines)."""
        if weights.shape.rank == 2:
            return activations * weights[:, None, None, :]
        return activations * weights

    def _single_pass(self, images, class_index, eigen_smooth: bool):
        acts, grads, scores, probs, ci = self.forward_and_gradients(images, class_index)
        weights = self.get_cam_weights(acts, grads, images, ci)
        weighted = self.weighted_activations(acts, weights) if eigen_smooth else None
        if weighted is None:
            cams = self.combine(acts, weights)
        else:
            cams = eigen_projection(weighted)
        maps = self.upsample(cams, tf.shape(images)[1:3])
        return acts, weights, scores, probs, ci, cams, maps

    def explain_tensors(
        self,
        images: tf.Tensor,
        class_index: tf.Tensor,
        *,
        aug_smooth: bool | None = None,
        eigen_smooth: bool | None = None,
    ) -> dict:
        """Pure-TensorFlow explanation of one batch (traceable into a SavedModel signature).

        Args:
            images: float32 ``[B, H, W, C]``.
            class_index: int64 ``[B]``; -1 picks the predicted class.
            aug_smooth, eigen_smooth: Python bools; None takes the constructor's.

        Returns:
            dict of tensors: maps, weights, scores, probabilities, class_index, activations_maps.
        """
        aug = self.aug_smooth if aug_smooth is None else bool(aug_smooth)
        eigen = self.eigen_smooth if eigen_smooth is None else bool(eigen_smooth)
        acts, weights, scores, probs, ci, cams, maps = self._single_pass(images, class_index, eigen)
        if aug:
            total = maps
            for flip, factor in AUGMENTATIONS[1:]:
                x = images * factor
                if flip:
                    x = tf.reverse(x, axis=[2])
                m = self._single_pass(x, ci, eigen)[-1]
                total += tf.reverse(m, axis=[2]) if flip else m
            maps = normalize_maps(total / float(len(AUGMENTATIONS)))
        return dict(
            maps=maps,
            weights=weights,
            scores=scores,
            probabilities=probs,
            class_index=ci,
            activations_maps=cams,
        )

    def export_tensors(self, images: tf.Tensor, class_index: tf.Tensor) -> dict:
        """:meth:`explain_tensors` for a SavedModel signature, or a clear error if this
        method cannot be exported.

        Raises:
            NotImplementedError: the method's :attr:`export_blocker` says why it cannot be
                saved (the message names the method).
        """
        if self.export_blocker is not None:
            raise NotImplementedError(
                f"{type(self).__name__} cannot be exported to a SavedModel: {self.export_blocker}"
            )
        return self.explain_tensors(images, class_index)

    def __call__(
        self,
        images,
        class_index=None,
        *,
        aug_smooth: bool | None = None,
        eigen_smooth: bool | None = None,
    ) -> CAMResult:
        """Explains ``images`` ([B, H, W, C] or one [H, W, C]) for ``class_index``.

        Args:
            images: float32 images as the model takes them.
            class_index: None (predicted class), one int for all, or one int per sample;
                -1 means the predicted class. A one-output model has classes 0 and 1.
            aug_smooth, eigen_smooth: the smoothing of this call (None: the constructor's).

        Raises:
            ValueError: bad image shape or values, or a bad class index.
        """
        images = check_images(images, self.image_model.input_shape)
        n_classes = int(self.image_model.output_shape[-1])
        ci = resolve_class_index(class_index, len(images), n_classes)
        options = {}
        if aug_smooth is not None:
            options["aug_smooth"] = bool(aug_smooth)
        if eigen_smooth is not None:
            options["eigen_smooth"] = bool(eigen_smooth)
        parts = []
        for start in range(0, len(images), self.batch_size):
            stop = start + self.batch_size
            batch = tf.constant(images[start:stop])
            out = self._explain_fn(batch, tf.constant(ci[start:stop]), **options)
            parts.append({k: v.numpy() for k, v in out.items()})
        return CAMResult(**{k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
