"""Tests of the benchmark's report (qgcam_tf.bench.report): targets, Markdown, document."""

from __future__ import annotations

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


def test_targets_prefer_the_paired_tensorcircuit_ratio():
    """The tf+XLA / tensorcircuit-ng target uses the interleaved measurement where there is
    one (n = 10 here) and falls back to the ratio of the two rows (n = 12)."""
    r = {
        "vqc_fwd_bwd_ms": {
            "tf_xla": {"10": 4.0, "12": 12.0},
            "tensorcircuit": {"10": 2.0, "12": 10.0},
        },
        "tf_xla_over_tensorcircuit_paired": {"10": 1.4},
        "qgradcam_over_gradcam": {"tf": 1.6},
        "train_images_per_s": {"tfq": 1000.0, "tf": 4000.0},
        "pennylane_train_images_per_s": None,
    }
    t = report.targets_table(r)
    assert t["tf_xla_over_tensorcircuit_n10"] == {
        "value": 1.4,
        "goal": "<= 1.5",
        "met": True,
        "paired": True,
    }
    assert t["tf_xla_over_tensorcircuit_n12"]["value"] == pytest.approx(1.2)
    assert t["tf_xla_over_tensorcircuit_n12"]["paired"] is False
    assert t["qgradcam_tf_over_gradcam"] == {
        "value": 1.6,
        "goal": "<= 1.5",
        "met": False,
        "paired": True,
    }
    assert t["train_tfq_over_pennylane"] == {"value": None, "goal": ">= 10", "met": None}


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
    r = {
        "vqc_fwd_bwd_ms": {"tf_xla": {}, "tensorcircuit": {}},
        "qgradcam_over_gradcam": {"tf": 1.0},
        "train_images_per_s": {"tfq": 1.0, "tf": 1.0},
    }
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
    assert rendered.index(lines[0]) < rendered.index("## Targets (issues 7 and 14)")


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
        },
        "config": {"batch": 64, "depth": 2, "repeats": 7, "warmup": 2, "quick": False},
        "vqc_fwd_bwd_ms": {
            "tfq": {"4": 123.4, "6": 5.678},
            "tf": {"4": 1.5, "6": 0.25},
            "tf_xla": {"4": 1.0, "6": 2.0},
            "tensorcircuit": {"4": None, "6": None},
        },
        "vqc_fwd_bwd_cpu_ms": {
            "tfq": {"4": 200.0, "6": 9.0},
            "tf": {"4": 3.0, "6": 0.5},
            "tf_xla": {"4": 2.0, "6": 4.0},
            "tensorcircuit": {"4": None, "6": None},
        },
        "state_vector_lower_bound_ms": {"4": 0.0123, "6": 0.05},
        "train_images_per_s": {"tfq": 640.0, "classical": 6400.0},
        "train_step_ms": {"tfq": 100.0, "classical": 10.0},
        "pennylane_train_images_per_s": 32.0,
        "explain_maps_per_s": {"tf": 128.0, "classical": 256.0},
        "explain_batch_ms": {"tf": 500.0, "classical": 250.0},
        "qgradcam_over_gradcam": {"tf": 1.25},
        "export_explain_latency_ms": {"1": 3.5, "64": 150.0},
        "targets": {
            "qgradcam_tf_over_gradcam": {
                "value": 1.25,
                "goal": "<= 1.5",
                "met": True,
                "paired": True,
            },
            "train_tf_over_pennylane": {"value": None, "goal": ">= 20", "met": None},
            "train_tfq_over_pennylane": {"value": 20.0, "goal": ">= 10", "met": False},
        },
        "skipped": {"tensorcircuit": "peers not run"},
        "pennylane_version": "0.44.1",
    }
    r.update(changes)
    return r


def test_render_markdown_writes_each_table_row_by_hand():
    """The Markdown holds the rows a reader checks by hand: 3 significant digits below 100
    (2 decimals from 1, 3 below 1), whole numbers from 100, a dash for a missing value,
    the PennyLane step time from its rate (64 / 32 per s = 2000 ms), yes / no / dash."""
    lines = report.render_markdown(_results()).splitlines()
    expected = [
        "# qgcam benchmark",
        "Machine: Test CPU, 2 cores, 8.0 GB; TensorFlow 2.18.1, Python 3.11.7; "
        "2026-01-01 00:00:00 UTC, commit abc1234.",
        "Load average at start 1.0, 0.5, 0.3 (the machine may be shared: other processes "
        "slow every row alike).",
        "Batch 64, depth 2; medians of 7 timed calls after 2 warm-up calls.",
        "## VQC forward + backward (ms, batch 64)",
        "| executor | n=4 | n=6 |",
        "|---|---:|---:|",
        "| tfq (adjoint) | 123 | 5.68 |",
        "| tf | 1.50 | 0.250 |",
        "| tensorcircuit-ng + XLA | — | — |",
        "| state-vector lower bound | 0.012 | 0.050 |",
        "| tfq (adjoint) | 200 | 9.00 |",
        "## Training (MNIST default model, batch 64)",
        "| hybrid, tfq | 640 | 100 |",
        "| classical twin | 6400 | 10.00 |",
        "| hybrid, PennyLane 0.44.1 | 32.0 | 2000 |",
        "| QGrad-CAM, tf | 128 | 500 | 1.25 |",
        "| Grad-CAM, classical twin | 256 | 250 | 1.00 |",
        "| 1 | 3.50 |",
        "| 64 | 150 |",
        "| qgradcam_tf_over_gradcam (paired) | 1.25 | <= 1.5 | yes |",
        "| train_tf_over_pennylane | — | >= 20 | — |",
        "| train_tfq_over_pennylane | 20.00 | >= 10 | no |",
        "- tensorcircuit: peers not run",
        "Peers: pennylane 0.44.1 (own virtualenv, TensorFlow 2.18.1).",
    ]
    missing = [line for line in expected if line not in lines]
    assert missing == []
    assert lines.index("| tfq (adjoint) | 123 | 5.68 |") < lines.index("| tf | 1.50 | 0.250 |")
    assert not any("PennyLane backprop" in line for line in lines)  # no PennyLane VQC row


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


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
