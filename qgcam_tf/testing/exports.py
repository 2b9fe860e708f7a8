"""A tiny hybrid run directory and its export, made once per pytest session and shared.

Several test files need an export (``tests/serving``, ``tests/bench``); tracing one takes
seconds to tens of seconds on a loaded 2-core machine, so the first caller writes it under
the directory it is given (pytest's session temp dir) and later callers reuse it. Nothing
is trained: the weights are the seeded initial ones, with non-trivial BatchNorm statistics.

Example (in a module-scoped fixture)::

    export = tiny_export(tmp_path_factory.getbasetemp())
    loaded = tf.saved_model.load(export.version_dir)
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

__all__ = [
    "CLASS_NAMES",
    "INPUT_SHAPE",
    "TinyExport",
    "sample_images",
    "tiny_export",
    "tiny_run",
]

CLASS_NAMES = ["zero", "one", "two"]
INPUT_SHAPE = (8, 8, 1)


@dataclasses.dataclass(frozen=True)
class TinyExport:
    """Where :func:`tiny_export` wrote its files.

    Attributes:
        run_dir: the run directory (:func:`tiny_run`).
        export_dir: the model base directory, holding only version ``1``.
        version_dir: ``export_dir/1``, the SavedModel (QGrad-CAM ``explain``).
    """

    run_dir: str
    export_dir: str
    version_dir: str


def tiny_run(base) -> str:
    """``base/tiny-run``: a run directory of a tiny hybrid model, written on the first call.

    The model is ``tfq`` (as ``qgcam train`` writes it), ``VQCSpec(4, 1, 3)``, conv filters
    (4, 6) on 8x8x1 images, 3 classes named :data:`CLASS_NAMES`, seeded initial weights and
    BatchNorm moving statistics that differ from the identity (so inference-mode BN shows).
    Later calls with the same ``base`` return the path without writing anything.
    """
    from qgcam_tf.model.run import MODEL_CONFIG

    run_dir = os.path.join(str(base), "tiny-run")
    if not os.path.isfile(os.path.join(run_dir, MODEL_CONFIG)):  # written last by save_model
        import tf_keras as keras

        from qgcam_tf.model.hybrid import build_hybrid_model
        from qgcam_tf.model.run import save_model
        from qgcam_tf.quantum.circuits import VQCSpec

        keras.utils.set_random_seed(0)
        model = build_hybrid_model(
            INPUT_SHAPE, 3, vqc=VQCSpec(4, 1, 3), conv_filters=(4, 6), backend="tfq"
        )
        bn = model.get_layer("bn")
        bn.moving_mean.assign(np.linspace(-0.1, 0.1, 6).astype(np.float32))
        bn.moving_variance.assign(np.linspace(0.01, 0.05, 6).astype(np.float32))
        save_model(model, run_dir, metadata={"class_names": CLASS_NAMES, "dataset": "mnist"})
    return run_dir


def tiny_export(base) -> TinyExport:
    """:func:`tiny_run` and its ``qgcam export`` (version 1, QGrad-CAM), made on the first
    call with this ``base`` and reused by later ones."""
    run_dir = tiny_run(base)
    export_dir = os.path.join(str(base), "tiny-export")
    version_dir = os.path.join(export_dir, "1")
    if not os.path.isdir(version_dir):  # the version appears only once complete
        from qgcam_tf.cli.main import main

        if main(["export", "--model", run_dir, "--out", export_dir]) != 0:
            raise RuntimeError(f"`qgcam export --model {run_dir} --out {export_dir}` failed")
    return TinyExport(run_dir, export_dir, version_dir)


def sample_images(n: int = 4, seed: int = 5) -> np.ndarray:
    """``n`` deterministic 8x8x1 images in [0, 1], each with a bright 3x3 blob (a spatial
    structure for the maps to find) on a dim noisy background."""
    rng = np.random.default_rng(seed)
    images = 0.2 * rng.uniform(size=(n, *INPUT_SHAPE))
    for i in range(n):
        r, c = rng.integers(1, 6, size=2)
        images[i, r : r + 3, c : c + 3] += 0.8
    return np.clip(images, 0.0, 1.0).astype(np.float32)
