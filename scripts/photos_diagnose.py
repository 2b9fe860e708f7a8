"""Why photo maps are empty or sit on the border: the two numbers of trained runs on their
test split (docs/experiments.md, "Dogs vs Cats").

For each run directory: test accuracy, and for the predicted class of every test photo the
share of empty maps (all zero after the ReLU) and the share of map mass in the outer eighth of
the image (:mod:`qgcam_tf.evaluate.placement`). The hybrid is explained by QGrad-CAM, the
classical twin by Grad-CAM (the same weights on its logits). ``negative_mean_share`` is the
share of photos whose weighted sum ``sum_k w_k A^k`` has a negative mean over the grid (the
part of the map the ReLU removes is most of it).

Example:
    python scripts/photos_diagnose.py runs/photos-base runs/photos-base-classical \
        --data-dir ../shared/data/dogs-vs-cats-mini --out runs/photos-diagnose.json
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("runs", nargs="+", help="run directories of qgcam train (dogs-vs-cats)")
    p.add_argument("--data-dir", help="the photos (default: the path each run recorded)")
    p.add_argument("--layer", default=None, help="conv layer to explain (default qgcam_conv)")
    p.add_argument("--out", help="JSON file to write (default: print only)")
    return p.parse_args(argv)


def diagnose_run(run_dir: str, *, data_dir=None, layer=None) -> dict:
    """Accuracy, empty share and border mass of one run on its test split."""
    import numpy as np
    import tensorflow as tf

    from qgcam_tf.evaluate.placement import map_placement
    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.model.hybrid import CONV_LAYER
    from qgcam_tf.model.run import Run

    run = Run.open(run_dir)
    model = run.model(backend="tf")  # the same weights; no TFQ op needed for gradients
    bundle = run.bundle(data_dir=data_dir)
    x, y = bundle.test_arrays
    cam = QGradCAM(model, layer=layer or CONV_LAYER)
    found = map_placement(cam, x)
    accuracy = float(np.mean(found["predicted"] == y))
    negative = []
    for start in range(0, len(x), 50):
        images = tf.constant(x[start : start + 50])
        acts, grads, _, _, ci = cam.forward_and_gradients(
            images, tf.constant([-1] * len(images), tf.int64)
        )
        weights = cam.get_cam_weights(acts, grads, images, ci)
        summed = tf.einsum("bhwk,bk->bhw", acts, weights)
        negative.append(tf.reduce_mean(summed, axis=[1, 2]).numpy() < 0)
    negative = np.concatenate(negative)
    out = {k: v for k, v in found.items() if k not in ("predicted", "empty", "border")}
    out.update(
        run=run_dir,
        layer=layer or CONV_LAYER,
        grid=list(model.get_layer(layer or CONV_LAYER).output.shape[1:3]),
        test_accuracy=accuracy,
        negative_mean_share=float(negative.mean()),
        empty_share_correct=float(found["empty"][found["predicted"] == y].mean()),
    )
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    rows = [diagnose_run(r, data_dir=args.data_dir, layer=args.layer) for r in args.runs]
    text = json.dumps(rows, indent=2)
    print(text)
    if args.out:
        from qgcam_tf.fileio import write_json_atomic

        write_json_atomic(args.out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
