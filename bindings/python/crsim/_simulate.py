"""crsim.simulate: one model, one patient, a dosing regimen -> Result."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import pandas as pd

from . import _core
from ._convert import as_bool, as_finite, as_float, as_int, as_names, as_str
from ._dosing import HOURS_PER_DAY, Dose, as_dose, to_core_doses
from ._errors import InputError, input_error
from ._model import Model, as_model
from ._nonmem import doses_from_nonmem
from ._result import Result

__all__ = ["simulate", "default_times", "prepare", "Prepared"]

DEFAULT_HORIZON_H = 24.0   # default run length after the last administration ends, h
MAX_DEFAULT_POINTS = 2000  # the default grid has at most about this many intervals
WEIGHT_PARAMETER = "body_weight"  # a model parameter of this name (kg) is the patient's weight
_NICE_STEPS_H = (0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 12.0, 24.0)


def _as_doses(doses: Any, model: Model) -> List[Dose]:
    if doses is None:
        return []
    if isinstance(doses, pd.DataFrame):
        return doses_from_nonmem(doses, model)
    if isinstance(doses, (Dose, Mapping)):
        return [as_dose(doses, 0)]
    if isinstance(doses, str) or not isinstance(doses, Iterable):
        raise input_error("doses", doses, "a list of crsim.Dose, a Dose, or a NONMEM-style "
                          "DataFrame (TIME, AMT, CMT, EVID, ...)")
    return [as_dose(d, i) for i, d in enumerate(doses)]


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
    extra = [t for t in np.concatenate([events["time"], events["end"]]) if t_start <= t <= t_end]
    grid = np.unique(np.concatenate([grid, extra, [t_end]]))
    # Drop grid points closer than 1e-9 h to their predecessor (round-off twins of event times).
    keep = np.concatenate([[True], np.diff(grid) > 1e-9 * max(1.0, abs(t_end))])
    return grid[keep]


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


_DEFAULTS = dict(times=None, doses=(), parameters=None, weight=None, initial=None,
                 method="auto", rtol=1e-8, atol=1e-10, max_steps=500_000, max_step=0.0,
                 initial_step=0.0, sensitivities=None, t_start=0.0, days=None, policies=None,
                 sensitivity_error_control=True)


def _as_policies(policies: Any, model: str) -> List[Any]:
    """Policy entries as given: Policy, Strategy, standard strategy names (of ``model``), dicts of
    Policy fields."""
    from ._policy import Policy
    from ._strategies import Strategy, strategy

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
            try:
                strategy(e, model)
            except InputError as ex:
                raise input_error(f"policies[{i}]", e, str(ex).split(" is not allowed: ", 1)[-1]) from None
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


class Prepared:
    """One run converted for the engine: ``core`` holds the arguments of ``_core.simulate`` (and
    of one entry of ``_core.simulate_batch``); :meth:`result` turns the engine's output into a
    :class:`Result`."""

    def __init__(self, model: Model, core: Dict[str, Any], call: Dict[str, Any], weight_kg: float,
                 has_policies: bool):
        self.model = model
        self.core = core
        self.call = call
        self.weight_kg = weight_kg
        self.has_policies = has_policies

    def result(self, raw: Dict[str, Any]) -> Result:
        res = Result(self.model, raw, weight=None if math.isnan(self.weight_kg) else self.weight_kg,
                     t_start=self.core["t_start"], solver=self.core["options"])
        res._policies_used = self.has_policies
        res._call = dict(self.call, times=raw["times"])
        return res


def prepare(model: Union[str, Model], times: Any = None, doses: Any = (),
            parameters: Optional[Mapping[str, float]] = None, weight: Optional[float] = None,
            initial: Optional[Mapping[str, float]] = None, method: str = "auto",
            rtol: float = 1e-8, atol: float = 1e-10, max_steps: int = 500_000,
            max_step: float = 0.0, initial_step: float = 0.0,
            sensitivities: Union[None, bool, str, Sequence[str]] = None, t_start: float = 0.0,
            days: Optional[float] = None, policies: Any = None,
            sensitivity_error_control: bool = True) -> Prepared:
    """Checks and converts the arguments of :func:`simulate` (not a Scenario) for the engine."""
    from ._policy import core_policies
    from ._strategies import Strategy, expand

    m = as_model(model)
    t0 = as_finite(t_start, "t_start", "a finite time in h")
    overrides = _as_values(parameters, "parameters", "parameter unit")
    if m.parameter_set is not None:  # numbers from the model's cited parameter set
        overrides = {**m.parameter_values, **overrides}
    if weight is None:
        weight_kg = math.nan
    else:
        weight_kg = as_finite(weight, "weight", "a body weight > 0 kg", lower=0.0, strict=True)
    if WEIGHT_PARAMETER in m.parameter_names:  # the model's own body-weight parameter is the patient's
        given = (parameters or {}).get(WEIGHT_PARAMETER)
        if weight is None:
            weight_kg = overrides.get(WEIGHT_PARAMETER, m.parameter_values[WEIGHT_PARAMETER])
        elif given is not None and given != weight_kg:
            raise input_error("weight", weight, f"the same body weight as parameters.{WEIGHT_PARAMETER} "
                              f"= {given} kg (give one of them)")
        overrides[WEIGHT_PARAMETER] = weight_kg
    dose_list = _as_doses(doses, m)

    # Policies: custom Strategy objects are expanded into the call (their scheduled doses join the
    # regimen); standard strategies stay as names and are expanded for the run only.
    entries = _as_policies(policies, m.name)
    call_entries: List[Any] = []
    for e in entries:
        if isinstance(e, Strategy):
            pols, reg = expand([e])
            call_entries.extend(pols)
            dose_list = dose_list + _regimen_doses(reg, m, len(dose_list))
        else:
            call_entries.append(e)
    run_policies, run_regimen = expand(call_entries, m.name)
    run_doses = dose_list + _regimen_doses(run_regimen, m, len(dose_list))
    core_doses = to_core_doses(run_doses, m, weight_kg)
    core_pols = core_policies(run_policies, m, weight_kg)

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
    core = dict(parameters=overrides, doses=core_doses, times=grid, weight_kg=weight_kg, t_start=t0,
                initial=ivals, options=options, sensitivities=sens, policies=core_pols)
    call = dict(model=m.name, parameter_set=m.parameter_set, doses=dose_list,
                parameters=_as_values(parameters, "parameters", "parameter unit"),
                weight=None if math.isnan(weight_kg) else weight_kg, initial=ivals, options=options,
                sensitivities=sens, t_start=t0, policies=call_entries)
    return Prepared(m, core, call, weight_kg, bool(entries))


def _regimen_doses(texts: Sequence[str], model: Model, offset: int) -> List[Dose]:
    """Doses of text regimen entries (a strategy's scheduled doses), targets resolved per model."""
    from ._interventions import targets_for
    from ._regimen import parse_regimen

    out: List[Dose] = []
    table = targets_for(model.name, model._info)
    for k, text in enumerate(texts):
        try:
            out.extend(parse_regimen(text, targets=table))
        except InputError as ex:
            raise input_error(f"doses[{offset + k}]", text, str(ex).split(" is not allowed: ", 1)[-1]) from None
    return out


def simulate(model: Union[str, Model, "Scenario"], times: Any = None, doses: Any = (),
             parameters: Optional[Mapping[str, float]] = None, weight: Optional[float] = None,
             initial: Optional[Mapping[str, float]] = None, method: str = "auto",
             rtol: float = 1e-8, atol: float = 1e-10, max_steps: int = 500_000,
             max_step: float = 0.0, initial_step: float = 0.0,
             sensitivities: Union[None, bool, str, Sequence[str]] = None, t_start: float = 0.0,
             days: Optional[float] = None, policies: Any = None,
             sensitivity_error_control: bool = True) -> Result:
    """Simulates one model for one patient, or one :class:`crsim.Scenario`.

    Args:
        model: model name (see :func:`crsim.models`), :class:`crsim.Model`, or a
            :class:`crsim.Scenario` (then no other argument: the scenario holds them all).
        times: output times, h: 1-D, finite, strictly increasing, >= t_start. Default: see
            :func:`default_times` (until ``days`` days after t_start when ``days`` is given,
            otherwise until 24 h after the last administration).
        doses: a list of :class:`crsim.Dose` (or dicts of Dose fields), one Dose, or a NONMEM-style
            DataFrame (see :func:`crsim.doses_from_nonmem`).
        parameters: overrides of the defaults, name -> value in the parameter's unit.
        weight: body weight, kg (needed by per-kg doses such as ``unit="mg/kg"``).
        initial: overrides of the initial state, state name -> value in the state's unit.
        method: ``"auto"`` (default: dopri5, handing over to rosenbrock4 while the problem is
            stiff; ``result.stats`` reports the switches), ``"rosenbrock4"`` (stiff) or
            ``"dopri5"`` (non-stiff).
        rtol, atol: relative tolerance in [1e-14, 1) and absolute tolerance (state units) > 0.
        max_steps: largest number of accepted steps over the run (SolverError beyond).
        max_step, initial_step: step bounds in h (0 = unlimited / automatic).
        sensitivities: parameter names (or ``"init:<state>"``) whose forward sensitivities are
            computed along; True for all parameters.
        sensitivity_error_control: whether the sensitivities take part in the step-size control
            (default). False: the steps are chosen for the states alone and the sensitivities are
            integrated along by the same method without their own error estimate: fewer steps
            (about half on the CRS model), the choice of :func:`crsim.fit`.
        t_start: time at which the initial state holds, h.
        days: length of the default output grid in days (not together with ``times``).
        policies: triggered interventions: :class:`crsim.Policy` objects (e.g. tocilizumab when
            ``"grade >= 2"``), :class:`crsim.Strategy` objects or names of standard strategies
            (:func:`crsim.strategies`; their scheduled doses join ``doses``). Each firing is in
            ``result.firings``.

    Returns:
        A :class:`crsim.Result` (``result.scenario`` is the scenario run, or the one equivalent
        to this call). Outputs at a dose time are post-dose.

    Raises:
        InputError (a ValueError) naming the field, the value and what is allowed;
        SolverError (a RuntimeError) naming the time reached when integration fails.
    """
    from ._scenario import Scenario, run_scenario

    given = dict(times=times, doses=doses, parameters=parameters, weight=weight,
                 initial=initial, method=method, rtol=rtol, atol=atol, max_steps=max_steps,
                 max_step=max_step, initial_step=initial_step, sensitivities=sensitivities,
                 t_start=t_start, days=days, policies=policies,
                 sensitivity_error_control=sensitivity_error_control)
    if isinstance(model, Scenario):
        extra = [k for k, v in given.items() if not _same(v, _DEFAULTS[k])]
        if extra:
            raise input_error(extra[0], given[extra[0]], "not given with a Scenario: set it in the "
                              "scenario (e.g. scenario.replace(...))")
        return run_scenario(model)
    prep = prepare(model, **given)
    c = prep.core
    raw = _core.simulate(prep.model.name, c["parameters"], c["doses"], c["times"], c["weight_kg"],
                         c["t_start"], c["initial"], c["options"], c["sensitivities"], c["policies"])
    return prep.result(raw)


def _same(value: Any, default: Any) -> bool:
    if value is default:
        return True
    try:
        return bool(value == default) and type(value) is type(default)
    except (TypeError, ValueError):
        return False
