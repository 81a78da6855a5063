"""The ground-floor argument guards: one message format, the argument's name in it, bool is not a number."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hyra_lightning.checks import (
    check_bool,
    check_choice,
    check_float,
    check_instance,
    check_int,
    check_str,
    fail,
)


def test_fail_writes_the_one_message_format():
    with pytest.raises(ValueError, match=r"^Expected `x` to be a thing, got 'y'\.$"):
        fail("x", "a thing", "y")
    with pytest.raises(TypeError, match=r"^Expected `x` to be a thing, got 3\.$"):
        fail("x", "a thing", 3, TypeError)


@pytest.mark.parametrize(
    ("kwargs", "good", "bad", "what"),
    [
        ({}, [1, 7], [0, -1, True, 1.0, "2", None], "a positive integer"),
        ({"minimum": 0}, [0, 5], [-1, False, 0.5], "a non-negative integer"),
        ({"minimum": 2}, [2, 3], [1, True], "an integer >= 2"),
        ({"minimum": 1, "maximum": 4}, [1, 4], [0, 5], r"an integer in \[1, 4\]"),
        ({"minimum": None}, [-3, 0], [1.5, True], "an integer"),
        ({"optional": True}, [None, 3], [0, False], "None or a positive integer"),
    ],
)
def test_check_int(kwargs, good, bad, what):
    for value in good:
        assert check_int("n", value, **kwargs) is value
    for value in bad:
        with pytest.raises(ValueError, match=rf"^Expected `n` to be {what}, got {value!r}\.$"):
            check_int("n", value, **kwargs)


def test_check_int_accepts_int_subclasses_but_not_bool():
    class Count(int):
        pass

    assert check_int("n", Count(3)) == 3
    with pytest.raises(ValueError, match="`n`"):
        check_int("n", True)


@pytest.mark.parametrize(
    ("kwargs", "good", "bad", "what"),
    [
        ({}, [0, -2.5, 1e30], [math.inf, math.nan, True, "1", None], "a finite number"),
        ({"finite": False}, [math.inf, -math.inf], [True, "x"], "a number"),
        (
            {"minimum": 0, "strict_minimum": True},
            [1e-9, 3],
            [0, -1.0, math.inf, False],
            "a positive finite number",
        ),
        ({"minimum": 0}, [0, 0.5], [-0.1, math.nan], "a non-negative finite number"),
        ({"minimum": 0.5}, [0.5, 2], [0.4], "a number >= 0.5"),
        ({"minimum": 0.0, "maximum": 1.0}, [0.0, 1.0], [-0.1, 1.1, math.nan], r"a number in \[0, 1\]"),
        ({"maximum": 1.0}, [-5, 1.0], [2.0], "a number <= 1"),
        ({"optional": True, "minimum": 0}, [None, 1], [-1], "None or a non-negative finite number"),
    ],
)
def test_check_float(kwargs, good, bad, what):
    for value in good:
        assert check_float("x", value, **kwargs) is value
    for value in bad:
        with pytest.raises(ValueError, match=rf"^Expected `x` to be {what}, got {value!r}\.$"):
            check_float("x", value, **kwargs)


def test_check_bool_rejects_ints_and_strings():
    assert check_bool("flag", False) is False
    for value in (0, 1, "true", None):
        with pytest.raises(ValueError, match=rf"^Expected `flag` to be a bool, got {value!r}\.$"):
            check_bool("flag", value)


def test_check_choice():
    assert check_choice("mode", "a", ("a", "b")) == "a"
    assert check_choice("mode", None, ("a",), optional=True) is None
    with pytest.raises(ValueError, match=r"^Expected `mode` to be one of \('a', 'b'\), got 'c'\.$"):
        check_choice("mode", "c", ["a", "b"])
    with pytest.raises(ValueError, match="`mode`"):
        check_choice("mode", ["a"], ("a", "b"))  # unhashable
    with pytest.raises(ValueError, match="got True"):
        check_choice("sign", True, (-1, 1))  # True == 1, but a bool is not one of the choices
    assert check_choice("flag", True, (True, "auto")) is True


def test_check_str():
    assert check_str("name", "x") == "x"
    for value in ("", 3, None):
        with pytest.raises(ValueError, match=r"^Expected `name` to be a non-empty string"):
            check_str("name", value)
    assert check_str("name", None, optional=True) is None


def test_check_instance_raises_type_error_with_the_type_name():
    model = nn.Identity()
    assert check_instance("model", model, nn.Module) is model
    with pytest.raises(TypeError, match=r"^Expected `model` to be torch\.nn\.Module, got str\.$"):
        check_instance("model", "edsr.pt", nn.Module)
    with pytest.raises(TypeError, match=r"^Expected `x` to be a tensor, got list\.$"):
        check_instance("x", [1], torch.Tensor, "a tensor")
    with pytest.raises(TypeError, match=r"^Expected `x` to be int or str, got float\.$"):
        check_instance("x", 1.0, (int, str))
