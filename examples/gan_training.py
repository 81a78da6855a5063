"""Watch the generator of a GAN (ESRGAN-style, manual optimization) with the three hyra-lightning monitors.

    python examples/gan_training.py            # 400 optimizer steps (200 batches)
    tensorboard --logdir lightning_logs

The generator is an EDSR, the discriminator a small patch discriminator; the generator's loss is L1 plus a
weighted adversarial term, and the module steps its two Adam optimizers itself
(``automatic_optimization = False``). The monitors probe ``submodule="generator"``: the discriminator is
never run by them. Lightning counts every optimizer step in ``trainer.global_step``, so this module advances
it by 2 per batch and a monitor's ``every_n_steps`` counts optimizer steps: ``every_n_steps=20`` probes every
10 batches (and an odd value only ever matches at its even multiples).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor, nn

from hyra_lightning import FrequencySimilarityMonitor, HyRAMonitor, ImpulseResponseMonitor
from hyra_lightning.data import SRDataModule
from hyra_lightning.models import EDSR


class PatchDiscriminator(nn.Module):
    """Real/fake logits per patch of an HR image: strided convolutions, ``(N, 3, H, W) -> (N, 1, H/4, W/4)``."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class GANModule(pl.LightningModule):
    """An SR GAN: EDSR generator trained with L1 + ``adversarial_weight`` x the non-saturating GAN loss."""

    def __init__(
        self,
        scale: int = 2,
        n_resblocks: int = 4,
        n_feats: int = 32,
        disc_width: int = 32,
        lr: float = 2e-4,
        adversarial_weight: float = 5e-3,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.scale = scale
        self.generator = EDSR(scale=scale, n_resblocks=n_resblocks, n_feats=n_feats)
        self.discriminator = PatchDiscriminator(disc_width)
        self.lr = lr
        self.adversarial_weight = adversarial_weight

    def forward(self, lr: Tensor) -> Tensor:
        return self.generator(lr)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()  # type: ignore[misc]
        lr, hr = batch["lr"], batch["hr"]
        # generator step: L1 + adversarial (the discriminator should call the SR output real)
        sr = self.generator(lr)
        fake_logits = self.discriminator(sr)
        adversarial = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        loss_g = F.l1_loss(sr, hr) + self.adversarial_weight * adversarial
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()  # global_step + 1
        # discriminator step: real HR patches against the (detached) SR output
        real_logits = self.discriminator(hr)
        fake_logits = self.discriminator(sr.detach())
        loss_d = F.binary_cross_entropy_with_logits(
            real_logits, torch.ones_like(real_logits)
        ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()  # global_step + 1
        self.log_dict({"train/loss_g": loss_g, "train/loss_d": loss_d}, prog_bar=True)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        sr = self.generator(batch["lr"]).clamp(0, 1)
        return {"preds": sr, "target": batch["hr"]}  # FrequencySimilarityMonitor scores these

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [
            torch.optim.Adam(self.generator.parameters(), lr=self.lr, betas=(0.9, 0.99)),
            torch.optim.Adam(self.discriminator.parameters(), lr=self.lr, betas=(0.9, 0.99)),
        ]


def main(argv: Sequence[str] | None = None) -> pl.Trainer:
    """Train the GAN with the three monitors on the generator; returns the trainer."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--max-steps", type=int, default=400, help="optimizer steps (2 per batch)")
    parser.add_argument(
        "--every-n-steps", type=int, default=40, help="impulse probe cadence, optimizer steps"
    )
    parser.add_argument("--val-every-n-batches", type=int, default=50, help="validation cadence, batches")
    parser.add_argument("--n-resblocks", type=int, default=4)
    parser.add_argument("--n-feats", type=int, default=32)
    parser.add_argument("--patch-size", type=int, default=24, help="LR training patch side (HR: twice that)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--log-dir", default="lightning_logs")
    args = parser.parse_args(argv)

    pl.seed_everything(0)
    batches = max(args.max_steps // 2, args.batch_size)
    data = SRDataModule(
        scale=2,
        patch_size=args.patch_size,
        batch_size=args.batch_size,
        train_samples_per_epoch=batches * args.batch_size,
        val_crop_size=4 * args.patch_size,
        val_crops_per_image=1,
    )
    trainer = pl.Trainer(
        max_steps=args.max_steps,
        logger=TensorBoardLogger(args.log_dir, name="gan_training"),
        callbacks=[
            ImpulseResponseMonitor(every_n_steps=args.every_n_steps, submodule="generator"),
            HyRAMonitor(num_images=1, submodule="generator"),
            FrequencySimilarityMonitor(num_bands=8, submodule="generator"),
        ],
        val_check_interval=args.val_every_n_batches,
        log_every_n_steps=5,
        num_sanity_val_steps=0,
        enable_checkpointing=False,
    )
    trainer.fit(
        GANModule(n_resblocks=args.n_resblocks, n_feats=args.n_feats, disc_width=args.n_feats),
        datamodule=data,
    )
    print(f"done: tensorboard --logdir {trainer.logger.log_dir}")
    return trainer


if __name__ == "__main__":
    main()
