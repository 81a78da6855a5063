"""The probe options of the impulse and HyRA monitors: the analysis layer's
:class:`~hyra_lightning.analysis.ProbeOptions`, with ``scale`` filled in from the module being trained."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from torch import nn

from hyra_lightning.analysis.impulse import ProbeOptions
from hyra_lightning.callbacks._base import discover_scale

__all__ = ["ProbeOptions", "probe_key", "resolve_probe_options"]

#: The options that name a monitor's checkpoint entry (the fields of the options before ``checks``/``dtype``
#: joined them, so that checkpoints written before keep their key).
_KEY_FIELDS = ("size", "amplitude", "background", "baseline", "mode", "scale", "in_channels")


def probe_key(options: ProbeOptions) -> dict[str, Any]:
    """The options that tell two monitors' checkpoint entries apart."""
    return {name: getattr(options, name) for name in _KEY_FIELDS}


def resolve_probe_options(
    options: ProbeOptions, pl_module: pl.LightningModule, model: nn.Module
) -> ProbeOptions:
    """``options`` with ``scale`` filled in by :func:`~hyra_lightning.callbacks._base.discover_scale` (when it
    can be found)."""
    return options.replace(scale=discover_scale(pl_module, model, options.scale))
