"""Keras model tier: the VQC layer, hybrid and twin builders, run directories, training
and BatchNorm recalibration."""
