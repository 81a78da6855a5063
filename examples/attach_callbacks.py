"""Add the three hyra-lightning monitors to your own LightningModule and Trainer.

    python examples/attach_callbacks.py            # well under a minute on a laptop CPU
    tensorboard --logdir lightning_logs

The LightningModule below stands for yours: any module whose ``forward`` maps LR images to SR images works.
The only lines that are about hyra-lightning are marked ``# <- hyra-lightning``.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import TensorBoardLogger
from torch import nn

from hyra_lightning import (  # <- hyra-lightning
    FrequencySimilarityMonitor,
    HyRAMonitor,
    ImpulseResponseMonitor,
)
from hyra_lightning.data import SRDataModule


class MySRModule(pl.LightningModule):
    """A user's own SR module: a small residual CNN on top of bicubic upsampling (VDSR-like), x2."""

    def __init__(self, scale: int = 2, width: int = 32, lr: float = 1e-3) -> None:
        super().__init__()
        self.scale = scale  # the monitors read the scale from here
        self.lr = lr
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, 3, 3, padding=1),
        )

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return up + self.body(up)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = F.l1_loss(self(batch["lr"]), batch["hr"])
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        sr = self(batch["lr"]).clamp(0, 1)
        self.log("val/l1", F.l1_loss(sr, batch["hr"]))
        return {"preds": sr, "target": batch["hr"]}  # FrequencySimilarityMonitor reads these

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def main() -> None:
    pl.seed_everything(0)
    data = SRDataModule(scale=2, patch_size=32, batch_size=16, train_samples_per_epoch=320)  # bundled photos
    trainer = pl.Trainer(
        max_epochs=3,
        logger=TensorBoardLogger("lightning_logs", name="attach_callbacks"),
        callbacks=[
            ImpulseResponseMonitor(every_n_steps=20),  # <- hyra-lightning: impulse/...
            HyRAMonitor(num_images=2, boundary="reflect"),  # <- hyra-lightning: hyra/...
            FrequencySimilarityMonitor(num_bands=16),  # <- hyra-lightning: fsds/...
        ],
        log_every_n_steps=5,
        num_sanity_val_steps=0,
    )
    trainer.fit(MySRModule(), datamodule=data)
    print(f"done: tensorboard --logdir {trainer.logger.log_dir}")


if __name__ == "__main__":
    main()
