"""Request bodies for TF Serving's REST and gRPC Predict APIs, and their responses.

TF Serving's REST API (``POST /v1/models/NAME[/versions/V]:predict``) takes either the row
format ``{"signature_name": S, "instances": [{"images": ..., "class_index": ...}, ...]}``
(one object per example, every named input with the same batch size) or the columnar
format ``{"signature_name": S, "inputs": {"images": [...], "class_index": [...]}}``. It
answers ``{"predictions": [...]}`` (one object per example when a signature has several
outputs) or ``{"outputs": {...}}`` respectively. The gRPC API takes a ``PredictRequest``
whose ``inputs`` map names to ``TensorProto`` s (``tf.make_tensor_proto``).

See https://www.tensorflow.org/tfx/serving/api_rest (Predict API, request/response format).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "REST_FORMATS",
    "decode_grpc_response",
    "decode_rest_response",
    "grpc_predict",
    "grpc_predict_request",
    "predict_inputs",
    "rest_predict",
    "rest_predict_body",
    "rest_predict_url",
    "summarize_error",
]

REST_FORMATS = ("instances", "inputs")
SIGNATURES = ("serving_default", "explain")


def predict_inputs(images, class_index=None, *, signature_name: str) -> dict[str, np.ndarray]:
    """The named input arrays of a signature: ``images`` float32, ``class_index`` int64.

    Args:
        images: ``[B, H, W, C]`` (or one ``[H, W, C]``) images in [0, 1].
        class_index: for ``explain`` only: None (predicted class), one int, or one per image.
        signature_name: ``"serving_default"`` or ``"explain"``.

    Raises:
        ValueError: unknown signature, images not 3-D/4-D, class_index given to
            ``serving_default`` or of the wrong length.
    """
    if signature_name not in SIGNATURES:
        raise ValueError(f"signature_name must be one of {SIGNATURES}, got {signature_name!r}")
    images = np.asarray(images, np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise ValueError(f"images must be [B, H, W, C] or [H, W, C], got shape {images.shape}")
    inputs = {"images": images}
    if signature_name == "serving_default":
        if class_index is not None:
            raise ValueError("class_index is only an input of the 'explain' signature")
        return inputs
    if class_index is None:
        ci = np.full([len(images)], -1, np.int64)
    elif np.ndim(class_index) == 0:
        ci = np.full([len(images)], int(class_index), np.int64)
    else:
        ci = np.asarray(class_index, np.int64)
    if ci.shape != (len(images),):
        raise ValueError(f"class_index must be one int or {len(images)} ints, got {class_index!r}")
    inputs["class_index"] = ci
    return inputs


def rest_predict_url(host: str, port: int, model_name: str, *, version: int | None = None) -> str:
    """``http://HOST:PORT/v1/models/NAME[/versions/V]:predict``."""
    path = f"/v1/models/{model_name}" + (f"/versions/{int(version)}" if version else "")
    return f"http://{host}:{int(port)}{path}:predict"


def rest_predict_body(
    images, class_index=None, *, signature_name: str = "serving_default", fmt: str = "instances"
) -> dict:
    """The JSON body of a REST Predict request (a dict for ``json.dumps``).

    Args:
        images, class_index, signature_name: as in :func:`predict_inputs`.
        fmt: ``"instances"`` (row format) or ``"inputs"`` (columnar format).

    Raises:
        ValueError: unknown ``fmt``, or bad inputs (see :func:`predict_inputs`).
    """
    if fmt not in REST_FORMATS:
        raise ValueError(f"fmt must be one of {REST_FORMATS}, got {fmt!r}")
    inputs = predict_inputs(images, class_index, signature_name=signature_name)
    if fmt == "inputs":
        columns = {k: v.tolist() for k, v in inputs.items()}
        return {"signature_name": signature_name, "inputs": columns}
    batch = len(inputs["images"])
    instances = [{k: v[i].tolist() for k, v in inputs.items()} for i in range(batch)]
    return {"signature_name": signature_name, "instances": instances}


def decode_rest_response(body: dict) -> dict[str, np.ndarray]:
    """Output name -> array, from a REST Predict response in either format.

    Raises:
        ValueError: the body is an error (``{"error": ...}``) or has neither format.
    """
    if "error" in body:
        raise ValueError(f"TF Serving error: {summarize_error(str(body['error']))}")
    if "outputs" in body:
        outputs = body["outputs"]
        if not isinstance(outputs, dict):  # a signature with one output is unnamed
            outputs = {"output": outputs}
        return {k: np.asarray(v) for k, v in outputs.items()}
    if "predictions" in body:
        rows = body["predictions"]
        if rows and isinstance(rows[0], dict):
            return {k: np.asarray([row[k] for row in rows]) for k in rows[0]}
        return {"output": np.asarray(rows)}
    raise ValueError(f"not a Predict response: keys {sorted(body)}")


def grpc_predict_request(
    images,
    class_index=None,
    *,
    model_name: str,
    signature_name: str = "serving_default",
    version: int | None = None,
):
    """A ``tensorflow_serving.apis.predict_pb2.PredictRequest`` for the gRPC Predict call.

    Raises:
        ValueError: bad inputs (see :func:`predict_inputs`).
    """
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version:
        request.model_spec.version.value = int(version)
    for key, value in predict_inputs(images, class_index, signature_name=signature_name).items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def decode_grpc_response(response) -> dict[str, np.ndarray]:
    """Output name -> array from a ``PredictResponse``."""
    import tensorflow as tf

    return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}


def summarize_error(message: str) -> str:
    """One line from a TensorFlow error message: the failed assertion when there is one.

    TensorFlow reports a failed ``tf.debugging.Assert`` over several lines (graph execution
    error, node names); the export's checks put the readable part after "assertion failed:".
    """
    marker = "assertion failed:"
    if marker in message:
        message = message[message.index(marker) :].split("\n")[0]
    return " ".join(message.split())


def rest_predict(url: str, body: dict, *, timeout: float = 30.0) -> dict[str, np.ndarray]:
    """POSTs ``body`` to a REST Predict ``url``; returns the decoded outputs.

    Raises:
        ValueError: the server answered with an error (its message is included).
        ConnectionError: the server could not be reached.
    """
    import json
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return decode_rest_response(json.loads(reply.read()))
    except urllib.error.HTTPError as e:
        text = e.read().decode(errors="replace")
        try:
            text = json.loads(text).get("error", text)
        except (json.JSONDecodeError, AttributeError):
            pass
        raise ValueError(f"{url} answered HTTP {e.code}: {summarize_error(str(text))}") from None
    except (urllib.error.URLError, OSError) as e:
        raise ConnectionError(f"cannot reach {url}: {getattr(e, 'reason', e)}") from None


def grpc_predict(target: str, request, *, timeout: float = 30.0) -> dict[str, np.ndarray]:
    """Sends a ``PredictRequest`` to ``target`` (``host:port``); returns the decoded outputs.

    Raises:
        ValueError: the server rejected the request (e.g. INVALID_ARGUMENT, with its message).
        ConnectionError: the server could not be reached.
    """
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(request, timeout=timeout)
        except grpc.RpcError as e:
            code = e.code()
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise ConnectionError(
                    f"cannot reach {target}: {code.name}: {summarize_error(e.details() or '')}"
                ) from None
            details = summarize_error(e.details() or "")
            raise ValueError(f"{target} answered {code.name}: {details}") from None
    return decode_grpc_response(response)
