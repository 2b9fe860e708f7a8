"""TensorFlow Quantum layers in a tf_keras model: read them, and replace them by pure TF.

Researchers build hybrid models the TensorFlow Quantum way: a classical network computes the
symbol values of a circuit, and one of TFQ's Keras layers turns them into expectations.

* :class:`~tensorflow_quantum.layers.ControlledPQC` (and ``NoisyControlledPQC``), the
  controller pattern of TFQ's tutorials: called on ``[circuits, symbol_values]``, where
  ``circuits`` is a string input; it appends its own circuit to each input circuit and
  binds its symbols, sorted by name (its ``symbols`` property), to the columns of
  ``symbol_values``.
* :class:`~tensorflow_quantum.layers.Expectation` (and ``SampledExpectation``), called
  with a circuit (a ``cirq.Circuit``, or a string input) and the keywords
  ``symbol_names``, ``symbol_values`` and ``operators``; column ``i`` of
  ``symbol_values`` is the value of ``symbol_names[i]``.

:func:`quantum_calls` reads each such call of a functional model as a :class:`QuantumCall`
(the circuit, the symbols in column order, the readouts, the tensors that feed it), with one
clear error for what it cannot explain or convert. :func:`convert_to_tf` rebuilds the model
with each call replaced by a :class:`~qgcam_tf.model.layers.CircuitLayer` that runs the
same circuit with core TensorFlow ops, so the result saves whole and serves without TFQ.
:func:`model_nodes` and :func:`feeds` are the graph walks they share with the CAMs.
"""

from __future__ import annotations

import dataclasses

import cirq
import sympy
import tensorflow as tf
import tf_keras as keras

from qgcam_tf.model.layers import CircuitLayer, VQCLayer

__all__ = [
    "QuantumCall",
    "TFQ_LAYER_NAMES",
    "convert_to_tf",
    "feeds",
    "is_quantum_layer",
    "model_nodes",
    "quantum_calls",
]

TFQ_LAYER_NAMES = ("ControlledPQC", "NoisyControlledPQC", "Expectation", "SampledExpectation")
"""The TFQ layers a model may hold (class names in ``tensorflow_quantum.layers``)."""


def _tfq_layer_types() -> dict:
    """TFQ's layer classes by name (imported on first use: TFQ is slow to import)."""
    import tensorflow_quantum as tfq

    return {name: getattr(tfq.layers, name) for name in TFQ_LAYER_NAMES}


def _tfq_kind(layer) -> str | None:
    """The :data:`TFQ_LAYER_NAMES` entry ``layer`` is an instance of (exact type), or None."""
    if not type(layer).__module__.startswith("tensorflow_quantum"):
        return None
    for name, cls in _tfq_layer_types().items():
        if type(layer) is cls:
            return name
    return None


def is_quantum_layer(layer) -> bool:
    """Whether ``layer`` outputs expectations of a circuit: one of TFQ's expectation layers
    (:data:`TFQ_LAYER_NAMES`, ``PQC``, ``NoisyPQC``) or the project's
    :class:`~qgcam_tf.model.layers.VQCLayer` / :class:`~qgcam_tf.model.layers.CircuitLayer`
    (TFQ's circuit-building and sampling layers are not)."""
    if type(layer).__module__.startswith("tensorflow_quantum"):
        return type(layer).__name__ in (*TFQ_LAYER_NAMES, "PQC", "NoisyPQC")
    return isinstance(layer, (CircuitLayer, VQCLayer))


@dataclasses.dataclass(frozen=True)
class QuantumCall:
    """One call of a TFQ layer in a functional model.

    The layer computes, for each sample ``b``, the expectation of ``readouts[l]`` in the
    state of ``prefix_b + circuit`` with ``symbols[i]`` bound to ``symbol_values[b, i]``,
    where ``prefix_b`` is the sample's circuit from ``circuits_input`` (the empty circuit
    when ``circuits_input`` is None).

    Attributes:
        layer: the TFQ layer.
        kind: its class name, one of :data:`TFQ_LAYER_NAMES`.
        node: the Keras node of the call (``layer.inbound_nodes`` entry).
        circuit: the layer's own circuit (ControlledPQC), or the constant circuit passed to
            Expectation; the empty circuit when Expectation takes its circuits from an input.
        symbols: the symbols bound to the columns of ``symbol_values``, in column order.
        readouts: the measured operators, one per output column.
        symbol_values: the Keras tensor that feeds the symbol values, ``[B, len(symbols)]``.
        circuits_input: the Keras tensor (dtype string) whose circuits are prepended, or None.
    """

    layer: keras.layers.Layer
    kind: str
    node: object
    circuit: cirq.Circuit
    symbols: tuple
    readouts: tuple
    symbol_values: object
    circuits_input: object | None


def model_nodes(model: keras.Model) -> list:
    """The Keras nodes of a functional ``model``, each after the nodes it reads (input
    layers included).

    Only the nodes of this model's graph: a layer shared with another model has nodes of
    that model too, which are left out.

    Raises:
        ValueError: ``model`` is not a functional model (a subclassed model has no graph).
    """
    if not isinstance(model, keras.Model) or not model.inputs or not model.outputs:
        raise ValueError(
            f"model must be a functional (or Sequential) tf_keras model, got "
            f"{type(model).__name__} {model.name!r}"
        )
    producer = {}
    for layer in model.layers:
        for node in layer.inbound_nodes:
            for tensor in tf.nest.flatten(node.outputs):
                producer.setdefault(id(tensor), node)
    order, done = [], set()
    stack = [(producer[id(t)], False) for t in reversed(model.outputs)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if expanded:
            done.add(id(node))
            order.append(node)
            continue
        stack.append((node, True))
        for parent in reversed(node.parent_nodes):
            if id(parent) not in done:
                stack.append((parent, False))
    return order


def feeds(model: keras.Model, source: str, target: str) -> bool:
    """Whether layer ``source``'s output reaches layer ``target`` in ``model``'s graph."""
    nodes = model_nodes(model)
    reached = set()
    for node in nodes:
        if node.layer.name == source or any(id(p) in reached for p in node.parent_nodes):
            reached.add(id(node))
        if node.layer.name == target and any(id(p) in reached for p in node.parent_nodes):
            return True
    return False


def _as_pauli_sums(operators, layer_name: str) -> tuple:
    """``operators`` (a Pauli sum or string, a list of them, or one row of such a list) as
    a tuple of ``cirq.PauliSum``."""
    if isinstance(operators, (cirq.PauliSum, cirq.PauliString)):
        operators = [operators]
    if tf.is_tensor(operators):
        import tensorflow_quantum as tfq

        rows = tfq.from_tensor(operators)
        operators = list(rows[0]) if len(rows) else []
    if isinstance(operators, (list, tuple)) and len(operators) == 1:
        if isinstance(operators[0], (list, tuple)):
            operators = operators[0]
    if not isinstance(operators, (list, tuple)) or not operators:
        raise ValueError(
            f"layer {layer_name!r}: operators must be a cirq.PauliSum or PauliString or a "
            f"list of them, got {operators!r}"
        )
    out = []
    for op in operators:
        if not isinstance(op, (cirq.PauliSum, cirq.PauliString)):
            raise ValueError(
                f"layer {layer_name!r}: each operator must be a cirq.PauliSum or "
                f"PauliString, got {op!r}"
            )
        out.append(cirq.PauliSum.wrap(op))
    return tuple(out)


def _symbol_names(names, layer_name: str) -> tuple:
    """``symbol_names`` as passed to Expectation (strings, symbols, or a string tensor)."""
    if names is None:
        return ()
    if tf.is_tensor(names):
        names = [n.decode() for n in names.numpy().tolist()]
    if not isinstance(names, (list, tuple)) or not all(
        isinstance(n, (str, sympy.Symbol)) for n in names
    ):
        raise ValueError(
            f"layer {layer_name!r}: symbol_names must be a list of strings or sympy.Symbols, "
            f"got {names!r}"
        )
    return tuple(sympy.Symbol(str(n)) for n in names)


def _controlled_pqc_parts(layer) -> tuple[cirq.Circuit, tuple]:
    """The circuit and operators of a ControlledPQC / NoisyControlledPQC.

    TFQ 0.7 offers no public accessor for them (the layers define no ``get_config``), so
    they are read from what the layer feeds its ops: its call, traced with
    ``tf.function``, captures the serialised circuit (string ``[1]``), the operators
    (string ``[1, L]``) and the symbol names (string ``[S]``) as tensors, which
    ``tfq.from_tensor`` turns back into Cirq objects. ``tests/model/convert_test.py``
    checks the result against the layer's own output.

    Raises:
        ValueError: the traced call does not capture exactly these tensors.
    """
    import tensorflow_quantum as tfq

    names = [str(s).encode() for s in layer.symbols]
    specs = [tf.TensorSpec([None], tf.string), tf.TensorSpec([None, len(names)], tf.float32)]
    traced = tf.function(lambda c, v: layer.call([c, v])).get_concrete_function(*specs)
    strings = [t for t in traced.captured_inputs if t.dtype == tf.string]
    operators = [t for t in strings if t.shape.rank == 2 and t.shape[0] == 1]
    symbols = [t for t in strings if t.shape.rank == 1 and t.numpy().tolist() == names]
    circuits = [
        t
        for t in strings
        if t.shape.rank == 1 and t.shape[0] == 1 and not any(t is u for u in symbols)
    ]
    if len(operators) != 1 or len(symbols) != 1 or len(circuits) != 1:
        raise ValueError(
            f"layer {layer.name!r}: cannot read the circuit and operators of this "
            f"{type(layer).__name__} (its call captured {[tuple(t.shape) for t in strings]})"
        )
    circuit = tfq.from_tensor(circuits[0])[0]
    readouts = _as_pauli_sums(list(tfq.from_tensor(operators[0])[0]), layer.name)
    return circuit, readouts


def _call_inputs(node):
    """The first argument of a node's call (positional or ``inputs=``)."""
    if node.call_args:
        return node.call_args[0]
    return node.call_kwargs.get("inputs")


def _parse_call(layer, kind: str, node) -> QuantumCall:
    """Reads one TFQ layer call (see :class:`QuantumCall`); raises ValueError."""
    name = layer.name
    if kind in ("ControlledPQC", "NoisyControlledPQC"):
        inputs = _call_inputs(node)
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                f"layer {name!r} ({kind}) must be called on [circuits, symbol_values], "
                f"got {inputs!r}"
            )
        circuits_input, values = inputs
        circuit, readouts = _controlled_pqc_parts(layer)
        symbols = tuple(layer.symbols)
    else:
        inputs = _call_inputs(node)
        if isinstance(inputs, cirq.Circuit):
            circuit, circuits_input = inputs, None
        elif keras.backend.is_keras_tensor(inputs):
            circuit, circuits_input = cirq.Circuit(), inputs
        else:
            raise ValueError(
                f"layer {name!r} ({kind}) must be called on one cirq.Circuit or a circuits "
                f"input tensor, got {type(inputs).__name__}"
            )
        values = node.call_kwargs.get("symbol_values")
        if values is None:
            raise ValueError(
                f"layer {name!r} ({kind}) has no symbol_values from the network (it trains "
                f"its own); only symbol values computed by the model are supported"
            )
        symbols = _symbol_names(node.call_kwargs.get("symbol_names"), name)
        readouts = _as_pauli_sums(node.call_kwargs.get("operators"), name)
    if circuits_input is not None and (
        not keras.backend.is_keras_tensor(circuits_input) or circuits_input.dtype != tf.string
    ):
        raise ValueError(
            f"layer {name!r} ({kind}): its circuits must come from a string input, "
            f"got {circuits_input!r}"
        )
    if not keras.backend.is_keras_tensor(values):
        raise ValueError(
            f"layer {name!r} ({kind}): symbol_values must be a tensor computed by the model, "
            f"got {type(values).__name__}"
        )
    width = values.shape[-1]
    if values.shape.rank != 2 or width != len(symbols):
        raise ValueError(
            f"layer {name!r} ({kind}) binds {len(symbols)} symbols "
            f"{[str(s) for s in symbols]} but the network supplies symbol_values of shape "
            f"{tuple(values.shape)}: the sizes disagree"
        )
    missing = sorted(str(s) for s in cirq.parameter_symbols(circuit) if s not in symbols)
    if missing:
        raise ValueError(
            f"layer {name!r} ({kind}): circuit symbols {missing} are not among the symbols "
            f"the network supplies {[str(s) for s in symbols]}"
        )
    return QuantumCall(layer, kind, node, circuit, symbols, readouts, values, circuits_input)


def quantum_calls(model: keras.Model) -> list[QuantumCall]:
    """Every call of a TFQ layer (:data:`TFQ_LAYER_NAMES`) in ``model``'s graph, in order.

    Raises:
        ValueError: a TFQ layer that is none of :data:`TFQ_LAYER_NAMES`, a call whose
            symbol values do not match its symbols (the sizes disagree, or the circuit
            has symbols the network does not supply), or a call in a form this module
            cannot read; the message names the layer.
    """
    calls = []
    for node in model_nodes(model):
        layer = node.layer
        if not type(layer).__module__.startswith("tensorflow_quantum"):
            continue
        kind = _tfq_kind(layer)
        if kind is None:
            raise ValueError(
                f"layer {layer.name!r} is a TFQ {type(layer).__name__}; supported TFQ layers "
                f"are {list(TFQ_LAYER_NAMES)}"
            )
        calls.append(_parse_call(layer, kind, node))
    return calls


def _clone(layer):
    """A new layer of ``layer``'s class and config (its weights are set after building)."""
    if isinstance(layer, keras.Model):
        if any(type(l).__module__.startswith("tensorflow_quantum") for l in layer.submodules):
            raise ValueError(
                f"nested model {layer.name!r} holds TFQ layers; convert it on its own and "
                f"build the outer model from the result"
            )
        return keras.models.clone_model(layer)
    return type(layer).from_config(layer.get_config())


def convert_to_tf(model: keras.Model, circuits=None) -> keras.Model:
    """An equivalent tf_keras model with every TFQ layer replaced by pure TensorFlow.

    Each call of a TFQ layer (:func:`quantum_calls`) becomes a
    :class:`~qgcam_tf.model.layers.CircuitLayer` of the same name on the same symbol
    values; every other layer is a copy with the same config and weights (the original
    model is left as it was; layers shared between calls stay shared). A circuits input
    (dtype string) is folded away: ``circuits`` is prepended to the layer's circuit, as TFQ
    does with each input circuit, so the result takes the other inputs alone (the images).

    The result holds no TensorFlow Quantum layer or op: it saves whole
    (``model.to_json()``, ``model.save``) and serves in stock TensorFlow. For
    ``SampledExpectation`` and ``NoisyControlledPQC`` the converted layer computes exact
    expectations: conversion removes the sampling (shot and trajectory) noise. The
    compile state (optimizer, loss) is not carried over.

    Args:
        model: a functional tf_keras model (see :data:`TFQ_LAYER_NAMES` for its TFQ layers).
        circuits: the ``cirq.Circuit`` that every circuits input stands for (default the
            empty circuit); only for a model with such an input.

    Returns:
        The converted model, named like ``model``.

    Raises:
        TypeError: ``circuits`` is not a ``cirq.Circuit``.
        ValueError: ``circuits`` given to a model without a circuits input, or empty
            where a layer takes its whole circuit from that input; a circuits input that
            feeds anything but a TFQ layer; a TFQ layer call this module cannot
            read (:func:`quantum_calls`), or whose circuit the pure-TF compiler cannot
            compile (the message names the gate).
    """
    if circuits is not None and not isinstance(circuits, cirq.Circuit):
        raise TypeError(f"circuits must be a cirq.Circuit or None, got {circuits!r}")
    string_inputs = {id(t) for t in model.inputs if t.dtype == tf.string}
    if circuits is not None and not string_inputs:
        raise ValueError(
            f"circuits was given but model {model.name!r} has no circuits (string) input"
        )
    circuits = cirq.Circuit() if circuits is None else circuits
    calls = {id(c.node): c for c in quantum_calls(model)}
    new = {}  # id(old Keras tensor) -> new Keras tensor
    inputs = []
    for tensor in model.inputs:
        if id(tensor) not in string_inputs:
            new[id(tensor)] = keras.Input(type_spec=tensor.type_spec, name=tensor.node.layer.name)
            inputs.append(new[id(tensor)])
    clones, names = {}, set()
    for node in model_nodes(model):
        layer = node.layer
        if isinstance(layer, keras.layers.InputLayer):
            continue
        call = calls.get(id(node))
        if call is None:
            strings = [t.node.layer.name for t in node.keras_inputs if id(t) in string_inputs]
            if strings:
                raise ValueError(
                    f"layer {layer.name!r} reads the circuits input {strings[0]!r}; only TFQ "
                    f"layers may read it, so it cannot be folded into a constant circuit"
                )
            if id(layer) not in clones:
                clones[id(layer)] = (layer, _clone(layer))
            args, kwargs = tf.nest.map_structure(
                lambda v: new[id(v)] if keras.backend.is_keras_tensor(v) else v,
                (tuple(node.call_args), dict(node.call_kwargs)),
            )
            outputs = clones[id(layer)][1](*args, **kwargs)
        else:
            circuit = call.circuit
            if call.circuits_input is not None:
                if id(call.circuits_input) not in string_inputs:
                    raise ValueError(
                        f"layer {layer.name!r} takes circuits computed inside the model; only "
                        f"a circuits input of the model can be folded"
                    )
                circuit = circuits + circuit
                if not list(circuit.all_operations()):
                    raise ValueError(
                        f"layer {layer.name!r} takes its whole circuit from the circuits input "
                        f"and circuits is empty (TFQ outputs -2 for an empty circuit); give "
                        f"convert_to_tf the circuit with circuits="
                    )
            name = layer.name if layer.name not in names else f"{layer.name}_{len(names)}"
            names.add(name)
            outputs = CircuitLayer(circuit, call.symbols, call.readouts, name=name)(
                new[id(call.symbol_values)]
            )
        for old, out in zip(tf.nest.flatten(node.outputs), tf.nest.flatten(outputs)):
            new[id(old)] = out
    outs = [new[id(t)] for t in model.outputs]
    result = keras.Model(
        inputs if len(inputs) != 1 else inputs[0],
        outs if len(outs) != 1 else outs[0],
        name=model.name,
    )
    for old, cloned in clones.values():
        cloned.set_weights(old.get_weights())
    return result
