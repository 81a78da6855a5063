"""Metrics as plain functions on tensors: FSDS and its frequency-similarity curve."""

from hyra_lightning.functional.frequency_similarity import (
    frequency_bands,
    frequency_similarity_curve,
    frequency_spectrum_distribution_similarity,
    fsds,
)

__all__ = [
    "frequency_bands",
    "frequency_similarity_curve",
    "frequency_spectrum_distribution_similarity",
    "fsds",
]
