"""Training losses as ``nn.Module`` objects: FSDS, FFT-L1 and the focal frequency loss.

Their functional forms are in :mod:`hyra_lightning.functional` (``fsds_loss``, ``fft_l1_loss``,
``focal_frequency_loss``); :class:`~hyra_lightning.module.SuperResolutionModule` combines them with a pixel
loss by name (``loss={"l1": 1.0, "fsds": 0.05}``).
"""

from hyra_lightning.losses.frequency_losses import (
    FFTL1Loss,
    FocalFrequencyLoss,
    FSDSLoss,
    loss_term,
    loss_weights,
)

__all__ = ["FFTL1Loss", "FSDSLoss", "FocalFrequencyLoss", "loss_term", "loss_weights"]
