"""The ``hyra-lightning`` command: a LightningCLI over :class:`SuperResolutionModule` and :class:`SRDataModule`.

Examples::

    hyra-lightning fit --config configs/quickstart.yaml
    hyra-lightning fit --config configs/quickstart.yaml --trainer.max_steps 200
    hyra-lightning validate --config configs/quickstart.yaml --ckpt_path lightning_logs/.../last.ckpt
    hyra-lightning fit --print_config

``model.model`` takes any ``torch.nn.Module`` by class path (``hyra_lightning.models.EDSR``, your own
``my_package.MyNet``...). ``data.scale`` is linked to ``model.scale``; the SR network's own scale argument is
set next to its class path, and a mismatch is reported before training starts.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger

from hyra_lightning.data.datamodule import SRDataModule
from hyra_lightning.module import SuperResolutionModule, evaluate_upsampler

__all__ = ["HyRALightningCLI", "fit_summary", "main"]


class HyRALightningCLI(LightningCLI):
    """LightningCLI that links the data scale to the module and prints a summary after ``fit``."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.scale", "model.scale")

    def after_fit(self) -> None:
        if self.trainer.is_global_zero and not self.trainer.interrupted:
            print(fit_summary(self.trainer, self.model, self.datamodule), flush=True)


def fit_summary(trainer: Any, module: SuperResolutionModule, datamodule: SRDataModule) -> str:
    """What a user wants to read when training ends: quality against bicubic, and the science.

    Evaluates the trained model and torch's bicubic upsampling on the same validation crops (PSNR, SSIM,
    FSDS), probes the final impulse response (with the probe options of the run's
    :class:`~hyra_lightning.callbacks.ImpulseResponseMonitor` when there is one) and decomposes the first
    validation images with HyRA. Ends with the command that opens the dashboard.
    """
    from hyra_lightning.analysis import hyra_decompose, impulse_response
    from hyra_lightning.callbacks import HyRAMonitor, ImpulseResponseMonitor
    from hyra_lightning.callbacks._sink import PrecisionForward

    scale = module.scale
    loader = datamodule.val_dataloader()
    device = module.device
    # Scores of the model as trained (half weights need half inputs); the probe and HyRA below measure in
    # full precision on their own.
    model_scores = evaluate_upsampler(
        PrecisionForward(module.model, trainer), loader, scale, module.crop_border, device=device
    )
    bicubic_scores = module.bicubic_baseline_metrics(loader)

    probe_kwargs: dict[str, Any] = {}
    hyra_kwargs: dict[str, Any] = {}
    response = None
    for cb in trainer.callbacks:
        if isinstance(cb, ImpulseResponseMonitor):
            probe_kwargs = {k: v for k, v in cb.probe_options.kwargs().items() if k != "scale"}
            if cb.last_step == trainer.global_step and cb.submodule in (None, "model"):
                response = cb.last_response  # measured at the end of training: do not probe again
        if isinstance(cb, HyRAMonitor):
            hyra_kwargs = {"boundary": cb.boundary}
    if response is None:
        response = impulse_response(module.model, **{**probe_kwargs, "scale": scale})
    desc = response.describe()
    batch = next(iter(loader))
    n = min(4, batch["lr"].shape[0])
    hyra = hyra_decompose(
        module.model,
        batch["lr"][:n].to(device),
        hr=batch["hr"][:n].to(device),
        response=response,
        **hyra_kwargs,
    )
    hs = hyra.scalars()

    def row(name: str, key: str, fmt: str) -> str:
        m, b = model_scores[key], bicubic_scores[key]
        return f"  {name:<6} {m:{fmt}}   {b:{fmt}}   {m - b:+{fmt}}"

    lines = [
        "",
        f"hyra-lightning summary (x{scale}, {trainer.global_step} optimizer steps)",
        f"  validation crops: {len(loader.dataset)}            model     bicubic   difference",
        row("PSNR", "psnr", "8.3f") + " dB",
        row("SSIM", "ssim", "8.4f"),
        row("FSDS", "fsds", "8.3f") + " dB",
        "  impulse response (the sinc phenomenon):",
        f"    dc_gain          {desc.dc_gain:7.3f}   (1.0 keeps flat regions' brightness)",
        f"    cutoff           {desc.cutoff:7.3f}   (LR Nyquist 1/s = {1 / scale:.3f}, in HR Nyquist units)",
        f"    sinc_similarity  {desc.sinc_similarity:7.3f}   (1.0 = ideal sinc)",
        f"    negative_lobe    {desc.negative_lobe:7.3f}   (separable sinc: 0.217)",
        f"    stopband_leakage {desc.stopband_leakage:7.3f}   (ideal: 0)",
        f"  HyRA on the first {n} validation crops (whole crops, borders included):",
        f"    nonlinear_energy_ratio {hs['nonlinear_energy_ratio']:.4f}",
        f"    hf_injection           {hs['hf_injection']:.4f}   (share of the high frequencies made by the non-linear part)",
    ]
    if "fsds_gain" in hs and math.isfinite(hs["fsds_gain"]):
        lines.append(
            f"    fsds linear part {hs['fsds_linear']:.3f} dB -> full output {hs['fsds_sr']:.3f} dB "
            f"(gain {hs['fsds_gain']:+.3f} dB)"
        )
    logdir = _tensorboard_dir(trainer)
    if logdir is not None:
        lines += ["", "Open the dashboard:", f"  tensorboard --logdir {logdir}"]
    return "\n".join(lines)


def _tensorboard_dir(trainer: Any) -> str | None:
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            path = logger.log_dir
            try:
                rel = os.path.relpath(path)
            except ValueError:  # another drive on Windows
                return path
            return path if rel.startswith("..") else rel
    return None


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``hyra-lightning`` console script."""
    HyRALightningCLI(
        SuperResolutionModule,
        SRDataModule,
        subclass_mode_model=False,
        subclass_mode_data=False,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"description": "Train and analyse super-resolution networks (hyra-lightning)."},
        args=args,
    )


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
