"""Small models with known behaviour, shared by the analysis tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ConvShuffle(nn.Module):
    """One convolution followed by pixel shuffle: linear and shift-invariant by ``scale`` (zero borders)."""

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        scale: int = 2,
        kernel_size: int = 3,
        bias: bool = False,
        groups: int = 1,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels,
            out_channels * scale**2,
            kernel_size,
            padding=kernel_size // 2,
            bias=bias,
            groups=groups,
            padding_mode=padding_mode,
        )
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: Tensor) -> Tensor:
        return self.shuffle(self.conv(x))


class ReLUNet(nn.Module):
    """conv - ReLU - conv - pixel shuffle, with biases: piecewise linear, clearly non-linear."""

    def __init__(self, channels: int = 3, features: int = 8, scale: int = 2) -> None:
        super().__init__()
        self.head = nn.Conv2d(channels, features, 3, padding=1)
        self.act = nn.ReLU()
        self.tail = nn.Conv2d(features, channels * scale**2, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: Tensor) -> Tensor:
        return self.shuffle(self.tail(self.act(self.head(x))))


class MixedModes(nn.Module):
    """conv - BatchNorm - Dropout - conv - pixel shuffle; optionally raises or forces dropout on."""

    def __init__(self, scale: int = 2, raise_in_forward: bool = False, force_dropout: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.drop = nn.Dropout(0.5)
        self.tail = nn.Conv2d(8, 3 * scale**2, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)
        self.raise_in_forward = raise_in_forward
        self.force_dropout = force_dropout

    def forward(self, x: Tensor) -> Tensor:
        h = self.drop(self.bn(self.conv(x)))
        if self.force_dropout:
            h = F.dropout(h, 0.5, training=True)
        if self.raise_in_forward:
            raise RuntimeError("boom")
        return self.shuffle(self.tail(h))


class NoisySR(nn.Module):
    """A linear convolution and pixel shuffle plus random noise at evaluation: ``per_element`` Gaussian noise of
    std ``sigma`` (noise injection), or one random gain ``1 + sigma * U`` per forward pass."""

    def __init__(self, sigma: float = 0.01, per_element: bool = True, scale: int = 2) -> None:
        super().__init__()
        self.body = ConvShuffle(3, 3, scale, bias=True)
        self.sigma = sigma
        self.per_element = per_element

    def forward(self, x: Tensor) -> Tensor:
        y = self.body(x)
        if self.per_element:
            return y + self.sigma * torch.randn_like(y)
        return y * (1 + self.sigma * torch.rand(()))


class BiasFreeReLUNet(nn.Module):
    """conv - ReLU - conv - pixel shuffle without biases: positively homogeneous (``N(t x) = t N(x)`` for
    ``t > 0``), so only superposition shows that it is not linear."""

    def __init__(self, features: int = 8, scale: int = 2) -> None:
        super().__init__()
        self.head = nn.Conv2d(3, features, 3, padding=1, bias=False)
        self.tail = nn.Conv2d(features, 3 * scale**2, 3, padding=1, bias=False)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: Tensor) -> Tensor:
        return self.shuffle(self.tail(torch.relu(self.head(x))))


class ChannelProduct(nn.Module):
    """Linear in each input channel alone, with a cross-channel product: ``ConvShuffle(x) + up(x_0 * x_1)``."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.body = ConvShuffle(3, 3, scale)
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        product = F.interpolate(x[:, :1] * x[:, 1:2], scale_factor=self.scale, mode="nearest")
        return self.body(x) + product


def bicubic_closed_form(scale: int, size: int) -> Tensor:
    """SPEC's closed form of the bicubic response: ``W(v - c) W(u - c)``, ``u = (X + 0.5)/s - 0.5``."""
    a = -0.75
    c = size // 2
    u = (torch.arange(scale * size, dtype=torch.float64) + 0.5) / scale - 0.5
    t = (u - c).abs()
    w = torch.where(
        t <= 1,
        (a + 2) * t**3 - (a + 3) * t**2 + 1,
        torch.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, torch.zeros_like(t)),
    )
    return w[:, None] * w[None, :]
