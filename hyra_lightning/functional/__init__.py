"""Metrics and losses as plain functions on tensors: FSDS and its frequency-similarity curve, the frequency losses;
the image scores of SR papers (PSNR, valid-window SSIM, BT.601 luma, border crop)."""

from hyra_lightning.functional.frequency_losses import fft_l1_loss, focal_frequency_loss, fsds_loss
from hyra_lightning.functional.frequency_similarity import (
    frequency_bands,
    frequency_similarity_curve,
    frequency_spectrum_distribution_similarity,
    fsds,
)
from hyra_lightning.functional.image_scores import crop_border_pixels, image_scores, rgb_to_y, ssim_valid

__all__ = [
    "crop_border_pixels",
    "fft_l1_loss",
    "focal_frequency_loss",
    "frequency_bands",
    "frequency_similarity_curve",
    "frequency_spectrum_distribution_similarity",
    "fsds",
    "fsds_loss",
    "image_scores",
    "rgb_to_y",
    "ssim_valid",
]
