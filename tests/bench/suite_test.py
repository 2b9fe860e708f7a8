"""Tests of the benchmark suite (qgcam_tf.bench.suite, `qgcam benchmark`)."""

from __future__ import annotations

import json
import math
import os
import sys

import pytest

from qgcam_tf.bench import suite, timing


def test_config_validation_names_the_field():
    """Bad qubit counts and batch sizes are refused, naming the field."""
    with pytest.raises(ValueError, match=r"ns must be ints in \[2, 24\]"):
        suite.BenchConfig(ns=(1,)).validate()
    with pytest.raises(ValueError, match="batch must be an int >= 1, got 0"):
        suite.BenchConfig(batch=0).validate()


def test_cli_rejects_bad_repeats(capsys):
    """`qgcam benchmark --repeats 0` exits 2 with one error line, before measuring anything."""
    from qgcam_tf.cli.main import main

    assert main(["benchmark", "--out", "unused", "--quick", "--repeats", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["qgcam benchmark: error: --repeats must be >= 1, got 0"]


def _finite_positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.slow
def test_quick_benchmark_writes_valid_json_and_markdown(tmp_path):
    """`qgcam benchmark --quick` writes benchmark.json/.md with every required key, sane values."""
    from qgcam_tf.cli.main import main

    out = tmp_path / "bench"
    assert main(["benchmark", "--out", str(out), "--quick"]) == 0
    r = json.loads((out / "benchmark.json").read_text())
    md = (out / "benchmark.md").read_text()

    for key in ("tfq", "tf", "tf_xla", "tensorcircuit"):
        assert key in r["vqc_fwd_bwd_ms"]
    for key in ("tfq", "tf", "tf_xla"):
        assert _finite_positive(r["vqc_fwd_bwd_ms"][key]["4"]), (key, r["vqc_fwd_bwd_ms"][key])
    assert r["vqc_fwd_bwd_ms"]["tensorcircuit"]["4"] is None  # peers are not run with --quick
    assert "tensorcircuit" in r["skipped"] and "pennylane" in r["skipped"]
    assert r["pennylane_train_images_per_s"] is None

    assert set(r["train_images_per_s"]) >= {"tfq", "tf", "classical"}
    for kind, ips in r["train_images_per_s"].items():
        assert _finite_positive(ips)
        # images/s and ms/step are two views of one measurement
        assert ips == pytest.approx(r["config"]["batch"] / r["train_step_ms"][kind] * 1e3, rel=1e-9)
    assert set(r["qgradcam_over_gradcam"]) >= {"tfq", "tf"}
    assert all(_finite_positive(v) for v in r["qgradcam_over_gradcam"].values())

    lb = r["state_vector_lower_bound_ms"]["4"]
    inputs = r["lower_bound_inputs"]
    assert lb == pytest.approx(
        timing.state_vector_lower_bound_ms(
            4, r["config"]["batch"], inputs["gates"]["4"], inputs["bandwidth_bytes_per_s"]["4"]
        )
    )
    assert inputs["gates"]["4"] == 12 + 2 * (4 + 12)

    lat = r["export_explain_latency_ms"]
    if lat is None:  # only when the export module is missing
        assert "export" in r["skipped"]
    else:
        assert set(lat) == {"1", "8"} and all(_finite_positive(v) for v in lat.values())
        assert r["export_tensorflow_quantum_loaded"] is False

    assert r["machine"]["cores"] == os.cpu_count()
    assert r["machine"]["tensorflow"].startswith("2.")
    assert r["machine"]["cpu"] in md and "| executor | n=4 |" in md
    assert "## Training" in md and "## Explanations" in md and "## Targets" in md
    assert r["targets"]["qgradcam_tf_over_gradcam"]["value"] == pytest.approx(
        r["qgradcam_over_gradcam"]["tf"]
    )


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
