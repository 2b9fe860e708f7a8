"""``qgcam explain``: CAM heatmaps as PNG overlays, a grid, and raw ``.npz`` maps."""

from __future__ import annotations

from qgcam_tf.cli.args import (
    add_backend,
    class_index,
    existing_file,
    output_dir,
    positive_int,
    removed_on_failure,
    run_dir,
    run_metadata,
)
from qgcam_tf.cli.predict import add_fit
from qgcam_tf.data import BUILTIN_DATASETS
from qgcam_tf.explain import METHOD_NAMES

NAME = "explain"
HELP = (
    "write CAM heatmaps (PNG overlays, a Fig. 4-style grid, raw maps .npz; MNIST: a correct "
    "test digit per class and misclassified ones)"
)


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, type=run_dir, help="run directory of `qgcam train`")
    p.add_argument(
        "--out",
        required=True,
        type=output_dir,
        help="output directory (new, or existing and writable; checked before any work)",
    )
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
    p.add_argument(
        "--layer",
        default="qgcam_conv",  # qgcam_tf.model.hybrid.CONV_LAYER, named without loading TF
        metavar="NAME",
        help="the conv layer to explain (default qgcam_conv, the name qgcam train gives it)",
    )
    add_backend(p, default="tf")
    p.add_argument("--seed", type=int, default=0, help="which test examples")
    add_fit(p)
    add_smoothing(p)


def add_smoothing(p) -> None:
    """``--aug-smooth`` and ``--eigen-smooth`` (pytorch-grad-cam's options), shared with
    ``qgcam evaluate``."""
    p.add_argument(
        "--aug-smooth",
        action="store_true",
        help="average each map over horizontal flips and brightness x0.9/x1.1 of the input",
    )
    p.add_argument(
        "--eigen-smooth",
        action="store_true",
        help="map from the first principal component of the weighted activations",
    )


def validate(args) -> None:
    """``--class-index`` against the run's classes (its ``model.json`` metadata, read as
    JSON), before TensorFlow loads.

    Raises:
        ValueError: ``--class-index`` is not below the run's number of class names.
    """
    names = run_metadata(args.model).get("class_names")
    if args.class_index is not None and isinstance(names, list) and names:
        if args.class_index >= len(names):
            raise ValueError(
                f"--class-index: must be a class index in [0, {len(names) - 1}] (the run has "
                f"{len(names)} classes) or -1 for the predicted class, got {args.class_index}"
            )


def run(args) -> int:
    from qgcam_tf.data.checks import print_input_warnings
    from qgcam_tf.viz.explanations import write_explanations

    # a failed explanation leaves no partial --out; one warning line per suspicious input
    with removed_on_failure(args.out), print_input_warnings():
        written = write_explanations(
            args.model,
            args.out,
            paths=args.images,
            count=args.count,
            seed=args.seed,
            data_dir=args.data_dir,
            class_index=args.class_index,
            method=args.method,
            layer=args.layer,
            backend=args.backend,
            dataset=args.dataset,
            fit=args.fit,
            aug_smooth=args.aug_smooth,
            eigen_smooth=args.eigen_smooth,
        )
    for path in written:
        print(f"wrote {path}")
    return 0
