"""The ``hyra-lightning`` command: a LightningCLI over :class:`SuperResolutionModule` and :class:`SRDataModule`.

Examples::

    hyra-lightning fit --config configs/quickstart.yaml
    hyra-lightning fit --config configs/quickstart.yaml --trainer.max_steps 200
    hyra-lightning validate --config configs/quickstart.yaml --ckpt_path lightning_logs/.../last.ckpt
    hyra-lightning fit --print_config

``model.model`` takes any ``torch.nn.Module`` by class path (``hyra_lightning.models.EDSR``, your own
``my_package.MyNet``...); its help lists the package's SR networks only. ``data.scale`` is linked to
``model.scale``; the SR network's own scale argument is set next to its class path, and a mismatch is reported
before training starts. The optimizer and its schedule are the module's (``--model.lr``, ``--model.betas``,
``--model.scheduler``...): LightningCLI's ``--optimizer`` and ``--lr_scheduler`` are not offered, because they
would silently override those.

After ``fit`` the command prints :func:`fit_summary`, which also says why a fit stopped before its step or epoch
limit (time limit, early stopping) and when a resumed fit trained no step; an interrupted fit (Ctrl-C) prints
the step it reached and the checkpoint to resume from.
"""

from __future__ import annotations

import math
import os
import re
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import torch
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, Timer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger

import hyra_lightning.callbacks  # noqa: F401  (the monitors become known subclasses in `--trainer.callbacks` help)
from hyra_lightning.batch import split_batch
from hyra_lightning.callbacks._base import sharding_strategy
from hyra_lightning.commands import COMMANDS, SUMMARIES
from hyra_lightning.data.datamodule import SRDataModule
from hyra_lightning.module import SuperResolutionModule, evaluate_upsampler

if TYPE_CHECKING:
    from hyra_lightning.analysis import ImpulseDescriptors

__all__ = ["HyRALightningCLI", "fit_summary", "main", "stop_reason"]

#: What the help of ``--model.model`` lists: the SR networks of the package (any ``nn.Module`` is accepted).
SR_NETWORKS: tuple[str, ...] = (
    "hyra_lightning.models.EDSR",
    "hyra_lightning.models.ESPCN",
    "hyra_lightning.models.BicubicUpsampler",
    "hyra_lightning.models.SincUpsampler",
)


#: One line per LightningCLI subcommand for ``hyra-lightning --help`` (Lightning's own lines are the first line of
#: the Trainer methods' docstrings, which ends mid-sentence for ``test`` and ``predict``).
SUBCOMMAND_SUMMARIES: dict[str, str] = {
    "fit": "Train a network (start with: hyra-lightning fit --config configs/quickstart.yaml).",
    "validate": "Run one evaluation epoch over the validation set (e.g. of a checkpoint: --ckpt_path).",
    "test": "Run one evaluation epoch over the test set (the data module's validation crops).",
    "predict": "Run the network on the prediction set (the data module's validation crops) and return its outputs.",
}

#: Appended to the parser's error when no network is given (``hyra-lightning fit`` without a config).
_NO_MODEL_HINT = (
    ": no network given. Start from the quickstart's config, `hyra-lightning {sub} --config"
    " configs/quickstart.yaml` (`--print_config` writes it out to edit), or name a network with"
    " `--model.model hyra_lightning.models.EDSR` and the data with `--data.*`"
)


class _FitSummary(Callback):
    """Prints :func:`fit_summary` at the end of ``fit``, on global rank zero of the processes that trained.

    Remembers ``trainer.global_step`` when the training loop starts (after a checkpoint was restored). The
    summary is printed from the ``on_fit_end`` hook rather than after ``trainer.fit`` returns: with the
    spawn-based strategies (``ddp_spawn``, ``ddp_fork``, ``ddp_notebook``) the fit runs in worker processes,
    and the launching process's trainer, callbacks and logger never see the trained step, the monitors' last
    readings or the log folder the run wrote (its logger would name the next, empty version).
    """

    def __init__(self) -> None:
        self.step: int | None = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.step = int(trainer.global_step)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero or trainer.interrupted:
            return
        sharding = sharding_strategy(trainer)
        if sharding is not None:  # rank zero holds a shard of the weights: nothing true to print
            print(
                f"\nhyra-lightning: no summary under {sharding} (it shards the parameters across ranks);"
                f" trained to step {trainer.global_step}. Analyse the checkpoint with `hyra-lightning analyze`.",
                flush=True,
            )
            return
        print(fit_summary(trainer, pl_module, trainer.datamodule, start_step=self.step), flush=True)


class _ExtraHelp:
    """A picklable ``extra_help`` callable (spawned DDP workers unpickle the trainer, hence the parser)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __call__(self) -> str:
        return self.text


class HyRALightningCLI(LightningCLI):
    """LightningCLI that links the data scale to the module and prints a summary at the end of ``fit``."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.scale", "model.scale")
        _offer_sr_networks(parser)

    def _add_subcommands(self, parser: LightningArgumentParser, **kwargs: Any) -> None:
        """Lightning's subcommands with whole one-line descriptions, then ``analyze`` and ``score``.

        ``analyze`` and ``score`` are run by :func:`main` before LightningCLI parses anything; they are listed
        here only so that ``hyra-lightning --help`` shows them (:meth:`parse_arguments` sends them back to
        :func:`main`'s way when options come before them).
        """
        for name, summary in SUBCOMMAND_SUMMARIES.items():
            kwargs.setdefault(name, {}).setdefault("description", summary)
        super()._add_subcommands(parser, **kwargs)
        subcommands = parser._subcommands_action
        for choice in subcommands._choices_actions:  # argparse's list entries (name, help)
            choice.help = SUBCOMMAND_SUMMARIES.get(choice.dest, choice.help)
        for name in COMMANDS:
            placeholder = LightningArgumentParser(description=SUMMARIES[name], add_help=False)
            subcommands.add_subcommand(name, placeholder, help=SUMMARIES[name])

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse as LightningCLI does; a missing network gets a pointer to the quickstart's config."""
        error = parser.error

        def error_with_hint(message: str, ex: Exception | None = None) -> Any:
            # "required: fit.model.model" or 'Key "fit.model.model" is required' (older jsonargparse)
            missing = re.search(r"\b(\w+)\.model\.model\b", message)
            if missing and "required" in message:
                message += _NO_MODEL_HINT.format(sub=missing.group(1))
            return error(message, ex)

        parser.error = error_with_hint  # type: ignore[method-assign]
        try:
            super().parse_arguments(parser, args)
        finally:
            del parser.error
        subcommand = self.config.get("subcommand") if self.config is not None else None
        if subcommand in COMMANDS:
            parser.error(
                f"Expected `{subcommand}` as the first argument, got options before it: run"
                f" `hyra-lightning {subcommand} ...` (see `hyra-lightning {subcommand} --help`)."
            )

    def before_fit(self) -> None:
        self.trainer.callbacks.append(_FitSummary())

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        except SystemExit:
            # Lightning turns Ctrl-C into a graceful shutdown and `sys.exit(1)`: say where the fit stopped.
            trainer = getattr(self, "trainer", None)
            if subcommand == "fit" and trainer is not None and trainer.interrupted and trainer.is_global_zero:
                print(_interrupted_note(trainer), flush=True)
            raise


def _offer_sr_networks(parser: LightningArgumentParser) -> None:
    """Make the help of ``--model.model`` list the SR networks, not every ``nn.Module`` subclass imported.

    jsonargparse lists the known subclasses of the parameter's type (about 60 for ``nn.Module``, torchmetrics
    and LPIPS included). The value accepted is unchanged: any ``nn.Module`` class path.
    """
    text = f", SR networks: {', '.join(SR_NETWORKS)}; or any torch.nn.Module by class path"
    for action in getattr(parser, "_actions", []):
        if getattr(action, "dest", None) == "model.model" and hasattr(action, "extra_help"):
            action.extra_help = _ExtraHelp(text)


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _limit(trainer: Any) -> str:
    if trainer.max_steps is not None and trainer.max_steps > 0:
        return f"step {trainer.global_step} of `trainer.max_steps` {trainer.max_steps}"
    return f"step {trainer.global_step} (epoch {trainer.current_epoch} of `trainer.max_epochs` {trainer.max_epochs})"


def _limit_reached(trainer: Any) -> bool:
    max_steps, max_epochs = trainer.max_steps, trainer.max_epochs
    if max_steps is not None and max_steps > 0 and trainer.global_step >= max_steps:
        return True
    return max_epochs is not None and max_epochs > 0 and trainer.current_epoch >= max_epochs


def _early_stopping_criterion_met(cb: EarlyStopping, trainer: Any) -> bool:
    """Whether ``cb``'s criteria hold for the last logged value (for Lightning releases that keep no reason)."""
    if cb.wait_count >= cb.patience:
        return True
    current = trainer.callback_metrics.get(cb.monitor)
    if current is None:
        return False
    current = torch.as_tensor(current).float().squeeze()
    if cb.check_finite and not torch.isfinite(current):
        return True
    if cb.stopping_threshold is not None and bool(cb.monitor_op(current, cb.stopping_threshold)):
        return True
    return cb.divergence_threshold is not None and bool(cb.monitor_op(-current, -cb.divergence_threshold))


def stop_reason(trainer: Any) -> str | None:
    """Why a fit ended before its step or epoch limit, in words; None when it reached the limit.

    Recognises an interrupt (Ctrl-C), the time limit ``trainer.max_time`` (Lightning's ``Timer``, whose
    elapsed time is restored from a checkpoint) and ``EarlyStopping``; anything else is "a callback asked the
    trainer to stop".
    """
    if trainer.interrupted:
        return "the fit was interrupted"
    if _limit_reached(trainer):
        return None
    for cb in trainer.callbacks:
        if isinstance(cb, Timer):
            remaining = cb.time_remaining()
            if remaining is not None and remaining <= 0:
                duration = getattr(cb, "_duration", None)
                return f"the time limit `trainer.max_time` ({_fmt_duration(duration)}) ran out"
    for cb in trainer.callbacks:
        if isinstance(cb, EarlyStopping):
            reason = getattr(cb, "stopping_reason", None)
            if reason is not None:
                stopped = reason.name != "NOT_STOPPED"
            else:  # Lightning before 2.5 keeps no reason; `stopped_epoch` stays 0 for a stop in epoch 0
                stopped = cb.stopped_epoch > 0 or _early_stopping_criterion_met(cb, trainer)
            if stopped:
                message = getattr(cb, "stopping_reason_message", None)
                return "EarlyStopping stopped it" + (f": {message}" if message else "")
    return "a callback asked the trainer to stop (`trainer.should_stop`)"


def _last_checkpoint(trainer: Any) -> str | None:
    for cb in trainer.callbacks:
        if isinstance(cb, ModelCheckpoint) and cb.last_model_path:
            return cb.last_model_path
    return None


def _interrupted_note(trainer: Any) -> str:
    lines = ["", f"hyra-lightning: the fit was interrupted at {_limit(trainer)}; no summary."]
    last = _last_checkpoint(trainer)
    if last:
        lines.append(f"  The last checkpoint is {last} (resume with `--ckpt_path {last}`).")
    return "\n".join(lines)


def fit_summary(
    trainer: Any, module: SuperResolutionModule, datamodule: SRDataModule, *, start_step: int | None = None
) -> str:
    """What a user wants to read when training ends: quality against bicubic, and the science.

    Evaluates the trained model and torch's bicubic upsampling on the same validation crops (PSNR, SSIM,
    FSDS), probes the final impulse response (with the probe options of the run's
    :class:`~hyra_lightning.callbacks.ImpulseResponseMonitor` when there is one) and decomposes the first
    validation images with HyRA. Says when and why the fit stopped before its limit (:func:`stop_reason`) and,
    given ``start_step`` (the global step at which this run's training loop started; None when it never
    started), how many steps this run trained, warning when a resumed fit trained none. Ends with the command
    that opens the dashboard.
    """
    from hyra_lightning.analysis import ProbeOptions, hyra_decompose, impulse_response
    from hyra_lightning.callbacks import HyRAMonitor, ImpulseResponseMonitor
    from hyra_lightning.callbacks._base import PrecisionForward

    scale = module.scale
    loader = datamodule.val_dataloader(distributed=False)  # every crop, also on rank zero of a DDP run
    device = module.device
    # Scores of the model as trained (half weights need half inputs); the probe and HyRA below measure in
    # full precision on their own.
    model_scores = evaluate_upsampler(
        PrecisionForward(module.model, trainer), loader, scale, module.crop_border, device=device
    )
    bicubic_scores = module.bicubic_baseline_metrics(loader)

    options = ProbeOptions()
    hyra_kwargs: dict[str, Any] = {}
    response = None
    for cb in trainer.callbacks:
        if isinstance(cb, ImpulseResponseMonitor):
            options = cb.probe_options
            if cb.last_step == trainer.global_step and cb.submodule in (None, "model"):
                response = cb.last_response  # measured at the end of training: do not probe again
        if isinstance(cb, HyRAMonitor):
            hyra_kwargs = {"boundary": cb.boundary}
    if response is None:
        response = impulse_response(module.model, options=options.replace(scale=scale))
    desc = response.describe()
    batch = next(iter(loader))
    lr, hr = split_batch(batch)
    n = min(4, lr.shape[0])
    hyra = hyra_decompose(
        module.model,
        lr[:n].to(device),
        hr=None if hr is None else hr[:n].to(device),
        response=response,
        **hyra_kwargs,
    )
    hs = hyra.scalars()
    gains = response.phase_gains

    def row(name: str, key: str, fmt: str) -> str:
        m, b = model_scores[key], bicubic_scores[key]
        return f"  {name:<6} {m:{fmt}}   {b:{fmt}}   {m - b:+{fmt}}"

    steps = trainer.global_step
    ran = steps - start_step if start_step is not None else 0
    header = f"hyra-lightning summary (x{scale}, {steps} optimizer steps"
    if start_step is None or start_step > 0:
        header += f", {ran} in this run"
    lines = ["", header + ")"]
    reason = stop_reason(trainer)
    if ran == 0:
        if reason is None:
            why = f"the checkpoint is already at {_limit(trainer)}; raise the limit (`--trainer.max_steps`) to train on"
        elif reason.startswith("the time limit"):
            why = (
                f"{reason} (Lightning counts the training time already spent by the fits that wrote the"
                " checkpoint); raise `--trainer.max_time` or remove it to train on"
            )
        else:
            why = reason
        lines.append(f"  WARNING: this run trained no step: {why}.")
    elif reason is not None:
        lines.append(f"  stopped early at {_limit(trainer)}: {reason}.")
    lines += [
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
        f"    phase_gain_spread {desc.phase_gain_spread:6.3f}   (per-phase DC gains {float(gains.min()):.3f} .. "
        f"{float(gains.max()):.3f}; 0 = no {scale}x{scale} grid in the linear part)",
        *_reading_lines(desc),
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


def _reading_lines(desc: ImpulseDescriptors) -> list[str]:
    """The reading errors of the summary's probe, and what it means when they say it is not a filter."""
    from hyra_lightning.analysis import MAX_LINEARITY_ERROR, MAX_REPEATABILITY_ERROR

    lines: list[str] = []
    if desc.linearity_error is not None:
        lines.append(
            f"    linearity_error  {desc.linearity_error:7.3f}   (0 = linear at the probe; a filter reading"
            f" needs <= {MAX_LINEARITY_ERROR:g})"
        )
    if desc.repeatability_error is not None:
        lines.append(
            f"    repeatability_error {desc.repeatability_error:5.3f}   (0 = deterministic; a filter reading"
            f" needs <= {MAX_REPEATABILITY_ERROR:g})"
        )
    problem = desc.reading_problem
    if problem is not None:
        lines += textwrap.wrap(
            f"WARNING: {problem}", width=110, initial_indent="    ", subsequent_indent="      "
        )
    return lines


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
    argv = sys.argv[1:] if args is None else list(args)
    if argv and argv[0] in COMMANDS:  # plain commands beside LightningCLI's subcommands
        from hyra_lightning.commands import run_command

        raise SystemExit(run_command(argv[0], argv[1:]))
    HyRALightningCLI(
        SuperResolutionModule,
        SRDataModule,
        subclass_mode_model=False,
        subclass_mode_data=False,
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,
        parser_kwargs={"description": "Train and analyse super-resolution networks (hyra-lightning)."},
        args=args,
    )


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
