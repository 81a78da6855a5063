"""Reading batches and validation outputs: the one place that knows where LR, HR and SR images are.

Ground floor (imports only torch and the standard library): used by the LightningModule, the CLI and the
monitors alike, so that a batch the module trains on is a batch the monitors can read.

- :func:`split_batch`: ``(lr, hr)`` from a batch as a dataloader yields it;
- :func:`preds_target_from_outputs`: ``(sr, hr)`` from what ``validation_step`` returned, or ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor

__all__ = ["describe_outputs", "is_image_batch", "preds_target_from_outputs", "split_batch"]


def is_image_batch(x: Any) -> bool:
    """Whether ``x`` is a floating ``(N, C, H, W)`` tensor.

    Example:
        >>> import torch
        >>> is_image_batch(torch.zeros(2, 3, 8, 8)), is_image_batch(torch.tensor(1.0))
        (True, False)
    """
    return isinstance(x, Tensor) and x.ndim == 4 and x.is_floating_point()


def _describe(x: Any) -> str:
    if isinstance(x, Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    if isinstance(x, Mapping):
        return f"a mapping with keys {list(x)}"
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of {len(x)} ({', '.join(_describe(v) for v in x)})"
    return type(x).__name__


def split_batch(batch: Any, lr_key: str = "lr", hr_key: str = "hr") -> tuple[Tensor, Tensor | None]:
    """Find the LR images and (when present) the HR images in a batch.

    A mapping gives ``batch[lr_key]`` and ``batch.get(hr_key)``; a tuple or list gives ``(lr, hr)`` by
    position (``hr`` is ``None`` for a one-element sequence, further elements are ignored); a lone tensor is
    LR without HR. An ``hr`` that is not a floating ``(N, C, H, W)`` tensor is ``None``.

    Args:
        batch: the batch as the dataloader yields it.
        lr_key: key of the LR images ``(N, C, h, w)`` in a mapping batch.
        hr_key: key of the HR images ``(N, C, s*h, s*w)`` in a mapping batch.

    Returns:
        ``(lr, hr)``, ``hr`` possibly ``None``.

    Raises:
        ValueError: when no floating ``(N, C, h, w)`` LR tensor can be found.

    Example:
        >>> import torch
        >>> lr, hr = split_batch({"lr": torch.zeros(2, 3, 8, 8), "hr": torch.zeros(2, 3, 16, 16)})
        >>> tuple(lr.shape), tuple(hr.shape)
        ((2, 3, 8, 8), (2, 3, 16, 16))
        >>> split_batch((torch.zeros(1, 3, 4, 4),))[1] is None
        True
    """
    hr: Any = None
    if isinstance(batch, Mapping):
        if lr_key not in batch:
            raise ValueError(
                f"Expected `batch` to hold the LR images under `lr_key`={lr_key!r}, got keys {list(batch)}."
                " Pass the key your dataloader uses (`lr_key=`), or yield `(lr, hr)` pairs."
            )
        lr, hr = batch[lr_key], batch.get(hr_key)
    elif isinstance(batch, Sequence) and not isinstance(batch, (str, bytes)):
        if len(batch) == 0:
            raise ValueError("Expected `batch` to be `(lr, hr)` or `(lr,)`, got an empty sequence.")
        lr = batch[0]
        hr = batch[1] if len(batch) > 1 else None
    else:
        lr = batch
    if not is_image_batch(lr):
        raise ValueError(
            f"Expected the LR images of `batch` to be a floating (N, C, h, w) tensor, got {_describe(lr)}."
        )
    if hr is not None and not is_image_batch(hr):
        hr = None
    return lr, hr


def preds_target_from_outputs(outputs: Any) -> tuple[Tensor, Tensor] | None:
    """SR and HR images from what ``validation_step`` returned, or ``None`` if it returned neither form.

    Accepted: a mapping with tensors under ``"preds"`` and ``"target"``, or a ``(preds, target)`` pair, both
    floating ``(N, C, H, W)`` image batches of one shape. Anything else (``None``, a loss, ``(loss, sr)``,
    batches of different shapes) gives ``None``: the caller then computes SR itself.

    Example:
        >>> import torch
        >>> sr = torch.zeros(2, 3, 8, 8)
        >>> preds_target_from_outputs({"preds": sr, "target": sr}) is not None
        True
        >>> preds_target_from_outputs((torch.tensor(0.5), sr)) is None  # (loss, sr)
        True
    """
    if isinstance(outputs, Mapping):
        preds, target = outputs.get("preds"), outputs.get("target")
    elif isinstance(outputs, (tuple, list)) and len(outputs) == 2:
        preds, target = outputs
    else:
        return None
    if is_image_batch(preds) and is_image_batch(target) and preds.shape == target.shape:
        return preds, target
    return None


def describe_outputs(outputs: Any) -> str:
    """A short description of ``outputs`` for messages (types and shapes, never values).

    Example:
        >>> import torch
        >>> describe_outputs((torch.tensor(0.5), torch.zeros(1, 3, 4, 4)))
        'a tuple of 2 (a torch.float32 tensor of shape (), a torch.float32 tensor of shape (1, 3, 4, 4))'
    """
    return _describe(outputs)
