"""The FSDS band map: bands as rows (lowest at the bottom), validation steps as columns, a colour bar."""

from __future__ import annotations

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
