"""``qgcam explain``: CAM heatmaps as PNG overlays, a grid, and raw ``.npz`` maps."""

from __future__ import annotations

from qgcam_tf.cli.args import add_backend, class_index, existing_file, positive_int, run_dir
from qgcam_tf.cli.predict import add_fit
from qgcam_tf.data import BUILTIN_DATASETS
from qgcam_tf.explain import METHOD_NAMES

NAME = "explain"
HELP = "write CAM heatmaps (PNG overlays, a Fig. 4-style grid, raw maps .npz)"


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, type=run_dir, help="run directory of `qgcam train`")
    p.add_argument("--out", required=True, help="output directory")
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--images", nargs="+", type=existing_file, metavar="FILE", help="input files to explain"
    )
    src.add_argument(
        "--dataset",
        choices=BUILTIN_DATASETS,
        help="explain test examples of the run's dataset (the default; must match the run)",
    )
    p.add_argument("--data-dir", help="a moved copy of the run's data")
    p.add_argument(
        "--count", type=positive_int, default=10, help="test examples (spread over classes)"
    )
    p.add_argument(
        "--class-index", type=class_index, help="explain this class (default: the predicted one)"
    )
    p.add_argument("--method", choices=METHOD_NAMES, default="qgradcam", help="CAM method")
    add_backend(p, default="tf")
    p.add_argument("--seed", type=int, default=0, help="which test examples")
    add_fit(p)


def run(args) -> int:
    from qgcam_tf.data.checks import print_input_warnings
    from qgcam_tf.viz.explanations import write_explanations

    with print_input_warnings():  # one "warning: <file>: ..." line on stderr per input
        written = write_explanations(
            args.model,
            args.out,
            paths=args.images,
            count=args.count,
            seed=args.seed,
            data_dir=args.data_dir,
            class_index=args.class_index,
            method=args.method,
            backend=args.backend,
            dataset=args.dataset,
            fit=args.fit,
        )
    for path in written:
        print(f"wrote {path}")
    return 0
