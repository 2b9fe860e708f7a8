"""Figures tier: overlays and grids, the photo and speech figures of the paper."""
