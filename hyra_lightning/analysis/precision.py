"""Full-precision measurement: probes see the network, not the arithmetic of the moment.

A probe divides a difference of two outputs by a small amplitude, so a few bits of rounding change what it
reads: under bf16 autocast the mid-grey probe ``0.5 + 0.02`` is rounded to ``0.51953`` and a nearest-neighbour
upsampler reads a DC gain of 0.977 instead of 1; TF32 convolutions (cuDNN's default for float32 on recent
NVIDIA GPUs) move the descriptors of an EDSR by about 1e-3. Everything here exists so that
:func:`~hyra_lightning.analysis.impulse_response` and :func:`~hyra_lightning.analysis.hyra_decompose` measure
in full precision whatever the caller's context (a Lightning precision plugin, ``torch.autocast``,
``torch.set_float32_matmul_precision("high")``, half weights):

- :func:`probe_dtype` chooses the dtype of a measurement: float64 for a float64 model (or when asked),
  float32 otherwise, never half precision;
- :func:`full_precision` switches autocast off and TF32 off (cuBLAS, cuDNN and oneDNN) for its body and
  restores every setting afterwards;
- :func:`forward_in` runs a model with its floating parameters and buffers seen in a given dtype, through
  cast copies, without touching the caller's parameters (a ``16-true`` or ``bf16-true`` model is measured
  through a float32 copy of its weights).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["forward_in", "full_precision", "probe_dtype", "tf32_state"]


def probe_dtype(model_dtype: torch.dtype | None, dtype: torch.dtype | None = None) -> torch.dtype:
    """The dtype a measurement runs in: float64 when asked for or when the model is float64, else float32.

    Args:
        model_dtype: floating dtype of the model's parameters (``None`` for a model without any).
        dtype: the dtype the caller asked for, or ``None``. float16 and bfloat16 are raised to float32:
            a probe is never measured in half precision.

    Example:
        >>> probe_dtype(torch.bfloat16), probe_dtype(torch.float64), probe_dtype(None, torch.float16)
        (torch.float32, torch.float64, torch.float32)
    """
    wanted = dtype if dtype is not None else model_dtype
    return torch.float64 if wanted == torch.float64 else torch.float32


def _autocast_device_types(device_types: tuple[str, ...]) -> list[str]:
    types = ["cpu", *device_types]
    if torch.cuda.is_available():
        types.append("cuda")
    return list(dict.fromkeys(t for t in types if t in ("cpu", "cuda", "xpu", "mps", "hpu")))


# The new TF32 controls (torch >= 2.9); each is "ieee", "tf32", "bf16" or "none" (inherit).
_FP32_PRECISION_LEAVES = (
    ("cuda", "matmul"),
    ("cudnn", "conv"),
    ("cudnn", "rnn"),
    ("mkldnn", "matmul"),
    ("mkldnn", "conv"),
    ("mkldnn", "rnn"),
)


def _new_tf32_api() -> bool:
    return hasattr(torch.backends.cuda.matmul, "fp32_precision")


def _precision_leaves() -> list[tuple[str, Any]]:
    leaves = []
    for backend, op in _FP32_PRECISION_LEAVES:
        leaf = getattr(getattr(torch.backends, backend, None), op, None)
        if leaf is not None and hasattr(leaf, "fp32_precision"):
            leaves.append((f"{backend}.{op}", leaf))
    return leaves


def tf32_state() -> dict[str, Any]:
    """The settings :func:`full_precision` switches off, by name (for tests and debugging).

    On torch >= 2.9 only the new ``fp32_precision`` controls are read (reading the legacy ``allow_tf32``
    flags after the new controls were used raises); on older versions the legacy flags.
    """
    state: dict[str, Any] = {"float32_matmul_precision": _matmul_precision()}
    if _new_tf32_api():
        for name, leaf in _precision_leaves():
            state[f"{name}.fp32_precision"] = leaf.fp32_precision
    else:
        state["cuda.matmul.allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
        state["cudnn.allow_tf32"] = torch.backends.cudnn.allow_tf32
    return state


def _matmul_precision() -> str | None:
    """``torch.get_float32_matmul_precision()``, or None where torch >= 2.9 refuses to tell (after the new
    per-backend controls were set to differing values)."""
    try:
        return torch.get_float32_matmul_precision()
    except RuntimeError:
        return None


@contextmanager
def _tf32_off() -> Iterator[None]:
    matmul_precision = _matmul_precision()
    if _new_tf32_api():
        # torch >= 2.9 checks that the legacy and the new controls agree, so both are set (the legacy one
        # only where it can be read, which is where the caller has kept the two consistent).
        leaves = [leaf for _, leaf in _precision_leaves()]
        saved = [leaf.fp32_precision for leaf in leaves]
        try:
            if matmul_precision is not None:
                torch.set_float32_matmul_precision("highest")
            for leaf in leaves:
                leaf.fp32_precision = "ieee"
            yield
        finally:
            if matmul_precision is not None:
                torch.set_float32_matmul_precision(matmul_precision)
            for leaf, value in zip(leaves, saved, strict=True):
                leaf.fp32_precision = value
        return
    assert matmul_precision is not None
    matmul_tf32 = torch.backends.cuda.matmul.allow_tf32
    cudnn_tf32 = torch.backends.cudnn.allow_tf32
    try:
        torch.set_float32_matmul_precision("highest")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        yield
    finally:
        torch.set_float32_matmul_precision(matmul_precision)
        torch.backends.cuda.matmul.allow_tf32 = matmul_tf32
        torch.backends.cudnn.allow_tf32 = cudnn_tf32


@contextmanager
def _default_dtype_at_least_float32() -> Iterator[None]:
    default = torch.get_default_dtype()
    if default in (torch.float16, torch.bfloat16):  # as Lightning's `*-true` plugins set it in forward
        torch.set_default_dtype(torch.float32)
        try:
            yield
        finally:
            torch.set_default_dtype(default)
    else:
        yield


@contextmanager
def full_precision(*device_types: str) -> Iterator[None]:
    """Run the body without autocast and without TF32; every setting is restored afterwards.

    - autocast is disabled on the CPU, on CUDA when it is available, and on ``device_types``;
    - TF32 is off: ``torch.set_float32_matmul_precision("highest")`` and, on torch >= 2.9, every
      ``fp32_precision`` control of cuBLAS, cuDNN and oneDNN set to ``"ieee"``; on older versions
      ``torch.backends.cuda.matmul.allow_tf32`` and ``torch.backends.cudnn.allow_tf32`` set to False;
    - a float16/bfloat16 default dtype (set by Lightning's ``16-true``/``bf16-true`` forward context) is
      raised to float32.

    The settings are process-wide: another thread running float32 work at the same time also runs it
    without TF32 for the duration of the body.

    Args:
        device_types: further device types (``"cuda"``, ``"xpu"``, ...) whose autocast is disabled.

    Example:
        >>> with torch.autocast("cpu", dtype=torch.bfloat16), full_precision():
        ...     y = torch.nn.functional.linear(torch.ones(1, 4), torch.ones(2, 4))
        >>> y.dtype
        torch.float32
    """
    with ExitStack() as stack:
        for device_type in _autocast_device_types(device_types):
            try:
                stack.enter_context(torch.autocast(device_type=device_type, enabled=False))
            except RuntimeError:  # a device type this build cannot autocast
                continue
        stack.enter_context(_tf32_off())
        stack.enter_context(_default_dtype_at_least_float32())
        yield


def forward_in(model: nn.Module, x: Tensor, dtype: torch.dtype) -> Any:
    """``model(x)`` with every floating parameter and buffer of the model seen in ``dtype``.

    When they already have ``dtype`` the model is called as it is; otherwise it runs through
    :func:`torch.func.functional_call` with cast copies, so the caller's parameters (half-precision
    weights of a ``16-true`` model, for instance) are neither changed nor replaced.

    Args:
        model: the network.
        x: its input, already in ``dtype``.
        dtype: the dtype of the measurement.

    Example:
        >>> half = torch.nn.Linear(3, 2).to(torch.bfloat16)
        >>> forward_in(half, torch.ones(1, 3), torch.float32).dtype, half.weight.dtype
        (torch.float32, torch.bfloat16)
    """
    tensors = dict(itertools.chain(model.named_parameters(), model.named_buffers()))
    if all(not t.is_floating_point() or t.dtype == dtype for t in tensors.values()):
        return model(x)
    view = {
        name: t.detach().to(dtype) if t.is_floating_point() and t.dtype != dtype else t
        for name, t in tensors.items()
    }
    return torch.func.functional_call(model, view, (x,))
