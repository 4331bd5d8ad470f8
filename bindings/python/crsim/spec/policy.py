"""Triggered policies: "when <condition> holds (for <duration>), give <regimen>", with limits.

A :class:`Policy` is data: its condition is text (``"temperature >= 38"``, ``"grade >= 2 for 2 h"``,
``"il6 >= 500 pg/mL"``), its action a regimen (text such as ``"tocilizumab 8 mg/kg iv over 1h max
800mg"`` or :class:`crsim.Dose` records whose ``time`` is an offset from the administration), and its
limits numbers. The engine (core/include/crsim/policy.hpp) watches the condition on every solver step
and locates the crossing on the dense output to ``tolerance_h`` (default 1e-6 h), independent of the
output grid. Each firing is recorded (``Result.firings``).
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from crsim.base.errors import InputError, show
from crsim.base.problems import MISSING, Problems, suggest
from crsim.spec.dosing import Dose, check_dose_mapping, dose_to_dict
from crsim.spec.regimen import parse_regimen

__all__ = ["Policy", "Condition", "parse_condition", "POLICY_KEYS", "check_policy", "policy_to_dict"]

#: Keys of a policy in a scenario file (and fields of :class:`Policy`).
POLICY_KEYS = ("name", "when", "sustained_h", "give", "delay_h", "max_doses", "min_interval_h",
               "max_per_24h", "window_h", "tolerance_h")

_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_TIME_UNITS = {"min": 1 / 60, "h": 1.0, "d": 24.0}
_GRAMMAR = ("VARIABLE >= NUMBER [UNIT] [for DURATION h|min|d], or <= (e.g. 'grade >= 2 for 2 h'), or "
            "VARIABLE rises|falls FACTORx in DURATION [for DURATION] (e.g. 'ferritin rises 2x in 48 h')")


@dataclass(frozen=True)
class Condition:
    """A parsed condition: ``variable`` (as written; aliases such as ``grade`` are resolved per
    model), ``comparison`` (``">="`` or ``"<="``), ``threshold``, optional ``unit`` (checked against
    the variable's unit) and ``sustained_h`` from a ``for DURATION`` suffix (0 if none). A trend
    condition (``window_h`` > 0, from ``rises|falls FACTORx in DURATION``) compares the fold change
    v(t) / v(t - window_h) with ``threshold``: ``rises Fx`` is ``>= F``, ``falls Fx`` is ``<= 1/F``."""

    variable: str
    comparison: str
    threshold: float
    unit: Optional[str] = None
    sustained_h: float = 0.0
    window_h: float = 0.0

    def text(self) -> str:
        """The condition as text (without the ``for`` part)."""
        if self.window_h > 0:
            if self.comparison == ">=":
                return f"{self.variable} rises {_num(self.threshold)}x in {_num(self.window_h)} h"
            return f"{self.variable} falls {_num(1.0 / self.threshold)}x in {_num(self.window_h)} h"
        return f"{self.variable} {self.comparison} {_num(self.threshold)}" + (f" {self.unit}" if self.unit else "")


def _cond_error(text: str, pos: int, what: str) -> InputError:
    pointer = " " * pos + "^"
    err = InputError(f"when = {text!r} is not allowed: {what} at position {pos}\n    {text}\n    {pointer}\n"
                     f"allowed: {_GRAMMAR}")
    err.field = "when"
    return err


def parse_condition(text: str) -> Condition:
    """Parses a condition such as ``"temperature >= 38"``, ``"grade >= 2 for 2 h"`` or
    ``"map <= 65 mmHg for 30 min"``. Raises InputError pointing at the bad part."""
    if not isinstance(text, str) or not text.strip():
        err = InputError(f"when = {show(text)} is not allowed: a condition text, {_GRAMMAR}")
        err.field = "when"
        raise err
    pos = len(text) - len(text.lstrip())
    m = re.compile(r"[A-Za-z_][A-Za-z0-9_\-\.]*").match(text, pos)
    if not m:
        raise _cond_error(text, pos, "no variable name (an observable or state, e.g. 'temperature')")
    variable = m.group(0)
    pos = m.end()
    while pos < len(text) and text[pos].isspace():
        pos += 1
    m = re.compile(r"(rises|falls)\b", re.IGNORECASE).match(text, pos)
    if m:
        return _parse_trend(text, variable, m)
    m = re.compile(r">=|<=|=>|=<|≥|≤|==|!=|>|<|=").match(text, pos)
    if not m:
        raise _cond_error(text, pos, "no comparison (>= or <=, or rises / falls)")
    op = {"≥": ">=", "=>": ">=", "≤": "<=", "=<": "<="}.get(m.group(0), m.group(0))
    if op not in (">=", "<="):
        raise _cond_error(text, pos, f"comparison '{m.group(0)}': use >= or <= (the trigger fires when "
                                     "the variable reaches the threshold)")
    pos = m.end()
    while pos < len(text) and text[pos].isspace():
        pos += 1
    m = re.compile(_NUM + r"(?![\w.])").match(text, pos)
    if not m:
        raise _cond_error(text, pos, "no threshold number")
    threshold = float(m.group(0))
    pos = m.end()
    unit = None
    sustained = 0.0
    rest = re.compile(r"\s*(?!for\b)([^\s]+)").match(text, pos)
    if rest and rest.group(1):
        unit = rest.group(1)
        pos = rest.end()
    sustained, pos = _parse_for(text, pos)
    if not math.isfinite(threshold):
        raise _cond_error(text, 0, "a finite threshold")
    return Condition(variable, op, threshold, unit, sustained)


_DURATION = r"(" + _NUM + r")\s*(min|minutes?|h|hr|hours?|d|days?)(?![\w])"


def _hours(number: str, unit: str) -> float:
    u = unit.lower()
    return float(number) * _TIME_UNITS["min" if u.startswith("min") else u[0]]


def _parse_for(text: str, pos: int) -> Tuple[float, int]:
    """An optional ``for DURATION`` suffix, then the end of the text: (hours, position)."""
    sustained = 0.0
    m = re.compile(r"\s*for\s+" + _DURATION, re.IGNORECASE).match(text, pos)
    if m:
        sustained = _hours(m.group(1), m.group(2))
        if sustained < 0:
            raise _cond_error(text, m.start(1), "a negative duration")
        pos = m.end()
    elif re.compile(r"\s*for\b", re.IGNORECASE).match(text, pos):
        k = re.compile(r"\s*").match(text, pos).end()
        raise _cond_error(text, k, "'for' without a duration and unit (e.g. 'for 2 h')")
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos < len(text):
        raise _cond_error(text, pos, f"unexpected text '{text[pos:].split()[0]}'")
    return sustained, pos


def _parse_trend(text: str, variable: str, word: "re.Match[str]") -> Condition:
    """``VARIABLE rises|falls FACTORx in DURATION [for DURATION]``."""
    rising = word.group(1).lower() == "rises"
    pos = re.compile(r"\s*").match(text, word.end()).end()
    m = re.compile(r"(" + _NUM + r")\s*(?:x|×|-?fold)(?![\w])", re.IGNORECASE).match(text, pos)
    if not m:
        raise _cond_error(text, pos, "no fold change (e.g. '2x')")
    factor = float(m.group(1))
    if not (math.isfinite(factor) and factor > 1.0):
        raise _cond_error(text, pos, "a fold change > 1 (e.g. 'rises 2x', 'falls 2x' for halving)")
    pos = re.compile(r"\s*").match(text, m.end()).end()
    m = re.compile(r"(?:in|within|over)\s+" + _DURATION, re.IGNORECASE).match(text, pos)
    if not m:
        raise _cond_error(text, pos, "no time window (e.g. 'in 48 h')")
    window = _hours(m.group(1), m.group(2))
    if not (math.isfinite(window) and window > 0):
        raise _cond_error(text, m.start(1), "a window > 0")
    sustained, _ = _parse_for(text, m.end())
    return Condition(variable, ">=" if rising else "<=", factor if rising else 1.0 / factor, None,
                     sustained, window)




GiveEntry = Union[str, Dose]


@dataclass(frozen=True)
class Policy:
    """A triggered intervention: when ``when`` holds (for ``sustained_h``), give ``give``.

    Args:
        name: a label (appears in ``Result.firings``).
        when: the condition, ``"VARIABLE >= NUMBER [UNIT] [for DURATION]"`` or ``<=``, on an
            observable or state of the model (``"temperature >= 38"``, ``"il6 >= 500 pg/mL"``,
            ``"grade >= 2 for 2 h"``; for the CRS model ``grade`` is the instantaneous ASTCT grade
            ``crs_grade_now``). A unit, if written, must be the variable's.
        sustained_h: h the condition must hold without interruption before it counts (or write
            ``for 2 h`` in ``when``).
        give: the regimen given at each firing: text (``"tocilizumab 8 mg/kg iv over 1h max
            800mg"``, ``"dexamethasone 10 mg iv q6h x4"``), a :class:`crsim.Dose`, a dict of Dose
            fields, or a list of them. Dose times are offsets (h) from the administration time. The
            receiving state follows from the drug and route per model (the model's extension,
            crsim/extensions/<model>/).
        delay_h: h from detection to administration.
        max_doses: largest number of firings (administrations of ``give``) in the run; None: no limit.
        min_interval_h: least time between two firings, h.
        max_per_24h: at most this many firings in any 24 h; None: no limit.
        window_h: ``(start, end)`` h: detections outside are ignored (end None: no end).
        tolerance_h: accuracy of the located crossing time, h.

    Example (the tocilizumab label: 8 mg/kg, max 800 mg, up to 3 more doses >= 8 h apart, at most
    3 in 24 h and 4 in total)::

        crsim.Policy("tocilizumab", when="grade >= 2", give="tocilizumab 8 mg/kg iv over 1h max 800mg",
                     max_doses=4, min_interval_h=8, max_per_24h=3)

    Raises:
        InputError listing every problem (``when``, ``give[0]``, ``delay_h`` ...).
    """

    name: str
    when: str = ""
    sustained_h: float = 0.0
    give: Any = None
    delay_h: float = 0.0
    max_doses: Optional[int] = 1
    min_interval_h: float = 0.0
    max_per_24h: Optional[int] = None
    window_h: Tuple[float, Optional[float]] = (0.0, None)
    tolerance_h: float = 1e-6

    def __post_init__(self) -> None:
        problems = Problems()
        norm = check_policy({f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
                            problems, "")
        problems.raise_if_any()
        for k, v in norm.items():
            object.__setattr__(self, k, v)

    @property
    def condition(self) -> Condition:
        """The parsed condition (its ``sustained_h`` is the policy's)."""
        c = parse_condition(self.when)
        return dataclasses.replace(c, sustained_h=self.sustained_h)

    def replace(self, **changes: Any) -> "Policy":
        """A checked copy with some fields changed. ``trigger_grade=g`` (for models with a grade
        observable) sets the condition to ``grade >= g`` keeping ``for ...``; ``threshold=x`` keeps
        the variable and comparison."""
        fields_ = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        c = self.condition
        if "trigger_grade" in changes:
            g = changes.pop("trigger_grade")
            changes["when"] = f"grade >= {_num(g)}"
        if "threshold" in changes:
            x = changes.pop("threshold")
            if c.window_h > 0:  # a trend: the threshold is the fold change (as written)
                changes["when"] = dataclasses.replace(
                    c, threshold=float(x) if c.comparison == ">=" else 1.0 / float(x)).text()
            else:
                changes["when"] = f"{c.variable} {c.comparison} {_num(x)}" + (f" {c.unit}" if c.unit else "")
        if "when" in changes and "sustained_h" not in changes:
            changes["sustained_h"] = self.sustained_h
        unknown = [k for k in changes if k not in fields_]
        if unknown:
            err = InputError(f"{unknown[0]} = {show(changes[unknown[0]])} is not allowed: a field of "
                             f"Policy, one of {{{', '.join(POLICY_KEYS)}, trigger_grade, threshold}}"
                             f"{suggest(unknown[0], list(POLICY_KEYS) + ['trigger_grade', 'threshold'])}")
            err.field = unknown[0]
            raise err
        fields_.update(changes)
        return Policy(**fields_)

    def to_dict(self) -> Dict[str, Any]:
        """Plain data (as in a scenario file)."""
        return policy_to_dict(self)

    def __repr__(self) -> str:
        extra = ", ".join(f"{k}={getattr(self, k)!r}" for k in POLICY_KEYS[2:]
                          if k != "give" and getattr(self, k) != _DEFAULTS[k])
        return (f"Policy({self.name!r}, when={self.when!r}, give={list(self.give)!r}"
                + (f", {extra}" if extra else "") + ")")


def _num(x: Any) -> str:
    return format(float(x), "g")


_DEFAULTS = {"sustained_h": 0.0, "delay_h": 0.0, "max_doses": 1, "min_interval_h": 0.0,
             "max_per_24h": None, "window_h": (0.0, None), "tolerance_h": 1e-6}


def _count(p: Problems, path: str, v: Any, allowed: str, lower: float) -> Optional[int]:
    if v is None or (isinstance(v, float) and math.isinf(v) and v > 0):
        return None
    return p.number(path, v, allowed, lower=lower, upper=1e9, integer=True)


def check_policy(data: Any, p: Problems, path: str, info: Optional[Mapping[str, Any]] = None
                 ) -> Dict[str, Any]:
    """Checks the fields of one policy (a mapping), recording problems under ``path`` (e.g.
    ``policies[0]``; "" for a Policy made in Python). Returns normalised fields (meaningful only
    when no problem was added). With ``info`` (a model's metadata), dose targets are checked too."""
    pre = f"{path}." if path else ""
    d = p.mapping(path, data, POLICY_KEYS, "a policy")
    if d is None:
        return {}
    out: Dict[str, Any] = {}
    name = d.get("name", MISSING)
    out["name"] = p.text(f"{pre}name", name, "a policy name (non-empty text)") or ""
    when = d.get("when", MISSING)
    cond = None
    if when is MISSING or when == "":
        p.add(f"{pre}when", MISSING, f"a condition, {_GRAMMAR}")
    else:
        try:
            cond = parse_condition(when)
        except InputError as ex:  # "when = '...' is not allowed: ..." with the path (and line)
            p.add_raw(f"{pre}when", p.where(f"{pre}when") + str(ex)[len("when"):])
    out["when"] = when if isinstance(when, str) else ""
    sus = d.get("sustained_h", 0.0)
    sus = p.number(f"{pre}sustained_h", sus if sus is not None else 0.0, "a duration >= 0 h", lower=0.0)
    if cond is not None and cond.sustained_h > 0:
        if sus not in (None, 0.0) and sus != cond.sustained_h:
            p.add(f"{pre}sustained_h", sus, f"0 or {cond.sustained_h:g} h: the condition already says "
                  f"'for {cond.sustained_h:g} h'")
        sus = cond.sustained_h
    out["sustained_h"] = float(sus or 0.0)

    give = d.get("give", MISSING)
    entries: List[GiveEntry] = []
    allowed_give = ("a regimen: text such as 'tocilizumab 8 mg/kg iv over 1h max 800mg', a Dose, a "
                    "mapping of dose fields, or a non-empty list of them")
    if give is MISSING or give is None:
        p.add(f"{pre}give", MISSING, allowed_give)
        give = ()
    elif isinstance(give, (list, tuple)) and not give:
        p.add(f"{pre}give", [], allowed_give)
    items = list(give) if isinstance(give, (list, tuple)) else [give]
    for i, e in enumerate(items):
        sub = f"{pre}give[{i}]" if isinstance(give, (list, tuple)) else f"{pre}give"
        if isinstance(e, str):
            try:
                parse_regimen(e, target="?", field=p.where(sub))
                entries.append(e)
            except InputError as ex:
                p.add_raw(sub, str(ex))
        elif isinstance(e, (Dose, Mapping)):
            m = dose_to_dict(e) if isinstance(e, Dose) else e
            dose = check_dose_mapping(m, sub, info, p)
            if dose is not None:
                if dose.time < 0:
                    p.add(f"{sub}.time", dose.time, "an offset >= 0 h from the administration time")
                entries.append(dose)
        else:
            p.add(sub, e, allowed_give)
    out["give"] = tuple(entries)

    out["delay_h"] = float(p.number(f"{pre}delay_h", d.get("delay_h", 0.0) if d.get("delay_h") is not None
                                    else 0.0, "a delay >= 0 h", lower=0.0) or 0.0)
    out["max_doses"] = _count(p, f"{pre}max_doses", d.get("max_doses", 1),
                              "a number of firings >= 0 (integer), or null for no limit", 0.0)
    out["min_interval_h"] = float(p.number(
        f"{pre}min_interval_h", d.get("min_interval_h") if d.get("min_interval_h") is not None else 0.0,
        "an interval >= 0 h", lower=0.0) or 0.0)
    out["max_per_24h"] = _count(p, f"{pre}max_per_24h", d.get("max_per_24h"),
                                "a number of firings >= 1 in any 24 h (integer), or null for no limit", 1.0)
    win = d.get("window_h", (0.0, None))
    allowed_w = "a window [start, end] in h (end null: no end; end >= start)"
    window: Tuple[float, Optional[float]] = (0.0, None)
    if win is None:
        win = (0.0, None)
    if not isinstance(win, (list, tuple)) or len(win) != 2:
        p.add(f"{pre}window_h", win, allowed_w)
    else:
        start = p.number(f"{pre}window_h[0]", win[0], "a window start in h (finite)")
        end = win[1]
        if end is not None and not (isinstance(end, (int, float)) and math.isinf(end) and end > 0):
            end = p.number(f"{pre}window_h[1]", end, "a window end in h (>= start), or null for no end")
            if end is not None and start is not None and end < start:
                p.add(f"{pre}window_h[1]", end, f"a window end >= the start {start:g} h, or null")
        else:
            end = None
        window = (float(start) if start is not None else 0.0, None if end is None else float(end))
    out["window_h"] = window
    tol = d.get("tolerance_h", 1e-6)
    out["tolerance_h"] = float(p.number(f"{pre}tolerance_h", tol, "a time tolerance > 0 h (at most 1 h)",
                                        lower=0.0, lower_open=True, upper=1.0) or 1e-6)
    return out


def policy_to_dict(pol: Policy) -> Dict[str, Any]:
    """A policy as plain data: name, when, give and the fields not at their defaults."""
    give = [g if isinstance(g, str) else dose_to_dict(g) for g in pol.give]
    out: Dict[str, Any] = {"name": pol.name, "when": pol.when,
                           "give": give[0] if len(give) == 1 else give}
    for k in POLICY_KEYS[2:]:
        v = getattr(pol, k)
        if k == "give" or v == _DEFAULTS[k]:
            continue
        out[k] = list(v) if k == "window_h" else v
    return out




