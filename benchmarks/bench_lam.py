"""Benchmark: seconds per local attribution map for an EDSR-baseline and for an RRDB-sized network.

:func:`hyra_lightning.analysis.local_attribution` costs one forward pass of two images (the ends of the path)
and ``steps`` forward and backward passes of the network on the LR image, in batches of ``batch_size``; the
blur of the path is negligible. Printed per network: parameters, LR size, steps, median seconds per
attribution, seconds per path step, and the ratio of one path step to one forward pass without gradients of
the same image (the price of the backward pass and of the graph).

The RRDB-sized network is written here (no dependency): ESRGAN's generator layout, 23 residual-in-residual
dense blocks of 64 features and growth 32, a pixel-shuffle upsampler (16.6M parameters at x2); ``--rrdb-blocks``
makes it lighter.

Run: ``python benchmarks/bench_lam.py`` (``--steps 5`` extrapolates a CPU run: the cost is linear in the
steps; ``--device cuda`` on a GPU; ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyra_lightning.analysis import default_box, local_attribution
from hyra_lightning.data import load_photo
from hyra_lightning.models import EDSR


class DenseBlock(nn.Module):
    """Five 3x3 convolutions, each reading the block input and every earlier output; residual scaled 0.2."""

    def __init__(self, features: int = 64, growth: int = 32) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(features + i * growth, growth if i < 4 else features, 3, padding=1) for i in range(5)
        )
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor) -> Tensor:
        outputs = [x]
        for i, conv in enumerate(self.convs):
            y = conv(torch.cat(outputs, 1))
            if i < 4:
                outputs.append(self.act(y))
        return x + 0.2 * y


class RRDB(nn.Module):
    """Three dense blocks inside one more residual, scaled 0.2."""

    def __init__(self, features: int = 64, growth: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(*(DenseBlock(features, growth) for _ in range(3)))

    def forward(self, x: Tensor) -> Tensor:
        return x + 0.2 * self.body(x)


class RRDBNet(nn.Module):
    """An RRDB generator: head conv, ``blocks`` RRDBs and a conv in a long residual, pixel-shuffle x scale."""

    def __init__(self, scale: int = 2, blocks: int = 23, features: int = 64, growth: int = 32) -> None:
        super().__init__()
        self.scale = scale
        self.head = nn.Conv2d(3, features, 3, padding=1)
        self.body = nn.Sequential(*(RRDB(features, growth) for _ in range(blocks)))
        self.body_tail = nn.Conv2d(features, features, 3, padding=1)
        self.up = nn.Sequential(nn.Conv2d(features, 3 * scale**2, 3, padding=1), nn.PixelShuffle(scale))

    def forward(self, x: Tensor) -> Tensor:
        features = self.head(x)
        return self.up(features + self.body_tail(self.body(features)))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, repeats: int, device: torch.device) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="edsr,rrdb", help="comma-separated: edsr, rrdb")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--lr-size", type=int, default=48, help="side of the LR image")
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--rrdb-blocks", type=int, default=23)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.lr_size, args.steps, args.rrdb_blocks, args.window = 16, 2, 1, 8
    device = torch.device(args.device)
    torch.manual_seed(0)
    photo = load_photo("astronaut")
    side = args.scale * args.lr_size
    hr = photo[None, :, 40 : 40 + side, 120 : 120 + side]
    lr = (
        F.interpolate(hr, scale_factor=1 / args.scale, mode="bicubic", antialias=True)[0]
        .clamp(0, 1)
        .to(device)
    )
    box = default_box(lr, args.scale, window=args.window)
    print(
        f"device {device}, threads {torch.get_num_threads()}, LR {args.lr_size}x{args.lr_size} x{args.scale},"
        f" box {box} of {args.window}x{args.window}, {args.steps} steps, batch {args.batch_size}"
    )
    print(f"{'network':<16} {'params':>8} {'s/attribution':>14} {'s/step':>8} {'step/forward':>13} {'DI':>6}")
    for name in args.models.split(","):
        if name == "edsr":
            model: nn.Module = EDSR(args.scale)
            label = "EDSR-baseline"
        elif name == "rrdb":
            model = RRDBNet(args.scale, blocks=args.rrdb_blocks)
            label = f"RRDB x{args.rrdb_blocks}"
        else:
            raise SystemExit(f"unknown model {name!r} (edsr, rrdb)")
        model = model.to(device).eval()
        params = sum(p.numel() for p in model.parameters())
        results = []

        def attribute(model: nn.Module = model, results: list = results) -> None:
            results.append(
                local_attribution(
                    model, lr, box, window=args.window, steps=args.steps, batch_size=args.batch_size
                )
            )

        def forward(model: nn.Module = model) -> None:
            with torch.no_grad():
                model(lr[None])

        forward()  # warm-up
        seconds = _time(attribute, args.repeats, device)
        one_forward = _time(forward, 3, device)
        result = results[-1]
        per_step = seconds / args.steps
        print(
            f"{label:<16} {params / 1e6:>7.2f}M {seconds:>14.2f} {per_step:>8.3f} {per_step / one_forward:>13.1f}"
            f" {result.di:>6.2f}"
        )


if __name__ == "__main__":
    main()
