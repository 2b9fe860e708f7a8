"""Quantum circuits as tf_keras layers.

* :class:`VQCLayer`: the paper's variational quantum circuit, on either executor.
* :class:`CircuitLayer`: any Cirq circuit whose symbols the network computes, with
  Pauli-sum readouts, in core TensorFlow ops (what :func:`~qgcam_tf.model.convert.convert_to_tf`
  puts in place of a TensorFlow Quantum layer).
"""

from __future__ import annotations

import math

import cirq
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.quantum.circuits import VQCSpec, symbol_values
from qgcam_tf.quantum.compiler import ExpectationProgram
from qgcam_tf.quantum.executors import BACKENDS, make_executor

__all__ = ["BACKENDS", "CircuitLayer", "VQCLayer"]


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

    @property
    def executor(self):
        """The executor of ``backend`` (read-only): ``symbol_values [B, S] -> <Z_l> [B, L]``.

        A :class:`~qgcam_tf.quantum.executors.TFQExecutor` or
        :class:`~qgcam_tf.quantum.executors.TFExecutor`, called with the symbol values of
        :func:`~qgcam_tf.quantum.circuits.symbol_values` (per-sample, unlike the layer's
        own call); parameter-shift and noise code run it on shifted values.
        """
        return self._executor

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


@keras.utils.register_keras_serializable(package="qgcam_tf")
class CircuitLayer(keras.layers.Layer):
    """Expectations of Pauli-sum readouts after any Cirq circuit, in core TensorFlow ops.

    Column ``i`` of the input is the value of ``symbols[i]`` for each sample; output
    ``l`` is the exact expectation of ``readouts[l]`` in the circuit's final state (a
    :class:`~qgcam_tf.quantum.compiler.ExpectationProgram`). It has no weights: the
    network supplies every symbol value, as with TFQ's ``ControlledPQC``. Gradients flow
    to the inputs; the layer saves with ``model.to_json()`` / ``model.save`` (the
    circuit and readouts as ``cirq.to_json`` text) and holds no TensorFlow Quantum op.

    Args:
        circuit: a ``cirq.Circuit`` (or its ``cirq.to_json`` text) of the gates
            :class:`~qgcam_tf.quantum.compiler.ExpectationProgram` compiles.
        symbols: ``sympy.Symbol`` s or names, in input column order.
        readouts: ``cirq.PauliSum`` / ``cirq.PauliString`` operators (or their
            ``cirq.to_json`` text), one per output column.
        **kwargs: passed to ``tf_keras.layers.Layer``.

    Input shape:
        ``[batch, len(symbols)]`` float32.

    Output shape:
        ``[batch, len(readouts)]`` float32.

    Raises:
        ValueError / TypeError: as :class:`~qgcam_tf.quantum.compiler.ExpectationProgram`
            (an unsupported gate, a circuit symbol missing from ``symbols``, a bad
            readout); at build, an input width other than ``len(symbols)``.
    """

    def __init__(self, circuit, symbols, readouts, **kwargs):
        super().__init__(**kwargs)
        if isinstance(circuit, str):
            circuit = cirq.read_json(json_text=circuit)
        if isinstance(readouts, (str, cirq.PauliSum, cirq.PauliString)):
            raise TypeError(f"readouts must be a list of Pauli sums, got {readouts!r}")
        readouts = [cirq.read_json(json_text=r) if isinstance(r, str) else r for r in readouts]
        self.program = ExpectationProgram(circuit, symbols, readouts)

    def build(self, input_shape):
        n = input_shape[-1]
        if n is not None and n != len(self.program.symbols):
            raise ValueError(
                f"CircuitLayer {self.name!r} binds {len(self.program.symbols)} symbols "
                f"{list(self.program.symbols)}; its input has width {n}"
            )
        super().build(input_shape)

    def call(self, inputs):
        return self.program(tf.cast(inputs, tf.float32))

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate([self.program.n_outputs])

    def get_config(self):
        config = super().get_config()
        config.update(
            circuit=cirq.to_json(self.program.circuit),
            symbols=list(self.program.symbols),
            readouts=[cirq.to_json(r) for r in self.program.readouts],
        )
        return config
