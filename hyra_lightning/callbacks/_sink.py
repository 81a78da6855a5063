"""Plumbing shared by the three monitors: how to reach the model, how to read a batch, figures without pyplot.

Nothing here computes a quantity of the paper; the maths lives in :mod:`hyra_lightning.analysis` and
:mod:`hyra_lightning.metrics`. Where the monitors write is decided by their base class
(:mod:`hyra_lightning.callbacks._base`), the background writer (:mod:`hyra_lightning.callbacks._writer`) and
the sinks (:mod:`hyra_lightning.callbacks.sinks`). Here:

- :class:`PrecisionForward` runs a model's forward inside the trainer's precision context (autocast for
  ``16-mixed``/``bf16-mixed``, half or double weights for ``*-true``): the FSDS monitor scores the images the
  model produces as it is trained. Probes and HyRA do not use it: they measure in full precision
  (:mod:`hyra_lightning.analysis.precision`).
- :func:`split_batch` and :func:`preds_target_from_outputs` find LR/HR images in a batch and SR/HR images in
  what ``validation_step`` returned.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor, nn

__all__ = [
    "PrecisionForward",
    "ProbeOptions",
    "check_bool",
    "check_optional_positive_int",
    "check_positive_int",
    "check_probe_options",
    "detach_copy",
    "discover_scale",
    "new_figure",
    "preds_target_from_outputs",
    "render_figure",
    "resolve_model",
    "split_batch",
]


# --------------------------------------------------------------------------------------------------------
# argument checks (run in the monitors' __init__)
# --------------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------------------


def resolve_model(pl_module: pl.LightningModule, submodule: str | None) -> nn.Module:
    """The network a monitor probes: ``pl_module`` itself, or its submodule at the dotted path ``submodule``.

    Raises:
        ValueError: if ``submodule`` names no submodule of ``pl_module``.
    """
    if submodule is None:
        return pl_module
    try:
        return pl_module.get_submodule(submodule)
    except AttributeError as err:
        names = [name for name, _ in pl_module.named_children()]
        raise ValueError(
            f"Expected `submodule` to name a submodule of {type(pl_module).__name__} (children: {names}),"
            f" got {submodule!r}."
        ) from err


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


def discover_scale(pl_module: pl.LightningModule, model: nn.Module, given: int | None) -> int | None:
    """The upsampling factor: ``given`` if set, else an integer attribute ``scale`` of ``model`` or of
    ``pl_module``, else ``None`` (the analysis layer then infers it from the output size)."""
    if given is not None:
        return given
    for owner in (model, pl_module):
        value = getattr(owner, "scale", None)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    return None


# --------------------------------------------------------------------------------------------------------
# batches and validation outputs
# --------------------------------------------------------------------------------------------------------


def _is_image_batch(x: Any) -> bool:
    return isinstance(x, Tensor) and x.ndim == 4 and x.is_floating_point()


def split_batch(batch: Any, lr_key: str = "lr", hr_key: str = "hr") -> tuple[Tensor, Tensor | None]:
    """Find the LR images and (when present) the HR images in a batch.

    A mapping gives ``batch[lr_key]`` and ``batch.get(hr_key)``; a tuple or list gives ``(lr, hr)`` by
    position (``hr`` is ``None`` for a one-element sequence); a lone tensor is LR without HR.

    Args:
        batch: the batch as the dataloader yields it.
        lr_key: key of the LR images ``(N, C, h, w)`` in a mapping batch.
        hr_key: key of the HR images ``(N, C, s*h, s*w)`` in a mapping batch.

    Returns:
        ``(lr, hr)``, ``hr`` possibly ``None``.

    Raises:
        ValueError: when no ``(N, C, h, w)`` floating LR tensor can be found.

    Example:
        >>> import torch
        >>> lr, hr = split_batch({"lr": torch.zeros(2, 3, 8, 8), "hr": torch.zeros(2, 3, 16, 16)})
        >>> tuple(lr.shape), tuple(hr.shape)
        ((2, 3, 8, 8), (2, 3, 16, 16))
    """
    hr: Any = None
    if isinstance(batch, Mapping):
        if lr_key not in batch:
            raise ValueError(
                f"Expected the batch to hold the LR images under `lr_key`={lr_key!r}, got keys {list(batch)}."
            )
        lr, hr = batch[lr_key], batch.get(hr_key)
    elif isinstance(batch, Sequence) and not isinstance(batch, (str, bytes)):
        if len(batch) == 0:
            raise ValueError("Expected a batch `(lr, hr)` or `(lr,)`, got an empty sequence.")
        lr = batch[0]
        hr = batch[1] if len(batch) > 1 else None
    else:
        lr = batch
    if not _is_image_batch(lr):
        got = tuple(lr.shape) if isinstance(lr, Tensor) else type(lr).__name__
        raise ValueError(f"Expected the LR images to be a floating (N, C, h, w) tensor, got {got}.")
    if hr is not None and not _is_image_batch(hr):
        hr = None
    return lr, hr


def preds_target_from_outputs(outputs: Any) -> tuple[Tensor, Tensor] | None:
    """SR and HR images from what ``validation_step`` returned, or ``None`` if it returned neither form.

    Accepted: a mapping with tensors under ``"preds"`` and ``"target"``, or a ``(preds, target)`` pair.
    """
    if isinstance(outputs, Mapping):
        preds, target = outputs.get("preds"), outputs.get("target")
    elif isinstance(outputs, (tuple, list)) and len(outputs) == 2:
        preds, target = outputs
    else:
        return None
    if isinstance(preds, Tensor) and isinstance(target, Tensor):
        return preds, target
    return None


def detach_copy(x: Tensor) -> Tensor:
    """A CPU copy of ``x`` that is a normal tensor even when ``x`` was made under ``torch.inference_mode``."""
    with torch.inference_mode(False):
        return x.detach().to("cpu", copy=True).clone()


# --------------------------------------------------------------------------------------------------------
# matplotlib without pyplot state
# --------------------------------------------------------------------------------------------------------


def new_figure(width: float = 5.0, height: float = 3.2, dpi: int = 100) -> Figure:
    """A matplotlib ``Figure`` on an Agg canvas, unknown to ``pyplot`` (nothing to leak)."""
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def render_figure(fig: Figure) -> Tensor:
    """Rasterise ``fig`` to a ``3 x H x W`` float image in [0, 1] and close it.

    Works for figures made by :func:`new_figure` and for ``pyplot`` figures (which are closed in ``pyplot``
    too, so that no figure accumulates in a long run).
    """
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba(), dtype=np.uint8)
    image = torch.from_numpy(np.ascontiguousarray(rgba[..., :3].transpose(2, 0, 1))).float() / 255.0
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
    return image
