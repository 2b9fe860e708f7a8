"""TF Serving request bodies (REST row/columnar JSON, gRPC PredictRequest) and the client.

TF Serving itself is not installable here, so the request bodies are decoded the way its
REST API documentation and the PredictRequest proto define them, fed to the loaded export,
and compared with the in-process model; ``scripts/serve_client.py`` runs end to end against
small REST and gRPC stand-in servers that answer from the loaded export.
"""

from __future__ import annotations

import concurrent.futures
import http.server
import importlib.util
import json
import os
import sys
import threading

import grpc
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from qgcam_tf.explain.qgradcam import QGradCAM
from qgcam_tf.model.run import load_model
from qgcam_tf.serving import requests as serving
from qgcam_tf.testing.exports import CLASS_NAMES, sample_images, tiny_export

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Input dtypes of the signatures (docs/architecture.md); a JSON body carries no dtypes.
DTYPES = {"images": np.float32, "class_index": np.int64}
DEFAULT, EXPLAIN = "serving_default", "explain"
SIGNATURE_INPUTS = {DEFAULT: {"images"}, EXPLAIN: {"images", "class_index"}}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The shared tiny run directory and its export (see qgcam_tf.testing.exports)."""
    return tiny_export(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def loaded(tiny):
    """The export loaded in this process."""
    return tf.saved_model.load(tiny.version_dir)


@pytest.fixture(scope="module")
def model(tiny):
    """The run's model on the tf executor, in process."""
    return load_model(tiny.run_dir, backend="tf")


@pytest.fixture(scope="module")
def cam(model):
    """In-process QGrad-CAM on that model (one traced function for the module)."""
    return QGradCAM(model)


def _run(loaded, signature: str, inputs: dict) -> dict:
    tensors = {k: tf.constant(np.asarray(v, DTYPES[k])) for k, v in inputs.items()}
    return {k: v.numpy() for k, v in loaded.signatures[signature](**tensors).items()}


def _leaves(value):
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _tensor(name: str, value) -> np.ndarray:
    """One JSON value as TF Serving's parser reads it: dtype from the signature, shape
    from the nesting; DT_INT64 takes JSON integers only, DT_FLOAT any JSON number."""
    for leaf in _leaves(value):
        assert not isinstance(leaf, bool), (name, leaf)
        allowed = (int,) if DTYPES[name] is np.int64 else (int, float)
        assert isinstance(leaf, allowed), f"{name}: {leaf!r} is not a JSON {allowed}"
    return np.asarray(value, DTYPES[name])


def _decode_rest_request(body: dict) -> tuple[str, dict]:
    """Signature name and named inputs of a REST predict body, by the rules of TF Serving's
    JSON parser (tensorflow_serving/util/json_tensor.cc, FillPredictRequestFromJson)."""
    assert ("instances" in body) != ("inputs" in body), "exactly one of instances / inputs"
    signature = body.get("signature_name", DEFAULT)
    names = SIGNATURE_INPUTS[signature]
    if "instances" in body:  # row format: every object has exactly the input names
        rows = body["instances"]
        assert rows and all(isinstance(r, dict) and set(r) == names for r in rows), names
        tensors = {k: [_tensor(k, r[k]) for r in rows] for k in names}
        for k, items in tensors.items():
            assert len({t.shape for t in items}) == 1, f"{k}: instances differ in shape"
        return signature, {k: np.stack(items) for k, items in tensors.items()}
    columns = body["inputs"]  # columnar format: an object of named inputs
    assert isinstance(columns, dict) and set(columns) == names, names
    return signature, {k: _tensor(k, v) for k, v in columns.items()}


def _rest_response(outputs: dict, fmt: str) -> dict:
    """A REST predict response as TF Serving writes it for a multi-output signature."""
    if fmt == "inputs":
        return {"outputs": {k: v.tolist() for k, v in outputs.items()}}
    batch = len(next(iter(outputs.values())))
    return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()} for i in range(batch)]}


@pytest.mark.parametrize("fmt", serving.REST_FORMATS)
def test_rest_explain_body_feeds_the_export(loaded, cam, fmt):
    """The REST JSON body decodes to the exact tensors; the export then equals the model."""
    images, class_index = sample_images(3), np.array([-1, 2, 0])
    body = json.loads(
        json.dumps(
            serving.rest_predict_body(images, class_index, signature_name="explain", fmt=fmt)
        )
    )
    signature, inputs = _decode_rest_request(body)
    assert signature == "explain" and sorted(inputs) == ["class_index", "images"]
    np.testing.assert_array_equal(inputs["images"], images)  # float32 survives JSON exactly
    np.testing.assert_array_equal(inputs["class_index"], class_index)
    out = _run(loaded, signature, inputs)
    res = cam(images, class_index)
    np.testing.assert_allclose(out["heatmap"], res.maps, atol=1e-4)
    np.testing.assert_allclose(out["probabilities"], res.probabilities, atol=1e-5)
    decoded = serving.decode_rest_response(json.loads(json.dumps(_rest_response(out, fmt))))
    for key, value in out.items():
        np.testing.assert_allclose(decoded[key], value, atol=1e-7, err_msg=key)


def test_rest_serving_default_body(loaded, model):
    """serving_default's row body holds only images, one instance per example."""
    images = sample_images(2)
    body = serving.rest_predict_body(images, signature_name="serving_default")
    assert body["signature_name"] == "serving_default" and len(body["instances"]) == 2
    assert list(body["instances"][0]) == ["images"]
    assert np.asarray(body["instances"][0]["images"]).shape == (8, 8, 1)
    _, inputs = _decode_rest_request(json.loads(json.dumps(body)))
    out = _run(loaded, "serving_default", inputs)
    np.testing.assert_allclose(out["probabilities"], model.predict(images, verbose=0), atol=1e-5)


def test_grpc_request_feeds_the_export(loaded, cam):
    """A serialized PredictRequest carries DT_FLOAT/DT_INT64 tensors that run the export."""
    images = sample_images(2)
    request = serving.grpc_predict_request(
        images, 1, model_name="qgcam", signature_name="explain", version=4
    )
    wire = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    assert (wire.model_spec.name, wire.model_spec.signature_name) == ("qgcam", "explain")
    assert wire.model_spec.version.value == 4
    assert wire.inputs["images"].dtype == tf.float32.as_datatype_enum
    assert wire.inputs["class_index"].dtype == tf.int64.as_datatype_enum
    inputs = {k: tf.make_ndarray(v) for k, v in wire.inputs.items()}
    np.testing.assert_array_equal(inputs["images"], images)
    np.testing.assert_array_equal(inputs["class_index"], [1, 1])
    out = _run(loaded, "explain", inputs)
    np.testing.assert_allclose(out["heatmap"], cam(images, 1).maps, atol=1e-4)
    response = predict_pb2.PredictResponse()
    for key, value in out.items():
        response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
    decoded = serving.decode_grpc_response(
        predict_pb2.PredictResponse.FromString(response.SerializeToString())
    )
    for key, value in out.items():
        np.testing.assert_array_equal(decoded[key], value)


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda: serving.predict_inputs(np.zeros((8, 8, 1)), signature_name="predict"),
            "signature_name must be one of .*got 'predict'",
        ),
        (
            lambda: serving.predict_inputs(np.zeros((8, 8)), signature_name="explain"),
            r"images must be \[B, H, W, C\] or \[H, W, C\], got shape \(8, 8\)",
        ),
        (
            lambda: serving.predict_inputs(np.zeros((2, 8, 8, 1)), 0, signature_name=DEFAULT),
            "class_index is only an input of the 'explain' signature",
        ),
        (
            lambda: serving.predict_inputs(
                np.zeros((2, 8, 8, 1)), [0, 1, 2], signature_name=EXPLAIN
            ),
            r"class_index must be one int or 2 ints, got \[0, 1, 2\]",
        ),
        (
            lambda: serving.rest_predict_body(np.zeros((8, 8, 1)), fmt="rows"),
            "fmt must be one of .*got 'rows'",
        ),
        (
            lambda: serving.decode_rest_response({"error": "images must be float32"}),
            "TF Serving error: images must be float32",
        ),
        (lambda: serving.decode_rest_response({"result": 1}), r"not a Predict response: keys"),
    ],
)
def test_request_helpers_reject_bad_arguments(call, match):
    """Bad signature names, shapes, class indices, formats and responses are named."""
    with pytest.raises(ValueError, match=match):
        call()


def test_summarize_error_keeps_the_failed_assertion():
    """TensorFlow's multi-line assertion error becomes its one readable line."""
    message = (
        "Graph execution error:\n\nDetected at node Assert/Assert defined at:\n"
        "assertion failed: [images must be float32 [batch, 8, 8, 1]; got shape] [1 10 10 1]\n"
        "\t [[{{node Assert/Assert}}]] [Op:__inference_signature_wrapper_1]"
    )
    assert serving.summarize_error(message) == (
        "assertion failed: [images must be float32 [batch, 8, 8, 1]; got shape] [1 10 10 1]"
    )
    assert serving.summarize_error("Servable not found\n  for  name: qgcam") == (
        "Servable not found for name: qgcam"
    )


def test_rest_url():
    """The predict URL follows /v1/models/NAME[/versions/V]:predict."""
    assert serving.rest_predict_url("h", 8501, "qgcam") == "http://h:8501/v1/models/qgcam:predict"
    url = serving.rest_predict_url("h", 1, "m", version=3)
    assert url == "http://h:1/v1/models/m/versions/3:predict"


# --- the client against stand-in servers ------------------------------------------------


def _load_client():
    spec = importlib.util.spec_from_file_location(
        "serve_client", os.path.join(ROOT, "scripts", "serve_client.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _RestHandler(http.server.BaseHTTPRequestHandler):
    loaded = None

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path == "/v1/models/qgcam:predict", self.path
        signature, inputs = _decode_rest_request(body)
        fmt = "instances" if "instances" in body else "inputs"
        try:
            status, reply = 200, _rest_response(_run(self.loaded, signature, inputs), fmt)
        except tf.errors.InvalidArgumentError as e:
            status, reply = 400, {"error": e.message}
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class _GrpcServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, loaded):
        self.loaded = loaded

    def Predict(self, request, context):  # noqa: N802 (the proto's name)
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        try:
            out = _run(self.loaded, request.model_spec.signature_name, inputs)
        except tf.errors.InvalidArgumentError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, e.message)
        response = predict_pb2.PredictResponse()
        for key, value in out.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response


@pytest.fixture(scope="module")
def servers(loaded):
    """REST and gRPC stand-ins on free local ports, answering from the loaded export."""
    handler = type("Handler", (_RestHandler,), {"loaded": loaded})
    rest = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=rest.serve_forever, daemon=True).start()
    rpc = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_GrpcServicer(loaded), rpc)
    grpc_port = rpc.add_insecure_port("127.0.0.1:0")
    rpc.start()
    yield {"rest": rest.server_address[1], "grpc": grpc_port}
    rest.shutdown()
    rpc.stop(None)


@pytest.fixture
def digit_png(tmp_path):
    """One 8x8 grey PNG and its [8, 8, 1] float image as the client reads it."""
    path = tmp_path / "digit.png"
    pixels = np.round(sample_images(1)[0, ..., 0] * 255).astype(np.uint8)
    Image.fromarray(pixels, mode="L").save(path)
    return str(path), (pixels / 255.0).astype(np.float32)[..., None]


@pytest.mark.parametrize(
    "protocol,fmt", [("rest", "instances"), ("rest", "inputs"), ("grpc", "instances")]
)
def test_client_prints_class_and_saves_overlay(
    servers, cam, digit_png, tmp_path, capsys, protocol, fmt
):
    """serve_client.py prints the model's class and writes the overlay PNG."""
    path, image = digit_png
    out = tmp_path / "overlay.png"
    argv = [
        "--image",
        path,
        "--protocol",
        protocol,
        "--port",
        str(servers[protocol]),
        "--format",
        fmt,
        "--out",
        str(out),
        "--class-names",
        *CLASS_NAMES,
    ]
    assert _load_client().main(argv) == 0
    res = cam(image[None])
    k = int(res.class_index[0])
    printed = capsys.readouterr().out
    p = res.probabilities[0, k]
    assert f"class {CLASS_NAMES[k]} (index {k}), probability {p:.4f}" in printed
    with Image.open(out) as png:
        assert png.format == "PNG" and png.size[0] > 50


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_client_reports_server_errors_in_one_line(servers, tmp_path, capsys, protocol):
    """A 10x10 image gets the export's INVALID_ARGUMENT message back, exit status 2."""
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((10, 10), np.uint8), mode="L").save(path)
    argv = ["--image", str(path), "--protocol", protocol, "--port", str(servers[protocol])]
    assert _load_client().main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("serve_client: error:") and len(err.strip().splitlines()) == 1
    assert "images must be float32 [batch, 8, 8, 1]" in err and "[1 10 10 1]" in err
    if protocol == "grpc":
        assert "INVALID_ARGUMENT" in err


def test_client_reports_unreachable_server_and_missing_image(tmp_path, digit_png, capsys):
    """No server on the port, or no image file: one clear line, exit status 2."""
    client = _load_client()
    assert client.main(["--image", digit_png[0], "--port", "1", "--timeout", "5"]) == 2
    assert "cannot reach http://localhost:1/v1/models/qgcam:predict" in capsys.readouterr().err
    assert client.main(["--image", str(tmp_path / "none.png")]) == 2
    assert "--image" in capsys.readouterr().err


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
