import pytest
import torch

from hyra_lightning.analysis import crop_center, enlarge, log_magnitude_spectrum, make_panel, signed_colormap
from hyra_lightning.analysis.display import NEGATIVE_RGB, POSITIVE_RGB
from hyra_lightning.data import load_photo


def _is_image(img: torch.Tensor) -> bool:
    return (
        img.ndim == 3
        and img.shape[0] == 3
        and img.dtype == torch.float32
        and 0 <= img.min() <= img.max() <= 1
    )


def test_log_magnitude_spectrum_of_a_cosine():
    x = torch.arange(16.0).expand(16, 16)
    img = torch.cos(2 * torch.pi * 3 * x / 16)  # +-3 cycles along x
    spec = log_magnitude_spectrum(img)
    assert _is_image(spec) and spec.shape == (3, 16, 16)
    lit = (spec[0] > 0.5).nonzero().tolist()
    assert lit == [[8, 5], [8, 11]]  # centred: zero frequency at (8, 8)
    assert torch.equal(spec[0], spec[1]) and torch.equal(spec[1], spec[2])


def test_log_magnitude_spectrum_normalisation():
    photo = load_photo("astronaut")[:, :64, :64]
    spec = log_magnitude_spectrum(photo, floor_db=-40.0)
    assert _is_image(spec)
    assert spec[0, 32, 32] == 1.0  # DC is the peak
    # a fixed reference: doubling the image adds 20 log10(2) dB, i.e. 6.02/40 of the display range
    s1 = log_magnitude_spectrum(photo, floor_db=-80.0, reference=1e4)
    s2 = log_magnitude_spectrum(2 * photo, floor_db=-80.0, reference=1e4)
    inside = (s1 > 0.05) & (s2 < 0.95)
    torch.testing.assert_close(
        s2[inside] - s1[inside], torch.full_like(s1[inside], 6.0206 / 80), atol=1e-4, rtol=0
    )
    grey = log_magnitude_spectrum(photo.mean(0))
    assert grey.shape == (3, 64, 64)
    assert torch.equal(log_magnitude_spectrum(torch.zeros(5, 7)), torch.zeros(3, 5, 7))
    assert _is_image(log_magnitude_spectrum(photo.half()))


def test_log_magnitude_spectrum_errors():
    with pytest.raises(ValueError, match="`x`"):
        log_magnitude_spectrum(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="`floor_db`"):
        log_magnitude_spectrum(torch.zeros(4, 4), floor_db=10.0)
    with pytest.raises(ValueError, match="`reference`"):
        log_magnitude_spectrum(torch.zeros(4, 4), reference=0.0)


def test_signed_colormap():
    x = torch.tensor([[-2.0, -1.0, 0.0, 1.0, 2.0]])
    img = signed_colormap(x)
    assert _is_image(img) and img.shape == (3, 1, 5)
    torch.testing.assert_close(img[:, 0, 0], torch.tensor(NEGATIVE_RGB))
    torch.testing.assert_close(img[:, 0, 4], torch.tensor(POSITIVE_RGB))
    torch.testing.assert_close(img[:, 0, 2], torch.ones(3))
    assert img[2, 0, 1] > img[0, 0, 1]  # negative: blue dominates
    assert img[0, 0, 3] > img[2, 0, 3]  # positive: red dominates
    # symmetric range [-2, 2]: +-1 sit halfway between white and the end colours
    torch.testing.assert_close(img[:, 0, 1], (1 + torch.tensor(NEGATIVE_RGB)) / 2)
    torch.testing.assert_close(img[:, 0, 3], (1 + torch.tensor(POSITIVE_RGB)) / 2)
    sat = signed_colormap(x, vmax=1.0)
    torch.testing.assert_close(sat[:, 0, 1], torch.tensor(NEGATIVE_RGB))
    torch.testing.assert_close(sat[:, 0, 0], sat[:, 0, 1])  # saturates beyond vmax
    assert torch.equal(signed_colormap(torch.zeros(1, 3, 3)), torch.ones(3, 3, 3))
    assert _is_image(signed_colormap(torch.randn(8, 8, dtype=torch.float64)))


def test_signed_colormap_errors():
    with pytest.raises(ValueError, match="1 channels"):
        signed_colormap(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="`vmax`"):
        signed_colormap(torch.zeros(4, 4), vmax=-1.0)


def test_make_panel_layout():
    a = torch.zeros(3, 4, 6)
    b = torch.full((3, 2, 3), 0.5)
    c = torch.full((1, 5, 5), 0.25)
    panel = make_panel([[a, b], [c]], gap=1, pad_value=0.75)
    assert panel.shape == (3, 1 + 4 + 1 + 5 + 1, 1 + 6 + 1 + 3 + 1)
    assert _is_image(panel)
    assert torch.equal(panel[:, 1:5, 1:7], a)
    assert torch.equal(panel[:, 2:4, 8:11], b)  # centred vertically in its row
    assert torch.equal(panel[:, 6:11, 1:6], c.expand(3, 5, 5))
    assert panel[0, 0, 0] == 0.75 and panel[0, 1, 7] == 0.75 and panel[0, 6, 8] == 0.75
    assert make_panel([[a]], gap=0).shape == (3, 4, 6)


def test_make_panel_errors():
    with pytest.raises(ValueError, match="`rows`"):
        make_panel([])
    with pytest.raises(ValueError, match="`rows`"):
        make_panel([[]])
    with pytest.raises(ValueError, match="channels"):
        make_panel([[torch.zeros(2, 4, 4)]])
    with pytest.raises(ValueError, match="`gap`"):
        make_panel([[torch.zeros(3, 4, 4)]], gap=-1)


def test_enlarge():
    img = torch.arange(6.0).reshape(1, 2, 3)
    big = enlarge(img, 3)
    assert big.shape == (1, 6, 9)
    assert torch.equal(big[:, ::3, ::3], img)
    assert torch.equal(big[0, 3:6, 6:9], torch.full((3, 3), 5.0))
    assert enlarge(img, 1) is img
    with pytest.raises(ValueError, match="`factor`"):
        enlarge(img, 0)
    with pytest.raises(ValueError, match="`img`"):
        enlarge(torch.zeros(3), 2)


def test_crop_center():
    img = torch.arange(100).reshape(1, 10, 10)
    crop = crop_center(img, (4.0, 5.0), 2)
    assert crop.shape == (1, 5, 5) and crop[0, 2, 2] == 45
    half = crop_center(img, (4.5, 4.5), 2)
    assert half.shape == (1, 4, 4)
    assert torch.equal(half[0, 0], torch.tensor([33, 34, 35, 36]))
    assert crop_center(img, (0.0, 9.0), 3).shape == (1, 4, 4)  # clipped at the border
    with pytest.raises(ValueError, match="`radius`"):
        crop_center(img, (4.0, 4.0), -1)
    with pytest.raises(ValueError, match="outside"):
        crop_center(img, (40.0, 4.0), 2)


def test_impulse_response_image_and_hyra_panel_shapes_and_range():
    from hyra_lightning.analysis import hyra_decompose, hyra_panel, impulse_response, impulse_response_image
    from hyra_lightning.models import BicubicUpsampler

    model = BicubicUpsampler(2)
    response = impulse_response(model, in_channels=3)
    img = impulse_response_image(response, crop_radius=3, zoom=4)
    # window of +-3 LR pixels = +-6 HR pixels around the half-pixel centre: 12 or 13 pixels, enlarged x4
    assert img.shape[0] == 3 and img.shape[1] == img.shape[2] and img.shape[1] in (48, 52)
    assert 0.0 <= img.min() and img.max() <= 1.0
    # the bicubic response has negative lobes: some pixels are bluer than white
    assert (img[2] > img[0] + 0.05).any()

    lr = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    hr = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    result = hyra_decompose(model, lr, hr=hr, response=response)
    panel = hyra_panel(result, 1, labels=False)
    # two rows of five 32x32 images with 2-pixel gaps
    assert panel.shape == (3, 2 * 32 + 3 * 2, 5 * 32 + 6 * 2)
    assert 0.0 <= panel.min() and panel.max() <= 1.0
    with pytest.raises(ValueError, match="index"):
        hyra_panel(result, 2)
    with pytest.raises(ValueError, match="zoom"):
        impulse_response_image(response, zoom=0)


def test_impulse_spectrum_image_is_enlarged_and_marks_the_lr_nyquist_square() -> None:
    from hyra_lightning.analysis import impulse_response, impulse_spectrum_image
    from hyra_lightning.analysis.display import LR_NYQUIST_RGB
    from hyra_lightning.models import BicubicUpsampler

    r = impulse_response(BicubicUpsampler(2), in_channels=1, size=33)  # 66 x 66 response
    img = impulse_spectrum_image(r)
    assert img.shape == (3, 264, 264)  # enlarged x4, at least 256 pixels
    # passband bins: |k - 33| <= 16.5 bins, i.e. rows/columns 17 .. 49; the square lies just outside them
    red = torch.tensor(LR_NYQUIST_RGB)[:, None]
    for line in (img[:, 67, 67:201], img[:, 200, 67:201], img[:, 67:201, 67], img[:, 67:201, 200]):
        assert torch.equal(line, red.expand_as(line))
    # everything else is the enlarged log-magnitude spectrum
    plain = enlarge(log_magnitude_spectrum(r.luminance), 4)
    torch.testing.assert_close(img[:, 68:200, 68:200], plain[:, 68:200, 68:200])
    torch.testing.assert_close(img[:, :67], plain[:, :67])
    # x4: a square half as wide; explicit zoom
    r4 = impulse_response(BicubicUpsampler(4), in_channels=1, size=9)  # 36 x 36
    img4 = impulse_spectrum_image(r4, zoom=2)
    assert img4.shape == (3, 72, 72)
    # bins |k - 18| <= 4.5 -> 14 .. 22; lines at 14 * 2 - 1 = 27 and 23 * 2 = 46
    assert torch.equal(img4[:, 27, 30], red[:, 0]) and torch.equal(img4[:, 46, 30], red[:, 0])
    with pytest.raises(ValueError, match="`zoom`"):
        impulse_spectrum_image(r, zoom=0)


# --------------------------------------------------------------------------------------------------------
# labels
# --------------------------------------------------------------------------------------------------------


def _ink(region: torch.Tensor) -> int:
    """Number of dark (text) pixels in a region of an image."""
    return int((region.mean(0) < 0.5).sum())


def test_label_panel_strips():
    from hyra_lightning.analysis import label_panel

    panel = torch.full((3, 40, 100), 0.5)
    assert torch.equal(label_panel(panel), panel)
    top = label_panel(panel, columns=[("left", 25), ("right", 75)], font_px=10)
    assert _is_image(top) and top.shape == (3, 40 + 16, 100)
    assert torch.equal(top[:, 16:], panel)
    assert _ink(top[:, :16, :50]) > 0 and _ink(top[:, :16, 50:]) > 0
    side = label_panel(panel, rows=[("row", 20)], font_px=10)
    assert side.shape == (3, 40, 100 + 16) and _ink(side[:, :, :16]) > 0
    both = label_panel(panel, columns=[("c", 50)], rows=[("r", 20)], font_px=10)
    assert both.shape == (3, 56, 116)
    assert _ink(both[:, :16, :16]) == 0  # the corner stays blank
    with pytest.raises(ValueError, match="`font_px`"):
        label_panel(panel, columns=[("c", 50)], font_px=2)
    with pytest.raises(ValueError, match="`panel`"):
        label_panel(torch.zeros(1, 4, 4), columns=[("c", 2)])


def _bicubic_result(size: int, with_hr: bool = True):
    from hyra_lightning.analysis import hyra_decompose
    from hyra_lightning.models import BicubicUpsampler

    lr = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    hr = torch.rand(2, 3, 2 * size, 2 * size, generator=torch.Generator().manual_seed(1)) if with_hr else None
    return hyra_decompose(BicubicUpsampler(2), lr, hr=hr)


def test_hyra_panel_labels_columns_and_rows():
    from hyra_lightning.analysis import hyra_panel
    from hyra_lightning.analysis.display import HYRA_COLUMN_LABELS, LABEL_FONT_PX, MIN_LABELLED_CELL

    assert HYRA_COLUMN_LABELS == ("LR", "B+H(x)", "G(x)", "SR", "HR")
    result = _bicubic_result(32)  # 64 x 64 HR cells: large enough, not enlarged
    strip, gap, cell = round(1.6 * LABEL_FONT_PX), 2, 64
    assert cell == MIN_LABELLED_CELL
    panel = hyra_panel(result, 0)
    plain = hyra_panel(result, 0, labels=False)
    assert _is_image(panel) and panel.shape == (3, strip + plain.shape[1], strip + plain.shape[2])
    assert torch.equal(panel[:, strip:, strip:], plain)  # the pictures themselves are unchanged
    assert _ink(panel[:, :strip, :strip]) == 0
    header = panel[:, :strip, strip:]
    inks = [_ink(header[:, :, gap + i * (cell + gap) : (i + 1) * (cell + gap)]) for i in range(5)]
    assert all(ink > 10 for ink in inks)  # every column has its label, centred over it
    assert inks[1] > inks[0]  # "B+H(x)" is longer than "LR"
    side = panel[:, strip:, :strip]
    assert _ink(side[:, gap : gap + cell]) > 10 and _ink(side[:, 2 * gap + cell :]) > 10  # image, spectrum
    assert _ink(side[:, 2 * gap + cell :]) > _ink(side[:, gap : gap + cell])  # "spectrum" is longer


def test_hyra_panel_enlarges_small_images_for_the_labels_and_labels_four_columns_without_hr():
    from hyra_lightning.analysis import enlarge, hyra_panel
    from hyra_lightning.analysis.display import LABEL_FONT_PX

    result = _bicubic_result(8, with_hr=False)  # 16 x 16 SR: enlarged x4 to 64
    strip, gap = round(1.6 * LABEL_FONT_PX), 2
    plain = hyra_panel(result, 1, labels=False)
    assert plain.shape == (3, 2 * 16 + 3 * gap, 4 * 16 + 5 * gap)
    panel = hyra_panel(result, 1)
    assert panel.shape == (3, strip + 2 * 64 + 3 * gap, strip + 4 * 64 + 5 * gap)
    sr_cell = panel[:, strip + gap : strip + gap + 64, strip + gap + 3 * (64 + gap) :][:, :, :64]
    torch.testing.assert_close(
        sr_cell, enlarge(plain[:, gap : gap + 16, gap + 3 * (16 + gap) :][:, :, :16], 4)
    )
    with pytest.raises(ValueError, match="`labels`"):
        hyra_panel(result, 0, labels=1)
