"""HyRA monitor: split the SR output of fixed validation images into linear and non-linear parts."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import torch
from torch import Tensor
from typing_extensions import override

from hyra_lightning.analysis import ProbeOptions
from hyra_lightning.batch import split_batch
from hyra_lightning.callbacks._base import (
    MonitorCallback,
    detach_copy,
    probe_key,
    resolve_model,
    resolve_probe_options,
    weight_roots,
)
from hyra_lightning.checks import check_bool, check_choice, check_int, check_str
from hyra_lightning.options import BOUNDARIES, WEIGHTS, Boundary, ProbeMode, Weights
from hyra_lightning.tags import hyra_sample, hyra_scalar, live_tag

if TYPE_CHECKING:
    from collections.abc import Callable

    from hyra_lightning.analysis import HyRAResult, ImpulseResponse

__all__ = ["HyRAMonitor"]


class HyRAMonitor(MonitorCallback):
    r"""Hybrid response analysis of a few fixed LR images, logged at the end of validation epochs.

    Each time it runs, the monitor decomposes the SR output of the same LR images with
    :func:`hyra_lightning.analysis.hyra_decompose`, :math:`N(x) = B + H(x) + G(x)` (baseline, linear
    shift-invariant part defined by the measured impulse response, non-linear rest), and logs at
    ``trainer.global_step``:

    - ``hyra/nonlinear_energy_ratio`` and ``hyra/hf_injection``, and when HR images are known
      ``hyra/fsds_linear``, ``hyra/fsds_sr`` and ``hyra/fsds_gain``: the means over the images of
      :meth:`~hyra_lightning.analysis.HyRAResult.scalars`, to every logger;
    - ``hyra/sample_<i>``, one panel per image, to every logger through its sink (TensorBoard images, PNG files
      for a ``CSVLogger``, ...). Top row: the LR image enlarged to the HR size
      with nearest-neighbour interpolation (so its pixels stay visible), the affine part ``B + H(x)`` clamped
      to [0, 1], the non-linear part ``G(x)`` (channel mean) in a diverging colour map (zero at the middle
      colour), the SR output clamped to [0, 1], and the HR image when known. Bottom row: the centred
      log-magnitude spectrum of each image above it (of ``G`` itself for the non-linear part), in dB with
      axes in HR Nyquist units and the LR passband square; colour bars for ``G`` and the spectra, and a caption
      with the per-phase DC gains of the linear part (:func:`~hyra_lightning.analysis.hyra_figure`).

    The images are the first ``num_images`` of the first validation batch, captured once in
    ``on_validation_batch_end`` (the monitor never draws from a dataloader), or the ``images`` given here. They
    are kept in the checkpoint, so a resumed run keeps analysing the same images. The monitor never runs
    during the sanity check.

    When the trainer also has an :class:`~hyra_lightning.callbacks.ImpulseResponseMonitor` that measured a
    response at the same step with the same probe options, that response is reused instead of probing again.

    The decomposition runs on every rank (each on its own first batch; strategies that shard the
    parameters are refused at ``setup``); only global rank zero writes, the analysis of its own first batch. That batch starts with
    the first validation images under :class:`~hyra_lightning.data.SRDataModule` (whose
    :class:`~hyra_lightning.data.UnpaddedDistributedSampler` gives rank zero the first block of images), so the
    numbers are those of one process when it holds ``num_images`` images; Lightning's own distributed sampler
    deals the images out in turn and gives rank zero other images. The decomposition runs on the training thread; the scalars,
    panels and writing run on a background thread (see ``blocking``). The forward passes run in full
    precision whatever the trainer's precision (autocast and TF32 off, float32; half-precision weights seen
    through float32 copies).
    If the model rejects the probe, the monitor warns once with the error and the remedy and switches itself
    off; training continues.

    Which weights: by default the averaged weights when a weight-averaging callback is present (those that
    validation uses with ``EMAWeightAveraging``; see ``weights``), whichever of the model and the averaging
    copy holds them at the moment. A ``torch.compile``d network is run eagerly (its original module).

    Args:
        num_images: how many images of the first validation batch to analyse (fewer if the batch is smaller).
        images: LR images ``(N, C, h, w)`` or ``(C, h, w)`` to analyse instead of a validation batch (a
            tensor, so from Python; a YAML config leaves it out and the first validation batch is used).
        hr_images: HR images ``(N, C, s*h, s*w)`` or ``(C, s*h, s*w)`` matching ``images`` (optional).
        every_n_epochs: in ``fit``, run at the end of every this many validation runs (not counting the sanity
            check). The count is kept in the checkpoint and includes a validation that Lightning is about to
            run when the checkpoint is written (a step-based ``ModelCheckpoint``), which a resumed fit skips:
            so a resumed fit keeps the schedule of an uninterrupted one. ``trainer.validate`` always runs the analysis, and logs it also at a step
            already logged (``fit`` then ``validate``, or ``validate`` twice: TensorBoard keeps each point).
        boundary: how the linear part treats the outside of the image: ``"zero"`` (zero padding, exact for
            zero-padded convolutions) or ``"reflect"`` (the paper's choice).
        lr_key: key of the LR images in mapping batches; sequence batches are read as ``(lr, hr)``.
        hr_key: key of the HR images in mapping batches (optional in the batch).
        size: side of the LR probe image, odd (see :class:`ImpulseResponseMonitor`).
        amplitude: impulse amplitude ``a`` (> 0).
        background: background ``b`` of the probe, also the constant image of the baseline ``B``.
        baseline: subtract ``N(b)`` from the response and report it as ``B``.
        mode: ``"cross_channel"`` or ``"paper"`` probe.
        scale: upsampling factor; ``None`` reads an integer attribute ``scale`` of the probed model or of the
            LightningModule, and otherwise infers it from the output size.
        in_channels: number of input channels, only needed when it cannot be read from the model.
        log_images: log the ``hyra/sample_<i>`` panels; ``False`` logs the scalars only.
        submodule: dotted name of the SR network inside the LightningModule; ``None`` uses the
            LightningModule's own ``forward``.
        weights: which weights to analyse when a weight-averaging callback is present: ``"averaged"`` (the
            live ones before any averaging), ``"live"`` (the weights being trained, under the same tags) or
            ``"both"`` (the averaged ones under ``hyra/``, the live ones under ``hyra_live/``); see
            :class:`ImpulseResponseMonitor`.
        blocking: compute the scalars, draw and write in the training thread (for debugging); by default a
            background thread does it and the training thread only runs the decomposition.

    Raises:
        ValueError: for an argument of the wrong type or out of range, or ``images``/``hr_images`` of
            inconsistent shapes.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> from hyra_lightning.callbacks import HyRAMonitor
        >>> trainer = Trainer(callbacks=[HyRAMonitor(num_images=2)], logger=False, enable_progress_bar=False)
    """

    def __init__(
        self,
        num_images: int = 2,
        images: Tensor | None = None,
        hr_images: Tensor | None = None,
        every_n_epochs: int = 1,
        boundary: Boundary = "zero",
        lr_key: str = "lr",
        hr_key: str = "hr",
        size: int = 33,
        amplitude: float = 1.0,
        background: float = 0.0,
        baseline: bool = True,
        mode: ProbeMode = "cross_channel",
        scale: int | None = None,
        in_channels: int | None = None,
        log_images: bool = True,
        submodule: str | None = None,
        weights: Weights = "averaged",
        blocking: bool = False,
    ) -> None:
        super().__init__()
        check_choice("weights", weights, WEIGHTS)
        check_int("num_images", num_images)
        check_bool("blocking", blocking)
        check_int("every_n_epochs", every_n_epochs)
        check_bool("log_images", log_images)
        check_choice("boundary", boundary, BOUNDARIES)
        check_str("lr_key", lr_key)
        check_str("hr_key", hr_key)
        check_str("submodule", submodule, optional=True)
        self.probe_options = ProbeOptions(
            size=size,
            amplitude=amplitude,
            background=background,
            baseline=baseline,
            mode=mode,
            scale=scale,
            in_channels=in_channels,
        )
        lr, hr = _check_images(images, hr_images)
        self.num_images = num_images
        self.every_n_epochs = every_n_epochs
        self.boundary = boundary
        self.lr_key = lr_key
        self.hr_key = hr_key
        self.log_images = log_images
        self.submodule = submodule
        self.weights = weights
        self.blocking = blocking

        #: ``trainer.global_step`` of the last decomposition, or ``None``.
        self.last_step: int | None = None
        #: Whether the last decomposition reused an :class:`ImpulseResponseMonitor`'s response.
        self.last_reused_response = False
        self._user_images = lr is not None
        self._lr: Tensor | None = None if lr is None else detach_copy(lr[:num_images])
        self._hr: Tensor | None = None if hr is None else detach_copy(hr[:num_images])
        self._reset_validation_count()

    def _state_key_fields(self) -> dict[str, Any]:
        fields = {
            "probe": probe_key(self.probe_options),
            "boundary": self.boundary,
            "submodule": self.submodule,
        }
        if self.weights != "averaged":  # in the key only away from its default: older checkpoints keep theirs
            fields["weights"] = self.weights
        return fields

    @property
    def images(self) -> tuple[Tensor | None, Tensor | None]:
        """The LR images analysed (CPU, ``(n, C, h, w)``) and their HR images, once known."""
        return self._lr, self._hr

    # ---------------------------------------------------------------------------------------------- hooks

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
        if self._lr is not None or batch_idx != 0 or dataloader_idx != 0 or self.disabled:
            return
        try:
            lr, hr = split_batch(batch, self.lr_key, self.hr_key)
        except ValueError as err:
            self._disable(
                f"it cannot find LR images in the validation batch ({err})",
                "Pass `lr_key=`/`hr_key=` for mapping batches, or `images=` to analyse images of your choice.",
            )
            return
        self._lr = detach_copy(lr[: self.num_images])
        self._hr = None if hr is None else detach_copy(hr[: self.num_images])

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.disabled:
            return
        fitting = trainer.state.fn == "fit"
        if fitting and not self._count_validation(trainer, self.every_n_epochs):
            return
        self._analyse(trainer, pl_module)

    @override
    def state_dict(self) -> dict[str, Any]:
        return {
            "last_step": self.last_step,
            "val_runs": self._val_runs,
            "lr": None if self._user_images else self._lr,
            "hr": None if self._user_images else self._hr,
        }

    @override
    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        super().on_save_checkpoint(trainer, pl_module, checkpoint)
        self._count_pending_validation(trainer, checkpoint)

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_step = state_dict.get("last_step")
        self._load_validation_count(state_dict)
        if not self._user_images and state_dict.get("lr") is not None:
            self._lr = detach_copy(state_dict["lr"])
            hr = state_dict.get("hr")
            self._hr = None if hr is None else detach_copy(hr)

    # ---------------------------------------------------------------------------------------------- work

    def _images_on(self, device: torch.device) -> tuple[Tensor, Tensor | None]:
        """The analysed images on ``device``, copied there once (again only when they change)."""
        assert self._lr is not None
        cached = self.cache.get("images")
        if cached is None or cached[0] != device or cached[1] is not self._lr or cached[2] is not self._hr:
            hr = None if self._hr is None else self._hr.to(device)
            cached = self.cache["images"] = (device, self._lr, self._hr, self._lr.to(device), hr)
        return cached[3], cached[4]

    def _reusable_response(
        self, trainer: pl.Trainer, options: ProbeOptions, step: int
    ) -> ImpulseResponse | None:
        from hyra_lightning.callbacks.impulse_response_monitor import ImpulseResponseMonitor

        for callback in trainer.callbacks:  # type: ignore[attr-defined]
            if (
                isinstance(callback, ImpulseResponseMonitor)
                and callback.last_step == step
                and callback.last_response is not None
                and callback.submodule == self.submodule
                and (callback.weights == "live") == (self.weights == "live")
                and callback.resolved_options == options
            ):
                return callback.last_response
        return None

    def _analyse(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Decompose the fixed images at the current step (all ranks) and log the result (rank zero)."""
        step = trainer.global_step
        if (trainer.state.fn == "fit" and step == self.last_step) or not self._active(trainer):
            return
        if self._lr is None:
            self._warn_once(
                "no images",
                "no images to analyse: no validation batch was seen. Pass `images=` or add validation data.",
            )
            return
        averaged, live = weight_roots(trainer, pl_module, self, "on_validation_epoch_end")
        main = live if self.weights == "live" or averaged is None else averaged
        result = self._decompose(trainer, pl_module, main, reuse=True)
        if result is None:
            return
        live_result = None
        if self.weights == "both":
            live_result = result if main is live else self._decompose(trainer, pl_module, live, reuse=False)
            if live_result is None:
                return
        self.last_step = step
        if not trainer.is_global_zero:
            return
        for reading, tag in ((result, str), (live_result, live_tag)):
            if reading is not None:
                self._submit_result(trainer, step, _to_host(reading, self._lr), tag)

    def _decompose(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, root: pl.LightningModule, reuse: bool
    ) -> HyRAResult | None:
        """Decompose the images with the network in ``root`` (the LightningModule holding one set of weights),
        reusing the impulse monitor's response of this step when ``reuse`` and it read the same weights; ``None``
        (and the monitor disabled) when the model rejects the probe or the images."""
        from hyra_lightning.analysis import hyra_decompose

        model = resolve_model(root, self.submodule)
        options = resolve_probe_options(self.probe_options, pl_module, model)
        response = self._reusable_response(trainer, options, trainer.global_step) if reuse else None
        lr, hr = self._images_on(pl_module.device)
        probe_kwargs = {}
        if response is None:  # `None` options are left to the analysis layer's defaults
            probe_kwargs = {"options": options}
        try:
            result = hyra_decompose(
                model,
                lr,
                response=response,
                hr=hr,
                boundary=self.boundary,
                **probe_kwargs,
            )
        except Exception as err:  # the model rejected the probe or the images: report once, switch off
            self._disable(
                f"the decomposition failed ({type(err).__name__}: {err})",
                f"To fix it, pass `size=` an odd probe size the model accepts (now {options.size}),"
                " `in_channels=`/`scale=` if they cannot be read from the model, `submodule=` to analyse the SR"
                " network (LR -> SR) inside the LightningModule, or `images=` of a size the model accepts.",
            )
            return None
        if reuse:
            self.last_reused_response = response is not None
        return result

    def _submit_result(
        self, trainer: pl.Trainer, step: int, host: HyRAResult, tag: Callable[[str], str]
    ) -> None:
        """Hand one decomposition to the writer, its tags spelled by ``tag`` (``hyra/`` or ``hyra_live/``)."""
        self._submit(
            trainer,
            step,
            lambda: {tag(hyra_scalar(name)): value for name, value in host.scalars().items()},
            (lambda: self._write_panels(host, step, tag)) if self.log_images else None,
        )

    def _write_panels(self, result: HyRAResult, step: int, tag: Callable[[str], str] = str) -> None:
        """The ``hyra/sample_<i>`` panels of one decomposition (writer thread)."""
        from hyra_lightning.analysis import hyra_figure
        from hyra_lightning.callbacks.sinks.raster import figure_to_array

        columns = "LR, B+H(x), G(x), SR" + (", HR" if result.hr is not None else "")
        caption = f"step {step}: columns {columns}; rows image, spectrum"
        for i in range(result.sr.shape[0]):
            panel = figure_to_array(hyra_figure(result, i))
            for sink in self.sinks:
                sink.log_image(tag(hyra_sample(i)), panel, step, caption=caption)

    @override
    def _warm_up(self) -> None:
        import hyra_lightning.analysis  # noqa: F401  (the display helpers the first panel needs)


def _to_host(result: HyRAResult, lr: Tensor | None) -> HyRAResult:
    """``result`` with its images on the CPU, moved in one device-to-host copy (the LR images are already
    there); of the response only its kernel is copied (the picture's caption reads its per-phase gains)."""
    parts = [result.sr, result.linear, result.nonlinear, result.baseline]
    if result.hr is not None:
        parts.append(result.hr)
    host = torch.stack([p.detach().to(result.sr.dtype) for p in parts]).to("cpu")
    sr, linear, nonlinear, baseline, *hr = host.unbind(0)
    return replace(
        result,
        sr=sr,
        linear=linear,
        nonlinear=nonlinear,
        baseline=baseline,
        hr=hr[0] if hr else None,
        lr=result.lr.detach().cpu() if lr is None else lr,
        response=replace(
            result.response,
            kernel=result.response.kernel.detach().cpu(),
            luminance=result.response.luminance.detach().cpu(),
        ),
    )


def _check_images(images: Tensor | None, hr_images: Tensor | None) -> tuple[Tensor | None, Tensor | None]:
    """Validate the user's ``images``/``hr_images`` and give them a batch dimension."""
    if images is None:
        if hr_images is not None:
            raise ValueError("Expected `images` (the LR images) when `hr_images` is given, got images=None.")
        return None, None
    if not isinstance(images, Tensor) or images.ndim not in (3, 4) or not images.is_floating_point():
        got = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"Expected `images` to be a floating (N, C, h, w) or (C, h, w) tensor, got {got}.")
    lr = images if images.ndim == 4 else images[None]
    if hr_images is None:
        return lr, None
    if not isinstance(hr_images, Tensor) or hr_images.ndim not in (3, 4) or not hr_images.is_floating_point():
        got = tuple(hr_images.shape) if isinstance(hr_images, Tensor) else type(hr_images).__name__
        raise ValueError(
            f"Expected `hr_images` to be a floating (N, C, H, W) or (C, H, W) tensor, got {got}."
        )
    hr = hr_images if hr_images.ndim == 4 else hr_images[None]
    if hr.shape[:2] != lr.shape[:2]:
        raise ValueError(
            "Expected `hr_images` to have the batch size and channels of `images`,"
            f" got {tuple(hr.shape)} for images of shape {tuple(lr.shape)}."
        )
    return lr, hr
