"""Networks named by class path in checkpoints written by the app tests."""

from __future__ import annotations

from torch import Tensor, nn


class NeedsMultipleOf8(nn.Module):
    """A x2 network that, like many transformers, only runs on inputs whose sides are multiples of 8."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(3, 3 * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] % 8 or x.shape[-2] % 8:
            raise RuntimeError(f"input size {tuple(x.shape[-2:])} is not a multiple of 8")
        return self.shuffle(self.conv(x))


class Denoiser(nn.Module):
    """A scale-1 network (a denoiser): the output has the input's size."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + 0.1 * self.conv(x)


class ReturnsNaN(NeedsMultipleOf8):
    """A x2 network (the layers of :class:`NeedsMultipleOf8`, any input size) whose output is NaN everywhere."""

    def forward(self, x: Tensor) -> Tensor:
        return self.shuffle(self.conv(x)) * float("nan")
