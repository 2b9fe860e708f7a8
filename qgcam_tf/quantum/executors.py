"""The VQC's executors: callables from symbol values to the readout expectations ``<Z_l>``.

``BACKENDS`` names them: ``"tfq"`` (:class:`TFQExecutor`, TensorFlow Quantum) and ``"tf"``
(:class:`TFExecutor`, core TensorFlow ops). Both are called with the per-sample symbol values
of :func:`~qgcam_tf.quantum.circuits.symbol_values` (``[B, 2n + 3 depth n]`` float32, the
column order of ``build_vqc``'s ``inputs + weights``) and return ``<Z_l>`` ``[B, n_outputs]``
float32, differentiable with respect to the values. :func:`make_executor` builds one by name;
:class:`~qgcam_tf.model.layers.VQCLayer` holds one as ``VQCLayer.executor``.
"""

from __future__ import annotations

import tensorflow as tf

from qgcam_tf.quantum.circuits import (
    VQCSpec,
    build_vqc,
    compact_vqc,
    readout_operators,
    vqc_qubits,
)
from qgcam_tf.quantum.compiler import CompiledCircuit
from qgcam_tf.quantum.paper_kernel import PaperKernel
from qgcam_tf.quantum.shards import run_in_shards, tfq_shards

__all__ = ["BACKENDS", "TFExecutor", "TFQExecutor", "make_executor"]

BACKENDS = ("tfq", "tf")


class TFQExecutor:
    """TensorFlow Quantum (qsim) expectations with the Adjoint differentiator.

    TFQ simulates gate by gate, so it runs :func:`~qgcam_tf.quantum.circuits.compact_vqc`, the
    same circuit in 60 gates instead of 110 (n = 10, depth 2), fed an affine map of the
    usual symbol values. The batch runs as :func:`tfq_shards` independent ops (see
    :func:`run_in_shards`), so both cores work; results and gradients are those of one
    op on :func:`~qgcam_tf.quantum.circuits.build_vqc`'s circuit.

    Args:
        spec: the circuit.
        shards: independent ops per call (default :func:`tfq_shards`); the attribute
            ``shards`` may be changed later.
    """

    def __init__(self, spec: VQCSpec, shards: int | None = None):
        import tensorflow_quantum as tfq  # imported lazily: the exported path must not need it

        compact = compact_vqc(spec)
        self._circuit = tfq.convert_to_tensor([compact.circuit])
        self._operators = tfq.convert_to_tensor([readout_operators(spec)])
        self._names = tf.constant([str(s) for s in compact.symbols])
        self._matrix = tf.constant(compact.matrix, tf.float32)
        self._offset = tf.constant(compact.offset, tf.float32)
        self._op = tfq.differentiators.Adjoint().generate_differentiable_op(
            analytic_op=tfq.get_expectation_op()
        )
        self.shards = tfq_shards() if shards is None else int(shards)

    def __call__(self, symbol_values: tf.Tensor) -> tf.Tensor:
        """``<Z_l>`` [B, n_outputs] for the symbol values [B, S] of ``build_vqc``."""
        values = tf.convert_to_tensor(symbol_values, tf.float32)
        compact = tf.matmul(values, self._matrix) + self._offset
        return run_in_shards(self._one_op, compact, self.shards)

    def _one_op(self, values: tf.Tensor) -> tf.Tensor:
        batch = tf.shape(values)[0]
        return self._op(
            tf.tile(self._circuit, [batch]),
            self._names,
            values,
            tf.tile(self._operators, [batch, 1]),
        )


class TFExecutor:
    """The same circuit in core TensorFlow ops (exportable, XLA-compilable).

    Called with all symbol values ``[B, S]``, it runs the generic
    :class:`~qgcam_tf.quantum.compiler.CompiledCircuit` (every gate gets per-sample matrices;
    parameter-shift and noise code feed it shifted symbols). The layer's hot path,
    :meth:`forward`, keeps the weights apart and runs
    :class:`~qgcam_tf.quantum.paper_kernel.PaperKernel`, written for this circuit alone.
    """

    def __init__(self, spec: VQCSpec):
        circuit, inputs, weights = build_vqc(spec)
        self._compiled = CompiledCircuit(circuit, inputs + weights, qubits=vqc_qubits(spec))
        self._kernel = PaperKernel(spec)
        self._signs = self._compiled.z_signs([[l] for l in range(spec.n_outputs)])

    def __call__(self, symbol_values: tf.Tensor) -> tf.Tensor:
        return self._compiled.expectation_z(symbol_values, self._signs)

    def forward(self, x: tf.Tensor, theta: tf.Tensor) -> tf.Tensor:
        """``<Z_l>`` [B, n_outputs] for inputs ``x`` [B, n] and weights ``theta``."""
        return self._kernel(x, theta)


def make_executor(spec: VQCSpec, backend: str) -> TFQExecutor | TFExecutor:
    """The executor of ``backend``: ``symbol_values [B, 2n + 3 depth n] -> <Z_l> [B, n_outputs]``.

    Args:
        spec: the circuit.
        backend: one of :data:`BACKENDS`.

    Raises:
        ValueError: ``backend`` is not one of :data:`BACKENDS` (the message names it).
    """
    if backend == "tfq":
        return TFQExecutor(spec)
    if backend == "tf":
        return TFExecutor(spec)
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
