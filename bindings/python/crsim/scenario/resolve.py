"""The resolution step: the one place where a model and what a user asked for — a checked
:class:`crsim.Scenario`, or the keyword arguments of :func:`crsim.simulate` — become an engine
problem (:class:`Problem`): parameter values (parameter set, overrides, body weight), doses with
per-kg amounts scaled by the body weight and per-m² amounts by the body surface area (Mosteller, from
height and weight), targets resolved, the scheduled doses of strategies, policies with their
variables and actions resolved, the output grid, solver options.

A Scenario was checked completely when it was made (:mod:`crsim.scenario.scenario`), so
:func:`resolve_scenario` checks nothing again; the keyword path (:func:`resolve_call`) converts and
checks its arguments here. Errors name the field the user wrote (``regimen[0].unit``,
``doses[0].unit``, ``policies[1].give[0]``).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import pandas as pd

from crsim import _core
from crsim.base.convert import as_bool, as_finite, as_float, as_int, as_names, as_str
from crsim.base.errors import InputError, input_error
from crsim.base.problems import suggest
from crsim.model.extension import extension
from crsim.model.model import WEIGHT_PARAMETER, Model, as_model
from crsim.model.strategies import expand, strategy
from crsim.model.targets import resolve_variable, targets_for
from crsim.scenario.nonmem import doses_from_nonmem
from crsim.spec.dosing import (HEIGHT_ALLOWED, HEIGHT_RANGE_CM, HOURS_PER_DAY, MAX_ADMINISTERED,
                            MAX_WEIGHT_KG, WEIGHT_ALLOWED, Dose, as_dose,
                               body_surface_area, dose_basis)
from crsim.spec.policy import Policy
from crsim.spec.regimen import parse_regimen
from crsim.spec.strategy import Strategy

__all__ = ["Problem", "resolve_scenario", "resolve_call", "to_core_doses", "core_policies",
           "regimen_doses", "default_times", "output_grid", "effective_weight",
           "has_weight_parameter", "unit_targets", "MAX_OUTPUT_TIMES", "DEFAULT_TAIL_H",
           "readout_watch"]

DEFAULT_HORIZON_H = 24.0   # default run length after the last administration ends, h
MAX_DEFAULT_POINTS = 2000  # the default grid has at most about this many intervals
_NICE_STEPS_H = (0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 12.0, 24.0)
#: Largest number of output times of one run (a grid finer than this is surely a mistake).
MAX_OUTPUT_TIMES = 2_000_000
#: Default run length after the last administration ends when a scenario gives no horizon, h.
DEFAULT_TAIL_H = 24.0


class Problem:
    """One run resolved for the engine: ``core`` holds the arguments of ``_core.simulate`` (and of
    one entry of ``_core.simulate_batch``); ``call`` the arguments as given (for the Scenario
    equivalent to a keyword call); ``weight_kg`` the body weight doses were scaled with (NaN:
    none); ``has_policies`` whether policies or strategies were given."""

    __slots__ = ("model", "core", "call", "weight_kg", "has_policies")

    def __init__(self, model: Model, core: Dict[str, Any], call: Dict[str, Any], weight_kg: float,
                 has_policies: bool):
        self.model = model
        self.core = core
        self.call = call
        self.weight_kg = weight_kg
        self.has_policies = has_policies


# --- the scenario path ------------------------------------------------------------------------------

def resolve_scenario(s: Any) -> Problem:
    """A checked :class:`crsim.Scenario` as an engine problem (nothing is checked again)."""
    m = s._model if s._model is not None else Model(s.model, parameter_set=s.parameter_set)
    w = effective_weight(m, s.patient.weight_kg, s.parameters)
    overrides = dict(s.parameters)
    if m.parameter_set is not None:  # numbers from the model's cited parameter set
        overrides = {**m.parameter_values, **overrides}
    if WEIGHT_PARAMETER in m.parameter_names:  # the model's own body-weight parameter is the patient's
        overrides[WEIGHT_PARAMETER] = w
    h = math.nan if s.patient.height_cm is None else float(s.patient.height_cm)
    pols, reg = expand(s.policies, m.name)
    core_doses = to_core_doses(s.doses + regimen_doses(reg, m, len(s.doses)), m, w, height_cm=h)
    sv = s.solver
    options = {"method": sv.method, "rtol": sv.rtol, "atol": sv.atol, "max_steps": int(sv.max_steps),
               "max_step": sv.max_step, "initial_step": sv.initial_step,
               "sensitivity_error_control": True}
    sens = (m.parameter_names if s.sensitivities is True else list(s.sensitivities or []))
    core = dict(parameters=overrides, doses=core_doses, times=output_grid(s, m, core_doses, w),
                weight_kg=w, t_start=float(s.t_start_h), initial=dict(s.initial), options=options,
                sensitivities=sens, policies=core_policies(pols, m, w, height_cm=h),
                readouts=readout_watch(m))
    call = dict(model=m.name, parameter_set=m.parameter_set, doses=list(s.doses),
                parameters=dict(s.parameters), weight=None if math.isnan(w) else w,
                height=s.patient.height_cm,
                initial=dict(s.initial), options=options, sensitivities=sens,
                t_start=float(s.t_start_h), policies=list(s.policies))
    return Problem(m, core, call, w, bool(s.policies))


def readout_watch(model: Model) -> Optional[List[tuple]]:
    """The readout trajectory a run of ``model`` records (the engine's ``readouts`` argument):
    None for a model without clinical readouts in its extension, else the thresholds it watches
    (``extension.readout_watch``; none: step points and discontinuities only)."""
    ext = extension(model.name)
    if ext.readouts is None and not ext.readout_watch:
        return None
    return [tuple(w) for w in ext.readout_watch]


def effective_weight(model: Model, weight: Optional[float], parameters: Mapping[str, float]) -> float:
    """The body weight (kg) doses are scaled with: the patient's, else the model's own body-weight
    parameter (an override, or the value of the parameter set), else NaN."""
    if weight is not None:
        return float(weight)
    if WEIGHT_PARAMETER in model.parameter_names:
        return float(parameters.get(WEIGHT_PARAMETER, model.parameter_values[WEIGHT_PARAMETER]))
    return math.nan


def has_weight_parameter(info: Mapping[str, Any]) -> bool:
    """Whether a model (its metadata) has the body-weight parameter."""
    return any(q["name"] == WEIGHT_PARAMETER for q in info["parameters"])


# --- the keyword path ------------------------------------------------------------------------------

def resolve_call(model: Union[str, Model], times: Any = None, doses: Any = (),
                 parameters: Optional[Mapping[str, float]] = None, weight: Optional[float] = None,
                 height: Optional[float] = None,
                 initial: Optional[Mapping[str, float]] = None, method: str = "auto",
                 rtol: float = 1e-8, atol: float = 1e-10, max_steps: int = 500_000,
                 max_step: float = 0.0, initial_step: float = 0.0,
                 sensitivities: Union[None, bool, str, Sequence[str]] = None, t_start: float = 0.0,
                 days: Optional[float] = None, policies: Any = None,
                 sensitivity_error_control: bool = True) -> Problem:
    """The arguments of :func:`crsim.simulate` (not a Scenario), checked and converted, as an engine
    problem."""
    m = as_model(model)
    t0 = as_finite(t_start, "t_start", "a finite time in h")
    overrides = _as_values(parameters, "parameters", "parameter unit")
    if m.parameter_set is not None:  # numbers from the model's cited parameter set
        overrides = {**m.parameter_values, **overrides}
    if weight is None:
        weight_kg = math.nan
    else:
        weight_kg = as_finite(weight, "weight", WEIGHT_ALLOWED, lower=0.0, strict=True)
        if weight_kg > MAX_WEIGHT_KG:
            raise input_error("weight", weight, WEIGHT_ALLOWED)
    if WEIGHT_PARAMETER in m.parameter_names:  # the model's own body-weight parameter is the patient's
        given = (parameters or {}).get(WEIGHT_PARAMETER)
        if weight is None:
            weight_kg = effective_weight(m, None, overrides)
        elif given is not None and given != weight_kg:
            raise input_error("weight", weight, f"the same body weight as parameters.{WEIGHT_PARAMETER} "
                              f"= {given} kg (give one of them)")
        overrides[WEIGHT_PARAMETER] = weight_kg
    if height is None:
        height_cm = math.nan
    else:
        height_cm = as_finite(height, "height", HEIGHT_ALLOWED)
        if not HEIGHT_RANGE_CM[0] <= height_cm <= HEIGHT_RANGE_CM[1]:
            raise input_error("height", height, HEIGHT_ALLOWED)
    dose_list = _as_doses(doses, m)

    # Policies: custom Strategy objects are expanded into the call (their scheduled doses join the
    # regimen); standard strategies stay as names and are expanded for the run only.
    entries = _as_policies(policies, m.name)
    call_entries: List[Any] = []
    for e in entries:
        if isinstance(e, Strategy):
            pols, reg = expand([e])
            call_entries.extend(pols)
            dose_list = dose_list + regimen_doses(reg, m, len(dose_list))
        else:
            call_entries.append(e)
    run_policies, run_regimen = expand(call_entries, m.name)
    run_doses = dose_list + regimen_doses(run_regimen, m, len(dose_list))
    core_doses = to_core_doses(run_doses, m, weight_kg, height_cm=height_cm)
    core_pols = core_policies(run_policies, m, weight_kg, height_cm=height_cm)

    if sensitivities is None or sensitivities is False:
        sens: List[str] = []
    elif sensitivities is True:
        sens = m.parameter_names
    else:
        sens = as_names(sensitivities, "sensitivities", "parameter names or 'init:<state>', or True")

    options = {
        "method": as_str(method, "method", "one of {auto, rosenbrock4, dopri5}"),
        "rtol": as_float(rtol, "rtol", "a relative tolerance in [1e-14, 1)"),
        "atol": as_float(atol, "atol", "a finite absolute tolerance > 0"),
        "max_steps": as_int(max_steps, "max_steps", "an integer step count > 0"),
        "max_step": as_float(max_step, "max_step", "a step in h >= 0 (0 = unlimited)"),
        "initial_step": as_float(initial_step, "initial_step", "a step in h >= 0 (0 = automatic)"),
        "sensitivity_error_control": as_bool(sensitivity_error_control, "sensitivity_error_control"),
    }
    if days is not None:
        days = as_finite(days, "days", "a number of days > 0", lower=0.0, strict=True)
    if times is None:
        grid = default_times(m, core_doses, weight_kg, t0, days)
    elif days is not None:
        raise input_error("days", days, "None when times are given (days= sets the default grid)")
    else:
        grid = _as_times(times)

    ivals = _as_values(initial, "initial", "state unit")
    _check_initial_values(ivals, m)
    core = dict(parameters=overrides, doses=core_doses, times=grid, weight_kg=weight_kg, t_start=t0,
                initial=ivals, options=options, sensitivities=sens, policies=core_pols,
                readouts=readout_watch(m))
    call = dict(model=m.name, parameter_set=m.parameter_set, doses=dose_list,
                parameters=_as_values(parameters, "parameters", "parameter unit"),
                weight=None if math.isnan(weight_kg) else weight_kg,
                height=None if math.isnan(height_cm) else height_cm, initial=ivals, options=options,
                sensitivities=sens, t_start=t0, policies=call_entries)
    return Problem(m, core, call, weight_kg, bool(entries))


def _as_doses(doses: Any, model: Model) -> List[Dose]:
    if doses is None:
        return []
    if isinstance(doses, pd.DataFrame):
        return doses_from_nonmem(doses, model, name="doses")
    if isinstance(doses, (Dose, Mapping)):
        return [as_dose(doses, 0)]
    if isinstance(doses, str) or not isinstance(doses, Iterable):
        raise input_error("doses", doses, "a list of crsim.Dose, a Dose, or a NONMEM-style "
                          "DataFrame (TIME, AMT, CMT, EVID, ...)")
    return [as_dose(d, i) for i, d in enumerate(doses)]


def _as_times(times: Any) -> np.ndarray:
    if isinstance(times, (str, bytes, Mapping)):
        raise input_error("times", times, "a 1-D array of output times in h")
    try:
        arr = np.asarray(times, dtype=float)
    except (TypeError, ValueError):
        raise input_error("times", times, "a 1-D array of numbers (output times in h)") from None
    if arr.ndim != 1:
        raise input_error("times", times, "a 1-D array of output times in h (use days= for a "
                          "default grid over a number of days)")
    return np.ascontiguousarray(arr)


def _as_values(values: Any, field: str, unit_word: str) -> Dict[str, float]:
    if values is None:
        return {}
    if isinstance(values, pd.Series):
        values = values.to_dict()
    if not isinstance(values, Mapping):
        raise input_error(field, values, f"a dict of name -> value ({unit_word})")
    return {as_str(k, f"{field} key", "a name (str)"): as_float(v, f"{field}.{k}", f"a number ({unit_word})")
            for k, v in values.items()}


def _check_initial_values(values: Mapping[str, float], model: Model) -> None:
    """Initial values are amounts, counts, concentrations or fractions: negative ones are refused
    (they gave negative states without a word). NaN and unknown names are the engine's to report."""
    for k, v in values.items():
        if v < 0:
            units = dict(zip(model.states["name"], model.states["unit"]))
            raise input_error(f"initial.{k}", v, f"a finite initial value >= 0 in "
                              f"{units.get(k) or 'the state unit'} (states are amounts, counts or "
                              "concentrations)")


def _as_policies(policies: Any, model: str) -> List[Any]:
    """Policy entries as given: Policy, Strategy, standard strategy names (of ``model``), dicts of
    Policy fields."""
    if policies is None:
        return []
    if isinstance(policies, (str, Policy, Strategy, Mapping)):
        policies = [policies]
    if not isinstance(policies, Iterable):
        raise input_error("policies", policies, "a list of crsim.Policy, crsim.Strategy or standard "
                          "strategy names (crsim.strategies())")
    out: List[Any] = []
    for i, e in enumerate(policies):
        if isinstance(e, str):
            strategy(e, model, field=f"policies[{i}]")
            out.append(e)
        elif isinstance(e, (Policy, Strategy)):
            out.append(e)
        elif isinstance(e, Mapping):
            try:
                out.append(Policy(**e))
            except TypeError as ex:
                raise input_error(f"policies[{i}]", dict(e), f"the fields of crsim.Policy ({ex})") from None
            except InputError as ex:
                single = len(getattr(ex, "problems", [])) == 1
                err = InputError((f"policies[{i}]." if single else f"policies[{i}]: ") + str(ex))
                err.field = f"policies[{i}]." + (getattr(ex, "field", "") or "")
                raise err from None
        else:
            raise input_error(f"policies[{i}]", e, "a crsim.Policy, a crsim.Strategy, a standard "
                              "strategy name or a dict of Policy fields")
    return out


# --- pieces of both paths ---------------------------------------------------------------------------


def regimen_doses(texts: Sequence[str], model: Model, offset: int) -> List[Dose]:
    """Doses of text regimen entries (a strategy's scheduled doses), targets resolved per model."""
    out: List[Dose] = []
    table = targets_for(model.name, model._info)
    for text in texts:  # a text's first dose is doses[offset + len(out)]
        out.extend(parse_regimen(text, targets=table, field=f"doses[{offset + len(out)}]",
                                 unit_targets=unit_targets(model._info)))
    return out


def unit_targets(info: Mapping[str, Any]) -> Dict[str, str]:
    """Dose unit -> the one state of a model (its metadata) taking doses in that unit (units taken
    by several states are left out): the receiving state of a text regimen naming no drug or route
    the model knows (e.g. CAR-T cells)."""
    by_unit: Dict[str, List[str]] = {}
    for s in info["states"]:
        if s["dose_unit"]:
            by_unit.setdefault(s["dose_unit"], []).append(s["name"])
    return {u: names[0] for u, names in by_unit.items() if len(names) == 1}


#: Where a height is given, by the name an error uses for it.
_HEIGHT_WHERE = {"height": "; give crsim.simulate(..., height=...) (in a scenario: patient.height_cm)"}


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


def to_core_doses(doses: List[Dose], model: Model, weight_kg: float, field: str = "doses",
                  height_cm: float = math.nan, body_fields: Sequence[str] = ("weight", "height")
                  ) -> List[Dict[str, Any]]:
    """The engine's dose dicts for ``doses``: checks units against the target state's dose unit,
    converts per-kg rates to absolute rates (needs ``weight_kg``; NaN when not given), per-m²
    amounts, rates and caps to absolute ones with the body surface area of ``height_cm`` and
    ``weight_kg`` (Mosteller; the engine knows only per-kg scaling), and types. Value ranges
    (negative amounts, NaN times, ...) are checked by the engine, which names ``doses[i].<field>``
    too. ``body_fields`` names the weight and the height as the user gives them (``weight`` and
    ``height`` of crsim.simulate, ``patient.weight_kg`` and ``patient.height_cm`` of a scenario)."""
    out = []
    weight_field, height_field = body_fields
    allowed_unit = "'{0}', '{0}/kg' or '{0}/m2'"
    for i, d in enumerate(doses):
        f = f"{field}[{i}]."
        dose_unit = _dose_unit(model, d, f)
        unit = as_str(d.unit, f + "unit", allowed_unit.format(dose_unit))
        basis = dose_basis(unit, dose_unit)
        if basis is None:
            raise input_error(f + "unit", unit,
                              allowed_unit.format(dose_unit) + f" (the dose unit of state "
                              f"'{d.target}' of model {model.name}, per kg of body weight or per m² "
                              "of body surface area)")
        per_kg = basis == "kg"
        if basis == "m2" and math.isnan(height_cm):
            raise input_error(height_field, None, HEIGHT_ALLOWED + ", needed with the body weight "
                              f"for the body surface area of the per-m² dose {field}[{i}] (unit "
                              f"'{unit}'){_HEIGHT_WHERE.get(height_field, '')}")
        if basis and not (math.isfinite(weight_kg) and weight_kg > 0):
            raise input_error(weight_field, None if math.isnan(weight_kg) else weight_kg,
                              f"a body weight > 0 kg, needed by the per-{'kg' if per_kg else 'm²'} "
                              f"dose {field}[{i}] (unit '{unit}')")
        # per-m² -> absolute: x the body surface area, m² (Mosteller)
        scale = body_surface_area(height_cm, weight_kg) if basis == "m2" else 1.0
        amount = as_float(d.amount, f + "amount", f"an amount in {unit}")
        if basis == "m2":  # checked as written, before scaling
            amount = as_finite(amount, f + "amount", f"a finite amount >= 0 {unit}", lower=0.0) * scale
        core: Dict[str, Any] = {
            "target": d.target,
            "time": as_float(d.time, f + "time", "a time in h"),
            "amount": amount,
            "per_kg": per_kg,
            "additional": as_int(d.additional, f + "additional", "an integer number of repeats >= 0"),
            "lag": as_float(d.lag, f + "lag", "a lag time in h"),
            "bioavailability": as_float(d.bioavailability, f + "bioavailability", "a fraction"),
        }
        if d.rate is not None:
            rate = as_float(d.rate, f + "rate", f"an infusion rate in {unit}/h, or None")
            if basis == "m2":
                rate = as_finite(rate, f + "rate", f"a finite infusion rate >= 0 {unit}/h", lower=0.0)
            core["rate"] = rate * weight_kg if per_kg else rate * scale
        if d.duration is not None:
            core["duration"] = as_float(d.duration, f + "duration", "an infusion duration in h, or None")
        if d.interval is not None:
            core["interval"] = as_float(d.interval, f + "interval", "an interval in h, or None")
        if d.cap is not None:
            core["cap"] = as_finite(d.cap, f + "cap", f"a cap > 0 {dose_unit} (None for no cap)",
                                    lower=0.0, strict=True)
        _check_administered(core, f, unit, dose_unit, weight_kg if per_kg else 1.0)
        out.append(core)
    return out


def _check_administered(core: Dict[str, Any], f: str, unit: str, dose_unit: str,
                        factor: float) -> None:
    """Refuses an administration whose amount reaching the state (amount x weight or body surface
    area, capped, x bioavailability) or infusion rate x bioavailability exceeds MAX_ADMINISTERED:
    such doses overflowed the states, and the solver failed with "step size underflow" instead
    of naming the input. NaN and negative values are left to the engine, which names them."""
    amount, fa = core["amount"], core["bioavailability"]
    if not (math.isfinite(amount) and math.isfinite(fa) and amount >= 0 and fa >= 0):
        return
    given = amount * factor
    total = min(given, core["cap"]) * fa if "cap" in core else given * fa
    if total > MAX_ADMINISTERED:
        key, value = ("bioavailability", fa) if fa > 1 and total / fa <= MAX_ADMINISTERED \
            else ("amount", amount)
        raise input_error(f + key, value, f"an administered amount (amount in {unit} x body weight "
                          f"or surface area, capped, x bioavailability) <= {MAX_ADMINISTERED:g} "
                          f"{dose_unit}; here {total:.3g} {dose_unit}")
    rate = core.get("rate")
    if rate is not None and math.isfinite(rate) and rate * fa > MAX_ADMINISTERED:
        key, value = ("bioavailability", fa) if fa > 1 and rate <= MAX_ADMINISTERED \
            else ("rate", rate / factor)
        raise input_error(f + key, value, f"an infusion rate x bioavailability <= "
                          f"{MAX_ADMINISTERED:g} {dose_unit}/h; here {rate * fa:.3g} {dose_unit}/h")


def _norm_unit(u: str) -> str:
    return (u.replace(" ", "").replace("°", "deg").replace("µ", "u").replace("μ", "u").lower()
            .replace("degc", "degc"))


def _resolve_give(pol: Policy, i: int, model: Model) -> List[Dose]:
    doses: List[Dose] = []
    table = targets_for(model.name, model._info)
    for k, g in enumerate(pol.give):
        if isinstance(g, Dose):
            doses.append(g)
            continue
        parse_regimen(g, target="?", field=f"policies[{i}].give[{k}]")  # the syntax
        try:
            doses.extend(parse_regimen(g, targets=table, unit_targets=unit_targets(model._info)))
        except InputError:
            err = InputError(f"policies[{i}].give[{k}] = {g!r} is not allowed: a regimen whose receiving "
                             f"state can be told for model {model.name}: name the drug or route "
                             f"({', '.join(sorted(table))}), or give a Dose with a target")
            err.field = f"policies[{i}].give[{k}]"
            raise err from None
    return doses


def core_policies(policies: Sequence[Policy], model: Model, weight_kg: float, first: int = 0,
                  height_cm: float = math.nan, body_fields: Sequence[str] = ("weight", "height")
                  ) -> List[Dict[str, Any]]:
    """The engine's policy dicts for ``policies`` on ``model``: the condition's variable resolved
    (aliases, observable or state), its unit checked, the actions converted like doses. Errors name
    ``policies[i].<field>``."""
    out = []
    obs = dict(zip(model.observable_names, model.observable_units))
    states = dict(zip(model.state_names, model.state_units))
    for i, pol in enumerate(policies, start=first):
        c = pol.condition
        var = resolve_variable(model.name, c.variable)
        if var not in obs and var not in states:
            known = list(obs) + [s for s in states if s not in obs]
            err = InputError(f"policies[{i}].when = {pol.when!r} is not allowed: the variable "
                             f"'{c.variable}' is not an observable or state of model {model.name}"
                             f"{suggest(c.variable, known)}; one of {{{', '.join(known)}}}")
            err.field = f"policies[{i}].when"
            raise err
        unit = obs.get(var, states.get(var, ""))
        if c.unit is not None and _norm_unit(c.unit) != _norm_unit(unit):
            err = InputError(f"policies[{i}].when = {pol.when!r} is not allowed: the threshold's unit "
                             f"'{c.unit}' is not the unit of {var} ('{unit}'); write the threshold in "
                             f"{unit or 'the variable unit'}")
            err.field = f"policies[{i}].when"
            raise err
        doses = _resolve_give(pol, i, model)
        action = to_core_doses(doses, model, weight_kg, field=f"policies[{i}].give",
                               height_cm=height_cm, body_fields=body_fields)
        end = pol.window_h[1]
        out.append({
            "name": pol.name,
            "variable": var,
            "comparison": c.comparison,
            "threshold": c.threshold,
            "sustained": pol.sustained_h,
            "window": c.window_h,
            "action": action,
            "delay": pol.delay_h,
            "max_firings": math.inf if pol.max_doses is None else pol.max_doses,
            "min_interval": pol.min_interval_h,
            "max_per_period": math.inf if pol.max_per_24h is None else pol.max_per_24h,
            "period": 24.0,
            "window_start": pol.window_h[0],
            "window_end": math.inf if end is None else end,
            "time_tolerance": pol.tolerance_h,
        })
    return out


def _merged(grid: np.ndarray, extra: np.ndarray, t_end: float) -> np.ndarray:
    """The sorted union of an even grid, event times and the end, without points closer to their
    predecessor than 1e-9 of the run's span (at least 1e-9 h) or a few rounding units of the time
    itself: round-off twins of event times. Relative to the span, not to the absolute time, so that
    a run starting at 1e9 h keeps its hourly rows."""
    pts = np.concatenate([grid, extra, [t_end]])
    pts.sort()
    tol = max(1e-9 * max(1.0, t_end - pts[0]), 8 * float(np.spacing(abs(t_end))))
    keep = np.empty(len(pts), dtype=bool)
    keep[0] = True
    np.greater(np.diff(pts), tol, out=keep[1:])
    return pts[keep]


def default_times(model: Model, core_doses: List[Dict[str, Any]], weight_kg: float,
                  t_start: float, days: Optional[float]) -> np.ndarray:
    """The default output grid (h): from t_start to t_start + 24 days (when ``days`` is given) or
    to 24 h after the last administration ends (at least 24 h), evenly spaced with a round step
    (at most about 2000 intervals), plus every administration time and infusion end so that
    end-of-infusion and post-bolus values are on the grid."""
    events = _core.expand_doses(model.name, core_doses, weight_kg, t_start)
    if days is not None:
        t_end = t_start + days * HOURS_PER_DAY
    else:
        last = max([t_start, *events["time"], *events["end"]])
        t_end = last + DEFAULT_HORIZON_H
    span = t_end - t_start
    step = next((s for s in _NICE_STEPS_H if span / s <= MAX_DEFAULT_POINTS),
                span / MAX_DEFAULT_POINTS)
    grid = t_start + step * np.arange(0, int(math.floor(span / step + 1e-9)) + 1)
    ev = np.concatenate([events["time"], events["end"]])
    extra = ev[(ev >= t_start) & (ev <= t_end)]
    return _merged(grid, extra, t_end)


def output_grid(s: Any, model: Model, core_doses: List[Dict[str, Any]],
                weight_kg: float) -> np.ndarray:
    """The output times (h) of a scenario: explicit times, an even step grid (plus administration
    times and infusion ends) or the default grid of crsim.simulate."""
    t0 = s.t_start_h
    if s.outputs.times_h is not None:
        return np.asarray(s.outputs.times_h, dtype=float)
    horizon = s.horizon
    if s.outputs.step_h is None:
        return default_times(model, core_doses, weight_kg, t0,
                             None if horizon is None else horizon / HOURS_PER_DAY)
    events = _core.expand_doses(model.name, core_doses, weight_kg, t0)
    if horizon is None:
        horizon = max([t0, *events["time"], *events["end"]]) - t0 + DEFAULT_TAIL_H
    t_end = t0 + horizon
    step = s.outputs.step_h
    n = int(math.floor(horizon / step + 1e-9))
    if n + 1 > MAX_OUTPUT_TIMES:
        raise input_error("outputs.step_h", step, f"a step giving at most {MAX_OUTPUT_TIMES} output "
                          f"times over the run of {horizon:g} h")
    grid = t0 + step * np.arange(0, n + 1)
    ev = np.concatenate([events["time"], events["end"]])
    extra = ev[(ev >= t0) & (ev <= t_end)]
    return _merged(grid, extra, t_end)
