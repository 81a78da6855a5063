"""The LightningModule that trains any super-resolution ``nn.Module`` with L1/L2, Adam and a step/cosine schedule.

Validation and test log PSNR and SSIM (torchmetrics) and FSDS (:mod:`hyra_lightning.metrics`) on the SR
output clamped to [0, 1], after cropping ``crop_border`` pixels from every side, as is usual in SR. The
metrics are computed on RGB (not on the Y channel that many SR papers report), so PSNR reads lower than
Y-channel tables. PSNR is the mean of per-image PSNRs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities import rank_zero_warn
from lightning.pytorch.utilities.types import OptimizerLRScheduler
from torch import Tensor, nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from hyra_lightning.batch import eval_dataloader, split_batch, unrepeated_rows
from hyra_lightning.checks import check_choice, check_float, check_instance, check_int, fail
from hyra_lightning.functional.image_scores import crop_border_pixels
from hyra_lightning.losses import loss_term, loss_weights
from hyra_lightning.metrics import FrequencySpectrumDistributionSimilarity
from hyra_lightning.options import SCHEDULERS, LossTerm, Scheduler
from hyra_lightning.spectral import bicubic_upsample
from hyra_lightning.tags import TRAIN_LOSS, train_loss_term

__all__ = [
    "CosineToZero",
    "SuperResolutionModule",
    "bicubic_baseline_metrics",
    "evaluate_upsampler",
    "split_batch",
]


def _make_metrics(prefix: str, sync_on_compute: bool = True) -> MetricCollection:
    """PSNR, SSIM and FSDS as the module logs them; ``sync_on_compute=False`` for single-process use.

    The SSIM here is torchmetrics' padded SSIM (windows reaching into a reflect padding are averaged too), not
    the valid-window SSIM of ``score`` and ``analyze``
    (:func:`~hyra_lightning.functional.image_scores.ssim_valid`): it accumulates over batches and synchronises
    across processes. The two differ near the borders, on purpose.
    """
    return MetricCollection(
        {
            "psnr": PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3), sync_on_compute=sync_on_compute),
            "ssim": StructuralSimilarityIndexMeasure(data_range=1.0, sync_on_compute=sync_on_compute),
            "fsds": FrequencySpectrumDistributionSimilarity(sync_on_compute=sync_on_compute),
        },
        prefix=prefix,
        compute_groups=False,
    )


@torch.no_grad()
def evaluate_upsampler(
    upsampler: Callable[[Tensor], Tensor],
    dataloader: Iterable[Any],
    scale: int,
    crop_border: int | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """PSNR, SSIM and FSDS of any upsampler on a validation set, measured as the module measures SR.

    The SR images ``upsampler(lr)`` are clamped to [0, 1], cropped by ``crop_border`` pixels (default:
    ``scale``) like the HR images, and scored with the same metric objects as
    :class:`SuperResolutionModule`'s validation, so scores of different upsamplers compare like with like.
    An ``nn.Module`` is run in eval mode and its own train/eval flags are restored afterwards. The scores are
    those of the batches this process sees (no synchronisation across processes).

    Args:
        upsampler: maps ``N x C x h x w`` LR images to ``N x C x sh x sw``; an ``nn.Module`` or a function.
        dataloader: yields batches as accepted by :func:`split_batch`, with HR images.
        scale: upsampling factor.
        crop_border: pixels removed from every side before scoring; ``None`` uses ``scale``.
        device: where to compute; ``None`` keeps the batches' device.

    Returns:
        ``{"psnr": ..., "ssim": ..., "fsds": ...}`` as Python floats.

    Raises:
        ValueError: for batches without HR images or SR images whose shape is not the HR shape.
    """
    border = scale if crop_border is None else crop_border
    # Local scores only: this may run on one rank of a distributed job (the CLI's summary does), where a
    # synchronising compute() would wait forever for the other ranks.
    metrics = _make_metrics(prefix="", sync_on_compute=False)
    metrics_device: torch.device | None = None
    flags = {m: m.training for m in upsampler.modules()} if isinstance(upsampler, nn.Module) else {}
    try:
        for m in flags:
            m.eval()
        for batch in dataloader:
            lr, hr = split_batch(batch)
            if hr is None:
                raise ValueError("Expected `dataloader` batches with HR images, got batches without 'hr'.")
            if device is not None:
                lr, hr = lr.to(device), hr.to(device)
            if metrics_device != hr.device:
                metrics_device = hr.device
                metrics = metrics.to(metrics_device)
            sr = upsampler(lr).float().clamp(0.0, 1.0)
            if sr.shape != hr.shape:
                raise ValueError(
                    f"Expected SR images of the HR shape {tuple(hr.shape)}, got {tuple(sr.shape)} from LR "
                    f"{tuple(lr.shape)} at scale {scale}."
                )
            metrics.update(crop_border_pixels(sr, border), crop_border_pixels(hr.float(), border))
    finally:
        for m, flag in flags.items():
            m.train(flag)
    return {name: float(value) for name, value in metrics.compute().items()}


def bicubic_baseline_metrics(
    dataloader: Iterable[Any],
    scale: int,
    crop_border: int | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """PSNR, SSIM and FSDS of bicubic upsampling on a validation set, measured as the module measures SR.

    The LR images are upsampled with torch ``interpolate(mode="bicubic", align_corners=False)`` and scored
    by :func:`evaluate_upsampler`, so "model vs bicubic" compares like with like.

    Args:
        dataloader: yields batches as accepted by :func:`split_batch`, with HR images.
        scale: upsampling factor.
        crop_border: pixels removed from every side before scoring; ``None`` uses ``scale``.
        device: where to compute; ``None`` keeps the batches' device.

    Returns:
        ``{"psnr": ..., "ssim": ..., "fsds": ...}`` as Python floats.

    Example:
        >>> import torch
        >>> hr = torch.rand(2, 3, 32, 32)
        >>> lr = torch.nn.functional.avg_pool2d(hr, 2)
        >>> sorted(bicubic_baseline_metrics([{"lr": lr, "hr": hr}], scale=2))
        ['fsds', 'psnr', 'ssim']
    """

    def bicubic(lr: Tensor) -> Tensor:
        return bicubic_upsample(lr, scale)

    return evaluate_upsampler(bicubic, dataloader, scale, crop_border, device)


class CosineToZero:
    """Learning-rate factor ``(1 + cos(pi * min(step, total) / total)) / 2``: a cosine from 1 to 0, then 0.

    A picklable callable object for ``torch.optim.lr_scheduler.LambdaLR``, which saves its attributes in the
    scheduler's state dict: ``total`` is restored from a checkpoint, so a resumed fit keeps the schedule it was
    planned with, and steps past its end hold the final value instead of climbing back up as
    ``CosineAnnealingLR`` does.

    Example:
        >>> f = CosineToZero(10)
        >>> f(0), f(5), f(10), f(15)
        (1.0, 0.5, 0.0, 0.0)
    """

    def __init__(self, total: int) -> None:
        check_int("total", total)
        self.total = total

    def __call__(self, step: int) -> float:
        t = min(max(step, 0), self.total) / self.total
        return 0.5 * (1.0 + math.cos(math.pi * t))


class SuperResolutionModule(LightningModule):
    """Train a super-resolution network with a pixel loss (plus frequency terms), Adam and a step or cosine
    learning-rate schedule.

    Batches are dicts ``{"lr": N x C x h x w, "hr": N x C x sh x sw}`` (``(lr, hr)`` pairs also work).

    - ``training_step`` minimises the loss between ``model(lr)`` and ``hr``; logs the total as ``train/loss``
      and every term, unweighted, as ``train/loss_<term>`` (``train/loss_l1``, ``train/loss_fsds``, ...).
    - ``validation_step`` / ``test_step`` score ``model(lr).clamp(0, 1)`` against ``hr`` after cropping
      ``crop_border`` pixels, logging ``val/psnr``, ``val/ssim``, ``val/fsds`` and ``val/loss`` (``test/...``
      in testing), and return ``{"preds": sr, "target": hr}``, the clamped and cropped images the metrics
      saw, so that :class:`~hyra_lightning.callbacks.FrequencySimilarityMonitor`'s ``fsds/val`` equals
      ``val/fsds``.
    - ``predict_step`` returns the clamped SR images.

    Under DDP the validation and test numbers are those of one process: every metric, ``val/loss``
    included, synchronises sums and counts over the images of all processes, and images that a padding
    distributed sampler repeats (Lightning's default when the images do not divide by the processes) are
    dropped before scoring; :class:`~hyra_lightning.data.SRDataModule` does not repeat any. When a sampler
    repeats images in an order that cannot be followed, the module warns once.

    Args:
        model: any SR network mapping ``N x C x h x w`` to ``N x C x sh x sw``. Typed ``nn.Module`` so that
            LightningCLI accepts a ``class_path`` (for example ``hyra_lightning.models.EDSR``). It is not
            stored in the hyperparameters: pass it again to ``load_from_checkpoint(path, model=...)``.
        scale: upsampling factor; must equal ``model.scale`` when the model has that attribute.
        lr: Adam learning rate (EDSR: 1e-4 at batch 16).
        loss: a term name (``"l1"``, EDSR's, or ``"l2"``, ...) or a mapping from term names to weights, the
            loss being the weighted sum of the terms: ``{"l1": 1.0, "fsds": 0.05}`` (on the command line
            ``--model.loss '{l1: 1.0, fsds: 0.05}'``). Terms: ``l1``, ``l2``, ``fsds``
            (:class:`~hyra_lightning.losses.FSDSLoss`, the ratio ``10 ** (-FSDS / 10)``), ``fft_l1``
            (:class:`~hyra_lightning.losses.FFTL1Loss`) and ``focal_frequency``
            (:class:`~hyra_lightning.losses.FocalFrequencyLoss`), each with its default options; weights are
            non-negative. ``val/loss`` is the same weighted sum.
        scheduler: ``"step"`` (multiply by ``gamma`` every ``step_size`` optimizer steps, EDSR's recipe),
            ``"cosine"`` (to 0 over ``max_steps_for_cosine`` steps, then held at 0) or ``"none"``. The cosine
            schedule's length is fixed when it is first made and saved in checkpoints: a fit resumed with a
            larger ``max_steps`` keeps the learning rate at its final value (0) instead of climbing back up.
        step_size: optimizer steps between two decays of the step schedule.
        gamma: decay factor of the step schedule.
        betas: Adam betas.
        weight_decay: Adam weight decay.
        max_steps_for_cosine: length of the cosine schedule in optimizer steps; ``None`` uses the trainer's
            estimated number of steps. On resume, the length saved in the checkpoint wins.
        crop_border: pixels removed from every side before PSNR/SSIM/FSDS; ``None`` uses ``scale``.

    Example:
        >>> import torch
        >>> from hyra_lightning.models import EDSR
        >>> module = SuperResolutionModule(EDSR(scale=2, n_resblocks=1, n_feats=8), scale=2)
        >>> module(torch.rand(1, 3, 8, 8)).shape
        torch.Size([1, 3, 16, 16])
    """

    def __init__(
        self,
        model: nn.Module,
        scale: int,
        lr: float = 2e-4,
        loss: LossTerm | dict[str, float] = "l1",
        scheduler: Scheduler = "step",
        step_size: int = 200_000,
        gamma: float = 0.5,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        max_steps_for_cosine: int | None = None,
        crop_border: int | None = None,
    ) -> None:
        super().__init__()
        check_instance("model", model, nn.Module, "a torch.nn.Module")
        check_int("scale", scale)
        model_scale = getattr(model, "scale", None)
        if model_scale is not None and model_scale != scale:
            raise ValueError(
                f"Expected `scale` to equal the model's scale, got scale={scale} and "
                f"{type(model).__name__}.scale={model_scale!r}. Give the network the same scale: on the "
                f"`hyra-lightning` command line, pass `--model.model.init_args.scale {scale}` together with "
                f"`--data.scale {scale}` (or set both in the config)."
            )
        weights = loss_weights(loss)
        check_choice("scheduler", scheduler, SCHEDULERS)
        check_float("lr", lr, minimum=0, strict_minimum=True)
        check_int("step_size", step_size)
        check_float("gamma", gamma, minimum=0, maximum=1, strict_minimum=True)
        if (
            not isinstance(betas, (tuple, list))
            or len(betas) != 2
            or not all(not isinstance(b, bool) and isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)
        ):
            fail("betas", "two numbers in [0, 1)", betas)
        check_float("weight_decay", weight_decay, minimum=0)
        check_int("max_steps_for_cosine", max_steps_for_cosine, optional=True)
        check_int("crop_border", crop_border, minimum=0, optional=True)
        self.save_hyperparameters(ignore=["model"])
        self.model = model
        self.scale = scale
        self.lr = lr
        self.loss = loss
        #: ``{term: weight}`` of the loss; the term modules hold no state (nothing in the checkpoint).
        self.loss_weights = weights
        self._loss_terms = {name: loss_term(name) for name in weights}  # type: ignore[arg-type]
        self.scheduler = scheduler
        self.step_size = step_size
        self.gamma = gamma
        self.betas = (float(betas[0]), float(betas[1]))
        self.weight_decay = weight_decay
        self.max_steps_for_cosine = max_steps_for_cosine
        self.crop_border = scale if crop_border is None else crop_border
        self.val_metrics = _make_metrics(prefix="val/")
        self.test_metrics = _make_metrics(prefix="test/")
        self.val_loss = MeanMetric()
        self.test_loss = MeanMetric()

    def forward(self, lr: Tensor) -> Tensor:
        """Super-resolve ``N x C x h x w`` LR images (unclamped)."""
        return self.model(lr)

    def _loss(self, sr: Tensor, hr: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The weighted sum of the loss terms and every term's unweighted value, in float32."""
        sr, hr = sr.float(), hr.float()
        terms = {name: fn(sr, hr) for name, fn in self._loss_terms.items()}
        total = sum((self.loss_weights[name] * value for name, value in terms.items()), sr.new_zeros(()))
        return total, terms

    def _forward_pair(self, batch: Any) -> tuple[Tensor, Tensor]:
        lr, hr = split_batch(batch)
        if hr is None:
            raise ValueError("Expected `batch` to contain HR images ('hr'), got a batch without them.")
        sr = self.model(lr)
        if sr.shape != hr.shape:
            raise ValueError(
                f"Expected the model output to have the HR shape {tuple(hr.shape)}, got {tuple(sr.shape)} "
                f"from LR {tuple(lr.shape)} at scale {self.scale}."
            )
        return sr, hr

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        """One optimisation step on an LR/HR batch; logs ``train/loss`` and ``train/loss_<term>``."""
        sr, hr = self._forward_pair(batch)
        loss, terms = self._loss(sr, hr)
        n = hr.shape[0]
        self.log(TRAIN_LOSS, loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=n)
        for name, value in terms.items():
            self.log(train_loss_term(name), value.detach(), on_step=True, on_epoch=False, batch_size=n)
        return loss

    def _unrepeated_rows(self, prefix: str, batch_idx: int, rows: int) -> int:
        """How many leading rows of this evaluation batch are not repeats added by a distributed sampler."""
        trainer = self._trainer
        if trainer is None or trainer.world_size == 1:
            return rows
        loaders = trainer.val_dataloaders if prefix == "val/" else trainer.test_dataloaders
        kept, unknown = unrepeated_rows(eval_dataloader(loaders), batch_idx, rows)
        if unknown is not None and not getattr(self, "_warned_padding", False):
            self._warned_padding = True
            what = "validation" if prefix == "val/" else "test"
            rank_zero_warn(f"{type(self).__name__}: {unknown.warning(what)}", category=UserWarning)
        return kept

    def _evaluate(
        self, batch: Any, batch_idx: int, metrics: MetricCollection, prefix: str
    ) -> dict[str, Tensor]:
        sr, hr = self._forward_pair(batch)
        # Under DDP, rows that a padding distributed sampler repeats are dropped: every image counts once.
        size = hr.shape[0]
        rows = self._unrepeated_rows(prefix, batch_idx, size)
        sr, hr = sr[:rows], hr[:rows]
        # sums and counts synchronised across processes (torchmetrics), the mean over all images: the number
        # of one process (Lightning's `sync_dist` of a batch-size-weighted mean truncates the counts on gloo)
        loss = getattr(self, f"{prefix[:-1]}_loss")
        if rows:
            loss.update(self._loss(sr, hr)[0].detach(), weight=rows)
        self.log(f"{prefix}loss", loss, on_step=False, on_epoch=True, batch_size=size)
        sr = crop_border_pixels(sr.detach().float().clamp(0.0, 1.0), self.crop_border)
        hr = crop_border_pixels(hr.float(), self.crop_border)
        if rows:
            metrics.update(sr, hr)
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=prefix == "val/")
        return {"preds": sr, "target": hr}

    def validation_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """Score the clamped SR output; returns ``{"preds": sr, "target": hr}`` as scored (cropped)."""
        return self._evaluate(batch, batch_idx, self.val_metrics, "val/")

    def test_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """As :meth:`validation_step`, logging ``test/...``."""
        return self._evaluate(batch, batch_idx, self.test_metrics, "test/")

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Return ``model(lr).clamp(0, 1)`` for a batch (dict, pair or LR tensor)."""
        lr, _ = split_batch(batch)
        return self.model(lr).clamp(0.0, 1.0)

    def configure_optimizers(self) -> OptimizerLRScheduler:
        """Adam, with the step or cosine schedule stepped every optimizer step."""
        optimizer = torch.optim.Adam(
            self.model.parameters(), lr=self.lr, betas=self.betas, weight_decay=self.weight_decay
        )
        if self.scheduler == "none":
            return optimizer
        if self.scheduler == "step":
            schedule: torch.optim.lr_scheduler.LRScheduler = torch.optim.lr_scheduler.StepLR(
                optimizer, step_size=self.step_size, gamma=self.gamma
            )
        else:
            total = self.max_steps_for_cosine
            if total is None:
                estimated = self.trainer.estimated_stepping_batches
                if not 0 < estimated < float("inf"):
                    raise ValueError(
                        "Expected `max_steps_for_cosine` to be set when the trainer has no step or epoch limit, "
                        f"got None (estimated stepping batches: {estimated})."
                    )
                total = int(estimated)
            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, CosineToZero(total))
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": schedule, "interval": "step", "frequency": 1},
        }

    def bicubic_baseline_metrics(self, dataloader: Iterable[Any]) -> dict[str, float]:
        """PSNR/SSIM/FSDS of bicubic upsampling on ``dataloader`` with this module's scale and cropping.

        See :func:`bicubic_baseline_metrics`; computed on the module's device.
        """
        return bicubic_baseline_metrics(dataloader, self.scale, self.crop_border, device=self.device)
