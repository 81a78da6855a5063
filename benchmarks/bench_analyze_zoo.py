"""Benchmark: seconds per model of ``hyra-lightning analyze`` over a folder of checkpoints (a zoo sweep).

For each architecture, ``--models`` checkpoints of ``hyra-lightning fit`` (random weights, one seed each) are
written into a folder, and :func:`hyra_lightning.commands.analyze.analyze` sweeps it with the command's defaults
(probe size 33, HR crops of at most 256 x 256, the two held-out bundled photographs): load, probe, HyRA and
scores on every image, the model's figures, ``report.json`` rewritten after each model. Printed per architecture:
parameters, seconds for one model alone (with the run's fixed costs: the references' probes, the overview
figures and the page) and the marginal seconds per model of the sweep, ``(t(n) - t(1)) / (n - 1)``, which is
what a zoo of a hundred models costs per model (after one warm-up run, so that imports and first-call caches
count in neither). A ``--resume`` run of the unchanged folder is timed too.

Architectures: ``espcn`` (ESPCN x2, a small network) and ``edsr`` (EDSR-baseline x2: 16 residual blocks of 64
features, 1.4M parameters).

Run: ``python benchmarks/bench_analyze_zoo.py`` (``--device cuda`` on a GPU; ``--quick`` for a smoke run;
``--lam`` adds the local attribution map of every model).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from hyra_lightning.commands.analyze import analyze
from hyra_lightning.models import EDSR, ESPCN

ARCHITECTURES: dict[str, tuple[type[nn.Module], dict]] = {
    "espcn": (ESPCN, {"scale": 2}),
    "edsr": (EDSR, {"scale": 2, "n_resblocks": 16, "n_feats": 64}),
}


def _write(folder: Path, arch: str, count: int) -> int:
    """``count`` checkpoints of ``arch`` shaped like those of ``hyra-lightning fit``; returns the parameters."""
    cls, args = ARCHITECTURES[arch]
    folder.mkdir(parents=True, exist_ok=True)
    params = 0
    for k in range(count):
        torch.manual_seed(k)
        net = cls(**args)
        params = sum(p.numel() for p in net.parameters())
        torch.save(
            {
                "state_dict": {f"model.{n}": v for n, v in net.state_dict().items()},
                "hyper_parameters": {
                    "model": {"class_path": f"hyra_lightning.models.{cls.__name__}", "init_args": args},
                    "scale": args["scale"],
                },
            },
            folder / f"{arch}_{k:03d}.ckpt",
        )
    return params


def _sweep(folder: Path, out: Path, args: argparse.Namespace, *, resume: bool = False) -> float:
    start = time.perf_counter()
    analyze(
        [folder],
        out=out,
        device=args.device,
        size=args.size,
        max_size=args.max_size,
        progress=False,
        resume=resume,
        lam=args.lam,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", default="espcn,edsr", help="comma-separated: espcn, edsr")
    parser.add_argument("--models", type=int, default=6, help="checkpoints per architecture in the sweep")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=33)
    parser.add_argument("--max-size", type=int, default=256)
    parser.add_argument("--lam", action="store_true")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 models, size 9, 64 x 64 crops")
    args = parser.parse_args()
    if args.quick:
        args.models, args.size, args.max_size = 2, 9, 64
    torch.set_num_threads(torch.get_num_threads())
    print(
        f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads; probe size"
        f" {args.size}, crops <= {args.max_size}, {args.models} models per sweep{', --lam' if args.lam else ''}"
    )
    print(
        "| architecture | parameters | one model (s) | per model in a sweep (s) | --resume, unchanged (s) |"
    )
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for arch in args.archs.split(","):
            params = _write(root / arch / "one", arch, 1)
            _write(root / arch / "zoo", arch, args.models)
            _sweep(root / arch / "one", root / arch / "out_warm", args)  # imports, caches, the first figures
            one = _sweep(root / arch / "one", root / arch / "out_one", args)
            many = _sweep(root / arch / "zoo", root / arch / "out_zoo", args)
            again = _sweep(root / arch / "zoo", root / arch / "out_zoo", args, resume=True)
            marginal = (many - one) / max(1, args.models - 1)
            print(f"| {arch} | {params / 1e6:.2f}M | {one:.2f} | {marginal:.2f} | {again:.2f} |", flush=True)


if __name__ == "__main__":
    main()
