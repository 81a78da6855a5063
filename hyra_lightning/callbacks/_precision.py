"""The trainer's precision context around a model's forward, for the FSDS monitor (which scores the images the
model produces as it is trained). Probes and HyRA do not use it: they measure in full precision
(:mod:`hyra_lightning.analysis.precision`)."""

from __future__ import annotations

import lightning.pytorch as pl
from torch import Tensor, nn

__all__ = ["PrecisionForward"]


class PrecisionForward(nn.Module):
    """Wrap ``model`` so that every forward runs inside the trainer's precision context.

    The wrapped model is a registered child, so ``modules()``, ``parameters()`` and train/eval flags reach it
    unchanged; the analysis layer sees the model's own parameter dtype and first convolution. Inputs go
    through the precision plugin's ``convert_input`` first (half weights need half inputs).

    Args:
        model: the SR network, ``(N, C, h, w) -> (N, C', s*h, s*w)``.
        trainer: the running trainer; its ``precision_plugin`` provides ``forward_context``.
    """

    def __init__(self, model: nn.Module, trainer: pl.Trainer) -> None:
        super().__init__()
        self.model = model
        self._plugin = trainer.precision_plugin
        self.training = model.training

    def forward(self, x: Tensor) -> Tensor:
        """Run ``model(x)`` in the trainer's precision context."""
        plugin = self._plugin
        x = plugin.convert_input(x)
        with plugin.forward_context():
            return self.model(x)
