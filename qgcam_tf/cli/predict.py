"""``qgcam predict``: class probabilities for image (or audio) files, as CSV."""

from __future__ import annotations

import csv
import io
import sys

NAME = "predict"
HELP = "predict classes of input files with a trained run directory"


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, help="run directory written by `qgcam train`")
    p.add_argument("--images", nargs="+", required=True, metavar="FILE", help="input files")
    p.add_argument("--out", help="CSV to write (default: print to stdout)")
    p.add_argument(
        "--backend", choices=("tfq", "tf"), default="tf", help="VQC executor (same weights)"
    )
    p.add_argument("--batch-size", type=int, default=64)


def load_run_inputs(run_dir: str, paths, backend: str):
    """(model, metadata, inputs) for files of the run's dataset, read as in training."""
    from qgcam_tf.data.registry import get_adapter
    from qgcam_tf.model.run import load_model, read_metadata

    metadata = read_metadata(run_dir)
    model = load_model(run_dir, backend=backend)
    inputs = get_adapter(metadata.get("dataset", "mnist")).load_files(paths, metadata)
    return model, metadata, inputs


def run(args) -> int:
    import numpy as np

    from qgcam_tf.fileio import atomic_path

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    model, metadata, inputs = load_run_inputs(args.model, args.images, args.backend)
    probs = model.predict(inputs, batch_size=args.batch_size, verbose=0)
    names = metadata.get("class_names") or [str(i) for i in range(probs.shape[1])]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["path", "class_index", "class_name"] + [f"p_{n}" for n in names])
    for path, p in zip(args.images, probs):
        k = int(np.argmax(p))
        writer.writerow([path, k, names[k]] + [f"{v:.6f}" for v in p])
    if args.out:
        with atomic_path(args.out, suffix=".csv") as tmp, open(tmp, "w", newline="") as f:
            f.write(buffer.getvalue())
        print(f"wrote {len(args.images)} predictions to {args.out}")
    else:
        sys.stdout.write(buffer.getvalue())
    return 0
