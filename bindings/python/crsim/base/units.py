"""Unit conversion for observed data: the units that occur in clinical data and in crsim's models.

Units are grouped in families (mass concentration, cell count per volume, amount, time, ...); a value
converts between two units of the same family by a factor, never across families (a mass
concentration is not converted to a molar one: that needs a molecular weight, which the data do not
carry). Spellings are normalised before lookup: spaces dropped, case ignored, ``µ``/``μ``/``mc`` read
as ``u``, ``mm3``/``mm^3`` read as ``uL``, ``x10^9/L``/``10^9/L`` read as ``1e9/L`` (``g/L`` is grams
per litre, never giga per litre).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from crsim.base.errors import input_error

__all__ = ["conversion_factor", "convert_unit", "unit_family", "known_units", "TIME_UNITS_H"]

# family -> {canonical spelling: factor to the family's reference unit}
_FAMILIES: Dict[str, Dict[str, float]] = {
    # reference g/L; 1 mg/L = 1 ug/mL, 1 ng/mL = 1 ug/L, 1 pg/mL = 1 ng/L
    "mass concentration": {
        "g/L": 1.0, "g/dL": 10.0, "mg/mL": 1.0, "mg/dL": 1e-2, "mg/L": 1e-3, "ug/mL": 1e-3,
        "ug/dL": 1e-5, "ug/L": 1e-6, "ng/mL": 1e-6, "ng/dL": 1e-8, "ng/L": 1e-9, "pg/mL": 1e-9,
        "pg/L": 1e-12,
    },
    # reference cells/uL (= cells/mm3); 1e9/L = 1e3 cells/uL
    "cell count per volume": {
        "cells/uL": 1.0, "cells/mL": 1e-3, "cells/L": 1e-6, "1e9/L": 1e3, "1e6/L": 1.0,
        "1e3/uL": 1e3, "1e6/mL": 1e3,
    },
    "cell count": {"cells": 1.0, "1e6 cells": 1e6, "1e9 cells": 1e9},
    "amount": {"g": 1.0, "mg": 1e-3, "ug": 1e-6, "ng": 1e-9},
    "time": {"h": 1.0, "min": 1.0 / 60.0, "d": 24.0, "week": 168.0},
    "fraction": {"1": 1.0, "%": 0.01},
    "pressure": {"mmHg": 1.0},
    "temperature": {"degC": 1.0},
}

_ALIASES = {
    "cell/ul": "cells/ul", "cells/ul(blood)": "cells/ul",
    "x10^9/l": "1e9/l", "10^9/l": "1e9/l", "x1e9/l": "1e9/l",
    "hours": "h", "hour": "h", "hr": "h", "hrs": "h", "days": "d", "day": "d", "minutes": "min",
    "weeks": "week", "wk": "week", "°c": "degc", "celsius": "degc", "fraction": "1", "": "1",
    "percent": "%",
}

#: Hours per unit for the time units accepted in data.
TIME_UNITS_H: Dict[str, float] = dict(_FAMILIES["time"])


def _norm(unit: str) -> str:
    u = unit.strip().replace(" ", "").replace("\u00b5", "u").replace("\u03bc", "u")
    u = u.lower()
    if u.startswith("mc") and len(u) > 2 and u[2] in "gl":  # mcg/mL, mcL
        u = "u" + u[2:]
    u = u.replace("/mcl", "/ul")
    u = _ALIASES.get(u, u)
    for a, b in (("/mm3", "/ul"), ("/mm^3", "/ul")):
        u = u.replace(a, b)
    return u


_INDEX: Dict[str, Tuple[str, str, float]] = {}
for _fam, _units in _FAMILIES.items():
    for _u, _f in _units.items():
        _INDEX[_norm(_u)] = (_fam, _u, _f)


def unit_family(unit: str) -> Optional[str]:
    """The family of ``unit`` (e.g. ``"mass concentration"``), or None for an unknown unit."""
    if not isinstance(unit, str):
        return None
    hit = _INDEX.get(_norm(unit))
    return hit[0] if hit else None


def known_units(unit: str) -> List[str]:
    """The units convertible to ``unit`` (its family), or ``[unit]`` when it is not in the table."""
    fam = unit_family(unit)
    return list(_FAMILIES[fam]) if fam else [unit]


def conversion_factor(from_unit: str, to_unit: str, field: str = "unit",
                      what: str = "") -> float:
    """The factor f with ``value_in_to_unit = f * value_in_from_unit``.

    Identical spellings (after normalisation) give 1 even for units not in the table. Raises
    InputError naming ``field``, the unit and the units that convert to ``to_unit``."""
    if isinstance(from_unit, str) and isinstance(to_unit, str) and _norm(from_unit) == _norm(to_unit):
        return 1.0
    src = _INDEX.get(_norm(from_unit)) if isinstance(from_unit, str) else None
    dst = _INDEX.get(_norm(to_unit))
    allowed = known_units(to_unit)
    suffix = f" ({what})" if what else ""
    if src is None or dst is None or src[0] != dst[0]:
        raise input_error(field, from_unit, f"a unit convertible to {to_unit}{suffix}: one of {{" +
                          ", ".join(allowed) + "}")
    return src[2] / dst[2]


def convert_unit(value, from_unit: str, to_unit: str):
    """``value`` (number or array) in ``from_unit`` expressed in ``to_unit``."""
    return value * conversion_factor(from_unit, to_unit, "from_unit")
