"""Benchmark: the HyRA linear part by FFT against a direct spatial convolution with the same kernel.

The linear part ``H(x)`` of HyRA convolves the zero-inserted LR image with the measured impulse response
(``C_out x C_in`` kernels of ``s*n x s*n`` HR pixels). The authors' script does this with a spatial
convolution on the HR grid; :func:`hyra_lightning.analysis.linear_response` does it by FFT, transforming
the LR image at LR size and summing the channel products before one inverse transform per output channel.

Printed per case: median wall time (the functions are timed in alternation) of both (and of ``conv_transpose2d``, the same direct sum without the
multiplications by inserted zeros), the speed-up, the largest difference relative to the output's peak,
and the cost of one impulse probe (size 33) against one forward pass of the model on the same LR size.

Run: ``python benchmarks/bench_hyra.py`` (add ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hyra_lightning.analysis import ImpulseResponse, impulse_response, linear_response
from hyra_lightning.spectral import zero_insert


class SmallSR(nn.Module):
    """A small ESPCN-like network: three 3x3 convolutions with ReLU and a pixel shuffle."""

    def __init__(self, scale: int, channels: int = 3, features: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, features, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(features, features, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(features, channels * scale**2, 3, padding=1),
            nn.PixelShuffle(scale),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


def direct_linear(lr: Tensor, response: ImpulseResponse) -> Tensor:
    """``H(x)`` by spatial convolution of the zero-inserted image (zero boundary), as the authors do."""
    s, c = response.scale, response.size // 2
    kernel = response.kernel
    kh = kernel.shape[-1]
    origin = s * c
    z = zero_insert(lr - response.background, s)
    z = F.pad(z, (kh - 1 - origin, origin, kh - 1 - origin, origin))
    return F.conv2d(z, kernel.flip(-2, -1))


def transposed_linear(lr: Tensor, response: ImpulseResponse) -> Tensor:
    """``H(x)`` by ``conv_transpose2d`` (stride ``s``): the direct sum, skipping the inserted zeros."""
    s, c = response.scale, response.size // 2
    h, w = lr.shape[-2:]
    full = F.conv_transpose2d(lr - response.background, response.kernel.transpose(0, 1), stride=s)
    return full[..., s * c : s * c + s * h, s * c : s * c + s * w]


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time of every function, timed in alternation so that they share the machine's load."""
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (smoke test)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    cases = [(64, 4), (128, 4), (128, 2)] if not args.quick else [(16, 2)]
    repeats = args.repeats if not args.quick else 2
    size = 33 if not args.quick else 9
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, probe size {size}, float32, CPU")
    header = (
        f"{'LR':>9} {'s':>2} | {'FFT ms':>8} {'direct ms':>10} {'speed-up':>8} {'max rel diff':>12} |"
        f" {'convT ms':>9} {'speed-up':>8} | {'probe ms':>8} {'forward ms':>10} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for lr_size, scale in cases:
        model = SmallSR(scale).eval()
        lr = torch.rand(1, 3, lr_size, lr_size)
        response = impulse_response(model, size=size, amplitude=0.02, background=0.5)
        fft_out = linear_response(lr, response)
        direct_out = direct_linear(lr, response)
        trans_out = transposed_linear(lr, response)
        peak = float(direct_out.abs().max())
        diff = max(float((fft_out - direct_out).abs().max()), float((fft_out - trans_out).abs().max())) / peak
        with torch.no_grad():
            t = interleaved_medians(
                {
                    "fft": lambda: linear_response(lr, response),  # noqa: B023
                    "direct": lambda: direct_linear(lr, response),  # noqa: B023
                    "convT": lambda: transposed_linear(lr, response),  # noqa: B023
                    "probe": lambda: impulse_response(model, size=size),  # noqa: B023
                    "forward": lambda: model(lr),  # noqa: B023
                },
                repeats,
            )
        t_fft, t_direct, t_trans, t_probe, t_fwd = (
            t[k] for k in ("fft", "direct", "convT", "probe", "forward")
        )
        print(
            f"{lr_size:>4}x{lr_size:<4} {scale:>2} | {1e3 * t_fft:8.1f} {1e3 * t_direct:10.1f}"
            f" {t_direct / t_fft:7.1f}x {diff:12.2e} | {1e3 * t_trans:9.1f} {t_trans / t_fft:7.1f}x |"
            f" {1e3 * t_probe:8.1f} {1e3 * t_fwd:10.1f} {t_probe / t_fwd:6.2f}"
        )


if __name__ == "__main__":
    main()
