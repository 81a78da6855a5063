"""Does an FSDS term help? Train the quickstart recipe once per loss arm and seed, and compare.

Each arm is a config overlay in ``configs/losses/`` (``--arms`` takes their names) applied over the recipe
(``--recipe``, default ``configs/quickstart.yaml``); every run goes through the ``hyra-lightning`` LightningCLI
in-process, with the recipe's data, monitors and schedule, ``--seed_everything`` and ``--data.seed`` set to the
seed (so the arms of one seed start from the same weights and see the same patches), and ``--steps`` optimizer
steps (an arm whose overlay sets ``trainer.max_steps`` trains at most that many).

It prints:

1. the gradient norm of every loss term with respect to the network's weights at initialisation, on the first
   training batch of seed 0, and the weight that would make each term's gradient as large as the L1 term's
   (``--gradients-only`` stops there). The arms' weights are this measurement on the quickstart, rounded to one
   significant digit: FSDS 0.05, FFT-L1 9, focal frequency 2; the second FSDS arm takes ten times 0.05;
2. one table: PSNR, SSIM and FSDS on the validation crops (mean and standard deviation over seeds, and the
   difference to the ``l1`` arm), and at the end of training the impulse descriptors ``dc_gain``, ``cutoff``,
   ``sinc_similarity``, ``negative_lobe``, ``phase_gain_spread`` and ``linearity_error`` (read with the probe of
   the recipe's ``ImpulseResponseMonitor`` when the fit ended, so the table shows what its dashboard shows;
   the default probe where the recipe has none) and HyRA's ``hf_injection`` (first two validation crops,
   reflect boundary, the same impulse response), means over seeds; and FSDS on the first 8 training batches
   of ``--data.seed 0`` (the same patches for every arm), whole (what a loss term sees) and without the
   recipe's border (as the validation crops are scored), from each run's last checkpoint.

It writes under ``--out``: ``results.md`` (the table), ``results.json`` (every number per seed),
``loss_ablation.png`` (FSDS per radial band of every arm against bicubic's, the impulse magnitude
profiles, and the validation FSDS and PSNR at every validation, read from the runs' TensorBoard events), and every run's TensorBoard folder ``<arm>/seed_<k>``: ``tensorboard --logdir OUT`` shows every arm
and seed as a run.

    python benchmarks/loss_ablation.py                                  # every arm, 3 seeds, 2000 steps
    python benchmarks/loss_ablation.py --steps 20 --seeds 1 --arms l1,l1_fsds_0.05   # smoke test
    python benchmarks/loss_ablation.py --gradients-only   # the gradient norms that set the weights
    python benchmarks/loss_ablation.py --recipe configs/edsr_baseline_x4_div2k.yaml --steps 20000 \\
        --seeds 3 -- --data.train_dir /path/DIV2K_train_HR --data.val_dir /path/DIV2K_valid_HR  # GPU

Every finished run's numbers are kept in ``OUT/runs/<arm>_seed_<k>.json``: a call that is stopped keeps what it
finished, and the next call with the same recipe, steps and extra arguments reads those runs back instead of
training them again (``--rerun`` trains them all again). On a machine with cores to spare, split the arms over
processes that share ``--out`` with ``--train-only``, then call once more without it for the table::

    OMP_NUM_THREADS=1 python benchmarks/loss_ablation.py --arms l1,l1_fft_l1,l1_focal_frequency --train-only &
    OMP_NUM_THREADS=1 python benchmarks/loss_ablation.py --arms l1_fsds_0.05,l1_fsds_0.5,fsds_only --train-only
    wait; python benchmarks/loss_ablation.py

Arguments after ``--`` go to every run's command line unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hyra_lightning.analysis import hyra_decompose, impulse_response  # noqa: E402
from hyra_lightning.batch import split_batch  # noqa: E402
from hyra_lightning.callbacks import ImpulseResponseMonitor  # noqa: E402
from hyra_lightning.cli import HyRALightningCLI  # noqa: E402
from hyra_lightning.data.datamodule import SRDataModule  # noqa: E402
from hyra_lightning.functional import fsds  # noqa: E402
from hyra_lightning.metrics import FSDS, plot_frequency_similarity  # noqa: E402
from hyra_lightning.models import BicubicUpsampler  # noqa: E402
from hyra_lightning.module import SuperResolutionModule, crop_border_pixels, evaluate_upsampler  # noqa: E402
from hyra_lightning.options import LOSS_TERMS  # noqa: E402
from hyra_lightning.spectral import bicubic_upsample  # noqa: E402
from hyra_lightning.tags import FSDS_VAL  # noqa: E402
from hyra_lightning.zoo import load_model  # noqa: E402

ARMS_DIR = ROOT / "configs" / "losses"
DEFAULT_ARMS = ("l1", "l1_fft_l1", "l1_focal_frequency", "l1_fsds_0.05", "l1_fsds_0.5", "fsds_only")
DESCRIPTORS = (
    "dc_gain",
    "cutoff",
    "sinc_similarity",
    "negative_lobe",
    "phase_gain_spread",
    "linearity_error",
)
NUM_BANDS = 16


def _cli(args: list[str], run: bool) -> HyRALightningCLI:
    """The ``hyra-lightning`` LightningCLI, built as its console script builds it."""
    with mock.patch.object(sys, "argv", ["hyra-lightning"]):  # the arguments are `args`, not this script's
        return HyRALightningCLI(
            SuperResolutionModule,
            SRDataModule,
            subclass_mode_model=False,
            subclass_mode_data=False,
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,
            args=args,
            run=run,
        )


def _arm_args(recipe: Path, arm: str, seed: int, steps: int, out: Path, extra: list[str]) -> list[str]:
    overlay = ARMS_DIR / f"{arm}.yaml"
    if not overlay.is_file():
        known = sorted(p.stem for p in ARMS_DIR.glob("*.yaml"))
        raise SystemExit(f"Unknown arm {arm!r}: no {overlay.relative_to(ROOT)}. Known arms: {known}.")
    trainer = yaml.safe_load(recipe.read_text()).get("trainer", {})
    arm_steps = yaml.safe_load(overlay.read_text()).get("trainer", {}).get("max_steps")
    steps = min(steps, arm_steps) if arm_steps else steps
    val_every = trainer.get("val_check_interval")
    args = [
        "--config", str(recipe), "--config", str(overlay),
        "--seed_everything", str(seed), "--data.seed", str(seed),
        "--trainer.max_steps", str(steps),
        "--trainer.enable_progress_bar", "false",
        "--trainer.logger.init_args.save_dir", str(out),
        "--trainer.logger.init_args.name", arm,
        "--trainer.logger.init_args.version", f"seed_{seed}",
    ]  # fmt: skip
    if isinstance(val_every, int) and val_every > steps:
        args += ["--trainer.val_check_interval", str(steps)]
    return [*args, *extra]


def measure_gradients(recipe: Path, seed: int, out: Path, extra: list[str]) -> dict[str, dict[str, float]]:
    """Value and gradient norm (w.r.t. the network's weights) of every loss term at initialisation, on the first
    training batch; the weight that equalises each term's gradient norm with the L1 term's."""
    cli = _cli(
        ["--config", str(recipe), "--seed_everything", str(seed), "--data.seed", str(seed), *extra], False
    )
    module, dm = cli.model, cli.datamodule
    dm.setup("fit")
    lr, hr = split_batch(next(iter(dm.train_dataloader())))
    params = [p for p in module.model.parameters() if p.requires_grad]
    from hyra_lightning.losses import loss_term

    found: dict[str, dict[str, float]] = {}
    for name in LOSS_TERMS:
        value = loss_term(name)(module.model(lr).float(), hr.float())  # type: ignore[arg-type]
        grads = torch.autograd.grad(value, params)
        norm = float(torch.sqrt(sum(g.double().square().sum() for g in grads)))
        found[name] = {"value": float(value.detach()), "grad_norm": norm}
    for row in found.values():
        row["equalising_weight"] = found["l1"]["grad_norm"] / row["grad_norm"]
    return found


@torch.no_grad()
def _curve(upsampler: Any, dm: SRDataModule, scale: int, border: int) -> list[float]:
    metric = FSDS(num_bands=NUM_BANDS, sync_on_compute=False)
    for batch in dm.val_dataloader():
        lr, hr = split_batch(batch)
        sr = upsampler(lr).float().clamp(0, 1)
        metric.update(crop_border_pixels(sr, border), crop_border_pixels(hr.float(), border))
    return metric.compute_curve()[1].tolist()


def run_arm(recipe: Path, arm: str, seed: int, steps: int, out: Path, extra: list[str]) -> dict[str, Any]:
    """Train one arm with one seed through the CLI; score and probe the trained network."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        cli = _cli(["fit", *_arm_args(recipe, arm, seed, steps, out, extra)], True)
    module, dm, trainer = cli.model, cli.datamodule, cli.trainer
    model = module.model.eval()
    scores = evaluate_upsampler(model, dm.val_dataloader(), module.scale, module.crop_border)
    # the recipe's impulse monitor probed the trained weights when the fit ended: the table shows what its
    # dashboard shows (quickstart: amplitude 0.02 on 0.5 grey, the local linear response)
    monitor = next((cb for cb in trainer.callbacks if isinstance(cb, ImpulseResponseMonitor)), None)
    response = getattr(monitor, "last_response", None)
    if response is None or monitor.last_step != trainer.global_step:
        response = impulse_response(model, in_channels=3)
    freqs, horizontal, _ = response.profiles()
    lr, hr = split_batch(next(iter(dm.val_dataloader())))
    hyra = hyra_decompose(model, lr[:2], hr=hr[:2], response=response, boundary="reflect").scalars()
    return {
        "arm": arm,
        "seed": seed,
        "steps": int(trainer.global_step),
        "loss": module.loss_weights,
        **scores,
        **{name: float(getattr(response.describe(), name)) for name in DESCRIPTORS},
        "hf_injection": float(hyra["hf_injection"]),
        "probe": {"amplitude": float(response.amplitude), "background": float(response.background)},
        "curve": _curve(model, dm, module.scale, module.crop_border),
        "profile_freqs": freqs.tolist(),
        "profile": horizontal.tolist(),
        "seconds": time.perf_counter() - start,
        "logdir": str(Path(trainer.logger.log_dir).relative_to(out)) if trainer.logger else None,
    }


PATCH_BATCHES = 8


def training_patches(dm: SRDataModule, batches: int = PATCH_BATCHES) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``batches`` training batches of ``dm`` (set up for ``fit``): with the same data seed, the same
    LR/HR patches for every arm, of the size the training losses saw."""
    lrs, hrs = [], []
    for _, batch in zip(range(batches), dm.train_dataloader(), strict=False):
        lr, hr = split_batch(batch)
        lrs.append(lr)
        hrs.append(hr)
    return torch.cat(lrs), torch.cat(hrs)


@torch.no_grad()
def patch_fsds(
    upsampler: Any, patches: tuple[torch.Tensor, torch.Tensor], border: int
) -> tuple[float, float]:
    """FSDS (dB, mean over patches) on the training patches, from one upsampling: whole (what an FSDS loss term
    optimises) and without ``border`` pixels on each side (as the validation crops are scored)."""
    lr, hr = patches
    sr = torch.cat([upsampler(chunk).float().clamp(0, 1) for chunk in lr.split(32)])
    hr = hr.float()
    whole = float(fsds(sr, hr))
    return whole, float(fsds(crop_border_pixels(sr, border), crop_border_pixels(hr, border)))


def _trained_network(out: Path, row: dict[str, Any]) -> torch.nn.Module:
    """A run's network at the end of its fit, from the last checkpoint its recipe wrote (checked to be at the
    run's final step)."""
    path = out / row["logdir"] / "checkpoints" / "last.ckpt"
    step = torch.load(path, map_location="cpu", weights_only=True)["global_step"]
    if step != row["steps"]:
        raise SystemExit(
            f"{path} is at step {step}, the run ended at step {row['steps']}: train it again (--rerun)."
        )
    return load_model(path).model


def _run_file(out: Path, arm: str, seed: int) -> Path:
    return out / "runs" / f"{arm}_seed_{seed}.json"


def _cached_run(out: Path, arm: str, seed: int, key: dict[str, Any]) -> dict[str, Any] | None:
    """A finished run's row, written when it ended, if it was trained with the same recipe, steps and extra
    arguments; ``None`` otherwise (then its partial TensorBoard folder, if any, is removed before it trains
    again, so that the dashboard shows one curve per run)."""
    path = _run_file(out, arm, seed)
    if path.is_file():
        stored = json.loads(path.read_text())
        if stored.get("key") == key:
            return stored["row"]
    logdir = out / arm / f"seed_{seed}"
    if logdir.is_dir():
        shutil.rmtree(logdir)
    return None


def _store_run(out: Path, arm: str, seed: int, key: dict[str, Any], row: dict[str, Any]) -> None:
    """Write the row atomically once the run has ended: a killed ablation keeps every finished run."""
    path = _run_file(out, arm, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "row": row}, indent=1))
    os.replace(tmp, path)


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, float("nan")
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def table(results: list[dict[str, Any]], arms: list[str]) -> str:
    """The Markdown table: scores (mean ± std over seeds, difference to the l1 arm) and descriptors (means)."""
    by_arm = {arm: [r for r in results if r["arm"] == arm] for arm in arms}
    base = (
        {
            k: _mean_std([r[k] for r in by_arm["l1"]])[0]
            for k in ("psnr", "ssim", "fsds", "patch_fsds", "patch_fsds_cropped")
        }
        if by_arm.get("l1")
        else None
    )
    head = [
        "arm",
        "loss",
        "steps",
        "seeds",
        "PSNR (dB)",
        "ΔPSNR",
        "SSIM",
        "ΔSSIM",
        "FSDS (dB)",
        "ΔFSDS",
        "patch FSDS (dB)",
        "Δpatch FSDS",
        "cropped patch FSDS (dB)",
        "Δcropped patch FSDS",
        *DESCRIPTORS,
        "hf_injection",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for arm, rows in by_arm.items():
        if not rows:
            continue
        cells = [
            arm,
            " + ".join(f"{v:g} {k}" for k, v in rows[0]["loss"].items()),
            str(rows[0]["steps"]),
            str(len(rows)),
        ]
        for key, digits in (
            ("psnr", 2),
            ("ssim", 4),
            ("fsds", 2),
            ("patch_fsds", 2),
            ("patch_fsds_cropped", 2),
        ):
            mean, std = _mean_std([r[key] for r in rows])
            cells.append(
                f"{mean:.{digits}f} ± {std:.{digits}f}" if not math.isnan(std) else f"{mean:.{digits}f}"
            )
            cells.append("" if base is None or arm == "l1" else f"{mean - base[key]:+.{digits}f}")
        for key in (*DESCRIPTORS, "hf_injection"):
            cells.append(f"{_mean_std([r[key] for r in rows])[0]:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)  # fmt: skip


def validation_history(logdir: Path) -> dict[str, list[float]]:
    """The validation FSDS and PSNR a run logged at each validation (its TensorBoard events)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "images": 1, "tensors": 1})
    events.Reload()
    fsds_events = events.Scalars(FSDS_VAL)
    # one of each per validation; Lightning logs `val/psnr` at the step before the monitor's
    psnr = [e.value for e in events.Scalars("val/psnr")]
    return {
        "step": [e.step for e in fsds_events],
        "fsds": [e.value for e in fsds_events],
        "psnr": psnr if len(psnr) == len(fsds_events) else [math.nan] * len(fsds_events),
    }


def figure(
    results: list[dict[str, Any]],
    arms: list[str],
    bicubic: list[float],
    bicubic_scores: dict[str, float],
    scale: int,
    path: Path,
) -> None:
    """FSDS per band of every arm (mean over seeds) with bicubic's, the horizontal impulse magnitude profiles
    (mean over seeds), and the validation FSDS and PSNR during training (mean over seeds)."""
    from matplotlib.figure import Figure

    from hyra_lightning.functional import frequency_bands

    fig = Figure(figsize=(12, 9), layout="constrained")
    (ax_curve, ax_profile), (ax_fsds, ax_psnr) = fig.subplots(2, 2)
    for ax, key, label in ((ax_fsds, "fsds", "FSDS (dB)"), (ax_psnr, "psnr", "PSNR (dB)")):
        ax.axhline(bicubic_scores[key], color="C0", linestyle="--", linewidth=1, label="bicubic")
        for k, arm in enumerate(arms, start=1):
            rows = [r for r in results if r["arm"] == arm and r.get("history")]
            if rows:
                steps = rows[0]["history"]["step"]
                values = torch.tensor([r["history"][key] for r in rows if r["history"]["step"] == steps])
                ax.plot(steps, values.mean(0), marker=".", color=f"C{k}", label=arm)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(label)
        ax.set_title(f"validation {label.split()[0]} during training (mean over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    centres, _ = frequency_bands(NUM_BANDS)
    series: dict[str, torch.Tensor] = {"bicubic": torch.tensor(bicubic)}
    # bicubic's profile first, so that every arm has the same colour in both panels
    freqs, profile, _ = impulse_response(BicubicUpsampler(scale), in_channels=3).profiles()
    ax_profile.plot(freqs, profile, color="C0", label="bicubic")
    for k, arm in enumerate(arms, start=1):
        rows = [r for r in results if r["arm"] == arm]
        if rows:
            series[arm] = torch.tensor([r["curve"] for r in rows]).nanmean(0)
            freqs = torch.tensor(rows[0]["profile_freqs"])
            profile = torch.tensor([r["profile"] for r in rows]).mean(0)
            ax_profile.plot(freqs, profile, color=f"C{k}", label=arm)
    plot_frequency_similarity(
        centres, series, scale=scale, ax=ax_curve, title="FSDS per radial band (validation)"
    )
    ax_profile.axvline(1 / scale, color="grey", linestyle="--", linewidth=1)
    ax_profile.set_xlabel("frequency (Nyquist units)")
    ax_profile.set_ylabel("|H| (horizontal profile)")
    ax_profile.set_title("impulse magnitude profile at the end of training")
    ax_profile.legend(fontsize="small")
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="optimizer steps per run (default 2000)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per arm: 0 .. seeds - 1 (default 3)")
    parser.add_argument(
        "--arms", default=",".join(DEFAULT_ARMS), help="comma-separated configs/losses/ names"
    )
    parser.add_argument(
        "--recipe",
        type=Path,
        default=ROOT / "configs" / "quickstart.yaml",
        help="the config every arm overlays (default configs/quickstart.yaml)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("outputs/loss_ablation"),
        help="the table, figure, kept runs and TensorBoard runs (default outputs/loss_ablation)",
    )
    parser.add_argument("--gradients-only", action="store_true", help="print the gradient norms and stop")
    parser.add_argument(
        "--rerun", action="store_true", help="train every run again, even those finished in an earlier call"
    )
    parser.add_argument(
        "--train-only",
        action="store_true",
        help="train (or read back) the runs and stop before the table: several processes with disjoint --arms "
        "can share one --out, and a last call without it writes the table and the figure",
    )
    args = parser.parse_args(argv)
    arms = [a for a in args.arms.split(",") if a]
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_float32_matmul_precision("highest")

    print(
        f"Gradient norms of the loss terms at initialisation (seed 0, first training batch, {args.recipe.name}):"
    )
    with contextlib.redirect_stdout(io.StringIO()):
        grads = measure_gradients(args.recipe, 0, args.out, extra)
    print(
        "| term | value | gradient norm | weight for the L1 term's gradient norm |\n| --- | --- | --- | --- |"
    )
    for name, row in grads.items():
        print(f"| {name} | {row['value']:.4g} | {row['grad_norm']:.4g} | {row['equalising_weight']:.3g} |")
    print(flush=True)
    if args.gradients_only:
        return 0

    results: list[dict[str, Any]] = []
    key = {"recipe": args.recipe.name, "steps": args.steps, "extra": extra, "measured": list(DESCRIPTORS)}
    for arm in arms:
        for seed in range(args.seeds):
            row = None if args.rerun else _cached_run(args.out, arm, seed, key)
            if row is None:
                row = run_arm(args.recipe, arm, seed, args.steps, args.out, extra)
                _store_run(args.out, arm, seed, key, row)
                done = "trained"
            else:
                done = "read back from runs/ (--rerun trains it again)"
            print(f"{arm} seed {seed}: {row['steps']} steps in {row['seconds']:.0f} s, PSNR {row['psnr']:.2f} dB, "
                  f"FSDS {row['fsds']:.2f} dB, {done}", flush=True)  # fmt: skip
            results.append(row)
    if args.train_only:
        print(f"Runs in {args.out / 'runs'}; run again without --train-only for the table and the figure.")
        return 0

    with contextlib.redirect_stdout(
        io.StringIO()
    ):  # the training patches of data seed 0, the validation crops
        cli = _cli(["--config", str(args.recipe), "--data.seed", "0", *extra], False)
    dm, module = cli.datamodule, cli.model
    dm.setup("fit")
    scale, border = module.scale, module.crop_border
    patches = training_patches(dm)
    for row in results:
        if "patch_fsds_cropped" not in row:  # measured once, then kept with the run
            row["patch_fsds"], row["patch_fsds_cropped"] = patch_fsds(
                _trained_network(args.out, row), patches, border
            )
            _store_run(args.out, row["arm"], row["seed"], key, row)
    for row in results:  # the validation scores at every validation of the run
        if row.get("logdir") and (args.out / row["logdir"]).is_dir():
            row["history"] = validation_history(args.out / row["logdir"])
    bicubic_scores = evaluate_upsampler(
        lambda x: bicubic_upsample(x, scale), dm.val_dataloader(), scale, border
    )
    bicubic_curve = _curve(lambda x: bicubic_upsample(x, scale), dm, scale, border)
    bicubic_patches, bicubic_cropped = patch_fsds(lambda x: bicubic_upsample(x, scale), patches, border)

    text = table(results, arms)
    note = (
        f"Bicubic on the same crops: PSNR {bicubic_scores['psnr']:.2f} dB, SSIM {bicubic_scores['ssim']:.4f}, "
        f"FSDS {bicubic_scores['fsds']:.2f} dB; on the training patches FSDS {bicubic_patches:.2f} dB whole,"
        f" {bicubic_cropped:.2f} dB without {border} border pixels. Recipe {args.recipe.name}, {args.steps} steps, seeds "
        f"0..{args.seeds - 1}, device {'cuda' if torch.cuda.is_available() else 'cpu'}."
    )
    probes = {json.dumps(r["probe"], sort_keys=True) for r in results}
    if len(probes) == 1:
        probe = results[0]["probe"]
        note += f" Impulse probe: amplitude {probe['amplitude']:g} on background {probe['background']:g}."
    print(text + "\n\n" + note)
    (args.out / "results.md").write_text(text + "\n\n" + note + "\n")
    (args.out / "results.json").write_text(
        json.dumps(
            {
                "gradients": grads,
                "bicubic": {
                    **bicubic_scores,
                    "patch_fsds": bicubic_patches,
                    "patch_fsds_cropped": bicubic_cropped,
                },
                "runs": results,
            },
            indent=1,
        )
    )
    figure(results, arms, bicubic_curve, bicubic_scores, scale, args.out / "loss_ablation.png")
    print(
        f"\nWrote {args.out / 'results.md'}, {args.out / 'loss_ablation.png'}; runs: tensorboard --logdir {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
