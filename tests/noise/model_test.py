"""qgcam_tf.noise.model: NoiseModel's checks of strengths and execution options."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import dataclasses  # noqa: E402

import numpy as np  # noqa: E402

from qgcam_tf.noise.model import NoiseModel, check_execution, check_probability  # noqa: E402


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (
            dict(depolarizing=-0.1),
            r"NoiseModel.depolarizing must be a probability in \[0, 1\], got -0.1",
        ),
        (dict(amplitude_damping=1.5), r"amplitude_damping .*got 1.5"),
        (dict(readout=(0.1, float("nan"))), r"readout .*got nan"),
        (dict(two_qubit_phase_damping=((0.1, 2.0),)), r"two_qubit_phase_damping .*got 2.0"),
        (dict(method="exact"), r"method must be one of .*got 'exact'"),
        (dict(repetitions=0), r"repetitions must be an int >= 1, got 0"),
    ],
)
def test_invalid_noise_models_raise(kwargs, match):
    """Out-of-range probabilities and bad execution options give one ValueError naming them."""
    with pytest.raises(ValueError, match=match):
        NoiseModel(**kwargs)


def test_unknown_noise_channel_raises():
    """from_dict with an unknown channel gives one ValueError naming it."""
    with pytest.raises(ValueError, match="unknown noise channel 'thermal'"):
        NoiseModel.from_dict({"thermal": 0.1})


def test_check_probability_accepts_numbers_in_range_only():
    """check_probability returns a float for ints and NumPy scalars in [0, 1] and names the
    field and value of anything else (bools, strings, NaN, out of range)."""
    assert check_probability("readout", np.float32(0.25)) == 0.25
    assert isinstance(check_probability("readout", 1), float)
    for bad in (True, "0.1", float("nan"), 1.0000001, -1e-9):
        with pytest.raises(ValueError, match=rf"NoiseModel.readout must be .*got {bad!r}"):
            check_probability("readout", bad)


@pytest.mark.parametrize(
    "method,repetitions,match",
    [
        ("exact", 10, r"method must be one of \('auto', 'density', 'trajectories'\), got 'exact'"),
        ("auto", 0, "repetitions must be an int >= 1, got 0"),
        ("auto", 2.0, "repetitions must be an int >= 1, got 2.0"),
        ("auto", True, "repetitions must be an int >= 1, got True"),
    ],
)
def test_check_execution_names_the_bad_option(method, repetitions, match):
    """A bad method or repetitions count gives one ValueError naming it."""
    with pytest.raises(ValueError, match=match):
        check_execution(method, repetitions)
    check_execution("density", np.int64(3))  # NumPy ints are ints


def test_scaled_multiplies_every_strength_and_clips_at_one():
    """scaled(f) multiplies scalars, per-qubit tuples and per-edge pairs by f, clips at 1,
    keeps None ("as the single-qubit value") and the options."""
    model = NoiseModel(
        depolarizing=0.1,
        readout=(0.2, 0.6),
        two_qubit_depolarizing=((0.1, 0.5), 0.3),
        name="m",
        method="density",
    )
    got = model.scaled(2.0)
    assert got.depolarizing == pytest.approx(0.2)
    assert got.readout == pytest.approx((0.4, 1.0))
    assert got.two_qubit_depolarizing[0] == pytest.approx((0.2, 1.0))
    assert got.two_qubit_depolarizing[1] == pytest.approx(0.6)
    assert got.two_qubit_amplitude_damping is None
    assert (got.name, got.method, got.repetitions) == ("m", "density", 200)
    assert model.scaled(0) == dataclasses.replace(
        model, depolarizing=0.0, readout=(0.0, 0.0), two_qubit_depolarizing=((0.0, 0.0), 0.0)
    )
    for bad in (-1, float("inf"), "2"):
        with pytest.raises(ValueError, match=rf"factor must be a finite number >= 0, got {bad!r}"):
            model.scaled(bad)


def test_per_qubit_and_per_edge_strengths():
    """per_qubit repeats a scalar; per_edge takes the ring's two qubits' single-qubit values
    when the two-qubit strength is None, a float for both sides, or a (control, target) pair."""
    model = NoiseModel(
        depolarizing=(0.1, 0.2, 0.3),
        amplitude_damping=0.05,
        two_qubit_amplitude_damping=(0.4, (0.5, 0.6), 0.7),
        two_qubit_phase_damping=0.01,
    )
    assert model.per_qubit("amplitude_damping", 3) == [0.05] * 3
    assert model.per_edge("depolarizing", 3) == [(0.1, 0.2), (0.2, 0.3), (0.3, 0.1)]
    assert model.per_edge("amplitude_damping", 3) == [(0.4, 0.4), (0.5, 0.6), (0.7, 0.7)]
    assert model.per_edge("phase_damping", 3) == [(0.01, 0.01)] * 3
    assert model.mean_two_qubit_depolarizing(3) == pytest.approx(np.mean([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="NoiseModel.depolarizing has 3 values for 4 qubits"):
        model.per_qubit("depolarizing", 4)
    with pytest.raises(ValueError, match="two_qubit_amplitude_damping has 3 values for 2 ring"):
        model.per_edge("amplitude_damping", 2)


def test_from_dict_round_trips_and_normalises():
    """from_dict(asdict(m)) == m; lists and arrays become tuples, so equal models hash
    equal; a ring edge that is neither a float nor a pair is refused."""
    model = NoiseModel(
        readout=[0.1, 0.2], two_qubit_depolarizing=[[0.1, 0.2]], qubits=[1, 2], edges=[[0, 1]]
    )
    assert model.readout == (0.1, 0.2) and model.two_qubit_depolarizing == ((0.1, 0.2),)
    assert NoiseModel.from_dict(dataclasses.asdict(model)) == model
    assert hash(NoiseModel.from_dict(dataclasses.asdict(model))) == hash(model)
    assert NoiseModel(readout=np.array([0.1, 0.2])) == NoiseModel(readout=(0.1, 0.2))
    with pytest.raises(ValueError, match=r"entries must be floats or pairs, got \(0.1, 0.2, 0.3\)"):
        NoiseModel(two_qubit_depolarizing=((0.1, 0.2, 0.3),))


def test_two_qubit_pair_looks_up_the_models_edges():
    """two_qubit_pair gives the single-qubit values for None, a float on both sides, and
    for a tuple the entry of the pair among edges (sides swapped for the reversed pair, the
    paper's ring without edges); a pair not among them is refused, naming it."""
    model = NoiseModel(
        depolarizing=(0.1, 0.2, 0.3, 0.4),
        two_qubit_amplitude_damping=((0.5, 0.6), 0.7),
        two_qubit_phase_damping=0.02,
        edges=[(3, 1), (0, 2)],
    )
    assert model.edges == ((3, 1), (0, 2))
    assert model.two_qubit_pair("depolarizing", 4, 3, 1) == (0.4, 0.2)
    assert model.two_qubit_pair("phase_damping", 4, 0, 3) == (0.02, 0.02)
    assert model.two_qubit_pair("amplitude_damping", 4, 3, 1) == (0.5, 0.6)
    assert model.two_qubit_pair("amplitude_damping", 4, 1, 3) == (0.6, 0.5)
    assert model.two_qubit_pair("amplitude_damping", 4, 2, 0) == (0.7, 0.7)
    with pytest.raises(ValueError, match=r"not for the pair \(0, 1\) of qubits"):
        model.two_qubit_pair("amplitude_damping", 4, 0, 1)
    ring = NoiseModel(two_qubit_depolarizing=((0.1, 0.2), 0.3, (0.4, 0.5)))
    assert ring.two_qubit_pair("depolarizing", 3, 0, 2) == (0.5, 0.4)  # ring edge (2, 0)
    with pytest.raises(ValueError, match=r"has 3 values for 4 edges"):
        ring.two_qubit_pair("depolarizing", 4, 0, 1)
    assert model.mean_two_qubit_depolarizing(4) == pytest.approx(np.mean([0.4, 0.2, 0.1, 0.3]))
    with pytest.raises(
        ValueError, match=r"edges \(\(3, 1\), \(0, 2\)\), not for the pair \(0, 1\)"
    ):
        model.per_edge("amplitude_damping", 4)  # the paper's ring is not among its edges


@pytest.mark.parametrize(
    "edges,match",
    [
        (((0, 0),), r"pairs of distinct qubit indices >= 0, got \(0, 0\)"),
        (((0, 1, 2),), r"pairs of distinct qubit indices >= 0, got \(0, 1, 2\)"),
        (((0, -1),), r"got \(0, -1\)"),
        (((0, 1.0),), r"got \(0, 1.0\)"),
        (((0, 1), (1, 0)), r"must not repeat a pair"),
        (3, r"NoiseModel.edges must be a sequence of index pairs, got 3"),
    ],
)
def test_bad_edges_raise(edges, match):
    """Edges that are not distinct pairs of distinct indices give one ValueError naming them."""
    with pytest.raises(ValueError, match=match):
        NoiseModel(edges=edges)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
