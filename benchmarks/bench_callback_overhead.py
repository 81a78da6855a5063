"""Wall-time overhead of the three monitors at their defaults on a short CPU fit.

The same fit (a small EDSR at x2 on random patches of the bundled photographs, fixed seed, validation on fixed
crops after every epoch) runs without and with ``ImpulseResponseMonitor``, ``HyRAMonitor`` and
``FrequencySimilarityMonitor`` at their default settings, logging to TensorBoard in a temporary directory.
The two variants alternate ``--repeats`` times and the fastest run of each is compared, which damps the noise
of a shared machine. The time spent inside the monitors' hooks is also measured within each monitored fit and
compared with the rest of that fit, which stays meaningful when other processes load the machine. Target: at
most 5% overhead on CPU.

Run:
    python benchmarks/bench_callback_overhead.py                # about 4 to 8 minutes on 2 CPU cores
    python benchmarks/bench_callback_overhead.py --steps 100 --repeats 1   # a quick look
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from hyra_lightning.callbacks import FrequencySimilarityMonitor, HyRAMonitor, ImpulseResponseMonitor
from hyra_lightning.data import load_photos
from hyra_lightning.models import EDSR

SCALE = 2
HOOKS = (
    "setup",
    "on_train_start",
    "on_train_batch_end",
    "on_train_epoch_end",
    "on_train_end",
    "on_validation_epoch_start",
    "on_validation_batch_end",
    "on_validation_epoch_end",
)


class HookTimer:
    """Accumulates the wall time spent inside the monitors' hooks (wraps the bound methods of instances)."""

    def __init__(self, monitors: list[pl.Callback]) -> None:
        self.seconds: dict[str, float] = {type(m).__name__: 0.0 for m in monitors}
        for monitor in monitors:
            for hook in HOOKS:
                setattr(monitor, hook, self._timed(type(monitor).__name__, getattr(monitor, hook)))

    def _timed(self, owner: str, method: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[owner] += time.perf_counter() - start

        return timed


class RandomPatches(Dataset):
    """``length`` random ``(LR, HR)`` patch pairs; patch ``i`` is always the same (seeded by ``i``)."""

    def __init__(self, photos: list[Tensor], length: int, lr_patch: int) -> None:
        self.photos, self.length, self.lr_patch = photos, length, lr_patch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        g = torch.Generator().manual_seed(i)
        img = self.photos[int(torch.randint(len(self.photos), (1,), generator=g))]
        hp = self.lr_patch * SCALE
        y = int(torch.randint(img.shape[1] - hp + 1, (1,), generator=g))
        x = int(torch.randint(img.shape[2] - hp + 1, (1,), generator=g))
        hr = img[:, y : y + hp, x : x + hp]
        return {"lr": F.avg_pool2d(hr[None], SCALE)[0], "hr": hr}


class FixedCrops(Dataset):
    """Centre crops of ``hr_size`` pixels of every photograph, LR by 2 x 2 averaging."""

    def __init__(self, photos: list[Tensor], hr_size: int) -> None:
        crops = []
        for img in photos:
            y, x = (img.shape[1] - hr_size) // 2, (img.shape[2] - hr_size) // 2
            crops.append(img[:, y : y + hr_size, x : x + hr_size])
        self.hr = torch.stack(crops)
        self.lr = F.avg_pool2d(self.hr, SCALE)

    def __len__(self) -> int:
        return self.hr.shape[0]

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"lr": self.lr[i], "hr": self.hr[i]}


class EDSRModule(pl.LightningModule):
    """L1-trained EDSR; ``validation_step`` returns ``{"preds", "target"}`` for the monitors."""

    def __init__(self) -> None:
        super().__init__()
        self.model = EDSR(scale=SCALE, n_resblocks=4, n_feats=32)
        self.scale = SCALE

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = F.l1_loss(self(batch["lr"]), batch["hr"])
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        sr = self(batch["lr"])
        self.log("val/l1", F.l1_loss(sr, batch["hr"]))
        return {"preds": sr, "target": batch["hr"]}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=2e-4)


def run_fit(
    args: argparse.Namespace, photos: list[Tensor], with_monitors: bool
) -> tuple[float, list[pl.Callback], HookTimer | None]:
    """One fit; returns its wall time in seconds, the monitors and their hook timer."""
    pl.seed_everything(0, verbose=False)
    train = DataLoader(
        RandomPatches(photos, args.steps_per_epoch * args.batch_size, args.lr_patch),
        batch_size=args.batch_size,
        shuffle=True,
    )
    val = DataLoader(FixedCrops(photos, args.val_hr_size), batch_size=4)
    monitors = (
        [ImpulseResponseMonitor(), HyRAMonitor(), FrequencySimilarityMonitor()] if with_monitors else []
    )
    timer = HookTimer(monitors) if with_monitors else None
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            accelerator="cpu",
            devices=1,
            max_steps=args.steps,
            logger=TensorBoardLogger(root, name="bench"),
            callbacks=monitors,
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
            num_sanity_val_steps=0,
            log_every_n_steps=10,
        )
        module = EDSRModule()
        start = time.perf_counter()
        trainer.fit(module, train_dataloaders=train, val_dataloaders=val)
        elapsed = time.perf_counter() - start
    return elapsed, monitors, timer


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps per fit")
    parser.add_argument("--steps-per-epoch", type=int, default=100, help="steps between validations")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr-patch", type=int, default=32, help="LR training patch size")
    parser.add_argument("--val-hr-size", type=int, default=128, help="HR size of the 8 validation crops")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each variant")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*isinstance\\(treespec, LeafSpec\\).*")
    photos = list(load_photos().values())

    irm, hyra, fsm = ImpulseResponseMonitor(), HyRAMonitor(), FrequencySimilarityMonitor()
    print("Defaults' cadence:")
    print(
        f"  ImpulseResponseMonitor: every {irm.every_n_steps} optimizer steps, every_n_epochs="
        f"{irm.every_n_epochs}, at train start={irm.log_on_train_start}, at train end={irm.log_on_train_end};"
        f" probe {irm.probe_options.size}x{irm.probe_options.size}"
    )
    print(f"  HyRAMonitor: {hyra.num_images} images, every {hyra.every_n_epochs} validation run(s)")
    print(f"  FrequencySimilarityMonitor: every validation run, {fsm.num_bands} bands")
    print(
        f"Fit: EDSR(scale={SCALE}, n_resblocks=4, n_feats=32), {args.steps} steps of batch {args.batch_size}"
        f" x {args.lr_patch}x{args.lr_patch} LR patches, validation every {args.steps_per_epoch} steps on"
        f" 8 crops of {args.val_hr_size}x{args.val_hr_size} HR, {args.threads} threads"
    )

    times: dict[bool, list[float]] = {False: [], True: []}
    shares: list[tuple[float, float]] = []
    monitors: list[pl.Callback] = []
    for r in range(args.repeats):
        for with_monitors in (False, True):
            elapsed, got, timer = run_fit(args, photos, with_monitors)
            times[with_monitors].append(elapsed)
            label = "with monitors   " if with_monitors else "without monitors"
            line = f"  run {r + 1}/{args.repeats} {label}: {elapsed:7.2f} s"
            if timer is not None:
                monitors = got
                inside = sum(timer.seconds.values())
                shares.append((elapsed, inside / (elapsed - inside)))
                parts = ", ".join(f"{name} {sec:.2f} s" for name, sec in timer.seconds.items())
                line += f" (inside the monitors' hooks: {parts})"
            print(line)
    base, mon = min(times[False]), min(times[True])
    probes = monitors[0]._num_probes if monitors else 0
    print(f"Probes per fit: {probes}; HyRA and FSDS runs per fit: {args.steps // args.steps_per_epoch}")
    print(f"Best without monitors: {base:.2f} s; best with monitors: {mon:.2f} s")
    print(f"Overhead, wall time: {100 * (mon / base - 1):+.2f}% (ratio {mon / base:.4f}; target <= 5%)")
    print(
        f"Overhead, time inside the monitors' hooks / rest of the same fit: {100 * min(shares)[1]:.2f}%"
        " (fastest monitored run; both measured within one fit)"
    )


if __name__ == "__main__":
    main()
