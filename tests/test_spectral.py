import pytest
import torch
import torch.nn.functional as F

from hyra_lightning.spectral import linear_fft_conv2d, zero_insert, zero_insert_fft_conv2d


def _reference(x, kernel, scale, origin, out_size, depthwise=False):
    """Direct evaluation of the definition, with conv_transpose2d (zero insertion + full convolution)."""
    c_in = x.shape[-3]
    if depthwise:
        full = F.conv_transpose2d(x, kernel, stride=scale, groups=c_in)
    else:
        full = F.conv_transpose2d(x, kernel.transpose(0, 1), stride=scale)
    # full[Y] = sum_p x[p] k[Y - s p]; we want out[Y] = full[Y + origin], zero beyond the array
    oy, ox = origin
    pad_y = max(0, oy + out_size[0] - full.shape[-2])
    pad_x = max(0, ox + out_size[1] - full.shape[-1])
    full = F.pad(full, (0, pad_x, 0, pad_y))
    return full[..., oy : oy + out_size[0], ox : ox + out_size[1]]


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
@pytest.mark.parametrize("depthwise", [False, True])
def test_zero_insert_fft_conv2d_matches_direct_convolution(scale, depthwise):
    x = torch.randn(2, 3, 7, 10, dtype=torch.float64)
    kernel = torch.randn(3, 1 if depthwise else 3, 5 * scale, 4 * scale + 1, dtype=torch.float64)
    for origin in [(0, 0), (2 * scale, 2 * scale), (5 * scale + 3, 1)]:
        out_size = (7 * scale, 10 * scale)
        got = zero_insert_fft_conv2d(x, kernel, scale, origin, out_size, depthwise=depthwise)
        expected = _reference(x, kernel, scale, origin, out_size, depthwise)
        torch.testing.assert_close(got, expected, atol=1e-10, rtol=0)


def test_zero_insert_fft_conv2d_agrees_with_linear_fft_conv2d():
    x = torch.randn(1, 2, 6, 5)
    kernel = torch.randn(3, 2, 9, 9)
    got = zero_insert_fft_conv2d(x, kernel, 3, (4, 4), (18, 15))
    z = zero_insert(x, 3)[:, None]  # (1, 1, 2, 18, 15)
    expected = linear_fft_conv2d(z, kernel, (4, 4), (18, 15)).sum(-3)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert got.dtype == torch.float32


def test_zero_insert_fft_conv2d_dtypes_and_errors():
    x = torch.randn(1, 1, 4, 4).half()
    k = torch.randn(2, 1, 3, 3)
    assert zero_insert_fft_conv2d(x, k, 2, (1, 1), (8, 8)).dtype == torch.float32
    assert zero_insert_fft_conv2d(x, k.double(), 2, (1, 1), (8, 8)).dtype == torch.float64
    assert zero_insert_fft_conv2d(torch.randn(3, 4, 4), torch.randn(2, 3, 3, 3), 2, (1, 1), (8, 8)).shape == (
        2,
        8,
        8,
    )
    with pytest.raises(ValueError, match="`scale`"):
        zero_insert_fft_conv2d(x, k, 0, (1, 1), (8, 8))
    with pytest.raises(ValueError, match="input channels"):
        zero_insert_fft_conv2d(torch.randn(1, 2, 4, 4), k, 2, (1, 1), (8, 8))
    with pytest.raises(ValueError, match="depthwise"):
        zero_insert_fft_conv2d(x, k, 2, (1, 1), (8, 8), depthwise=True)
    with pytest.raises(ValueError, match="`kernel`"):
        zero_insert_fft_conv2d(x, k[0], 2, (1, 1), (8, 8))
