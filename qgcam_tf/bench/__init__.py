"""Benchmark tier: the suite behind ``qgcam benchmark`` and its report."""
