"""Regimens written as text, the way a clinician writes them, parsed into `crsim.Dose` records.

Grammar (tokens in any order after an optional drug name; case-insensitive)::

    [drug] AMOUNT UNIT [route] [over DURATION | at RATE UNIT/h] [q INTERVAL | every INTERVAL]
           [x COUNT | COUNT doses] [max AMOUNT UNIT] [day D | at TIME] [lag TIME] [F FRACTION]

    "8 mg/kg iv over 1h max 800mg"              tocilizumab label dose
    "tocilizumab 8 mg/kg iv over 1 h q8h x3 max 800 mg"
    "10 mg iv q6h x 4 day 2"                    dexamethasone from day 2
    "2e6 cells/kg iv"                           CAR-T infusion (cells per kg)
    "500 mg po lag 0.5h F 0.8"

Units: amounts in mg, g, ug/µg/mcg or cells, each optionally per kg; times in min, h, d, w.
A token that fits nothing raises `InputError` pointing at it.
"""
from __future__ import annotations

import re
from typing import Mapping, Optional

from crsim.spec.dosing import Dose
from crsim.base.errors import InputError, input_error

_NUM = r"(\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)"
_AMT_UNIT = r"(mg|g|ug|µg|mcg|cells)(\s*/\s*kg)?"
_TIME_UNIT = r"(min|minutes?|h|hr|hrs|hours?|d|days?|w|wk|wks|weeks?)"
_HOURS = {"min": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0}
_MG = {"mg": 1.0, "g": 1000.0, "ug": 1e-3, "µg": 1e-3, "mcg": 1e-3, "cells": 1.0}
_ROUTES = {"iv": "iv", "po": "po", "oral": "po", "sc": "sc", "subcut": "sc", "im": "im"}

#: Default route -> state map of the PK library models.
DEFAULT_TARGETS = {"iv": "central", "po": "depot", "sc": "depot", "im": "depot"}

_PATTERNS = [
    ("amount", rf"{_NUM}\s*{_AMT_UNIT}(?![a-z])"),
    ("route", r"(iv|po|oral|sc|subcut|im)(?![a-z])"),
    ("over", rf"over\s+{_NUM}\s*{_TIME_UNIT}(?![a-z])"),
    ("rate", rf"at\s+{_NUM}\s*{_AMT_UNIT}\s*/\s*h(?:r|our)?(?![a-z])"),
    ("every", rf"(?:q|every\s+){_NUM}?\s*{_TIME_UNIT}(?![a-z])"),
    ("count", r"(?:x\s*(\d+)|(\d+)\s*doses|times\s+(\d+))(?![a-z0-9])"),
    ("cap", rf"(?:max(?:imum)?|cap)\s+{_NUM}\s*{_AMT_UNIT}(?![a-z])"),
    ("day", rf"(?:on\s+)?day\s+{_NUM}(?![a-z0-9])"),
    ("at", rf"(?:at|t\s*=)\s*{_NUM}\s*{_TIME_UNIT}(?![a-z])"),
    ("lag", rf"lag\s+{_NUM}\s*{_TIME_UNIT}(?![a-z])"),
    ("f", rf"(?:f|bioavailability)\s*=?\s*{_NUM}(?![a-z0-9])"),
]
_COMPILED = [(k, re.compile(p, re.IGNORECASE)) for k, p in _PATTERNS]
_DRUG = re.compile(r"[a-z][a-z0-9_\-]*(?![a-z0-9_\-])", re.IGNORECASE)


def _hours(value: str, unit: str) -> float:
    u = unit.lower()
    key = "min" if u.startswith("min") else u[0]
    return float(value) * _HOURS[key]


def _amount(value: str, unit: str, per_kg: Optional[str]) -> tuple[float, str]:
    u = unit.lower()
    base = "cells" if u == "cells" else "mg"
    return float(value) * _MG[u], base + ("/kg" if per_kg else "")


class _Bad(Exception):
    """A regimen that does not parse: what is wrong, at which position of the text."""

    def __init__(self, pos: int, what: str):
        super().__init__(what)
        self.pos, self.what = pos, what


class _NoTarget(Exception):
    """No target given and none found for the drug and route."""

    def __init__(self, drug: Optional[str], route: Optional[str], table: Mapping[str, str]):
        super().__init__(drug)
        self.drug, self.route, self.table = drug, route, table


def _error(text: str, pos: int, what: str) -> _Bad:
    return _Bad(pos, what)


def regimen_error(text: str, pos: int, what: str, field: str = "regimen") -> InputError:
    """The InputError of a regimen ``text`` written under ``field``, pointing at position ``pos``."""
    pointer = " " * pos + "^"
    err = InputError(f"{field} = '{text}' is not allowed: {what} at position {pos}\n"
                     f"    {text}\n    {pointer}\n"
                     "allowed: [drug] AMOUNT UNIT [iv|po|sc|im] [over DURATION | at RATE UNIT/h] "
                     "[qINTERVAL] [xCOUNT] [max AMOUNT UNIT] [day D | at TIME] [lag TIME] [F FRACTION]")
    err.field = field
    return err


def parse_regimen(text: str, target: Optional[str] = None,
                  targets: Optional[Mapping[str, str]] = None, field: str = "regimen") -> list[Dose]:
    """Parse one regimen written as text into a list holding one `Dose` (with its repeats).

    target: the state that receives the dose; if omitted it is looked up in `targets` by
    "drug route", then "drug", then "route" (default: `DEFAULT_TARGETS`, the PK library's
    iv -> central, po/sc/im -> depot).
    """
    if not isinstance(text, str) or not text.strip():
        raise input_error(field, text, "a non-empty text such as '8 mg/kg iv over 1h max 800mg'")
    try:
        return _parse(text, target, targets)
    except _Bad as bad:
        raise regimen_error(text, bad.pos, bad.what, field) from None
    except _NoTarget as nt:
        raise input_error(field, text, f"cannot tell which state receives the dose (drug {nt.drug!r}, "
                          f"route {nt.route!r}); allowed: a route or drug among {sorted(nt.table)} or an "
                          "explicit target=") from None


def _parse(text: str, target: Optional[str], targets: Optional[Mapping[str, str]]) -> list[Dose]:
    seen: dict[str, re.Match] = {}
    drug = None
    pos = 0
    n = len(text)
    while True:
        while pos < n and (text[pos].isspace() or text[pos] == ","):
            pos += 1
        if pos >= n:
            break
        for kind, rx in _COMPILED:
            m = rx.match(text, pos)
            if m:
                if kind in seen:
                    raise _error(text, pos, f"a second '{kind}' token '{m.group(0)}'")
                seen[kind] = m
                pos = m.end()
                break
        else:
            m = _DRUG.match(text, pos)
            if m and drug is None and not seen:
                drug = m.group(0).lower()
                pos = m.end()
                continue
            token = text[pos:].split()[0]
            raise _error(text, pos, f"unexpected token '{token}'")

    if "amount" not in seen:
        raise _error(text, 0, "no amount with a unit (e.g. '8 mg/kg', '10 mg', '2e6 cells/kg')")
    amount, unit = _amount(*seen["amount"].groups())
    kw: dict = {}
    route = _ROUTES[seen["route"].group(1).lower()] if "route" in seen else None
    if "over" in seen:
        kw["duration"] = _hours(*seen["over"].groups())
    if "rate" in seen:
        g = seen["rate"].groups()
        rate, rate_unit = _amount(g[0], g[1], g[2])
        if rate_unit != unit:
            raise _error(text, seen["rate"].start(), f"a rate in {unit}/h for a dose in {unit}, "
                                                     f"not {rate_unit}/h")
        kw["rate"] = rate
    count = 1
    if "count" in seen:
        count = int(next(g for g in seen["count"].groups() if g))
        if count < 1:
            raise _error(text, seen["count"].start(), "a dose count of at least 1")
    if "every" in seen:
        value, tunit = seen["every"].groups()
        kw["interval"] = _hours(value or "1", tunit)
        if count == 1 and "count" not in seen:
            raise _error(text, seen["every"].end(), "a repeat interval without a count (add e.g. 'x3')")
    elif count > 1:
        raise _error(text, seen["count"].start(), "a dose count without an interval (add e.g. 'q8h')")
    kw["additional"] = count - 1
    if "cap" in seen:
        cap, cap_unit = _amount(*seen["cap"].groups())
        if cap_unit != unit.replace("/kg", ""):
            raise _error(text, seen["cap"].start(), f"a cap in {unit.replace('/kg', '')}, not {cap_unit}")
        kw["cap"] = cap
    if "day" in seen and "at" in seen:
        raise _error(text, seen["at"].start(), "both 'day' and 'at' for the start time")
    if "day" in seen:
        kw["time"] = 24.0 * float(seen["day"].group(1))
    if "at" in seen:
        kw["time"] = _hours(*seen["at"].groups())
    if "lag" in seen:
        kw["lag"] = _hours(*seen["lag"].groups())
    if "f" in seen:
        kw["bioavailability"] = float(seen["f"].group(1))

    if target is None:
        table = dict(DEFAULT_TARGETS if targets is None else targets)
        for key in ([f"{drug} {route}", drug] if drug else []) + ([route] if route else []):
            if key in table:
                target = table[key]
                break
        else:
            raise _NoTarget(drug, route, table)
    return [Dose(target, amount, unit=unit, **kw)]
