"""Parameter-shift derivatives and finite-shot estimates of expectations."""

from __future__ import annotations

import numpy as np

__all__ = ["sample_expectations"]


def sample_expectations(
    expectations: np.ndarray, shots: int, rng: np.random.Generator
) -> np.ndarray:
    """Finite-shot estimates of Pauli-Z expectations, as a quantum device would give them.

    Each ``<Z>`` is estimated from ``shots`` independent measurements whose outcome is +1
    with probability ``(1 + <Z>) / 2`` (else -1): ``2 k / shots - 1`` with ``k`` binomial.

    Args:
        expectations: exact ``<Z>`` values in [-1, 1], any shape.
        shots: measurements per expectation.
        rng: the generator the draws come from.

    Returns:
        float64 estimates of the same shape, multiples of ``2 / shots`` in [-1, 1].

    Raises:
        ValueError: ``shots`` is not an int >= 1.
    """
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise ValueError(f"shots must be an int >= 1, got {shots!r}")
    p = np.clip((1.0 + expectations) / 2.0, 0.0, 1.0)
    return 2.0 * rng.binomial(shots, p) / shots - 1.0
