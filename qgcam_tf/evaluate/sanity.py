"""Sanity checks for saliency maps: model-parameter and data randomisation (Adebayo et al.).

A map that explains the model must change when the model's weights are replaced by random
ones. :func:`randomisation_test` re-initialises named parts of a copy of the model (the
quantum head, the Dense encoder, the conv blocks, or everything), explains the same images
for the same classes with every CAM method, and reports how similar the maps stay
(:func:`map_similarity`: Spearman rank correlation, SSIM, top-k overlap) with a confidence
interval per (method, step). High similarity after randomising a part means that part does
not decide the map; comparing "vqc" with "conv" says how much of an explanation the quantum
head decides. :func:`compare_models` is the data-randomisation test: the maps of a model
and of the same architecture trained on shuffled labels (training it is the caller's).

The user's model is never modified: each randomised model is a clone
(``keras.models.clone_model``) whose layers were built afresh with their own initializers
under ``keras.utils.set_random_seed(seed)``; the layers outside the randomised parts get
the trained weights back.

References:
    Adebayo, Gilmer, Muelly, Goodfellow, Hardt, Kim. Sanity Checks for Saliency Maps.
    NeurIPS 2018, arXiv 1810.03292 (Quantus: ``quantus.MPRT``, ``quantus.RandomLogit``).
    Wang, Bovik, Sheikh, Simoncelli. Image Quality Assessment: From Error Visibility to
    Structural Similarity. IEEE TIP 13(4), 2004 (SSIM).
"""

from __future__ import annotations

import numpy as np
import tf_keras as keras
from scipy import stats

from qgcam_tf.evaluate.metrics import mean_ci, pixel_ranks
from qgcam_tf.explain.cams import CAM_METHODS
from qgcam_tf.model.layers import CircuitLayer, VQCLayer

__all__ = [
    "PARTS",
    "RANDOMISATION_MODES",
    "SIMILARITIES",
    "mode_steps",
    "layer_part",
    "randomisation_steps",
    "randomised_model",
    "ssim",
    "map_similarity",
    "compare_models",
    "randomisation_test",
]

# Named parts of a model, in the order of a cascade from the top of the hybrid.
PARTS = ("vqc", "dense", "conv")
# How randomisation_steps orders the parts: each alone, the cascade from the top, or both.
RANDOMISATION_MODES = ("independent", "cascading", "both")
SIMILARITIES = ("spearman", "ssim", "topk_overlap")
_CONV_TYPES = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.BatchNormalization,
)


def layer_part(layer) -> str | None:
    """The named part of ``layer``: "vqc", "dense", "conv", "other" (weights but none of
    those) or None (no weights).

    "vqc": :class:`~qgcam_tf.model.layers.VQCLayer`, :class:`~qgcam_tf.model.layers.CircuitLayer`
    and TensorFlow Quantum layers; "dense": ``Dense``; "conv": convolutions (including
    separable / depthwise ones, subclasses of ``Conv2D``) and ``BatchNormalization``.
    """
    if not layer.weights:
        return None
    if isinstance(layer, (VQCLayer, CircuitLayer)) or type(layer).__module__.startswith(
        "tensorflow_quantum"
    ):
        return "vqc"
    if isinstance(layer, keras.layers.Dense):
        return "dense"
    if isinstance(layer, _CONV_TYPES):
        return "conv"
    return "other"


def _parts_present(model) -> list[str]:
    """The parts of ``model`` from the output down (by the last layer of each part)."""
    last = {}
    for i, layer in enumerate(model.layers):
        part = layer_part(layer)
        if part in PARTS:
            last[part] = i
    return sorted(last, key=lambda p: -last[p])


def randomisation_steps(model, *, mode: str = "independent") -> list[tuple[str, tuple[str, ...]]]:
    """The randomisation steps of ``model``: ``[(step name, parts randomised), ...]``.

    Args:
        model: a Keras model; its parts are found from its layers (:func:`layer_part`).
        mode: ``"independent"``: each part alone (``vqc``, ``dense``, ``conv`` where the
            model has them, top first), then ``all`` (every layer with weights, the
            ``Scale`` of the hybrid included); ``"cascading"``: Adebayo's cascade from the
            top, each step adding the next part down (``vqc``, ``vqc+dense``,
            ``vqc+dense+conv``), then ``all``; ``"both"``: the independent steps, then the
            cascade's steps that are not among them (``vqc+dense``, ``vqc+dense+conv``),
            then ``all``, so that one run gives both tables without repeating a step.

    Raises:
        ValueError: unknown mode, or a model with no randomisable part.
    """
    if mode not in RANDOMISATION_MODES:
        raise ValueError(f"mode must be one of {list(RANDOMISATION_MODES)}, got {mode!r}")
    parts = _parts_present(model)
    if not parts:
        raise ValueError(f"model {model.name!r} has no vqc, dense or conv layer to randomise")
    single = [(p, (p,)) for p in parts]
    cascade = [("+".join(parts[: i + 1]), tuple(parts[: i + 1])) for i in range(len(parts))]
    if mode == "independent":
        steps = single
    elif mode == "cascading":
        steps = cascade
    else:
        steps = single + [s for s in cascade if s not in single]
    return [*steps, ("all", (*PARTS, "other"))]


def mode_steps(step_names, mode: str) -> list[str]:
    """The names among ``step_names`` that belong to ``mode``'s table, in its order.

    ``"independent"``: the single parts and ``all``; ``"cascading"``: the steps of the
    cascade from the top (each adds the next part down: the first part alone, then the
    names joined by ``+``) and ``all``. Use it to cut the rows of a ``mode="both"`` run
    into the two tables.

    Raises:
        ValueError: ``mode`` is not ``"independent"`` or ``"cascading"``.
    """
    if mode not in ("independent", "cascading"):
        raise ValueError(f"mode must be 'independent' or 'cascading', got {mode!r}")
    names = list(dict.fromkeys(step_names))
    parts = [n for n in names if n in PARTS]
    if mode == "independent":
        return [*parts, *(["all"] if "all" in names else [])]
    joined = [n for n in names if "+" in n]
    top = joined[0].split("+")[0] if joined else (parts[0] if parts else None)
    return [*([top] if top in names else []), *joined, *(["all"] if "all" in names else [])]


def randomised_model(model, parts, *, seed: int = 0):
    """A copy of ``model`` whose layers of ``parts`` are re-initialised; ``model`` is untouched.

    Every layer of the clone is built with its own initializers (e.g. ``glorot_uniform``
    kernels, zero biases, ``VQCLayer`` angles uniform in [0, 2 pi)); the layers whose
    :func:`layer_part` is not in ``parts`` then get ``model``'s weights back. BatchNorm's
    moving statistics count as weights of a "conv" layer (mean 0, variance 1 after).

    Args:
        model: a built functional or sequential Keras model.
        parts: names among :data:`PARTS` and ``"other"``.
        seed: passed to ``keras.utils.set_random_seed`` before the clone is built (this
            seeds Python's, NumPy's and TensorFlow's global generators, as that call does).

    Raises:
        ValueError: an unknown part name.
    """
    parts = tuple(parts) if not isinstance(parts, str) else (parts,)
    bad = [p for p in parts if p not in (*PARTS, "other")]
    if not parts or bad:
        raise ValueError(f"parts must be among {[*PARTS, 'other']}, got {bad or list(parts)!r}")
    keras.utils.set_random_seed(int(seed))
    clone = keras.models.clone_model(model)
    for old in model.layers:
        if old.weights and layer_part(old) not in parts:
            clone.get_layer(old.name).set_weights(old.get_weights())
    return clone


# -- similarity of two sets of maps -----------------------------------------------------------
def _as_maps(name: str, maps) -> np.ndarray:
    a = np.asarray(maps, np.float64)
    if a.ndim != 3:
        raise ValueError(f"{name} must be [B, H, W] maps, got shape {a.shape}")
    return a


def ssim(maps_a, maps_b, *, win_size: int = 7) -> np.ndarray:
    """Mean structural similarity of each pair of maps, as Quantus computes it: ``[B]``.

    The definition of ``skimage.metrics.structural_similarity`` with its defaults
    (``K1 = 0.01``, ``K2 = 0.03``, uniform ``win_size`` x ``win_size`` windows, sample
    covariances), averaged over the windows that lie inside the map, with ``data_range``
    the max minus the min over both maps (``quantus.functions.similarity_func.ssim``).

    Args:
        maps_a: ``[B, H, W]`` maps.
        maps_b: ``[B, H, W]`` maps.
        win_size: odd window side; clipped to the largest odd number <= min(H, W).

    Raises:
        ValueError: shapes differ or the window is not an odd int >= 1.
    """
    a, b = _as_maps("maps_a", maps_a), _as_maps("maps_b", maps_b)
    if a.shape != b.shape:
        raise ValueError(f"maps_a and maps_b must have one shape, got {a.shape} and {b.shape}")
    if (
        isinstance(win_size, bool)
        or not isinstance(win_size, int)
        or win_size < 1
        or win_size % 2 == 0
    ):
        raise ValueError(f"win_size must be an odd int >= 1, got {win_size!r}")
    side = min(a.shape[1:])
    win = min(win_size, side if side % 2 else side - 1)
    data_range = np.maximum(a, b).max(axis=(1, 2)) - np.minimum(a, b).min(axis=(1, 2))
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    view = np.lib.stride_tricks.sliding_window_view
    wa, wb = view(a, (win, win), axis=(1, 2)), view(b, (win, win), axis=(1, 2))
    n = win * win
    ua, ub = wa.mean(axis=(-1, -2)), wb.mean(axis=(-1, -2))
    norm = n / (n - 1) if n > 1 else 1.0
    vaa = norm * ((wa * wa).mean(axis=(-1, -2)) - ua * ua)
    vbb = norm * ((wb * wb).mean(axis=(-1, -2)) - ub * ub)
    vab = norm * ((wa * wb).mean(axis=(-1, -2)) - ua * ub)
    c1, c2 = c1[:, None, None], c2[:, None, None]
    s = ((2 * ua * ub + c1) * (2 * vab + c2)) / ((ua**2 + ub**2 + c1) * (vaa + vbb + c2))
    return s.mean(axis=(1, 2))


def map_similarity(
    maps_a, maps_b, *, top_fraction: float = 0.2, win_size: int = 7, tie_seed: int | None = 0
) -> dict[str, np.ndarray]:
    """How alike two sets of maps of the same images are, per sample.

    Args:
        maps_a: ``[B, H, W]`` maps (e.g. of the trained model).
        maps_b: ``[B, H, W]`` maps (e.g. of a randomised model).
        top_fraction: fraction of pixels in the top-k sets.
        win_size: SSIM window (:func:`ssim`).
        tie_seed: how equal values enter the top-k sets
            (:func:`~qgcam_tf.evaluate.metrics.pixel_ranks`).

    Returns:
        ``{"spearman": [B], "ssim": [B], "topk_overlap": [B]}``: Spearman rank correlation
        of the pixel values (average ranks for ties; 0 where a map is constant), :func:`ssim`,
        and ``|top_k(a) & top_k(b)| / k`` with ``k = round(top_fraction * H * W)``.

    Raises:
        ValueError: shapes differ or ``top_fraction`` is not in (0, 1].
    """
    a, b = _as_maps("maps_a", maps_a), _as_maps("maps_b", maps_b)
    if a.shape != b.shape:
        raise ValueError(f"maps_a and maps_b must have one shape, got {a.shape} and {b.shape}")
    if not 0 < top_fraction <= 1:
        raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction!r}")
    fa, fb = a.reshape(len(a), -1), b.reshape(len(b), -1)
    ra, rb = stats.rankdata(fa, axis=1), stats.rankdata(fb, axis=1)
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    denom = np.sqrt((ra * ra).sum(1) * (rb * rb).sum(1))
    spearman = np.where(denom > 0, (ra * rb).sum(1) / np.where(denom > 0, denom, 1.0), 0.0)
    k = max(1, int(round(top_fraction * fa.shape[1])))
    top_a = pixel_ranks(a.astype(np.float32), tie_seed=tie_seed).numpy() < k
    top_b = pixel_ranks(b.astype(np.float32), tie_seed=tie_seed).numpy() < k
    overlap = (top_a & top_b).sum(axis=(1, 2)) / k
    return {"spearman": spearman, "ssim": ssim(a, b, win_size=win_size), "topk_overlap": overlap}


# -- the tests ----------------------------------------------------------------------------------
def _check_methods(methods) -> list[str]:
    methods = [methods] if isinstance(methods, str) else list(methods)
    bad = [m for m in methods if m not in CAM_METHODS]
    if not methods or bad:
        raise ValueError(f"methods must be among {sorted(CAM_METHODS)}, got {bad or methods!r}")
    return methods


def _maps(model, method, images, class_index, *, batch_size, score_layer, seed):
    kwargs = {"seed": seed} if method == "random" else {}
    cam = CAM_METHODS[method](model, score_layer=score_layer, batch_size=batch_size, **kwargs)
    return np.concatenate(
        [
            cam(images[i : i + batch_size], class_index=class_index[i : i + batch_size]).maps
            for i in range(0, len(images), batch_size)
        ]
    )


def _rows(label, step, sims, confidence):
    rows = []
    for name in SIMILARITIES:
        mean, half = mean_ci(sims[name], confidence=confidence)
        rows.append(
            dict(method=label, step=step, metric=name, mean=mean, ci=half, n=len(sims[name]))
        )
    return rows


def _prepare(model, images, class_index, batch_size):
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got shape {images.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if class_index is None:
        probs = np.concatenate(
            [
                np.asarray(model(images[i : i + batch_size], training=False))
                for i in range(0, len(images), batch_size)
            ]
        )
        return images, np.argmax(probs, axis=1).astype(np.int64)
    ci = np.asarray(class_index)
    if ci.dtype.kind not in "iu" or ci.shape != (len(images),):
        raise ValueError(f"class_index must be {len(images)} ints, got {class_index!r}")
    return images, ci.astype(np.int64)


def compare_models(
    model_a,
    model_b,
    images,
    *,
    methods=tuple(CAM_METHODS),
    class_index=None,
    score_layer: str | None = None,
    batch_size: int = 64,
    top_fraction: float = 0.2,
    seed: int = 0,
    confidence: float = 0.95,
    step: str = "data",
    labels: dict | None = None,
) -> list[dict]:
    """Similarity of the maps of two models, per CAM method (the data-randomisation test).

    Pass the trained model and the same architecture trained on shuffled labels: a method
    that passes the test gives dissimilar maps (low similarity). Both models explain the
    same class per image (``class_index``, default ``model_a``'s predicted class).

    Args:
        model_a: the reference model (with a ``qgcam_conv`` layer, as every CAM needs).
        model_b: the model to compare.
        images: ``[N, H, W, C]`` float32 images.
        methods: keys of :data:`~qgcam_tf.explain.cams.CAM_METHODS`.
        class_index: ``[N]`` ints, or None for ``model_a``'s predictions.
        score_layer: the CAMs' score layer (None: each method's default).
        batch_size: images per CAM batch.
        top_fraction: top-k fraction of :func:`map_similarity`.
        seed: the seed of the ``random`` baseline method.
        confidence: level of the intervals.
        step: the ``step`` value of the rows.
        labels: row label per method (default: the method name), e.g. ``twin:qgradcam``.

    Returns:
        Rows ``{method, step, metric, mean, ci, n}``, one per method and similarity
        (:data:`SIMILARITIES`); ``ci`` is the half-width of the interval.
    """
    methods = _check_methods(methods)
    images, ci = _prepare(model_a, images, class_index, batch_size)
    rows = []
    for method in methods:
        kw = dict(batch_size=batch_size, score_layer=score_layer, seed=seed)
        sims = map_similarity(
            _maps(model_a, method, images, ci, **kw),
            _maps(model_b, method, images, ci, **kw),
            top_fraction=top_fraction,
        )
        rows += _rows((labels or {}).get(method, method), step, sims, confidence)
    return rows


def randomisation_test(
    model,
    images,
    *,
    methods=tuple(CAM_METHODS),
    steps=None,
    mode: str = "independent",
    class_index=None,
    score_layer: str | None = None,
    batch_size: int = 64,
    top_fraction: float = 0.2,
    seed: int = 0,
    confidence: float = 0.95,
    labels: dict | None = None,
) -> list[dict]:
    """Model-parameter randomisation test (Adebayo et al. 2018; ``quantus.MPRT``).

    For each step (:func:`randomisation_steps`), a :func:`randomised_model` explains the
    same images for the same classes as ``model``; the rows give the mean similarity of
    its maps to ``model``'s, with a confidence interval, per method and step. Lower
    similarity = the map depends more on the randomised part.

    Args:
        model: the trained model (hybrid or classical twin); not modified.
        images: ``[N, H, W, C]`` float32 images.
        methods: keys of :data:`~qgcam_tf.explain.cams.CAM_METHODS`.
        steps: ``[(step name, parts), ...]``, default ``randomisation_steps(model, mode=mode)``.
        mode: see :func:`randomisation_steps`.
        class_index: ``[N]`` ints, or None for ``model``'s predictions.
        score_layer: the CAMs' score layer (None: each method's default).
        batch_size: images per CAM batch.
        top_fraction: top-k fraction of :func:`map_similarity`.
        seed: seeds the re-initialisation (each step ``seed + i``) and the ``random`` method.
        confidence: level of the intervals.
        labels: row label per method (default: the method name).

    Returns:
        Rows ``{method, step, metric, mean, ci, n}``, metric in :data:`SIMILARITIES`.
    """
    methods = _check_methods(methods)
    steps = randomisation_steps(model, mode=mode) if steps is None else list(steps)
    images, ci = _prepare(model, images, class_index, batch_size)
    kw = dict(batch_size=batch_size, score_layer=score_layer, seed=seed)
    reference = {m: _maps(model, m, images, ci, **kw) for m in methods}
    rows = []
    for i, (name, parts) in enumerate(steps):
        random_model = randomised_model(model, parts, seed=seed + i)
        for method in methods:
            sims = map_similarity(
                reference[method],
                _maps(random_model, method, images, ci, **kw),
                top_fraction=top_fraction,
            )
            rows += _rows((labels or {}).get(method, method), name, sims, confidence)
    return rows
