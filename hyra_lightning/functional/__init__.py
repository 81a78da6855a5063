"""Metrics and losses as plain functions on tensors: FSDS, its frequency-similarity curve, frequency losses."""

from hyra_lightning.functional.frequency_losses import fft_l1_loss, focal_frequency_loss, fsds_loss
from hyra_lightning.functional.frequency_similarity import (
    frequency_bands,
    frequency_similarity_curve,
    frequency_spectrum_distribution_similarity,
    fsds,
)

__all__ = [
    "fft_l1_loss",
    "focal_frequency_loss",
    "frequency_bands",
    "frequency_similarity_curve",
    "frequency_spectrum_distribution_similarity",
    "fsds",
    "fsds_loss",
]
