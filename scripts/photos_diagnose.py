"""Why photo maps are empty or sit on the border: the two numbers of trained runs on their
test split (docs/experiments.md, "Dogs vs Cats").

For each run directory: test accuracy, and for the predicted class of every test photo the
share of empty maps (all zero after the ReLU) and the share of map mass in the outer eighth of
the image (:mod:`qgcam_tf.evaluate.placement`). The hybrid is explained by QGrad-CAM, the
classical twin by Grad-CAM (the same weights on its logits). ``negative_mean_share`` is the
share of photos whose weighted sum ``sum_k w_k A^k`` has a negative mean over the grid (the
part of the map the ReLU removes is most of it). ``--split validation`` measures on the
validation photos held out of the training data instead of the test photos, so that a recipe
can be chosen without looking at the test photos; ``--accuracy-only`` skips the maps.

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
    p.add_argument(
        "--split",
        choices=("test", "validation"),
        default="test",
        help="the photos measured: the test split, or the validation split held out of the "
        "training photos (for choosing a recipe without the test photos)",
    )
    p.add_argument("--accuracy-only", action="store_true", help="accuracy only, no maps")
    p.add_argument("--method", default="qgradcam", help="CAM method (qgcam explain --method)")
    p.add_argument(
        "--target",
        choices=("class", "margin"),
        default="class",
        help="explain the predicted class's score, or its margin over the other class's",
    )
    p.add_argument(
        "--reference",
        choices=("zero", "bn-mean"),
        default="zero",
        help="activations subtracted before the weighted sum: none (Grad-CAM), or the moving "
        "mean of the BatchNorm after the pooling",
    )
    p.add_argument(
        "--figure",
        help="also draw Fig. 5's photos of the first run with these maps (--target, --reference) "
        "to this PNG",
    )
    p.add_argument("--per-class", type=int, default=4, help="photos of each class in --figure")
    p.add_argument(
        "--agree-with",
        metavar="RUN",
        help="also compare each run's maps with Grad-CAM's of this run (the classical twin) "
        "on the photos both classify correctly, for the true class: the share whose peak lies "
        "where the twin's map is >= half its maximum, and the mass enrichment there",
    )
    p.add_argument("--out", help="JSON file to write (default: print only)")
    return p.parse_args(argv)


def split_arrays(bundle, split: str):
    """``(x, y)`` NumPy arrays of the bundle's ``split`` ("test" or "validation")."""
    import numpy as np

    if split == "test":
        return bundle.test_arrays
    if split != "validation":
        raise ValueError(f"split must be 'test' or 'validation', got {split!r}")
    if bundle.validation is None:
        raise ValueError("the run has no validation split (trained with validation_fraction 0)")
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in bundle.validation])
    return np.concatenate(xs), np.concatenate(ys).reshape(-1)


def validation_options(run, *, data_dir=None) -> dict:
    """The loader options that rebuild the run's validation split: those of
    ``Run.bundle`` plus the validation share the run trained with (its ``progress.json``)."""
    with open(os.path.join(run.run_dir, "progress.json")) as f:
        settings = json.load(f)["settings"]["options"]
    options = {
        **run.metadata.get("options", {}),
        "seed": run.metadata.get("seed", 0),
        "batch_size": 64,
        "validation_fraction": settings.get("validation_fraction", 0.0),
    }
    if data_dir:
        options["data_dir"] = data_dir
    return options


class VariantCAM:
    """A CAM of a two-class model with two departures from Grad-CAM, for diagnosis.

    * ``margin``: explain ``f^c - f^o`` (the explained class's score minus the other's)
      instead of ``f^c``; the weights are the method's weights of ``c`` minus those of ``o``
      (Grad-CAM's weights are linear in the gradient, so these are the margin's).
    * ``reference``: ``[K]`` activations subtracted before the weighted sum,
      ``ReLU(sum_k w_k (A^k - r_k))``: with ``r`` the moving mean of the BatchNorm after the
      global average pooling, the map's grid mean is the first-order change of the score from
      an average photo's features to this photo's, instead of from all-zero features.

    Called like a CAM object of :mod:`qgcam_tf.explain` (``cam(images, class_index=...)``).
    """

    def __init__(self, cam, *, margin=False, reference=None):
        self.cam, self.margin, self.reference = cam, bool(margin), reference

    def weighted_sum(self, images, class_index):
        """``([B, H', W'] weighted sum before the ReLU, probabilities)``."""
        import tensorflow as tf

        acts, grads, _, probs, ci = self.cam.forward_and_gradients(images, class_index)
        weights = self.cam.get_cam_weights(acts, grads, images, ci)
        if self.margin:
            other = 1 - ci
            _, grads_o, _, _, _ = self.cam.forward_and_gradients(images, other)
            weights = weights - self.cam.get_cam_weights(acts, grads_o, images, other)
        if self.reference is not None:
            acts = acts - tf.constant(self.reference, acts.dtype)
        summed = tf.reduce_sum(self.cam.weighted_activations(acts, weights), -1)
        return summed, probs

    def __call__(self, images, class_index=None):
        import types

        import numpy as np
        import tensorflow as tf

        images = tf.constant(np.asarray(images, np.float32))
        ci = (
            [-1] * len(images) if class_index is None else np.broadcast_to(class_index, len(images))
        )
        summed, probs = self.weighted_sum(images, tf.constant(np.asarray(ci), tf.int64))
        cams = tf.nn.relu(summed)
        maps = self.cam.upsample(cams, tf.shape(images)[1:3])
        return types.SimpleNamespace(
            maps=maps.numpy(), activations_maps=cams.numpy(), probabilities=probs.numpy()
        )


def diagnose_run(
    run_dir: str,
    *,
    data_dir=None,
    layer=None,
    split="test",
    accuracy_only=False,
    method="qgradcam",
    target="class",
    reference="zero",
    agree_with=None,
) -> dict:
    """Accuracy, empty share and border mass of one run on its test (or validation) split.

    ``method`` is a CAM of :data:`qgcam_tf.explain.cams.CAM_METHODS` (QGrad-CAM is Grad-CAM
    on the classical twin); ``target`` "class" explains the predicted class's score,
    "margin" that score minus the other class's; ``reference`` "zero" is Grad-CAM's
    ``ReLU(sum_k w_k A^k)``, "bn-mean" subtracts the moving mean of the BatchNorm ``bn``
    after the pooling from the activations first (:class:`VariantCAM`; only at
    ``qgcam_conv``, whose pooled channels that BatchNorm normalises). ``agree_with``, a run
    directory (the classical twin), adds :func:`twin_agreement`.
    """
    import numpy as np
    import tensorflow as tf

    from qgcam_tf.evaluate.placement import map_placement
    from qgcam_tf.explain.cams import make_cam
    from qgcam_tf.model.hybrid import CONV_LAYER
    from qgcam_tf.model.run import Run

    run = Run.open(run_dir)
    model = run.model(backend="tf")  # the same weights; no TFQ op needed for gradients
    if split == "validation":
        bundle = run.adapter().load(validation_options(run, data_dir=data_dir))
    else:
        bundle = run.bundle(data_dir=data_dir)
    x, y = split_arrays(bundle, split)
    if accuracy_only:
        predicted = np.argmax(model.predict(x, batch_size=50, verbose=0), axis=1)
        return {
            "run": run_dir,
            "split": split,
            "n": len(y),
            f"{split}_accuracy": float(np.mean(predicted == y)),
            "correct": (predicted == y).astype(int).tolist(),
        }
    layer = layer or CONV_LAYER
    cam = make_cam(method, model, layer=layer)
    variant = None
    if target == "margin" or reference == "bn-mean":
        ref = None
        if reference == "bn-mean":
            if layer != CONV_LAYER:
                raise ValueError(f"reference 'bn-mean' needs layer {CONV_LAYER!r}, got {layer!r}")
            ref = model.get_layer("bn").moving_mean.numpy()
        variant = VariantCAM(cam, margin=target == "margin", reference=ref)
    found = map_placement(variant or cam, x)
    accuracy = float(np.mean(found["predicted"] == y))
    negative = []
    for start in range(0, len(x), 50):
        images = tf.constant(x[start : start + 50])
        predicted = tf.constant([-1] * len(images), tf.int64)
        if variant is not None:
            summed = variant.weighted_sum(images, predicted)[0]
        else:
            acts, grads, _, _, ci = cam.forward_and_gradients(images, predicted)
            weights = cam.get_cam_weights(acts, grads, images, ci)
            summed = tf.reduce_sum(cam.weighted_activations(acts, weights), -1)
        negative.append(tf.reduce_mean(summed, axis=[1, 2]).numpy() < 0)
    negative = np.concatenate(negative)
    out = {k: v for k, v in found.items() if k not in ("predicted", "empty", "border")}
    if agree_with is not None:
        out["agreement"] = twin_agreement(
            variant or cam, found["predicted"], agree_with, x, y, data_dir=data_dir
        )
    out.update(
        run=run_dir,
        split=split,
        method=method,
        target=target,
        reference=reference,
        layer=layer,
        grid=list(model.get_layer(layer).output.shape[1:3]),
        **{f"{split}_accuracy": accuracy},
        negative_mean_share=float(negative.mean()),
        empty_share_correct=float(found["empty"][found["predicted"] == y].mean()),
    )
    return out


def twin_agreement(cam, predicted, twin_dir, x, y, *, data_dir=None, batch_size=50) -> dict:
    """``cam``'s maps of the true class against Grad-CAM's of the run ``twin_dir`` (the
    classical twin; QGrad-CAM's for a hybrid run), on the photos that both models classify correctly
    (:func:`qgcam_tf.evaluate.placement.region_agreement`, the twin's region being where its
    map is at least half its maximum): the share of photos whose map peaks inside it, and
    the map's mass enrichment there (mean and median; 1.0 is a uniform map's).
    """
    import numpy as np

    from qgcam_tf.evaluate.placement import region_agreement
    from qgcam_tf.explain.qgradcam import QGradCAM
    from qgcam_tf.model.run import Run

    twin = Run.open(twin_dir).model(backend="tf")
    reference = QGradCAM(twin)  # on the twin: Grad-CAM of its logits
    twin_predicted = np.concatenate(
        [
            np.argmax(twin.predict(x[i : i + batch_size], verbose=0), axis=1)
            for i in range(0, len(x), batch_size)
        ]
    )
    both = np.flatnonzero((predicted == y) & (twin_predicted == y))
    if len(both) == 0:
        raise ValueError(f"no photo is classified correctly by both the run and {twin_dir}")
    pointing, enrichment = [], []
    for start in range(0, len(both), batch_size):
        idx = both[start : start + batch_size]
        mine = np.asarray(cam(x[idx], class_index=y[idx]).maps)
        theirs = np.asarray(reference(x[idx], class_index=y[idx]).maps)
        found = region_agreement(mine, theirs)
        pointing.append(found["pointing"])
        enrichment.append(found["enrichment"])
    pointing, enrichment = np.concatenate(pointing), np.concatenate(enrichment)
    kept = enrichment[~np.isnan(enrichment)]
    return {
        "twin": twin_dir,
        "n_both_correct": int(len(both)),
        "pointing_share": float(pointing.mean()),
        "enrichment_mean": float(kept.mean()) if len(kept) else float("nan"),
        "enrichment_median": float(np.median(kept)) if len(kept) else float("nan"),
    }


def variant_figure(
    run_dir: str,
    path: str,
    *,
    data_dir=None,
    per_class=4,
    seed=0,
    method="qgradcam",
    layer=None,
    target="class",
    reference="zero",
) -> str:
    """Fig. 5's photos (those of ``scripts/dogs_vs_cats.py --figure-only --per-class N``,
    the same ``seed``) with the :class:`VariantCAM` maps of ``method`` for every class."""
    import numpy as np

    from qgcam_tf.explain.cams import make_cam
    from qgcam_tf.model.hybrid import CONV_LAYER
    from qgcam_tf.model.run import Run
    from qgcam_tf.viz.photos import save_photo_figure

    run = Run.open(run_dir)
    model = run.model(backend="tf")
    bundle = run.bundle(data_dir=data_dir)
    x, y = bundle.test_arrays
    rng = np.random.default_rng(seed)
    picked = []
    for c in range(len(bundle.class_names)):
        picked += rng.permutation(np.flatnonzero(y == c))[:per_class].tolist()
    ref = model.get_layer("bn").moving_mean.numpy() if reference == "bn-mean" else None
    if ref is not None and (layer or CONV_LAYER) != CONV_LAYER:
        raise ValueError(f"reference 'bn-mean' needs layer {CONV_LAYER!r}, got {layer!r}")
    cam = make_cam(method, model, layer=layer or CONV_LAYER)
    cam = VariantCAM(cam, margin=target == "margin", reference=ref)
    results = [cam(x[picked], class_index=c) for c in range(len(bundle.class_names))]
    maps = np.stack([r.maps for r in results])
    return save_photo_figure(
        x[picked],
        maps,
        bundle.class_names,
        path,
        probabilities=results[0].probabilities,
        labels=y[picked],
    )


def seed_summary(rows, *, split="test", n_boot=10000, seed=0) -> dict:
    """Accuracy over runs that differ only in their seed, on the same photos: the mean, each
    run's, a 95 % t interval over the runs, and a 95 % bootstrap interval of the mean over
    the photos (the photos resampled, each run's answers on a photo kept together).

    Raises:
        ValueError: fewer than 2 rows, or rows measured on different numbers of photos.
    """
    import numpy as np

    from qgcam_tf.evaluate.attention import bootstrap_ci
    from qgcam_tf.evaluate.metrics import mean_ci

    if len(rows) < 2:
        raise ValueError(f"rows must hold at least 2 runs, got {len(rows)}")
    correct = np.array([r["correct"] for r in rows], float)  # [runs, photos]
    per_run = correct.mean(axis=1)
    mean, half = mean_ci(per_run)
    return {
        "runs": [r["run"] for r in rows],
        "split": split,
        f"{split}_accuracy_per_run": per_run.tolist(),
        f"{split}_accuracy_mean": mean,
        "t_interval_95_over_runs": [mean - half, mean + half],
        # each photo's answers over the runs stay together: resample the per-photo means
        "bootstrap_interval_95_over_photos": list(
            bootstrap_ci(correct.mean(axis=0), n_boot=n_boot, seed=seed)
        ),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    rows = [
        diagnose_run(
            r,
            data_dir=args.data_dir,
            layer=args.layer,
            split=args.split,
            accuracy_only=args.accuracy_only,
            method=args.method,
            target=args.target,
            reference=args.reference,
            agree_with=args.agree_with,
        )
        for r in args.runs
    ]
    if args.figure:
        variant_figure(
            args.runs[0],
            args.figure,
            data_dir=args.data_dir,
            per_class=args.per_class,
            method=args.method,
            layer=args.layer,
            target=args.target,
            reference=args.reference,
        )
    if args.accuracy_only and len(rows) > 1:
        rows.append({"summary": seed_summary(rows, split=args.split)})
    text = json.dumps(rows)
    print(text)
    if args.out:
        from qgcam_tf.fileio import write_json_atomic

        write_json_atomic(args.out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
