import pytest
import torch
from torch import nn

from hyra_lightning.models.espcn import ESPCN


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_shape(scale: int) -> None:
    model = ESPCN(scale=scale)
    assert model(torch.rand(2, 3, 9, 6)).shape == (2, 3, 9 * scale, 6 * scale)
    assert model.scale == scale


def test_architecture_follows_the_paper() -> None:
    model = ESPCN(scale=3, n_colors=1)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 64, (5, 5)),
        (64, 32, (3, 3)),
        (32, 9, (3, 3)),
    ]
    assert sum(isinstance(m, nn.Tanh) for m in model.modules()) == 2
    assert convs[0].in_channels == 1


def test_relu_variant() -> None:
    model = ESPCN(scale=2, activation="relu")
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 2
    assert not any(isinstance(m, nn.Tanh) for m in model.modules())


def test_output_is_pixel_shuffle_of_last_conv() -> None:
    model = ESPCN(scale=2)
    x = torch.rand(1, 3, 5, 5)
    feats = model.body(x)
    out = model(x)
    # HR pixel (2i + a, 2j + b) of channel c comes from LR feature channel 4c + 2a + b at (i, j)
    for c in range(3):
        for a in range(2):
            for b in range(2):
                torch.testing.assert_close(out[0, c, a::2, b::2], feats[0, 4 * c + 2 * a + b])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"scale": 0}, "scale"),
        ({"scale": 2, "n_colors": 0}, "n_colors"),
        ({"scale": 2, "activation": "gelu"}, "activation"),
    ],
)
def test_bad_arguments(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"`{name}`"):
        ESPCN(**kwargs)


def test_bad_input_shape() -> None:
    with pytest.raises(ValueError, match="`x`"):
        ESPCN(scale=2)(torch.rand(3, 4, 4))
