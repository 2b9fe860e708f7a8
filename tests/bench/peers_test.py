"""Tests of the VQC rows (qgcam_tf.bench.peers): the reference, the check, the rows, the CLI.

The reference and the check run here, in the main venv (against Cirq, finite differences
and deliberately wrong answers). The peer libraries (tensorcircuit-ng, PennyLane, qsimcirq,
JAX) live in the peers' own virtualenv; the tests of their rows are skipped, naming it,
only when their import fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest

from qgcam_tf.bench import peers


def _numpy_paper_vqc(x: np.ndarray, theta: np.ndarray, n_out: int) -> np.ndarray:
    """<Z_l> of the paper circuit, gate by gate on a NumPy state vector (qubit 0 = MSB)."""
    batch, n = x.shape
    depth = theta.shape[0]

    def ry(a):
        c, s = np.cos(a / 2), np.sin(a / 2)
        return np.array([[c, -s], [s, c]], np.complex128)

    def rz(a):
        return np.diag([np.exp(-0.5j * a), np.exp(0.5j * a)])

    def apply(state, gate, k):
        state = np.tensordot(gate, state, axes=[[1], [k]])
        return np.moveaxis(state, 0, k)

    def cnot(state, c, t):
        state = state.copy()
        idx = [slice(None)] * n
        idx[c] = 1
        sub = state[tuple(idx)]
        t_axis = t if t < c else t - 1
        state[tuple(idx)] = np.flip(sub, axis=t_axis)
        return state

    h = np.array([[1, 1], [1, -1]], np.complex128) / np.sqrt(2)
    out = np.zeros((batch, n_out))
    for b in range(batch):
        state = np.zeros([2] * n, np.complex128)
        state[(0,) * n] = 1.0
        for k in range(n):
            state = apply(state, h, k)
            state = apply(state, ry(np.arctan(x[b, k])), k)
            state = apply(state, rz(np.arctan(x[b, k] ** 2)), k)
        for d in range(depth):
            for i in range(n):
                state = cnot(state, i, (i + 1) % n)
            for k in range(n):
                state = apply(state, rz(theta[d, k, 0]), k)
                state = apply(state, ry(theta[d, k, 1]), k)
                state = apply(state, rz(theta[d, k, 2]), k)
        probs = np.abs(state) ** 2
        for l in range(n_out):
            out[b, l] = probs.take(0, axis=l).sum() - probs.take(1, axis=l).sum()
    return out


def _inputs(n: int, depth: int, batch: int = 3):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(batch, n)).astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi, size=(depth, n, 3)).astype(np.float32)
    return x, theta


def test_z_signs_are_the_diagonals_of_pauli_z():
    """Row l of z_signs equals diag(I x ... x Z_l x ... x I) built with np.kron."""
    n = 4
    got = peers.z_signs(n, 3)
    for l in range(3):
        ops = [np.diag([1.0, -1.0]) if k == l else np.eye(2) for k in range(n)]
        full = ops[0]
        for op in ops[1:]:
            full = np.kron(full, op)
        np.testing.assert_array_equal(got[l], np.diag(full))
    assert got.dtype == np.float32


def test_z_signs_reject_bad_sizes():
    """n_out outside [1, n] and n < 1 are refused, naming the argument."""
    with pytest.raises(ValueError, match=r"n_out must be in \[1, 3\], got 4"):
        peers.z_signs(3, 4)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        peers.z_signs(0, 1)


def test_numpy_reference_matches_the_tf_executor():
    """The circuit this file writes out for the peers is the one the tf rows run: qgcam's
    PaperKernel gives the per-sample NumPy reference's <Z_l> (atol 1e-5)."""
    from qgcam_tf.quantum.paper_kernel import PaperKernel

    n, depth, n_out = 4, 2, 3
    x, theta = _inputs(n, depth)
    spec = types.SimpleNamespace(n_qubits=n, depth=depth, n_outputs=n_out, ansatz="paper")
    got = PaperKernel(spec)(x, theta).numpy()
    np.testing.assert_allclose(got, _numpy_paper_vqc(x, theta, n_out), atol=1e-5)


def test_reference_values_match_cirq_and_the_gate_by_gate_reference():
    """reference_vqc's <Z_l> equal Cirq's complex128 simulator on the same circuit (atol
    1e-10) and the per-sample NumPy reference above (atol 1e-6: it takes its angles in
    float32)."""
    import cirq

    n, depth, n_out = 4, 2, 3
    x, theta = _inputs(n, depth)
    values, _, _ = peers.reference_vqc(x, theta, n_out)
    np.testing.assert_allclose(values, _numpy_paper_vqc(x, theta, n_out), atol=1e-6)
    q = cirq.LineQubit.range(n)
    sim = cirq.Simulator(dtype=np.complex128)
    for b in range(x.shape[0]):
        xb = x[b].astype(np.float64)
        circuit = cirq.Circuit()
        for k in range(n):
            circuit.append([cirq.H(q[k]), cirq.ry(np.arctan(xb[k]))(q[k])])
            circuit.append(cirq.rz(np.arctan(xb[k] ** 2))(q[k]))
        for d in range(depth):
            circuit.append(cirq.CNOT(q[i], q[(i + 1) % n]) for i in range(n))
            for k in range(n):
                t = theta[d, k].astype(np.float64)
                circuit.append([cirq.rz(t[0])(q[k]), cirq.ry(t[1])(q[k]), cirq.rz(t[2])(q[k])])
        psi = sim.simulate(circuit, qubit_order=q).final_state_vector
        want = peers.z_signs(n, n_out).astype(np.float64) @ (np.abs(psi) ** 2)
        np.testing.assert_allclose(values[b], want, atol=1e-10)


def test_reference_gradients_match_finite_differences():
    """The adjoint-method gradients of sum(<Z>^2) equal central differences (step 1e-6) for
    every input and weight (atol 1e-7)."""
    n, depth, n_out = 3, 2, 2
    x, theta = _inputs(n, depth, batch=2)
    x, theta = x.astype(np.float64), theta.astype(np.float64)
    _, gx, gt = peers.reference_vqc(x, theta, n_out)

    def loss(xv, tv):
        return float(np.sum(peers.reference_vqc(xv, tv, n_out)[0] ** 2))

    eps = 1e-6
    fx = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        fx[i] = (loss(up, theta) - loss(down, theta)) / (2 * eps)
    ft = np.zeros_like(theta)
    for i in np.ndindex(theta.shape):
        up, down = theta.copy(), theta.copy()
        up[i] += eps
        down[i] -= eps
        ft[i] = (loss(x, up) - loss(x, down)) / (2 * eps)
    np.testing.assert_allclose(gx, fx, atol=1e-7)
    np.testing.assert_allclose(gt, ft, atol=1e-7)


def test_reference_rejects_bad_shapes():
    """x that is not 2-D and theta that is not [depth, n, 3] are refused with their shapes."""
    with pytest.raises(ValueError, match=r"x must be \[batch, n\], got shape \(3,\)"):
        peers.reference_vqc(np.zeros(3), np.zeros((1, 3, 3)), 1)
    with pytest.raises(ValueError, match=r"theta must be \[depth, 3, 3\], got shape \(1, 3, 2\)"):
        peers.reference_vqc(np.zeros((2, 3)), np.zeros((1, 3, 2)), 1)


def test_check_passes_the_reference_and_catches_wrong_answers():
    """The reference passes its own check; a weight gradient off by 1e-3 in one entry, input
    gradients of the wrong sign, a NaN value and a wrong shape each fail, naming the part."""
    n, depth, n_out = 4, 2, 3
    x, theta = _inputs(n, depth)
    ref = peers.reference_vqc(x, theta, n_out)
    ok = peers.check_against_reference(ref, x, theta, n_out)
    assert ok["passed"] is True and ok["max_error"]["grad_theta"] == 0.0
    assert ok["reference"] == "numpy complex128 (adjoint gradients)"

    off = ref[2].copy()
    off[1, 2, 0] += 1e-3
    bad = peers.check_against_reference((ref[0], ref[1], off), x, theta, n_out)
    assert bad["passed"] is False
    assert bad["grad_theta_sum_max_error"] == pytest.approx(1e-3, rel=1e-6)
    assert bad["max_error"]["grad_theta"] == pytest.approx(1e-3 / len(x), rel=1e-6)
    assert bad["max_error"]["values"] == 0.0 and bad["max_error"]["grad_x"] == 0.0

    flipped = peers.check_against_reference((ref[0], -ref[1], ref[2]), x, theta, n_out)
    assert flipped["passed"] is False and flipped["max_error"]["grad_x"] > 1e-3

    nan = ref[0].copy()
    nan[0, 0] = np.nan
    assert peers.check_against_reference((nan, ref[1], ref[2]), x, theta, n_out)["passed"] is False

    short = peers.check_against_reference((ref[0][:, :2], ref[1], ref[2]), x, theta, n_out)
    assert short["passed"] is False
    assert short["shape_error"] == "values: shape (3, 2), expected (3, 3)"


def test_check_tolerance_is_1e_5_on_order_one_values():
    """On <Z> values (scale 1) an error of 5e-6 passes and one of 5e-5 fails; the weight
    gradient's scale is max(1, max|reference|)."""
    n, depth, n_out = 3, 1, 2
    x, theta = _inputs(n, depth, batch=2)
    values, gx, gt = peers.reference_vqc(x, theta, n_out)
    got = peers.check_against_reference((values + 5e-6, gx, gt), x, theta, n_out)
    assert got["passed"] is True and got["scale"]["values"] == 1.0
    assert got["scale"]["grad_theta"] == pytest.approx(max(1.0, float(np.abs(gt).max())))
    got = peers.check_against_reference((values + 5e-5, gx, gt), x, theta, n_out)
    assert got["passed"] is False


def test_weight_gradient_is_checked_as_the_batch_mean_and_wrong_ones_still_fail():
    """At batch 64 the weight gradient is compared as that of the batch-mean loss: an error
    of 5e-6 per sample on average (3.2e-4 on the sum) passes, while the sum with one sample
    left out, one sample counted twice, the wrong sign, 1e-3 added to the sum, or 1e-3 added
    to one sample's input gradient each fail."""
    n, depth, n_out = 4, 2, 3
    x, theta = peers.row_inputs(n, 64, depth)
    values, gx, gt = peers.reference_vqc(x, theta, n_out)
    batch = len(x)

    def check(grad_theta, grad_x=gx):
        return peers.check_against_reference((values, grad_x, grad_theta), x, theta, n_out)

    near = gt.copy()
    near[0, 1, 2] += 5e-6 * batch
    got = check(near)
    assert got["passed"] is True and got["grad_theta_of"] == "batch-mean loss"
    assert got["max_error"]["grad_theta"] == pytest.approx(5e-6, rel=1e-6)
    assert got["scale"]["grad_theta"] == max(1.0, float(np.abs(gt).max()) / batch)

    one_out = peers.reference_vqc(x[1:], theta, n_out)[2]  # the sum over the other 63
    twice = gt + peers.reference_vqc(x[:1], theta, n_out)[2]
    perturbed = gt.copy()
    perturbed[1, 3, 0] += 1e-3
    for wrong in (one_out, twice, -gt, perturbed):
        assert check(wrong)["passed"] is False
    gx_off = gx.copy()
    gx_off[17, 2] += 1e-3
    assert check(gt, gx_off)["passed"] is False


def test_row_inputs_are_fixed_per_n():
    """Every row at one n gets the same inputs (fixed seed), float32, theta in [0, 2 pi)."""
    x1, t1 = peers.row_inputs(5, 4, 2)
    x2, t2 = peers.row_inputs(5, 4, 2)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(t1, t2)
    assert x1.shape == (4, 5) and t1.shape == (2, 5, 3) and x1.dtype == np.float32
    assert 0 <= t1.min() and t1.max() < 2 * np.pi


@pytest.mark.parametrize("name", ["tf", "tf_xla"])
def test_qgcam_rows_pass_the_check(name):
    """The float32 tf and tf+XLA rows at n=4, batch 64 (the benchmark's) are within the
    check's tolerance of the reference (values, input gradients, the weight gradient as a
    batch mean), and report their peak RSS."""
    r = peers.run_vqc_row(name, 4, batch=64, warmup=1, repeats=1)
    assert r["check"]["passed"] is True, r["check"]
    assert r["peak_mb"] >= r["baseline_mb"] > 0 and r["memory"] == "ru_maxrss"
    assert r["timing"]["repeats"] == 1


@pytest.mark.parametrize(
    "name, module",
    [
        ("tensorcircuit", "tensorcircuit"),
        ("tensorcircuit_tf", "tensorcircuit"),
        ("pennylane_jax", "pennylane"),
        ("lightning", "pennylane_lightning"),
        ("qsim", "qsimcirq"),
    ],
)
def test_peer_rows_pass_the_check(name, module):
    """Each peer's row at n=3, batch 2 passes the check against the reference."""
    pytest.importorskip(module, reason=f"{module} is not installed (peers' virtualenv only)")
    r = peers.run_vqc_row(name, 3, batch=2, warmup=1, repeats=1)
    assert r["check"]["passed"] is True, r["check"]


def test_parser_reads_the_three_commands():
    """vqc, pair and train parse their options; NAMES is the executors and the peers."""
    p = peers.build_parser()
    a = p.parse_args(["vqc", "--name", "qsim", "--n", "6", "--batch", "8", "--repeats", "3"])
    assert (a.command, a.name, a.n, a.batch, a.depth, a.repeats) == ("vqc", "qsim", 6, 8, 2, 3)
    a = p.parse_args(["pair", "--a", "tf_xla", "--b", "lightning", "--n", "12", "--pairs", "5"])
    assert (a.command, a.a, a.b, a.n, a.pairs) == ("pair", "tf_xla", "lightning", 12, 5)
    a = p.parse_args(["train", "--n", "10", "--image-size", "8"])
    assert (a.command, a.n, a.image_size, a.batch) == ("train", 10, 8, 64)
    assert (a.model, a.conv_filters) == ("hybrid", (32, 64))
    a = p.parse_args(["train", "--model", "classical", "--conv-filters", "16,32"])
    assert (a.model, a.conv_filters) == ("classical", (16, 32))
    assert set(peers.NAMES) == set(peers.MAIN_NAMES) | set(peers.PEER_NAMES)


@pytest.mark.parametrize(
    "argv",
    [
        ["vqc", "--name", "cuquantum"],
        ["vqc", "--name", "tf", "--n", "0"],
        ["train", "--conv-filters", "16"],
        ["train", "--conv-filters", "16,0"],
    ],
)
def test_parser_rejects_bad_names_and_sizes(argv, capsys):
    """An unknown name, a qubit count below 1 or filters that are not two positive ints exit 2
    with a message quoting the value."""
    with pytest.raises(SystemExit) as e:
        peers.build_parser().parse_args(argv)
    assert e.value.code == 2
    assert repr(argv[-1]) in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (
            {"model": "quantum"},
            "model must be one of ('hybrid', 'classical', 'vqc'), got 'quantum'",
        ),
        ({"conv_filters": (16,)}, "conv_filters must be two ints >= 1, got (16,)"),
        ({"conv_filters": (16, 0)}, "conv_filters must be two ints >= 1, got (16, 0)"),
    ],
)
def test_training_peer_rejects_a_bad_model_or_filters(kwargs, message):
    """pennylane_jax_train refuses an unknown model or bad filters before it imports JAX."""
    with pytest.raises(ValueError, match=re.escape(message)):
        peers.pennylane_jax_train(**kwargs)


PEER_PYTHON = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "benchmarks",
    ".venv-bench",
    "bin",
    "python",
)


@pytest.mark.skipif(
    not os.path.exists(PEER_PYTHON), reason="the peers' virtualenv (benchmarks/setup_peers.sh)"
)
def test_training_peer_has_the_weights_of_our_hybrid_and_twin():
    """PennyLane-JAX's training models have as many trainable values as build_hybrid_model's
    hybrid (default filters, 4 qubits, 4 classes) and build_classical_twin (same CNN, heads
    and VQC), and steps of each lower the loss of its fixed batch (peers' interpreter)."""
    from qgcam_tf.model.hybrid import build_classical_twin, build_hybrid_model
    from qgcam_tf.quantum.circuits import VQCSpec

    code = (
        "import json\n"
        "from qgcam_tf.bench.peers import pennylane_jax_train\n"
        "out = {}\n"
        "for m in ('hybrid', 'classical', 'vqc'):\n"
        "    step, v = pennylane_jax_train(4, 4, 2, 8, model=m)\n"
        "    out[m] = [v['parameters']] + ([step(), step(), step()] if m != 'vqc' else [])\n"
        "print(json.dumps(out))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [PEER_PYTHON, "-c", code], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])

    def trainable(model) -> int:
        return int(sum(np.prod(w.shape) for w in model.trainable_weights))

    hybrid = build_hybrid_model((8, 8, 1), 4, vqc=VQCSpec(4, 2, 4), backend="tf")
    twin = build_classical_twin((8, 8, 1), 4)
    assert got["hybrid"][0] == trainable(hybrid) and got["classical"][0] == trainable(twin)
    assert got["vqc"] == [2 * 4 * 3]
    for model in ("hybrid", "classical"):
        losses = got[model][1:]
        assert losses[2] < losses[0], (model, losses)


def test_imports_without_the_qgcam_stack():
    """Importing the module loads neither TensorFlow nor Cirq nor TFQ nor a peer library
    (each row imports its own): checked in a fresh interpreter where importing those raises."""
    code = (
        "import sys\n"
        "for m in ('cirq', 'sympy', 'tensorflow_quantum', 'tensorflow', 'jax', 'pennylane',\n"
        "          'qsimcirq', 'tensorcircuit'):\n"
        "    sys.modules[m] = None\n"
        "import qgcam_tf.bench.peers\n"
        "print(sorted(m for m in sys.modules if m.startswith('qgcam_tf')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "['qgcam_tf', 'qgcam_tf.bench', 'qgcam_tf.bench.peers', 'qgcam_tf.bench.timing']"
    )


def test_main_prints_one_json_line_per_row():
    """`python -m qgcam_tf.bench.peers vqc --name tf` prints one JSON line: the checked row
    with its batch, a positive median and its peak RSS."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, "-m", "qgcam_tf.bench.peers", "vqc", "--name", "tf", "--n", "3"]
    cmd += ["--batch", "2", "--warmup", "1", "--repeats", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (r["name"], r["n"], r["batch"]) == ("tf", 3, 2)
    assert r["check"]["passed"] is True and r["timing"]["wall_ms"] > 0
    assert r["peak_mb"] >= r["baseline_mb"] > 0


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
