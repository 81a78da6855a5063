"""ESPCN (Shi et al., CVPR 2016): three convolutions in LR space and one sub-pixel (pixel-shuffle) layer."""

from __future__ import annotations

from torch import Tensor, nn

from hyra_lightning.checks import check_choice, check_int
from hyra_lightning.options import ACTIVATIONS, Activation

__all__ = ["ESPCN"]


class ESPCN(nn.Module):
    r"""Efficient sub-pixel convolutional network (Shi et al., 2016).

    .. math::
        N(x) = \mathrm{PS}_s\big(W_3 * \phi(W_2 * \phi(W_1 * x + b_1) + b_2) + b_3\big)

    with a 5 x 5 convolution to 64 channels, a 3 x 3 convolution to 32 channels, a 3 x 3 convolution to
    ``n_colors * scale^2`` channels and a pixel shuffle :math:`\mathrm{PS}_s`. The activation
    :math:`\phi` is tanh, as in the paper (which found tanh better than ReLU for this shallow network);
    ``activation="relu"`` is offered for comparison. Convolutions use zero "same" padding (the paper trains
    on unpadded convolutions), so the output is exactly ``scale`` times the input size.

    Args:
        scale: integer upsampling factor ``>= 1``.
        n_colors: number of image channels.
        activation: ``"tanh"`` (paper) or ``"relu"``.

    Shape:
        - Input: ``(N, n_colors, h, w)``, values in [0, 1].
        - Output: ``(N, n_colors, scale * h, scale * w)``, not clamped.

    Example:
        >>> import torch
        >>> ESPCN(scale=3)(torch.rand(2, 3, 8, 9)).shape
        torch.Size([2, 3, 24, 27])
    """

    def __init__(self, scale: int, n_colors: int = 3, activation: Activation = "tanh") -> None:
        super().__init__()
        for name, value in (("scale", scale), ("n_colors", n_colors)):
            check_int(name, value)
        check_choice("activation", activation, ACTIVATIONS)
        self.scale = scale
        self.n_colors = n_colors
        act: type[nn.Module] = nn.Tanh if activation == "tanh" else nn.ReLU
        self.body = nn.Sequential(
            nn.Conv2d(n_colors, 64, kernel_size=5, padding=2),
            act(),
            nn.Conv2d(64, 32, kernel_size=3, padding=1),
            act(),
            nn.Conv2d(32, n_colors * scale**2, kernel_size=3, padding=1),
        )
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: Tensor) -> Tensor:
        """Super-resolve ``(N, n_colors, h, w)`` images to ``(N, n_colors, scale * h, scale * w)``."""
        if x.ndim != 4 or x.shape[1] != self.n_colors:
            raise ValueError(f"Expected `x` of shape (N, {self.n_colors}, h, w), got {tuple(x.shape)}.")
        return self.shuffle(self.body(x))
