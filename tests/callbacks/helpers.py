"""A tiny SR LightningModule, crops of the bundled photographs and event-file readers for the callback tests.

Kept in an importable module (not a conftest) so that ``ddp_spawn`` workers can unpickle the classes.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from hyra_lightning.data import load_photo

LR_SIZE = 24
SCALE = 2
PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "brick")


class TinySR(nn.Module):
    """Nearest upsampling plus a learned residual through a pixel shuffle: ``(N, 3, h, w) -> (N, 3, 2h, 2w)``.

    ``max_size`` makes the forward reject inputs larger than that (like a model with a fixed positional-embedding table).
    """

    def __init__(self, scale: int = SCALE, feats: int = 8, max_size: int | None = None) -> None:
        super().__init__()
        self.scale = scale
        self.max_size = max_size
        self.head = nn.Conv2d(3, feats, 3, padding=1)
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(feats, feats, 3, padding=1), nn.ReLU())
        self.tail = nn.Conv2d(feats, 3 * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: Tensor) -> Tensor:
        if self.max_size is not None and max(x.shape[-2:]) > self.max_size:
            raise ValueError(
                f"input of {x.shape[-2]}x{x.shape[-1]} is larger than the positional-embedding table of {self.max_size}"
            )
        up = F.interpolate(x, scale_factor=self.scale, mode="nearest")
        return up + self.shuffle(self.tail(self.body(self.head(x))))


class SRModule(pl.LightningModule):
    """L1-trained :class:`TinySR`; ``validation_step`` returns SR/HR as ``outputs`` says."""

    def __init__(
        self,
        lr: float = 1e-2,
        outputs: Literal["dict", "tuple", "none"] = "dict",
        max_size: int | None = None,
        optimizer: Literal["adam", "sgd"] = "adam",
        tuple_batches: bool = False,
    ) -> None:
        super().__init__()
        self.net = TinySR(max_size=max_size)
        self.scale = SCALE
        self.learning_rate = lr
        self.outputs = outputs
        self.optimizer = optimizer
        self.tuple_batches = tuple_batches

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def _split(self, batch: Any) -> tuple[Tensor, Tensor]:
        return (batch[0], batch[1]) if self.tuple_batches else (batch["lr"], batch["hr"])

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        lr, hr = self._split(batch)
        loss = F.l1_loss(self(lr), hr)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        lr, hr = self._split(batch)
        sr = self(lr)
        self.log("val/l1", F.l1_loss(sr, hr))
        if self.outputs == "dict":
            return {"preds": sr, "target": hr}
        if self.outputs == "tuple":
            return sr, hr
        return None

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer == "sgd":
            return torch.optim.SGD(self.parameters(), lr=self.learning_rate)
        return torch.optim.Adam(self.parameters(), lr=self.learning_rate)


@functools.lru_cache(maxsize=1)
def _photos() -> tuple[Tensor, ...]:
    return tuple(load_photo(name) for name in PHOTOS)


class PhotoPairs(Dataset):
    """``(LR, HR)`` pairs: HR crops of ``2 * LR_SIZE`` pixels of the bundled photographs, LR by 2x2 averaging.

    Training pairs are flipped at random with the global torch RNG, so that a callback that consumed random
    numbers would change the training trajectory.
    """

    def __init__(self, n: int, offset: int = 0, train: bool = True, as_tuple: bool = False) -> None:
        hr_size = LR_SIZE * SCALE
        photos = _photos()
        crops = []
        for i in range(n):
            img = photos[(i + offset) % len(photos)]
            y = 40 + 37 * ((i + offset) // len(photos))
            x = 60 + 23 * i
            crops.append(img[:, y : y + hr_size, x : x + hr_size])
        self.hr = torch.stack(crops)
        self.lr = F.avg_pool2d(self.hr, SCALE)
        self.train = train
        self.as_tuple = as_tuple

    def __len__(self) -> int:
        return self.hr.shape[0]

    def __getitem__(self, i: int) -> Any:
        lr, hr = self.lr[i], self.hr[i]
        if self.train and torch.rand(()) < 0.5:
            lr, hr = lr.flip(-1), hr.flip(-1)
        return (lr, hr) if self.as_tuple else {"lr": lr, "hr": hr}


class PhotoData(pl.LightningDataModule):
    """6 training pairs (batch 2: 3 steps per epoch) and ``n_val`` validation pairs."""

    def __init__(self, n_val: int = 4, val_batch_size: int = 2, as_tuple: bool = False) -> None:
        super().__init__()
        self.n_val = n_val
        self.val_batch_size = val_batch_size
        self.as_tuple = as_tuple

    def train_dataloader(self) -> DataLoader:
        return DataLoader(PhotoPairs(6, as_tuple=self.as_tuple), batch_size=2, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        data = PhotoPairs(self.n_val, offset=6, train=False, as_tuple=self.as_tuple)
        return DataLoader(data, batch_size=self.val_batch_size, shuffle=False)


def make_trainer(
    root: Path, callbacks: list[pl.Callback], max_steps: int, logger: Any = "tb", **kwargs: Any
) -> pl.Trainer:
    """A quiet single-process CPU trainer logging to TensorBoard under ``root/run/version_0``."""
    if logger == "tb":
        logger = TensorBoardLogger(str(root), name="run", version=0)
    options: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "max_steps": max_steps,
        "logger": logger,
        "callbacks": callbacks,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "enable_checkpointing": False,
        "num_sanity_val_steps": 1,
        "log_every_n_steps": 1,
        "deterministic": True,
    }
    options.update(kwargs)
    return pl.Trainer(**options)


def read_events(log_dir: Path | str) -> EventAccumulator:
    """Every scalar, image and tensor event of a run directory (all event files), nothing purged."""
    acc = EventAccumulator(
        str(log_dir),
        size_guidance={"scalars": 0, "images": 0, "tensors": 0},
        purge_orphaned_data=False,
    )
    acc.Reload()
    return acc


def scalar_steps(acc: EventAccumulator, tag: str) -> list[int]:
    return [e.step for e in acc.Scalars(tag)]


def image_steps(acc: EventAccumulator, tag: str) -> list[int]:
    return [e.step for e in acc.Images(tag)]


class LeaveTogether(pl.Callback):
    """Last callback of a ``ddp_spawn`` fit: the ranks meet at a barrier and destroy the gloo process group before
    their worker returns.

    Lightning leaves a gloo group to the interpreter's exit; a rank that exits while its peer is still closing its
    connections can then be aborted by gloo ("Connection reset by peer" thrown on gloo's own thread: the worker
    ends with SIGABRT after the fit succeeded; seen with torch 2.4, and Lightning marks its own spawn tests
    flaky for it). The callbacks' ``teardown`` runs after the strategy's, and nothing after it in the worker
    uses the group, so this is the orderly end the workers otherwise lack.
    """

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
