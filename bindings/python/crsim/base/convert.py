"""Conversion of user values to plain Python types with errors that name the field."""
from __future__ import annotations

import numbers
from typing import Any, Iterable, List

import numpy as np

from crsim.base.errors import input_error


def as_float(value: Any, field: str, allowed: str) -> float:
    """``value`` as a float (ints, floats and numpy scalars; not bool, str or None). May be nan or
    inf: range checks are the caller's (or the engine's)."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None or np.ndim(value) != 0:
        raise input_error(field, value, allowed)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise input_error(field, value, allowed) from None


def as_finite(value: Any, field: str, allowed: str, *, lower: float = -np.inf,
              strict: bool = False) -> float:
    """A finite float >= lower (> lower when ``strict``)."""
    v = as_float(value, field, allowed)
    if not np.isfinite(v) or v < lower or (strict and v == lower):
        raise input_error(field, v, allowed)
    return v


def as_int(value: Any, field: str, allowed: str) -> int:
    """An integer (floats with integral values accepted, e.g. 3.0 from a DataFrame column)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    v = as_float(value, field, allowed)
    if not np.isfinite(v) or v != int(v):
        raise input_error(field, value, allowed)
    return int(v)


def as_bool(value: Any, field: str, allowed: str = "True or False") -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise input_error(field, value, allowed)
    return bool(value)


def as_str(value: Any, field: str, allowed: str) -> str:
    if not isinstance(value, str):
        raise input_error(field, value, allowed)
    return value


def as_names(value: Any, field: str, allowed: str) -> List[str]:
    """A list of names from a str (one name) or an iterable of str."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Iterable):
        raise input_error(field, value, allowed)
    return [as_str(v, f"{field}[{i}]", allowed) for i, v in enumerate(value)]
