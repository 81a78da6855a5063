"""Frequency-similarity monitor: FSDS and its per-band curve on the validation set, every validation epoch."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor
from typing_extensions import override

from hyra_lightning.batch import (
    describe_outputs,
    eval_dataloader,
    preds_target_from_outputs,
    split_batch,
    unrepeated_rows,
)
from hyra_lightning.callbacks._base import MonitorCallback, PrecisionForward, discover_scale, resolve_model
from hyra_lightning.callbacks.fsds_logging import fsds_scalars, write_fsds_band_map, write_fsds_curve
from hyra_lightning.checks import check_bool, check_choice, check_int, check_str
from hyra_lightning.functional import frequency_bands
from hyra_lightning.metrics import FrequencySpectrumDistributionSimilarity
from hyra_lightning.options import FSDS_REFERENCES, FSDSReference
from hyra_lightning.spectral import bicubic_upsample
from hyra_lightning.tags import FSDS_BAND_PATTERN, FSDS_VAL

__all__ = ["FrequencySimilarityMonitor"]

#: The ``CUSTOM SCALARS`` layout, written once per log directory.
_LAYOUT = {
    "FSDS": {
        "FSDS per frequency band (dB)": ["Multiline", [FSDS_BAND_PATTERN]],
        "FSDS (dB)": ["Multiline", [FSDS_VAL]],
    }
}


class FrequencySimilarityMonitor(MonitorCallback):
    r"""Accumulate FSDS over the validation set and log the score and its frequency curve every epoch.

    Over each validation run (never the sanity check) the monitor feeds every validation batch's SR and HR
    images to one :class:`~hyra_lightning.metrics.FrequencySpectrumDistributionSimilarity` and, at the end of
    the run, logs at ``trainer.global_step``:

    - ``fsds/val``: the mean per-image FSDS (dB, higher is better), to every logger;
    - ``fsds/band_<kk>`` (``kk`` = 00, 01, ...): the dataset curve, one scalar per band of radial frequency,
      to every logger;
    - ``fsds/curve``: a figure of the curve against frequency (Nyquist units) with the LR Nyquist frequency
      and, beside it, the curve of bicubic interpolation on the same validation images (``compare_bicubic``;
      computed during the first validation run and cached, in the checkpoint too; computed again when the
      number of validation batches or the shape of the first LR batch changes), to every logger through its sink (TensorBoard images,
      W&B images with a caption plus a W&B line plot ``fsds/curve_plot``, MLflow step-indexed images, PNG
      files for a ``CSVLogger``, ...);
    - ``fsds/band_map``: an image of FSDS per band (rows, lowest frequency at the bottom) against validation
      step (columns), with a colour bar: the order in which the network learns the frequencies
      (``log_band_map``; the history is kept in the checkpoint);
    - once per log directory (also after resuming into a new one), a TensorBoard custom-scalars layout
      (``CUSTOM SCALARS`` tab) with one multi-line chart of all ``fsds/band_*`` tags and one of ``fsds/val``.

    In ``fit`` a step is logged once (a validation repeated at the step a fit resumes from is not logged
    again). ``trainer.validate`` logs every run, also several at one step (``fit`` then ``validate``, or
    ``validate`` twice): TensorBoard keeps each point, the band map gets one column per run.

    The validation batches are accumulated on the device without any host synchronisation; the values are
    read back once per validation run, and the figure is drawn and written on a background thread (see
    ``blocking``).

    Where SR and HR come from: what ``validation_step`` returned, when it is a mapping with tensors under
    ``"preds"`` and ``"target"`` or a ``(preds, target)`` pair; otherwise the monitor runs the model on the
    batch itself (in the trainer's precision context), with the LR images and HR images found by ``lr_key``
    and ``hr_key`` in mapping batches and by position in ``(lr, hr)`` sequences. When ``validation_step``
    returned something else (a loss, ``(loss, sr)``, images of two shapes), the monitor warns once and runs
    the model. A model whose ``forward`` is not LR -> SR makes the monitor warn once with the remedy
    (``submodule=``) and switch itself off; training goes on. Batches of every validation dataloader are
    pooled.

    The bicubic curve is :func:`~hyra_lightning.spectral.bicubic_upsample` of the batch's LR images (what
    ``SuperResolutionModule.bicubic_baseline_metrics`` scores), centre-cropped to the HR images the model's
    output is scored against when those were cropped (``crop_border``).

    The metric lives on the module's device (moved in ``setup``) and is reset after every validation run.
    Under DDP every rank updates it with its own batches and ``compute`` syncs the sums across ranks, so the
    logged value is the one of the whole validation set, equal to one process's; only global rank zero
    writes. Images that a padding distributed sampler repeats (Lightning's default when the images do not
    divide by the processes) are left out, so none counts twice; when a sampler repeats images in an order
    that cannot be followed, the monitor warns once (use
    :class:`~hyra_lightning.data.UnpaddedDistributedSampler`).

    Args:
        num_bands: number of equal bands of radial frequency in [0, sqrt(2)] for the curve.
        reference: image whose integrated spectrum is the denominator: ``"target"`` (HR, the paper's
            equation) or ``"preds"`` (SR, the paper's Table 1 script).
        lr_key: key of the LR images in mapping batches (used only when the monitor runs the model).
        hr_key: key of the HR images in mapping batches (used only when ``validation_step`` returns neither
            form above).
        scale: upsampling factor for the LR Nyquist line of the figure; ``None`` reads an integer attribute
            ``scale`` of the LightningModule (no line when there is none).
        log_curve: log the ``fsds/curve`` figure.
        compare_bicubic: draw bicubic interpolation's curve on the same images in ``fsds/curve``.
        log_band_map: log the ``fsds/band_map`` image.
        submodule: dotted name of the SR network inside the LightningModule used when the monitor runs the
            model itself; ``None`` uses the LightningModule's own ``forward``.
        blocking: draw and write in the training thread (for debugging); by default a background thread does
            it.

    Raises:
        ValueError: for an argument of the wrong type or out of range.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> from hyra_lightning.callbacks import FrequencySimilarityMonitor
        >>> monitor = FrequencySimilarityMonitor(num_bands=8)
        >>> monitor.metric.num_bands
        8
    """

    def __init__(
        self,
        num_bands: int = 16,
        reference: FSDSReference = "target",
        lr_key: str = "lr",
        hr_key: str = "hr",
        scale: int | None = None,
        log_curve: bool = True,
        compare_bicubic: bool = True,
        log_band_map: bool = True,
        submodule: str | None = None,
        blocking: bool = False,
    ) -> None:
        super().__init__()
        check_int("num_bands", num_bands)
        check_bool("blocking", blocking)
        check_choice("reference", reference, FSDS_REFERENCES)
        check_str("lr_key", lr_key)
        check_str("hr_key", hr_key)
        check_int("scale", scale, optional=True)
        check_bool("log_curve", log_curve)
        check_bool("compare_bicubic", compare_bicubic)
        check_bool("log_band_map", log_band_map)
        check_str("submodule", submodule, optional=True)
        self.num_bands = num_bands
        self.reference = reference
        self.lr_key = lr_key
        self.hr_key = hr_key
        self.scale = scale
        self.log_curve = log_curve
        self.compare_bicubic = compare_bicubic
        self.log_band_map = log_band_map
        self.submodule = submodule
        self.blocking = blocking
        #: The metric the validation batches are accumulated in (one per monitor).
        self.metric = FrequencySpectrumDistributionSimilarity(num_bands=num_bands, reference=reference)
        #: ``trainer.global_step`` of the last logged validation run, or ``None``.
        self.last_step: int | None = None
        #: The last logged values: ``{"fsds/val": ..., "fsds/band_00": ..., ...}``.
        self.last_values: dict[str, float] = {}
        #: Bicubic interpolation's curve on the validation set, once known (host, float64), or ``None``.
        self.bicubic_curve: Tensor | None = None
        #: ``(steps, curves)`` of every logged validation run, for ``fsds/band_map``.
        self.history: tuple[list[int], list[list[float]]] = ([], [])
        self._bicubic_metric = FrequencySpectrumDistributionSimilarity(
            num_bands=num_bands, reference=reference
        )
        self._bicubic_key: tuple[Any, ...] | None = None
        self._bicubic_run = False
        self._layout_dirs: set[str] = set()
        self._num_updates = 0

    def _state_key_fields(self) -> dict[str, Any]:
        return {"num_bands": self.num_bands, "reference": self.reference}

    # ---------------------------------------------------------------------------------------------- hooks

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        # the strategy moves the module to this device right after `setup`
        self.metric.to(trainer.strategy.root_device)
        self._bicubic_metric.to(trainer.strategy.root_device)

    @override
    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.metric.reset()
        self._bicubic_metric.reset()
        self._bicubic_run = False
        self._num_updates = 0

    @override
    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if trainer.sanity_checking or self.disabled or not self._active(trainer):
            return
        pair = preds_target_from_outputs(outputs)
        if pair is None:
            if outputs is not None:
                self._warn_once(
                    "outputs",
                    f"`validation_step` returned {describe_outputs(outputs)}, not SR and HR image batches of one"
                    " shape; the monitor runs the model on the batch instead (one more forward pass per batch)."
                    " Return {'preds': sr, 'target': hr} or (sr, hr) from `validation_step` to score its SR"
                    " images.",
                )
            pair = self._run_model(trainer, pl_module, batch)
            if pair is None:
                return
        preds, target = pair
        rows = self._unrepeated_rows(trainer, batch_idx, dataloader_idx, preds.shape[0])
        if self.metric.device != preds.device:
            self.metric.to(preds.device)
        target = target.detach().to(preds.device)[:rows]
        if rows:
            self.metric.update(preds.detach()[:rows], target)
            self._num_updates += 1
        if self.compare_bicubic and self.log_curve:
            self._update_bicubic(trainer, pl_module, batch, batch_idx, dataloader_idx, target)

    def _unrepeated_rows(self, trainer: pl.Trainer, batch_idx: int, dataloader_idx: int, rows: int) -> int:
        """How many leading rows of this batch are not repeats added by a padding distributed sampler."""
        if trainer.world_size == 1:
            return rows
        loader = eval_dataloader(trainer.val_dataloaders, dataloader_idx)
        kept, unknown = unrepeated_rows(loader, batch_idx, rows)
        if unknown is not None:
            self._warn_once("padding", unknown.warning("validation"))
        return kept

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.disabled or not self._active(trainer):
            return
        if self._num_updates == 0 and trainer.world_size == 1:
            return  # nothing seen (for example a validation run without batches)
        step = trainer.global_step
        # every rank computes: torchmetrics syncs the states across ranks here
        value, (_, curve) = self.metric.compute_with_curve()
        parts = [value.reshape(1).to(curve.dtype), curve]
        if self._bicubic_run:
            _, (_, bicubic) = self._bicubic_metric.compute_with_curve()
            parts.append(bicubic.to(curve.dtype))
        self.metric.reset()
        self._bicubic_metric.reset()
        self._num_updates = 0
        # The one device-to-host copy of the validation run.
        host = torch.cat(parts).to("cpu", torch.float64)
        if self._bicubic_run:
            self.bicubic_curve = host[1 + self.num_bands :].clone()
        fitting = trainer.state.fn == "fit"
        if fitting and step == self.last_step:
            return  # a validation repeated at the step a fit resumed from
        self.last_step = step
        band_values = host[1 : 1 + self.num_bands].tolist()
        values = fsds_scalars(float(host[0]), band_values)
        self.last_values = values
        steps, curves = self.history
        steps.append(step)
        curves.append(band_values)
        if not trainer.is_global_zero:
            return
        layout_sinks = [
            sink
            for sink in self.sinks
            if sink.location is not None and sink.location not in self._layout_dirs
        ]
        self._layout_dirs.update(sink.location for sink in layout_sinks)  # type: ignore[misc]
        scale = None
        if self.log_curve or self.log_band_map:
            scale = discover_scale(pl_module, resolve_model(pl_module, self.submodule), self.scale)
        freqs = frequency_bands(self.num_bands, dtype=torch.float64)[0]  # made on the host, not copied
        bicubic = self.bicubic_curve if self.compare_bicubic else None
        history = (list(steps), [list(c) for c in curves]) if self.log_band_map else None

        def media() -> None:
            for sink in layout_sinks:
                sink.log_layout(_LAYOUT)
            if self.log_curve:
                write_fsds_curve(
                    self.sinks,
                    step,
                    freqs,
                    host[1 : 1 + self.num_bands],
                    value=float(host[0]),
                    bicubic=bicubic,
                    scale=scale,
                    ax=self._curve_axis(),
                )
            if history is not None:
                write_fsds_band_map(self.sinks, *history, scale=scale)

        self._submit(trainer, step, lambda: values, media)

    def _curve_axis(self) -> Any:
        """The axis of the ``fsds/curve`` figure, built once per process (writer thread)."""
        from hyra_lightning.analysis.figures import new_figure

        fig = self.cache.get("curve")
        if fig is None:
            fig = self.cache["curve"] = new_figure(6.4, 4.8)
            fig.add_subplot(1, 1, 1)
        return fig.axes[0]

    @override
    def _warm_up(self) -> None:
        from hyra_lightning.callbacks.sinks.raster import figure_to_array

        if self.log_curve and self.sinks and "curve" not in self.cache:
            ax = self._curve_axis()
            ax.plot([0.0, 1.0], [0.0, 1.0])
            figure_to_array(ax.figure)

    @override
    def state_dict(self) -> dict[str, Any]:
        return {
            "last_step": self.last_step,
            "layout_dirs": sorted(self._layout_dirs),
            "history_steps": list(self.history[0]),
            "history_curves": [list(c) for c in self.history[1]],
            "bicubic_curve": None if self.bicubic_curve is None else self.bicubic_curve.tolist(),
            "bicubic_key": None if self._bicubic_key is None else list(self._bicubic_key),
        }

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_step = state_dict.get("last_step")
        self._layout_dirs = set(state_dict.get("layout_dirs", ()))
        self.history = (
            [int(s) for s in state_dict.get("history_steps", ())],
            [list(c) for c in state_dict.get("history_curves", ())],
        )
        bicubic = state_dict.get("bicubic_curve")
        self.bicubic_curve = None if bicubic is None else torch.tensor(bicubic, dtype=torch.float64)
        key = state_dict.get("bicubic_key")
        self._bicubic_key = None if key is None else _as_key(key)

    # ---------------------------------------------------------------------------------------------- work

    def _run_model(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any
    ) -> tuple[Tensor, Tensor] | None:
        """SR and HR for a batch whose ``validation_step`` returned neither form: run the model on its LR."""
        try:
            lr, hr = split_batch(batch, self.lr_key, self.hr_key)
            if hr is None:
                raise ValueError(
                    f"Expected HR images under `hr_key`={self.hr_key!r} or in second position, found none."
                )
        except ValueError as err:
            self._disable(
                "`validation_step` returned neither {'preds': sr, 'target': hr} nor (sr, hr), and the batch"
                f" could not be read ({err})",
                "Return one of those from `validation_step`, or set `lr_key=`/`hr_key=`.",
            )
            return None
        model = PrecisionForward(resolve_model(pl_module, self.submodule), trainer)
        try:
            with torch.no_grad():
                preds = model(lr)
        except Exception as err:  # the forward is not LR -> SR: report once, switch off, keep training
            self._disable(
                f"running the model on the LR images failed ({type(err).__name__}: {err})",
                "Return {'preds': sr, 'target': hr} or (sr, hr) from `validation_step`, or pass `submodule=`"
                " naming the SR network (LR -> SR) inside the LightningModule.",
            )
            return None
        if not (isinstance(preds, Tensor) and preds.shape == hr.shape):
            got = tuple(preds.shape) if isinstance(preds, Tensor) else type(preds).__name__
            self._disable(
                f"the model's output {got} does not have the HR shape {tuple(hr.shape)}",
                "Pass `submodule=` naming the SR network (LR -> SR) inside the LightningModule, or return"
                " {'preds': sr, 'target': hr} from `validation_step`.",
            )
            return None
        return preds, hr

    def _update_bicubic(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
        target: Tensor,
    ) -> None:
        """Score bicubic on this batch when the validation set is new (its first run, or it changed)."""
        try:
            lr, _ = split_batch(batch, self.lr_key, self.hr_key)
        except ValueError:
            lr = None
        if batch_idx == 0 and dataloader_idx == 0:
            key = _as_key(
                [
                    *(int(n) if n != float("inf") else -1 for n in trainer.num_val_batches),
                    *(() if lr is None else lr.shape),
                ]
            )
            self._bicubic_run = key != self._bicubic_key
            if self._bicubic_run:
                self._bicubic_key = key
                self.bicubic_curve = None
        if not self._bicubic_run or lr is None or target.shape[0] == 0:
            return
        scale = discover_scale(pl_module, resolve_model(pl_module, self.submodule), self.scale)
        if scale is None:
            scale = max(1, round(target.shape[-1] / lr.shape[-1]))
        up = bicubic_upsample(lr.detach()[: target.shape[0]].to(target.device), scale)
        dh, dw = up.shape[-2] - target.shape[-2], up.shape[-1] - target.shape[-1]
        if dh < 0 or dw < 0 or dh % 2 or dw % 2 or up.shape[:2] != target.shape[:2]:
            self._warn_once(
                "bicubic",
                f"no bicubic curve: bicubic x{scale} of LR {tuple(lr.shape)} is {tuple(up.shape)}, which is not"
                f" the scored HR {tuple(target.shape)} or a centred crop of it. Pass `scale=`, or"
                " `compare_bicubic=False`.",
            )
            self._bicubic_run = False
            return
        up = up[..., dh // 2 : up.shape[-2] - dh // 2, dw // 2 : up.shape[-1] - dw // 2]
        if self._bicubic_metric.device != target.device:
            self._bicubic_metric.to(target.device)
        self._bicubic_metric.update(up, target)


def _as_key(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values)
