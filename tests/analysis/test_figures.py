"""The FSDS band map: bands as rows (lowest at the bottom), validation steps as columns, a colour bar."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib import colormaps

from hyra_lightning.analysis.figures import (
    BAND_MAP_CMAP,
    BAND_MAP_MISSING_COLOUR,
    fsds_band_map,
    new_figure,
    render_figure,
)
from hyra_lightning.functional import frequency_bands


def _pixels(fig) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)


def _colour_at(fig, pixels: np.ndarray, column: float, frequency: float) -> np.ndarray:
    """RGB of the map at (column index, radial frequency)."""
    x, y = fig.axes[0].transData.transform((column, frequency))
    return pixels[round(pixels.shape[0] - y), round(x)]


def _cmap_rgb(t: float) -> np.ndarray:
    return np.round(np.array(colormaps[BAND_MAP_CMAP](t)[:3]) * 255).astype(int)


def test_band_map_axes_labels_and_colour_bar():
    values = torch.rand(5, 8, generator=torch.Generator().manual_seed(0)) * 30
    steps = [0, 200, 400, 600, 800]
    fig = fsds_band_map(values, steps, scale=2)
    ax, bar = fig.axes
    assert ax.get_xlabel() == "validation at global step"
    assert ax.get_ylabel() == "radial frequency (Nyquist units)"
    assert bar.get_ylabel() == "FSDS (dB)"
    assert [label.get_text() for label in ax.get_xticklabels()] == [str(s) for s in steps]
    assert ax.get_ylim() == pytest.approx((0.0, 2**0.5))
    (nyquist,) = ax.get_lines()
    assert nyquist.get_ydata()[0] == pytest.approx(0.5)
    lo, hi = bar.get_ylim()
    assert lo == pytest.approx(float(values.min())) and hi == pytest.approx(float(values.max()))
    assert "grey" not in " ".join(t.get_text() for t in ax.texts)  # no missing value, no note
    many = fsds_band_map(np.zeros((40, 4)), list(range(0, 4000, 100)))
    labels = [label.get_text() for label in many.axes[0].get_xticklabels()]
    assert 2 <= len(labels) <= 8 and labels[0] == "0" and labels[-1] == "3900"


def test_band_map_lowest_band_at_the_bottom_and_steps_left_to_right():
    # band 0 scores 30 dB from the second validation on, everything else 0 dB
    values = np.zeros((3, 4))
    values[1:, 0] = 30.0
    fig = fsds_band_map(values, [10, 20, 30], title=None)
    pixels = _pixels(fig)
    centres, _ = frequency_bands(4)
    assert (
        np.abs(_colour_at(fig, pixels, 1, float(centres[0])) - _cmap_rgb(1.0)).max() <= 2
    )  # bottom row, bright
    assert (
        np.abs(_colour_at(fig, pixels, 0, float(centres[0])) - _cmap_rgb(0.0)).max() <= 2
    )  # first step, dark
    assert np.abs(_colour_at(fig, pixels, 1, float(centres[3])) - _cmap_rgb(0.0)).max() <= 2  # top row, dark


def test_band_map_missing_values_in_a_distinct_colour():
    values = np.array([[20.0, 10.0, np.nan], [25.0, np.inf, np.nan]])
    fig = fsds_band_map(values, [1, 2])
    pixels = _pixels(fig)
    centres, _ = frequency_bands(3)
    grey = np.array([int(BAND_MAP_MISSING_COLOUR[i : i + 2], 16) for i in (1, 3, 5)])
    assert np.abs(_colour_at(fig, pixels, 0, float(centres[2])) - grey).max() <= 2
    # grey is no colour of the map
    palette = np.round(colormaps[BAND_MAP_CMAP](np.linspace(0, 1, 256))[:, :3] * 255)
    assert np.abs(palette - grey).max(axis=1).min() > 40
    # +inf (a band identical to the target) takes the top colour
    assert np.abs(_colour_at(fig, pixels, 1, float(centres[1])) - _cmap_rgb(1.0)).max() <= 2
    assert any("grey" in t.get_text() for t in fig.axes[0].texts)


def test_band_map_edge_cases_and_errors():
    one = fsds_band_map(np.full((1, 4), 12.0), [0], vmin=0.0, vmax=40.0)
    assert one.axes[1].get_ylim() == pytest.approx((0.0, 40.0))
    fsds_band_map(np.full((2, 3), np.nan), [0, 1])  # nothing scored: all grey, still a figure
    with pytest.raises(ValueError, match="`values`"):
        fsds_band_map(np.zeros(4), [0])
    with pytest.raises(ValueError, match="`steps`"):
        fsds_band_map(np.zeros((2, 4)), [0])
    with pytest.raises(ValueError, match="`steps`"):
        fsds_band_map(np.zeros((1, 4)), [0.5])
    with pytest.raises(ValueError, match="`scale`"):
        fsds_band_map(np.zeros((1, 4)), [0], scale=0)
    with pytest.raises(ValueError, match="`vmax`"):
        fsds_band_map(np.zeros((1, 4)), [0], vmax=float("nan"))


def test_render_figure_closes_figures():
    fig = new_figure(2.0, 1.0, dpi=50)
    fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0])
    img = render_figure(fig)
    assert img.shape == (3, 50, 100)
    assert img.dtype == torch.float32 and 0 <= img.min() and img.max() <= 1 and img.std() > 0
    # pyplot figures (as torchmetrics' plots make) are closed in pyplot too
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    pfig, ax = plt.subplots(figsize=(1, 1), dpi=40)
    ax.plot([0, 1])
    assert render_figure(pfig).shape == (3, 40, 40)
    assert set(plt.get_fignums()) == before


# ------------------------------------------------------------------ the probe and HyRA pictures of the monitors

#: The largest picture TensorBoard's time-series dashboard shows in a card (pixels), and the smallest text
#: height (pixels) a person reads there.
TENSORBOARD_CARD = (415, 215)
READABLE_PX = 9.0


class _PhaseGrid(torch.nn.Module):
    """x2 nearest-neighbour upsampling times a fixed 2 x 2 gain pattern per channel: a linear network whose
    sub-pixel positions have unequal DC gains (what a pixel shuffle can learn)."""

    def __init__(self) -> None:
        super().__init__()
        pattern = torch.tensor([[[1.1, 0.9], [0.9, 1.1]], [[1.0, 1.0], [1.0, 1.0]], [[0.9, 1.1], [1.1, 0.9]]])
        self.register_buffer("pattern", pattern)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = x.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)
        h, w = x.shape[-2:]
        return up * self.pattern.repeat(1, h, w)


def _texts(fig) -> list:
    from matplotlib.text import Text

    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _smallest_text_px_in_a_tensorboard_card(fig) -> float:
    """Height in screen pixels of the smallest text once TensorBoard fits the rendered figure in its card."""
    width, height = fig.get_size_inches() * fig.dpi
    shrink = min(1.0, TENSORBOARD_CARD[0] / width, TENSORBOARD_CARD[1] / height)
    return min(t.get_fontsize() * fig.dpi / 72 * shrink for t in _texts(fig))


def _bicubic_result(hr: bool = True):
    from hyra_lightning.analysis import hyra_decompose
    from hyra_lightning.models import BicubicUpsampler

    lr = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    target = torch.rand(2, 3, 32, 32) if hr else None
    return hyra_decompose(BicubicUpsampler(2), lr, hr=target, size=9)


def test_impulse_response_figure_has_lr_pixel_axes_and_a_symmetric_colour_bar():
    from hyra_lightning.analysis import crop_center, impulse_response, impulse_response_figure
    from hyra_lightning.models import BicubicUpsampler

    r = impulse_response(BicubicUpsampler(2), in_channels=1, size=9)
    fig = impulse_response_figure(r, crop_radius=2)
    ax, bar = fig.axes
    assert ax.get_xlabel() == "x offset (LR pixels)" and ax.get_ylabel() == "y offset (LR pixels)"
    assert bar.get_ylabel() == "g: HR output per unit LR impulse"
    (image,) = ax.get_images()
    # 2 LR pixels on each side of a centre between HR pixels: 8 x 8 HR pixels spanning -2 .. 2 LR pixels.
    assert image.get_array().shape == (8, 8)
    assert image.get_extent() == pytest.approx((-2, 2, -2, 2))
    peak = float(crop_center(r.luminance, r.center, 4).abs().max())
    assert image.get_clim() == pytest.approx((-peak, peak))
    assert _smallest_text_px_in_a_tensorboard_card(fig) >= READABLE_PX


def test_impulse_spectrum_figure_has_nyquist_axes_a_db_colour_bar_and_the_passband_in_its_legend():
    from matplotlib.patches import Rectangle

    from hyra_lightning.analysis import impulse_response, impulse_spectrum_figure
    from hyra_lightning.models import BicubicUpsampler

    for scale in (2, 4):
        r = impulse_response(BicubicUpsampler(scale), in_channels=1, size=9)
        fig = impulse_spectrum_figure(r)
        ax, bar = fig.axes
        assert ax.get_xlabel() == "fx (HR Nyquist units)" and ax.get_ylabel() == "fy (HR Nyquist units)"
        assert bar.get_ylabel() == "|DFT(g)| (dB re peak)"
        assert ax.get_xlim() == (-1, 1) and ax.get_ylim() == (-1, 1)
        (square,) = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert square.get_xy() == pytest.approx((-1 / scale, -1 / scale))
        assert square.get_width() == pytest.approx(2 / scale) and square.get_height() == pytest.approx(
            2 / scale
        )
        (entry,) = ax.get_legend().get_texts()
        assert entry.get_text() == f"LR passband |fx|, |fy| ≤ 1/{scale}"
        (image,) = ax.get_images()
        data = np.asarray(image.get_array())
        n = data.shape[0]
        # zero frequency at (n // 2, n // 2), which sits at 0 on both axes: the DC gain, in dB re the peak
        magnitude = torch.fft.fft2(r.luminance.double()).abs()
        dc_db = 20 * math.log10(float(magnitude[0, 0] / magnitude.max()))
        assert (
            data[n // 2, n // 2] == pytest.approx(dc_db, abs=1e-4) and data.max() == 0 and data.min() >= -60
        )
        assert image.get_clim() == (-60.0, 0.0)
        x0, x1, *_ = image.get_extent()
        assert (x1 - x0) / n == pytest.approx(2 / n) and x0 + (n // 2 + 0.5) * (x1 - x0) / n == pytest.approx(
            0
        )
        assert _smallest_text_px_in_a_tensorboard_card(fig) >= READABLE_PX


def test_hyra_figure_labels_every_column_and_row_once_with_colour_bars():
    from hyra_lightning.analysis import hyra_figure, phase_grid_caption

    for hr, columns in ((True, ["LR (nearest)", "B + H(x)", "G(x)", "SR N(x)", "HR"]), (False, None)):
        result = _bicubic_result(hr)
        fig = hyra_figure(result, 1)
        expected = columns or ["LR (nearest)", "B + H(x)", "G(x)", "SR N(x)"]
        k = len(expected)
        images, spectra, bars = fig.axes[: 2 * k : 2], fig.axes[1 : 2 * k : 2], fig.axes[2 * k :]
        assert [ax.get_title() for ax in images] == expected
        assert [ax.get_title() for ax in spectra] == [""] * k
        assert [bar.get_ylabel() for bar in bars] == ["G(x)", "dB"]
        bar_labels = {id(bar.yaxis.label) for bar in bars}
        texts = [t.get_text() for t in _texts(fig) if id(t) not in bar_labels]
        for label in (*expected, "image", "spectrum"):
            assert texts.count(label) == 1, label  # one set of labels
        g_max = max(float(result.nonlinear[1].mean(0).abs().max()), 0.05)  # 0.05: the floor of G's range
        assert images[2].get_images()[0].get_clim() == pytest.approx((-g_max, g_max))
        assert all(ax.get_xlim() == (-1, 1) for ax in spectra)
        caption = next(t for t in texts if "per-phase DC gains" in t)
        assert "red square: LR passband ≤ 1/2" in caption and caption.endswith(phase_grid_caption(result))
        assert _smallest_text_px_in_a_tensorboard_card(fig) >= READABLE_PX
    assert "per-phase" not in " ".join(t.get_text() for t in _texts(hyra_figure(result, 0, caption=False)))
    with pytest.raises(ValueError, match="`index`"):
        hyra_figure(result, 2)


def test_the_grid_in_the_linear_part_is_the_networks_per_phase_gain_grid_and_the_caption_says_so():
    from hyra_lightning.analysis import hyra_decompose, phase_grid_caption

    flat = torch.full((1, 3, 8, 8), 0.5)
    result = hyra_decompose(_PhaseGrid(), flat, scale=2, in_channels=3, size=5, boundary="reflect")
    affine = (result.baseline + result.linear)[0]
    # The true output of a flat image is the gain grid times the level: B + H(x) shows it, exactly.
    expected = 0.5 * _PhaseGrid().pattern.repeat(1, 8, 8)
    torch.testing.assert_close(affine, expected, atol=1e-5, rtol=0)
    assert result.response.describe().phase_gain_spread == pytest.approx(0.2, abs=1e-5)
    caption = phase_grid_caption(result)
    assert caption == "B + H(x) per-phase DC gains 0.90..1.10 (spread 0.20): a real 2x2 grid."
    assert phase_grid_caption(_bicubic_result()).endswith(": no grid.")
