"""Frequency-similarity monitor: FSDS and its per-band curve on the validation set, every validation epoch."""

from __future__ import annotations

from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import Tensor
from typing_extensions import override

from hyra_lightning.batch import preds_target_from_outputs, split_batch
from hyra_lightning.callbacks._base import MonitorCallback, discover_scale, resolve_model
from hyra_lightning.callbacks._precision import PrecisionForward
from hyra_lightning.callbacks._probe import check_bool, check_optional_positive_int, check_positive_int
from hyra_lightning.functional import frequency_bands
from hyra_lightning.metrics import FrequencySpectrumDistributionSimilarity, band_tag

__all__ = ["FrequencySimilarityMonitor"]

#: The ``CUSTOM SCALARS`` layout written once per run.
_LAYOUT = {
    "FSDS": {
        "FSDS per frequency band (dB)": ["Multiline", [r"fsds/band_\d+"]],
        "FSDS (dB)": ["Multiline", ["fsds/val"]],
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
    - ``fsds/curve``: a figure of the curve against frequency (Nyquist units) with the LR Nyquist frequency,
      to every logger through its sink (TensorBoard images, PNG files for a ``CSVLogger``, ...);
    - once per run, a TensorBoard custom-scalars layout (``CUSTOM SCALARS`` tab) with one multi-line chart of
      all ``fsds/band_*`` tags and one of ``fsds/val``.

    The validation batches are accumulated on the device without any host synchronisation; the values are
    read back once per validation run, and the figure is drawn and written on a background thread (see
    ``blocking``).

    Where SR and HR come from: what ``validation_step`` returned, when it is a mapping with tensors under
    ``"preds"`` and ``"target"`` or a ``(preds, target)`` pair; otherwise the monitor runs the model on the
    batch itself (in the trainer's precision context), with the LR images and HR images found by ``lr_key``
    and ``hr_key`` in mapping batches and by position in ``(lr, hr)`` sequences. Batches of every validation
    dataloader are pooled.

    The metric lives on the module's device (moved in ``setup``) and is reset after every validation run.
    Under DDP every rank updates it with its own batches and ``compute`` syncs the sums across ranks, so the
    logged value is the one of the whole validation set; only global rank zero writes.

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
        reference: Literal["target", "preds"] = "target",
        lr_key: str = "lr",
        hr_key: str = "hr",
        scale: int | None = None,
        log_curve: bool = True,
        submodule: str | None = None,
        blocking: bool = False,
    ) -> None:
        super().__init__()
        check_positive_int("num_bands", num_bands)
        check_bool("blocking", blocking)
        if reference not in ("target", "preds"):
            raise ValueError(f"Expected `reference` to be 'target' or 'preds', got {reference!r}.")
        for name, key in (("lr_key", lr_key), ("hr_key", hr_key)):
            if not isinstance(key, str) or not key:
                raise ValueError(f"Expected `{name}` to be a non-empty string, got {key!r}.")
        check_optional_positive_int("scale", scale)
        check_bool("log_curve", log_curve)
        if submodule is not None and (not isinstance(submodule, str) or not submodule):
            raise ValueError(f"Expected `submodule` to be a non-empty string or None, got {submodule!r}.")
        self.num_bands = num_bands
        self.reference = reference
        self.lr_key = lr_key
        self.hr_key = hr_key
        self.scale = scale
        self.log_curve = log_curve
        self.submodule = submodule
        self.blocking = blocking
        #: The metric the validation batches are accumulated in (one per monitor).
        self.metric = FrequencySpectrumDistributionSimilarity(num_bands=num_bands, reference=reference)
        #: ``trainer.global_step`` of the last logged validation run, or ``None``.
        self.last_step: int | None = None
        #: The last logged values: ``{"fsds/val": ..., "fsds/band_00": ..., ...}``.
        self.last_values: dict[str, float] = {}
        self.disabled = False
        self._layout_written = False
        self._num_updates = 0

    def _state_key_fields(self) -> dict[str, Any]:
        return {"num_bands": self.num_bands, "reference": self.reference}

    # ---------------------------------------------------------------------------------------------- hooks

    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        # the strategy moves the module to this device right after `setup`
        self.metric.to(trainer.strategy.root_device)

    @override
    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.metric.reset()
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
            pair = self._run_model(trainer, pl_module, batch)
            if pair is None:
                return
        preds, target = pair
        if self.metric.device != preds.device:
            self.metric.to(preds.device)
        self.metric.update(preds.detach(), target.detach().to(preds.device))
        self._num_updates += 1

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.disabled or not self._active(trainer):
            return
        if self._num_updates == 0 and trainer.world_size == 1:
            return  # nothing seen (for example a validation run without batches)
        step = trainer.global_step
        # every rank computes: torchmetrics syncs the states across ranks here
        value, (_, curve) = self.metric.compute_with_curve()
        self.metric.reset()
        self._num_updates = 0
        if step == self.last_step:
            return
        self.last_step = step
        if not trainer.is_global_zero:
            return
        # The one device-to-host copy of the validation run.
        host = torch.cat([value.reshape(1).to(curve.dtype), curve]).to("cpu", torch.float64)
        values = {"fsds/val": float(host[0])}
        values.update({f"fsds/{band_tag(k)}": v for k, v in enumerate(host[1:].tolist())})
        self.last_values = values
        write_layout = not self._layout_written
        self._layout_written = True
        scale = None
        if self.log_curve:
            scale = discover_scale(pl_module, resolve_model(pl_module, self.submodule), self.scale)
        freqs = frequency_bands(self.num_bands, dtype=torch.float64)[0]  # made on the host, not copied

        def media() -> None:
            if write_layout:
                for sink in self.sinks:
                    sink.log_layout(_LAYOUT)
            if self.log_curve:
                self._write_curve(freqs, host[1:], float(host[0]), scale, step)

        self._submit(trainer, step, lambda: values, media)

    def _write_curve(self, freqs: Tensor, curve: Tensor, value: float, scale: int | None, step: int) -> None:
        """Draw the curve into the figure built once per process and write it (writer thread)."""
        from hyra_lightning.callbacks._figures import new_figure
        from hyra_lightning.callbacks.sinks.raster import figure_to_array

        fig = self.cache.get("curve")
        if fig is None:
            fig = self.cache["curve"] = new_figure(6.4, 4.8)
            fig.add_subplot(1, 1, 1)
        ax = fig.axes[0]
        ax.cla()
        self.metric.plot((freqs, curve), ax=ax, scale=scale)
        ax.set_title(f"frequency similarity, step {step} (mean {value:.2f} dB)", fontsize=9)
        image = figure_to_array(fig)
        for sink in self.sinks:
            sink.log_image("fsds/curve", image, step)

    @override
    def _warm_up(self) -> None:
        from hyra_lightning.callbacks._figures import new_figure
        from hyra_lightning.callbacks.sinks.raster import figure_to_array

        if self.log_curve and self.sinks and "curve" not in self.cache:
            fig = self.cache["curve"] = new_figure(6.4, 4.8)
            fig.add_subplot(1, 1, 1).plot([0.0, 1.0], [0.0, 1.0])
            figure_to_array(fig)

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"last_step": self.last_step, "layout_written": self._layout_written}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_step = state_dict.get("last_step")
        self._layout_written = bool(state_dict.get("layout_written", False))

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
            self.disabled = True
            rank_zero_warn(
                f"{type(self).__name__} is disabled: `validation_step` returned neither"
                " {'preds': sr, 'target': hr} nor (sr, hr), and the batch could not be read"
                f" ({err}). Return one of those from `validation_step`, or set `lr_key=`/`hr_key=`.",
                category=UserWarning,
            )
            return None
        model = PrecisionForward(resolve_model(pl_module, self.submodule), trainer)
        with torch.no_grad():
            preds = model(lr)
        return preds, hr
