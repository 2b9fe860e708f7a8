"""The paper's speech-in-noise experiment: train clean-vs-noisy, then explain (Figs. 6-7).

Example (the shared samples; a TIMIT copy works the same with --data-dir TIMIT/):
    python scripts/speech.py --data-dir ../shared/data/speech-mini \
        --noise-dir ../shared/data/noise-mini --out runs/speech --epochs 20
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--data-dir", required=True, help="TIMIT root (TRAIN/, TEST/) or a folder of WAV files"
    )
    p.add_argument("--noise-dir", help="background-noise recordings (default: coloured noise only)")
    p.add_argument("--noise", default=None, help="comma list of recorded,white,pink,brown")
    p.add_argument("--snr-db", default="5", help="SNR in dB, a number or LOW:HIGH (default 5)")
    p.add_argument("--out", default="runs/speech", help="run directory")
    p.add_argument("--epochs", type=int, default=20, choices=range(1, 501), metavar="1..500")
    p.add_argument("--qubits", type=int, default=4, choices=range(2, 17), metavar="2..16")
    p.add_argument("--depth", type=int, default=2, choices=range(1, 9), metavar="1..8")
    p.add_argument("--limit", type=int, default=None, help="use only this many training clips")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--figure", help="paper-style figure PNG (default OUT/speech_test_split.png)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from qgcam_tf.cli.experiment import run_experiment
    from qgcam_tf.viz.speech import test_split_figure

    train = ["--option", f"snr-db={args.snr_db}", "--epochs", str(args.epochs)]
    train += ["--qubits", str(args.qubits)]
    train += ["--depth", str(args.depth), "--batch-size", "32"]
    train += ["--option", f"noise-dir={args.noise_dir}"] if args.noise_dir else []
    train += ["--option", f"noise={args.noise}"] if args.noise else []
    train += ["--limit", str(args.limit)] if args.limit else []
    return run_experiment(
        "speech",
        args.out,
        train_args=train,
        data_dir=args.data_dir,
        seed=args.seed,
        count=6,
        figure=args.figure,
        figure_fn=test_split_figure,
    )


if __name__ == "__main__":
    sys.exit(main())
