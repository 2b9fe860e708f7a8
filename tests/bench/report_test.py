"""Tests of the benchmark's report (qgcam_tf.bench.report): targets, document update."""

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


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
