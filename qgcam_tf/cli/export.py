"""``qgcam export``: a run directory -> a TF Serving SavedModel version (core TF ops only)."""

from __future__ import annotations

NAME = "export"
HELP = "export a trained run as a SavedModel for TF Serving (serving_default + explain)"


def add_arguments(p) -> None:
    p.add_argument(
        "--model", required=True, metavar="RUN_DIR", help="run directory of `qgcam train`"
    )
    p.add_argument(
        "--out", required=True, metavar="EXPORT_DIR", help="model base directory TF Serving watches"
    )
    p.add_argument("--version", type=int, default=1, help="version sub-directory (>= 1, default 1)")
    p.add_argument("--force", action="store_true", help="replace an existing version")


def run(args) -> int:
    from qgcam_tf.model.run import load_model, read_metadata
    from qgcam_tf.serving.export import export_saved_model, verify_export

    if args.version < 1:
        raise ValueError(f"--version must be an int >= 1, got {args.version}")
    metadata = read_metadata(args.model)
    # The tf executor needs no TensorFlow Quantum, whatever the run was trained with.
    model = load_model(args.model, backend="tf")
    print(
        f"exporting {args.model} (input {tuple(model.input_shape[1:])}, "
        f"{model.output_shape[-1]} classes): tracing signatures ...",
        flush=True,
    )
    path = export_saved_model(
        model,
        args.out,
        version=args.version,
        force=args.force,
        class_names=metadata.get("class_names"),
    )
    print(f"wrote {path} (signatures: serving_default, explain)")
    check = verify_export(path, model)
    print(
        f"verified: {check['ops']} op types, all in stock TensorFlow; probabilities "
        f"match the model (max |diff| {check['max_abs_diff']:.1e})"
    )
    return 0
