"""``qgcam predict``: class probabilities for image (or audio) files, as CSV."""

from __future__ import annotations

from qgcam_tf.cli.args import add_backend, existing_file, positive_int, run_dir

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
    p.add_argument("--out", help="CSV to write (default: print to stdout)")
    add_backend(p, default="tf")
    p.add_argument("--batch-size", type=positive_int, default=64, help="inputs per model call")


def run(args) -> int:
    from qgcam_tf.model.predict import write_predictions

    rows = write_predictions(
        args.model, args.images, args.out, backend=args.backend, batch_size=args.batch_size
    )
    if args.out:
        print(f"wrote {rows} predictions to {args.out}")
    return 0
