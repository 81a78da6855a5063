"""`--device` of `analyze` and `score`: one reading, errors that name the option and the remedy."""

from __future__ import annotations

import pytest
import torch

from hyra_lightning.commands.device import resolve_device


def test_auto_cpu_and_a_device_object():
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name", ["foo", "gpu0", ""])
def test_unknown_name_names_the_option(name):
    with pytest.raises(ValueError, match=r"Expected `--device` to be 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        resolve_device(name)


def test_a_gpu_that_is_not_there_says_what_to_pass():
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="Use `--device cuda:0` or `auto`"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
    else:
        for name in ("cuda", "cuda:0", torch.device("cuda")):
            with pytest.raises(ValueError, match=r"torch sees none\. Use `--device cpu` or `auto`"):
                resolve_device(name)
