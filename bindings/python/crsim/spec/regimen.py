"""Regimens written as text, the way a clinician writes them, parsed into `crsim.Dose` records.

Grammar (one administration per part; tokens in any order after an optional drug name;
case-insensitive)::

    [drug] AMOUNT UNIT [route] [over DURATION | at RATE UNIT/h] [q INTERVAL | every INTERVAL]
           [x COUNT | COUNT doses] [max AMOUNT UNIT] [day D | at TIME] [lag TIME] [F FRACTION]
    [drug] RATE UNIT/day [route] (for | over) DURATION [...the same...] [max RATE UNIT/day]
    PART; PART; ...

    "8 mg/kg iv over 1h max 800mg"              tocilizumab label dose
    "tocilizumab 8 mg/kg iv over 1 h q8h x3 max 800 mg"
    "10 mg iv q6h x 4 day 2"                    dexamethasone from day 2
    "2e6 cells/kg iv"                           CAR-T infusion (cells per kg)
    "500 mg po lag 0.5h F 0.8"
    "375 mg/m2 iv over 4h"                      per m² of body surface area
    "blinatumomab 9 ug/day iv for 7 d"          continuous infusion: 63 ug over 168 h
    "blinatumomab 15 ug/m2/day iv over 21 d max 28 ug/day"
    "mosunetuzumab 1 mg iv over 4h day 0; 2 mg over 4h day 7; 60 mg over 4h day 14"

Units: amounts in g, mg, ug/µg/mcg, ng or cells, each optionally per kg of body weight (``mg/kg``) or
per m² of body surface area (``mg/m2``, ``mg/m²``; the surface area comes from the patient's height
and weight, Mosteller formula, when the dose is resolved); times in min, h, d, w.

Start time: ``day D`` is D × 24 h after t = 0, so ``day 0`` is t = 0 and ``day 1`` is t = 24 h —
days are counted from 0, not as a cycle's clinical "day 1" (a cycle's C1D1, D8, D15 are
``day 0``, ``day 7``, ``day 14``; ``on day 3``, ``at day 3`` and ``from day 3`` say the same).
``at TIME`` gives the start in h (``at 1h``). Neither: t = 0.

Drug names may have several words (``axicabtagene ciloleucel``): the words before the first amount,
route or other token, known to the model by all of them (a word too many is an error, not ignored).

A continuous infusion is written as a rate per day (or per hour, ``mg/h``) with how long it runs
(``for 7 d`` or ``over 7 d``): it becomes a zero-order infusion of the whole amount (rate ×
duration) over that duration, at the rate in amount/h. Its cap is a rate too (``max 28 ug/day``).
``for`` is only for rates: an amount over a time is ``over 4h``, repeats are ``q24h x7``.

Several administrations: parts separated by ``;``, each one administration (with its own repeats).
A later part takes the drug, route and unit of the first part unless it names its own (a bare
number, ``"1 mg iv day 0; 2 day 7"``, is an amount in the first part's unit); everything else —
infusion duration or rate, repeats, start, lag, F, cap — belongs to the part that writes it.

A token that fits nothing raises `InputError` naming the field and pointing at the token's
position in the whole text.
"""
from __future__ import annotations

import re
from typing import List, Mapping, Optional, Tuple

from crsim.spec.dosing import Dose
from crsim.base.errors import InputError, input_error

_NUM = r"(\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)"
_PER_BODY = r"(?:\s*/\s*(kg|m2|m²|m\^2))?"           # per kg of body weight, per m² of body surface
_AMT_UNIT = rf"(mg|g|ug|µg|mcg|ng|cells){_PER_BODY}"   # groups: unit, per-body
_PER_TIME = r"(?:\s*/\s*(h|hr|hour|d|day))?"           # a rate: amount per hour or per day
_TIME_UNIT = r"(min|minutes?|h|hr|hrs|hours?|d|days?|w|wk|wks|weeks?)"
_HOURS = {"min": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0}
_MG = {"mg": 1.0, "g": 1000.0, "ug": 1e-3, "µg": 1e-3, "mcg": 1e-3, "ng": 1e-6, "cells": 1.0}
_ROUTES = {"iv": "iv", "po": "po", "oral": "po", "sc": "sc", "subcut": "sc", "im": "im"}

#: Default route -> state map of the PK library models.
DEFAULT_TARGETS = {"iv": "central", "po": "depot", "sc": "depot", "im": "depot"}

#: The grammar, as the error messages show it.
GRAMMAR = ("[drug] AMOUNT UNIT [iv|po|sc|im] [over DURATION | at RATE UNIT/h] [qINTERVAL] [xCOUNT] "
           "[max AMOUNT UNIT] [day D | at TIME] [lag TIME] [F FRACTION], or a continuous infusion "
           "RATE UNIT/day for DURATION; UNIT g, mg, ug, ng or cells, optionally /kg or /m2; several "
           "administrations separated by ';'")

_PATTERNS = [
    ("amount", rf"{_NUM}\s*{_AMT_UNIT}{_PER_TIME}(?![a-z])"),
    ("route", r"(iv|po|oral|sc|subcut|im)(?![a-z])"),
    ("over", rf"(over|for)\s+{_NUM}\s*{_TIME_UNIT}(?![a-z])"),
    ("rate", rf"at\s+{_NUM}\s*{_AMT_UNIT}\s*/\s*h(?:r|our)?(?![a-z])"),
    ("every", rf"(?:q|every\s+){_NUM}?\s*{_TIME_UNIT}(?![a-z])"),
    ("count", r"(?:x\s*(\d+)|(\d+)\s*doses|times\s+(\d+))(?![a-z0-9])"),
    ("cap", rf"(?:max(?:imum)?|cap)\s+{_NUM}\s*{_AMT_UNIT}{_PER_TIME}(?![a-z])"),
    ("day", rf"(?:(?:on|at|from)\s+)?day\s+{_NUM}(?![a-z0-9])"),
    ("at", rf"(?:at|t\s*=)\s*{_NUM}\s*{_TIME_UNIT}(?![a-z])"),
    ("lag", rf"lag\s+{_NUM}\s*{_TIME_UNIT}(?![a-z])"),
    ("f", rf"(?:f|bioavailability)\s*=?\s*{_NUM}(?![a-z0-9])"),
]
_COMPILED = [(k, re.compile(p, re.IGNORECASE)) for k, p in _PATTERNS]
_DRUG = re.compile(r"[a-z][a-z0-9_\-]*(?![a-z0-9_\-])", re.IGNORECASE)
_BARE = re.compile(rf"{_NUM}(?![a-z0-9.µ/²])", re.IGNORECASE)  # an amount in the first part's unit


def _hours(value: str, unit: str) -> float:
    u = unit.lower()
    key = "min" if u.startswith("min") else u[0]
    return float(value) * _HOURS[key]


def _per_hours(per_time: Optional[str]) -> Optional[float]:
    """Hours of the time a rate is per (``/day`` -> 24), or None: not a rate."""
    if per_time is None:
        return None
    return 24.0 if per_time.lower().startswith("d") else 1.0


def _amount(value: str, unit: str, per: Optional[str]) -> tuple[float, str]:
    """The amount in mg (or cells) and its unit: mg, mg/kg or mg/m2 (cells, cells/kg, cells/m2)."""
    u = unit.lower()
    base = "cells" if u == "cells" else "mg"
    suffix = "" if per is None else ("/kg" if per.lower() == "kg" else "/m2")
    return float(value) * _MG[u], base + suffix


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


def regimen_error(text: str, pos: int, what: str, field: str = "regimen") -> InputError:
    """The InputError of a regimen ``text`` written under ``field``, pointing at position ``pos``."""
    pointer = " " * pos + "^"
    err = InputError(f"{field} = '{text}' is not allowed: {what} at position {pos}\n"
                     f"    {text}\n    {pointer}\n"
                     f"allowed: {GRAMMAR}")
    err.field = field
    return err


def parse_regimen(text: str, target: Optional[str] = None,
                  targets: Optional[Mapping[str, str]] = None, field: str = "regimen",
                  unit_targets: Optional[Mapping[str, str]] = None) -> list[Dose]:
    """Parse a regimen written as text into its `Dose` records, one per administration (each part
    between ``;``, with its repeats); see the module docstring for the grammar.

    target: the state that receives every dose; if omitted it is looked up, per part, in `targets`
    by "drug route", then "drug", then "route" (default: `DEFAULT_TARGETS`, the PK library's
    iv -> central, po/sc/im -> depot), then in `unit_targets` by the dose's unit without /kg or
    /m2 (e.g. ``{"cells": "car_t_effector"}``: the one state of a model taking that unit).
    field: the name the user wrote the text under (``regimen[2]``, ``policies[0].give``), named by
    every error.
    """
    if not isinstance(text, str) or not text.strip():
        raise input_error(field, text, "a non-empty text such as '8 mg/kg iv over 1h max 800mg'")
    try:
        return _parse(text, target, targets, unit_targets)
    except _Bad as bad:
        raise regimen_error(text, bad.pos, bad.what, field) from None
    except _NoTarget as nt:
        raise input_error(field, text, f"cannot tell which state receives the dose (drug {nt.drug!r}, "
                          f"route {nt.route!r}); allowed: a route or drug among {sorted(nt.table)} or an "
                          "explicit target=") from None


def _parts(text: str) -> List[Tuple[int, int]]:
    """(start, end) of each part between ';' in ``text``."""
    bounds, start = [], 0
    for m in re.finditer(";", text):
        bounds.append((start, m.start()))
        start = m.end()
    bounds.append((start, len(text)))
    return bounds


def _parse(text: str, target: Optional[str], targets: Optional[Mapping[str, str]],
           unit_targets: Optional[Mapping[str, str]]) -> list[Dose]:
    table = dict(DEFAULT_TARGETS if targets is None else targets)
    doses: list[Dose] = []
    first: Optional[dict] = None  # what later parts inherit: drug, route, unit groups
    parts = _parts(text)
    for k, (start, end) in enumerate(parts):
        if not text[start:end].strip(" \t\r\n,"):
            if len(parts) == 1:
                raise _Bad(0, "no amount with a unit (e.g. '8 mg/kg', '10 mg', '2e6 cells/kg')")
            raise _Bad(start - 1 if k > 0 else end,
                       "an empty part: each part between ';' is one administration (e.g. '2 mg day 7')")
        part = _parse_part(text, start, end, first)
        if first is None:
            first = part
        drug = part["drug"] if part["drug"] is not None else first["drug"]
        route = part["route"] if part["route"] is not None else first["route"]
        dose_target = target
        if dose_target is None:
            for key in ([f"{drug} {route}", drug] if drug else []) + ([route] if route else []):
                if key in table:
                    dose_target = table[key]
                    break
            else:
                base = part["unit"].split("/")[0]
                if unit_targets and base in unit_targets:
                    dose_target = unit_targets[base]
                else:
                    raise _NoTarget(drug, route, table)
        doses.append(Dose(dose_target, part["amount"], unit=part["unit"], **part["kw"]))
    return doses


def _parse_part(text: str, start: int, end: int, first: Optional[dict]) -> dict:
    """One administration, text[start:end]: its drug and route (None: not named), amount and unit,
    and the other Dose fields; ``first`` (the first part, None for the first part itself) lends
    its unit to a bare number."""
    seen: dict[str, re.Match] = {}
    drug = None
    bare = False
    pos = start
    while True:
        while pos < end and (text[pos].isspace() or text[pos] == ","):
            pos += 1
        if pos >= end:
            break
        for kind, rx in _COMPILED:
            m = rx.match(text, pos, end)
            if m:
                if kind in seen:
                    raise _Bad(pos, f"a second '{kind}' token '{m.group(0)}'")
                seen[kind] = m
                pos = m.end()
                break
        else:
            m = _DRUG.match(text, pos, end)
            if m and not seen:   # the drug's name: one or more words before any other token
                drug = m.group(0).lower() if drug is None else f"{drug} {m.group(0).lower()}"
                pos = m.end()
                continue
            m = _BARE.match(text, pos, end) if first is not None and "amount" not in seen else None
            if m:
                seen["amount"], bare = m, True
                pos = m.end()
                continue
            token = text[pos:end].split()[0]
            raise _Bad(pos, f"unexpected token '{token}'")

    segment = text[start:end]
    part_start = start + len(segment) - len(segment.lstrip(" \t\r\n,"))
    if "amount" not in seen:
        raise _Bad(part_start, "no amount with a unit (e.g. '8 mg/kg', '10 mg', '2e6 cells/kg')"
                   + (", or a number in the first part's unit" if first is not None else ""))
    am = seen["amount"]
    if bare:
        unit_groups = first["unit_groups"]
        groups = (am.group(1),) + unit_groups
    else:
        groups = am.groups()
        unit_groups = groups[1:]
    amount, unit = _amount(*groups[:3])
    per_h = _per_hours(groups[3])
    kw: dict = {}
    route = _ROUTES[seen["route"].group(1).lower()] if "route" in seen else None
    duration = None
    if "over" in seen:
        word, value, tunit = seen["over"].groups()
        duration = _hours(value, tunit)
        if not duration > 0:
            raise _Bad(seen["over"].start(), "an infusion duration > 0")
        if word.lower() == "for" and per_h is None:
            raise _Bad(seen["over"].start(), "'for DURATION' only after a rate such as '9 ug/day' "
                       "(an amount infused over a time: 'over 4h'; repeats: 'q24h x7')")
    if per_h is not None:  # a continuous infusion: rate per day (or h) for a duration
        if "rate" in seen:
            raise _Bad(seen["rate"].start(), f"an 'at RATE' with a dose already given as a rate "
                       f"('{am.group(0).strip()}')")
        if duration is None:
            raise _Bad(am.start(), f"a rate ('{am.group(0).strip()}') with how long it runs: add "
                       "'for 7 d' or 'over 7 d'")
        amount = amount * (duration / per_h)  # amount/h x h
    if duration is not None:
        kw["duration"] = duration
    if "rate" in seen:
        g = seen["rate"].groups()
        rate, rate_unit = _amount(g[0], g[1], g[2])
        if rate_unit != unit:
            raise _Bad(seen["rate"].start(), f"a rate in {unit}/h for a dose in {unit}, "
                                             f"not {rate_unit}/h")
        if not rate > 0:
            raise _Bad(seen["rate"].start(), "an infusion rate > 0")
        kw["rate"] = rate
    count = 1
    if "count" in seen:
        count = int(next(g for g in seen["count"].groups() if g))
        if count < 1:
            raise _Bad(seen["count"].start(), "a dose count of at least 1")
    if "every" in seen:
        value, tunit = seen["every"].groups()
        kw["interval"] = _hours(value or "1", tunit)
        if not kw["interval"] > 0:
            raise _Bad(seen["every"].start(), "a repeat interval > 0")
        if count == 1 and "count" not in seen:
            raise _Bad(seen["every"].end(), "a repeat interval without a count (add e.g. 'x3')")
    elif count > 1:
        raise _Bad(seen["count"].start(), "a dose count without an interval (add e.g. 'q8h')")
    kw["additional"] = count - 1
    if "cap" in seen:
        cm = seen["cap"]
        cap, cap_unit = _amount(*cm.groups()[:3])
        cap_per_h = _per_hours(cm.group(4))
        absolute = unit.split("/")[0]
        if cap_unit != absolute:
            raise _Bad(cm.start(), f"a cap in {absolute} (not per kg or m²), not {cap_unit}")
        if (cap_per_h is None) != (per_h is None):
            raise _Bad(cm.start(), "a cap as a rate (e.g. 'max 28 ug/day') for a dose given as a rate"
                       if per_h is not None else
                       "a cap as an amount per administration (e.g. 'max 800 mg'), not a rate")
        if not cap > 0:
            raise _Bad(cm.start(), "a cap > 0")
        kw["cap"] = cap if cap_per_h is None else cap * (duration / cap_per_h)
    if "day" in seen and "at" in seen:
        raise _Bad(seen["at"].start(), "both 'day' and 'at' for the start time")
    if "day" in seen:
        kw["time"] = 24.0 * float(seen["day"].group(1))
    if "at" in seen:
        kw["time"] = _hours(*seen["at"].groups())
    if "lag" in seen:
        kw["lag"] = _hours(*seen["lag"].groups())
    if "f" in seen:
        kw["bioavailability"] = float(seen["f"].group(1))
    return {"drug": drug, "route": route, "amount": amount, "unit": unit, "kw": kw,
            "unit_groups": unit_groups}
