"""Super-resolution models: exact reference upsamplers and trainable networks."""

from hyra_lightning.models.edsr import EDSR
from hyra_lightning.models.espcn import ESPCN
from hyra_lightning.models.reference import BicubicUpsampler, SincUpsampler

__all__ = ["EDSR", "ESPCN", "BicubicUpsampler", "SincUpsampler"]
