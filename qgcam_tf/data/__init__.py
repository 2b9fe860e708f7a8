"""Datasets: MNIST (embedded default), Dogs vs Cats photos, speech in noise."""
