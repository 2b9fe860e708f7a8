"""Evaluation tier: faithfulness metrics, the standard metric set, sanity checks, summary
tables, noise robustness, attention."""

# The metrics of `qgcam evaluate` by name, known without importing TensorFlow (the CLI's
# choices); qgcam_tf.evaluate.faithfulness.METRICS is this tuple.
METRIC_NAMES = (
    "deletion",
    "insertion",
    "avg_drop",
    "increase",
    "road",
    "stability",
    "faithfulness_correlation",
    "pixel_flipping",
    "max_sensitivity",
    "avg_sensitivity",
    "sparseness",
    "complexity",
    "randomisation",
    "region_perturbation",
    "localisation",
)
