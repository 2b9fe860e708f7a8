"""Queries a running TF Serving that serves a ``qgcam export``: prints the class, saves the map.

Example (REST, the ``explain`` signature, row format):
    python scripts/serve_client.py --image digit.png --protocol rest --port 8501 \
        --model-name qgcam --signature explain --out digit_overlay.png
    python scripts/serve_client.py --image digit.png --protocol grpc --port 8500

Images are read as in training: grey (``--channels 1``) or RGB (``--channels 3``), scaled
to [0, 1] and, with ``--size H W``, resized. ``.npy`` files are taken as they are.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from qgcam_tf.serving import requests as serving  # noqa: E402


def load_image(path: str, *, channels: int, size: tuple[int, int] | None) -> np.ndarray:
    """``[H, W, C]`` float32 in [0, 1] from a PNG/JPEG or ``.npy`` file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--image {path!r} does not exist")
    if path.endswith(".npy"):
        image = np.load(path).astype(np.float32)
        return image[..., None] if image.ndim == 2 else image
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            if size is not None:
                img = img.resize((size[1], size[0]), Image.BILINEAR)
            image = np.asarray(img, np.float32) / 255.0
    except UnidentifiedImageError:
        raise ValueError(f"--image {path!r} is not an image file") from None
    return image[..., None] if image.ndim == 2 else image


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--image", required=True, help="PNG/JPEG or .npy [H, W, C] in [0, 1]")
    p.add_argument("--protocol", choices=("rest", "grpc"), default="rest")
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, help="default 8501 (REST) / 8500 (gRPC)")
    p.add_argument("--model-name", default="qgcam", help="TF Serving's MODEL_NAME")
    p.add_argument("--version", type=int, help="model version (default: the newest)")
    p.add_argument("--signature", choices=serving.SIGNATURES, default="explain")
    p.add_argument(
        "--format",
        choices=serving.REST_FORMATS,
        default="instances",
        help="REST body: row (instances) or columnar (inputs) format",
    )
    p.add_argument("--class-index", type=int, default=-1, help="class to explain; -1 = predicted")
    p.add_argument("--channels", type=int, choices=(1, 3), default=1)
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="resize the image")
    p.add_argument("--class-names", nargs="+", help="names to print instead of indices")
    p.add_argument("--out", default="heatmap_overlay.png", help="overlay PNG (explain only)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds")
    return p


def query(args) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Sends one request as the arguments say; returns the image sent and the outputs."""
    image = load_image(args.image, channels=args.channels, size=args.size)
    class_index = args.class_index if args.signature == "explain" else None
    if args.protocol == "rest":
        url = serving.rest_predict_url(
            args.host, args.port or 8501, args.model_name, version=args.version
        )
        body = serving.rest_predict_body(
            image, class_index, signature_name=args.signature, fmt=args.format
        )
        return image, serving.rest_predict(url, body, timeout=args.timeout)
    request = serving.grpc_predict_request(
        image,
        class_index,
        model_name=args.model_name,
        signature_name=args.signature,
        version=args.version,
    )
    target = f"{args.host}:{args.port or 8500}"
    return image, serving.grpc_predict(target, request, timeout=args.timeout)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        image, outputs = query(args)
        missing = {"class_index", "probabilities"} - set(outputs)
        if missing:
            raise ValueError(f"the response lacks {sorted(missing)}: is this a qgcam export?")
    except (ValueError, FileNotFoundError, ConnectionError) as e:
        print(f"serve_client: error: {e}", file=sys.stderr)
        return 2
    k = int(outputs["class_index"][0])
    p = float(outputs["probabilities"][0][k])
    name = args.class_names[k] if args.class_names and k < len(args.class_names) else str(k)
    print(f"class {name} (index {k}), probability {p:.4f}")
    if "heatmap" in outputs:
        from qgcam_tf.viz.common import save_overlay

        save_overlay(
            image,
            np.asarray(outputs["heatmap"][0], np.float32),
            args.out,
            title=f"class {name}, p = {p:.3f}",
        )
        print(f"saved heatmap overlay to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
