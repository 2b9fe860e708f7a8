"""The standard metric set of explainability toolkits, with Quantus's definitions.

Each metric follows the paper that defined it and the class of Quantus (Hedström et al.,
"Quantus: An Explainable AI Toolkit for Responsible Evaluation of Neural Network
Explanations and Beyond", JMLR 24(34), 2023; version 0.6) that implements it, named in
its docstring; where this module departs from Quantus's defaults it says so. The calling
conventions are those of :mod:`qgcam_tf.evaluate.metrics`: ``predict_fn`` maps float32
images ``[B, H, W, C]`` to probabilities ``[B, n_classes]``, maps are ``[B, H, W]`` (one
value per pixel, shared by its channels), ``class_index`` is one int per sample, and each
metric returns a :class:`~qgcam_tf.evaluate.metrics.MetricResult` with one value per
sample. Perturbations are batched in TensorFlow; every random draw is seeded.

* Faithfulness: :class:`FaithfulnessCorrelation`, :class:`PixelFlipping`,
  :class:`RegionPerturbation`.
* Robustness: :class:`MaxSensitivity`, :class:`AvgSensitivity` (they take an
  ``explain_fn`` rather than a ``predict_fn``).
* Complexity: :class:`Sparseness` (Gini index), :class:`Complexity` (entropy).
* Localisation, where a ground-truth mask exists: :class:`PointingGame`,
  :class:`AttributionLocalisation`, :class:`EnergyPointingGame` (with the enrichment over a
  uniform map); on digits the mask is the ink (:func:`ink_masks`).
* Randomisation: :mod:`qgcam_tf.evaluate.sanity`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from qgcam_tf.evaluate.metrics import (
    EPSILON,
    MetricResult,
    PredictFn,
    check_inputs,
    check_int,
    class_probability,
    pixel_ranks,
)

__all__ = [
    "FaithfulnessCorrelation",
    "PixelFlipping",
    "RegionPerturbation",
    "MaxSensitivity",
    "AvgSensitivity",
    "sensitivities",
    "uniform_noise",
    "Sparseness",
    "Complexity",
    "PointingGame",
    "AttributionLocalisation",
    "INK_THRESHOLD",
    "ink_masks",
    "EnergyPointingGame",
]

# A pixel is ink when its value (mean over channels, images in [0, 1]) is above this.
INK_THRESHOLD = 0.5

ExplainFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _flat_maps(name: str, maps) -> np.ndarray:
    a = np.asarray(maps, np.float64)
    if a.ndim != 3:
        raise ValueError(f"{name} must be [B, H, W], got shape {a.shape}")
    return a.reshape(len(a), -1)


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of ``[B, T]`` arrays (0 where a row is constant)."""
    da, db = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    denom = np.sqrt((da * da).sum(1) * (db * db).sum(1))
    return np.where(denom > 0, (da * db).sum(1) / np.where(denom > 0, denom, 1.0), 0.0)


# -- faithfulness ---------------------------------------------------------------------------------
class FaithfulnessCorrelation:
    """Faithfulness Correlation (Bhatt, Weller, Moura, "Evaluating and Aggregating
    Feature-based Model Explanations", IJCAI 2020; ``quantus.FaithfulnessCorrelation``).

    ``runs`` times, a random subset of ``subset_size`` pixels of each image is set to
    ``baseline``; the value is the Pearson correlation, over the runs, between the sum of
    the map on the subset and the drop of the class probability
    :math:`f_c(x) - f_c(x_{S \\to b})`. 1: the map predicts exactly how much each set of
    pixels matters (higher is better). Quantus's defaults: 100 runs, 224 pixels (of a
    224 x 224 image), the ``"black"`` baseline, which Quantus takes as each image's minimum
    (0 on MNIST digits; here a fixed ``baseline``). Pearson is invariant to Quantus's
    normalisation of the map by its maximum, so it is not applied.

    Args:
        runs: random subsets per image.
        subset_size: pixels per subset (at most H * W).
        baseline: value of a removed pixel.
        seed: seed of the subsets.
    """

    def __init__(
        self, *, runs: int = 100, subset_size: int = 224, baseline: float = 0.0, seed: int = 0
    ):
        self.runs = check_int("runs", runs, 2)
        self.subset_size = check_int("subset_size", subset_size, 1)
        self.baseline, self.seed = float(baseline), int(seed)

    def __call__(self, predict_fn: PredictFn, images, maps, class_index) -> MetricResult:
        """Per-sample correlation; ``extra``: ``attribution_sums`` and ``deltas`` ``[B, runs]``.

        Raises:
            ValueError: shapes disagree or ``subset_size`` exceeds the pixel count.
        """
        images, maps, ci = check_inputs(images, maps, class_index)
        b, h, w = maps.shape
        if self.subset_size > h * w:
            raise ValueError(f"subset_size must be <= H * W = {h * w}, got {self.subset_size}")
        original = class_probability(predict_fn, images, ci)
        flat = tf.reshape(maps, [b, -1])
        sums, deltas = [], []
        for run in range(self.runs):
            noise = tf.random.stateless_uniform([b, h * w], seed=[self.seed, run])
            subset = tf.argsort(tf.argsort(noise, axis=1), axis=1) < self.subset_size
            removed = tf.reshape(subset, [b, h, w, 1])
            perturbed = tf.where(removed, self.baseline, images)
            deltas.append(original - class_probability(predict_fn, perturbed, ci))
            sums.append(tf.reduce_sum(tf.where(subset, flat, 0.0), axis=1))
        sums = tf.stack(sums, 1).numpy().astype(np.float64)
        deltas = tf.stack(deltas, 1).numpy().astype(np.float64)
        return MetricResult(
            values=_pearson(sums, deltas), extra={"attribution_sums": sums, "deltas": deltas}
        )


class PixelFlipping:
    """Pixel-Flipping (Bach et al., "On Pixel-Wise Explanations for Non-Linear Classifier
    Decisions by Layer-Wise Relevance Propagation", PLoS ONE 2015; ``quantus.PixelFlipping``).

    The pixels are set to ``baseline`` in decreasing order of the map, ``features_in_step``
    at a time; ``curves`` holds the class probability after each step
    (``ceil(H * W / features_in_step)`` values, without the unperturbed image, as in
    Quantus). ``values`` is the area under the curve over an x axis from 0 to 1 (lower is
    better): Quantus's ``return_auc_per_sample`` is the same trapezoid with spacing 1, i.e.
    ``values * (T - 1)`` for a curve of T points.

    Args:
        features_in_step: pixels flipped per step.
        baseline: value of a flipped pixel (Quantus's default ``"black"`` is the image's
            minimum: 0 on MNIST digits).
        tie_seed: how equal map values are ordered
            (:func:`~qgcam_tf.evaluate.metrics.pixel_ranks`; None: row-major, as NumPy's
            argsort in Quantus).
    """

    def __init__(
        self, *, features_in_step: int = 1, baseline: float = 0.0, tie_seed: int | None = 0
    ):
        self.features_in_step = check_int("features_in_step", features_in_step, 1)
        self.baseline, self.tie_seed = float(baseline), tie_seed

    def __call__(self, predict_fn: PredictFn, images, maps, class_index) -> MetricResult:
        """Per-sample AUC and the ``[B, T]`` curves (x: fraction of pixels flipped)."""
        images, maps, ci = check_inputs(images, maps, class_index)
        n = int(maps.shape[1] * maps.shape[2])
        ranks = pixel_ranks(maps, tie_seed=self.tie_seed)[..., None]
        counts = [
            min(n, (k + 1) * self.features_in_step)
            for k in range(math.ceil(n / self.features_in_step))
        ]
        curve = [
            class_probability(predict_fn, tf.where(ranks < c, self.baseline, images), ci)
            for c in counts
        ]
        curves = tf.stack(curve, 1).numpy().astype(np.float64)
        if curves.shape[1] == 1:
            values = curves[:, 0]
        else:
            values = np.trapezoid(curves, dx=1.0 / (curves.shape[1] - 1), axis=1)
        return MetricResult(values=values, curves=curves, x=np.asarray(counts) / n)


class RegionPerturbation:
    """Region Perturbation / AOPC (Samek, Binder, Montavon, Lapuschkin, Müller, "Evaluating
    the Visualization of What a Deep Neural Network Has Learned", IEEE TNNLS 2017;
    ``quantus.RegionPerturbation``).

    The image is cut into non-overlapping ``patch_size`` x ``patch_size`` patches (the last
    row / column of patches may be smaller), ranked by the sum of the map over each patch;
    the top ``regions`` patches (most relevant first, MoRF) are replaced one after another
    by uniform noise in [0, 1] (Quantus's default ``"uniform"`` baseline) or by a constant.
    ``curves[:, k] = f_c(x) - f_c(x^{(k)})`` for k = 0..regions, and ``values`` is the
    AOPC, the mean of that curve (higher is better). Quantus also lets patches overlap and
    skips overlapping ones; on a grid of whole patches both orderings agree.

    Args:
        patch_size: side of a patch in pixels.
        regions: patches perturbed (None: all).
        baseline: ``"uniform"`` or a float.
        seed: seed of the uniform noise and of the order of equal patch sums.
    """

    def __init__(
        self,
        *,
        patch_size: int = 4,
        regions: int | None = None,
        baseline: str | float = "uniform",
        seed: int = 0,
    ):
        self.patch_size = check_int("patch_size", patch_size, 1)
        self.regions = None if regions is None else check_int("regions", regions, 1)
        if not (baseline == "uniform" or isinstance(baseline, (int, float))):
            raise ValueError(f"baseline must be 'uniform' or a number, got {baseline!r}")
        self.baseline, self.seed = baseline, int(seed)

    def __call__(self, predict_fn: PredictFn, images, maps, class_index) -> MetricResult:
        """Per-sample AOPC and the ``[B, regions + 1]`` curves (x: patches perturbed)."""
        images, maps, ci = check_inputs(images, maps, class_index)
        b, h, w = maps.shape
        p = self.patch_size
        gh, gw = math.ceil(h / p), math.ceil(w / p)
        pad = tf.pad(maps, [[0, 0], [0, gh * p - h], [0, gw * p - w]])
        sums = tf.reduce_sum(tf.reshape(pad, [b, gh, p, gw, p]), axis=[2, 4])
        order = pixel_ranks(sums, tie_seed=self.seed)  # [B, gh, gw], 0 = most relevant
        rank = tf.repeat(tf.repeat(order, p, axis=1), p, axis=2)[:, :h, :w, None]
        if self.baseline == "uniform":
            fill = tf.random.stateless_uniform(tf.shape(images), seed=[self.seed, 1])
        else:
            fill = tf.fill(tf.shape(images), float(self.baseline))
        n_regions = gh * gw if self.regions is None else min(self.regions, gh * gw)
        original = class_probability(predict_fn, images, ci)
        curve = [
            original - class_probability(predict_fn, tf.where(rank < k, fill, images), ci)
            for k in range(n_regions + 1)
        ]
        curves = tf.stack(curve, 1).numpy().astype(np.float64)
        return MetricResult(values=curves.mean(axis=1), curves=curves, x=np.arange(n_regions + 1))


# -- robustness -----------------------------------------------------------------------------------
def uniform_noise(radius: float = 0.2, seed: int = 0):
    """Quantus's default perturbation for the sensitivities: ``x + U(-radius, radius)`` on
    every pixel (``quantus.functions.perturb_func.uniform_noise``; not clipped).

    Returns:
        ``perturb(images, sample) -> images``, seeded by ``(seed, sample)``.
    """
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius!r}")

    def perturb(images: np.ndarray, sample: int) -> np.ndarray:
        noise = tf.random.stateless_uniform(
            images.shape, seed=[int(seed), int(sample)], minval=-radius, maxval=radius
        )
        return (images + noise.numpy()).astype(np.float32)

    return perturb


def sensitivities(
    explain_fn: ExplainFn, images, maps, class_index, *, samples: int = 10, perturb=None
) -> np.ndarray:
    """``[B, samples]`` relative changes ``||e(x') - e(x)||_F / ||e(x)||_F`` of the maps.

    Args:
        explain_fn: ``(images [B, H, W, C], class_index [B]) -> maps [B, H, W]``.
        images: ``[B, H, W, C]`` images.
        maps: ``[B, H, W]`` the maps of ``images`` (``e(x)``).
        class_index: ``[B]`` the class each map explains (kept for the perturbed inputs).
        samples: perturbed copies per image.
        perturb: ``(images, sample) -> perturbed images``; default :func:`uniform_noise`.
    """
    images = np.asarray(images, np.float32)
    a = _flat_maps("maps", maps)
    if images.ndim != 4 or a.shape != (images.shape[0], images.shape[1] * images.shape[2]):
        raise ValueError(
            f"images [B, H, W, C] and maps [B, H, W] must agree, got {images.shape} and "
            f"{np.shape(maps)}"
        )
    perturb = uniform_noise() if perturb is None else perturb
    denom = np.linalg.norm(a, axis=1)
    out = np.zeros((len(a), check_int("samples", samples, 1)))
    for s in range(samples):
        b = _flat_maps("explain_fn output", explain_fn(perturb(images, s), class_index))
        out[:, s] = np.linalg.norm(b - a, axis=1) / np.maximum(denom, EPSILON)
    return out


class MaxSensitivity:
    """Max-Sensitivity (Yeh, Hsieh, Suggala, Inouye, Ravikumar, "On the (In)fidelity and
    Sensitivity of Explanations", NeurIPS 2019; ``quantus.MaxSensitivity``).

    The largest relative change :math:`\\max_{x'} \\|e(x') - e(x)\\|_F / \\|e(x)\\|_F` of
    the map over ``samples`` inputs ``x'`` near ``x`` (default: uniform noise of radius
    0.2 as in Quantus; Quantus draws 200 samples). Lower is better (a stable map).
    This is the standard name for what :func:`~qgcam_tf.evaluate.metrics.map_stability`
    measures with a similarity rather than a distance.

    Args:
        samples: perturbed copies per image.
        perturb: ``(images, sample) -> perturbed images``; default :func:`uniform_noise`.
    """

    reduce = staticmethod(np.max)

    def __init__(self, *, samples: int = 10, perturb=None):
        self.samples = check_int("samples", samples, 1)
        self.perturb = perturb

    def __call__(self, explain_fn: ExplainFn, images, maps, class_index) -> MetricResult:
        """Per-sample sensitivity; ``extra["sensitivities"]`` holds all ``[B, samples]``."""
        s = sensitivities(
            explain_fn, images, maps, class_index, samples=self.samples, perturb=self.perturb
        )
        return MetricResult(values=self.reduce(s, axis=1), extra={"sensitivities": s})


class AvgSensitivity(MaxSensitivity):
    """Avg-Sensitivity (Yeh et al. 2019; ``quantus.AvgSensitivity``): the mean instead of the
    max of :class:`MaxSensitivity`'s relative changes. Lower is better."""

    reduce = staticmethod(np.mean)


# -- complexity -----------------------------------------------------------------------------------
class Sparseness:
    """Sparseness (Chalasani, Chen, Chowdhury, Jha, Wu, "Concise Explanations of Neural
    Networks using Adversarial Training", ICML 2020; ``quantus.Sparseness``).

    The Gini index of :math:`|a|` sorted ascending:
    :math:`G = \\sum_{k=1}^{n} (2k - n - 1) a_{(k)} / (n \\sum_k a_{(k)})`, with Quantus's
    ``1e-7`` added to every value. 0: a flat map; ``(n - 1) / n``: one pixel holds all the
    relevance. Higher = sparser (a more concise map).
    """

    def __call__(self, maps) -> MetricResult:
        """Per-sample Gini index of ``maps`` ``[B, H, W]``."""
        a = np.sort(np.abs(_flat_maps("maps", maps)) + 1e-7, axis=1)
        n = a.shape[1]
        k = np.arange(1, n + 1)
        return MetricResult(values=((2 * k - n - 1) * a).sum(1) / (n * a.sum(1)))


class Complexity:
    """Complexity (Bhatt, Weller, Moura, IJCAI 2020; ``quantus.Complexity``).

    The entropy (natural log) of the fractional contributions :math:`p_i = |a_i| / \\sum_j
    |a_j|`: 0 when one pixel holds all the relevance, :math:`\\ln n` for a flat map. Lower
    = a simpler map. A map that is 0 everywhere has entropy 0.
    """

    def __call__(self, maps) -> MetricResult:
        """Per-sample entropy of ``maps`` ``[B, H, W]``."""
        a = np.abs(_flat_maps("maps", maps))
        p = a / np.maximum(a.sum(1, keepdims=True), 1e-300)
        return MetricResult(values=-(p * np.log(p + 1e-12)).sum(1))


# -- localisation ---------------------------------------------------------------------------------
def _masks(maps, masks):
    a = _flat_maps("maps", maps)
    s = np.asarray(masks)
    if s.shape != np.shape(maps):
        raise ValueError(f"masks must have the maps' shape {np.shape(maps)}, got {s.shape}")
    return a, s.reshape(len(a), -1).astype(bool)


class PointingGame:
    """Pointing Game (Zhang, Bargal, Lin, Brandt, Shen, Sclaroff, "Top-down Neural Attention
    by Excitation Backprop", IJCV 2018; ``quantus.PointingGame``).

    1 if a pixel where the map reaches its maximum lies inside the mask, else 0 (NaN for an
    empty mask). Its mean is the hit rate (higher is better).
    """

    def __call__(self, maps, masks) -> MetricResult:
        """Per-sample hit of ``maps`` ``[B, H, W]`` on bool ``masks`` ``[B, H, W]``."""
        a, s = _masks(maps, masks)
        hit = np.any(s & (a == a.max(1, keepdims=True)), axis=1).astype(np.float64)
        hit[s.sum(1) == 0] = np.nan
        return MetricResult(values=hit)


class AttributionLocalisation:
    """Attribution Localisation (Kohlbrenner, Bauer, Nakajima, Binder, Samek, Lapuschkin,
    "Towards Best Practice in Explaining Neural Network Decisions with LRP", IJCNN 2020;
    ``quantus.AttributionLocalisation``).

    The share of the relevance that falls inside the mask,
    :math:`\\sum_{i \\in S} |a_i| / \\sum_i |a_i|` (Quantus's default ``abs=True``; NaN
    for an empty mask). 1: all the relevance is on the object (higher is better).
    ``positive_only=True`` uses the positive part :math:`a_i^+` instead, as the paper does
    (Quantus: ``abs=False, positive_attributions=True``); CAM maps are non-negative, so
    both agree on them. ``weighted=True`` multiplies the share by the mask's share of the
    image ``|S| / (H * W)`` (the intent of Quantus's ``weighted``).

    Args:
        weighted: multiply by ``|S| / (H * W)``.
        positive_only: the positive part of the map rather than its absolute value.
    """

    def __init__(self, *, weighted: bool = False, positive_only: bool = False):
        self.weighted, self.positive_only = bool(weighted), bool(positive_only)

    def __call__(self, maps, masks) -> MetricResult:
        """Per-sample inside share of ``maps`` ``[B, H, W]`` for bool ``masks`` ``[B, H, W]``."""
        a, s = _masks(maps, masks)
        a = np.clip(a, 0.0, None) if self.positive_only else np.abs(a)
        ratio = (a * s).sum(1) / (a.sum(1) + 1e-9)
        if self.weighted:
            ratio = ratio * s.sum(1) / s.shape[1]
        ratio[s.sum(1) == 0] = np.nan
        return MetricResult(values=ratio)


def ink_masks(images, *, threshold: float = INK_THRESHOLD) -> np.ndarray:
    """The ink of each image as a mask: ``[B, H, W]`` bool, pixel mean over channels > threshold.

    On MNIST (white digits on black, values in [0, 1]) the mask is the digit's stroke.

    Args:
        images: ``[B, H, W, C]`` images in [0, 1].
        threshold: a finite number; pixels strictly above it are ink.

    Raises:
        ValueError: images are not ``[B, H, W, C]`` or the threshold is not finite.
    """
    x = np.asarray(images, np.float64)
    if x.ndim != 4:
        raise ValueError(f"images must be [B, H, W, C], got shape {x.shape}")
    if isinstance(threshold, bool) or not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    return x.mean(axis=-1) > float(threshold)


class EnergyPointingGame:
    """Energy-based pointing game (Wang, Wang, Du, Yang, Zhang, Ding, Mardziel, Hu,
    "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks",
    CVPR Workshops 2020, Sec. 4.2).

    The share of the map's positive energy inside the mask,
    :math:`\\sum_{i \\in S} a_i^+ / \\sum_i a_i^+`: what
    :class:`AttributionLocalisation` gives with ``positive_only=True`` (0 for a map with no
    positive value, NaN for an empty mask). With ``enrichment=True`` the share is divided
    by the mask's share of the image :math:`|S| / (H W)`: 1.0 is what a uniform map gets,
    above 1 the map puts more energy on the object than its area (Quantus's
    ``AttributionLocalisation(weighted=True)`` multiplies by that share instead, which
    rewards large masks, so it is not this number). Higher is better for both.

    Args:
        enrichment: divide the share by ``|S| / (H * W)``.
    """

    def __init__(self, *, enrichment: bool = False):
        self.enrichment = bool(enrichment)

    def __call__(self, maps, masks) -> MetricResult:
        """Per-sample energy share (or enrichment) of ``maps`` ``[B, H, W]`` on bool
        ``masks`` ``[B, H, W]``."""
        share = AttributionLocalisation(positive_only=True)(maps, masks).values
        if not self.enrichment:
            return MetricResult(values=share)
        _, s = _masks(maps, masks)
        area = s.sum(1) / s.shape[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            return MetricResult(
                values=np.where(area > 0, share / np.where(area > 0, area, 1), np.nan)
            )
