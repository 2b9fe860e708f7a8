"""Noise tier: noise models, hardware presets, noisy circuits and executors (imports
``quantum`` only)."""
