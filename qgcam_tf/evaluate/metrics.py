"""Faithfulness metrics for saliency maps, as small callable classes.

Every metric takes a ``predict_fn`` (float32 images ``[B, H, W, C]`` -> probabilities
``[B, n_classes]``), the images, their maps ``[B, H, W]`` and one target class per sample,
so it works for any model: the hybrid CNN + VQC, the classical twin, or a toy function in
a test. The batch work (ranking, masking, blurring, imputation) is pure TensorFlow.

* :class:`DeletionAUC` / :class:`InsertionAUC` (RISE): rank the pixels by the map, remove
  them (to a baseline) or insert them (into a blurred canvas) in ``steps`` equal steps,
  and integrate the class probability with the trapezoid rule over the fraction of
  pixels. Lower deletion and higher insertion are better.
* :class:`AverageDrop` / :class:`IncreaseInConfidence` (Grad-CAM++): the class
  probability of the image multiplied by its map, against that of the image.
* :class:`ROAD`: remove the most (MoRF) or least (LeRF) relevant 10..90 % of the pixels,
  fill them by noisy linear imputation, and read the class probability.
* :func:`map_stability`: agreement of two sets of maps (Pearson correlation, top-k IoU).

Ranking ties (e.g. the flat zero region of a ReLU'd map) are broken in a seeded random
order (``tie_seed``; None: by row-major index), so every metric is deterministic.

References:
    Petsiuk, Das, Saenko. RISE: Randomized Input Sampling for Explanation of Black-box
    Models. arXiv 1806.07421.
    Chattopadhyay et al. Grad-CAM++. arXiv 1710.11063.
    Rong, Leemann, Borisov, Kasneci, Kasneci. A Consistent and Efficient Evaluation
    Strategy for Attribution Methods (ROAD). arXiv 2202.00449.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf

__all__ = [
    "MetricResult",
    "check_inputs",
    "check_int",
    "class_probability",
    "DeletionAUC",
    "InsertionAUC",
    "AverageDrop",
    "IncreaseInConfidence",
    "ROAD",
    "map_stability",
    "gaussian_blur",
    "noisy_linear_impute",
    "pixel_ranks",
    "mean_ci",
    "trapezoid_auc",
]

EPSILON = 1e-7
ROAD_PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
# ROAD's neighbour weights: 1/6 for the 4 direct neighbours, 1/12 for the 4 diagonal ones.
_ROAD_KERNEL = np.array([[1, 2, 1], [2, 0, 2], [1, 2, 1]], np.float32) / 12.0

PredictFn = Callable[[tf.Tensor], tf.Tensor]


@dataclasses.dataclass
class MetricResult:
    """Per-sample values of a metric (NumPy).

    Attributes:
        values: ``[B]`` the metric of each sample.
        curves: ``[B, T]`` the class probability along the metric's steps (None if none).
        x: ``[T]`` the abscissa of the curves (fraction of pixels or percentile).
        extra: further per-sample arrays (e.g. ROAD's ``morf`` and ``lerf``).
    """

    values: np.ndarray
    curves: np.ndarray | None = None
    x: np.ndarray | None = None
    extra: dict = dataclasses.field(default_factory=dict)


# -- input checks and shared helpers --------------------------------------------------------
def check_inputs(images, maps, class_index):
    """``(images [B, H, W, C], maps [B, H, W], class_index [B] int64)`` as tensors, checked:
    the shapes agree and the class indices are ints >= 0, one per sample (ValueError)."""
    images = tf.convert_to_tensor(images, tf.float32)
    maps = tf.convert_to_tensor(maps, tf.float32)
    if images.shape.rank != 4:
        raise ValueError(f"images must be [B, H, W, C], got shape {images.shape}")
    if maps.shape.rank != 3 or maps.shape != images.shape[:3]:
        raise ValueError(f"maps must be [B, H, W] = {images.shape[:3]}, got shape {maps.shape}")
    ci = np.asarray(class_index)
    if ci.dtype.kind not in "iu" or ci.shape != (images.shape[0],):
        raise ValueError(
            f"class_index must be {images.shape[0]} ints (one per sample), got {class_index!r}"
        )
    if np.any(ci < 0):
        raise ValueError(f"class_index must be >= 0, got {ci.min()}")
    return images, maps, tf.constant(ci, tf.int64)


def check_int(name: str, value, low: int) -> int:
    """``value`` as an int, which must be ``>= low`` (ValueError naming ``name``)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def class_probability(
    predict_fn: PredictFn, images: tf.Tensor, class_index: tf.Tensor
) -> tf.Tensor:
    """``predict_fn(images)[b, class_index[b]]`` ``[B]``; ValueError if ``predict_fn`` does not
    return ``[B, n_classes]``."""
    probs = tf.convert_to_tensor(predict_fn(images), tf.float32)
    if probs.shape.rank != 2 or probs.shape[0] != images.shape[0]:
        raise ValueError(
            f"predict_fn must return [B, n_classes] with B={images.shape[0]}, got {probs.shape}"
        )
    return tf.gather(probs, class_index, axis=1, batch_dims=1)


def pixel_ranks(maps: tf.Tensor, *, tie_seed: int | None = None) -> tf.Tensor:
    """Rank of each pixel, 0 = most salient: int32 ``[B, H, W]``.

    Args:
        maps: ``[B, H, W]`` saliency maps.
        tie_seed: None breaks ties by row-major index; an int breaks them in a seeded
            random order. ReLU'd CAM maps are exactly 0 on large regions; ordering those
            row by row would delete the top rows (often background) first and bias the
            curves, so the metrics break ties at random by default.
    """
    maps = tf.convert_to_tensor(maps, tf.float32)
    flat = tf.reshape(maps, [tf.shape(maps)[0], -1])
    if tie_seed is None:
        order = tf.argsort(-flat, axis=1, stable=True)
    else:
        noise = tf.random.stateless_uniform(tf.shape(flat), seed=[int(tie_seed), 0])
        perm = tf.argsort(noise, axis=1)
        shuffled = tf.gather(flat, perm, axis=1, batch_dims=1)
        order = tf.gather(perm, tf.argsort(-shuffled, axis=1, stable=True), axis=1, batch_dims=1)
    ranks = tf.argsort(order, axis=1, stable=True)
    return tf.reshape(ranks, tf.shape(maps))


def trapezoid_auc(curves: np.ndarray) -> np.ndarray:
    """Trapezoid area under ``[B, T]`` curves sampled on an even grid of [0, 1]."""
    return (curves[:, 1:] + curves[:, :-1]).sum(axis=1) / (2.0 * (curves.shape[1] - 1))


def gaussian_blur(images: tf.Tensor, *, sigma: float, kernel_size: int | None = None) -> tf.Tensor:
    """Separable Gaussian blur of ``[B, H, W, C]`` with reflected borders (pure TF)."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    half = int(math.ceil(2 * sigma)) if kernel_size is None else int(kernel_size) // 2
    x = np.arange(-half, half + 1, dtype=np.float32)
    k = np.exp(-(x**2) / (2 * sigma**2))
    k = tf.constant(k / k.sum())
    images = tf.convert_to_tensor(images, tf.float32)
    channels = images.shape[-1]
    h, w = images.shape[1], images.shape[2]
    pad_h, pad_w = min(half, h - 1), min(half, w - 1)  # SYMMETRIC padding cannot exceed the size
    kh = tf.tile(tf.reshape(k[half - pad_h : half + pad_h + 1], [-1, 1, 1, 1]), [1, 1, channels, 1])
    kw = tf.tile(tf.reshape(k[half - pad_w : half + pad_w + 1], [1, -1, 1, 1]), [1, 1, channels, 1])
    kh, kw = kh / tf.reduce_sum(kh[:, :, :1]), kw / tf.reduce_sum(kw[:, :, :1])
    out = tf.pad(images, [[0, 0], [pad_h, pad_h], [0, 0], [0, 0]], mode="SYMMETRIC")
    out = tf.nn.depthwise_conv2d(out, kh, [1, 1, 1, 1], "VALID")
    out = tf.pad(out, [[0, 0], [0, 0], [pad_w, pad_w], [0, 0]], mode="SYMMETRIC")
    return tf.nn.depthwise_conv2d(out, kw, [1, 1, 1, 1], "VALID")


# -- RISE deletion / insertion -------------------------------------------------------------
class _RankedPixelCurve:
    """Moves pixels from a start image to an end image in map order; AUC of the probability."""

    def __init__(self, *, steps: int = 28, tie_seed: int | None = 0):
        self.steps = check_int("steps", steps, 1)
        self.tie_seed = tie_seed

    def endpoints(self, images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(start canvas, final canvas); the salient pixels go from start to final first."""
        raise NotImplementedError

    def __call__(self, predict_fn: PredictFn, images, maps, class_index) -> MetricResult:
        """Per-sample AUC and the ``[B, steps + 1]`` probability curves.

        Args:
            predict_fn: images ``[B, H, W, C]`` -> probabilities ``[B, n_classes]``.
            images: ``[B, H, W, C]`` float images.
            maps: ``[B, H, W]`` saliency maps (higher = more important).
            class_index: ``[B]`` ints, the class whose probability is followed.

        Raises:
            ValueError: shapes disagree or class_index is not one int per sample.
        """
        images, maps, ci = check_inputs(images, maps, class_index)
        start, end = self.endpoints(images)
        ranks = pixel_ranks(maps, tie_seed=self.tie_seed)[..., None]
        n_pixels = int(images.shape[1] * images.shape[2])
        curve = []
        for k in range(self.steps + 1):
            moved = ranks < int(round(k * n_pixels / self.steps))
            curve.append(class_probability(predict_fn, tf.where(moved, end, start), ci))
        curves = tf.stack(curve, axis=1).numpy()
        x = np.linspace(0.0, 1.0, self.steps + 1)
        return MetricResult(values=trapezoid_auc(curves), curves=curves, x=x)


class DeletionAUC(_RankedPixelCurve):
    """RISE deletion: the most salient pixels are set to ``baseline`` first (lower is better).

    Args:
        steps: number of equal steps from no pixel to all pixels removed.
        baseline: value a removed pixel takes (0 = black, as in RISE).
        tie_seed: how equal map values are ordered (:func:`pixel_ranks`).
    """

    def __init__(self, *, steps: int = 28, baseline: float = 0.0, tie_seed: int | None = 0):
        super().__init__(steps=steps, tie_seed=tie_seed)
        self.baseline = float(baseline)

    def endpoints(self, images):
        return images, tf.fill(tf.shape(images), self.baseline)


class InsertionAUC(_RankedPixelCurve):
    """RISE insertion: salient pixels are copied onto a blurred canvas first (higher is better).

    Args:
        steps: number of equal steps from the blurred image to the full image.
        blur_sigma: standard deviation (pixels) of the Gaussian blur of the canvas. RISE
            used 5 on 224-pixel images; the default suits 28-pixel digits.
        tie_seed: how equal map values are ordered (:func:`pixel_ranks`).
    """

    def __init__(self, *, steps: int = 28, blur_sigma: float = 2.0, tie_seed: int | None = 0):
        super().__init__(steps=steps, tie_seed=tie_seed)
        if not blur_sigma > 0:
            raise ValueError(f"blur_sigma must be > 0, got {blur_sigma!r}")
        self.blur_sigma = float(blur_sigma)

    def endpoints(self, images):
        return gaussian_blur(images, sigma=self.blur_sigma), images


# -- Grad-CAM++ confidence metrics ------------------------------------------------------------
def _masked_confidence(predict_fn, images, maps, class_index):
    images, maps, ci = check_inputs(images, maps, class_index)
    original = class_probability(predict_fn, images, ci)
    explained = class_probability(predict_fn, images * maps[..., None], ci)
    return original.numpy(), explained.numpy()


class AverageDrop:
    """Per-sample ``max(0, Y - O) / Y`` (in %), Y the class probability of the image and O
    that of the image multiplied by its map; its mean is Grad-CAM++'s Average Drop (lower is
    better)."""

    def __call__(self, predict_fn: PredictFn, images, maps, class_index) -> MetricResult:
        y, o = _masked_confidence(predict_fn, images, maps, class_index)
        return MetricResult(
            values=100.0 * np.maximum(0.0, y - o) / (y + EPSILON),
            extra={"original": y, "explained": o},
        )


class IncreaseInConfidence:
    """Per-sample ``100 * [O > Y]``; its mean is Grad-CAM++'s Increase in Confidence (higher is
    better)."""

    def __call__(self, predict_fn: PredictFn, images, maps, class_index) -> MetricResult:
        y, o = _masked_confidence(predict_fn, images, maps, class_index)
        return MetricResult(
            values=100.0 * (o > y).astype(np.float64), extra={"original": y, "explained": o}
        )


# -- ROAD ---------------------------------------------------------------------------------------
def noisy_linear_impute(
    images,
    removed,
    *,
    noise: float = 0.01,
    iterations: int = 300,
    tolerance: float = 1e-6,
    seed: int | None = None,
) -> tf.Tensor:
    """Fills removed pixels from their neighbours (ROAD's noisy linear imputation, pure TF).

    Each removed pixel :math:`p` satisfies :math:`\\sum_n w_{pn}(x_p - x_n) = 0` over its
    in-image 8-neighbours (:math:`w` = 1/6 direct, 1/12 diagonal), i.e. it is the weighted
    mean of its neighbours; known pixels are fixed. The system is the graph Laplacian
    restricted to the removed pixels (symmetric positive definite when every removed
    region touches a known pixel), solved per image and channel by conjugate gradients.
    Gaussian noise of std ``noise`` is then added to the imputed pixels only.

    Args:
        images: ``[B, H, W, C]`` float images.
        removed: ``[B, H, W]`` bool, True where a pixel is removed (all its channels).
        noise: std of the noise added to imputed values (0 = plain linear imputation).
        iterations: maximum conjugate-gradient iterations.
        tolerance: stop when every residual norm is below this.
        seed: seed of the noise.

    Returns:
        ``[B, H, W, C]`` float32 images with the removed pixels filled.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    b, h, w, c = images.shape
    x = tf.reshape(tf.transpose(images, [0, 3, 1, 2]), [b * c, h, w, 1])
    mask = tf.cast(tf.convert_to_tensor(removed), tf.float32)
    mask = tf.reshape(tf.repeat(mask[:, None], c, axis=1), [b * c, h, w, 1])
    kernel = tf.constant(_ROAD_KERNEL[:, :, None, None])

    def neighbours(v):
        return tf.nn.conv2d(v, kernel, 1, "SAME")  # zero padding: no neighbours outside

    degree = neighbours(tf.ones_like(x))

    def apply(v):  # L_RR v for v supported on the removed pixels
        return mask * (degree * v - neighbours(mask * v))

    rhs = mask * neighbours((1.0 - mask) * x)
    sol = tf.zeros_like(x)
    r = rhs
    p = r
    rs = tf.reduce_sum(r * r, axis=[1, 2, 3], keepdims=True)
    for _ in range(check_int("iterations", iterations, 1)):
        if float(tf.reduce_max(rs)) < tolerance**2:
            break
        ap = apply(p)
        alpha = rs / (tf.reduce_sum(p * ap, axis=[1, 2, 3], keepdims=True) + 1e-30)
        sol = sol + alpha * p
        r = r - alpha * ap
        rs_new = tf.reduce_sum(r * r, axis=[1, 2, 3], keepdims=True)
        p = r + (rs_new / (rs + 1e-30)) * p
        rs = rs_new
    if noise > 0:
        gen = (
            tf.random.Generator.from_seed(seed)
            if seed is not None
            else tf.random.Generator.from_non_deterministic_state()
        )
        sol = sol + mask * float(noise) * gen.normal(tf.shape(sol))
    out = (1.0 - mask) * x + mask * sol
    return tf.transpose(tf.reshape(out, [b, c, h, w]), [0, 2, 3, 1])


class ROAD:
    """ROAD: class probability after removing the most / least relevant pixels, imputed.

    For each percentile p in ``percentiles`` the top p % (MoRF) or bottom p % (LeRF) of
    the pixels by the map are removed and filled by :func:`noisy_linear_impute`.
    ``values`` is the combined score
    :math:`\\frac{1}{|P|}\\sum_p (\\mathrm{LeRF}_p - \\mathrm{MoRF}_p)/2`
    (higher is better); ``extra`` holds the ``morf`` and ``lerf`` curves ``[B, |P|]``.

    Args:
        percentiles: removal percentages in (0, 100).
        noise: std of the imputation noise.
        seed: seed of the noise and of the order of equal map values (:func:`pixel_ranks`).
    """

    def __init__(self, *, percentiles=ROAD_PERCENTILES, noise: float = 0.01, seed: int | None = 0):
        pct = tuple(float(p) for p in percentiles)
        if not pct or any(not 0 < p < 100 for p in pct):
            raise ValueError(f"percentiles must be in (0, 100), got {percentiles!r}")
        if not noise >= 0:
            raise ValueError(f"noise must be >= 0, got {noise!r}")
        self.percentiles, self.noise, self.seed = pct, float(noise), seed

    def __call__(self, predict_fn: PredictFn, images, maps, class_index) -> MetricResult:
        images, maps, ci = check_inputs(images, maps, class_index)
        ranks = pixel_ranks(maps, tie_seed=self.seed)
        n_pixels = int(images.shape[1] * images.shape[2])
        morf, lerf = [], []
        for i, p in enumerate(self.percentiles):
            n = int(round(p * n_pixels / 100.0))
            seed = None if self.seed is None else self.seed + 2 * i
            most = noisy_linear_impute(images, ranks < n, noise=self.noise, seed=seed)
            least = noisy_linear_impute(
                images,
                ranks >= n_pixels - n,
                noise=self.noise,
                seed=None if seed is None else seed + 1,
            )
            morf.append(class_probability(predict_fn, most, ci))
            lerf.append(class_probability(predict_fn, least, ci))
        morf, lerf = tf.stack(morf, 1).numpy(), tf.stack(lerf, 1).numpy()
        return MetricResult(
            values=np.mean(lerf - morf, axis=1) / 2.0,
            curves=morf,
            x=np.asarray(self.percentiles),
            extra={"morf": morf, "lerf": lerf},
        )


# -- stability ----------------------------------------------------------------------------------
def map_stability(
    maps_a, maps_b, *, top_fraction: float = 0.2, tie_seed: int | None = 0
) -> dict[str, np.ndarray]:
    """Agreement of two sets of maps of the same images, per sample.

    Args:
        maps_a: ``[B, H, W]`` maps.
        maps_b: ``[B, H, W]`` maps (e.g. of noisy copies of the images, or another method).
        top_fraction: fraction of pixels in the top-k sets compared by IoU.
        tie_seed: how equal values enter the top-k sets (:func:`pixel_ranks`).

    Returns:
        ``{"pearson": [B], "iou": [B]}``: Pearson correlation of the pixel values (0 where a
        map is constant) and intersection-over-union of the top ``top_fraction`` pixels.

    Raises:
        ValueError: the shapes differ or ``top_fraction`` is not in (0, 1].
    """
    a = tf.convert_to_tensor(maps_a, tf.float32)
    b = tf.convert_to_tensor(maps_b, tf.float32)
    if a.shape.rank != 3 or a.shape != b.shape:
        raise ValueError(f"maps_a and maps_b must both be [B, H, W], got {a.shape} and {b.shape}")
    if not 0 < top_fraction <= 1:
        raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction!r}")
    fa, fb = tf.reshape(a, [a.shape[0], -1]), tf.reshape(b, [b.shape[0], -1])
    da = fa - tf.reduce_mean(fa, 1, keepdims=True)
    db = fb - tf.reduce_mean(fb, 1, keepdims=True)
    denom = tf.sqrt(tf.reduce_sum(da * da, 1) * tf.reduce_sum(db * db, 1))
    pearson = tf.where(denom > EPSILON, tf.reduce_sum(da * db, 1) / tf.maximum(denom, EPSILON), 0.0)
    k = max(1, int(round(top_fraction * fa.shape[1])))
    top_a, top_b = pixel_ranks(a, tie_seed=tie_seed) < k, pixel_ranks(b, tie_seed=tie_seed) < k
    inter = tf.reduce_sum(tf.cast(top_a & top_b, tf.float32), axis=[1, 2])
    union = tf.reduce_sum(tf.cast(top_a | top_b, tf.float32), axis=[1, 2])
    return {"pearson": pearson.numpy(), "iou": (inter / union).numpy()}


def mean_ci(values, *, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of its confidence interval (Student t; 0 for one sample)."""
    v = np.asarray(values, np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("mean_ci needs at least one value")
    if v.size == 1:
        return float(v[0]), 0.0
    from scipy import stats

    t = stats.t.ppf(0.5 + confidence / 2.0, v.size - 1)
    return float(v.mean()), float(t * v.std(ddof=1) / math.sqrt(v.size))
