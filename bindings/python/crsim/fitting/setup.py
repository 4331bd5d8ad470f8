"""Checking the arguments of crsim.fit and putting them in one place (the fit's set-up)."""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import pandas as pd

from crsim import _core
from crsim.base.convert import as_finite, as_int, as_names
from crsim.fitting.data import data_cell, prepare_data
from crsim.spec.dosing import as_dose
from crsim.fitting.errormodels import as_error_models
from crsim.base.errors import input_error
from crsim.base.problems import suggest
from crsim.model.model import WEIGHT_PARAMETER, Model, as_model
from crsim.scenario.scenario import Scenario
from crsim.scenario.nonmem import _cells, doses_from_nonmem
from crsim.fitting.optimize import METHODS

__all__ = ["setup_fit", "FitSetup", "FIT_SOLVER", "GRADIENTS"]

#: Engine settings of a fit unless ``solver=`` (or a Scenario's solver) says otherwise: looser than
#: crsim.simulate's 1e-8 because every evaluation integrates the sensitivities too, and the step
#: sizes follow the states alone (sensitivity_error_control False): half the steps on the CRS model,
#: and an objective whose step sequence does not change with the sensitivities' error, on which
#: the line search converges (bench/README.md).
FIT_SOLVER = {"method": "rosenbrock4", "rtol": 1e-6, "atol": 1e-9, "max_steps": 500_000,
              "max_step": 0.0, "initial_step": 0.0, "sensitivity_error_control": False}
GRADIENTS = ("sensitivities", "fd")


@dataclass(frozen=True)
class FitSetup:
    """A fit's arguments, checked and resolved once (:func:`setup_fit`), as the fitting code uses
    them: the model and data, the estimated parameters with their scales and bounds (natural
    units), the base parameter values, error models, doses and body weights per subject, solver
    options, and the optimiser's settings."""

    model: Model
    data: Any                       # FitData
    estimate: List[str]
    logs: Dict[str, bool]           # estimated on the log scale, by parameter
    base: Dict[str, float]          # parameter values before estimation
    error_models: Dict[str, Any]    # observable -> ErrorModel
    bounds: Dict[str, Tuple[float, float]]
    doses: Dict[Any, List[Any]]     # subject -> Doses
    weights: Dict[Any, Optional[float]]
    options: Dict[str, Any]         # solver options of the engine
    t_start: float
    initial: Dict[str, float]
    starts: int
    method: str
    gradient: str
    information: str
    level: float
    seed: Optional[int]
    workers: int
    max_iterations: int


def _resolve_model(model: Any):
    if isinstance(model, Scenario):
        if model.policies:
            raise input_error("model", f"a Scenario with {len(model.policies)} triggered policies",
                              "a Scenario without policies (fitting through triggered doses is not "
                              "supported: give the doses the patient received)", raw=True)
        m = Model(model.model, model.parameter_set)
        sv = model.solver
        return m, dict(model.parameters), list(model.doses), model.patient.weight_kg, \
            dict(model.initial), float(model.t_start_h), dict(method=sv.method, rtol=sv.rtol,
                                                               atol=sv.atol, max_steps=sv.max_steps,
                                                               max_step=sv.max_step,
                                                               initial_step=sv.initial_step)
    return as_model(model), {}, None, None, {}, 0.0, None


def _names_arg(value: Any, field: str) -> List[str]:
    names = as_names(value, field, "parameter names")
    seen = set()
    for i, n in enumerate(names):
        if n in seen:
            raise input_error(f"{field}[{i}]", n, "each name once")
        seen.add(n)
    return names


def _solver_options(solver: Any, scenario_solver: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    opts = dict(FIT_SOLVER)
    if solver is None:
        if scenario_solver:
            opts.update(scenario_solver)
        return opts
    if hasattr(solver, "rtol") and hasattr(solver, "method"):  # crsim.Solver
        solver = {k: getattr(solver, k) for k in FIT_SOLVER if hasattr(solver, k)}
    if not isinstance(solver, Mapping):
        raise input_error("solver", solver, "a dict with keys among {" + ", ".join(FIT_SOLVER) + "}")
    for k, v in solver.items():
        if k not in FIT_SOLVER:
            raise input_error(f"solver.{k}", v, "keys among {" + ", ".join(FIT_SOLVER) + "}")
        opts[k] = v
    return opts


def _doses_from_table(table: pd.DataFrame, model: Model, ids: List[Any]) -> Dict[Any, list]:
    """Doses per subject from a NONMEM-style event table (see crsim.doses_from_nonmem); with an ID
    column each subject takes its rows, without one every subject takes them all."""
    idcol = next((c for c in table.columns if isinstance(c, str) and c.strip().lower() == "id"), None)
    if idcol is None:
        doses = doses_from_nonmem(table, model, name="doses")
        return {i: list(doses) for i in ids}
    unknown = [v.item() if hasattr(v, "item") else v for v in pd.unique(table[idcol]) if v not in ids]
    if unknown:
        raise input_error(f"doses column {idcol!r}", unknown[0], "an id of the data, one of " + repr(ids[:10]))
    cell = _cells(table, "doses")  # rows named by their position in the whole table
    return {i: doses_from_nonmem(table[table[idcol] == i], model, name="doses", _cell=cell)
            if (table[idcol] == i).any() else [] for i in ids}


def _per_subject(value: Any, ids: List[Any], field: str) -> Dict[Any, Any]:
    if isinstance(value, Mapping):
        for k in value:
            if k not in ids:
                raise input_error(f"{field}[{k!r}]", value[k], "an id of the data, one of " + repr(ids[:10]))
        return dict(value)
    return {i: value for i in ids}


def setup_fit(model, data, estimate, error_model, bounds, log_scale, fixed, doses, weight, start,
           starts, method, gradient, by, pooled, solver, information, level, seed, workers,
           max_iterations) -> "FitSetup":
    m, sc_params, sc_doses, sc_weight, sc_initial, t_start, sc_solver = _resolve_model(model)
    pnames = m.parameter_names
    base = {**m.parameter_values, **sc_params}
    # fixed
    fixed = dict(fixed or {})
    if not isinstance(fixed, Mapping):
        raise input_error("fixed", fixed, "a dict parameter name -> value")
    for k, v in fixed.items():
        if k not in pnames:
            raise input_error(f"fixed[{k!r}]", v, f"a parameter of model {m.name}")
        base[k] = as_finite(v, f"fixed[{k!r}]", "a finite value in the parameter's unit")
    # estimate
    est = _names_arg(estimate, "estimate")
    if not est:
        raise input_error("estimate", estimate, "at least one parameter name")
    for i, n in enumerate(est):
        if n not in pnames:
            raise input_error(f"estimate[{i}]", n, f"a parameter of model {m.name}"
                              + suggest(n, pnames) + " (error-model parameters are set with "
                              "crsim.ErrorModel(..., estimate=...))")
        if n in fixed:
            raise input_error(f"estimate[{i}]", n, f"a parameter that is not fixed (fixed[{n!r}] = "
                              f"{fixed[n]!r}): remove it from estimate or from fixed")
        if n == WEIGHT_PARAMETER:
            raise input_error(f"estimate[{i}]", n, "a model parameter other than the patient's body "
                              "weight (give it with weight= or a weight column)")
    # options
    for field, value, allowed in (("method", method, METHODS), ("gradient", gradient, GRADIENTS)):
        if value not in allowed:
            raise input_error(field, value, "one of {" + ", ".join(allowed) + "}")
    if information not in ("expected", "observed"):
        raise input_error("information", information, "'expected' or 'observed'")
    level = as_finite(level, "level", "a confidence level in (0, 1)", lower=0.0, strict=True)
    if level >= 1:
        raise input_error("level", level, "a confidence level in (0, 1)")
    starts = as_int(starts, "starts", "a number of starting points >= 1")
    if starts < 1:
        raise input_error("starts", starts, "a number of starting points >= 1")
    max_iterations = as_int(max_iterations, "max_iterations", "an iteration limit >= 1")
    if max_iterations < 1:
        raise input_error("max_iterations", max_iterations, "an iteration limit >= 1")
    seed = as_int(seed, "seed", "an integer seed")
    if workers is None:
        workers = os.cpu_count() or 1
    workers = as_int(workers, "workers", "a thread count >= 1")
    if workers < 1:
        raise input_error("workers", workers, "a thread count >= 1")
    options = _solver_options(solver, sc_solver)
    # data
    fd = prepare_data(data, m)
    ids = fd.ids
    if by is not None and by != "id":
        raise input_error("by", by, "'id' (fit every subject on its own) or None")
    if by is not None and pooled:
        raise input_error("pooled", pooled, "False when by='id' (choose one)")
    if by is None and not pooled and len(ids) > 1:
        raise input_error("data['id']", f"{len(ids)} subjects", "one subject, or by='id' (fit each "
                          "subject on its own) or pooled=True (one parameter set for all)", raw=True)
    # doses and weights per subject
    sources = [s for s, v in (("dose records in the data", fd.has_dose_records),
                              ("doses=", doses is not None), ("the Scenario's regimen", bool(sc_doses)))
               if v]
    if len(sources) > 1:
        raise input_error("doses", doses, "one source of doses; given: " + " and ".join(sources))
    if isinstance(doses, pd.DataFrame):
        dose_map = _doses_from_table(doses, m, ids)
    elif doses is not None:
        per = _per_subject(doses, ids, "doses")
        dose_map = {}
        for i in ids:
            d = per.get(i, [])
            d = [d] if not isinstance(d, (list, tuple)) else d
            dose_map[i] = [as_dose(x, k) for k, x in enumerate(d)]
    elif fd.has_dose_records:
        dose_map = {i: fd.doses.get(i, []) for i in ids}
    else:
        dose_map = {i: list(sc_doses or []) for i in ids}
    if weight is not None and fd.weights:
        raise input_error("weight", weight, "None when the data have a weight column (one source)")
    wmap = _per_subject(weight, ids, "weight") if weight is not None else dict(fd.weights)
    if sc_weight is not None:
        for i in ids:
            wmap.setdefault(i, sc_weight)
    # error models
    obs_names = list(dict.fromkeys(fd.table["observable"]))
    ems = as_error_models(error_model, obs_names)
    tab = fd.table
    for o in obs_names:
        rows = tab[tab["observable"] == o]
        if ems[o].kind == "lognormal":
            bad = rows[(~rows["censored"] & (rows["value"] <= 0)) | (rows["censored"] & (rows["limit"] <= 0))]
            if len(bad):
                r = bad.iloc[0]
                raise input_error(data_cell(r["row"], "value"), r["value_data"], f"a value > 0 "
                                  f"for the log-normal error model of {o} (values at or below the "
                                  "quantification limit: mark them censored with an lloq > 0)")
        if ems[o].kind == "proportional":
            bad = rows[~rows["censored"] & (rows["value"] < 0)]
            if len(bad):
                r = bad.iloc[0]
                raise input_error(data_cell(r["row"], "value"), r["value_data"], f"a value >= 0 "
                                  f"for the proportional error model of {o} (y = f (1 + b e) has "
                                  "the sign of f; a negative measurement needs an additive or "
                                  "combined error model, or censored = 1 with an lloq)")
        y_unc = rows.loc[~rows["censored"], "value"].to_numpy()
        ems[o] = ems[o].with_starts(y_unc if len(y_unc) else rows["limit"].to_numpy())
    # scales, starts, bounds
    if isinstance(log_scale, bool):
        logs = {n: log_scale for n in est}
    elif isinstance(log_scale, Mapping):
        for k in log_scale:
            if k not in est:
                raise input_error(f"log_scale[{k!r}]", log_scale[k], "an estimated parameter {" +
                                  ", ".join(est) + "}")
        logs = {n: bool(log_scale.get(n, True)) for n in est}
    else:
        names = _names_arg(log_scale, "log_scale")
        for i, k in enumerate(names):
            if k not in est:
                raise input_error(f"log_scale[{i}]", k, "an estimated parameter {" + ", ".join(est) + "}")
        logs = {n: n in names for n in est}
    start = dict(start or {})
    for k, v in start.items():
        if k not in est:
            raise input_error(f"start[{k!r}]", v, "an estimated model parameter {" + ", ".join(est) +
                              "} (error-model starts: crsim.ErrorModel values)")
        base[k] = as_finite(v, f"start[{k!r}]", "a finite starting value")
    info = {p["name"]: p for p in _core.model_info(m.name)["parameters"]}
    err_names = [f"{o}.{k}" for o, em in ems.items() for k in em.estimate]
    bounds = dict(bounds or {})
    if not isinstance(bounds, Mapping):
        raise input_error("bounds", bounds, "a dict name -> (lower, upper)")
    for k in bounds:
        if k not in est and k not in err_names:
            raise input_error(f"bounds[{k!r}]", bounds[k], "bounds of an estimated parameter {" +
                              ", ".join(est + err_names) + "}")
    nat_bounds: Dict[str, Tuple[float, float]] = {}
    for n in est + err_names:
        lo, hi = (info[n]["lower"], info[n]["upper"]) if n in info else (0.0, math.inf)
        if n in bounds:
            b = bounds[n]
            if not (isinstance(b, (tuple, list)) and len(b) == 2):
                raise input_error(f"bounds[{n!r}]", b, "a pair (lower, upper)")
            lo = -math.inf if b[0] is None else float(b[0])
            hi = math.inf if b[1] is None else float(b[1])
            if not lo < hi:
                raise input_error(f"bounds[{n!r}]", b, "lower < upper")
        nat_bounds[n] = (lo, hi)
    for n in est:
        v, (lo, hi) = base[n], nat_bounds[n]
        field = f"start[{n!r}]" if n in start else f"estimate ({n} = {v:g})"
        if logs[n] and not v > 0:
            raise input_error(field, v, f"a starting value > 0 for {n} on the log scale (give "
                              "start= or log_scale=False)")
        if not lo <= v <= hi:
            raise input_error(field, v, f"a starting value within the bounds [{lo:g}, {hi:g}] of {n}")
    return FitSetup(model=m, data=fd, estimate=est, logs=logs, base=base, error_models=ems,
                    bounds=nat_bounds, doses=dose_map, weights=wmap, options=options,
                    t_start=t_start, initial=sc_initial, starts=starts, method=method,
                    gradient=gradient, information=information, level=level, seed=seed,
                    workers=workers, max_iterations=max_iterations)
