"""``qgcam explain``: QGrad-CAM heatmaps as PNG overlays and raw ``.npz`` maps."""

from __future__ import annotations

import os

NAME = "explain"
HELP = "write QGrad-CAM heatmaps (PNG overlays, a Fig. 4-style grid, raw maps .npz)"


def add_arguments(p) -> None:
    from qgcam_tf.data.registry import dataset_names

    p.add_argument("--model", required=True, help="run directory written by `qgcam train`")
    p.add_argument("--out", required=True, help="output directory")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--images", nargs="+", metavar="FILE", help="input files to explain")
    src.add_argument(
        "--dataset", choices=dataset_names(), help="explain test examples of a dataset"
    )
    p.add_argument("--data-dir", help="dataset files (default: the embedded/default location)")
    p.add_argument("--count", type=int, default=10, help="test examples (spread over classes)")
    p.add_argument("--class-index", type=int, help="explain this class (default: predicted)")
    p.add_argument(
        "--backend", choices=("tfq", "tf"), default="tf", help="VQC executor (same weights)"
    )
    p.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    import numpy as np

    from qgcam_tf.data.registry import get_adapter, test_examples
    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.fileio import atomic_path
    from qgcam_tf.model.run import load_model, read_metadata
    from qgcam_tf.viz.common import save_grid, save_overlay
    from qgcam_tf.viz.datasets import explain_figures

    if args.count < 1:
        raise ValueError(f"--count must be >= 1, got {args.count}")
    metadata = read_metadata(args.model)
    dataset = metadata.get("dataset", "mnist")
    names = metadata.get("class_names")
    adapter = get_adapter(dataset)
    labels, paths = None, None
    if args.images:
        paths = args.images
        images = adapter.load_files(paths, metadata)
    else:
        if args.dataset and args.dataset != dataset:
            raise ValueError(
                f"--dataset {args.dataset} does not match the model's dataset {dataset!r}"
            )
        images, labels, _ = test_examples(
            metadata, count=args.count, seed=args.seed, data_dir=args.data_dir
        )
    model = load_model(args.model, backend=args.backend)
    cam = QGradCAM(model)
    result = cam(images, class_index=args.class_index)
    os.makedirs(args.out, exist_ok=True)

    def caption(i):
        pred = names[int(np.argmax(result.probabilities[i]))]
        target = names[int(result.class_index[i])]
        head = (
            f"label {names[int(labels[i])]}" if labels is not None else os.path.basename(paths[i])
        )
        return f"{head}\npred {pred}, map for {target}"

    titles = [caption(i) for i in range(len(images))]
    grid = os.path.join(args.out, "qgradcam_grid.png")
    save_grid(
        images, result.maps, grid, titles=titles, columns=5, suptitle=f"QGrad-CAM ({dataset})"
    )
    written = [grid]
    if paths:
        for i, path in enumerate(paths):
            stem = os.path.splitext(os.path.basename(path))[0]
            target = os.path.join(args.out, f"{stem}_qgradcam.png")
            save_overlay(images[i], result.maps[i], target, title=titles[i])
            written.append(target)
    figures = explain_figures(dataset)
    if figures is not None:
        written += list(figures(args.out, images, cam, result, metadata, labels))
    npz = os.path.join(args.out, "maps.npz")
    with atomic_path(npz, suffix=".npz") as tmp:
        np.savez_compressed(
            tmp,
            maps=result.maps,
            weights=result.weights,
            scores=result.scores,
            probabilities=result.probabilities,
            class_index=result.class_index,
            labels=labels if labels is not None else np.full(len(images), -1),
            paths=np.array(paths or [], dtype=str),
        )
    written.append(npz)
    for path in written:
        print(f"wrote {path}")
    return 0
