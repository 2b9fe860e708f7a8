"""The paper's speech-in-noise experiment: train clean-vs-noisy, then explain (Figs. 6-7).

Trains the speech recipe of ``qgcam_tf/model/recipes.py`` (what ``qgcam train --dataset
speech`` trains with no training flag; its values and what it reaches are in
docs/experiments.md, "Speech in background noise"), draws the figure from the held-out clips
and explains a few of them. The recorded noise comes from ``--noise-dir``
(passed on as ``--option noise-dir=DIR``); without it the noise is white, pink and brown.

Example (the shared samples; a TIMIT copy works the same with --data-dir TIMIT/):
    python scripts/speech.py --data-dir ../shared/data/speech-mini \
        --noise-dir ../shared/data/noise-mini --out runs/speech

The held-out evaluation at 0, 5 and 10 dB, per-clip background attention included:
    qgcam evaluate --model runs/speech --out runs/speech/heldout --metrics none
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
    p.add_argument(
        "--noise-dir", help="background-noise recordings (default: white, pink and brown noise)"
    )
    p.add_argument(
        "--noise", default=None, help="comma list of recorded,white,pink,brown (a data option)"
    )
    p.add_argument("--out", default="runs/speech", help="run directory")
    p.add_argument("--limit", type=int, default=None, help="use only this many training clips")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--figure", help="paper-style figure PNG (default OUT/speech_test_split.png)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.limit is not None and args.limit < 1:
        raise SystemExit(f"--limit must be >= 1, got {args.limit}")
    from qgcam_tf.cli.experiment import run_experiment
    from qgcam_tf.viz.speech import test_split_figure

    # no training flag: `qgcam train` fills them all from the speech recipe
    train = ["--option", f"noise-dir={args.noise_dir}"] if args.noise_dir else []
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
