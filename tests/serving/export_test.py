"""SavedModel export: loads without TFQ, matches the in-process model and CAM (every exportable
method), validates its inputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.explain.cams import CAM_METHODS, make_cam
from qgcam_tf.explain.qgradcam import QGradCAM
from qgcam_tf.model.hybrid import CONV_LAYER
from qgcam_tf.model.run import load_model
from qgcam_tf.serving.export import (
    DEFAULT_METHOD,
    WARMUP_FILE,
    export_run,
    export_saved_model,
    exportable_methods,
    read_export_metadata,
    saved_model_ops,
    verify_export,
)
from qgcam_tf.testing.exports import CLASS_NAMES, sample_images, tiny_export
from qgcam_tf.testing.one_output import build_one_output_model
from qgcam_tf.testing.tfq_models import circuit_cases, tfq_hybrid

PROB_ATOL = 1e-5
MAP_ATOL = 1e-4
# The export against the in-process CAM on the same tf-executor model, in the same process.
SAME_MODEL_ATOL = 1e-5
# Against TFQ the maps agree only to TFQ's own error: its float32 adjoint gradients are up to
# 3.7e-5 off the exact ones (tests/quantum/compiler_test.py), and the maps are divided by their
# maximum. 1.02e-4 was measured; the export is held to MAP_ATOL against the tf executor.
MAP_ATOL_VS = {"tf": MAP_ATOL, "tfq": 3e-4}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

# Run in a fresh interpreter whose sitecustomize makes `import tensorflow_quantum` fail.
BLOCKER = "import sys\nsys.modules['tensorflow_quantum'] = None\n"
NO_TFQ_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    try:
        import tensorflow_quantum  # noqa: F401
        sys.exit("tensorflow_quantum is importable: the blocker did not work")
    except ImportError:
        pass
    import tensorflow as tf
    from tensorflow.python.framework import op_def_registry
    from tensorflow.python.saved_model import loader_impl
    from tensorflow_serving.apis import prediction_log_pb2

    path, inputs_file, out_file = sys.argv[1:]
    # Ops listed here again, not via qgcam_tf.serving.export.saved_model_ops: this process imports
    # nothing of qgcam_tf, and the check must not trust the code it checks.
    saved = loader_impl.parse_saved_model(path)
    ops, functions = set(), set()
    for meta in saved.meta_graphs:
        ops.update(n.op for n in meta.graph_def.node)
        for f in meta.graph_def.library.function:
            functions.add(f.signature.name)
            ops.update(n.op for n in f.node_def)
    ops -= functions
    unregistered = sorted(op for op in ops if op_def_registry.get(op) is None)

    loaded = tf.saved_model.load(path)
    d = np.load(inputs_file)
    serve = loaded.signatures["serving_default"](images=tf.constant(d["images"]))
    explain = loaded.signatures["explain"](
        images=tf.constant(d["images"]), class_index=tf.constant(d["class_index"])
    )
    out = {"serve_" + k: v.numpy() for k, v in serve.items()}
    out.update({"explain_" + k: v.numpy() for k, v in explain.items()})
    warmup = os.path.join(path, "assets.extra", "tf_serving_warmup_requests")
    for i, record in enumerate(tf.data.TFRecordDataset(warmup)):
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        result = loaded.signatures[request.model_spec.signature_name](**inputs)
        out[f"warmup{i}_signature"] = np.array(request.model_spec.signature_name)
        out.update({f"warmup{i}_in_{k}": v.numpy() for k, v in inputs.items()})
        out.update({f"warmup{i}_out_{k}": v.numpy() for k, v in result.items()})
    # Custom gradients are not saved: a gradient through the export must fail, not be wrong.
    images = tf.Variable(d["images"])
    try:
        with tf.GradientTape() as tape:
            probabilities = loaded.signatures["serving_default"](images=images)["probabilities"]
        tape.gradient(probabilities[:, 0], images)
        gradient_error = None
    except Exception as e:
        gradient_error = type(e).__name__
    np.savez(out_file, **out)
    print(json.dumps({
        "gradient_error": gradient_error,
        "ops": sorted(ops),
        "unregistered": unregistered,
        "tfq_op_registered": op_def_registry.get("TfqSimulateExpectation") is not None,
        "tfq_loaded": sys.modules.get("tensorflow_quantum") is not None,
    }))
    """
)


def _no_tfq_env(tmp_path) -> dict:
    blocker = tmp_path / "blocker"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    return {**os.environ, "PYTHONPATH": str(blocker), "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The shared tiny run directory and its export (see qgcam_tf.testing.exports)."""
    return tiny_export(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def reference(tiny):
    """In-process QGrad-CAM on the run's model (tfq, as trained) and on the tf executor."""
    images = sample_images()
    class_index = np.array([-1, 0, 2, 1], np.int64)
    out = {}
    for backend in ("tfq", "tf"):
        model = load_model(tiny.run_dir, backend=backend)
        out[backend] = (model.predict(images, verbose=0), QGradCAM(model)(images, class_index))
    return images, class_index, out


@pytest.fixture(scope="module")
def tf_model(tiny):
    """The tiny run's model on the tf executor (what export_run exports)."""
    return load_model(tiny.run_dir, backend="tf")


@pytest.fixture(scope="module")
def loaded(tiny):
    """The export loaded in this process."""
    return tf.saved_model.load(tiny.version_dir)


def _run_without_tfq(version_dir: str, images, class_index, tmp) -> tuple[dict, dict]:
    """NO_TFQ_SCRIPT on an export in a fresh process that cannot import TFQ: its report
    and the outputs of both signatures (and of the warmup requests)."""
    np.savez(tmp / "inputs.npz", images=images, class_index=class_index)
    (tmp / "check.py").write_text(NO_TFQ_SCRIPT)
    proc = subprocess.run(
        [
            sys.executable,
            str(tmp / "check.py"),
            version_dir,
            str(tmp / "inputs.npz"),
            str(tmp / "out.npz"),
        ],
        env=_no_tfq_env(tmp),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return report, dict(np.load(tmp / "out.npz"))


@pytest.fixture(scope="module")
def no_tfq_run(tiny, reference, tmp_path_factory):
    """Outputs of the export computed in a fresh process that cannot import TFQ."""
    images, class_index, _ = reference
    return _run_without_tfq(
        tiny.version_dir, images, class_index, tmp_path_factory.mktemp("no_tfq")
    )


def test_layout_is_what_tf_serving_watches(tiny):
    """EXPORT_DIR holds only the version '1' with a SavedModel, warmup and metadata."""
    assert sorted(os.listdir(tiny.export_dir)) == ["1"]
    for name in ("saved_model.pb", "variables/variables.index", WARMUP_FILE):
        assert os.path.isfile(os.path.join(tiny.version_dir, name)), name
    meta = read_export_metadata(tiny.version_dir)
    assert meta == {
        "input_shape": [8, 8, 1],
        "n_classes": 3,
        "class_names": CLASS_NAMES,
        "signatures": ["serving_default", "explain"],
        "layer": CONV_LAYER,
        "method": "qgradcam",
    }


def test_loads_and_matches_without_tfq(no_tfq_run, reference):
    """Without TFQ importable, both signatures equal the in-process tfq and tf models."""
    report, out = no_tfq_run
    assert not report["tfq_loaded"]
    _, _, ref = reference
    for backend, (probs, cam) in ref.items():
        for prefix in ("serve_", "explain_"):
            np.testing.assert_allclose(out[prefix + "probabilities"], probs, atol=PROB_ATOL)
        np.testing.assert_array_equal(out["serve_class_index"], probs.argmax(axis=1))
        np.testing.assert_array_equal(out["explain_class_index"], cam.class_index)
        np.testing.assert_allclose(
            out["explain_heatmap"], cam.maps, atol=MAP_ATOL_VS[backend], err_msg=backend
        )
        np.testing.assert_allclose(out["explain_weights"], cam.weights, atol=1e-5, err_msg=backend)
    assert out["explain_heatmap"].min() >= 0.0 and out["explain_heatmap"].max() <= 1.0


def test_a_gradient_through_the_loaded_export_fails_loudly(no_tfq_run):
    """Custom gradients are not saved (export.py says why), so in a fresh process a gradient
    through the loaded export raises LookupError ("No gradient defined") instead of being
    computed with some other gradient."""
    report, _ = no_tfq_run
    assert report["gradient_error"] == "LookupError"


def test_every_op_is_registered_in_plain_tensorflow(no_tfq_run, tiny):
    """All ops of all graphs and library functions are registered by TF alone (no Tfq*)."""
    report, _ = no_tfq_run
    assert not report["tfq_op_registered"]  # so a TFQ op would have been listed below
    assert report["unregistered"] == []
    assert not [op for op in report["ops"] if op.lower().startswith("tfq")]
    assert {"Einsum", "GatherV2", "Assert"} <= set(report["ops"])  # the executor and checks
    assert saved_model_ops(tiny.version_dir) == set(report["ops"])


def test_warmup_records_parse_and_run(no_tfq_run, tiny):
    """The warmup file holds one request per signature; each runs and matches the model."""
    _, out = no_tfq_run
    signatures = sorted(str(out[f"warmup{i}_signature"]) for i in range(2))
    assert signatures == ["explain", "serving_default"] and "warmup2_signature" not in out
    model = load_model(tiny.run_dir, backend="tf")
    for i in range(2):
        images = out[f"warmup{i}_in_images"]
        assert images.shape == (1, 8, 8, 1) and images.dtype == np.float32
        probs = model.predict(images, verbose=0)
        np.testing.assert_allclose(out[f"warmup{i}_out_probabilities"], probs, atol=PROB_ATOL)
        if str(out[f"warmup{i}_signature"]) == "explain":
            np.testing.assert_array_equal(out[f"warmup{i}_in_class_index"], [-1])
            cam = QGradCAM(model)(images)
            np.testing.assert_allclose(out[f"warmup{i}_out_heatmap"], cam.maps, atol=MAP_ATOL)


def test_saved_model_cli_runs_explain(tiny, reference, tmp_path):
    """`saved_model_cli run --signature_def explain` (TF1 session loader) gives the maps."""
    images, class_index, ref = reference
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "class_index.npy", class_index)
    proc = subprocess.run(
        [
            os.path.join(BIN, "saved_model_cli"),
            "run",
            "--dir",
            tiny.version_dir,
            "--tag_set",
            "serve",
            "--signature_def",
            "explain",
            "--inputs",
            f"images={tmp_path / 'images.npy'};class_index={tmp_path / 'class_index.npy'}",
            "--outdir",
            str(tmp_path / "out"),
        ],
        env=_no_tfq_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    probs, cam = ref["tf"]
    out = tmp_path / "out"
    np.testing.assert_allclose(np.load(out / "heatmap.npy"), cam.maps, atol=MAP_ATOL)
    np.testing.assert_allclose(np.load(out / "probabilities.npy"), probs, atol=PROB_ATOL)
    np.testing.assert_array_equal(np.load(out / "class_index.npy"), cam.class_index)


GOOD = sample_images(2)
IMAGES_MSG = r"images must be float32 \[batch, 8, 8, 1\] in \[0, 1\]; got shape\] "
RANGE_MSG = r"class_index must be in \[0, 3\) or -1 \(predicted class\); got\] "
LENGTH_MSG = r"class_index must be int64 \[batch\] with batch =\] \[2\] \[; got shape\] "
VALUES_MSG = (
    r"images must be float32 in \[0, 1\] \(8-bit pixels: divide by 255\); got min and max\] "
)
FLOAT32_MAX = np.finfo(np.float32).max
EIGHT_BIT = np.round(255 * GOOD)  # the common client mistake: pixels not divided by 255
assert EIGHT_BIT.min() == 0 and EIGHT_BIT.max() > 200
BAD_INPUTS = [
    ("serving_default", dict(images=GOOD[0]), IMAGES_MSG + r"\[8 8 1\]"),
    ("serving_default", dict(images=EIGHT_BIT), VALUES_MSG + rf"\[0\] \[{EIGHT_BIT.max():.0f}\]"),
    ("explain", dict(images=EIGHT_BIT, class_index=[-1, 0]), VALUES_MSG),
    ("serving_default", dict(images=GOOD - 1.0), VALUES_MSG + r"\[-0.99\d*\] \[-0.0\d*\]"),
    ("serving_default", dict(images=np.full_like(GOOD, 1e30)), VALUES_MSG + r"\[1e\+30\]"),
    (
        "serving_default",
        dict(images=np.full_like(GOOD, FLOAT32_MAX)),
        VALUES_MSG + r"\[3.40282347e\+38\]",
    ),
    ("explain", dict(images=np.full_like(GOOD, FLOAT32_MAX), class_index=[0, 1]), VALUES_MSG),
    ("serving_default", dict(images=np.where(GOOD > 0.5, 1.0 + 1e-6, GOOD)), VALUES_MSG),
    ("serving_default", dict(images=np.where(GOOD > 0.5, -np.inf, GOOD)), "images contain NaN or"),
    (
        "explain",
        dict(images=np.where(GOOD > 0.5, np.inf, GOOD), class_index=[0, 1]),
        "images contain NaN or",
    ),
    (
        "serving_default",
        dict(images=tf.constant(GOOD, tf.float64)),
        "expected to be a float tensor but is a double",
    ),
    (
        "serving_default",
        dict(images=tf.constant(GOOD > 0.5, tf.int32)),
        "expected to be a float tensor but is a int32",
    ),
    ("serving_default", dict(images=GOOD[:, :7]), IMAGES_MSG + r"\[2 7 8 1\]"),
    ("serving_default", dict(images=np.repeat(GOOD, 3, axis=-1)), IMAGES_MSG + r"\[2 8 8 3\]"),
    ("serving_default", dict(images=np.where(GOOD > 0.5, np.nan, GOOD)), "images contain NaN or"),
    (
        "explain",
        dict(images=np.where(GOOD > 0.5, np.nan, GOOD), class_index=[0, 1]),
        "images contain",
    ),
    ("explain", dict(images=GOOD, class_index=np.array([0, 3])), RANGE_MSG + r"\[0 3\]"),
    ("explain", dict(images=GOOD, class_index=np.array([-2, 0])), RANGE_MSG + r"\[-2 0\]"),
    ("explain", dict(images=GOOD, class_index=np.array([0])), LENGTH_MSG + r"\[1\]"),
    ("explain", dict(images=GOOD, class_index=np.array(0)), LENGTH_MSG + r"\[\]"),
    ("explain", dict(images=GOOD[..., 0], class_index=np.array([0, 0])), IMAGES_MSG + r"\[2 8 8\]"),
]


@pytest.mark.parametrize("signature,inputs,match", BAD_INPUTS)
def test_bad_inputs_give_invalid_argument(loaded, signature, inputs, match):
    """Wrong rank/size/channels/dtype, values outside [0, 1] (0..255, -1..0, 1e30, float32
    max, just above 1), NaN or inf, class_index out of range or length: INVALID_ARGUMENT."""
    tensors = {
        k: v
        if isinstance(v, tf.Tensor)
        else tf.constant(v, tf.int64 if k == "class_index" else tf.float32)
        for k, v in inputs.items()
    }
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        loaded.signatures[signature](**tensors)


def test_the_ends_of_the_range_are_accepted(loaded, tf_model):
    """Images of exactly 0 and exactly 1 are inside the contract: both signatures answer,
    with the model's probabilities."""
    images = np.stack([np.zeros(GOOD.shape[1:]), np.ones(GOOD.shape[1:])]).astype(np.float32)
    want = tf_model(images, training=False).numpy()
    served = loaded.signatures["serving_default"](images=tf.constant(images))
    explained = loaded.signatures["explain"](
        images=tf.constant(images), class_index=tf.constant([-1, -1], tf.int64)
    )
    np.testing.assert_allclose(served["probabilities"].numpy(), want, atol=PROB_ATOL)
    np.testing.assert_allclose(explained["probabilities"].numpy(), want, atol=PROB_ATOL)
    assert np.all(np.isfinite(explained["heatmap"].numpy()))


@pytest.fixture(scope="module")
def broken_loaded(tiny):
    """A second load of the export, whose variables the tests may overwrite."""
    return tf.saved_model.load(tiny.version_dir)


@pytest.mark.parametrize("scale", [np.nan, np.inf])
@pytest.mark.parametrize("signature", ["serving_default", "explain"])
def test_non_finite_results_never_leave_a_signature(broken_loaded, signature, scale):
    """With the output scale set to NaN or inf (softmax then gives NaN), a valid request
    gives INVALID_ARGUMENT naming the non-finite output, never NaN numbers."""
    (variable,) = [v for v in broken_loaded.model_variables if v.name.startswith("scale")]
    variable.assign(tf.fill(variable.shape, tf.constant(scale, tf.float32)))
    inputs = {"images": tf.constant(GOOD)}
    if signature == "explain":
        inputs["class_index"] = tf.constant([-1, 0], tf.int64)
    match = r"model output (probabilities|heatmap|weights) is not finite \(NaN or inf\)"
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        broken_loaded.signatures[signature](**inputs)


def test_second_export_without_force_fails_and_keeps_the_first(tiny, tf_model):
    """Re-exporting version 1 without force raises FileExistsError and leaves the files
    untouched."""
    pb = os.path.join(tiny.version_dir, "saved_model.pb")
    before = (os.path.getmtime(pb), open(pb, "rb").read())
    with pytest.raises(FileExistsError, match=r"version .*1' exists; pass force=True \(--force\)"):
        export_saved_model(tf_model, tiny.export_dir, version=1)
    assert (os.path.getmtime(pb), open(pb, "rb").read()) == before
    assert sorted(os.listdir(tiny.export_dir)) == ["1"]


@pytest.mark.slow
def test_force_replaces_a_version_with_new_weights(tiny, tmp_path):
    """force=True swaps in the new model completely; no temporary directory is left."""
    model = load_model(tiny.run_dir, backend="tfq")
    export_dir = tmp_path / "exp"
    os.makedirs(export_dir / "3")
    (export_dir / "3" / "stale.txt").write_text("old version")
    model.get_layer("scale").scale.assign(-2.0)
    path = export_saved_model(model, str(export_dir), version=3, force=True)
    assert path == str(export_dir / "3") and sorted(os.listdir(export_dir)) == ["3"]
    assert not os.path.exists(export_dir / "3" / "stale.txt")
    images = sample_images(3)
    got = tf.saved_model.load(path).signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(got["probabilities"].numpy(), model(images).numpy(), atol=PROB_ATOL)


def _files(root) -> dict:
    """``{relative path: bytes}`` of every file under ``root``."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


@pytest.fixture
def old_version(tiny, tmp_path):
    """An export base holding a copy of the tiny export as version 1, and its files."""
    base = tmp_path / "exp"
    shutil.copytree(tiny.version_dir, base / "1")
    return str(base), _files(base / "1")


def test_a_model_with_nan_weights_is_refused_and_the_old_version_kept(tiny, old_version):
    """NaN weights are a ValueError naming the variable, before anything is traced; the old
    version stays byte for byte, and nothing else is written."""
    base, before = old_version
    model = load_model(tiny.run_dir, backend="tf")
    model.get_layer("scale").scale.assign(np.nan)
    with pytest.raises(
        ValueError, match=r"model has non-finite weights \(NaN or inf\) in \['scale"
    ):
        export_saved_model(model, base, force=True)
    assert os.listdir(base) == ["1"] and _files(os.path.join(base, "1")) == before


def test_an_export_that_fails_its_check_is_never_published(tiny, old_version):
    """A model with finite weights but NaN outputs (negative BatchNorm variance) is written,
    refused by verify_export in its temporary directory, and never published: the old
    version stays, the temporary goes, and a dead export's leftover is cleaned first."""
    base, before = old_version
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    os.makedirs(os.path.join(base, f".tmp-{dead.pid}-left"))
    model = load_model(tiny.run_dir, backend="tf")
    model.get_layer("bn").moving_variance.assign(-np.ones(6, np.float32))
    lines = []
    with pytest.raises(
        ValueError,
        match=r"exp/\.tmp-\d+-\w+' fails on random images: assertion failed: "
        r"\[model output probabilities is not finite",
    ):
        export_saved_model(model, base, force=True, method="centre", log=lines.append)
    assert [line.split("]")[0] for line in lines] == ["[1/5", "[2/5", "[3/5", "[4/5"]
    assert [line.split()[1] for line in lines] == ["tracing:", "saving:", "warmup:", "verifying:"]
    assert os.listdir(base) == ["1"] and _files(os.path.join(base, "1")) == before


def test_verify_export_accepts_the_model_and_rejects_another(tiny):
    """verify_export passes for the exported weights and fails for changed ones."""
    model = load_model(tiny.run_dir, backend="tf")
    check = verify_export(tiny.version_dir, model)
    assert check["max_abs_diff"] <= 1e-5 and check["ops"] > 20
    model.get_layer("scale").scale.assign(-3.0)
    with pytest.raises(ValueError, match=r"differs from the model by .* > 1e-05"):
        verify_export(tiny.version_dir, model)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(version=0), ValueError, "version must be an int >= 1, got 0"),
        (dict(version=True), ValueError, "version must be an int >= 1, got True"),
        (dict(version="2"), ValueError, "version must be an int >= 1, got '2'"),
        (dict(layer="nope"), ValueError, "layer 'nope' is not in the model"),
        (dict(class_names=["a"]), ValueError, "class_names must have 3 entries, got 1"),
        (dict(method="nope"), ValueError, r"method must be one of .*\['centre', .*got 'nope'"),
        (dict(method=None), ValueError, r"method must be one of .*'scorecam'\], got None"),
        (
            dict(method="random"),
            ValueError,
            r"method 'random' cannot be exported: its noise .*; exportable methods: \['centre'",
        ),
    ],
)
def test_export_argument_errors(tf_model, tmp_path, kwargs, error, match):
    """Bad arguments raise before anything is written."""
    with pytest.raises(error, match=match):
        export_saved_model(tf_model, str(tmp_path / "exp"), **kwargs)
    assert not os.path.exists(tmp_path / "exp")


def test_method_is_checked_before_the_model_and_the_run(tmp_path):
    """A method that cannot be exported fails before the model is looked at or the run
    loaded, so before anything is traced."""
    with pytest.raises(ValueError, match="method 'random' cannot be exported"):
        export_saved_model("not a model", str(tmp_path / "exp"), method="random")
    with pytest.raises(ValueError, match="got 'gradcam'"):
        export_run(str(tmp_path / "no-run"), str(tmp_path / "exp"), method="gradcam")
    assert os.listdir(tmp_path) == []


def test_every_method_but_random_is_exportable():
    """exportable_methods is CAM_METHODS less RandomCAM, the one with an export_blocker."""
    assert exportable_methods() == sorted(set(CAM_METHODS) - {"random"})
    assert DEFAULT_METHOD in exportable_methods()


@pytest.fixture(scope="module")
def method_exports(tiny, tf_model, tmp_path_factory):
    """Version dir of each exportable method for the tiny model (QGrad-CAM: the shared one)."""
    base = tmp_path_factory.mktemp("methods")
    return {
        method: tiny.version_dir
        if method == DEFAULT_METHOD
        else export_saved_model(tf_model, str(base / method), method=method)
        for method in exportable_methods()
    }


@pytest.mark.parametrize("method", exportable_methods())
def test_each_method_exports_and_matches_its_in_process_cam(method, method_exports, tf_model):
    """The loaded export's explain equals make_cam(method) on the same model (maps within
    1e-5, explicit classes and -1), weights are float32 [B, K] (per-position weights
    averaged), the metadata names the method, and verify_export passes."""
    path = method_exports[method]
    assert read_export_metadata(path)["method"] == method
    images = sample_images(4)
    # Class 2 would give all-zero maps on this model (ReLU of a negative sum) for the
    # gradient methods; 0 and 1 give real maps for every method.
    class_index = np.array([-1, 0, 1, -1], np.int64)
    explain = tf.saved_model.load(path).signatures["explain"]
    n_maps = tf_model.get_layer(CONV_LAYER).output_shape[-1]
    assert explain.structured_outputs["weights"].shape.as_list() == [None, n_maps]
    out = explain(images=tf.constant(images), class_index=tf.constant(class_index))
    got = {k: v.numpy() for k, v in out.items()}
    want = make_cam(method, tf_model)(images, class_index)
    np.testing.assert_allclose(got["heatmap"], want.maps, atol=SAME_MODEL_ATOL)
    spread = want.maps.max(axis=(1, 2)) - want.maps.min(axis=(1, 2))
    # real maps, so the comparison says something; Integrated QGrad-CAM's map of class 0 for
    # the second image is empty on this untrained model (log p_0 falls along the whole path)
    real = spread > 0.5
    assert real.all() or (method == "integrated" and real.sum() == 3), spread
    np.testing.assert_array_equal(got["class_index"], want.class_index)
    np.testing.assert_array_equal(got["class_index"][[1, 2]], [0, 1])
    np.testing.assert_allclose(got["probabilities"], want.probabilities, atol=PROB_ATOL)
    per_map = want.weights if want.weights.ndim == 2 else want.weights.mean(axis=(1, 2))
    assert got["weights"].dtype == np.float32 and got["weights"].shape == (4, n_maps)
    np.testing.assert_allclose(got["weights"], per_map, atol=SAME_MODEL_ATOL)
    check = verify_export(path, tf_model)
    assert check["max_abs_diff"] <= PROB_ATOL


@pytest.fixture(scope="module")
def tfq_export(tmp_path_factory):
    """A ControlledPQC hybrid (TFQ's own layer, the 4-qubit iSWAP circuit, its circuits input
    standing for a prefix circuit) exported directly, conv layer "conv"; its in-process
    reference (TFQ model and QGrad-CAM on it); the export's outputs without TFQ."""
    import tensorflow_quantum as tfq

    case = circuit_cases()[1]
    model = tfq_hybrid(case, "ControlledPQC", seed=4)
    base = tmp_path_factory.mktemp("tfq_export")
    path = export_saved_model(
        model, str(base / "exp"), circuits=case.prefix, layer="conv", class_names=["a", "b", "c"]
    )
    images = sample_images(4)
    class_index = np.array([-1, 0, 2, 1], np.int64)
    probs = model([tfq.convert_to_tensor([case.prefix] * len(images)), images]).numpy()
    cam = QGradCAM(model, layer="conv", circuits=case.prefix)(images, class_index)
    out = _run_without_tfq(path, images, class_index, tmp_path_factory.mktemp("tfq_no_tfq"))
    return path, probs, cam, out


def test_a_tfq_model_exports_directly_and_serves_without_tfq(tfq_export):
    """export_saved_model converts a ControlledPQC hybrid on the way: in a process where
    tensorflow_quantum cannot be imported both signatures answer and equal the TFQ model
    (probabilities within 1e-5, QGrad-CAM maps within 1e-4, weights within 1e-5), and the
    export holds no TFQ op; its metadata names the conv layer."""
    path, probs, cam, (report, out) = tfq_export
    assert not report["tfq_loaded"] and not report["tfq_op_registered"]
    assert report["unregistered"] == []
    assert not [op for op in saved_model_ops(path) if op.lower().startswith("tfq")]
    assert saved_model_ops(path) == set(report["ops"])
    for prefix in ("serve_", "explain_"):
        np.testing.assert_allclose(out[prefix + "probabilities"], probs, atol=PROB_ATOL)
    np.testing.assert_array_equal(out["serve_class_index"], probs.argmax(axis=1))
    np.testing.assert_array_equal(out["explain_class_index"], cam.class_index)
    spread = cam.maps.max(axis=(1, 2)) - cam.maps.min(axis=(1, 2))
    assert np.all(spread > 0.5), spread  # real maps, so the comparison says something
    np.testing.assert_allclose(out["explain_heatmap"], cam.maps, atol=MAP_ATOL)
    np.testing.assert_allclose(out["explain_weights"], cam.weights, atol=1e-5)
    meta = read_export_metadata(path)
    assert meta["layer"] == "conv" and meta["class_names"] == ["a", "b", "c"]


def test_a_tfq_model_export_names_what_it_cannot_do(tf_model, tmp_path):
    """circuits for a model without TFQ layers, and a conv layer the TFQ model lacks, are
    one error each, raised before anything is written."""
    case = circuit_cases()[1]
    with pytest.raises(ValueError, match="circuits was given but model .* no TensorFlow Quantum"):
        export_saved_model(tf_model, str(tmp_path / "exp"), circuits=case.prefix)
    model = tfq_hybrid(case, "ControlledPQC")
    with pytest.raises(ValueError, match="layer 'qgcam_conv' is not in the model"):
        export_saved_model(model, str(tmp_path / "exp"), circuits=case.prefix)
    assert not os.path.exists(tmp_path / "exp")


def test_export_rejects_non_models(tmp_path):
    """A non-Keras object is a TypeError naming its type."""
    with pytest.raises(TypeError, match="model must be a tf_keras Model, got str"):
        export_saved_model("model", str(tmp_path / "exp"))


def test_export_dir_that_is_a_file_is_refused(tf_model, tmp_path):
    """An export_dir that is a file is a NotADirectoryError naming it; the file stays."""
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="file.txt' exists and is not a directory"):
        export_saved_model(tf_model, str(tmp_path / "file.txt"))
    assert (tmp_path / "file.txt").read_text() == "x"


def test_a_one_output_model_serves_two_classes(tmp_path):
    """A one-output hybrid (one <Z>, sigmoid) exports: serving_default returns [1 - p, p]
    and its argmax, explain takes class 0 and 1 and equals the in-process QGrad-CAM (class
    0 by the negated score: its weights are minus class 1's)."""
    model = build_one_output_model(seed=2)
    path = export_saved_model(model, str(tmp_path / "exp"), class_names=["zero", "one"])
    loaded = tf.saved_model.load(path)
    x = np.random.default_rng(4).uniform(size=(2, 28, 28, 1)).astype(np.float32)
    images, class_index = np.concatenate([x, x]), np.array([0, 0, 1, 1], np.int64)
    p = model(images).numpy()[:, 0]
    served = loaded.signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(served["probabilities"], np.stack([1 - p, p], 1), atol=1e-5)
    np.testing.assert_array_equal(served["class_index"], (p > 0.5).astype(np.int64))
    out = loaded.signatures["explain"](images=tf.constant(images), class_index=class_index)
    cam = QGradCAM(model)(images, class_index)
    np.testing.assert_allclose(out["weights"], cam.weights, atol=1e-5)
    np.testing.assert_allclose(out["weights"][:2], -out["weights"][2:].numpy(), atol=1e-6)
    np.testing.assert_allclose(out["heatmap"], cam.maps, atol=MAP_ATOL)
    assert read_export_metadata(path)["n_classes"] == 2


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
