"""Benchmark the FSDS metric: batched implementation vs per-image loops vs the FFT floor.

For each batch (float32; on the CPU 64 x 3 x 64 x 64, 16 x 3 x 256 x 256, 4 x 3 x 511 x 512, 1 x 3 x 1020 x 1020
and 4 x 3 x 1020 x 1020; on a GPU 16 x 3 x 256 x 256, 4 x 3 x 1020 x 1020 and 16 x 3 x 1020 x 1020) this times,
interleaved round-robin so that background load hits every candidate alike, and prints medians and, for every
size, the ratio of each per-image loop to the batched call (above 1: batching is faster):

- ``batched``: ``hyra_lightning.functional.fsds(preds, target)``;
- ``loop (plain)``: a plain per-image loop of the same algorithm, written for speed (normalise both images,
  pad an odd row, ``rfft2`` of the two, the two cumulative sums per half of their difference and of the
  reference, the sums): what batching must never be slower than;
- ``loop (naive)``: the straightforward per-image implementation of the same definition (normalise with
  ``std_mean``, pad an odd height, ``rfft2`` of both images, split and flip, integrate both, subtract, one
  ``.item()`` per image), as a researcher would write it from the paper;
- ``loop (fsds per image)``: the package's own function called on one image pair at a time;
- ``floor``: ``rfft2`` of both inputs alone, the work no implementation can skip;
- ``metric update``: ``FSDS(num_bands=16).update`` (score and curve), for information.

Usage::

    python benchmarks/bench_fsds.py                 # the standard batches
    python benchmarks/bench_fsds.py --shapes 4x3x1020x1020 --threads 2 --repeats 15
    python benchmarks/bench_fsds.py --chunk-sweep   # CPU chunk sizes, to choose CPU_CHUNK_BYTES
    python benchmarks/bench_fsds.py --device cuda   # on a GPU (no chunking there); prints ratios to the floor
    python benchmarks/bench_fsds.py --device cuda --compile   # the same through torch.compile (fs.COMPILE)

Targets on a GPU: at most 3x the floor at 4x3x1020x1020 and 16x3x1020x1020, at most 0.3 ms at 16x3x256x256.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

import hyra_lightning.functional.frequency_similarity as fs
from hyra_lightning.functional import fsds
from hyra_lightning.metrics import FSDS

SHAPES = ((64, 3, 64, 64), (16, 3, 256, 256), (4, 3, 511, 512), (1, 3, 1020, 1020), (4, 3, 1020, 1020))
GPU_SHAPES = ((16, 3, 256, 256), (4, 3, 1020, 1020), (16, 3, 1020, 1020))


def plain_loop_fsds(preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A plain per-image loop of FSDS (reference image: target), without batching tricks; ``(N,)`` scores."""
    scores = []
    for p, t in zip(preds, target, strict=True):
        p = (p - p.mean()) / p.std()
        t = (t - t.mean()) / t.std()
        if p.shape[-2] % 2:
            p, t = F.pad(p, (0, 0, 0, 1)), F.pad(t, (0, 0, 0, 1))
        spec_t = torch.fft.rfft2(t)
        spec_d = torch.fft.rfft2(p) - spec_t
        half = spec_t.shape[-2] // 2
        energies = []
        for spec in (spec_d, spec_t):
            top = spec[:, :half].cumsum(-2).cumsum(-1)
            bottom = spec[:, half:].flip(-2).cumsum(-2).cumsum(-1)
            energies.append(
                torch.view_as_real(top).square().sum() + torch.view_as_real(bottom).square().sum()
            )
        scores.append(-10 * torch.log10(energies[0] / energies[1]))
    return torch.stack(scores)


def naive_fsds(preds: torch.Tensor, target: torch.Tensor) -> float:
    """Straightforward per-image FSDS, literally following the definition (reference image: target)."""
    scores = []
    for p, t in zip(preds, target, strict=True):
        halves = []
        for x in (p, t):
            std, mean = torch.std_mean(x)
            x = (x - mean) / std
            if x.shape[-2] % 2:
                x = F.pad(x, (0, 0, 0, 1))
            spec = torch.fft.rfft2(x)
            half = spec.shape[-2] // 2
            top, bottom = spec[:, :half], spec[:, half:].flip(-2)
            halves.append([h.cumsum(-2).cumsum(-1) for h in (top, bottom)])
        (dp_top, dp_bottom), (dt_top, dt_bottom) = halves
        num = (dp_top - dt_top).abs().square().sum() + (dp_bottom - dt_bottom).abs().square().sum()
        den = dt_top.abs().square().sum() + dt_bottom.abs().square().sum()
        scores.append(-10 * math.log10(num.item() / den.item()))
    return sum(scores) / len(scores)


def per_image_fsds(preds: torch.Tensor, target: torch.Tensor) -> float:
    return sum(fsds(p, t).item() for p, t in zip(preds, target, strict=True)) / len(preds)


def floor(preds: torch.Tensor, target: torch.Tensor) -> None:
    torch.fft.rfft2(preds)
    torch.fft.rfft2(target)


def metric_update(preds: torch.Tensor, target: torch.Tensor) -> None:
    metric = FSDS(num_bands=16).to(preds.device)
    metric.update(preds, target)
    metric.compute()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_round_robin(
    candidates: dict[str, Callable[[], object]], repeats: int, device: torch.device
) -> dict[str, float]:
    """Median seconds of each candidate, run round-robin ``repeats`` times after one warm-up each."""
    for fn in candidates.values():
        fn()
    _sync(device)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def make_batch(shape: tuple[int, ...], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(shape, generator=gen)
    preds = (target + 0.05 * torch.randn(shape, generator=gen)).clamp(0, 1)
    return preds.to(device), target.to(device)


def run_standard(
    repeats: int, device: torch.device, shapes: tuple[tuple[int, ...], ...] | None = None
) -> None:
    for shape in shapes or (SHAPES if device.type == "cpu" else GPU_SHAPES):
        preds, target = make_batch(shape, device)
        with torch.no_grad():
            result = time_round_robin(
                {
                    "batched": lambda p=preds, t=target: fsds(p, t),
                    "loop (plain)": lambda p=preds, t=target: plain_loop_fsds(p, t),
                    "loop (naive)": lambda p=preds, t=target: naive_fsds(p, t),
                    "loop (fsds per image)": lambda p=preds, t=target: per_image_fsds(p, t),
                    "floor (rfft2 x2)": lambda p=preds, t=target: floor(p, t),
                    "metric update": lambda p=preds, t=target: metric_update(p, t),
                },
                repeats,
                device,
            )
            check = abs(fsds(preds, target).item() - naive_fsds(preds.double(), target.double()))
        batched = result["batched"]
        print(
            f"\n{'x'.join(map(str, shape))} float32 on {device} (|batched - float64 naive| = {check:.1e} dB)"
        )
        floor_s = result["floor (rfft2 x2)"]
        for name, seconds in result.items():
            print(
                f"  {name:<24} {seconds * 1e3:9.3f} ms   batched / this = {batched / seconds:5.2f}"
                f"   this / floor = {seconds / floor_s:6.2f}"
            )
        print(
            f"  loop / batched: plain {result['loop (plain)'] / batched:.2f}x,"
            f" naive {result['loop (naive)'] / batched:.2f}x,"
            f" fsds per image {result['loop (fsds per image)'] / batched:.2f}x"
            f" (above 1: batching is faster); batched / floor: {batched / floor_s:.2f}x;"
            f" load average {os.getloadavg()[0]:.2f}"
        )


def run_chunk_sweep(
    repeats: int, device: torch.device, shapes: tuple[tuple[int, ...], ...] | None = None
) -> None:
    sizes_mb = (0.25, 0.5, 1, 2, 4, 8, 16, 1 << 20)
    default = fs.CPU_CHUNK_BYTES
    for shape in shapes or SHAPES:
        preds, target = make_batch(shape, device)
        candidates = {}
        for mb in sizes_mb:

            def run(mb: float = mb, p: torch.Tensor = preds, t: torch.Tensor = target) -> None:
                fs.CPU_CHUNK_BYTES = int(mb * 2**20)
                fsds(p, t)

            candidates[f"{mb:g} MB" if mb < 1 << 20 else "one batch"] = run
        candidates["floor (rfft2 x2)"] = lambda p=preds, t=target: floor(p, t)
        with torch.no_grad():
            result = time_round_robin(candidates, repeats, device)
        fs.CPU_CHUNK_BYTES = default
        print(f"\n{'x'.join(map(str, shape))}: chunk budget -> median ms (images per chunk)")
        for name, seconds in result.items():
            chunk = ""
            if name.endswith("MB"):
                fs.CPU_CHUNK_BYTES = int(float(name.split()[0]) * 2**20)
                chunk = f"({fs._chunk_size(preds)})"
                fs.CPU_CHUNK_BYTES = default
            print(f"  {name:<18} {seconds * 1e3:9.2f} ms {chunk}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--chunk-sweep", action="store_true")
    parser.add_argument(
        "--shapes", nargs="+", default=None, help="batches as NxCxHxW (default: the standard ones)"
    )
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the per-chunk kernel (not on CPU)"
    )
    args = parser.parse_args()
    fs.COMPILE = args.compile
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU_CHUNK_BYTES = {fs.CPU_CHUNK_BYTES},"
        f" device {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
        + f", compile={fs.COMPILE}, load average {os.getloadavg()[0]:.2f}"
    )
    shapes = tuple(tuple(int(v) for v in s.split("x")) for s in args.shapes) if args.shapes else None
    if args.chunk_sweep:
        run_chunk_sweep(args.repeats, device, shapes)
    else:
        run_standard(args.repeats, device, shapes)


if __name__ == "__main__":
    main()
