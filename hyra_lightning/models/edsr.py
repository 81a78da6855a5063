"""EDSR (Lim et al., CVPR-W 2017), the baseline configuration and its larger variants.

The network: subtract the DIV2K RGB mean, a head convolution, ``n_resblocks`` residual blocks
(conv-ReLU-conv, no batch normalisation, residual scaling), a body convolution with a global skip, a
pixel-shuffle upsampler and a tail convolution, then add the mean back. Every convolution is 3 x 3 with
zero padding, so the network is shift-equivariant by the scale away from the border, as the impulse probe
of :mod:`hyra_lightning.analysis` assumes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hyra_lightning.checks import check_choice, check_float, check_int

__all__ = ["DIV2K_RGB_MEAN", "EDSR", "MeanShift", "ResBlock", "Upsampler"]

#: Mean RGB value of the DIV2K training set in [0, 1], used by EDSR's mean shift.
DIV2K_RGB_MEAN: tuple[float, float, float] = (0.4488, 0.4371, 0.4040)


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=True)


class MeanShift(nn.Module):
    r"""Add ``sign * rgb_range * mean`` to every channel: :math:`y_c = x_c + \mathrm{sign}\, r\, \mu_c`.

    The shift is a buffer, not a parameter: it is saved in checkpoints, moved with the module and never
    trained (EDSR's original code uses a frozen 1 x 1 convolution for the same purpose).

    Args:
        mean: one value per channel.
        sign: ``-1`` subtracts the mean (network input), ``+1`` adds it back (network output).
        rgb_range: the value range of the images, ``1.0`` for images in [0, 1].

    Shape:
        - Input: ``(N, C, H, W)`` with ``C == len(mean)``.
        - Output: same as the input.

    Example:
        >>> import torch
        >>> shift = MeanShift((0.5, 0.25, 0.0), sign=-1)
        >>> shift(torch.ones(1, 3, 1, 1)).flatten().tolist()
        [0.5, 0.75, 1.0]
    """

    shift: Tensor

    def __init__(self, mean: tuple[float, ...], sign: int = -1, rgb_range: float = 1.0) -> None:
        super().__init__()
        check_choice("sign", sign, (-1, 1))
        if len(mean) < 1:
            raise ValueError(f"Expected `mean` to have at least one value, got {mean!r}.")
        shift = sign * rgb_range * torch.tensor(mean, dtype=torch.float32)
        self.register_buffer("shift", shift.view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        """Shift every channel of ``x``."""
        return x + self.shift.to(x.dtype)


class ResBlock(nn.Module):
    r"""EDSR residual block without batch normalisation: :math:`x + \beta\, \mathrm{conv}(\mathrm{ReLU}(\mathrm{conv}(x)))`.

    Args:
        n_feats: number of feature channels.
        res_scale: residual scaling :math:`\beta` (EDSR uses 0.1 for its 256-feature model, 1.0 for the
            baseline).
    """

    def __init__(self, n_feats: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv3x3(n_feats, n_feats), nn.ReLU(inplace=True), _conv3x3(n_feats, n_feats)
        )
        self.res_scale = res_scale

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block to ``(N, n_feats, H, W)`` features."""
        res = self.body(x)
        if self.res_scale != 1.0:
            res = res * self.res_scale
        return res + x


class Upsampler(nn.Sequential):
    """Sub-pixel upsampler: a 3 x 3 convolution to ``r^2`` times the channels and a pixel shuffle by ``r``.

    Scale 2 and 3 use one stage; powers of two use ``log2(scale)`` stages of x2 (x4 = two x2 stages, as in
    EDSR).

    Args:
        scale: 2, 3 or a power of two.
        n_feats: number of feature channels (kept by the upsampler).
    """

    def __init__(self, scale: int, n_feats: int) -> None:
        check_int("scale", scale)
        layers: list[nn.Module] = []
        if scale & (scale - 1) == 0:
            for _ in range(scale.bit_length() - 1):
                layers += [_conv3x3(n_feats, 4 * n_feats), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [_conv3x3(n_feats, 9 * n_feats), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"Expected `scale` to be 3 or a power of two, got {scale}.")
        super().__init__(*layers)


class EDSR(nn.Module):
    r"""Enhanced Deep Super-Resolution network (Lim et al., 2017); the defaults give EDSR-baseline.

    .. math::
        N(x) = \mathrm{tail}(\mathrm{up}(f + \mathrm{body}(f))) + \mu, \qquad f = \mathrm{head}(x - \mu)

    with :math:`\mu` the DIV2K RGB mean times ``rgb_range``. EDSR-baseline (16 blocks, 64 features) has
    1,369,859 trainable parameters at x2; the paper's large EDSR is ``n_resblocks=32, n_feats=256,
    res_scale=0.1``.

    Args:
        scale: upsampling factor: 2, 3 or a power of two (x4 = two x2 stages).
        n_resblocks: number of residual blocks.
        n_feats: number of feature channels.
        res_scale: residual scaling of every block.
        n_colors: number of image channels. For ``n_colors != 3`` every channel is shifted by the average of
            the DIV2K RGB means.
        rgb_range: value range of the images; inputs are expected in ``[0, rgb_range]``.

    Shape:
        - Input: ``(N, n_colors, h, w)``, values in ``[0, rgb_range]``.
        - Output: ``(N, n_colors, scale * h, scale * w)``, not clamped.

    Example:
        >>> import torch
        >>> model = EDSR(scale=2, n_resblocks=2, n_feats=16)
        >>> model(torch.rand(1, 3, 12, 10)).shape
        torch.Size([1, 3, 24, 20])
        >>> sum(p.numel() for p in EDSR(scale=2).parameters())
        1369859
    """

    def __init__(
        self,
        scale: int,
        n_resblocks: int = 16,
        n_feats: int = 64,
        res_scale: float = 1.0,
        n_colors: int = 3,
        rgb_range: float = 1.0,
    ) -> None:
        super().__init__()
        check_int("scale", scale)
        check_int("n_resblocks", n_resblocks)
        check_int("n_feats", n_feats)
        check_int("n_colors", n_colors)
        check_float("res_scale", res_scale, minimum=0, strict_minimum=True)
        check_float("rgb_range", rgb_range, minimum=0, strict_minimum=True)
        self.scale = scale
        self.n_colors = n_colors
        self.rgb_range = rgb_range
        mean = DIV2K_RGB_MEAN if n_colors == 3 else (sum(DIV2K_RGB_MEAN) / 3,) * n_colors
        self.sub_mean = MeanShift(mean, sign=-1, rgb_range=rgb_range)
        self.head = _conv3x3(n_colors, n_feats)
        self.body = nn.Sequential(
            *(ResBlock(n_feats, res_scale) for _ in range(n_resblocks)), _conv3x3(n_feats, n_feats)
        )
        self.tail = nn.Sequential(Upsampler(scale, n_feats), _conv3x3(n_feats, n_colors))
        self.add_mean = MeanShift(mean, sign=1, rgb_range=rgb_range)

    def forward(self, x: Tensor) -> Tensor:
        """Super-resolve ``(N, n_colors, h, w)`` images to ``(N, n_colors, scale * h, scale * w)``."""
        if x.ndim != 4 or x.shape[1] != self.n_colors:
            raise ValueError(f"Expected `x` of shape (N, {self.n_colors}, h, w), got {tuple(x.shape)}.")
        x = self.head(self.sub_mean(x))
        x = x + self.body(x)
        return self.add_mean(self.tail(x))
