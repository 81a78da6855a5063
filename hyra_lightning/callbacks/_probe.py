"""The probe options of the impulse and HyRA monitors and the monitors' small argument checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from hyra_lightning.callbacks._base import discover_scale

if TYPE_CHECKING:
    import lightning.pytorch as pl
    from torch import nn

__all__ = [
    "ProbeOptions",
    "check_bool",
    "check_optional_positive_int",
    "check_positive_int",
    "check_probe_options",
]


def check_positive_int(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is an ``int`` (not a ``bool``) of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Expected `{name}` to be a positive integer, got {value!r}.")


def check_optional_positive_int(name: str, value: Any) -> None:
    """Like :func:`check_positive_int`, also accepting ``None``."""
    if value is not None:
        check_positive_int(name, value)


def check_bool(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a ``bool``."""
    if not isinstance(value, bool):
        raise ValueError(f"Expected `{name}` to be a bool, got {value!r}.")


@dataclass(frozen=True)
class ProbeOptions:
    """The options of :func:`hyra_lightning.analysis.impulse_response` a monitor probes with.

    Two monitors whose options are equal measure the same response, so one can reuse the other's.
    """

    size: int = 33
    amplitude: float = 1.0
    background: float = 0.0
    baseline: bool = True
    mode: str = "cross_channel"
    scale: int | None = None
    in_channels: int | None = None

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``impulse_response`` / ``hyra_decompose``."""
        return asdict(self)

    def resolved(self, pl_module: pl.LightningModule, model: nn.Module) -> ProbeOptions:
        """These options with ``scale`` filled in by :func:`discover_scale` (when it can be found)."""
        return replace(self, scale=discover_scale(pl_module, model, self.scale))


def check_probe_options(options: ProbeOptions) -> None:
    """Validate probe options at construction, with the analysis layer's own checks and messages."""
    from hyra_lightning.analysis.impulse import check_probe_args

    check_probe_args(
        options.size, options.amplitude, options.background, options.mode, options.scale, options.in_channels
    )
    check_bool("baseline", options.baseline)
