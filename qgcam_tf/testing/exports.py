"""A tiny hybrid run directory and its export, made once per pytest session and shared.

Both ``export_test.py`` and ``serving_test.py`` need an export; tracing one takes ~15 s on
2 cores, so the first caller writes it under pytest's session temp dir and later callers
reuse it. Nothing is trained: weights are the seeded initial ones.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

CLASS_NAMES = ["zero", "one", "two"]
INPUT_SHAPE = (8, 8, 1)


@dataclasses.dataclass(frozen=True)
class TinyExport:
    run_dir: str
    export_dir: str
    version_dir: str


def tiny_export(base) -> TinyExport:
    """Run dir (tfq model, VQCSpec(4, 1, 3), conv (4, 6), 8x8x1) and its `qgcam export`."""
    run_dir = os.path.join(str(base), "tiny-run")
    export_dir = os.path.join(str(base), "tiny-export")
    version_dir = os.path.join(export_dir, "1")
    if not os.path.isdir(version_dir):
        import tf_keras as keras

        from qgcam_tf.cli.main import main
        from qgcam_tf.model.hybrid import build_hybrid_model
        from qgcam_tf.model.run import save_model
        from qgcam_tf.quantum.circuits import VQCSpec

        keras.utils.set_random_seed(0)
        model = build_hybrid_model(
            INPUT_SHAPE, 3, vqc=VQCSpec(4, 1, 3), conv_filters=(4, 6), backend="tfq"
        )
        # Non-trivial BatchNorm statistics, so inference differs from training-mode BN.
        bn = model.get_layer("bn")
        bn.moving_mean.assign(np.linspace(-0.1, 0.1, 6).astype(np.float32))
        bn.moving_variance.assign(np.linspace(0.01, 0.05, 6).astype(np.float32))
        save_model(model, run_dir, metadata={"class_names": CLASS_NAMES, "dataset": "mnist"})
        assert main(["export", "--model", run_dir, "--out", export_dir]) == 0
    return TinyExport(run_dir, export_dir, version_dir)


def sample_images(n: int = 4, seed: int = 5) -> np.ndarray:
    """``n`` deterministic 8x8x1 images in [0, 1] with a bright blob (a spatial structure)."""
    rng = np.random.default_rng(seed)
    images = 0.2 * rng.uniform(size=(n, *INPUT_SHAPE))
    for i in range(n):
        r, c = rng.integers(1, 6, size=2)
        images[i, r : r + 3, c : c + 3] += 0.8
    return np.clip(images, 0.0, 1.0).astype(np.float32)
