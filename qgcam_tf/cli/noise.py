"""``qgcam noise``: accuracy and QGrad-CAM map stability of a trained model under NISQ noise."""

from __future__ import annotations

import argparse

from qgcam_tf.cli.args import non_negative_float, positive_int, probability, run_dir, shots
from qgcam_tf.noise import PRESET_NAMES, SIMULATION_METHODS

NAME = "noise"
HELP = (
    "sweep noise strength, hardware presets and shots; write noise.csv, noise.png, noise_maps.png"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, type=run_dir, help="run of the hybrid model")
    p.add_argument("--out", required=True, help="output directory")
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
        type=non_negative_float,
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
    p.add_argument("--count", type=positive_int, default=100, help="test images")
    p.add_argument(
        "--repeats",
        type=positive_int,
        default=3,
        help="repeats of each random configuration (trajectories/shots)",
    )
    p.add_argument(
        "--method",
        choices=SIMULATION_METHODS,
        default="auto",
        help="simulation: exact density matrix, TFQ trajectories, or auto (<= 8 qubits: density)",
    )
    p.add_argument(
        "--repetitions",
        type=positive_int,
        default=100,
        help="trajectories per expectation for the trajectory method",
    )
    p.add_argument("--data-dir", help="a moved copy of the run's data")
    p.add_argument("--seed", type=int, default=0, help="which test images, and the noise draws")


def run(args) -> int:
    from qgcam_tf.viz.noise import write_noise_sweep

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
