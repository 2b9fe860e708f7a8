"""``qgcam noise``: accuracy and QGrad-CAM map stability of a trained model under NISQ noise."""

from __future__ import annotations

import argparse

from qgcam_tf.cli.args import (
    bounded_int,
    bounded_list,
    non_negative_float,
    output_dir,
    probability,
    removed_on_failure,
    run_dir,
    seed,
    shots,
)
from qgcam_tf.noise import PRESET_NAMES, SIMULATION_METHODS

NAME = "noise"
HELP = (
    "sweep noise strength, hardware presets and shots; write noise.csv, noise.png, noise_maps.png"
)
# Upper bounds: beyond them one sweep runs for many hours.
MAX_COUNT = 10_000  # the size of MNIST's test split
MAX_REPEATS = 100
MAX_REPETITIONS = 10_000
MAX_SCALE = 1_000.0  # x the calibrated error rates: far beyond, every rate saturates
MAX_SWEEP = 32  # values of --strengths, --scales and --shots each


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, type=run_dir, help="run of the hybrid model")
    p.add_argument(
        "--out",
        required=True,
        type=output_dir,
        help="output directory (new, or existing and writable; checked before any work)",
    )
    p.add_argument(
        "--preset",
        nargs="+",
        choices=PRESET_NAMES,
        default=["depolarizing", "rainbow"],
        help="noise presets to sweep",
    )
    p.add_argument(
        "--strengths",
        nargs="+",
        type=probability,
        default=[0.0, 0.01, 0.02, 0.05],
        help="probabilities swept for the channel presets",
    )
    p.add_argument(
        "--scales",
        nargs="+",
        type=scale,
        default=[1.0],
        help="factors on the calibrated error rates of rainbow/weber",
    )
    p.add_argument(
        "--shots",
        nargs="+",
        type=shots,
        default=[None],
        help="shots per expectation, ints or 'none' for exact expectations (default: none)",
    )
    p.add_argument("--count", type=bounded_int(1, MAX_COUNT), default=100, help="test images")
    p.add_argument(
        "--repeats",
        type=bounded_int(1, MAX_REPEATS),
        default=3,
        help="repeats of each random configuration (trajectories/shots)",
    )
    p.add_argument(
        "--method",
        choices=SIMULATION_METHODS,
        default="auto",
        help=(
            "simulation: exact density matrix, TFQ trajectories, or auto (exact up to 10 "
            "qubits for the paper circuit, 8 for other circuits)"
        ),
    )
    p.add_argument(
        "--repetitions",
        type=bounded_int(1, MAX_REPETITIONS),
        default=100,
        help="trajectories per expectation for the trajectory method",
    )
    p.add_argument("--data-dir", help="a moved copy of the run's data")
    p.add_argument("--seed", type=seed, default=0, help="which test images, and the noise draws")


def scale(text: str) -> float:
    """An argparse type for ``--scales``: a finite factor in ``[0, MAX_SCALE]``."""
    value = non_negative_float(text)
    if value > MAX_SCALE:
        raise argparse.ArgumentTypeError(f"must be a number in [0, {MAX_SCALE:g}], got {text!r}")
    return value


def validate(args) -> None:
    """The sweep's size, checked before TensorFlow loads.

    Raises:
        ValueError: ``--strengths``, ``--scales`` or ``--shots`` holds more than
            :data:`MAX_SWEEP` values.
    """
    for option, values in (
        ("--strengths", args.strengths),
        ("--scales", args.scales),
        ("--shots", args.shots),
    ):
        bounded_list(option, values, MAX_SWEEP)


def run(args) -> int:
    from qgcam_tf.viz.noise import write_noise_sweep

    with removed_on_failure(args.out):  # a failed sweep leaves no partial --out
        written = write_noise_sweep(
            args.model,
            args.out,
            presets=args.preset,
            strengths=args.strengths,
            scales=args.scales,
            shots=args.shots,
            count=args.count,
            repeats=args.repeats,
            method=args.method,
            repetitions=args.repetitions,
            data_dir=args.data_dir,
            seed=args.seed,
        )
    for path in written:
        print(f"wrote {path}")
    return 0
