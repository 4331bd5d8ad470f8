"""Doses as data: the :class:`Dose` record and its conversion to the engine's dose dicts."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Mapping, Optional

from ._convert import as_finite, as_float, as_int, as_str
from ._errors import input_error
from ._model import Model

__all__ = ["Dose", "HOURS_PER_DAY", "to_core_doses"]

HOURS_PER_DAY = 24.0


@dataclass(frozen=True)
class Dose:
    """One dosing record (NONMEM semantics for repeats, lag and bioavailability).

    Args:
        target: name of the dosed state (see ``Model.states``; its ``dose_unit`` must be non-empty).
        amount: amount per administration in ``unit``.
        unit: the target state's dose unit (e.g. ``"mg"``, ``"cells"``), or that unit per kg of
            body weight (``"mg/kg"``), which multiplies ``amount`` by the patient's weight.
        time: time of the first administration, h (or give ``time_days``).
        rate: zero-order infusion rate in ``unit``/h (so mg/kg/h for a per-kg dose); the infusion
            lasts amount/rate. None: not an infusion by rate.
        duration: zero-order infusion duration, h. None: not an infusion by duration. Giving
            neither rate nor duration makes a bolus; giving both is an error.
        additional: number of repeats after the first administration (NONMEM ADDL).
        interval: time between repeats, h (NONMEM II; or give ``interval_days``); required when
            ``additional > 0``.
        lag: delay added to every administration time, h.
        bioavailability: fraction of the amount that reaches the state (applied after the cap).
        cap: largest amount per administration in the dose unit (not per kg), e.g. 800 mg for
            tocilizumab 8 mg/kg; applied after weight scaling. None: no cap.
        time_days, interval_days: ``time`` and ``interval`` in days (24 h), for convenience.

    Example: tocilizumab 8 mg/kg IV over 1 h, at most 800 mg::

        Dose("central", 8, unit="mg/kg", duration=1, cap=800)
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


_FIELDS = [f.name for f in fields(Dose)]


def _normalise(unit: str) -> str:
    return unit.replace(" ", "")


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


def _dose_unit(model: Model, d: Dose, f: str) -> str:
    target = as_str(d.target, f + "target", "a state name (str)")
    states = {s: u for s, u in zip(model.state_names, model.state_dose_units)}
    if target not in states:
        raise input_error(f + "target", target,
                          "a state of model " + model.name + ", one of {" + ", ".join(states) + "}")
    if not states[target]:
        dosable = [s for s, u in states.items() if u]
        raise input_error(f + "target", target,
                          f"a state that takes doses (state '{target}' of model {model.name} does "
                          "not); dosable states: {" + ", ".join(dosable) + "}")
    return states[target]


def to_core_doses(doses: List[Dose], model: Model, weight_kg: float) -> List[Dict[str, Any]]:
    """The engine's dose dicts for ``doses``: checks units against the target state's dose unit,
    converts per-kg rates to absolute rates (needs ``weight_kg``; NaN when not given) and types.
    Value ranges (negative amounts, NaN times, ...) are checked by the engine, which names
    ``doses[i].<field>`` too."""
    out = []
    for i, d in enumerate(doses):
        f = f"doses[{i}]."
        dose_unit = _dose_unit(model, d, f)
        unit = as_str(d.unit, f + "unit", f"'{dose_unit}' or '{dose_unit}/kg'")
        if _normalise(unit) == _normalise(dose_unit):
            per_kg = False
        elif _normalise(unit) == _normalise(dose_unit) + "/kg":
            per_kg = True
        else:
            raise input_error(f + "unit", unit,
                              f"'{dose_unit}' or '{dose_unit}/kg' (the dose unit of state "
                              f"'{d.target}' of model {model.name}, or per kg of body weight)")
        if per_kg and not (math.isfinite(weight_kg) and weight_kg > 0):
            raise input_error("weight", None if math.isnan(weight_kg) else weight_kg,
                              f"a body weight > 0 kg, needed by the per-kg dose doses[{i}] "
                              f"(unit '{unit}')")
        core: Dict[str, Any] = {
            "target": d.target,
            "time": as_float(d.time, f + "time", "a time in h"),
            "amount": as_float(d.amount, f + "amount", f"an amount in {unit}"),
            "per_kg": per_kg,
            "additional": as_int(d.additional, f + "additional", "an integer number of repeats >= 0"),
            "lag": as_float(d.lag, f + "lag", "a lag time in h"),
            "bioavailability": as_float(d.bioavailability, f + "bioavailability", "a fraction"),
        }
        if d.rate is not None:
            rate = as_float(d.rate, f + "rate", f"an infusion rate in {unit}/h, or None")
            core["rate"] = rate * weight_kg if per_kg else rate
        if d.duration is not None:
            core["duration"] = as_float(d.duration, f + "duration", "an infusion duration in h, or None")
        if d.interval is not None:
            core["interval"] = as_float(d.interval, f + "interval", "an interval in h, or None")
        if d.cap is not None:
            core["cap"] = as_finite(d.cap, f + "cap", f"a cap > 0 {dose_unit} (None for no cap)",
                                    lower=0.0, strict=True)
        out.append(core)
    return out
