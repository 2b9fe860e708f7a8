"""Offline explanation of a whole collection on Apache Beam ``RunInference`` (``qgcam
explain-batch``).

An export of ``qgcam export`` (core TensorFlow ops only, no TensorFlow Quantum op) explains
every file that a glob matches: each file is read and preprocessed as training prepared its
dataset (the dataset adapter's ``load_files``, :mod:`qgcam_tf.data.registry`), the
``explain`` signature runs on batches through ``RunInference``, and the results are written
as sharded Parquet files that pandas, pyarrow, DuckDB or Spark read without this package.

Pipeline (one log line per stage, :data:`STAGES`)::

    paths -> read + preprocess -> RunInference(explain) -> rows -> results/*.parquet
                   |                     |                  `-> overlays/*.png (optional)
                   `---------------------+-> dead_letter/*.jsonl  (path, stage, reason)

Output folder ``OUT`` (written under a temporary name beside it and renamed into place when
the pipeline has finished, :func:`qgcam_tf.fileio.atomic_dir`):

* ``results/part-SSSSS-of-NNNNN.parquet``: one row per explained file, columns
  :data:`RESULT_COLUMNS`;
* ``dead_letter/part-SSSSS-of-NNNNN.jsonl``: one JSON object per rejected file,
  ``{"path", "stage", "reason"}`` (``stage`` is ``"read"`` or ``"explain"``);
* ``overlays/<path relative to the glob's folder>.png`` with ``overlay=True``;
* ``summary.json``: the counters, the export, the preprocessing and the runner.

Why a model handler of its own (:func:`explain_model_handler`) rather than Beam's
``TFModelHandlerTensor``: that handler loads a Keras model (``tf.keras.models.load_model``)
and calls it with one tensor, while the export is a plain ``tf.Module`` SavedModel whose
``explain`` signature takes two named inputs (``images`` and ``class_index``) and returns a
dict; and importing Beam's TensorFlow handler needs ``tensorflow_hub``, one more package for
every worker. The handler here loads the SavedModel with ``tf.saved_model.load`` and calls the
signature, so a worker needs TensorFlow, NumPy, Beam and pyarrow, and no TensorFlow Quantum.

Why Parquet (rather than TFRecord of ``tf.train.Example``): it is columnar and carries its
own schema, so a data tool reads the class and probabilities columns without parsing the
heatmaps, and reading it needs neither TensorFlow nor a schema kept elsewhere.

Beam and TensorFlow are imported inside the functions that need them, so importing this
module (as ``qgcam --help`` and the argument checks do) loads neither.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
from collections.abc import Sequence

import numpy as np

from qgcam_tf.fileio import atomic_dir, write_json_atomic

__all__ = [
    "AUDIO_EXTENSIONS",
    "COUNTERS",
    "DEAD_LETTER_COLUMNS",
    "EXPORT_METADATA",
    "METRICS_NAMESPACE",
    "RESULT_COLUMNS",
    "RUNNERS",
    "STAGES",
    "explain_batch",
    "explain_model_handler",
    "match_inputs",
    "overlay_image",
    "preprocessing_for",
    "read_dead_letters",
    "read_results",
    "resolve_export",
]

RUNNERS = ("DirectRunner", "FlinkRunner", "SparkRunner", "DataflowRunner")
METRICS_NAMESPACE = "qgcam_explain_batch"
# The Beam counters, in the order they are printed.
COUNTERS = ("files_read", "explained", "rejected")
STAGES = ("match", "read", "explain", "write", "overlays")
RESULT_COLUMNS = (
    "path",
    "class_index",
    "class_name",
    "probabilities",
    "heatmap",
    "heatmap_height",
    "heatmap_width",
    "weights",
    "overlay",
)
DEAD_LETTER_COLUMNS = ("path", "stage", "reason")
# Inputs that only a speech export (with its run's spectrogram settings) reads.
AUDIO_EXTENSIONS = (".wav", ".sph", ".flac", ".ogg")
# qgcam_tf.serving.export.METADATA_FILE, named here so that reading it loads no TensorFlow
# (tests/serving/batch_test.py checks that they agree).
EXPORT_METADATA = os.path.join("assets.extra", "qgcam.json")
_GLOB_CHARS = "*?["


def resolve_export(path: str) -> tuple[str, dict]:
    """The SavedModel version directory of ``path`` and its ``assets.extra/qgcam.json``.

    ``path`` is a version directory (holding ``saved_model.pb``) or a model base directory
    of ``qgcam export`` (its highest numbered version is taken, as TF Serving does). Only
    JSON is read: no TensorFlow loads.

    Raises:
        ValueError: ``path`` is not an export of ``qgcam export`` (no version, no
            ``saved_model.pb``, or metadata that is missing or not a JSON object with
            ``input_shape`` and ``n_classes``).
    """
    if not isinstance(path, str) or not os.path.isdir(path):
        raise ValueError(f"--export {path!r}: no such directory")
    version_dir = path
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        versions = [
            int(n)
            for n in os.listdir(path)
            if n.isdigit() and os.path.isfile(os.path.join(path, n, "saved_model.pb"))
        ]
        if not versions:
            raise ValueError(
                f"--export {path!r} holds no SavedModel version (a folder N/ with "
                f"saved_model.pb): is it an EXPORT_DIR of `qgcam export`?"
            )
        version_dir = os.path.join(path, str(max(versions)))
    meta_path = os.path.join(version_dir, EXPORT_METADATA)
    try:
        with open(meta_path, encoding="utf-8") as f:
            metadata = json.load(f)
    except FileNotFoundError:
        raise ValueError(
            f"--export {version_dir!r} has no {EXPORT_METADATA}: not written by `qgcam export`"
        ) from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"--export: cannot read {meta_path!r}: {e}") from None
    shape = metadata.get("input_shape") if isinstance(metadata, dict) else None
    if (
        not isinstance(shape, list)
        or len(shape) != 3
        or not all(isinstance(d, int) and d > 0 for d in shape)
        or not isinstance(metadata.get("n_classes"), int)
    ):
        raise ValueError(
            f"--export: {meta_path!r} is not the metadata of `qgcam export` (needs input_shape "
            f"[H, W, C] and n_classes)"
        )
    return version_dir, metadata


def match_inputs(pattern: str) -> list[str]:
    """The files ``pattern`` matches (``**`` searches folders recursively), sorted.

    Raises:
        ValueError: the pattern is empty or matches no file.
    """
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"--input must be a glob pattern, got {pattern!r}")
    paths = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
    if not paths:
        raise ValueError(f"--input {pattern!r} matches no file")
    return paths


def _glob_root(pattern: str) -> str:
    """The folder above the first glob character of ``pattern``: overlays keep the paths
    below it."""
    cut = min((pattern.index(c) for c in _GLOB_CHARS if c in pattern), default=len(pattern))
    head = pattern[:cut]
    return os.path.dirname(head) if cut < len(pattern) else os.path.dirname(pattern)


def preprocessing_for(export_metadata: dict, run_metadata: dict | None = None) -> dict:
    """How each file becomes a model input: the metadata a dataset adapter's ``load_files``
    reads (``dataset``, ``input_shape``, ``fit``, ``spectrogram``).

    The run's own metadata (``model.json`` of the run the export was made from) says how
    training prepared its inputs exactly (a speech run's clip length and mel range, say).
    Without it, the export's input shape decides: ``[H, W, 3]`` reads pictures as
    Dogs vs. Cats training did, ``[H, W, 1]`` as MNIST did (any picture size, stretched),
    and a speech export needs its run (its metadata names ``spectrogram`` settings that the
    export does not record).

    Raises:
        ValueError: the run's input shape is not the export's.
    """
    shape = [int(d) for d in export_metadata["input_shape"]]
    if run_metadata:
        run_shape = run_metadata.get("input_shape")
        if run_shape is not None and [int(d) for d in run_shape] != shape:
            raise ValueError(
                f"--run: the run's input shape {list(run_shape)} is not the export's {shape}"
            )
        spec = {k: run_metadata[k] for k in ("dataset", "fit", "spectrogram") if k in run_metadata}
        spec["input_shape"] = shape
        spec.setdefault("dataset", export_metadata.get("dataset") or _dataset_for(shape))
        return spec
    spec = {"input_shape": shape}
    for key in ("dataset", "fit", "spectrogram"):  # an export that records them
        if key in export_metadata:
            spec[key] = export_metadata[key]
    spec.setdefault("dataset", _dataset_for(shape))
    return spec


def _dataset_for(shape: Sequence[int]) -> str:
    return "dogs-vs-cats" if int(shape[-1]) == 3 else "mnist"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 500 else text[:497] + "..."


def _counter(name: str):
    from apache_beam.metrics import Metrics

    return Metrics.counter(METRICS_NAMESPACE, name)


def _local_copy(path: str):
    """``(local path, temporary file or None)``: a path that is not on this machine's
    filesystem (``gs://...``) is copied through Beam's filesystems first."""
    if "://" not in path:
        return path, None
    import tempfile

    from apache_beam.io.filesystems import FileSystems

    fd, tmp = tempfile.mkstemp(suffix=os.path.splitext(path)[1])
    with os.fdopen(fd, "wb") as out, FileSystems.open(path) as src:
        out.write(src.read())
    return tmp, tmp


def _load(path: str, spec: dict) -> np.ndarray:
    """One file as a model input ``[H, W, C]``, preprocessed by its dataset's loader."""
    from qgcam_tf.data.registry import get_adapter

    local, tmp = _local_copy(path)
    try:
        images = np.asarray(get_adapter(spec["dataset"]).load_files([local], spec))
    except Exception as e:  # noqa: BLE001 - the message names the copy, not the file
        if tmp is None:
            raise
        raise ValueError(_one_line(e).replace(local, path)) from None
    finally:
        if tmp is not None:
            os.remove(tmp)
    expected = tuple(spec["input_shape"])
    if images.shape != (1, *expected):
        raise ValueError(
            f"holds {images.shape[0]} inputs of shape {images.shape[1:]}; one of shape "
            f"{expected} expected"
        )
    if not np.all(np.isfinite(images)) or images.min() < 0.0 or images.max() > 1.0:
        raise ValueError("preprocessed input is not finite and in [0, 1]")
    return images[0].astype(np.float32)


def _read_file(path: str, spec: dict):
    """Beam ``FlatMap``: ``(path, image [H, W, C])``, or a dead letter tagged ``"dead"``."""
    import apache_beam as beam

    _counter("files_read").inc()
    try:
        image = _load(path, spec)
    except Exception as e:  # noqa: BLE001 - every bad file is a dead letter, never a crash
        _counter("rejected").inc()
        reason = f"{type(e).__name__}: {_one_line(e)}"
        yield beam.pvalue.TaggedOutput("dead", {"path": path, "stage": "read", "reason": reason})
        return
    yield path, image


def _failed_batch(failure):
    """``failed_inferences`` element ``(batch, exception)`` -> one dead letter per file."""
    batch, error = failure
    _counter("rejected").inc(len(batch))
    reason = f"{type(error).__name__}: {_summary(error)}"
    return [{"path": path, "stage": "explain", "reason": reason} for path, _ in batch]


def _summary(error: BaseException) -> str:
    from qgcam_tf.serving.requests import summarize_error

    return summarize_error(str(error))


def explain_model_handler(
    version_dir: str,
    *,
    class_index: int = -1,
    min_batch_size: int = 1,
    max_batch_size: int = 32,
):
    """A Beam ``ModelHandler`` (keyed by path) that runs an export's ``explain`` signature.

    Each worker process loads the SavedModel once (``tf.saved_model.load``; Beam shares it
    between the threads of a process) and calls ``explain(images, class_index)`` on each
    batch; a ``PredictionResult``'s ``inference`` is a dict of NumPy arrays: ``probabilities
    [N]``, ``class_index`` (int), ``heatmap [H, W]``, ``weights [K]``.

    Args:
        version_dir: the SavedModel version directory.
        class_index: the class to explain, -1 for each file's predicted class.
        min_batch_size / max_batch_size: the batch sizes ``RunInference`` forms.

    Returns:
        A ``KeyedModelHandler`` taking ``(path, image [H, W, C])`` elements.
    """
    from apache_beam.ml.inference.base import KeyedModelHandler

    return KeyedModelHandler(
        _handler_class()(
            version_dir,
            class_index=class_index,
            min_batch_size=min_batch_size,
            max_batch_size=max_batch_size,
        )
    )


_HANDLER = []


def _handler_class():
    """The ``ModelHandler`` subclass, defined on first use so that Beam loads lazily."""
    if _HANDLER:
        return _HANDLER[0]
    from apache_beam.ml.inference.base import ModelHandler, PredictionResult

    class ExplainModelHandler(ModelHandler):
        """Runs the ``explain`` signature of a ``qgcam export`` SavedModel on batches."""

        def __init__(self, version_dir, *, class_index, min_batch_size, max_batch_size):
            super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size)
            self.version_dir = version_dir
            self.class_index = int(class_index)

        def load_model(self):
            import tensorflow as tf

            return tf.saved_model.load(self.version_dir).signatures["explain"]

        def run_inference(self, batch, model, inference_args=None):
            import tensorflow as tf

            images = tf.constant(np.stack(batch).astype(np.float32))
            index = tf.constant(np.full([len(batch)], self.class_index, np.int64))
            out = {k: v.numpy() for k, v in model(images=images, class_index=index).items()}
            return [
                PredictionResult(
                    example,
                    {
                        "probabilities": out["probabilities"][i],
                        "class_index": int(out["class_index"][i]),
                        "heatmap": out["heatmap"][i],
                        "weights": out["weights"][i],
                    },
                )
                for i, example in enumerate(batch)
            ]

        def get_num_bytes(self, batch):
            return sum(np.asarray(x).nbytes for x in batch)

        def get_metrics_namespace(self):
            return METRICS_NAMESPACE

    ExplainModelHandler.__module__ = __name__
    ExplainModelHandler.__qualname__ = "ExplainModelHandler"
    _HANDLER.append(ExplainModelHandler)
    setattr(sys.modules[__name__], "ExplainModelHandler", ExplainModelHandler)
    return ExplainModelHandler


def __getattr__(name):
    # Unpickling a handler in a Beam worker looks the class up by its module and name.
    if name == "ExplainModelHandler":
        return _handler_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _overlay_name(path: str, root: str) -> str:
    relative = os.path.relpath(path, root) if root else path.lstrip("/")
    if relative.startswith(".."):
        relative = path.lstrip("/")
    return os.path.join("overlays", relative + ".png")


def _to_row(keyed, class_names, root: str | None):
    """``(path, PredictionResult)`` -> a result row (:data:`RESULT_COLUMNS`)."""
    path, result = keyed
    out = result.inference
    heatmap = np.asarray(out["heatmap"], np.float32)
    k = int(out["class_index"])
    _counter("explained").inc()
    return {
        "path": path,
        "class_index": k,
        "class_name": str(class_names[k]) if class_names and k < len(class_names) else None,
        "probabilities": [float(p) for p in np.asarray(out["probabilities"], np.float32)],
        "heatmap": [float(v) for v in heatmap.ravel()],
        "heatmap_height": int(heatmap.shape[0]),
        "heatmap_width": int(heatmap.shape[1]),
        "weights": [float(w) for w in np.asarray(out["weights"], np.float32)],
        "overlay": _overlay_name(path, root) if root is not None else None,
    }


# Matplotlib's "jet" (its _cm.py segment data), sampled as its 256-entry table is: the
# workers draw overlays with NumPy alone, in the colours of qgcam explain's figures.
_JET = (
    ((0.0, 0.0), (0.35, 0.0), (0.66, 1.0), (0.89, 1.0), (1.0, 0.5)),
    ((0.0, 0.0), (0.125, 0.0), (0.375, 1.0), (0.64, 1.0), (0.91, 0.0), (1.0, 0.0)),
    ((0.0, 0.5), (0.11, 1.0), (0.34, 1.0), (0.65, 0.0), (1.0, 0.0)),
)
_JET_SIZE = 256


def overlay_image(image: np.ndarray, heatmap: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """The heatmap ``[H, W]`` in [0, 1] blended on ``image [H, W, C]`` in [0, 1] with the
    jet colour map: uint8 RGB ``[H, W, 3]``, NumPy only (the workers draw it), the blend of
    :func:`qgcam_tf.viz.common.overlay` rounded to 8 bits.

    Raises:
        ValueError: the shapes disagree.
    """
    image = np.asarray(image, np.float32)
    heat = np.clip(np.asarray(heatmap, np.float64), 0.0, 1.0)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[:2] != heat.shape:
        raise ValueError(f"heatmap shape {heat.shape} does not match image shape {image.shape}")
    rgb = np.repeat(image[..., :1], 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
    index = np.minimum((heat * _JET_SIZE).astype(np.int64), _JET_SIZE - 1)
    level = index / (_JET_SIZE - 1)
    jet = np.stack([np.interp(level, *zip(*points)) for points in _JET], axis=-1)
    blend = (1.0 - alpha) * rgb + alpha * jet
    return np.round(np.clip(blend, 0.0, 1.0) * 255.0).astype(np.uint8)


def _write_overlay(keyed, out_dir: str, root: str):
    """Writes one overlay PNG (through Beam's filesystems); a failure is a dead letter."""
    import apache_beam as beam

    path, result = keyed
    try:
        import tensorflow as tf
        from apache_beam.io.filesystems import FileSystems

        png = tf.io.encode_png(overlay_image(result.example, result.inference["heatmap"]))
        target = os.path.join(out_dir, _overlay_name(path, root))
        if "://" not in target:
            os.makedirs(os.path.dirname(target), exist_ok=True)
        with FileSystems.create(target) as f:
            f.write(png.numpy())
    except Exception as e:  # noqa: BLE001 - an overlay that fails is reported, not fatal
        yield beam.pvalue.TaggedOutput(
            "dead", {"path": path, "stage": "overlay", "reason": f"{type(e).__name__}: {e}"}
        )


def _parquet_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("path", pa.string()),
            ("class_index", pa.int64()),
            ("class_name", pa.string()),
            ("probabilities", pa.list_(pa.float32())),
            ("heatmap", pa.list_(pa.float32())),
            ("heatmap_height", pa.int32()),
            ("heatmap_width", pa.int32()),
            ("weights", pa.list_(pa.float32())),
            ("overlay", pa.string()),
        ]
    )


def _workers(n: int) -> str:
    return f"{n} worker process" + ("es" if n > 1 else "")


def _pipeline_options(runner: str, direct_num_workers: int, running_mode, extra: Sequence[str]):
    from apache_beam.options.pipeline_options import PipelineOptions

    args = [f"--runner={runner}", *extra]
    if runner == "DirectRunner":
        mode = running_mode or ("multi_processing" if direct_num_workers > 1 else "in_memory")
        args += [f"--direct_num_workers={direct_num_workers}", f"--direct_running_mode={mode}"]
    if not any(a.startswith("--default_sdk_harness_log_level") for a in extra):
        # errors only: a line per bundle (INFO) or per model load (TensorFlow's warning about
        # the export's unsaved custom gradients, which nothing here needs) says nothing
        args.append("--default_sdk_harness_log_level=ERROR")
    return PipelineOptions(args)


def explain_batch(
    export: str,
    pattern: str,
    out: str,
    *,
    runner: str = "DirectRunner",
    batch_size: int = 32,
    class_index: int = -1,
    direct_num_workers: int = 1,
    direct_running_mode: str | None = None,
    overlay: bool = False,
    force: bool = False,
    run_metadata: dict | None = None,
    pipeline_args: Sequence[str] = (),
    log=print,
) -> dict:
    """Explains every file ``pattern`` matches with an export's ``explain`` signature, on
    Beam (``qgcam explain-batch``); see the module docstring for the output.

    Args:
        export: a model base directory or version directory of ``qgcam export``.
        pattern: a glob of input files (pictures, ``.npy`` arrays of one input for image
            models, audio files for speech models).
        out: the output folder (a path every worker can write; written under a temporary
            name and renamed into place when the pipeline is done).
        runner: one of :data:`RUNNERS`; runner options go in ``pipeline_args``.
        batch_size: the batch ``RunInference`` forms (a bundle's last one may be smaller).
        class_index: the class to explain, -1 for each file's predicted class.
        direct_num_workers: DirectRunner worker count (processes in ``multi_processing``).
        direct_running_mode: DirectRunner mode; default ``multi_processing`` when
            ``direct_num_workers > 1``, else ``in_memory``.
        overlay: also write a PNG overlay per explained file.
        force: replace an existing ``out``.
        run_metadata: the metadata of the run the export came from
            (:func:`preprocessing_for`).
        pipeline_args: more Beam pipeline options (``--flink_master=...``).
        log: ``log(line)`` for one line per stage and the counters (None: silent).

    Returns:
        ``{"files_read", "explained", "rejected", "out", "seconds", ...}``: the counters
        and what was run (also written to ``OUT/summary.json``).

    Raises:
        ValueError: a bad argument (unknown runner, a batch size below 1, a class index
            outside the export's classes, a glob that matches nothing, no export).
        FileExistsError: ``out`` exists and ``force`` is False.
    """
    log = log or (lambda _: None)
    if runner not in RUNNERS:
        raise ValueError(f"runner must be one of {RUNNERS}, got {runner!r}")
    for name, value, low in (
        ("batch_size", batch_size, 1),
        ("direct_num_workers", direct_num_workers, 1),
        ("class_index", class_index, -1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    version_dir, metadata = resolve_export(export)
    if class_index >= metadata["n_classes"]:
        raise ValueError(
            f"class_index must be in [0, {metadata['n_classes'] - 1}] or -1, got {class_index}"
        )
    if "://" in out:
        raise ValueError(f"out must be a filesystem path every worker can write, got {out!r}")
    if os.path.exists(out) and not force:
        raise FileExistsError(f"{out!r} exists; pass force=True (--force) to replace it")
    spec = preprocessing_for(metadata, run_metadata)
    # Checked here; on a cluster the runner matches the glob again (MatchFiles), so that
    # millions of paths never travel inside the pipeline's graph.
    paths = match_inputs(pattern) if "://" not in pattern else None
    started = time.monotonic()

    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.ml.inference.base import RunInference

    total = len(STAGES) if overlay else len(STAGES) - 1
    stage = iter(range(1, total + 1))
    found = f"{len(paths)} files" if paths is not None else "files matched by the runner"
    log(f"[{next(stage)}/{total}] match: {found} for {pattern}")
    root = _glob_root(pattern)
    with atomic_dir(out, replace=force) as tmp:
        options = _pipeline_options(runner, direct_num_workers, direct_running_mode, pipeline_args)
        with beam.Pipeline(options=options) as p:
            if paths is not None and runner == "DirectRunner":
                names = p | "Paths" >> beam.Create(paths) | "Spread" >> beam.Reshuffle()
            else:
                names = (
                    p
                    | "Match" >> beam.io.fileio.MatchFiles(pattern)
                    | "Paths" >> beam.Map(lambda m: m.path)
                    | "Spread" >> beam.Reshuffle()
                )
            log(
                f"[{next(stage)}/{total}] read: decode and preprocess as training did "
                f"({spec['dataset']}, input {tuple(spec['input_shape'])}); bad files -> dead letter"
            )
            read = names | "Read" >> beam.FlatMap(_read_file, spec).with_outputs("dead", main="ok")
            handler = explain_model_handler(
                version_dir,
                class_index=class_index,
                min_batch_size=int(batch_size),
                max_batch_size=int(batch_size),
            )
            log(
                f"[{next(stage)}/{total}] explain: RunInference on {version_dir} "
                f"[{metadata.get('method', 'qgradcam')}], batches of up to {batch_size}, "
                f"{runner}"
                + (f" ({_workers(direct_num_workers)})" if runner == "DirectRunner" else "")
            )
            explain = RunInference(handler).with_exception_handling()
            results, failed = read.ok | "Explain" >> explain
            dead = [
                read.dead,
                failed.failed_inferences | "Failed" >> beam.FlatMap(_failed_batch),
            ]
            log(f"[{next(stage)}/{total}] write: results/*.parquet, dead_letter/*.jsonl into {out}")
            rows = results | "Rows" >> beam.Map(
                _to_row, metadata.get("class_names"), root if overlay else None
            )
            rows | "Results" >> beam.io.WriteToParquet(
                os.path.join(tmp, "results", "part"),
                _parquet_schema(),
                file_name_suffix=".parquet",
            )
            if overlay:
                log(f"[{next(stage)}/{total}] overlays: overlays/*.png (paths below {root or '.'})")
                drawn = results | "Overlays" >> beam.FlatMap(
                    _write_overlay, tmp, root
                ).with_outputs("dead", main="ok")
                dead.append(drawn.dead)
            (
                dead
                | "DeadLetters" >> beam.Flatten()
                | "Json" >> beam.Map(json.dumps, sort_keys=True)
                | "WriteDead"
                >> beam.io.WriteToText(
                    os.path.join(tmp, "dead_letter", "part"), file_name_suffix=".jsonl"
                )
            )
        counters = {name: 0 for name in COUNTERS}
        query = p.result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
        for result in query["counters"]:
            if result.key.metric.name in counters:
                counters[result.key.metric.name] += int(result.committed or 0)
        summary = {
            **counters,
            "out": out,
            "seconds": round(time.monotonic() - started, 3),
            "export": version_dir,
            "method": metadata.get("method", "qgradcam"),
            "preprocessing": spec,
            "runner": runner,
            "direct_num_workers": direct_num_workers if runner == "DirectRunner" else None,
            "batch_size": int(batch_size),
            "class_index": int(class_index),
            "input": pattern,
            "result_columns": list(RESULT_COLUMNS),
            "dead_letter_columns": list(DEAD_LETTER_COLUMNS),
        }
        write_json_atomic(os.path.join(tmp, "summary.json"), summary)
    log(
        "counters: " + ", ".join(f"{name} {counters[name]}" for name in COUNTERS) + f"; wrote {out}"
    )
    return summary


def read_results(out: str):
    """The result rows of an ``explain-batch`` output as a ``pyarrow.Table`` (all shards)."""
    import pyarrow.parquet as pq

    files = sorted(glob.glob(os.path.join(out, "results", "*.parquet")))
    if not files:
        raise ValueError(f"{out!r} holds no results/*.parquet")
    import pyarrow as pa

    return pa.concat_tables([pq.read_table(f) for f in files])


def read_dead_letters(out: str) -> list[dict]:
    """The dead letters of an ``explain-batch`` output (all shards), sorted by path."""
    letters = []
    for name in sorted(glob.glob(os.path.join(out, "dead_letter", "*.jsonl"))):
        with open(name, encoding="utf-8") as f:
            letters += [json.loads(line) for line in f if line.strip()]
    return sorted(letters, key=lambda d: (d["path"], d["stage"]))
