"""Overhead of the three monitors at their defaults: wall time of a short fit, and the training thread's cost.

The same fit (an EDSR on random patches of the bundled photographs, fixed seed, validation on fixed crops every
``--val-every`` steps) runs without and with ``ImpulseResponseMonitor``, ``HyRAMonitor`` and
``FrequencySimilarityMonitor`` (probe every ``--probe-every`` steps, the rest at their defaults), logging to
TensorBoard in a temporary directory. The two variants alternate ``--repeats`` times and the fastest run of each
is compared, which damps the noise of a shared machine.

Within the monitored fits the script also measures what the monitors cost the training thread: the time spent
inside their hooks, per monitor event (a probe, a HyRA decomposition, a validation run of FSDS including its
per-batch updates), next to the cost of the model's own forward passes that the event needs (timed on the same
model and shapes), and the time the background writer spent rendering and writing beside the training. With
``--blocking`` the monitors write in the training thread (the behaviour before the background writer), the
baseline for the writer's gain.

Targets: training-thread cost per monitor event at most 25 ms beyond the model's own forward passes on CPU with
the small EDSR; wall-time overhead at most 5% on CPU, and on a GPU with the EDSR-baseline x4 configuration.

Run:
    python benchmarks/bench_callback_overhead.py                # small EDSR x2 on CPU, a few minutes
    python benchmarks/bench_callback_overhead.py --steps 100 --repeats 1   # a quick look
    python benchmarks/bench_callback_overhead.py --accelerator gpu --model edsr-baseline --scale 4 --patch 48 \
        --batch-size 16 --steps 600 --val-every 200 --probe-every 200 --val-hr-size 256
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
from hyra_lightning.callbacks._writer import get_writer
from hyra_lightning.data import load_photos
from hyra_lightning.models import EDSR

MODELS = {
    "edsr-small": {"n_resblocks": 4, "n_feats": 32},
    "edsr-baseline": {"n_resblocks": 16, "n_feats": 64},
}
#: Hooks outside any monitor event: building the sinks and queueing the warm-up, and the final flush.
EDGE_HOOKS = ("setup", "teardown")
HOOKS = (
    *EDGE_HOOKS,
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
        #: seconds inside the hooks of each monitor's events
        self.seconds: dict[str, float] = {type(m).__name__: 0.0 for m in monitors}
        #: seconds inside ``setup`` and ``teardown`` (the final flush) of each monitor
        self.edges: dict[str, float] = {type(m).__name__: 0.0 for m in monitors}
        #: seconds of the model's forward passes made inside each monitor's event hooks
        self.forwards: dict[str, float] = {type(m).__name__: 0.0 for m in monitors}
        self._owner: str | None = None
        self._forward_start = 0.0
        for monitor in monitors:
            for hook in HOOKS:
                setattr(monitor, hook, self._timed(type(monitor).__name__, hook, getattr(monitor, hook)))

    def _timed(self, owner: str, hook: str, method: Any) -> Any:
        target = self.edges if hook in EDGE_HOOKS else self.seconds

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            self._owner = owner
            try:
                return method(*args, **kwargs)
            finally:
                self._owner = None
                target[owner] += time.perf_counter() - start

        return timed

    def watch_forward(self, model: torch.nn.Module) -> None:
        """Time the forward passes of ``model`` made inside the monitors' hooks (GPU work included: the
        timer synchronises CUDA around them)."""

        def pre(*_: Any) -> None:
            if self._owner is not None:
                _cuda_sync()
                self._forward_start = time.perf_counter()

        def post(*_: Any) -> None:
            if self._owner is not None:
                _cuda_sync()
                self.forwards[self._owner] += time.perf_counter() - self._forward_start

        model.register_forward_pre_hook(pre)
        model.register_forward_hook(post)


def _cuda_sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


class RandomPatches(Dataset):
    """``length`` random ``(LR, HR)`` patch pairs; patch ``i`` is always the same (seeded by ``i``)."""

    def __init__(self, photos: list[Tensor], length: int, lr_patch: int, scale: int) -> None:
        self.photos, self.length, self.lr_patch, self.scale = photos, length, lr_patch, scale

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        g = torch.Generator().manual_seed(i)
        img = self.photos[int(torch.randint(len(self.photos), (1,), generator=g))]
        hp = self.lr_patch * self.scale
        y = int(torch.randint(img.shape[1] - hp + 1, (1,), generator=g))
        x = int(torch.randint(img.shape[2] - hp + 1, (1,), generator=g))
        hr = img[:, y : y + hp, x : x + hp]
        return {"lr": F.avg_pool2d(hr[None], self.scale)[0], "hr": hr}


class FixedCrops(Dataset):
    """Centre crops of ``hr_size`` pixels of every photograph, LR by ``scale x scale`` averaging."""

    def __init__(self, photos: list[Tensor], hr_size: int, scale: int) -> None:
        crops = []
        for img in photos:
            y, x = (img.shape[1] - hr_size) // 2, (img.shape[2] - hr_size) // 2
            crops.append(img[:, y : y + hr_size, x : x + hr_size])
        self.hr = torch.stack(crops)
        self.lr = F.avg_pool2d(self.hr, scale)

    def __len__(self) -> int:
        return self.hr.shape[0]

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"lr": self.lr[i], "hr": self.hr[i]}


class EDSRModule(pl.LightningModule):
    """L1-trained EDSR; ``validation_step`` returns ``{"preds", "target"}`` for the monitors."""

    def __init__(self, model: str, scale: int) -> None:
        super().__init__()
        self.model = EDSR(scale=scale, **MODELS[model])
        self.scale = scale

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


def make_monitors(args: argparse.Namespace) -> list[pl.Callback]:
    return [
        ImpulseResponseMonitor(every_n_steps=args.probe_every, blocking=args.blocking),
        HyRAMonitor(blocking=args.blocking),
        FrequencySimilarityMonitor(blocking=args.blocking),
    ]


def run_fit(
    args: argparse.Namespace, photos: list[Tensor], with_monitors: bool
) -> tuple[float, list[pl.Callback], HookTimer | None, float]:
    """One fit; returns its wall time in seconds, the monitors, their hook timer and the writer's busy time."""
    pl.seed_everything(0, verbose=False)
    train = DataLoader(
        RandomPatches(photos, args.steps * args.batch_size, args.patch, args.scale),
        batch_size=args.batch_size,
        shuffle=True,
    )
    val = DataLoader(FixedCrops(photos, args.val_hr_size, args.scale), batch_size=4)
    monitors = make_monitors(args) if with_monitors else []
    timer = HookTimer(monitors) if with_monitors else None
    busy = get_writer().busy_seconds
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            accelerator=args.accelerator,
            devices=1,
            max_steps=args.steps,
            val_check_interval=args.val_every,
            check_val_every_n_epoch=None,
            logger=TensorBoardLogger(root, name="bench"),
            callbacks=monitors,
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
            num_sanity_val_steps=0,
            log_every_n_steps=10,
        )
        module = EDSRModule(args.model, args.scale)
        if timer is not None:
            timer.watch_forward(module.model)
        start = time.perf_counter()
        trainer.fit(module, train_dataloaders=train, val_dataloaders=val)
        elapsed = time.perf_counter() - start
    return elapsed, monitors, timer, get_writer().busy_seconds - busy


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accelerator", default="cpu", help="Lightning accelerator: cpu, gpu, ...")
    parser.add_argument("--model", choices=sorted(MODELS), default="edsr-small")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--patch", type=int, default=32, help="LR training patch size")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps per fit")
    parser.add_argument("--val-every", type=int, default=100, help="validation every this many steps")
    parser.add_argument("--probe-every", type=int, default=200, help="ImpulseResponseMonitor every_n_steps")
    parser.add_argument("--val-hr-size", type=int, default=128, help="HR size of the 8 validation crops")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each variant")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--blocking", action="store_true", help="monitors write in the training thread")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*isinstance\\(treespec, LeafSpec\\).*")
    photos = list(load_photos().values())

    irm, hyra, fsm = make_monitors(args)
    device = "cuda: " + torch.cuda.get_device_name() if args.accelerator in ("gpu", "cuda") else "cpu"
    print(
        f"torch {torch.__version__}, {device}, {args.threads} CPU threads, load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"Monitors: ImpulseResponseMonitor every {irm.every_n_steps} steps (+ start and end), probe"
        f" {irm.probe_options.size}x{irm.probe_options.size}; HyRAMonitor {hyra.num_images} images every"
        f" {hyra.every_n_epochs} validation run(s); FrequencySimilarityMonitor every validation run,"
        f" {fsm.num_bands} bands; writing {'in the training thread' if args.blocking else 'in the background'}"
    )
    print(
        f"Fit: {args.model} x{args.scale}, {args.steps} steps of batch {args.batch_size} x {args.patch}x{args.patch}"
        f" LR patches, validation every {args.val_every} steps on 8 crops of {args.val_hr_size}x{args.val_hr_size} HR"
    )

    times: dict[bool, list[float]] = {False: [], True: []}
    per_event: dict[str, list[tuple[float, float]]] = {}
    events: dict[str, int] = {}
    busy_runs: list[float] = []
    edges: list[float] = []
    shares: list[float] = []
    for r in range(args.repeats):
        for with_monitors in (False, True):
            elapsed, monitors, timer, busy = run_fit(args, photos, with_monitors)
            times[with_monitors].append(elapsed)
            label = "with monitors   " if with_monitors else "without monitors"
            line = f"  run {r + 1}/{args.repeats} {label}: {elapsed:7.2f} s"
            if timer is not None:
                irm_run, hyra_run, _ = monitors
                val_runs = hyra_run._val_runs
                events = {
                    "ImpulseResponseMonitor": irm_run._num_probes,
                    "HyRAMonitor": val_runs // hyra_run.every_n_epochs,
                    "FrequencySimilarityMonitor": val_runs,
                }
                for name, seconds in timer.seconds.items():
                    n = max(events[name], 1)
                    per_event.setdefault(name, []).append(
                        (1e3 * (seconds - timer.forwards[name]) / n, 1e3 * timer.forwards[name] / n)
                    )
                busy_runs.append(busy)
                edges.append(sum(timer.edges.values()))
                inside = sum(timer.seconds.values()) + edges[-1]
                shares.append(inside / (elapsed - inside))
                parts = ", ".join(f"{name} {sec:.2f} s" for name, sec in timer.seconds.items())
                line += f" (inside the monitors' hooks: {parts}; writer thread busy {busy:.2f} s)"
            print(line)
    base, mon = min(times[False]), min(times[True])
    print(f"Best without monitors: {base:.2f} s; best with monitors: {mon:.2f} s")
    print(f"Overhead, wall time: {100 * (mon / base - 1):+.2f}% (ratio {mon / base:.4f}; target <= 5%)")
    print(
        f"Overhead, time inside the monitors' hooks / rest of the same fit: {100 * min(shares):.2f}%"
        " (both measured within one fit, so other processes' load affects them alike)"
    )

    print(
        "Training thread per monitor event (time inside the monitors' hooks, the model's forward passes made"
        " there timed apart; the run with the smallest cost beyond them):"
    )
    for name, values in per_event.items():
        beyond, forward = min(values)
        print(
            f"  {name:<27} {beyond + forward:8.1f} ms per event ({events[name]} events): the model's forward"
            f" passes {forward:7.1f} ms, beyond them {beyond:6.1f} ms (target <= 25 ms)"
        )
    print(
        f"Training thread outside events (setup; final flush waiting for the writer): {1e3 * min(edges):.0f} ms"
        " per fit"
    )
    print(f"Writer thread, total busy time per monitored fit: {min(busy_runs):.2f} s (beside the training)")


if __name__ == "__main__":
    main()
