"""``qgcam noise``: accuracy and QGrad-CAM map stability of a trained model under NISQ noise."""

from __future__ import annotations

import argparse
import os

NAME = "noise"
HELP = (
    "sweep noise strength, hardware presets and shots; write noise.csv, noise.png, noise_maps.png"
)


def _typed(convert, ok, expected: str):
    """An argparse type: ``convert(text)`` that must pass ``ok``, else one clear error."""

    def parse(text: str):
        error = argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")
        try:
            value = convert(text)
        except ValueError:
            raise error from None
        if not ok(value):
            raise error
        return value

    return parse


_probability = _typed(float, lambda v: 0.0 <= v <= 1.0, "a probability in [0, 1]")
_scale = _typed(float, lambda v: 0.0 <= v < float("inf"), "a finite number >= 0")
_positive = _typed(int, lambda v: v >= 1, "an int >= 1")
_shots = _typed(
    lambda t: None if t.lower() == "none" else int(t),
    lambda v: v is None or v >= 1,
    "an int >= 1 or 'none'",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from qgcam_tf.noise.model import METHODS
    from qgcam_tf.noise.presets import presets

    p.add_argument(
        "--model", required=True, help="run directory of the hybrid model (`qgcam train`)"
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--preset",
        nargs="+",
        choices=presets(),
        default=["depolarizing", "rainbow"],
        help="noise presets to sweep (default: depolarizing rainbow)",
    )
    p.add_argument(
        "--strengths",
        nargs="+",
        type=_probability,
        default=[0.0, 0.01, 0.02, 0.05],
        help="probabilities swept for the channel presets (default: 0 0.01 0.02 0.05)",
    )
    p.add_argument(
        "--scales",
        nargs="+",
        type=_scale,
        default=[1.0],
        help="factors on the calibrated error rates of rainbow/weber (default: 1)",
    )
    p.add_argument(
        "--shots",
        nargs="+",
        type=_shots,
        default=[None],
        help="shots per expectation, ints or 'none' for exact expectations (default: none)",
    )
    p.add_argument("--count", type=_positive, default=100, help="test images (default 100)")
    p.add_argument(
        "--repeats",
        type=_positive,
        default=3,
        help="repeats of each random configuration (trajectories/shots; default 3)",
    )
    p.add_argument(
        "--method",
        choices=METHODS,
        default="auto",
        help="simulation: exact density matrix, TFQ trajectories, or auto (<= 8 qubits: density)",
    )
    p.add_argument(
        "--repetitions",
        type=_positive,
        default=100,
        help="trajectories per expectation for the trajectory method (default 100)",
    )
    p.add_argument("--data-dir", help="dataset files (default: the embedded/default location)")
    p.add_argument("--seed", type=int, default=0)


def build_configs(args, spec) -> list:
    """The sweep's :class:`~qgcam_tf.evaluate.robustness.NoiseConfig` list from the arguments."""
    from qgcam_tf.evaluate.robustness import NoiseConfig
    from qgcam_tf.noise.hardware import HARDWARE_PRESETS
    from qgcam_tf.noise.presets import make_noise

    options = dict(method=args.method, repetitions=args.repetitions)
    configs = []
    for preset in dict.fromkeys(args.preset):
        hardware = preset in HARDWARE_PRESETS
        for strength in dict.fromkeys(args.scales if hardware else args.strengths):
            model = make_noise(preset, strength, spec=spec, **options)
            x = model.mean_two_qubit_depolarizing(spec.n_qubits) if hardware else strength
            for shots in dict.fromkeys(args.shots):
                configs.append(NoiseConfig(preset, strength, x, model, shots))
    return configs


def run(args) -> int:
    from tqdm import tqdm

    from qgcam_tf.data.registry import test_examples
    from qgcam_tf.evaluate import robustness as rb
    from qgcam_tf.fileio import write_json_atomic
    from qgcam_tf.model.hybrid import VQC_LAYER
    from qgcam_tf.model.run import load_model, read_metadata
    from qgcam_tf.viz.noise import plot_maps, plot_sweep

    metadata = read_metadata(args.model)
    model = load_model(args.model)
    if VQC_LAYER not in [layer.name for layer in model.layers]:
        raise ValueError(f"--model {args.model!r} has no VQC layer: noise needs a hybrid model")
    spec = model.get_layer(VQC_LAYER).spec
    configs = build_configs(args, spec)
    dataset = metadata.get("dataset", "mnist")
    images, labels, _ = test_examples(
        metadata, count=args.count, seed=args.seed, data_dir=args.data_dir
    )

    total = sum(args.repeats if rb.is_random(c, model) else 1 for c in configs)
    with tqdm(total=total, desc="noise sweep", unit="run") as bar:
        rows, example = rb.run_sweep(
            model, images, labels, configs, repeats=args.repeats, seed=args.seed, progress=bar
        )
    os.makedirs(args.out, exist_ok=True)
    paths = {
        name: os.path.join(args.out, name)
        for name in ("noise.csv", "noise.png", "noise_maps.png", "noise.json")
    }
    rb.write_csv(rows, paths["noise.csv"])
    title = f"{dataset}: {len(images)} test images, {spec.n_qubits} qubits, depth {spec.depth}"
    plot_sweep(rows, paths["noise.png"], title=title)
    plot_maps(example, paths["noise_maps.png"])
    write_json_atomic(
        paths["noise.json"],
        {
            "model": os.path.abspath(args.model),
            "dataset": dataset,
            "count": len(images),
            "presets": args.preset,
            "strengths": args.strengths,
            "scales": args.scales,
            "shots": args.shots,
            "repeats": args.repeats,
            "method": args.method,
            "repetitions": args.repetitions,
            "seed": args.seed,
            "rows": rows,
        },
    )
    for r in rows:
        shots = f"{r['shots']} shots" if r["shots"] else "exact"
        print(
            f"{r['preset']:>17} {r['strength']:<6g} {shots:>11}  acc {r['accuracy_mean']:.3f}  "
            f"pearson {r['pearson_mean']:.3f}±{r['pearson_std']:.3f}  iou {r['iou_mean']:.3f}  "
            f"ssim {r['ssim_mean']:.3f}  ({r['seconds']} s)"
        )
    for path in paths.values():
        print(f"wrote {path}")
    return 0
