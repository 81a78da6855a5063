"""Reading batches and validation outputs: the one place that knows where LR, HR and SR images are.

Ground floor (imports only torch and the standard library): used by the LightningModule, the CLI and the
monitors alike, so that a batch the module trains on is a batch the monitors can read.

- :func:`split_batch`: ``(lr, hr)`` from a batch as a dataloader yields it;
- :func:`preds_target_from_outputs`: ``(sr, hr)`` from what ``validation_step`` returned, or ``None``;
- :func:`distributed_padding` and :func:`unrepeated_rows`: which rows of a batch a padding distributed sampler
  repeats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor
from torch.utils.data import BatchSampler
from torch.utils.data.distributed import DistributedSampler

__all__ = [
    "DistributedPadding",
    "describe_outputs",
    "distributed_padding",
    "eval_dataloader",
    "is_image_batch",
    "preds_target_from_outputs",
    "split_batch",
    "unrepeated_rows",
]


@dataclass(frozen=True)
class DistributedPadding:
    """The samples a distributed sampler repeats so that a data set divides by the number of processes.

    Attributes:
        duplicates: samples scored twice over all processes (``total_size - size``).
        size: samples in the data set.
        rank: this process's rank in the sampler.
        num_replicas: number of processes.
        batch_size: rows of every batch but the last, when the repeated rows can be found (torch's or
            Lightning's ``DistributedSampler`` batched in order by a ``BatchSampler``), else ``None``.
    """

    duplicates: int
    size: int
    rank: int
    num_replicas: int
    batch_size: int | None

    @property
    def known(self) -> bool:
        """Whether :meth:`kept` can find the repeated rows."""
        return self.batch_size is not None

    def kept(self, batch_idx: int, rows: int) -> int:
        """How many leading rows of batch ``batch_idx`` (of ``rows`` rows) are not repeats; the rest are.

        torch's ``DistributedSampler`` gives process ``rank`` the positions ``rank + i * num_replicas`` of its
        padded index list, and the positions from ``size`` on are the repeats: the first
        ``ceil((size - rank) / num_replicas)`` samples of a process are its own, the rest repeats.
        """
        if self.batch_size is None:
            raise ValueError(
                "Expected a padding whose repeated rows are known (`known`), got one that is not."
            )
        own = -(-(self.size - self.rank) // self.num_replicas)
        return max(0, min(rows, own - batch_idx * self.batch_size))

    def warning(self, what: str) -> str:
        """The message for numbers that count the repeats twice because they cannot be found."""
        return (
            f"under DDP, the distributed sampler of the {what} data loader repeats {self.duplicates} sample(s) so"
            f" that its {self.size} samples divide by {self.num_replicas} processes, in an order that cannot be"
            " followed: the synchronised scores count them twice and differ from those of one process. Give"
            " `hyra_lightning.data.UnpaddedDistributedSampler` as the sampler of that data loader (Lightning"
            " keeps it), or a number of samples that divides by the number of processes."
        )


def distributed_padding(dataloader: Any) -> DistributedPadding | None:
    """How a data loader's distributed sampler pads the data set with repeated samples, or ``None`` if it does not.

    torch's ``DistributedSampler`` (which Lightning puts into every data loader under DDP unless
    ``use_distributed_sampler=False``) repeats samples until the data set divides by the number of processes;
    evaluation metrics synchronised across processes then count those samples twice.
    :class:`hyra_lightning.data.UnpaddedDistributedSampler` does not pad.
    """
    sampler = getattr(dataloader, "sampler", None)
    if not isinstance(sampler, DistributedSampler) or sampler.drop_last:
        return None
    try:
        size = len(sampler.dataset)  # type: ignore[arg-type]
    except TypeError:
        return None
    duplicates = int(sampler.total_size) - size
    if duplicates <= 0:
        return None
    kind = type(sampler)
    in_order = kind is DistributedSampler or (
        kind.__name__ == "DistributedSamplerWrapper" and kind.__module__.startswith("lightning")
    )
    batch_sampler = getattr(dataloader, "batch_sampler", None)
    batch_size = None
    if in_order and isinstance(batch_sampler, BatchSampler) and batch_sampler.sampler is sampler:
        batch_size = int(batch_sampler.batch_size)
    return DistributedPadding(duplicates, size, int(sampler.rank), int(sampler.num_replicas), batch_size)


def unrepeated_rows(dataloader: Any, batch_idx: int, rows: int) -> tuple[int, DistributedPadding | None]:
    """How many leading rows of batch ``batch_idx`` of ``dataloader`` are not repeats of a padding sampler.

    Returns:
        ``(kept, unknown)``: ``kept`` rows to score (all ``rows`` when nothing is repeated or the repeats
        cannot be found), and the padding whose repeats cannot be found (to warn about), else ``None``.
    """
    padding = distributed_padding(dataloader)
    if padding is None:
        return rows, None
    if not padding.known:
        return rows, padding
    return padding.kept(batch_idx, rows), None


def eval_dataloader(dataloaders: Any, dataloader_idx: int = 0) -> Any:
    """The data loader ``dataloader_idx`` of ``trainer.val_dataloaders`` (or ``test_dataloaders``), or ``None``."""
    if isinstance(dataloaders, Mapping):
        dataloaders = list(dataloaders.values())
    if isinstance(dataloaders, Sequence):
        return dataloaders[dataloader_idx] if 0 <= dataloader_idx < len(dataloaders) else None
    return dataloaders


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
