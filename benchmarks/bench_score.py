"""Benchmark ``hyra-lightning score`` on a DIV2K-validation-sized folder: 100 pairs of about 2040 x 1350 pixels.

The images are synthetic but photographic: every HR image is a mosaic of randomly placed, flipped and rotated
crops of the bundled photographs, enlarged 1.5 to 3 times, with mild sensor-like noise; its SR partner is the
bicubic x4 round trip (antialiased downsampling, bicubic upsampling), saved as ``<name>x4.png``. They are
generated once into ``--data`` (PNG, fast compression) and reused.

Timed, in the same run:

- ``score``: ``hyra_lightning.commands.score.score`` as the command runs it (files decoded by a thread pool
  ahead of the scoring, pairs of one size scored in batches);
- ``score, serial``: the same function with ``batch_size=1, workers=0`` (one pair at a time, decoding in line);
- ``naive loop``: what one writes by hand: for each pair, read both files, torchmetrics' PSNR and SSIM and the
  package's FSDS, one image at a time. It is timed on ``--baseline-images`` pairs (it is slow) and its
  per-image time is extrapolated to the whole folder.

Usage::

    python benchmarks/bench_score.py                      # 2 threads, like a 2-core laptop
    python benchmarks/bench_score.py --threads 8 --device cuda
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from hyra_lightning.commands.score import score
from hyra_lightning.data import PHOTO_NAMES, load_photo


def _mosaic(rng: np.random.Generator, photos: list[torch.Tensor], height: int, width: int) -> torch.Tensor:
    canvas = torch.empty(3, height, width)
    tile = 384
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            photo = photos[rng.integers(len(photos))]
            factor = float(rng.uniform(1.5, 3.0))
            src = max(8, math.ceil(tile / factor))
            y = int(rng.integers(0, photo.shape[-2] - src))
            x = int(rng.integers(0, photo.shape[-1] - src))
            crop = photo[:, y : y + src, x : x + src]
            crop = torch.rot90(crop, int(rng.integers(4)), dims=(-2, -1))
            if rng.random() < 0.5:
                crop = crop.flip(-1)
            big = F.interpolate(crop[None], size=(tile, tile), mode="bicubic", align_corners=False)[0]
            h, w = min(tile, height - top), min(tile, width - left)
            canvas[:, top : top + h, left : left + w] = big[:, :h, :w]
    noise = torch.from_numpy(rng.normal(0.0, 0.01, size=canvas.shape).astype(np.float32))
    return (canvas + noise).clamp(0, 1)


def _save(img: torch.Tensor, path: Path) -> None:
    arr = (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr).save(path, compress_level=1)


def make_dataset(root: Path, count: int, seed: int = 0) -> tuple[Path, Path]:
    """HR and SR folders of ``count`` DIV2K-sized pairs (generated once)."""
    hr_dir, sr_dir = root / "HR", root / "SR_x4"
    if (
        hr_dir.is_dir()
        and len(list(hr_dir.glob("*.png"))) == count
        and len(list(sr_dir.glob("*.png"))) == count
    ):
        return sr_dir, hr_dir
    hr_dir.mkdir(parents=True, exist_ok=True)
    sr_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = [load_photo(name) for name in PHOTO_NAMES]
    for i in range(count):
        height = 4 * int(rng.integers(312, 352))  # 1248 .. 1404, like DIV2K's validation heights
        width = 2040
        hr = _mosaic(rng, photos, height, width)
        hr = torch.from_numpy(np.asarray((hr.permute(1, 2, 0).numpy() * 255).round(), dtype=np.float32) / 255)
        hr = hr.permute(2, 0, 1).contiguous()
        lr = F.interpolate(hr[None], scale_factor=0.25, mode="bicubic", antialias=True, align_corners=False)
        sr = F.interpolate(lr.clamp(0, 1), scale_factor=4, mode="bicubic", align_corners=False)[0].clamp(0, 1)
        name = f"{801 + i:04d}"
        _save(hr, hr_dir / f"{name}.png")
        _save(sr, sr_dir / f"{name}x4.png")
        print(f"\rgenerating {i + 1}/{count}", end="", flush=True)
    print()
    return sr_dir, hr_dir


def naive_loop(sr_dir: Path, hr_dir: Path, limit: int, device: torch.device) -> float:
    """Hand-written per-image loop; returns seconds per image."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    from hyra_lightning.functional import fsds
    from hyra_lightning.io import read_image

    pairs = sorted(hr_dir.glob("*.png"))[:limit]
    start = time.perf_counter()
    for hr_path in pairs:
        sr = read_image(sr_dir / f"{hr_path.stem}x4.png")[None].to(device)
        hr = read_image(hr_path)[None].to(device)
        float(peak_signal_noise_ratio(sr, hr, data_range=1.0))
        float(structural_similarity_index_measure(sr, hr, data_range=1.0))
        float(fsds(sr, hr))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "hyra_bench_score")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (2: a 2-core machine)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--baseline-images", type=int, default=5, help="pairs the naive loop is timed on")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sr_dir, hr_dir = make_dataset(args.data, args.count)
    print(f"{args.count} pairs of about 2040 x 1350 in {args.data}; {args.threads} threads; device {device}")

    start = time.perf_counter()
    fast = score(sr_dir, hr_dir, scale=4, device=device, progress=False, workers=args.threads + 1)
    t_fast = time.perf_counter() - start
    start = time.perf_counter()
    serial = score(sr_dir, hr_dir, scale=4, device=device, progress=False, batch_size=1, workers=0)
    t_serial = time.perf_counter() - start
    per_image = naive_loop(sr_dir, hr_dir, args.baseline_images, device)
    t_naive = per_image * args.count

    for a, b in zip(fast.images, serial.images, strict=True):
        assert all(math.isclose(a[k], b[k], rel_tol=1e-5, abs_tol=1e-5) for k in ("psnr", "ssim", "fsds"))
    print(
        f"mean PSNR {fast.mean['psnr']:.3f} dB, SSIM {fast.mean['ssim']:.4f}, FSDS {fast.mean['fsds']:.3f} dB"
    )
    print(f"{'candidate':<16}{'total (s)':>12}{'s / image':>12}{'vs score':>10}")
    for name, total in (
        ("score", t_fast),
        ("score, serial", t_serial),
        ("naive loop*", t_naive),
    ):
        print(f"{name:<16}{total:12.1f}{total / args.count:12.3f}{total / t_fast:10.2f}x")
    print(f"* timed on {args.baseline_images} pairs and extrapolated to {args.count}")


if __name__ == "__main__":
    main()
