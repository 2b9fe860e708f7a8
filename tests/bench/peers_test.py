"""Tests of the peer measurements (qgcam_tf.bench.peers): their math, command line, imports.

The peer libraries (tensorcircuit-ng, PennyLane) live in the peers' own virtualenv; the
tests that need one are skipped, naming it, only when its import fails.
"""

from __future__ import annotations

import os
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
    """The circuit this file writes out for the peers is the one the paired ratio times
    against: qgcam's PaperKernel gives the same <Z_l> (atol 1e-5)."""
    from qgcam_tf.quantum.paper_kernel import PaperKernel

    n, depth, n_out = 4, 2, 3
    x, theta = _inputs(n, depth)
    spec = types.SimpleNamespace(n_qubits=n, depth=depth, n_outputs=n_out, ansatz="paper")
    got = PaperKernel(spec)(x, theta).numpy()
    np.testing.assert_allclose(got, _numpy_paper_vqc(x, theta, n_out), atol=1e-5)


def test_parser_reads_both_peers():
    """The two sub-commands parse their options; --ns becomes a list of ints."""
    p = peers.build_parser()
    a = p.parse_args(["tensorcircuit", "--ns", "4,6", "--batch", "8", "--repeats", "3"])
    assert (a.peer, a.ns, a.batch, a.depth, a.repeats) == ("tensorcircuit", [4, 6], 8, 2, 3)
    a = p.parse_args(["pennylane", "--n", "10", "--vqc-only"])
    assert (a.peer, a.n, a.vqc_only, a.warmup) == ("pennylane", 10, True, 1)


@pytest.mark.parametrize("bad", ["4,x", "0,4", ""])
def test_parser_rejects_bad_ns(bad, capsys):
    """--ns that is not a list of positive ints exits 2 with a message quoting it."""
    with pytest.raises(SystemExit) as e:
        peers.build_parser().parse_args(["tensorcircuit", "--ns", bad])
    assert e.value.code == 2
    assert repr(bad) in capsys.readouterr().err


def test_imports_without_the_qgcam_stack():
    """Importing the module loads neither TensorFlow nor Cirq nor TFQ (the peers' venv has
    no Cirq or TFQ): checked in a fresh interpreter where importing those raises."""
    code = (
        "import sys\n"
        "for m in ('cirq', 'sympy', 'tensorflow_quantum', 'tensorflow'):\n"
        "    sys.modules[m] = None\n"
        "import qgcam_tf.bench.peers\n"
        "print(sorted(m for m in sys.modules if m.startswith('qgcam_tf')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "['qgcam_tf', 'qgcam_tf.bench', 'qgcam_tf.bench.peers', 'qgcam_tf.bench.timing']"
    )


def test_tensorcircuit_expectations_match_the_numpy_reference():
    """tensorcircuit-ng's version of the circuit gives the reference's <Z_l> (atol 1e-5)."""
    pytest.importorskip(
        "tensorcircuit", reason="tensorcircuit-ng is not installed (peers' virtualenv only)"
    )
    n, depth, n_out = 4, 2, 3
    x, theta = _inputs(n, depth)
    got = peers.tensorcircuit_expectations(n, depth, n_out)(x, theta).numpy()
    np.testing.assert_allclose(got, _numpy_paper_vqc(x, theta, n_out), atol=1e-5)


def test_pennylane_expectations_match_the_numpy_reference():
    """PennyLane's QNode of the circuit gives the reference's <Z_l> (atol 1e-5)."""
    pytest.importorskip("pennylane", reason="PennyLane is not installed (peers' virtualenv only)")
    n, depth, n_out = 4, 2, 3
    x, theta = _inputs(n, depth)
    qnode = peers.pennylane_qnode(n, depth, n_out)
    got = np.stack([np.asarray(v) for v in qnode(x, theta)], axis=-1)
    np.testing.assert_allclose(got, _numpy_paper_vqc(x, theta, n_out), atol=1e-5)


def test_main_prints_one_json_line_of_tensorcircuit_timings():
    """`python -m qgcam_tf.bench.peers tensorcircuit` prints JSON whose rows are the
    requested ns, each with positive medians, and a paired ratio per n."""
    pytest.importorskip(
        "tensorcircuit", reason="tensorcircuit-ng is not installed (peers' virtualenv only)"
    )
    import json

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, "-m", "qgcam_tf.bench.peers", "tensorcircuit", "--ns", "3"]
    cmd += ["--batch", "2", "--warmup", "1", "--repeats", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(r["vqc_fwd_bwd"]) == {"3"} and r["vqc_fwd_bwd"]["3"]["wall_ms"] > 0
    assert r["tf_xla_over_tensorcircuit_paired"]["3"] > 0


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
