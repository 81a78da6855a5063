"""Argument guards shared by every layer, with one message format.

Every guard raises with the message ``Expected `name` to be <what>, got <repr>.`` and returns the value it
checked, so a constructor can validate and store in one line. ``bool`` is never accepted where a number is
expected (``True`` is an ``int`` in Python, but ``size=True`` is a mistake). Value errors raise
``ValueError``; :func:`check_instance` raises ``TypeError``.

This module is on the ground floor: it imports only the standard library and torch, so the spectral helpers,
the functional layer, the analysis layer, the callbacks and the app can all use it.

Example:
    >>> from hyra_lightning.checks import check_choice, check_int
    >>> check_int("num_bands", 16)
    16
    >>> check_int("num_bands", 0)
    Traceback (most recent call last):
    ...
    ValueError: Expected `num_bands` to be a positive integer, got 0.
    >>> check_int("num_bands", True)
    Traceback (most recent call last):
    ...
    ValueError: Expected `num_bands` to be a positive integer, got True.
    >>> check_choice("mode", "paper", ("cross_channel", "paper"))
    'paper'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeVar

__all__ = [
    "check_bool",
    "check_choice",
    "check_float",
    "check_instance",
    "check_int",
    "check_str",
    "fail",
]

T = TypeVar("T")


def fail(name: str, what: str, value: Any, error: type[Exception] = ValueError) -> None:
    """Raise ``error("Expected `name` to be <what>, got <repr(value)>.")``; the one message format.

    Use it for a check that none of the guards below expresses, so that its message reads like theirs.

    Example:
        >>> fail("size", "an odd integer >= 3", 4)
        Traceback (most recent call last):
        ...
        ValueError: Expected `size` to be an odd integer >= 3, got 4.
    """
    raise error(f"Expected `{name}` to be {what}, got {value!r}.")


def _optional(what: str, optional: bool) -> str:
    return f"None or {what}" if optional else what


def _int_what(minimum: int | None, maximum: int | None) -> str:
    if maximum is not None:
        low = "" if minimum is None else f" in [{minimum}, {maximum}]"
        return f"an integer{low}" if low else f"an integer <= {maximum}"
    if minimum is None:
        return "an integer"
    if minimum == 1:
        return "a positive integer"
    if minimum == 0:
        return "a non-negative integer"
    return f"an integer >= {minimum}"


def check_int(
    name: str,
    value: Any,
    *,
    minimum: int | None = 1,
    maximum: int | None = None,
    optional: bool = False,
) -> Any:
    """Check that ``value`` is an ``int`` (not a ``bool``) in ``[minimum, maximum]``.

    Args:
        name: the argument's name, as the caller spells it (written between backticks in the message).
        value: the value to check.
        minimum: smallest allowed value (default 1: a positive integer); None for no lower bound.
        maximum: largest allowed value; None for no upper bound.
        optional: also accept ``None``.

    Returns:
        ``value`` unchanged.

    Raises:
        ValueError: ``Expected `name` to be a positive integer, got 0.`` (or ``a non-negative integer``,
            ``an integer >= m``, ``an integer in [a, b]``; prefixed with ``None or`` when ``optional``).

    Example:
        >>> check_int("crop_border", 0, minimum=0)
        0
        >>> check_int("scale", None, optional=True) is None
        True
        >>> check_int("scale", 2.0, optional=True)
        Traceback (most recent call last):
        ...
        ValueError: Expected `scale` to be None or a positive integer, got 2.0.
    """
    if optional and value is None:
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        fail(name, _optional(_int_what(minimum, maximum), optional), value)
    return value


def _float_what(minimum: float | None, maximum: float | None, strict_minimum: bool, finite: bool) -> str:
    if minimum is None and maximum is None:
        return "a finite number" if finite else "a number"
    if minimum == 0 and maximum is None:
        kind = "a positive" if strict_minimum else "a non-negative"
        return f"{kind} {'finite ' if finite else ''}number"
    if maximum is None:
        return f"a number {'>' if strict_minimum else '>='} {minimum:g}"
    if minimum is None:
        return f"a number <= {maximum:g}"
    return f"a number in {'(' if strict_minimum else '['}{minimum:g}, {maximum:g}]"


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    finite: bool = True,
    optional: bool = False,
) -> Any:
    """Check that ``value`` is a real number (``int`` or ``float``, not a ``bool``) in the given range.

    Args:
        name: the argument's name.
        value: the value to check.
        minimum: smallest allowed value (``> minimum`` when ``strict_minimum``); None for no lower bound.
        maximum: largest allowed value; None for no upper bound.
        strict_minimum: exclude ``minimum`` itself (``minimum=0, strict_minimum=True``: a positive number).
        finite: reject ``inf`` and ``nan`` (``nan`` is always rejected when a bound is given).
        optional: also accept ``None``.

    Returns:
        ``value`` unchanged.

    Raises:
        ValueError: ``Expected `name` to be a positive number, got -1.0.`` and the like.

    Example:
        >>> check_float("amplitude", 0.5, minimum=0, strict_minimum=True)
        0.5
        >>> check_float("amplitude", 0, minimum=0, strict_minimum=True)
        Traceback (most recent call last):
        ...
        ValueError: Expected `amplitude` to be a positive finite number, got 0.
        >>> check_float("background", float("nan"))
        Traceback (most recent call last):
        ...
        ValueError: Expected `background` to be a finite number, got nan.
    """
    if optional and value is None:
        return value
    ok = not isinstance(value, bool) and isinstance(value, (int, float))
    if ok and finite and not math.isfinite(value):
        ok = False
    if ok and minimum is not None and not (value > minimum if strict_minimum else value >= minimum):
        ok = False
    if ok and maximum is not None and not value <= maximum:
        ok = False
    if not ok:
        fail(name, _optional(_float_what(minimum, maximum, strict_minimum, finite), optional), value)
    return value


def check_bool(name: str, value: Any) -> Any:
    """Check that ``value`` is a ``bool`` (``0``/``1`` and strings are rejected).

    Raises:
        ValueError: ``Expected `name` to be a bool, got 1.``

    Example:
        >>> check_bool("extra", 1)
        Traceback (most recent call last):
        ...
        ValueError: Expected `extra` to be a bool, got 1.
    """
    if not isinstance(value, bool):
        fail(name, "a bool", value)
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any], *, optional: bool = False) -> Any:
    """Check that ``value`` is one of ``choices`` (e.g. the values of an :mod:`hyra_lightning.options` alias).

    Raises:
        ValueError: ``Expected `mode` to be one of ('cross_channel', 'paper'), got 'cross'.``

    Example:
        >>> from hyra_lightning.options import BOUNDARIES
        >>> check_choice("boundary", "mirror", BOUNDARIES)
        Traceback (most recent call last):
        ...
        ValueError: Expected `boundary` to be one of ('zero', 'reflect'), got 'mirror'.
    """
    choices = tuple(choices)
    if optional and value is None:
        return value
    try:
        ok = value in choices
    except TypeError:  # unhashable or incomparable values
        ok = False
    # `True in (1, 2)` is True: a bool is only a valid choice when a bool is among the choices.
    if ok and isinstance(value, bool) and not any(isinstance(c, bool) for c in choices):
        ok = False
    if not ok:
        fail(name, _optional(f"one of {choices}", optional), value)
    return value


def check_str(name: str, value: Any, *, optional: bool = False) -> Any:
    """Check that ``value`` is a non-empty ``str``.

    Raises:
        ValueError: ``Expected `submodule` to be a non-empty string, got ''.``

    Example:
        >>> check_str("submodule", "net", optional=True)
        'net'
    """
    if optional and value is None:
        return value
    if not isinstance(value, str) or not value:
        fail(name, _optional("a non-empty string", optional), value)
    return value


def check_instance(name: str, value: Any, cls: type[T] | tuple[type, ...], what: str | None = None) -> T:
    """Check that ``value`` is an instance of ``cls``; raises ``TypeError`` naming the type it got.

    Args:
        name: the argument's name.
        value: the value to check.
        cls: the accepted type or tuple of types.
        what: how to describe ``cls`` in the message (default: its qualified name, e.g. ``torch.nn.Module``).

    Raises:
        TypeError: ``Expected `model` to be a torch.nn.Module, got str.`` (the type's name, not its repr).

    Example:
        >>> from torch import nn
        >>> check_instance("model", "edsr.pt", nn.Module, "a torch.nn.Module")
        Traceback (most recent call last):
        ...
        TypeError: Expected `model` to be a torch.nn.Module, got str.
    """
    if not isinstance(value, cls):
        if what is None:
            types = cls if isinstance(cls, tuple) else (cls,)
            what = " or ".join(_type_name(t) for t in types)
        raise TypeError(f"Expected `{name}` to be {what}, got {type(value).__name__}.")
    return value  # type: ignore[return-value]


def _type_name(t: type) -> str:
    module = t.__module__
    if module == "builtins":
        return t.__qualname__
    if module.startswith("torch.nn.modules"):
        module = "torch.nn"
    return f"{module}.{t.__qualname__}"
