"""The two exception types of crsim and helpers that build messages in the engine's format.

``InputError`` (a ``ValueError``) and ``SolverError`` (a ``RuntimeError``) are the classes the C++
engine raises through ``crsim._core``; Python code raises the same classes so that callers catch one
type whatever layer found the problem. Every message reads ``<field> = <value> is not allowed:
<what is allowed>``; ``InputError.field`` holds the field name.
"""
from __future__ import annotations

import math
from typing import Any

from crsim._core import InputError, SolverError

__all__ = ["InputError", "SolverError", "input_error", "show"]


def show(value: Any) -> str:
    """Formats a value for an error message: strings quoted, floats with 12 significant digits."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return format(value, ".12g")
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def input_error(field: str, value: Any, allowed: str, *, raw: bool = False) -> InputError:
    """An InputError naming ``field``, ``value`` (formatted with :func:`show` unless ``raw``) and
    what is ``allowed``; its ``field`` attribute is set as for errors raised in C++."""
    err = InputError(f"{field} = {value if raw else show(value)} is not allowed: {allowed}")
    err.field = field
    err.allowed = allowed
    return err
