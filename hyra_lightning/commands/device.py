"""The ``--device`` option of the commands: one reading for ``analyze`` and ``score``."""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch device named by ``--device``: ``"auto"`` (the GPU when there is one), ``"cpu"``, ``"cuda"``,
    ``"cuda:N"`` (or any device type torch knows).

    Raises:
        ValueError: for a name torch does not know, or a GPU asked for where torch sees none (the message
            names ``--device`` and what to pass instead).

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, torch.device):
        dev = device
    elif str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(
                f"Expected `--device` to be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}."
            ) from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"`--device {device}` asks for a GPU, but torch sees none. Use `--device cpu` or `auto`."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"`--device {device}` asks for GPU {dev.index}, but torch sees {torch.cuda.device_count()}"
                " (numbered from 0). Use `--device cuda:0` or `auto`."
            )
    return dev
