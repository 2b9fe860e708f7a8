"""A state-vector kernel for the paper's ansatz alone: real float32 arithmetic, amplitudes first.

:class:`~qgcam_tf.quantum.compiler.CompiledCircuit` runs any Cirq circuit. This kernel runs only
:func:`~qgcam_tf.quantum.circuits.build_vqc` (the training and explanation hot path), and uses what
is special about it to do several times less work:

* **Amplitude-major layout.** The amplitude index comes first, so the CNOT ring (a
  permutation of basis states) is a gather of contiguous rows, far cheaper than
  gathering columns of ``[B, 2**n]`` (``docs/performance.md``), and every gate layer is a
  matrix product over the leading axis. Two layouts share this, one per runtime
  (``layout="auto"`` picks):

  - ``"complex"`` (graph and eager): ``complex64 [2**n, B]``. A phase is one complex
    multiplication, and the real matrix products run on the same memory viewed as
    ``float32 [2**n, 2B]`` (``tf.bitcast``, no copy). TensorFlow runs one kernel per op,
    so fewer, larger ops win.
  - ``"planes"`` (XLA, which cannot bitcast complex numbers): ``float32 [2**n, 2, B]``,
    real and imaginary parts as two planes; XLA fuses the elementwise arithmetic.
* **Real rotations.** :math:`H`, :math:`R_Y` and the ring are real, and every :math:`R_Z` is
  diagonal. The :math:`R_Z` gates are therefore applied as one phase per amplitude, and the
  :math:`R_Y` layer is a real Kronecker product applied in float32 (half the work of a
  complex64 product, on faster kernels).
* **Phases moved through the ring.** :math:`R_Z(\\omega)` of layer ``d-1`` and
  :math:`R_Z(\\phi)` of layer ``d`` meet across the ring ``P``: ``D_phi P D_omega = D' P``
  with ``D'`` the phases of ``omega`` read at the ring's source indices. So each layer costs
  one gather, one phase multiplication and one :math:`R_Y` product. The last layer's
  :math:`R_Z(\\omega)` commutes with the :math:`Z` readout and is skipped (its gradient is 0,
  as it is exactly).
* **Product-state opening.** The encoding is a product state, and the first ring is never
  applied as such. In the complex layout the permuted state is the exponential of two
  products with constant matrices (log-moduli and phases are sums over qubits; see
  ``_opening_complex``). In the planes layout the real amplitudes
  ``(cos - sin, sin + cos)/sqrt(2)`` of ``R_Y H |0>`` and the encoding :math:`R_Z` phases
  are joined per half of the qubits, and the two half states are read at the ring's
  source indices and multiplied, which builds the permuted state in one pass.
* **Row blocks.** Without XLA the batch runs as independent row blocks
  (:func:`~qgcam_tf.quantum.shards.kernel_shards`), which TensorFlow runs on separate cores.
* **The bond.** Where :func:`~qgcam_tf.quantum.bond_kernel.prefer_bond` says so (shallow circuits
  on many qubits), ``method="auto"`` hands the call to
  :class:`~qgcam_tf.quantum.bond_kernel.BondKernel`, which never builds the state.
* **Two matrix-product shapes only.** A chunk on the leading qubits is one 2-D product;
  a later chunk is a broadcast product whose weight gradient is a single contraction.

Exactness is tested against ``cirq.Simulator`` in complex128 and float64 finite
differences (``tests/quantum/compiler_test.py``), with and without XLA.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from qgcam_tf.quantum.basis import permute, ring_source, z_eigenvalues
from qgcam_tf.quantum.bond_kernel import BondKernel, prefer_bond
from qgcam_tf.quantum.shards import kernel_shards, run_in_shards

if TYPE_CHECKING:  # only a type: the kernel runs without Cirq (qgcam_tf/bench/peers.py does so)
    from qgcam_tf.quantum.circuits import VQCSpec

__all__ = [
    "LAYOUTS",
    "METHODS",
    "PaperKernel",
    "chunk_sizes",
]

_SQRT_HALF = math.sqrt(0.5)
_TINY = 1e-30  # floor of the real encoding amplitudes before their logarithm
_MINUS_PLUS = np.array([[-1.0], [1.0]], np.float32)  # (-sin, +sin) on (im, re)


def chunk_sizes(n: int, max_chunk: int = 5) -> list[int]:
    """Splits ``n`` qubits into near-equal groups of at most ``max_chunk``, one matmul each.

    Larger groups mean fewer passes over the state but ``2**size`` multiply-adds per
    amplitude each; 4-5 qubits was the fastest on the CPUs measured (``docs/performance.md``).
    """
    pieces = -(-n // max_chunk)
    return [n // pieces + (i < n % pieces) for i in range(pieces)]


@tf.custom_gradient
def _middle_matmul(m, mt, x):
    """``m`` applied to the middle axis of ``x`` [L, C, R]; d/dm is one contraction, not L.
    ``mt`` is ``m`` transposed, built as such (see :func:`_leading_matmul`)."""

    def grad(dy):
        return tf.einsum("lcr,ldr->cd", dy, x), None, tf.linalg.matmul(mt, dy)

    return tf.linalg.matmul(m, x), grad


@tf.custom_gradient
def _leading_matmul(m, mt, x):
    """``m @ x``; d/dx multiplies by ``mt``, the transpose of ``m`` built as its own matrix
    (``R_Y(-th)``). oneDNN runs a transposed-operand product of this shape several times
    slower (``docs/performance.md``), and Grappler folds an explicit ``tf.transpose`` back
    into one, so the transpose is never written as an op."""

    def grad(dy):
        return tf.linalg.matmul(dy, x, transpose_b=True), None, tf.linalg.matmul(mt, dy)

    return tf.linalg.matmul(m, x), grad


def _constant_matmul(c: tf.Tensor, c_t: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
    """``c @ x`` for a constant ``c`` whose transpose ``c_t`` is stored as its own constant,
    so the gradient is a plain product (see :func:`_leading_matmul`)."""

    @tf.custom_gradient
    def product(x):
        def grad(dy):
            return tf.linalg.matmul(c_t, dy)

        return tf.linalg.matmul(c, x), grad

    return product(x)


@tf.custom_gradient
def _as_float(z: tf.Tensor) -> tf.Tensor:
    """``complex64 [..., B]`` viewed as ``float32 [..., B, 2]`` (real, imaginary): no copy."""

    def grad(dy):
        return tf.bitcast(dy, tf.complex64)

    return tf.bitcast(z, tf.float32), grad


@tf.custom_gradient
def _as_complex(x: tf.Tensor) -> tf.Tensor:
    """The inverse view of :func:`_as_float`. TensorFlow's gradient of a real loss with
    respect to ``re + i im`` is ``d/dre + i d/dim``, so each view's gradient is the other."""

    def grad(dy):
        return tf.bitcast(dy, tf.float32)

    return tf.bitcast(x, tf.complex64), grad


def _tracing_for_xla() -> bool:
    """True while a ``jit_compile=True`` function (or one nested in it) is being traced, and
    also when a TensorFlow without this private helper cannot tell: the planes run
    everywhere, the complex layout does not compile with XLA."""
    try:
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - a TensorFlow without the private module
        return True
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


def _materialise(t: tf.Tensor) -> tf.Tensor:
    """``t`` [R, C] unchanged, but computed once under XLA.

    XLA fuses cheap-looking producers (the trigonometry of a small tensor) into every
    element of a large consumer and so recomputes them up to ``2**n`` times; it does not
    fuse across a matrix product, so multiplying by the identity keeps ``t`` as a buffer.
    The identity acts on the rows, so a NaN in one column (sample) stays in that column.
    """
    if t.shape[0] is None or t.shape[0] > 512:
        return t
    return tf.linalg.matmul(tf.eye(t.shape[0]), t)


LAYOUTS = ("auto", "complex", "planes")
METHODS = ("auto", "state", "bond")


class PaperKernel:
    """``<Z_l>`` of the paper's circuit for inputs ``x`` [B, n] and weights ``theta``.

    Args:
        spec: the circuit's shape (a :class:`~qgcam_tf.VQCSpec`, or any object with its
            ``n_qubits``, ``depth``, ``n_outputs`` and ``ansatz``); the ansatz must be
            ``"paper"``.
        max_chunk: most qubits joined into one :math:`R_Y` matrix (see :func:`chunk_sizes`).
        layout: ``"complex"``, ``"planes"`` (see the module docstring) or ``"auto"``:
            ``"planes"`` while tracing for XLA, else ``"complex"``. Both give the same
            numbers to float32 rounding; ``"complex"`` does not compile with XLA.
        method: ``"state"`` (this state-vector kernel), ``"bond"``
            (:class:`~qgcam_tf.quantum.bond_kernel.BondKernel`: two arcs of the ring joined by a
            bond index, for shallow circuits on many qubits) or ``"auto"``: the bond where
            :func:`~qgcam_tf.quantum.bond_kernel.prefer_bond` says it is faster, decided when
            traced (with or without XLA). Same numbers to float32 rounding.
        shards: row blocks of the batch run as independent op chains in the complex
            layout, so that TensorFlow runs them on two cores (default
            :func:`~qgcam_tf.quantum.shards.kernel_shards`); results and gradients are unchanged.

    Raises:
        ValueError: another ansatz, an unknown layout or method, or ``"bond"`` on fewer
            than 4 qubits.
    """

    def __init__(
        self,
        spec: VQCSpec,
        *,
        max_chunk: int = 5,
        layout: str = "auto",
        method: str = "auto",
        shards: int | None = None,
    ):
        if spec.ansatz != "paper":
            raise ValueError(f"PaperKernel runs the 'paper' ansatz only, got {spec.ansatz!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.spec, self.layout, self.method = spec, layout, method
        self.shards = kernel_shards() if shards is None else int(shards)
        # Built here, outside any trace: its constants must not belong to one graph. It needs
        # two arcs of >= 2 qubits; prefer_bond decides when it is taken.
        can_bond = method == "bond" or (method == "auto" and spec.n_qubits >= 4)
        self._bond = BondKernel(spec) if can_bond else None
        n = spec.n_qubits
        self._src = ring_source(n)
        z = z_eigenvalues(n)
        self._split = n // 2
        tail_bits = n - self._split
        # The first ring reads the opening state at src: the head and tail halves of src.
        self._src_head = (self._src >> tail_bits).astype(np.int32)
        self._src_tail = (self._src & (2**tail_bits - 1)).astype(np.int32)
        self._src_inverse = np.argsort(self._src).astype(np.int32)
        self._z_both = tf.constant(np.concatenate([z, z[self._src]], axis=1))  # [2**n, 2n]
        # The complex opening's exponent: log-moduli from [bits(src), 1] [2**n, n+1], phases
        # from [z(src), z] [2**n, 2n]; each also stored transposed, for the gradient.
        bits = (1.0 - z[self._src]) / 2.0
        moduli = np.concatenate([bits, np.ones((2**n, 1), np.float32)], axis=1)
        phases = np.concatenate([z[self._src], z], axis=1)
        self._opening = [
            (tf.constant(m), tf.constant(np.ascontiguousarray(m.T))) for m in (moduli, phases)
        ]
        self._readout = tf.constant(z[:, : spec.n_outputs])  # [2**n, L]
        self._chunks = chunk_sizes(n, max_chunk)
        self._starts = np.cumsum([0] + self._chunks[:-1]).tolist()

    # ------------------------------------------------------------------ pieces
    def _half_states(self, vecs: tf.Tensor, enc_rz: tf.Tensor) -> list[tf.Tensor]:
        """The product states of the two halves of the qubits, for the planes layout.

        ``vecs`` [n, 2, B]: each qubit's real ``R_Y H |0>`` amplitudes; ``enc_rz`` [n, B]:
        the encoding ``R_Z`` angles. Returns the real and imaginary parts
        ``[re_head, im_head, re_tail, im_tail]`` of the head ``[2**h, B]`` and the tail
        ``[2**(n-h), B]``. Equal halves are built by the same ops.
        """
        n, h = self.spec.n_qubits, self._split
        sizes = [h] if 2 * h == n else [h, n - h]
        if len(sizes) == 1:
            groups, angles = [tf.reshape(vecs, [2, h, 2, -1])], [tf.reshape(enc_rz, [2, h, -1])]
        else:
            groups = [vecs[None, :h], vecs[None, h:]]
            angles = [enc_rz[None, :h], enc_rz[None, h:]]
        parts = []
        for size, v, a in zip(sizes, groups, angles):  # v [G, size, 2, B]
            qubits = tf.unstack(v, axis=1)
            amp = qubits[0]
            for i in range(1, size):  # Kronecker product, first qubit most significant
                outer = tf.expand_dims(amp, 2) * tf.expand_dims(qubits[i], 1)
                amp = tf.reshape(outer, [v.shape[0], 2 ** (i + 1), -1])
            angle = -0.5 * tf.linalg.matmul(tf.constant(z_eigenvalues(size)), a)  # [G, 2**size, B]
            both = tf.concat([amp * tf.cos(angle), amp * tf.sin(angle)], axis=2)  # [G, 2**size, 2B]
            both = _materialise(tf.reshape(tf.transpose(both, [1, 0, 2]), [2**size, -1]))
            parts.extend(tf.split(both, 2 * v.shape[0], axis=1))  # (re, im) per group
        return parts

    def _ry_layer(self, state: tf.Tensor, mats: list[tuple[tf.Tensor, tf.Tensor]]) -> tf.Tensor:
        """Applies the chunk matrices ``mats`` (R_Y Kronecker products and their transposes)
        to ``state`` [2**n, W]."""
        n = self.spec.n_qubits
        first = 0
        for size, (m, mt) in zip(self._chunks, mats):
            lead = 2**first
            if lead == 1:
                out = _leading_matmul(m, mt, tf.reshape(state, [2**size, -1]))
            else:
                out = _middle_matmul(m, mt, tf.reshape(state, [lead, 2**size, -1]))
            state = tf.reshape(out, [2**n, -1])
            first += size
        return state

    def _ry_matrices(self, theta: tf.Tensor) -> list[list[tuple[tf.Tensor, tf.Tensor]]]:
        """``[depth][chunk]`` pairs of real matrices: the Kronecker product of a chunk's R_Y
        gates, and its transpose (the product for ``-th``, used by the gradients).

        Chunks of one size are built together (chunk sizes differ by at most one), so the
        op count does not grow with depth: op overhead, not arithmetic, is what small
        circuits spend their time on without XLA.
        """
        depth, n = self.spec.depth, self.spec.n_qubits
        half = 0.5 * theta[:, :, 1]  # [depth, n]
        c, s = tf.cos(half), tf.sin(half)
        both = tf.stack([tf.stack([c, -s, s, c], axis=-1), tf.stack([c, s, -s, c], axis=-1)])
        gates = tf.reshape(both, [2 * depth, n, 2, 2])  # R_Y(th) for all layers, then R_Y(-th)
        out: list[list] = [[None] * len(self._chunks) for _ in range(depth)]
        for size in sorted(set(self._chunks)):
            idx = [j for j, k in enumerate(self._chunks) if k == size]
            qubits = [q for j in idx for q in range(self._starts[j], self._starts[j] + size)]
            g = gates if qubits == list(range(n)) else tf.gather(gates, qubits, axis=1)
            g = tf.reshape(g, [2 * depth * len(idx), size, 2, 2])
            factors = tf.unstack(g, axis=1)
            m = factors[0]
            for i in range(1, size):  # Kronecker product, first factor most significant
                d = 2**i
                m = tf.reshape(
                    tf.reshape(m, [-1, d, 1, d, 1]) * tf.reshape(factors[i], [-1, 1, 2, 1, 2]),
                    [-1, 2 * d, 2 * d],
                )
            m = tf.reshape(m, [2, depth, len(idx), 2**size, 2**size])
            for d in range(depth):
                for c, j in enumerate(idx):
                    out[d][j] = (m[0, d, c], m[1, d, c])
        return out

    def _phases(self, theta: tf.Tensor) -> tf.Tensor:
        """``[2**n, depth]``: the batch-shared phase angle of each layer at each stored index.

        Layer ``d``: ``-1/2 (phi_d . z[i] + omega_(d-1) . z[src[i]])`` (no omega for d = 0).
        """
        omega_prev = tf.pad(theta[:-1, :, 2], [[1, 0], [0, 0]])  # [depth, n]
        angles = tf.concat([theta[:, :, 0], omega_prev], axis=1)  # [depth, 2n]
        return -0.5 * tf.linalg.matmul(self._z_both, angles, transpose_b=True)

    @staticmethod
    def _phase(state: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor) -> tf.Tensor:
        """``state * exp(i angle)`` for ``state`` [A, 2, B] (real, imaginary parts)."""
        swapped = tf.reverse(state, axis=[1])  # (im, re)
        cos, sin = tf.reshape(cos, [-1, 1, 1]), tf.reshape(sin, [-1, 1, 1])
        return state * cos + swapped * (sin * _MINUS_PLUS)

    def _opening_planes(self, hr, hi, tr, ti) -> tf.Tensor:
        """``[2**n, 2, B]``: the product of the half states read at the ring's sources.

        Its gradient un-permutes ``dy`` once (a row gather) and contracts it with the other
        half; TensorFlow's own gradient of the two gathers would scatter-add, which XLA runs
        serially.
        """
        n, h = self.spec.n_qubits, self._split
        head, tail, inverse = self._src_head, self._src_tail, self._src_inverse

        @tf.custom_gradient
        def opening(hr, hi, tr, ti):
            ghr, ghi = tf.gather(hr, head), tf.gather(hi, head)
            gtr, gti = tf.gather(tr, tail), tf.gather(ti, tail)

            def grad(dy):  # d/dhead = sum_t dy conj(tail), d/dtail = sum_h dy conj(head)
                g = tf.reshape(tf.gather(dy, inverse), [2**h, 2 ** (n - h), 2, -1])
                gr, gi = g[:, :, 0], g[:, :, 1]
                return (
                    tf.reduce_sum(gr * tr[None] + gi * ti[None], axis=1),
                    tf.reduce_sum(gi * tr[None] - gr * ti[None], axis=1),
                    tf.reduce_sum(gr * hr[:, None] + gi * hi[:, None], axis=0),
                    tf.reduce_sum(gi * hr[:, None] - gr * hi[:, None], axis=0),
                )

            return tf.stack([ghr * gtr - ghi * gti, ghr * gti + ghi * gtr], axis=1), grad

        return opening(hr, hi, tr, ti)

    # ----------------------------------------------------------------- forward
    def __call__(self, x: tf.Tensor, theta: tf.Tensor) -> tf.Tensor:
        """``<Z_l>`` [B, n_outputs] float32."""
        if self.method == "bond" or (
            self.method == "auto" and prefer_bond(self.spec, xla=_tracing_for_xla())
        ):
            return self._bond(x, theta)
        x = tf.convert_to_tensor(x, tf.float32)
        theta = tf.convert_to_tensor(theta, tf.float32)
        layout = self.layout
        if layout == "auto":
            layout = "planes" if _tracing_for_xla() else "complex"
        phases = self._phases(theta)  # [2**n, depth]
        mats = self._ry_matrices(theta)
        if layout == "complex":  # row blocks share the weight-only tensors
            # layer 0's phases are part of the opening
            later = phases[:, 1:]
            rot = [None, *tf.unstack(tf.complex(tf.cos(later), tf.sin(later)), axis=1)]

            def rows(part):
                part_t = tf.transpose(part)
                opened = self._opening_complex(part_t, tf.atan(tf.square(part_t)), theta[0, :, 0])
                return self._run_complex(opened, rot, mats, tf.shape(part)[0])

            return run_in_shards(rows, x, self.shards)
        # The opening product state R_Z(b) R_Y(a) H |0>, as two halves: trigonometry only
        # on [2**(n/2), B].
        xt = tf.transpose(x)  # [n, B]
        enc_rz = tf.atan(tf.square(xt))
        half_a = 0.5 * tf.atan(xt)
        ca, sa = tf.cos(half_a), tf.sin(half_a)
        halves = self._half_states(tf.stack([ca - sa, sa + ca], axis=1) * _SQRT_HALF, enc_rz)
        return self._run_planes(halves, phases, mats, tf.shape(x)[0])

    def _opening_complex(self, xt: tf.Tensor, enc_rz: tf.Tensor, phi0: tf.Tensor) -> tf.Tensor:
        """``complex64 [2**n, B]``: the encoded product state after the first ring and layer
        0's :math:`R_Z(\\phi)`, as the exponential of two matrix products.

        Each qubit's ``R_Y(a) H |0>`` has the real, positive amplitudes ``cos b, sin b``
        with ``b = a/2 + pi/4`` in ``[0, pi/2]``, so every amplitude of the state is
        ``exp(log-modulus + i phase)``, and both are sums over qubits: the log-moduli by
        the bits of the ring's source index, the encoding :math:`R_Z` phases by its ``Z``
        eigenvalues, and layer 0's phases by those of the index itself. So the state is
        ``exp([bits(src), 1] @ moduli + i [z(src), z] @ phases)``: two products and an
        exponential, whose gradient is two products back, in place of the half states'
        Kronecker products, two gathers (whose gradients scatter-add) and two
        multiplications: about 40 fewer ops.
        Moduli are floored at 1e-30 before the logarithm: at ``|x| -> inf`` float32 gives
        ``cos(pi/2) = -4e-8``.
        """
        batch = tf.shape(xt)[1]
        beta = 0.5 * tf.atan(xt) + 0.25 * math.pi  # [n, B]
        log0 = tf.math.log(tf.maximum(tf.cos(beta), _TINY))
        log1 = tf.math.log(tf.maximum(tf.sin(beta), _TINY))
        real = tf.concat([log1 - log0, tf.reduce_sum(log0, 0, keepdims=True)], 0)
        imag = tf.concat([-0.5 * enc_rz, tf.tile(-0.5 * phi0[:, None], [1, batch])], 0)
        return tf.exp(
            tf.complex(
                _constant_matmul(*self._opening[0], real), _constant_matmul(*self._opening[1], imag)
            )
        )

    def _expectations(self, state, batch, pairs: list, axis: int) -> tf.Tensor:
        """``<Z_l>`` [B, L] from the final state viewed as ``float32 [2**n, 2B]``, whose
        columns are ordered as ``pairs`` ([B, 2] or [2, B]); the re/im axis is ``axis``."""
        squares = tf.square(tf.reshape(state, [2**self.spec.n_qubits, 2 * batch]))
        parts = tf.linalg.matmul(squares, self._readout, transpose_a=True)  # [2B, L]
        return tf.reduce_sum(tf.reshape(parts, [*pairs, self.spec.n_outputs]), axis=axis)

    def _run_complex(self, state, rot, mats, batch) -> tf.Tensor:
        """The layers on ``complex64 [2**n, B]`` from the opened ``state``; ``rot``: each
        layer's phases ``[2**n]``. See the module docstring."""
        spec = self.spec
        n = spec.n_qubits
        for d in range(spec.depth):
            if d:  # ring, then R_Z phases
                state = permute(state, self._src) * tf.expand_dims(rot[d], 1)
            flat = self._ry_layer(tf.reshape(_as_float(state), [2**n, -1]), mats[d])
            state = _as_complex(tf.reshape(flat, [2**n, -1, 2]))
        return self._expectations(_as_float(state), batch, [batch, 2], axis=1)  # (b, re/im) pairs

    def _run_planes(self, halves, phases, mats, batch) -> tf.Tensor:
        """The layers on ``float32 [2**n, 2, B]``; see the module docstring."""
        spec = self.spec
        n = spec.n_qubits
        cs = tf.concat([tf.cos(phases), tf.sin(phases)], axis=1)  # [2**n, 2 depth]
        cs = tf.unstack(tf.linalg.matmul(cs, tf.eye(2 * spec.depth)), axis=1)  # as _materialise
        cos, sin = cs[: spec.depth], cs[spec.depth :]
        state = self._opening_planes(*halves)  # the first ring is already applied
        for d in range(spec.depth):  # ring, R_Z phases, R_Y products
            if d:
                state = permute(state, self._src)
            state = self._phase(tf.reshape(state, [2**n, 2, -1]), cos[d], sin[d])
            state = self._ry_layer(tf.reshape(state, [2**n, -1]), mats[d])
        return self._expectations(state, batch, [2, batch], axis=0)  # re plane, im plane
