"""A short fit of a ``torch.compile``d EDSR with the three monitors on a GPU (part of ``benchmarks/gpu_suite.sh``).

Trains the quickstart's data for ``--steps`` steps with ``ImpulseResponseMonitor(every_n_steps=10)``,
``HyRAMonitor`` and ``FrequencySimilarityMonitor`` and exits non-zero when the fit fails or a monitor's tag is
missing from the TensorBoard events.

Run:
    python benchmarks/gpu_compiled_fit.py --steps 40
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from hyra_lightning.callbacks import FrequencySimilarityMonitor, HyRAMonitor, ImpulseResponseMonitor
from hyra_lightning.data import SRDataModule
from hyra_lightning.models import EDSR
from hyra_lightning.module import SuperResolutionModule


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--accelerator", default="gpu")
    args = parser.parse_args()
    pl.seed_everything(0)
    module = SuperResolutionModule(model=torch.compile(EDSR(scale=2, n_resblocks=4, n_feats=32)))
    data = SRDataModule(scale=2, patch_size=32, batch_size=16, val_crop_size=128, train_samples_per_epoch=800)
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            accelerator=args.accelerator,
            devices=1,
            max_steps=args.steps,
            val_check_interval=args.steps // 2,
            check_val_every_n_epoch=None,
            num_sanity_val_steps=0,
            enable_progress_bar=False,
            logger=TensorBoardLogger(root, name="compiled"),
            callbacks=[ImpulseResponseMonitor(every_n_steps=10), HyRAMonitor(), FrequencySimilarityMonitor()],
        )
        trainer.fit(module, data)
        events = EventAccumulator(str(Path(trainer.logger.log_dir)), size_guidance={"images": 0})
        events.Reload()
        tags = set(events.Tags()["scalars"]) | set(events.Tags()["images"])
    missing = [t for t in ("impulse/dc_gain", "fsds/val", "hyra/sample_0") if t not in tags]
    print(f"compiled fit: {trainer.global_step} steps; missing tags: {missing or 'none'}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
