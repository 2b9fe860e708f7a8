"""Where a CAM's mass sits: empty maps and the share of map mass in the image's border band.

Two numbers diagnose photo maps that fail (docs/experiments.md, "Dogs vs Cats"):

* the **empty share**: maps that are all zero after the ReLU of ``ReLU(sum_k w_k A^k)``
  (every position's weighted sum is <= 0), so they show nothing for the explained class;
* the **border mass**: the share of a map's mass in the outer band of the image, each side
  ``fraction`` (default 1/8) of the height or width. A map spread evenly puts
  ``1 - (1 - 2 * fraction)**2`` of its mass there (0.4375 for 1/8, :func:`uniform_border_mass`);
  a map hugging the edges puts more.

A third compares two maps of the same photo (:func:`region_agreement`): how much of one map
sits where the other is high, e.g. QGrad-CAM's map of the hybrid against Grad-CAM's of its
classical twin, on photos that have no object masks.

NumPy only; :func:`map_placement` runs any CAM object of :mod:`qgcam_tf.explain` over images.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "BORDER_FRACTION",
    "border_band",
    "uniform_border_mass",
    "empty_maps",
    "mass_share",
    "border_mass",
    "placement_summary",
    "map_placement",
    "region_agreement",
]

BORDER_FRACTION = 1.0 / 8.0


def _check_fraction(fraction) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        raise TypeError(f"fraction must be a number in (0, 0.5), got {fraction!r}")
    if not 0.0 < float(fraction) < 0.5:
        raise ValueError(f"fraction must be in (0, 0.5), got {fraction!r}")
    return float(fraction)


def _check_maps(maps, name: str = "maps") -> np.ndarray:
    maps = np.asarray(maps, np.float64)
    if maps.ndim != 3 or min(maps.shape) < 1:
        raise ValueError(f"{name} must be [B, H, W] with B, H, W >= 1, got shape {maps.shape}")
    if not np.all(np.isfinite(maps)):
        raise ValueError(f"{name} must be finite")
    return maps


def border_band(height: int, width: int, fraction: float = BORDER_FRACTION) -> np.ndarray:
    """Boolean ``[height, width]`` mask of the outer band: ``round(fraction * side)`` rows at
    the top and bottom and as many columns at the left and right (at least one each).

    Raises:
        ValueError: a side < 1, or ``fraction`` outside (0, 0.5).
    """
    fraction = _check_fraction(fraction)
    for name, side in (("height", height), ("width", width)):
        if isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < 1:
            raise ValueError(f"{name} must be an int >= 1, got {side!r}")
    bh = max(1, int(math.floor(fraction * height + 0.5)))
    bw = max(1, int(math.floor(fraction * width + 0.5)))
    band = np.zeros((height, width), bool)
    band[:bh], band[height - bh :], band[:, :bw], band[:, width - bw :] = True, True, True, True
    return band


def uniform_border_mass(height: int, width: int, fraction: float = BORDER_FRACTION) -> float:
    """The border mass of a constant map: the band's share of the pixels."""
    return float(border_band(height, width, fraction).mean())


def empty_maps(cams, *, atol: float = 0.0) -> np.ndarray:
    """Bool ``[B]``: which maps are empty, every value ``<= atol`` (all zero after the ReLU).

    Args:
        cams: ``[B, H, W]`` maps after the ReLU, before any min-max scaling (a CAM result's
            ``activations_maps``: scaling turns a constant map into zeros too).
        atol: values up to this count as zero.
    """
    cams = _check_maps(cams, "cams")
    if not (math.isfinite(atol) and atol >= 0):
        raise ValueError(f"atol must be a finite number >= 0, got {atol!r}")
    return cams.reshape(len(cams), -1).max(axis=1) <= atol


def mass_share(maps, mask) -> np.ndarray:
    """``[B]`` share of each map's mass inside ``mask`` (``[H, W]`` bool); NaN for a map of
    no mass.

    Raises:
        ValueError: negative values, or a mask of another shape than the maps.
    """
    maps = _check_maps(maps)
    mask = np.asarray(mask, bool)
    if mask.shape != maps.shape[1:]:
        raise ValueError(f"mask must have shape {maps.shape[1:]}, got {mask.shape}")
    if np.any(maps < 0):
        raise ValueError("maps must be >= 0 (after the ReLU)")
    total = maps.sum(axis=(1, 2))
    inside = (maps * mask).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / np.where(total > 0, total, 1.0), np.nan)


def border_mass(maps, fraction: float = BORDER_FRACTION) -> np.ndarray:
    """``[B]`` share of each map's mass in the border band (:func:`border_band`); NaN for a
    map of no mass."""
    maps = _check_maps(maps)
    return mass_share(maps, border_band(maps.shape[1], maps.shape[2], fraction))


def placement_summary(cams, maps, fraction: float = BORDER_FRACTION) -> dict:
    """The two numbers over a set of maps.

    Args:
        cams: ``[B, H', W']`` maps after the ReLU, before scaling (for the empty test).
        maps: ``[B, H, W]`` the same maps at input resolution (for the border mass).
        fraction: width of the border band as a share of each side.

    Returns:
        ``{"n", "empty_share", "border_mass_mean", "border_mass_median", "n_nonempty",
        "border_mass_uniform"}``; the border statistics are over the maps with mass (NaN if
        none has any).
    """
    empty = empty_maps(cams)
    maps = _check_maps(maps)
    if len(maps) != len(empty):
        raise ValueError(f"cams and maps must hold as many maps, got {len(empty)} and {len(maps)}")
    share = border_mass(maps, fraction)
    kept = share[~np.isnan(share)]
    return {
        "n": len(empty),
        "empty_share": float(empty.mean()),
        "n_nonempty": len(kept),
        "border_mass_mean": float(kept.mean()) if len(kept) else math.nan,
        "border_mass_median": float(np.median(kept)) if len(kept) else math.nan,
        "border_mass_uniform": uniform_border_mass(maps.shape[1], maps.shape[2], fraction),
    }


def map_placement(
    cam, images, *, class_index=None, batch_size: int = 50, fraction: float = BORDER_FRACTION
) -> dict:
    """Runs ``cam`` over ``images`` (the predicted class unless ``class_index`` is given) and
    summarises where its maps sit (:func:`placement_summary`), with the predicted classes.

    Args:
        cam: a CAM object of :mod:`qgcam_tf.explain` (``cam(images, class_index=...)``
            returns a result with ``maps``, ``activations_maps`` and ``probabilities``).
        images: ``[N, H, W, C]`` float32.
        class_index: None (predicted class), an int, or one int per image.
        batch_size: images per CAM call.
        fraction: width of the border band.

    Returns:
        :func:`placement_summary`'s dict plus ``"predicted"`` (``[N]`` int array),
        ``"empty"`` (``[N]`` bool) and ``"border"`` (``[N]``, NaN for empty maps).
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty [N, H, W, C] array, got {images.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    cams, maps, predicted = [], [], []
    for start in range(0, len(images), batch_size):
        ci = class_index
        if ci is not None and np.ndim(ci) == 1:
            ci = np.asarray(ci)[start : start + batch_size]
        result = cam(images[start : start + batch_size], class_index=ci)
        cams.append(np.asarray(result.activations_maps))
        maps.append(np.asarray(result.maps))
        predicted.append(np.argmax(np.asarray(result.probabilities), axis=1))
    cams, maps = np.concatenate(cams), np.concatenate(maps)
    summary = placement_summary(cams, maps, fraction)
    summary.update(
        predicted=np.concatenate(predicted),
        empty=empty_maps(cams),
        border=border_mass(maps, fraction),
    )
    return summary


def region_agreement(maps, reference_maps, threshold: float = 0.5) -> dict:
    """How far ``maps`` agree with ``reference_maps`` (both ``[B, H, W]``, >= 0), photo by
    photo, the reference's region being where it is at least ``threshold`` times its own
    maximum:

    * ``pointing``: whether the map's maximum (its first position, in row-major order)
      lies inside the region (an empty map misses);
    * ``enrichment``: the map's mass inside the region divided by the region's share of the
      image (1.0: no better than a uniform map; NaN for a map of no mass or an empty
      reference).

    Returns:
        ``{"pointing": [B] bool, "enrichment": [B] float, "region_share": [B] float}``.

    Raises:
        ValueError: shapes differ, negative or non-finite values, ``threshold`` outside (0, 1].
    """
    maps = _check_maps(maps)
    ref = _check_maps(reference_maps, "reference_maps")
    if maps.shape != ref.shape:
        raise ValueError(
            f"maps and reference_maps must have one shape, got {maps.shape}, {ref.shape}"
        )
    if np.any(maps < 0) or np.any(ref < 0):
        raise ValueError("maps must be >= 0 (after the ReLU)")
    if isinstance(threshold, bool) or not 0.0 < float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    b = len(maps)
    peak = ref.reshape(b, -1).max(axis=1)
    region = (ref >= float(threshold) * peak[:, None, None]) & (peak[:, None, None] > 0)
    share = region.reshape(b, -1).mean(axis=1)
    flat = maps.reshape(b, -1)
    top = flat.argmax(axis=1)
    pointing = (flat.max(axis=1) > 0) & region.reshape(b, -1)[np.arange(b), top]
    total = flat.sum(axis=1)
    inside = (maps * region).reshape(b, -1).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        enrichment = np.where(
            (total > 0) & (share > 0), inside / np.where(total > 0, total, 1.0) / share, np.nan
        )
    return {"pointing": pointing, "enrichment": enrichment, "region_share": share}
