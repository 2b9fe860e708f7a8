"""``qgcam predict``: class probabilities for image (or audio) files, as CSV."""

from __future__ import annotations

from qgcam_tf.cli.args import add_backend, existing_file, output_file, positive_int, run_dir
from qgcam_tf.data.checks import FITS

NAME = "predict"
HELP = "predict classes of input files with a trained run directory"


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, type=run_dir, help="run directory of `qgcam train`")
    p.add_argument(
        "--images",
        nargs="+",
        required=True,
        type=existing_file,
        metavar="FILE",
        help="PNG/JPEG images (any size), WAV clips, or .npy arrays [B, H, W, C]",
    )
    p.add_argument(
        "--out",
        help="CSV to write, in an existing directory (default: print to stdout)",
    )
    add_backend(p, default="tf")
    p.add_argument("--batch-size", type=positive_int, default=64, help="inputs per model call")
    add_fit(p)


def add_fit(p) -> None:
    """The ``--fit`` option: how pictures of another aspect ratio meet the input's shape."""
    p.add_argument(
        "--fit",
        choices=FITS,
        help="how a picture whose aspect ratio differs from the model input's is fitted: "
        "stretch (default: as in training), pad (letterbox with black bars) or crop (keep "
        "the centre); .npy arrays are never resized",
    )


def validate(args) -> None:
    """``--out``, checked before TensorFlow loads.

    Raises:
        ValueError: ``--out`` is a directory, or its parent does not exist or cannot be
            written.
    """
    if args.out is not None:
        output_file(args.out)


def run(args) -> int:
    from qgcam_tf.data.checks import print_input_warnings
    from qgcam_tf.model.predict import write_predictions

    with print_input_warnings():  # one "warning: <file>: ..." line on stderr per input
        rows = write_predictions(
            args.model,
            args.images,
            args.out,
            backend=args.backend,
            batch_size=args.batch_size,
            fit=args.fit,
        )
    if args.out:
        print(f"wrote {rows} predictions to {args.out}")
    return 0
