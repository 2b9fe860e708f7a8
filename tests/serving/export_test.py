"""SavedModel export: loads without TFQ, matches the in-process model, validates its inputs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.cli.main import main as cli_main
from qgcam_tf.explain.qgradcam import QGradCAM
from qgcam_tf.model.run import load_model
from qgcam_tf.serving.export import (
    WARMUP_FILE,
    export_saved_model,
    read_export_metadata,
    saved_model_ops,
    verify_export,
)
from qgcam_tf.testing.exports import CLASS_NAMES, sample_images, tiny_export

PROB_ATOL = 1e-5
MAP_ATOL = 1e-4
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
    np.savez(out_file, **out)
    print(json.dumps({
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
def loaded(tiny):
    """The export loaded in this process."""
    return tf.saved_model.load(tiny.version_dir)


@pytest.fixture(scope="module")
def no_tfq_run(tiny, reference, tmp_path_factory):
    """Outputs of the export computed in a fresh process that cannot import TFQ."""
    tmp = tmp_path_factory.mktemp("no_tfq")
    images, class_index, _ = reference
    np.savez(tmp / "inputs.npz", images=images, class_index=class_index)
    (tmp / "check.py").write_text(NO_TFQ_SCRIPT)
    proc = subprocess.run(
        [
            sys.executable,
            str(tmp / "check.py"),
            tiny.version_dir,
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


def test_layout_is_what_tf_serving_watches(tiny):
    """EXPORT_DIR holds only the version '1' with a SavedModel, warmup and metadata."""
    assert sorted(os.listdir(tiny.export_dir)) == ["1"]
    for name in ("saved_model.pb", "variables/variables.index", WARMUP_FILE):
        assert os.path.isfile(os.path.join(tiny.version_dir, name)), name
    meta = read_export_metadata(tiny.version_dir)
    assert meta["input_shape"] == [8, 8, 1] and meta["class_names"] == CLASS_NAMES


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
BAD_INPUTS = [
    ("serving_default", dict(images=GOOD[0]), IMAGES_MSG + r"\[8 8 1\]"),
    ("serving_default", dict(images=GOOD[:, :7]), IMAGES_MSG + r"\[2 7 8 1\]"),
    ("serving_default", dict(images=np.repeat(GOOD, 3, axis=-1)), IMAGES_MSG + r"\[2 8 8 3\]"),
    ("serving_default", dict(images=np.where(GOOD > 0.5, np.nan, GOOD)), "images contain NaN or"),
    ("explain", dict(images=GOOD, class_index=np.array([0, 3])), RANGE_MSG + r"\[0 3\]"),
    ("explain", dict(images=GOOD, class_index=np.array([-2, 0])), RANGE_MSG + r"\[-2 0\]"),
    ("explain", dict(images=GOOD, class_index=np.array([0])), LENGTH_MSG + r"\[1\]"),
    ("explain", dict(images=GOOD, class_index=np.array(0)), LENGTH_MSG + r"\[\]"),
    ("explain", dict(images=GOOD[..., 0], class_index=np.array([0, 0])), IMAGES_MSG + r"\[2 8 8\]"),
]


@pytest.mark.parametrize("signature,inputs,match", BAD_INPUTS)
def test_bad_inputs_give_invalid_argument(loaded, signature, inputs, match):
    """Wrong rank/size/channels, NaN, class_index out of range or length: INVALID_ARGUMENT."""
    tensors = {
        k: tf.constant(v, tf.int64 if k == "class_index" else tf.float32) for k, v in inputs.items()
    }
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        loaded.signatures[signature](**tensors)


def test_second_export_without_force_fails_and_keeps_the_first(tiny, capsys):
    """Re-exporting version 1 without --force exits 2 and leaves the files untouched."""
    pb = os.path.join(tiny.version_dir, "saved_model.pb")
    before = (os.path.getmtime(pb), open(pb, "rb").read())
    assert cli_main(["export", "--model", tiny.run_dir, "--out", tiny.export_dir]) == 2
    assert "exists; pass force=True (--force)" in capsys.readouterr().err
    with pytest.raises(FileExistsError, match="version .*1' exists"):
        export_saved_model(load_model(tiny.run_dir, backend="tf"), tiny.export_dir, version=1)
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
    ],
)
def test_export_argument_errors(tiny, tmp_path, kwargs, error, match):
    """Bad arguments raise before anything is written."""
    model = load_model(tiny.run_dir, backend="tf")
    with pytest.raises(error, match=match):
        export_saved_model(model, str(tmp_path / "exp"), **kwargs)
    assert not os.path.exists(tmp_path / "exp")


def test_export_rejects_non_models(tmp_path):
    """A non-Keras object is a TypeError naming its type."""
    with pytest.raises(TypeError, match="model must be a tf_keras Model, got str"):
        export_saved_model("model", str(tmp_path / "exp"))


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--model", "{tmp}/missing"], "model directory .*missing' does not exist"),
        (["--model", "{run}", "--version", "0"], "--version must be an int >= 1, got 0"),
        (["--model", "{run}", "--out", "{tmp}/file.txt"], "exists and is not a directory"),
    ],
)
def test_cli_errors_are_one_line(tiny, tmp_path, capsys, argv, match):
    """`qgcam export` user errors exit 2 with one line naming the problem."""
    (tmp_path / "file.txt").write_text("x")
    argv = [a.format(tmp=tmp_path, run=tiny.run_dir) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "exp")]
    assert cli_main(["export", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("qgcam export: error:")
    assert re.search(match, err), err


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
