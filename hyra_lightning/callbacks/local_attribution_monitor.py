"""Local attribution monitor: watch how far into the LR image the network reaches for one patch as it trains."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
from torch import Tensor, nn
from typing_extensions import override

from hyra_lightning.batch import split_batch
from hyra_lightning.callbacks._base import (
    MonitorCallback,
    detach_copy,
    discover_scale,
    resolve_model,
    weight_roots,
)
from hyra_lightning.checks import check_bool, check_choice, check_float, check_int, check_str, fail
from hyra_lightning.options import ATTRIBUTION_PATHS, AttributionPath
from hyra_lightning.tags import LAM_DI, LAM_MAP

if TYPE_CHECKING:
    from hyra_lightning.analysis import LocalAttribution

__all__ = ["LocalAttributionMonitor"]


class LocalAttributionMonitor(MonitorCallback):
    r"""Attribute one output patch of one validation image to the LR pixels, every few validations.

    Each time it runs, the monitor computes the local attribution map (LAM, Gu and Dong, CVPR 2021) of the
    same ``window x window`` box of the SR output of the same LR image with
    :func:`hyra_lightning.analysis.local_attribution` and logs at ``trainer.global_step``:

    - ``lam/di``: the diffusion index of the map (0: one LR pixel carries everything, 100: all carry the
      same), to every logger; how far the network reaches as it trains;
    - ``lam/map``: :func:`~hyra_lightning.analysis.lam_panel`, the LR image with the box's footprint and the
      map blended over it, the index in the title, to every logger through its sink (TensorBoard images, PNG
      files for a ``CSVLogger``, ...).

    The image is the ``image_index``-th of the first validation batch, captured once (the monitor never draws
    from a dataloader), or the ``image`` given here; the box is ``box``, or
    :func:`~hyra_lightning.analysis.default_box` of that image (the window with the most edge energy),
    chosen once. Both are kept in the checkpoint, so a resumed run attributes the same patch. The monitor never
    runs during the sanity check.

    An attribution costs ``steps`` forward and backward passes of the network on one LR image (in batches of
    ``batch_size``), on the training thread; drawing and writing run on a background thread (see
    ``blocking``). It runs on every rank (each on its own first batch; strategies that shard the
    parameters are refused at ``setup``); only global rank zero writes. The network runs in full precision whatever the trainer's
    precision, in eval mode, with gradients taken with respect to the input only: train/eval flags, the RNG and
    the parameters' ``.grad`` are left as they were. If the model rejects the image or the box, the monitor
    warns once with the error and the remedy and switches itself off; training continues.

    Args:
        every_n_validations: in ``fit``, run at the end of every this many validation runs (not counting the
            sanity check; counted as :class:`~hyra_lightning.callbacks.HyRAMonitor` counts, so a resumed fit
            keeps the schedule). ``trainer.validate`` always runs it.
        image: an LR image ``(C, h, w)`` or ``(1, C, h, w)`` to attribute instead of a validation image (a
            tensor, so from Python; a YAML config leaves it out).
        image_index: which image of the first validation batch (fewer images: the last one).
        box: ``[y, x]``, HR position of the top-left corner of the box; ``None`` picks the window with the most
            edge energy of the image.
        window: side of the box in HR pixels (>= 2).
        sigma_max: standard deviation of the blur at the start of the path, in LR pixels (> 0).
        kernel_size: odd number of taps of the Gaussian blur (>= 3).
        steps: number of steps of the path (>= 1).
        path: ``"gaussian"`` (Gu and Dong's path) or ``"linear"`` (integrated gradients from the blurred
            image).
        batch_size: path images per forward pass.
        scale: upsampling factor; ``None`` reads an integer attribute ``scale`` of the model or of the
            LightningModule, and otherwise infers it from the output size.
        lr_key: key of the LR images in mapping batches; sequence batches are read as ``(lr, hr)``.
        log_images: log the ``lam/map`` panel; ``False`` logs ``lam/di`` only.
        submodule: dotted name of the SR network inside the LightningModule; ``None`` uses the
            LightningModule's own ``forward``. With a weight-averaging callback (``EMAWeightAveraging``,
            ``StochasticWeightAveraging`` once it has averaged) the averaged weights are attributed; a
            ``torch.compile``d network runs eagerly.
        blocking: draw and write in the training thread (for debugging); by default a background thread does
            it and the training thread only computes the attribution.

    Raises:
        ValueError: for an argument of the wrong type or out of range.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> from hyra_lightning.callbacks import LocalAttributionMonitor
        >>> monitor = LocalAttributionMonitor(every_n_validations=5, window=16)
        >>> trainer = Trainer(callbacks=[monitor], logger=False, enable_progress_bar=False)
    """

    def __init__(
        self,
        every_n_validations: int = 1,
        image: Tensor | None = None,
        image_index: int = 0,
        box: tuple[int, int] | None = None,
        window: int = 16,
        sigma_max: float = 1.2,
        kernel_size: int = 9,
        steps: int = 50,
        path: AttributionPath = "gaussian",
        batch_size: int = 10,
        scale: int | None = None,
        lr_key: str = "lr",
        log_images: bool = True,
        submodule: str | None = None,
        blocking: bool = False,
    ) -> None:
        super().__init__()
        check_int("every_n_validations", every_n_validations)
        check_int("image_index", image_index, minimum=0)
        check_int("window", window, minimum=2)
        check_float("sigma_max", sigma_max, minimum=0, strict_minimum=True)
        if (
            isinstance(kernel_size, bool)
            or not isinstance(kernel_size, int)
            or kernel_size < 3
            or kernel_size % 2 == 0
        ):
            fail("kernel_size", "an odd integer >= 3", kernel_size)
        check_int("steps", steps)
        check_choice("path", path, ATTRIBUTION_PATHS)
        check_int("batch_size", batch_size)
        check_int("scale", scale, optional=True)
        check_str("lr_key", lr_key)
        check_bool("log_images", log_images)
        check_str("submodule", submodule, optional=True)
        check_bool("blocking", blocking)
        if box is not None:
            if (
                not isinstance(box, (tuple, list))
                or len(box) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in box)
            ):
                fail("box", "None or a pair [y, x] of non-negative integers", box)
            box = (int(box[0]), int(box[1]))
        if image is not None and (
            not isinstance(image, Tensor)
            or not image.is_floating_point()
            or not (image.ndim == 3 or (image.ndim == 4 and image.shape[0] == 1))
        ):
            got = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
            fail("image", "None or a floating (C, h, w) or (1, C, h, w) tensor", got)
        self.every_n_validations = every_n_validations
        self.image_index = image_index
        self.box = box
        self.window = window
        self.sigma_max = float(sigma_max)
        self.kernel_size = kernel_size
        self.steps = steps
        self.path = path
        self.batch_size = batch_size
        self.scale = scale
        self.lr_key = lr_key
        self.log_images = log_images
        self.submodule = submodule
        self.blocking = blocking

        #: ``trainer.global_step`` of the last attribution, or ``None``.
        self.last_step: int | None = None
        #: The last attribution (on this rank), or ``None``.
        self.last_result: LocalAttribution | None = None
        self._user_image = image is not None
        self._image: Tensor | None = None if image is None else detach_copy(image.reshape(image.shape[-3:]))
        #: The box attributed, once chosen (``box``, or the default box of the image).
        self.resolved_box: tuple[int, int] | None = box
        self._reset_validation_count()

    def _state_key_fields(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "sigma_max": self.sigma_max,
            "kernel_size": self.kernel_size,
            "steps": self.steps,
            "path": self.path,
            "submodule": self.submodule,
        }

    @property
    def image(self) -> Tensor | None:
        """The LR image attributed (CPU, ``(C, h, w)``), once known."""
        return self._image

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
        if self._image is not None or batch_idx != 0 or dataloader_idx != 0 or self.disabled:
            return
        try:
            lr, _ = split_batch(batch, self.lr_key)
        except ValueError as err:
            self._disable(
                f"it cannot find LR images in the validation batch ({err})",
                "Pass `lr_key=` for mapping batches, or `image=` to attribute an image of your choice.",
            )
            return
        self._image = detach_copy(lr[min(self.image_index, lr.shape[0] - 1)])

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.disabled:
            return
        if trainer.state.fn == "fit" and not self._count_validation(trainer, self.every_n_validations):
            return
        self._attribute(trainer, pl_module)

    @override
    def state_dict(self) -> dict[str, Any]:
        return {
            "last_step": self.last_step,
            "val_runs": self._val_runs,
            "image": None if self._user_image else self._image,
            "box": None if self.resolved_box is None else list(self.resolved_box),
        }

    @override
    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        super().on_save_checkpoint(trainer, pl_module, checkpoint)  # the writer's points before the file
        self._count_pending_validation(trainer, checkpoint)

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_step = state_dict.get("last_step")
        self._load_validation_count(state_dict)
        if not self._user_image and state_dict.get("image") is not None:
            self._image = detach_copy(state_dict["image"])
        box = state_dict.get("box")
        if self.box is None and box is not None:
            self.resolved_box = (int(box[0]), int(box[1]))

    # ---------------------------------------------------------------------------------------------- work

    def _scale(self, pl_module: pl.LightningModule, model: nn.Module, image: Tensor) -> int:
        """The upsampling factor: given, an attribute, or read from one forward pass of the image."""
        scale = discover_scale(pl_module, model, self.scale)
        if scale is not None:
            return scale
        from hyra_lightning.analysis import evaluation_context, forward_in, infer_scale, probe_dtype

        dtype = probe_dtype(next((p.dtype for p in model.parameters() if p.is_floating_point()), None))
        with evaluation_context(model):
            out = forward_in(model, image[None].to(dtype), dtype)
        return infer_scale(tuple(image.shape[-2:]), tuple(out.shape[-2:]))  # type: ignore[arg-type]

    def _attribute(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Attribute the fixed box at the current step (all ranks) and log the result (rank zero)."""
        step = trainer.global_step
        if (trainer.state.fn == "fit" and step == self.last_step) or not self._active(trainer):
            return
        if self._image is None:
            self._warn_once(
                "no image",
                "no image to attribute: no validation batch was seen. Pass `image=` or add validation data.",
            )
            return
        from hyra_lightning.analysis import default_box, local_attribution

        averaged, live = weight_roots(trainer, pl_module, self, "on_validation_epoch_end")
        model = resolve_model(live if averaged is None else averaged, self.submodule)
        image = self._image.to(pl_module.device)
        try:
            if self.resolved_box is None:
                scale = self._scale(pl_module, model, image)
                self.resolved_box = default_box(image, scale, window=self.window)
            result = local_attribution(
                model,
                image,
                self.resolved_box,
                window=self.window,
                sigma_max=self.sigma_max,
                kernel_size=self.kernel_size,
                steps=self.steps,
                scale=discover_scale(pl_module, model, self.scale),
                path=self.path,
                batch_size=self.batch_size,
            )
        except Exception as err:  # the model rejected the image or the box: report once, switch off
            self._disable(
                f"the local attribution failed ({type(err).__name__}: {err})",
                "To fix it, pass `box=` a box inside the SR image, a smaller `window=` or `kernel_size=`,"
                " `scale=` if it cannot be read from the model, `submodule=` to attribute the SR network (LR ->"
                " SR) inside the LightningModule, `image=` of a size the model accepts, or a smaller"
                " `batch_size=` when memory runs out.",
            )
            return
        self.last_step = step
        self.last_result = result
        if not trainer.is_global_zero:
            return
        host = replace(
            result,
            attribution=result.attribution.detach().cpu(),
            map=result.map.detach().cpu(),
            lr=self._image,
        )
        if math.isnan(host.di):
            self._warn_once(
                "nan",
                "the attribution map is zero everywhere (a constant image, or a network that ignores its"
                " input), so it has no diffusion index; `lam/di` is not logged for it.",
            )

        def scalars() -> dict[str, float]:
            return {} if math.isnan(host.di) else {LAM_DI: host.di}

        self._submit(
            trainer, step, scalars, (lambda: self._write_map(host, step)) if self.log_images else None
        )

    def _write_map(self, result: LocalAttribution, step: int) -> None:
        """The ``lam/map`` panel of one attribution (writer thread)."""
        from hyra_lightning.analysis import lam_panel
        from hyra_lightning.callbacks.sinks.raster import image_to_array

        panel = image_to_array(lam_panel(result))
        y, x = result.box
        caption = (
            f"step {step}: LR pixels used for the {result.window}x{result.window} SR box at ({y}, {x}),"
            f" diffusion index {result.di:.2f}"
        )
        for sink in self.sinks:
            sink.log_image(LAM_MAP, panel, step, caption=caption)

    @override
    def _warm_up(self) -> None:
        import hyra_lightning.analysis  # noqa: F401  (the display helpers the first panel needs)
