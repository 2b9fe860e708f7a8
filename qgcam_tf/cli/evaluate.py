"""``qgcam evaluate``: faithfulness of the CAM family (and of a classical twin's Grad-CAM)."""

from __future__ import annotations

from qgcam_tf.cli.args import (
    add_backend,
    bounded_int,
    name_list,
    output_dir,
    removed_on_failure,
    run_dir,
    seed,
)
from qgcam_tf.cli.explain import add_smoothing
from qgcam_tf.evaluate import METRIC_NAMES
from qgcam_tf.explain import METHOD_NAMES

NAME = "evaluate"
HELP = "score CAM methods with faithfulness metrics (table CSV/Markdown, deletion/insertion curves)"
TWIN_METHODS = tuple("gradcam" if m == "qgradcam" else m for m in METHOD_NAMES)
# Upper bounds: beyond them one evaluation runs for many hours.
MAX_COUNT = 10_000  # the size of MNIST's test split
MAX_STEPS = 784  # one pixel per step on a 28 x 28 image
MAX_BATCH = 4096
RANDOMISATION_TESTS = ("parts",)


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, type=run_dir, help="run of the hybrid model")
    p.add_argument(
        "--out",
        required=True,
        type=output_dir,
        help="output directory (new, or existing and writable; checked before any work)",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        type=name_list(METHOD_NAMES),
        default=[list(METHOD_NAMES)],
        help="CAM methods, space or comma separated",
    )
    p.add_argument(
        "--metrics",
        nargs="+",
        type=name_list((*METRIC_NAMES, "none")),
        default=[list(METRIC_NAMES)],
        help="metrics, space or comma separated; 'none' skips the metric table (with "
        "--randomisation / --randomisation-model: only the randomisation tests)",
    )
    p.add_argument(
        "--count",
        type=bounded_int(1, MAX_COUNT),
        default=500,
        help="test images (spread over classes)",
    )
    p.add_argument("--twin", type=run_dir, help="run of a classical twin (`train --classical`)")
    p.add_argument(
        "--twin-methods",
        nargs="+",
        type=name_list(TWIN_METHODS),
        default=[["gradcam", "random"]],
        help="methods run on the twin",
    )
    p.add_argument("--data-dir", help="a moved copy of the run's data")
    p.add_argument(
        "--steps",
        type=bounded_int(1, MAX_STEPS),
        default=28,
        help="steps of the deletion/insertion curves",
    )
    p.add_argument(
        "--batch-size", type=bounded_int(1, MAX_BATCH), default=64, help="images per batch"
    )
    add_backend(p, default="tfq")
    p.add_argument("--seed", type=seed, default=0, help="which test images")
    add_smoothing(p)
    p.add_argument(
        "--randomisation",
        choices=RANDOMISATION_TESTS,
        help="parts: the model-parameter randomisation test per part (vqc, dense, conv, all; "
        "and the cascade from the top) for every method and the twin's, written as "
        "randomisation_parts.csv/.md/.png",
    )
    p.add_argument(
        "--snr-db",
        nargs="+",
        default=["0", "5", "10"],
        metavar="SNR",
        help="speech runs: SNRs (dB, a number or LOW:HIGH) at which the held-out clips are "
        "mixed for speech_attention.json/.csv/.png (the training SNR is added)",
    )
    p.add_argument(
        "--explain-class",
        default="predicted",
        help="speech runs: the class each map explains: predicted, true or a class name "
        "(noisy: the noise class on every clip)",
    )
    p.add_argument(
        "--randomisation-model",
        type=run_dir,
        metavar="RUN",
        help="run of the same architecture trained on shuffled labels "
        "(scripts/shuffled_labels.py): the data-randomisation test, written as "
        "randomisation_data.csv/.md/.png",
    )


def _flat(groups) -> list[str]:
    return list(dict.fromkeys(n for g in groups for n in g))


def _is_speech(run_dir: str) -> bool:
    import json
    import os

    try:
        with open(os.path.join(run_dir, "model.json")) as f:
            return json.load(f).get("metadata", {}).get("dataset") == "speech"
    except (OSError, ValueError, AttributeError):
        return False  # Run.open says what is wrong with it


def run(args) -> int:
    metrics = [m for m in _flat(args.metrics) if m != "none"]
    randomise = args.randomisation is not None or args.randomisation_model is not None
    speech = _is_speech(args.model)
    if not metrics and not randomise and not speech:  # said before TensorFlow loads
        raise ValueError(
            "--metrics none leaves nothing to do: add --randomisation parts or "
            "--randomisation-model RUN, or name a metric"
        )
    from qgcam_tf.viz.evaluation import write_evaluation, write_randomisation

    with removed_on_failure(args.out):  # a failed evaluation leaves no partial --out
        written = []
        if metrics:
            written += write_evaluation(
                args.model,
                args.out,
                methods=_flat(args.methods),
                metrics=metrics,
                count=args.count,
                twin_dir=args.twin,
                twin_methods=_flat(args.twin_methods),
                data_dir=args.data_dir,
                steps=args.steps,
                batch_size=args.batch_size,
                backend=args.backend,
                seed=args.seed,
                aug_smooth=args.aug_smooth,
                eigen_smooth=args.eigen_smooth,
            )
        if speech:  # held-out clips at several SNRs: per-clip background attention
            from qgcam_tf.viz.speech import write_speech_evaluation

            written += write_speech_evaluation(
                args.model,
                args.out,
                snrs=args.snr_db,
                explain=args.explain_class,
                data_dir=args.data_dir,
                batch_size=args.batch_size,
                backend=args.backend,
                seed=args.seed,
            )
        if randomise:
            written += write_randomisation(
                args.model,
                args.out,
                methods=_flat(args.methods),
                parts=args.randomisation == "parts",
                shuffled_dir=args.randomisation_model,
                twin_dir=args.twin,
                twin_methods=_flat(args.twin_methods),
                count=args.count,
                data_dir=args.data_dir,
                batch_size=args.batch_size,
                backend=args.backend,
                seed=args.seed,
            )
    for path in written:
        print(f"wrote {path}")
    return 0
