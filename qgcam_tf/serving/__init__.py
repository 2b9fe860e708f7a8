"""Serving tier: SavedModel export on the pure-TF executor, TF Serving request builders."""
