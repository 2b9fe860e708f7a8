"""``VQCLayer``: the variational quantum circuit as a tf_keras layer, on either executor."""

from __future__ import annotations

import math

import tensorflow as tf
import tf_keras as keras

from qgcam_tf.quantum.circuits import (
    VQCSpec,
    build_vqc,
    compact_vqc,
    encoding_angles,
    readout_operators,
    vqc_qubits,
)
from qgcam_tf.quantum.compiler import CompiledCircuit
from qgcam_tf.quantum.paper_kernel import PaperKernel
from qgcam_tf.quantum.shards import run_in_shards, tfq_shards

__all__ = ["BACKENDS", "VQCLayer"]

BACKENDS = ("tfq", "tf")


class _TFQExecutor:
    """TensorFlow Quantum (qsim) expectations with the Adjoint differentiator.

    TFQ simulates gate by gate, so it runs :func:`~qgcam_tf.quantum.circuits.compact_vqc`, the
    same circuit in 60 gates instead of 110 (n = 10, depth 2), fed an affine map of the
    usual symbol values. The batch runs as :func:`tfq_shards` independent ops (see
    :func:`run_in_shards`), so both cores work; results and gradients are those of one
    op on :func:`~qgcam_tf.quantum.circuits.build_vqc`'s circuit.
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


class _TFExecutor:
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


def make_executor(spec: VQCSpec, backend: str):
    """Returns a callable ``symbol_values [B, 2n + 3 depth n] -> <Z_l> [B, n_outputs]``."""
    if backend == "tfq":
        return _TFQExecutor(spec)
    if backend == "tf":
        return _TFExecutor(spec)
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


@keras.utils.register_keras_serializable(package="qgcam_tf")
class VQCLayer(keras.layers.Layer):
    """The paper's variational quantum circuit; inputs are fed as symbol values.

    The inputs ``x`` become the encoding angles ``atan(x)`` and ``atan(x**2)`` in
    TensorFlow, so gradients flow to ``x`` (and further back to the CNN) as well as to the
    weights ``theta``.

    Args:
        spec: circuit shape (:class:`~qgcam_tf.VQCSpec`) or its dict form.
        backend: ``"tfq"`` (TensorFlow Quantum, adjoint gradients; training default) or
            ``"tf"`` (the circuit compiled to core TensorFlow ops; exportable).
        jit_compile: compile the ``tf`` executor with XLA.
        **kwargs: passed to ``tf_keras.layers.Layer``.

    Input shape:
        ``[batch, n_qubits]`` float32.

    Output shape:
        ``[batch, n_outputs]`` float32, the expectations ``<Z_l>`` in ``[-1, 1]``.

    Raises:
        ValueError: unknown backend, or XLA asked for the ``tfq`` backend.
    """

    def __init__(self, spec, backend: str = "tfq", *, jit_compile: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec if isinstance(spec, VQCSpec) else VQCSpec.from_dict(spec)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if jit_compile and backend != "tf":
            raise ValueError(f"jit_compile=True needs backend='tf', got backend={backend!r}")
        self.backend = backend
        self.jit_compile = bool(jit_compile)
        self._executor = make_executor(self.spec, backend)
        # The tf executor's own forward shares the weight rotations across the batch.
        forward = getattr(self._executor, "forward", self._forward)
        self._run = tf.function(forward, jit_compile=True) if self.jit_compile else forward

    def build(self, input_shape):
        n = input_shape[-1]
        if n is not None and n != self.spec.n_qubits:
            raise ValueError(
                f"VQCLayer expects inputs of width n_qubits={self.spec.n_qubits}, got {n}"
            )
        self.theta = self.add_weight(
            name="theta",
            shape=self.spec.theta_shape,
            initializer=keras.initializers.RandomUniform(0.0, 2.0 * math.pi),
            trainable=True,
        )
        super().build(input_shape)

    def _forward(self, x, theta):
        return self._executor(symbol_values(x, theta))

    def call(self, inputs):
        return self._run(tf.cast(inputs, tf.float32), self.theta)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate([self.spec.n_outputs])

    def get_config(self):
        config = super().get_config()
        config.update(spec=self.spec.to_dict(), backend=self.backend, jit_compile=self.jit_compile)
        return config


def symbol_values(x: tf.Tensor, theta: tf.Tensor) -> tf.Tensor:
    """Symbol values ``[B, 2n + 3 depth n]`` for inputs ``x`` [B, n] and ``theta``.

    The column order is that of ``input_symbols + weight_symbols`` from ``build_vqc``.
    """
    angles = encoding_angles(x)
    flat = tf.reshape(tf.cast(theta, tf.float32), [1, -1])
    return tf.concat([angles, tf.tile(flat, [tf.shape(angles)[0], 1])], axis=1)
