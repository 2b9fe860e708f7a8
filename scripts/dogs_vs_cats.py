"""The paper's Dogs vs Cats experiment: train the hybrid model (and the classical twin),
then explain (Fig. 5: each photo with the maps of both classes).

Example (the shared 1000-photo sample; the full Kaggle set works the same with
--data-dir kaggle/ holding train/):
    python scripts/dogs_vs_cats.py --data-dir ../shared/data/dogs-vs-cats-mini \
        --out runs/dogs_vs_cats --epochs 30 --qubits 8 --baseline

Only the figure, from a run trained before (``--per-class`` photos of each class;
``--methods`` draws each CAM method's maps side by side, default QGrad-CAM's alone):
    python scripts/dogs_vs_cats.py --data-dir ../shared/data/dogs-vs-cats-mini \
        --out runs/dogs_vs_cats --figure-only --per-class 4 --figure fig5.png \
        --methods qgradcam,integrated
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
    p.add_argument("--data-dir", required=True, help="Kaggle train/ (+ test/) or class folders")
    p.add_argument(
        "--out", default="runs/dogs_vs_cats", help="run directory (the twin: OUT-classical)"
    )
    p.add_argument("--epochs", type=int, default=30, choices=range(1, 501), metavar="1..500")
    p.add_argument("--image-size", type=int, default=64, choices=range(16, 513), metavar="16..512")
    p.add_argument("--qubits", type=int, default=8, choices=range(2, 17), metavar="2..16")
    p.add_argument("--learning-rate", type=float, default=2e-3, help="Adam step (0 < lr <= 0.1)")
    p.add_argument("--depth", type=int, default=2, choices=range(1, 9), metavar="1..8")
    p.add_argument("--limit", type=int, default=None, help="use only this many training photos")
    p.add_argument("--baseline", action="store_true", help="also train the classical twin")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--figure", help="paper-style figure PNG (default OUT/dogs_vs_cats_test_split.png)"
    )
    p.add_argument(
        "--figure-only", action="store_true", help="no training: draw the figure of OUT's run"
    )
    p.add_argument(
        "--per-class",
        type=int,
        default=2,
        choices=range(1, 11),
        metavar="1..10",
        help="photos of each class in the figure",
    )
    p.add_argument(
        "--methods",
        default=None,
        help="with --figure-only: comma-separated CAM methods drawn side by side "
        "(qgcam explain --method names; default qgradcam alone)",
    )
    args = p.parse_args(argv)
    if args.methods is not None:
        from qgcam_tf.explain import METHOD_NAMES

        args.methods = [m for m in args.methods.split(",") if m]
        bad = [m for m in args.methods if m not in METHOD_NAMES]
        if bad or not args.methods:
            p.error(f"--methods: unknown {bad or args.methods!r}; choose from {METHOD_NAMES}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if not 0.0 < args.learning_rate <= 0.1:
        raise SystemExit(f"--learning-rate must be in (0, 0.1], got {args.learning_rate}")
    from qgcam_tf.cli.experiment import run_experiment
    from qgcam_tf.viz.photos import test_split_figure

    if args.figure_only:
        from qgcam_tf.model.run import Run

        run = Run.open(args.out)
        path = args.figure or os.path.join(args.out, "dogs_vs_cats_test_split.png")
        bundle = run.bundle(data_dir=args.data_dir)
        model = run.model(backend="tf")  # the same weights; tf needs no TFQ op
        print(
            "wrote",
            test_split_figure(
                model,
                bundle,
                path,
                per_class=args.per_class,
                seed=args.seed,
                methods=args.methods,
            ),
        )
        return 0

    train = ["--option", f"image-size={args.image_size}", "--epochs", str(args.epochs)]
    train += ["--qubits", str(args.qubits), "--depth", str(args.depth)]
    train += ["--learning-rate", str(args.learning_rate), "--batch-size", "32"]
    train += ["--limit", str(args.limit)] if args.limit else []
    return run_experiment(
        "dogs-vs-cats",
        args.out,
        train_args=train,
        data_dir=args.data_dir,
        seed=args.seed,
        count=6,
        baseline=args.baseline,
        figure=args.figure,
        figure_fn=test_split_figure,
    )


if __name__ == "__main__":
    sys.exit(main())
