"""The real sample data the tests read: ``../shared/data`` beside the source checkout.

``QGCAM_SHARED_DATA`` points elsewhere. A test that needs the data is skipped when it is
absent, unless ``QGCAM_REQUIRE_SHARED_DATA=1`` (set by ``.ci/run``): then it fails, so CI
cannot pass with those tests silently skipped.
"""

from __future__ import annotations

import os

__all__ = ["SHARED_DATA", "shared_data"]

_CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_DATA = os.environ.get(
    "QGCAM_SHARED_DATA", os.path.join(os.path.dirname(_CHECKOUT), "shared", "data")
)


def shared_data(*parts: str) -> str:
    """Path of ``parts`` under the shared data folder.

    Raises:
        pytest's Skipped: the path is absent (Failed instead under
            ``QGCAM_REQUIRE_SHARED_DATA=1``).
    """
    import pytest

    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        message = f"test data {path} not available"
        if os.environ.get("QGCAM_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(message + " (QGCAM_REQUIRE_SHARED_DATA=1)")
        pytest.skip(message)
    return path
