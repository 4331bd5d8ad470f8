"""crsim.fit: maximum-likelihood estimation of model parameters from observed data."""
from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._convert import as_finite, as_int, as_names
from ._data import FitData, data_cell, prepare_data
from ._dosing import as_dose, to_core_doses
from ._errormodels import ErrorModel, as_error_models
from ._errors import input_error
from ._fitresult import FitResult
from ._model import Model, as_model
from ._objective import Objective, Subject
from ._optimize import METHODS, least_squares_applies, multistart

__all__ = ["fit", "FIT_SOLVER"]

#: Engine settings of a fit unless ``solver=`` (or a Scenario's solver) says otherwise: looser than
#: crsim.simulate's 1e-8 because every evaluation integrates the sensitivities too.
FIT_SOLVER = {"method": "rosenbrock4", "rtol": 1e-6, "atol": 1e-9, "max_steps": 500_000,
              "max_step": 0.0, "initial_step": 0.0}
WEIGHT_PARAMETER = "body_weight"
GRADIENTS = ("sensitivities", "fd")


def fit(model: Any, data: Any, estimate: Union[str, Sequence[str]],
        error_model: Any = "proportional", bounds: Optional[Mapping[str, Tuple[float, float]]] = None,
        log_scale: Union[bool, Sequence[str], Mapping[str, bool]] = True,
        fixed: Optional[Mapping[str, float]] = None, doses: Any = None, weight: Any = None,
        start: Optional[Mapping[str, float]] = None, starts: int = 1, method: str = "L-BFGS-B",
        gradient: str = "sensitivities", by: Optional[str] = None, pooled: bool = False,
        solver: Optional[Mapping[str, Any]] = None, information: str = "expected",
        level: float = 0.95, seed: int = 0, workers: Optional[int] = None,
        max_iterations: int = 500):
    """Fits model parameters to observed data by maximum likelihood.

    Args:
        model: model name, :class:`crsim.Model` or :class:`crsim.Scenario` (its model, parameter
            set, parameters, patient weight, regimen, initial values, t_start and solver are used).
        data: long DataFrame or CSV path (see :func:`crsim.read_data`: id, time_h / time_d /
            time + time_unit, observable, value, unit, optional lloq, censored, dose records, weight).
        estimate: names of the model parameters to estimate.
        error_model: ``"proportional"`` (default), ``"additive"``, ``"combined"``, ``"lognormal"``,
            a :class:`crsim.ErrorModel` (values, which to estimate), or a dict observable -> one of
            those. Each observable has its own error parameters, named ``<observable>.<a|b|sigma>``.
        bounds: name -> (lower, upper) in the parameter's unit (error parameters by their names);
            default the model's admissible range.
        log_scale: estimate on the log scale: True (all; default), False, names, or name -> bool.
            Error parameters are always on the log scale.
        fixed: name -> value: parameters held at values other than the defaults (not estimated).
        start: name -> starting value of estimated model parameters (default their current value).
        doses: list of :class:`crsim.Dose` for every subject, or id -> list. Default: the data's
            dose records, else the Scenario's regimen.
        weight: body weight in kg (one number, or id -> kg); default the data's weight column.
        starts: number of starting points: the given start and a Latin hypercube of starts - 1
            points (seeded by ``seed``) over the bounds or a box around the start (see
            docs/fitting.md), optimised in parallel threads (``workers``, default the CPU count).
        method: ``"L-BFGS-B"`` (default), ``"TNC"``, ``"SLSQP"``, ``"trust-constr"`` or
            ``"least_squares"`` (only when -2LL is a sum of squares: additive or log-normal error
            with fixed parameters and no censoring).
        gradient: ``"sensitivities"`` (default: forward sensitivities from the engine) or ``"fd"``
            (central finite differences of the objective; for benchmarks and checks).
        by: ``"id"`` fits every subject on its own (in parallel threads) and returns a
            :class:`crsim.FitSet`; ``pooled=True`` fits all subjects' data with one parameter set.
            With several subjects one of them is required.
        solver: engine settings (method, rtol, atol, max_steps, max_step, initial_step); default
            rosenbrock4 with rtol 1e-6, atol 1e-9.
        information: ``"expected"`` (default; Fisher information from the sensitivities) or
            ``"observed"`` (Hessian of the log likelihood by differences of the exact gradient)
            for the standard errors.
        level: confidence level of the intervals.
        max_iterations: per start.

    Returns:
        A :class:`crsim.FitResult` (one fit) or a :class:`crsim.FitSet` (``by="id"``).

    Raises:
        InputError naming the argument or the data cell, the value and what is allowed.
    """
    t_wall = time.perf_counter()
    setup = _setup(model, data, estimate, error_model, bounds, log_scale, fixed, doses, weight,
                   start, starts, method, gradient, by, pooled, solver, information, level, seed,
                   workers, max_iterations)
    if by is not None:
        from ._fitset import FitSet

        return FitSet.run(setup, t_wall)
    return run_fit(setup, setup["data"].ids, setup["workers"])


# --- argument checking ----------------------------------------------------------------------------

def _resolve_model(model: Any):
    from ._scenario import Scenario

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
        solver = {k: getattr(solver, k) for k in FIT_SOLVER}
    if not isinstance(solver, Mapping):
        raise input_error("solver", solver, "a dict with keys among {" + ", ".join(FIT_SOLVER) + "}")
    for k, v in solver.items():
        if k not in FIT_SOLVER:
            raise input_error(f"solver.{k}", v, "keys among {" + ", ".join(FIT_SOLVER) + "}")
        opts[k] = v
    return opts


def _per_subject(value: Any, ids: List[Any], field: str) -> Dict[Any, Any]:
    if isinstance(value, Mapping):
        for k in value:
            if k not in ids:
                raise input_error(f"{field}[{k!r}]", value[k], "an id of the data, one of " + repr(ids[:10]))
        return dict(value)
    return {i: value for i in ids}


def _setup(model, data, estimate, error_model, bounds, log_scale, fixed, doses, weight, start,
           starts, method, gradient, by, pooled, solver, information, level, seed, workers,
           max_iterations) -> Dict[str, Any]:
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
            from ._validate import suggest

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
    if doses is not None:
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
    return dict(model=m, data=fd, estimate=est, logs=logs, base=base, error_models=ems,
                bounds=nat_bounds, doses=dose_map, weights=wmap, options=options, t_start=t_start,
                initial=sc_initial, starts=starts, method=method, gradient=gradient,
                information=information, level=level, seed=seed, workers=workers,
                max_iterations=max_iterations)


# --- one fit ------------------------------------------------------------------------------------------

def build_objective(setup: Dict[str, Any], ids: List[Any]) -> Tuple[Objective, FitData]:
    """The objective over the subjects ``ids`` (their observations in data order)."""
    m: Model = setup["model"]
    fd: FitData = setup["data"].subset(ids) if len(ids) != len(setup["data"].ids) else setup["data"]
    tab = fd.table
    outs = m.observable_names + m.state_names
    col_of = {}
    for i, n in enumerate(outs):
        col_of.setdefault(n, i)
    subjects = []
    for sid in ids:
        rows = np.flatnonzero((tab["id"] == sid).to_numpy())
        t = tab["time_h"].to_numpy()[rows]
        if (t < setup["t_start"]).any():
            bad = tab.iloc[rows[np.argmax(t < setup["t_start"])]]
            raise input_error(data_cell(bad["row"], "time"), float(bad["time_h"]),
                              f"a time >= t_start = {setup['t_start']:g} h")
        times = np.unique(t)
        w = setup["weights"].get(sid)
        params = {}
        if WEIGHT_PARAMETER in m.parameter_names:
            if w is None:
                w = setup["base"][WEIGHT_PARAMETER]
            params[WEIGHT_PARAMETER] = float(w)
        wk = math.nan if w is None else as_finite(w, f"weight[{sid!r}]", "a body weight > 0 kg",
                                                   lower=0.0, strict=True)
        core = to_core_doses(setup["doses"][sid], m, wk)
        subjects.append(Subject(id=sid, times=times, core_doses=core, weight_kg=wk, rows=rows,
                                t_index=np.searchsorted(times, t),
                                col=np.array([col_of[o] for o in tab["observable"].to_numpy()[rows]]),
                                params=params))
    est = setup["estimate"]
    obj = Objective(m, subjects, tab["value"].to_numpy(dtype=float), tab["censored"].to_numpy(dtype=bool),
                    tab["limit"].to_numpy(dtype=float), tab["observable"].to_numpy(dtype=object),
                    setup["base"], est, [setup["logs"][n] for n in est], setup["error_models"],
                    setup["options"], setup["t_start"], setup["initial"])
    return obj, fd


def run_fit(setup: Dict[str, Any], ids: List[Any], workers: int) -> FitResult:
    t0 = time.perf_counter()
    obj, fd = build_objective(setup, ids)
    if setup["method"] == "least_squares":
        why = least_squares_applies(obj)
        if why:
            raise input_error("method", "least_squares", "L-BFGS-B (or another minimize method): "
                              f"-2LL is not a sum of squares here: {why}")
    errs = {o: dict(em.values) for o, em in obj.error_models.items()}
    theta0 = obj.theta_of(setup["base"], errs)
    lower = np.array([_scaled(setup["bounds"][n][0], _is_log(obj, j)) for j, n in enumerate(obj.names)])
    upper = np.array([_scaled(setup["bounds"][n][1], _is_log(obj, j)) for j, n in enumerate(obj.names)])
    # One plain simulation first: bad doses, weights or solver settings fail here with their message.
    obj.predict(obj.natural(theta0)[0], False)
    run = multistart(obj, theta0, lower, upper, setup["starts"], setup["seed"], setup["method"],
                     setup["gradient"], workers, setup["max_iterations"])
    return FitResult(obj, run, fd.table, lower, upper, theta0, information=setup["information"],
                     level=setup["level"], gradient=setup["gradient"], method=setup["method"],
                     doses={i: setup["doses"][i] for i in ids}, seconds=time.perf_counter() - t0,
                     settings=setup)


def _is_log(obj: Objective, j: int) -> bool:
    return obj.log_scale[j] if j < obj.n_model else True


def _scaled(v: float, log: bool) -> float:
    if not log:
        return v
    if v <= 0:
        return -math.inf
    return math.log(v) if math.isfinite(v) else math.inf


def run_parallel(tasks, workers: int):
    """Runs callables in threads, returning (result or exception) in order."""
    def guarded(fn):
        try:
            return fn()
        except Exception as ex:  # reported per subject by the caller
            return ex
    if workers > 1 and len(tasks) > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
            return list(pool.map(guarded, tasks))
    return [guarded(t) for t in tasks]


def make_objective(model: Any, data: Any, estimate: Union[str, Sequence[str]], **kwargs: Any
                   ) -> Tuple[Objective, np.ndarray]:
    """The objective of ``crsim.fit(model, data, estimate, **kwargs)`` (one subject or
    ``pooled=True``) and its starting point θ0, without optimising: for checks of the likelihood
    and its gradient (``objective.value(θ)``, ``objective.value_and_gradient(θ)``)."""
    args = dict(error_model="proportional", bounds=None, log_scale=True, fixed=None, doses=None,
                weight=None, start=None, starts=1, method="L-BFGS-B", gradient="sensitivities",
                by=None, pooled=False, solver=None, information="expected", level=0.95, seed=0,
                workers=1, max_iterations=500)
    for k, v in kwargs.items():
        if k not in args:
            raise input_error(k, v, "an argument of crsim.fit")
        args[k] = v
    setup = _setup(model, data, estimate, **args)
    obj, _ = build_objective(setup, setup["data"].ids)
    errs = {o: dict(em.values) for o, em in obj.error_models.items()}
    return obj, obj.theta_of(setup["base"], errs)
