"""SavedModel export for TF Serving: predictions and CAM explanations, core TF ops only.

A SavedModel holding TensorFlow Quantum ops does not load in stock TensorFlow or TF Serving
("Op type not registered 'TfqSimulateExpectation'"), so the model is rebuilt with its VQC
on the ``tf`` executor (the same circuit compiled to core ops, same weights) before it is
traced; a model built with TFQ's own layers (``ControlledPQC``, ``Expectation``, ...) is
converted first (:func:`~qgcam_tf.model.run.portable_model`: each TFQ layer becomes a
:class:`~qgcam_tf.model.layers.CircuitLayer`, a circuits input is folded into the
circuit). The export has the two signatures of the serving contract (docs/architecture.md):

* ``serving_default(images float32[B,H,W,C]) -> probabilities float32[B,N], class_index int64[B]``
  (a one-output model, one ``<Z>`` then a sigmoid, serves ``N = 2`` columns ``[1 - p, p]``
  and its ``explain`` takes class 0, explained by the negated score, or 1)
* ``explain(images, class_index int64[B]) -> probabilities, class_index, heatmap float32[B,H,W]
  in [0, 1], weights float32[B,K]``; ``class_index`` -1 explains the predicted class.

``explain`` runs one CAM method of :data:`~qgcam_tf.explain.cams.CAM_METHODS` (QGrad-CAM by
default), chosen at export time and recorded as ``"method"`` in ``assets.extra/qgcam.json``;
:func:`exportable_methods` lists those that can be exported. ``weights`` is ``[B, K]`` for
every method, one number per conv map ``k`` of the target layer:

* ``qgradcam``: the QGrad-CAM weight, the spatial mean of ``d score / d A^k``;
* ``gradcam++``: the Grad-CAM++ weight ``sum_ij alpha^k_ij ReLU(g^k_ij)``;
* ``hirescam``, ``layercam``: these weight each position, ``g^k_ij`` (HiResCAM) or
  ``ReLU(g^k_ij)`` (LayerCAM); ``weights`` is their spatial mean (for HiResCAM that is the
  QGrad-CAM weight). The heatmap uses the weights per position, not this mean;
* ``scorecam``: no gradient; the model's probability of the target class for the image
  masked by map ``k`` (upsampled and scaled to [0, 1]);
* ``centre``: zeros (the baseline ignores the model).

Inputs are checked inside the graph, so a bad request gets ``INVALID_ARGUMENT`` with a
message saying what was expected, from ``tf.saved_model.load``, ``saved_model_cli`` and
TF Serving alike. The signatures declare inputs of unknown rank, so that nothing in the
graph can take a declared dimension as given: the checks see the shape that arrives.

Images must be float32 in [0, 1] exactly (no tolerance: the training data are scaled or
clipped into [0, 1]); values outside it, such as 8-bit pixels 0..255 sent unscaled, are
refused with a message saying "in [0, 1]". No non-finite result leaves a signature: NaN or
infinite probabilities, heatmaps or weights (NaN weights, an overflowing model) give
``INVALID_ARGUMENT`` instead.

The version directory is written under a temporary name (``.tmp-<pid>-*``), checked there
(:func:`verify_export`) and only then published, so a server watching ``EXPORT_DIR`` never
sees half a version nor one that fails the check. With ``force`` the old version and the new
one are swapped in one atomic rename (:func:`qgcam_tf.fileio.atomic_dir`), so a kill at any
point leaves the complete old or the complete new version. Every export starts by removing
what killed exports left in ``EXPORT_DIR`` (:func:`qgcam_tf.fileio.remove_stale`).
``assets.extra/tf_serving_warmup_requests`` holds one warmup request per signature.

Progress is one line per stage: :data:`STAGES`. Test support: when the environment variable
:data:`KILL_AT_ENV` names a stage (or ``"swapped"``, right after the new version replaced
the old one and before the old tree is deleted; or ``"moved-aside"`` on the fallback path
without an atomic exchange), the process sends itself SIGKILL at that point, so tests can
kill an export at an exact point without timing.
"""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.explain.base import check_class_index_tensor, two_class_model
from qgcam_tf.explain.cams import CAM_METHODS, ScoreCAM, make_cam
from qgcam_tf.fileio import atomic_dir, remove_stale, write_json_atomic
from qgcam_tf.model.hybrid import CONV_LAYER, switch_backend
from qgcam_tf.model.run import Run, portable_model
from qgcam_tf.serving.requests import summarize_error

__all__ = [
    "DEFAULT_METHOD",
    "EXPLAIN_SIGNATURE",
    "KILL_AT_ENV",
    "METADATA_FILE",
    "SERVING_SIGNATURE",
    "STAGES",
    "WARMUP_FILE",
    "exportable_methods",
    "export_run",
    "export_saved_model",
    "read_export_metadata",
    "saved_model_ops",
    "verify_export",
]

SERVING_SIGNATURE = "serving_default"
EXPLAIN_SIGNATURE = "explain"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
METADATA_FILE = os.path.join("assets.extra", "qgcam.json")
DEFAULT_METHOD = "qgradcam"
# The stages an export reports, in order (export_saved_model starts at "tracing").
STAGES = ("loading", "tracing", "saving", "warmup", "verifying", "publishing")
KILL_AT_ENV = "QGCAM_EXPORT_KILL_AT"


def exportable_methods() -> list[str]:
    """The keys of :data:`~qgcam_tf.explain.cams.CAM_METHODS` whose ``explain`` can be
    exported (those without an ``export_blocker``), sorted."""
    return sorted(name for name, cls in CAM_METHODS.items() if cls.export_blocker is None)


def _check_method(method) -> str:
    """``method`` if it names an exportable CAM method; else a ValueError naming them."""
    exportable = exportable_methods()
    if isinstance(method, str) and method in CAM_METHODS and method not in exportable:
        raise ValueError(
            f"method {method!r} cannot be exported: {CAM_METHODS[method].export_blocker}; "
            f"exportable methods: {exportable}"
        )
    if not isinstance(method, str) or method not in exportable:
        raise ValueError(
            f"method must be one of the exportable methods {exportable}, got {method!r}"
        )
    return method


class _Servable(tf.Module):
    """The two signatures around a ``tf``-executor model (variables tracked, model not);
    ``explain`` runs the CAM ``method`` on ``layer``.

    Only the variables are tracked, not the Keras model: tracking the model would make
    ``tf.saved_model.save`` also serialise Keras' own traced call functions, which no
    signature needs.
    """

    def __init__(self, model: keras.Model, layer: str, method: str):
        super().__init__(name="qgcam_servable")
        self.model_variables = list(model.variables)
        self.height, self.width, self.channels = (int(d) for d in model.input_shape[1:])
        # A one-output model (sigmoid) serves two columns [1 - p, p], as its CAMs explain it.
        self.n_classes = max(2, int(model.output_shape[-1]))
        self.n_maps = int(model.get_layer(layer).output_shape[-1])
        options = {}
        if issubclass(CAM_METHODS[method], ScoreCAM):
            # One forward pass per image, over its K masked copies: the masks of a batch then
            # need no padding (the default would pad every request to 1024 masked images).
            options["mask_batch_size"] = self.n_maps
        self._run = _Untracked(
            model=two_class_model(model), cam=make_cam(method, model, layer=layer, **options)
        )
        images = tf.TensorSpec(None, tf.float32, name="images")
        class_index = tf.TensorSpec(None, tf.int64, name="class_index")
        self.serve = tf.function(self._serve, input_signature=[images])
        self.explain = tf.function(self._explain, input_signature=[images, class_index])

    def _checked_images(self, images: tf.Tensor) -> tf.Tensor:
        expected = f"[batch, {self.height}, {self.width}, {self.channels}]"
        shape = tf.shape(images)
        # Padding keeps the comparison valid for any rank; the rank test is part of `ok`.
        dims = tf.concat([shape, tf.zeros([4], tf.int32)], axis=0)[:4]
        ok = tf.logical_and(
            tf.equal(tf.size(shape), 4),
            tf.reduce_all(tf.equal(dims[1:], [self.height, self.width, self.channels])),
        )
        check_shape = tf.debugging.Assert(
            ok, [f"images must be float32 {expected} in [0, 1]; got shape", shape], summarize=8
        )
        with tf.control_dependencies([check_shape]):
            check_finite = tf.debugging.Assert(
                tf.reduce_all(tf.math.is_finite(images)),
                ["images contain NaN or infinite values"],
            )
        with tf.control_dependencies([check_finite]):
            low, high = tf.reduce_min(images), tf.reduce_max(images)
            check_range = tf.debugging.Assert(
                tf.logical_and(low >= 0.0, high <= 1.0),
                [
                    "images must be float32 in [0, 1] (8-bit pixels: divide by 255); "
                    "got min and max",
                    low,
                    high,
                ],
            )
        with tf.control_dependencies([check_range]):
            images = tf.identity(images)
        return tf.ensure_shape(images, [None, self.height, self.width, self.channels])

    def _checked_class_index(self, class_index: tf.Tensor, images: tf.Tensor) -> tf.Tensor:
        return check_class_index_tensor(class_index, tf.shape(images)[0], self.n_classes)

    def _serve(self, images):
        images = self._checked_images(images)
        probabilities = _finite("probabilities", self._run.model(images, training=False))
        return {
            "probabilities": probabilities,
            "class_index": tf.argmax(probabilities, axis=-1, output_type=tf.int64),
        }

    def _explain(self, images, class_index):
        images = self._checked_images(images)
        class_index = self._checked_class_index(class_index, images)
        out = self._run.cam.export_tensors(images, class_index)
        # Static shapes make the signature (saved_model_cli show, /metadata) self-describing.
        return {
            "probabilities": tf.ensure_shape(
                _finite("probabilities", out["probabilities"]), [None, self.n_classes]
            ),
            "class_index": tf.ensure_shape(out["class_index"], [None]),
            "heatmap": tf.ensure_shape(
                _finite("heatmap", out["maps"]), [None, self.height, self.width]
            ),
            "weights": tf.ensure_shape(
                _finite("weights", _per_map(out["weights"])), [None, self.n_maps]
            ),
        }


def _finite(name: str, tensor: tf.Tensor) -> tf.Tensor:
    """``tensor``, behind an assertion that it holds no NaN or infinity: a model with
    non-finite weights, or one that overflows, gives INVALID_ARGUMENT, never NaN output."""
    check = tf.debugging.Assert(
        tf.reduce_all(tf.math.is_finite(tensor)),
        [f"model output {name} is not finite (NaN or inf): non-finite weights, or an overflow"],
    )
    with tf.control_dependencies([check]):
        return tf.identity(tensor)


def _per_map(weights: tf.Tensor) -> tf.Tensor:
    """``[B, K]`` weights as they are; per-position ``[B, H', W', K]`` weights (HiResCAM,
    LayerCAM) averaged over the positions, so ``weights`` is ``[B, K]`` for every method."""
    if weights.shape.rank == 4:
        return tf.reduce_mean(weights, axis=[1, 2])
    if weights.shape.rank != 2:
        raise ValueError(f"CAM weights must be [B, K] or [B, H, W, K], got shape {weights.shape}")
    return weights


class _Untracked:
    """A plain holder: ``tf.Module`` does not track what sits inside it."""

    def __init__(self, **items):
        self.__dict__.update(items)


def _warmup_records(servable: _Servable, seed: int = 0) -> list[bytes]:
    """One serialized ``PredictionLog`` per signature, for ``assets.extra``."""
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    rng = np.random.default_rng(seed)
    images = rng.uniform(size=(1, servable.height, servable.width, servable.channels))
    inputs = {
        SERVING_SIGNATURE: {"images": images.astype(np.float32)},
        EXPLAIN_SIGNATURE: {
            "images": images.astype(np.float32),
            "class_index": np.array([-1], np.int64),
        },
    }
    records = []
    for signature, tensors in inputs.items():
        request = predict_pb2.PredictRequest()
        request.model_spec.signature_name = signature
        for key, value in tensors.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        log = prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request)
        )
        records.append(log.SerializeToString())
    return records


def _check_model(model, layer: str) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a tf_keras Model, got {type(model).__name__}")
    shape = model.input_shape
    if not (isinstance(shape, tuple) and len(shape) == 4 and all(d for d in shape[1:])):
        raise ValueError(f"model must take one image input [B, H, W, C], got input_shape {shape}")
    names = [l.name for l in model.layers]
    if layer not in names:
        raise ValueError(f"layer {layer!r} is not in the model; it has {names}")


def _check_finite_weights(model: keras.Model) -> None:
    """A ValueError naming the variables that hold NaN or infinity (a diverged training)."""
    bad = [v.name for v in model.variables if not np.all(np.isfinite(v.numpy()))]
    if bad:
        raise ValueError(f"model has non-finite weights (NaN or inf) in {bad}; not exported")


class _Progress:
    """One line per stage on ``log`` (nothing when ``log`` is None), and the kill points of
    :data:`KILL_AT_ENV`.

    Each stage is a single library call with nothing to count inside it, so the lines are
    the same on a terminal and in a log; the last line gives the time taken.
    """

    def __init__(self, log, stages: tuple[str, ...]):
        self.log, self.stages = log, stages
        self.started = time.monotonic()

    def stage(self, name: str, message: str) -> None:
        if self.log is not None:
            number = self.stages.index(name) + 1
            self.log(f"[{number}/{len(self.stages)}] {name}: {message}")
        _kill_point(name)

    def step(self, name: str) -> None:
        """``on_step`` of :func:`~qgcam_tf.fileio.atomic_dir`."""
        _kill_point(name)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _kill_point(name: str) -> None:
    """Test support: SIGKILL to this process when :data:`KILL_AT_ENV` names this point."""
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def export_saved_model(
    model: keras.Model,
    export_dir: str,
    *,
    version: int = 1,
    force: bool = False,
    layer: str = CONV_LAYER,
    class_names: list[str] | None = None,
    method: str = DEFAULT_METHOD,
    circuits=None,
    log=None,
) -> str:
    """Writes ``export_dir/<version>/``, a SavedModel that TF Serving can load.

    The version is written under a temporary name in ``export_dir``, checked there with
    :func:`verify_export` and only then published: a model that fails the check (its
    outputs are NaN, say) is never published, and an existing version stays as it was.

    Args:
        model: a hybrid (or classical twin) model, trained on either executor, or a
            functional model built with TFQ's own layers (converted on the way, see
            :func:`~qgcam_tf.model.convert.convert_to_tf`; the export takes images alone).
        export_dir: the model base directory a server watches.
        version: positive integer version, the name of the sub-directory.
        force: replace an existing version: the old one is swapped for the new one in one
            atomic rename once the new one is complete and checked, so a kill at any point
            leaves one of the two whole (:func:`qgcam_tf.fileio.atomic_dir`).
        layer: conv layer whose maps ``explain`` weights (the CAM's target layer).
        class_names: optional names, stored in ``assets.extra/qgcam.json`` for clients.
        method: the CAM method ``explain`` computes, one of :func:`exportable_methods`
            (recorded as ``"method"`` in ``assets.extra/qgcam.json``). Its ``weights``
            output is ``[B, K]`` whatever the method: the module docstring says what it
            holds for each (the spatial mean for HiResCAM and LayerCAM, whose weights are
            per position; the masked-image probabilities for the forward-only Score-CAM).
        circuits: for a model with TFQ layers and a circuits input: the ``cirq.Circuit``
            that input stands for (default the empty circuit), folded into the export.
        log: optional ``log(line)`` for one progress line per stage (:data:`STAGES` from
            ``"tracing"`` on).

    Returns:
        The path of the written version directory.

    Raises:
        TypeError: ``model`` is not a Keras model, or ``circuits`` not a circuit.
        ValueError: bad version, method (unknown, or one that cannot be exported, such as
            ``random``), input shape, layer name, class names or non-finite weights, a TFQ
            layer that cannot be converted, or ``circuits`` for a model without TFQ layers,
            raised before anything is traced or written; or the written export fails
            :func:`verify_export` (nothing is published then).
        FileExistsError: the version exists and ``force`` is False.
    """
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1:
        raise ValueError(f"version must be an int >= 1, got {version!r}")
    method = _check_method(method)
    path, _ = _export(
        portable_model(model, circuits=circuits),
        export_dir,
        version=version,
        force=force,
        layer=layer,
        class_names=class_names,
        method=method,
        progress=_Progress(log, STAGES[1:]),
    )
    return path


def _export(
    model, export_dir, *, version, force, layer, class_names, method, progress: _Progress
) -> tuple[str, dict]:
    """:func:`export_saved_model`, returning the path and :func:`verify_export`'s report."""
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1:
        raise ValueError(f"version must be an int >= 1, got {version!r}")
    method = _check_method(method)
    _check_model(model, layer)
    n_classes = max(2, int(model.output_shape[-1]))  # one output: classes 0 and 1
    if class_names is not None and len(class_names) != n_classes:
        raise ValueError(f"class_names must have {n_classes} entries, got {len(class_names)}")
    export_dir = os.fspath(export_dir)
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise NotADirectoryError(f"export_dir {export_dir!r} exists and is not a directory")
    _check_finite_weights(model)
    # What killed exports left: their temporaries, an old version moved aside (put back).
    remove_stale(export_dir)
    target = os.path.join(export_dir, str(int(version)))
    if os.path.exists(target) and not force:
        raise FileExistsError(f"version {target!r} exists; pass force=True (--force) to replace it")

    progress.stage(
        "tracing",
        f"tracing {SERVING_SIGNATURE} and {EXPLAIN_SIGNATURE} [{method}] "
        f"(input {tuple(model.input_shape[1:])}, {n_classes} classes)",
    )
    # XLA off: an XLA cluster in a SavedModel ties it to the serving binary's XLA build,
    # and single requests do not repay compilation. Only VQC layers have an executor to
    # switch; any other model (classical, converted from TFQ) is traced as it is.
    if any(type(l).__name__ == "VQCLayer" for l in model.layers):
        tf_model = switch_backend(model, "tf", jit_compile=False)
    else:
        tf_model = model
    servable = _Servable(tf_model, layer, method)
    signatures = {
        SERVING_SIGNATURE: servable.serve.get_concrete_function(),
        EXPLAIN_SIGNATURE: servable.explain.get_concrete_function(),
    }
    with atomic_dir(target, replace=force, on_step=progress.step) as tmp:
        progress.stage("saving", f"saving the SavedModel into {tmp}")
        _save(tmp, servable, signatures)
        progress.stage("warmup", f"writing {WARMUP_FILE} and {METADATA_FILE}")
        _write_assets(tmp, servable, class_names, layer, method)
        progress.stage("verifying", "loading the export back and checking it against the model")
        check = verify_export(tmp, tf_model)
        replacing = os.path.exists(target)
        progress.stage("publishing", f"{'replacing' if replacing else 'renaming it to'} {target}")
    return target, check


def _save(tmp: str, servable: _Servable, signatures: dict) -> None:
    """Writes the SavedModel into ``tmp``."""
    # Custom gradients are not saved. With them on, tf.saved_model.save traces the gradient
    # function of every tf.custom_gradient op in the graphs (the tf executor's kernels use
    # several) and fails ("Found invalid capture ... when saving custom gradients") when
    # such a gradient captures an eager constant that no saved function captures: the
    # forward-only graphs (serving_default, and explain for Score-CAM and the centre
    # baseline) hold the kernels' forward ops but never their gradients' constants. A
    # QGrad-CAM export escaped only because its explain graph differentiates through the
    # same kernels and so captures those constants. Leaving the gradients out is safe:
    # every gradient a signature needs was traced into it at export time (explain's tape),
    # and nothing differentiates through a loaded export (TF Serving runs the signatures
    # forward; the loaded object has no trainable model). What is lost: a gradient through
    # a loaded export. tf.saved_model.load warns "ops with unsaved custom gradients", and
    # in a fresh process such a gradient raises LookupError ("No gradient defined",
    # tests/serving/export_test.py checks it).
    options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
    tf.saved_model.save(servable, tmp, signatures=signatures, options=options)


def _write_assets(tmp: str, servable: _Servable, class_names, layer: str, method: str) -> None:
    """Writes the warmup requests and the client metadata into ``tmp/assets.extra``."""
    os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(tmp, WARMUP_FILE)) as writer:
        for record in _warmup_records(servable):
            writer.write(record)
    write_json_atomic(
        os.path.join(tmp, METADATA_FILE),
        {
            "input_shape": [servable.height, servable.width, servable.channels],
            "n_classes": servable.n_classes,
            "class_names": list(class_names) if class_names is not None else None,
            "signatures": [SERVING_SIGNATURE, EXPLAIN_SIGNATURE],
            "layer": layer,
            "method": method,
        },
    )


def saved_model_ops(path: str) -> set[str]:
    """Every op type in a SavedModel: its graphs and all functions of their libraries."""
    from tensorflow.python.saved_model import loader_impl

    saved = loader_impl.parse_saved_model(path)
    ops, functions = set(), set()
    for meta in saved.meta_graphs:
        ops.update(node.op for node in meta.graph_def.node)
        for function in meta.graph_def.library.function:
            functions.add(function.signature.name)
            ops.update(node.op for node in function.node_def)
    # A node may call a library function directly by its name; that is not an op type.
    return ops - functions


def verify_export(
    version_dir: str, model: keras.Model, *, atol: float = 1e-5, seed: int = 0
) -> dict:
    """Loads an export back and checks it against ``model`` on a few random images.

    Checks that every op of the SavedModel is registered in this process without being a
    TensorFlow Quantum op, and that both signatures run on random images in [0, 1] (so
    their outputs are finite: the signatures refuse to return anything else) and return
    ``model``'s probabilities (two columns ``[1 - p, p]`` for a one-output model).

    Returns:
        ``{"ops": number of op types, "max_abs_diff": largest probability difference}``.

    Raises:
        ValueError: an op is unregistered or from TFQ, a signature fails (such as a
            non-finite result), or the outputs differ by > ``atol``.
    """
    from tensorflow.python.framework import op_def_registry

    ops = saved_model_ops(version_dir)
    foreign = sorted(op for op in ops if op_def_registry.get(op) is None or op.startswith("Tfq"))
    if foreign:
        raise ValueError(f"export {version_dir!r} holds ops stock TensorFlow lacks: {foreign}")
    loaded = tf.saved_model.load(version_dir)
    shape = [int(d) for d in model.input_shape[1:]]
    images = tf.constant(np.random.default_rng(seed).uniform(size=[2] + shape), tf.float32)
    expected = two_class_model(model)(images, training=False).numpy()
    try:
        served = loaded.signatures[SERVING_SIGNATURE](images=images)["probabilities"].numpy()
        explained = loaded.signatures[EXPLAIN_SIGNATURE](
            images=images, class_index=tf.constant([-1, -1], tf.int64)
        )["probabilities"].numpy()
    except tf.errors.InvalidArgumentError as e:
        reason = summarize_error(e.message)
        raise ValueError(f"export {version_dir!r} fails on random images: {reason}") from None
    diff = float(max(np.abs(served - expected).max(), np.abs(explained - expected).max()))
    if not diff <= atol:
        raise ValueError(f"export {version_dir!r} differs from the model by {diff:.3g} > {atol}")
    return {"ops": len(ops), "max_abs_diff": diff}


def read_export_metadata(version_dir: str) -> dict:
    """The ``assets.extra/qgcam.json`` of an export: ``input_shape``, ``n_classes``,
    ``class_names``, ``signatures``, ``layer`` and ``method`` (what ``explain`` computes;
    exports written before methods were selectable lack it and computed ``"qgradcam"``)."""
    with open(os.path.join(version_dir, METADATA_FILE)) as f:
        return json.load(f)


def export_run(
    run_dir: str,
    export_dir: str,
    *,
    version: int = 1,
    force: bool = False,
    log=print,
    method: str = DEFAULT_METHOD,
    layer: str = CONV_LAYER,
) -> dict:
    """Exports a run directory of ``qgcam train``, checked before it is published
    (``qgcam export``).

    The model is loaded on the ``tf`` executor, so TensorFlow Quantum is not needed,
    whatever executor the run was trained with. ``method`` is the CAM method of the
    ``explain`` signature (:func:`export_saved_model`); it is checked before the run is
    loaded. ``layer`` is the conv layer it explains (default ``qgcam_conv``, the builders'
    name; a run saved from a model of one's own names its own). ``log`` gets one line per
    stage of :data:`STAGES` and a last one with the path (None: silent).

    Returns:
        ``{"path": version directory, "ops": op types, "max_abs_diff": ...}``
        (:func:`verify_export`, run on the version before it was published).
    """
    method = _check_method(method)
    progress = _Progress(log, STAGES)
    progress.stage("loading", f"loading {run_dir} on the tf executor")
    run = Run.open(run_dir)
    model = run.model(backend="tf")
    path, check = _export(
        model,
        export_dir,
        version=version,
        force=force,
        layer=layer,
        class_names=run.class_names,
        method=method,
        progress=progress,
    )
    if log is not None:
        log(
            f"wrote {path} (signatures: {SERVING_SIGNATURE}, {EXPLAIN_SIGNATURE} [{method}]) "
            f"in {progress.elapsed():.0f} s"
        )
    return {"path": path, **check}
