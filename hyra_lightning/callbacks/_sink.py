"""Plumbing shared by the three monitors: where to write, how to reach the model, how to read a batch.

Nothing here computes a quantity of the paper; the maths lives in :mod:`hyra_lightning.analysis` and
:mod:`hyra_lightning.metrics`. This module decides *where* the monitors write and *how* they talk to the
trainer:

- :class:`MonitorSink` writes scalars to every logger and images, figures and the custom-scalars layout to
  TensorBoard, on global rank zero only; it emits the "no logger" and "images skipped" warnings once per
  monitor.
- :class:`PrecisionForward` runs a model's forward inside the trainer's precision context (autocast for
  ``16-mixed``/``bf16-mixed``, half or double weights for ``*-true``): the FSDS monitor scores the images the
  model produces as it is trained. Probes and HyRA do not use it: they measure in full precision
  (:mod:`hyra_lightning.analysis.precision`).
- :func:`split_batch` and :func:`preds_target_from_outputs` find LR/HR images in a batch and SR/HR images in
  what ``validation_step`` returned.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks.callback import Callback
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor, nn
from typing_extensions import override

__all__ = [
    "MonitorCallback",
    "MonitorSink",
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


# --------------------------------------------------------------------------------------------------------
# what the three monitors share as callbacks
# --------------------------------------------------------------------------------------------------------


class MonitorCallback(Callback):
    """Base of the three monitors: a checkpoint key built once from their options, and the ``submodule`` check.

    Subclasses set ``self.submodule`` and return the options that tell two instances apart from
    :meth:`_state_key_fields`.
    """

    submodule: str | None

    def _state_key_fields(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    @override
    def state_key(self) -> str:
        # Lightning reads the key at every hook call: build it once (the options it names never change).
        key = self.__dict__.get("_state_key")
        if key is None:
            key = self.__dict__["_state_key"] = self._generate_state_key(**self._state_key_fields())
        return key

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        resolve_model(pl_module, self.submodule)  # fail early on a wrong `submodule`


# --------------------------------------------------------------------------------------------------------
# the sink
# --------------------------------------------------------------------------------------------------------


class MonitorSink:
    """Where one monitor writes.

    - scalars: every logger of the trainer, through ``logger.log_metrics(metrics, step)``;
    - images and figures: every :class:`~lightning.pytorch.loggers.TensorBoardLogger`, through its
      ``experiment`` (a ``SummaryWriter``); when the trainer has loggers but no TensorBoard logger, they are
      skipped with one warning;
    - with no logger at all, one warning, and :meth:`active` is ``False`` so the monitor does nothing.

    Nothing is written and no ``experiment`` is touched on ranks other than global rank zero.

    Args:
        owner: the monitor's class name, used in warnings.
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._warned_no_logger = False
        self._warned_media = False

    def active(self, trainer: pl.Trainer) -> bool:
        """Whether the trainer has a logger; warns once (rank zero) when it has none."""
        if trainer.loggers:
            return True
        if not self._warned_no_logger:
            self._warned_no_logger = True
            rank_zero_warn(
                f"{self.owner} has nothing to write to: the Trainer has no logger (`logger=False`)."
                f" {self.owner} does nothing in this run. Pass `logger=TensorBoardLogger(...)` to see its output.",
                category=UserWarning,
            )
        return False

    @staticmethod
    def writers(trainer: pl.Trainer) -> list[Any]:
        """The ``SummaryWriter`` of every TensorBoard logger, on global rank zero; ``[]`` elsewhere."""
        if not trainer.is_global_zero:
            return []
        return [lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]

    def wants_media(self, trainer: pl.Trainer) -> bool:
        """Whether images and figures should be rendered here: global rank zero with a TensorBoard logger.

        Warns once when the trainer has loggers but none of them is a TensorBoard logger.
        """
        if not trainer.is_global_zero or not trainer.loggers:
            return False
        if any(isinstance(lg, TensorBoardLogger) for lg in trainer.loggers):
            return True
        if not self._warned_media:
            self._warned_media = True
            names = ", ".join(type(lg).__name__ for lg in trainer.loggers)
            rank_zero_warn(
                f"{self.owner} logs images and figures to TensorBoard only, and the Trainer's loggers ({names})"
                " include no TensorBoardLogger: images and figures are skipped, scalars are logged.",
                category=UserWarning,
            )
        return False

    def log_scalars(self, trainer: pl.Trainer, metrics: Mapping[str, float], step: int) -> None:
        """Write ``metrics`` (tag -> float) at ``step`` to every logger, on global rank zero.

        Non-finite values (NaN: an empty frequency band or a constant image; +inf: identical images) are
        left out, as :meth:`FrequencySpectrumDistributionSimilarity.log_to_tensorboard` does, since charts
        cannot show them.
        """
        if not trainer.is_global_zero:
            return
        values = {tag: float(value) for tag, value in metrics.items() if math.isfinite(float(value))}
        if not values:
            return
        for logger in trainer.loggers:
            logger.log_metrics(dict(values), step=step)

    def log_image(self, trainer: pl.Trainer, tag: str, image: Tensor, step: int) -> None:
        """Write a ``3 x H x W`` float image in [0, 1] at ``step`` to every TensorBoard logger (rank zero)."""
        writers = self.writers(trainer)
        if not writers:
            return
        image = image.detach().to("cpu", torch.float32).clamp(0.0, 1.0)
        for writer in writers:
            writer.add_image(tag, image, global_step=step, dataformats="CHW")

    def log_figure(self, trainer: pl.Trainer, tag: str, fig: Figure, step: int) -> None:
        """Rasterise ``fig`` and write it as the image ``tag`` (as ``SummaryWriter.add_figure`` does); the
        figure is closed in every case."""
        image = render_figure(fig)
        self.log_image(trainer, tag, image, step)

    def log_custom_scalars(self, trainer: pl.Trainer, layout: dict[str, dict[str, list[Any]]]) -> None:
        """Write a TensorBoard custom-scalars layout (``SummaryWriter.add_custom_scalars``) on rank zero."""
        for writer in self.writers(trainer):
            writer.add_custom_scalars(layout)
