"""Doses as data: the :class:`Dose` record, its plain-data form, and the check of a dose written as a
mapping (in a scenario file or a policy). Turning doses into the engine's records for one model and
patient is the resolution step's job (:mod:`crsim.scenario.resolve`)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Mapping, Optional

from crsim.base.convert import as_float
from crsim.base.errors import input_error
from crsim.base.problems import MISSING, Problems, suggest

__all__ = ["Dose", "HOURS_PER_DAY", "DOSE_KEYS", "HEIGHT_RANGE_CM", "HEIGHT_ALLOWED", "as_dose",
           "MAX_WEIGHT_KG", "WEIGHT_ALLOWED", "MAX_ADMINISTERED",
           "dose_to_dict", "check_dose_mapping", "dose_basis", "body_surface_area"]

HOURS_PER_DAY = 24.0

#: Body heights accepted, cm: from the smallest newborns to beyond the tallest person measured
#: (272 cm); a height in metres (1.75) is caught here.
HEIGHT_RANGE_CM = (20.0, 280.0)
HEIGHT_ALLOWED = (f"a body height in cm within [{HEIGHT_RANGE_CM[0]:g}, {HEIGHT_RANGE_CM[1]:g}] "
                  "(1.75 m is 175 cm)")

#: Largest body weight accepted, kg: above the heaviest person recorded (about 635 kg); weights
#: of 1e300 kg overflowed the dosed states into "step size underflow".
MAX_WEIGHT_KG = 1000.0
WEIGHT_ALLOWED = f"a body weight > 0 kg, at most {MAX_WEIGHT_KG:g} kg"

#: Largest amount reaching a state in one administration (amount x body weight or surface area,
#: capped, x bioavailability), in the state's dose unit, and largest infusion rate x
#: bioavailability, in dose unit/h. 1e20 is far beyond any dose (1e20 mg = 1e11 t; 1e20 cells =
#: 1e5 t of cells) and far below where products of states overflow a double.
MAX_ADMINISTERED = 1e20


def body_surface_area(height_cm: float, weight_kg: float) -> float:
    """Body surface area, m², by the Mosteller formula sqrt(height_cm * weight_kg / 3600)
    (Mosteller RD. Simplified calculation of body-surface area. N Engl J Med 1987;317:1098)."""
    return math.sqrt(height_cm * weight_kg / 3600.0)


def dose_basis(unit: str, dose_unit: str) -> Optional[str]:
    """What a dose ``unit`` is per, for a state whose dose unit is ``dose_unit``: ``""`` (the dose
    unit itself), ``"kg"`` (per kg of body weight, ``mg/kg``) or ``"m2"`` (per m² of body surface
    area, ``mg/m2``; ``m²`` and ``m^2`` read as ``m2``); None: neither. Spaces are ignored."""
    u = _normalise(unit)
    d = _normalise(dose_unit)
    if u == d:
        return ""
    for per in ("kg", "m2"):
        if u == f"{d}/{per}":
            return per
    return None


@dataclass(frozen=True)
class Dose:
    """One dosing record (NONMEM semantics for repeats, lag and bioavailability).

    Args:
        target: name of the dosed state (see ``Model.states``; its ``dose_unit`` must be non-empty).
        amount: amount per administration in ``unit``.
        unit: the target state's dose unit (e.g. ``"mg"``, ``"cells"``), that unit per kg of
            body weight (``"mg/kg"``), which multiplies ``amount`` by the patient's weight, or per
            m² of body surface area (``"mg/m2"``), which multiplies it by the patient's body
            surface area from height and weight (Mosteller formula, :func:`body_surface_area`).
        time: time of the first administration, h (or give ``time_days``).
        rate: zero-order infusion rate in ``unit``/h (mg/kg/h for a per-kg dose, mg/m2/h for a
            per-m² dose); the infusion
            lasts amount/rate. None: not an infusion by rate.
        duration: zero-order infusion duration, h. None: not an infusion by duration. Giving
            neither rate nor duration makes a bolus; giving both is an error.
        additional: number of repeats after the first administration (NONMEM ADDL).
        interval: time between repeats, h (NONMEM II; or give ``interval_days``); required when
            ``additional > 0``.
        lag: delay added to every administration time, h.
        bioavailability: fraction of the amount that reaches the state (applied after the cap).
        cap: largest amount per administration in the dose unit (not per kg or m²), e.g. 800 mg
            for tocilizumab 8 mg/kg; applied after weight or body-surface scaling. None: no cap.
        time_days, interval_days: ``time`` and ``interval`` in days (24 h), for convenience.

    Example: tocilizumab 8 mg/kg IV over 1 h, at most 800 mg::

        Dose("central", 8, unit="mg/kg", duration=1, cap=800)

    Blinatumomab 15 µg/m²/day by continuous infusion for 28 days (0.42 mg/m² over 672 h)::

        Dose("central", 0.015 * 28, unit="mg/m2", duration=28 * 24)
    """

    target: str
    amount: float
    unit: str = "mg"
    time: float = 0.0
    rate: Optional[float] = None
    duration: Optional[float] = None
    additional: int = 0
    interval: Optional[float] = None
    lag: float = 0.0
    bioavailability: float = 1.0
    cap: Optional[float] = None
    time_days: Optional[float] = field(default=None, repr=False, compare=False)
    interval_days: Optional[float] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.time_days is not None:
            days = as_float(self.time_days, "Dose.time_days", "a time in days")
            if self.time != 0.0:
                raise input_error("Dose.time_days", self.time_days,
                                  f"either time (h) or time_days, not both (time = {self.time})")
            object.__setattr__(self, "time", days * HOURS_PER_DAY)
        if self.interval_days is not None:
            days = as_float(self.interval_days, "Dose.interval_days", "an interval in days")
            if self.interval is not None:
                raise input_error("Dose.interval_days", self.interval_days,
                                  f"either interval (h) or interval_days, not both "
                                  f"(interval = {self.interval})")
            object.__setattr__(self, "interval", days * HOURS_PER_DAY)

    @property
    def per_kg(self) -> bool:
        """True when the unit is per kg of body weight."""
        return isinstance(self.unit, str) and _normalise(self.unit).endswith("/kg")

    @property
    def per_m2(self) -> bool:
        """True when the unit is per m² of body surface area."""
        return isinstance(self.unit, str) and _normalise(self.unit).endswith("/m2")


_FIELDS = [f.name for f in fields(Dose)]


def _normalise(unit: str) -> str:
    return unit.replace(" ", "").replace("m²", "m2").replace("m^2", "m2")


def as_dose(item: Any, i: int) -> Dose:
    """A Dose from a Dose or a mapping of Dose fields."""
    if isinstance(item, Dose):
        return item
    if isinstance(item, Mapping):
        unknown = [k for k in item if k not in _FIELDS]
        if unknown:
            raise input_error(f"doses[{i}]", f"a dict with key {unknown[0]!r}",
                              "keys among {" + ", ".join(_FIELDS) + "}", raw=True)
        try:
            return Dose(**item)
        except TypeError as ex:  # missing target or amount
            raise input_error(f"doses[{i}]", item, f"a Dose's fields ({ex})") from None
    raise input_error(f"doses[{i}]", item, "a crsim.Dose (or a dict of its fields)")


DOSE_KEYS = ("target", "amount", "unit", "time", "time_days", "rate", "duration", "additional",
             "interval", "interval_days", "lag", "bioavailability", "cap")


def dose_to_dict(d: Dose) -> Dict[str, Any]:
    """The fields of a Dose as plain data: target, amount, unit and the fields not at defaults."""
    out: Dict[str, Any] = {"target": d.target, "amount": d.amount, "unit": d.unit}
    defaults = Dose("x", 0.0)
    for k in ("time", "rate", "duration", "additional", "interval", "lag", "bioavailability", "cap"):
        v = getattr(d, k)
        if v != getattr(defaults, k):
            out[k] = v
    return out


def check_dose_mapping(entry: Mapping[str, Any], path: str, info: Optional[Mapping[str, Any]],
                       problems: Problems) -> Optional[Dose]:
    """Checks a dose written as a mapping of Dose fields (``path`` names it, e.g. ``regimen[0]``),
    recording every problem in ``problems``; ``info`` (a model's metadata) checks the target and
    its dose unit too. Returns the Dose, or None after a problem."""
    d = problems.mapping(path, entry, DOSE_KEYS, "a dose")
    if d is None:
        return None
    n0 = len(problems)
    dose_units = {s["name"]: s["dose_unit"] for s in info["states"]} if info else {}
    target = d.get("target", MISSING)
    allowed_t = "a state that takes doses"
    if info:
        allowed_t += " of model " + info["name"] + ", one of {" + ", ".join(
            n for n, u in dose_units.items() if u) + "}"
    target = problems.text(f"{path}.target", target, allowed_t)
    if target is not None and info is not None and not dose_units.get(target):
        problems.add(f"{path}.target", target, allowed_t + suggest(target, [n for n, u in dose_units.items() if u]))
        target = None
    unit = d.get("unit", MISSING)
    dose_unit = dose_units.get(target, "") if target else ""
    allowed_u = (f"'{dose_unit}', '{dose_unit}/kg' or '{dose_unit}/m2' (the dose unit of state "
                 f"'{target}', per kg of body weight or per m² of body surface area)" if dose_unit
                 else "the dose unit of the target state, e.g. 'mg', 'mg/kg', 'mg/m2', 'cells/kg'")
    unit = problems.text(f"{path}.unit", unit, allowed_u)
    if unit is not None and dose_unit and dose_basis(unit, dose_unit) is None:
        problems.add(f"{path}.unit", unit, allowed_u)
    amount = problems.number(f"{path}.amount", d.get("amount", MISSING),
                             f"a finite amount >= 0 in {unit or 'the dose unit'}", lower=0.0)
    kw: Dict[str, Any] = {}
    for key, allowed, lower, open_ in (
            ("time", "a finite time in h", -math.inf, False),
            ("time_days", "a finite time in days", -math.inf, False),
            ("lag", "a finite lag time >= 0 h", 0.0, False),
            ("bioavailability", "a finite fraction >= 0", 0.0, False)):
        if key in d:
            kw[key] = problems.number(f"{path}.{key}", d[key], allowed, lower=lower, lower_open=open_)
    for key, allowed in (("rate", f"an infusion rate > 0 in {unit or 'dose unit'}/h, or null"),
                         ("duration", "an infusion duration > 0 h, or null"),
                         ("interval", "an interval > 0 h between repeats, or null"),
                         ("interval_days", "an interval > 0 days between repeats, or null"),
                         ("cap", f"a cap > 0 {dose_unit or 'in the dose unit'} per administration "
                                 "(not per kg), or null")):
        if key in d and d[key] is not None:
            kw[key] = problems.number(f"{path}.{key}", d[key], allowed, lower=0.0, lower_open=True)
    if "additional" in d:
        kw["additional"] = problems.number(f"{path}.additional", d["additional"],
                                           "an integer number of repeats >= 0", lower=0.0, integer=True)
    if kw.get("rate") is not None and kw.get("duration") is not None:
        problems.add(f"{path}.rate", kw["rate"], f"either rate or duration for an infusion, not both "
                     f"(duration = {kw['duration']:g} h)")
    if "time" in kw and "time_days" in kw and kw["time"] is not None and kw["time_days"] is not None:
        problems.add(f"{path}.time_days", kw["time_days"], "either time (h) or time_days, not both")
    if kw.get("interval") is not None and kw.get("interval_days") is not None:
        problems.add(f"{path}.interval_days", kw["interval_days"], "either interval (h) or "
                     "interval_days, not both")
    if (kw.get("additional") or 0) > 0 and kw.get("interval") is None and kw.get("interval_days") is None \
            and "interval" not in d and "interval_days" not in d:
        problems.add(f"{path}.interval", MISSING, "required when additional > 0: an interval > 0 h")
    if len(problems) > n0:
        return None
    return Dose(target, amount, unit=unit, **{k: v for k, v in kw.items() if v is not None})
