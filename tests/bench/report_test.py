"""Tests of the benchmark's report (qgcam_tf.bench.report): targets, Markdown, document."""

from __future__ import annotations

import pathlib
import sys

import pytest

from qgcam_tf.bench import report


def test_update_doc_replaces_only_the_marked_block(tmp_path):
    """The tables go between the markers; text around them is kept; no markers is an error."""
    doc = tmp_path / "perf.md"
    doc.write_text(f"# Perf\n\nintro\n\n{report.DOC_BEGIN}\nold table\n{report.DOC_END}\n\noutro\n")
    report.update_doc(str(doc), "# qgcam benchmark\n\nMachine: X\n\n## VQC\n\n| a |\n")
    assert doc.read_text() == (
        f"# Perf\n\nintro\n\n{report.DOC_BEGIN}\nMachine: X\n\n### VQC\n\n| a |\n"
        f"{report.DOC_END}\n\noutro\n"
    )
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    with pytest.raises(ValueError, match="has no .* block to update"):
        report.update_doc(str(plain), "x\n")
    with pytest.raises(FileNotFoundError, match="not found"):
        report.update_doc(str(tmp_path / "missing.md"), "x\n")


def test_targets_read_the_paired_ratios_against_issue_19s_goals():
    """Each target takes its paired ratio: tf+XLA / fastest peer <= 1.0 at each measured
    n of 10, 12, 16, 20 (naming the peer), QGrad-CAM / Grad-CAM <= 1.2, tf training >= 10x
    PennyLane-JAX; tfq is shown beside it without a goal, and the targets other parts of the
    package measure are listed as not measured here."""
    r = {
        "vqc_fwd_bwd_ms": {"tf_xla": {"10": 4.0, "12": 12.0, "16": 50.0}},
        "qgradcam_over_gradcam": {"tf": 1.6},
        "paired": {
            "tf_xla_over_fastest_peer": {"10": 0.9, "12": 1.1, "16": None},
            "tf_xla_fastest_peer": {"10": "tensorcircuit", "12": "qsim"},
            "qgradcam_over_gradcam": {"tf": 1.15},
            "tf_train_over_pennylane_jax": 9.5,
            "tfq_train_over_pennylane_jax": 3.0,
        },
    }
    t = report.targets_table(r)
    assert t["tf_xla_over_fastest_peer_n10"] == {
        "value": 0.9,
        "goal": "<= 1",
        "met": True,
        "paired": True,
        "peer": "tensorcircuit",
    }
    assert t["tf_xla_over_fastest_peer_n12"]["met"] is False
    assert t["tf_xla_over_fastest_peer_n16"]["met"] is None
    assert "tf_xla_over_fastest_peer_n20" not in t  # n = 20 was not run
    assert t["qgradcam_tf_over_gradcam"] == {
        "value": 1.15,
        "goal": "<= 1.2",
        "met": True,
        "paired": True,
    }
    assert t["train_tf_over_pennylane_jax"]["met"] is False
    assert t["train_tf_over_pennylane_jax"]["goal"] == ">= 10"
    assert t["train_tfq_over_pennylane_jax"]["value"] == 3.0
    assert t["train_tfq_over_pennylane_jax"]["met"] is None
    for name in report.NOT_MEASURED_HERE:
        assert t[name]["met"] is None and t[name]["not_measured"] is True
    assert not [k for k in t if k.startswith("export_explain")]  # not in this run
    r["paired"]["export_explain_hybrid_over_classical"] = {"64": 1.4, "1": 1.1}
    t = report.targets_table(r)
    assert [k for k in t if k.startswith("export_explain")] == [
        "export_explain_hybrid_over_classical_b1",
        "export_explain_hybrid_over_classical_b64",
    ]
    assert t["export_explain_hybrid_over_classical_b64"] == {
        "value": 1.4,
        "goal": "reported",
        "met": None,
        "paired": True,
    }


NOISY = {
    "noisy_maps_per_s": {
        "density": {"4": 800.0, "6": 250.0, "8": 40.0},
        "trajectories": {"4": 20.0, "6": 12.5, "8": 8.0},
    },
    "noise_sweep_maps_per_s": {"rainbow": 3.5, "weber": 12.0},
    "paired": {"density_over_trajectories": {"4": 41.0, "6": 19.5, "8": 4.9}},
}


def test_noisy_rows_give_one_paired_target_per_n_and_two_tables():
    """The density / trajectories ratio is a target ">= 10" at each n <= 8 (met above 10,
    not below); the tables list maps/s per method and n with the paired ratio, and maps/s
    per sweep preset; without noisy rows the target is listed unmeasured and no table."""
    noisy = {
        **NOISY,
        "peak_mb": {"density": {"4": 900.0, "6": 950.0, "8": 1200.0}},
        "agreement": {"4": 1.1, "6": 0.9, "8": 1.3},
        "noise_sweep_seconds": {"rainbow": 4.6, "weber": 1.25},
        "noise_sweep_method": {"rainbow": "density", "weber": "density"},
        "params": {"preset": "depolarizing", "strength": 0.02, "batch": 16},
    }
    r = {
        "vqc_fwd_bwd_ms": {},
        "paired": dict(NOISY["paired"]),
        "noisy_maps_per_s": NOISY["noisy_maps_per_s"],
        "noise_sweep_maps_per_s": NOISY["noise_sweep_maps_per_s"],
        "noisy": noisy,
    }
    t = report.targets_table(r)
    assert t["noisy_density_over_tfq_100_trajectories_n4"] == {
        "value": 41.0,
        "goal": ">= 10",
        "met": True,
        "paired": True,
    }
    assert t["noisy_density_over_tfq_100_trajectories_n8"]["met"] is False
    lines = report.noisy_markdown(r)
    assert (
        "| n | density maps/s | trajectories maps/s | density / trajectories (paired) "
        "| density peak MB | agreement |"
    ) in lines
    assert "| 4 | 800 | 20.0 | 41.00 | 900 | 1.10 |" in lines
    assert "| 8 | 40.0 | 8.0 | 4.90 | 1200 | 1.30 |" in lines
    assert "| rainbow | 3.5 | 4.60 | density |" in lines
    assert "| weber | 12.0 | 1.25 | density |" in lines
    assert any("(`depolarizing` at 0.02, batch 16)" in line for line in lines)
    empty = report.targets_table({"vqc_fwd_bwd_ms": {}})
    assert empty["noisy_density_over_tfq_100_trajectories (n <= 8)"]["met"] is None
    assert report.noisy_markdown({"vqc_fwd_bwd_ms": {}}) == []
    skipped = _results(skipped={"noisy": "not measured (--quick)"})
    assert "Skipped: not measured (--quick)" in report.render_markdown(skipped).splitlines()


CLI = {
    "repeats": 5,
    "baseline_s": 0.0312,
    "commands": {
        "qgcam --help": {"argv": ["--help"], "exit": 0, "seconds": 0.61, "ratio": 19.5},
        "qgcam train --out x --epochs 0": {
            "argv": ["train", "--out", "x", "--epochs", "0"],
            "exit": 2,
            "seconds": 2.5,
            "ratio": 80.1,
        },
        "qgcam train --help": {"argv": ["train", "--help"], "exit": 0, "skipped": "exit 1"},
    },
}


def test_cli_targets_are_under_two_seconds_each():
    """Each CLI command is a target "< 2 s": met below, not met above, unknown if skipped;
    results without CLI rows (older runs) have no such targets."""
    r = {"vqc_fwd_bwd_ms": {"tf_xla": {}}, "qgradcam_over_gradcam": {"tf": 1.0}}
    assert not [k for k in report.targets_table(r) if k.startswith("cli")]
    t = report.targets_table({**r, "cli_startup": CLI})
    assert t["cli_seconds: qgcam --help"] == {"value": 0.61, "goal": "< 2 s", "met": True}
    assert t["cli_seconds: qgcam train --out x --epochs 0"]["met"] is False
    assert t["cli_seconds: qgcam train --help"] == {"value": None, "goal": "< 2 s", "met": None}


def test_cli_startup_table_rows_by_hand():
    """The CLI table: exit status, seconds, paired ratio, goal and met per command; the
    baseline and a skipped command are said in words."""
    lines = report.cli_startup_markdown(CLI)
    assert lines[0] == "## CLI start-up (`python -m qgcam_tf`, fresh process)"
    assert "| `qgcam --help` | 0 | 0.610 | 19.5 | < 2 s | yes |" in lines
    assert "| `qgcam train --out x --epochs 0` | 2 | 2.50 | 80.1 | < 2 s | no |" in lines
    assert "| `qgcam train --help` | 0 | — | — | < 2 s | — |" in lines
    assert any(
        line.startswith("Medians of 5 rounds; `python -c pass` took 0.031 s") for line in lines
    )
    assert "- `qgcam train --help` skipped: exit 1" in lines
    rendered = report.render_markdown(_results(cli_startup=CLI)).splitlines()
    assert "| `qgcam --help` | 0 | 0.610 | 19.5 | < 2 s | yes |" in rendered
    assert rendered.index(lines[0]) < rendered.index(
        "## Targets (issue 19; CLI start-up: issue 14)"
    )


def _results(**changes) -> dict:
    """Results of a made-up run with values that exercise each number format."""
    r = {
        "machine": {
            "cpu": "Test CPU",
            "cores": 2,
            "memory_gb": 8.0,
            "tensorflow": "2.18.1",
            "python": "3.11.7",
            "date_utc": "2026-01-01 00:00:00",
            "git_commit": "abc1234",
            "load_average_start": [1.0, 0.5, 0.3],
            "load_average_end": [2.0, 1.0, 0.5],
        },
        "config": {"batch": 64, "depth": 2, "repeats": 7, "warmup": 2, "quick": False},
        "vqc_fwd_bwd_ms": {
            "tfq": {"4": 123.4, "6": 5.678},
            "tf": {"4": 1.5, "6": 0.25},
            "tf_xla": {"4": 1.0, "6": 2.0},
            "qsim": {"4": 40.0, "6": 900.0},
            "tensorcircuit": {"4": None, "6": None},
        },
        "vqc_fwd_bwd_cpu_ms": {
            "tfq": {"4": 200.0, "6": 9.0},
            "tf": {"4": 3.0, "6": 0.5},
            "tf_xla": {"4": 2.0, "6": 4.0},
            "qsim": {"4": 80.0, "6": 1800.0},
            "tensorcircuit": {"4": None, "6": None},
        },
        "peak_mb": {
            "tfq": {"4": 900.0, "6": 910.0},
            "tf": {"4": 700.0, "6": 705.5},
            "tf_xla": {"4": 720.0, "6": 730.0},
            "qsim": {"4": 300.0, "6": 310.0},
            "tensorcircuit": {"4": None, "6": None},
        },
        "vqc_batch": {"tfq": {"4": 64, "6": 64}, "qsim": {"4": 64, "6": 16}},
        "vqc_check": {"tfq": {"4": False, "6": False}, "tf": {"4": True, "6": True}},
        "vqc_rows": {
            "tfq": {
                "4": {
                    "check": {
                        "passed": False,
                        "max_error": {"values": 2e-6, "grad_x": 3.05e-5, "grad_theta": 4e-5},
                        "scale": {"values": 1.0, "grad_x": 1.0, "grad_theta": 8.0},
                    }
                }
            }
        },
        "vqc_notes": {"tensorcircuit": "peers not run", "qsim": "batch 16 from n=6"},
        "state_vector_lower_bound_ms": {"4": 0.0123, "6": 0.05},
        "train_images_per_s": {"tfq": 640.0, "classical": 6400.0, "pennylane_jax": 32.0},
        "train_step_ms": {"tfq": 100.0, "classical": 10.0},
        "pennylane_jax_train_images_per_s": 32.0,
        "pennylane_jax_train": {
            "pennylane_jax": 32.0,
            "versions": {"pennylane": "0.45.1", "jax": "0.10.2"},
            "rounds": [
                {"tf": 300.0, "pennylane_jax": 30.0},
                {"tf": 320.0, "pennylane_jax": 32.0},
                {"tf": 350.0, "pennylane_jax": 35.0},
            ],
            "ratio": {"tf": 10.0},
        },
        "explain_maps_per_s": {"tf": 128.0, "classical": 256.0},
        "explain_batch_ms": {"tf": 500.0, "classical": 250.0},
        "qgradcam_over_gradcam": {"tf": 1.25},
        "export_explain_latency_ms": {
            "hybrid": {"1": 3.5, "64": 150.0},
            "classical": {"1": 2.5, "64": 100.0},
        },
        "export_explain_maps_per_s": {"hybrid": 426.7, "classical": 640.0},
        "targets": {
            "qgradcam_tf_over_gradcam": {
                "value": 1.25,
                "goal": "<= 1.2",
                "met": False,
                "paired": True,
            },
            "tf_xla_over_fastest_peer_n10": {
                "value": 0.5,
                "goal": "<= 1",
                "met": True,
                "paired": True,
                "peer": "qsim",
            },
            "train_tfq_over_pennylane_jax": {"value": None, "goal": "measured beside", "met": None},
            "noise_sweep": {"value": None, "goal": ">= 5", "met": None, "not_measured": True},
        },
        "paired": {"export_explain_hybrid_over_classical": {"1": 1.3, "64": 1.45}},
        "skipped": {"pennylane_jax_train": "peers not run"},
        "versions": {"tf": "2.18.1", "qsim": "0.22.1 (cirq 1.6.1)"},
    }
    r.update(changes)
    return r


def test_render_markdown_writes_each_table_row_by_hand():
    """The Markdown holds the rows a reader checks by hand: 3 significant digits below 100
    (2 decimals from 1, 3 below 1), whole numbers from 100, a dash for a missing value, the
    batch beside a row run at a smaller one, a cross beside a row that failed its check,
    peak memory and checks per n (a failed one with its worst part's error over its scale),
    the paired training table, pass / fail / dash."""
    lines = report.render_markdown(_results()).splitlines()
    expected = [
        "# qgcam benchmark",
        "Machine: Test CPU, 2 cores, 8.0 GB; TensorFlow 2.18.1, Python 3.11.7; "
        "2026-01-01 00:00:00 UTC, commit abc1234.",
        "Load average at start 1.0, 0.5, 0.3, at end 2.0, 1.0, 0.5 (the machine may be "
        "shared: other processes slow every row alike).",
        "Batch 64, depth 2; medians of 7 timed calls after 2 warm-up calls.",
        "## VQC forward + backward (ms, batch 64)",
        "| executor | n=4 | n=6 |",
        "|---|---:|---:|",
        "| tfq (TFQ, adjoint) | 123 ✗ | 5.68 ✗ |",
        "| tf | 1.50 | 0.250 |",
        "| qsimcirq (parameter shift) | 40.00 | 900 (b16) |",
        "| tensorcircuit-ng, JAX jit | — | — |",
        "| state-vector lower bound | 0.012 | 0.050 |",
        "| tf | 700 | 706 |",
        "| tfq (TFQ, adjoint) | 200 | 9.00 |",
        "| tfq (TFQ, adjoint) | **fail** (grad_x 3.0e-05) | **fail** |",
        "| tf | pass | pass |",
        "| qsimcirq (parameter shift) | — | — |",
        "- qsimcirq (parameter shift): batch 16 from n=6",
        "## Training (MNIST default model, batch 64)",
        "| hybrid, tfq | 640 | 100 |",
        "| classical twin | 6400 | 10.00 |",
        "| hybrid, tf | 320 | 10.00 |",
        "| hybrid, PennyLane-JAX | 32.0 | 1 |",
        "| QGrad-CAM, tf | 128 | 500 | 1.25 |",
        "| Grad-CAM, classical twin | 256 | 250 | 1.00 |",
        "| batch | hybrid (tf) ms | classical twin ms | hybrid / classical (paired) |",
        "| 1 | 3.50 | 2.50 | 1.30 |",
        "| 64 | 150 | 100 | 1.45 |",
        "Throughput at batch 64: hybrid 427 maps/s, classical twin 640 maps/s.",
        "| qgradcam_tf_over_gradcam (paired) | 1.25 | <= 1.2 | **fail** |",
        "| tf_xla_over_fastest_peer_n10 (paired) vs qsim | 0.500 | <= 1 | pass |",
        "| train_tfq_over_pennylane_jax | — | measured beside | — |",
        "| noise_sweep | — | >= 5 | not measured by `qgcam benchmark` |",
        "- pennylane_jax_train: peers not run",
        "Versions: tf 2.18.1; qsim 0.22.1 (cirq 1.6.1) (peers: own virtualenv).",
    ]
    missing = [line for line in expected if line not in lines]
    assert missing == []
    assert lines.index("| tfq (TFQ, adjoint) | 123 ✗ | 5.68 ✗ |") < lines.index(
        "| tf | 1.50 | 0.250 |"
    )
    assert not any(line.startswith("| pennylane_jax |") for line in lines)


def test_render_markdown_marks_quick_runs_and_a_skipped_export():
    """A --quick run says so in its header; without export latencies the reason is shown."""
    r = _results(
        config={"batch": 8, "depth": 2, "repeats": 3, "warmup": 1, "quick": True},
        export_explain_latency_ms=None,
        skipped={"export": "export not measured"},
    )
    lines = report.render_markdown(r).splitlines()
    assert (
        "Batch 8, depth 2; medians of 3 timed calls after 1 warm-up calls (**--quick subset**)."
    ) in lines
    assert "Skipped: export not measured" in lines


def test_rendered_tables_go_into_a_document_under_its_own_headings(tmp_path):
    """update_doc of render_markdown's output drops the title and demotes ## to ###."""
    doc = tmp_path / "perf.md"
    doc.write_text(f"# Perf\n\n{report.DOC_BEGIN}\n{report.DOC_END}\n")
    report.update_doc(str(doc), report.render_markdown(_results()))
    text = doc.read_text()
    block = text.split(report.DOC_BEGIN + "\n", 1)[1].split(report.DOC_END, 1)[0]
    assert block.startswith("Machine: Test CPU, 2 cores")
    assert "# qgcam benchmark" not in text
    assert "\n### VQC forward + backward (ms, batch 64)\n" in block
    assert "\n## " not in block


@pytest.mark.parametrize("doc", ["docs/performance.md", "README.md"])
def test_make_bench_regenerates_the_repositorys_own_documents(doc, tmp_path):
    """`qgcam benchmark --update-doc docs/performance.md README.md` (make bench) can rewrite
    both documents: each has the markers once, and a synthetic run's tables replace the
    block while every line outside it is kept."""
    source = pathlib.Path(__file__).resolve().parents[2] / doc
    text = source.read_text()
    assert text.count(report.DOC_BEGIN) == 1 and text.count(report.DOC_END) == 1
    copy = tmp_path / "doc.md"
    copy.write_text(text)
    report.update_doc(str(copy), report.render_markdown(_results(**NOISY)))
    new = copy.read_text()
    before, _, after = text.partition(report.DOC_BEGIN)
    assert new.startswith(before + report.DOC_BEGIN + "\nMachine: Test CPU")
    assert new.endswith(report.DOC_END + after.partition(report.DOC_END)[2])
    assert "### Noisy maps (maps/s)" in new and "| hybrid (tf) ms |" in new


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
