"""crsim.fit: maximum-likelihood estimation of model parameters from observed data."""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from crsim.base import progress as _progress
from crsim.base.convert import as_finite
from crsim.fitting.data import FitData, data_cell
from crsim.scenario.resolve import to_core_doses
from crsim.spec.dosing import MAX_WEIGHT_KG, WEIGHT_ALLOWED
from crsim.base.errors import InputError, input_error
from crsim.fitting.fitset import FitSet
from crsim.fitting.result import FitResult
from crsim.fitting.setup import FIT_SOLVER, FitSetup, setup_fit
from crsim.model.model import WEIGHT_PARAMETER, Model
from crsim.fitting.objective import Objective, Subject
from crsim.fitting.optimize import least_squares_applies, multistart

__all__ = ["fit", "FIT_SOLVER"]



def fit(model: Any, data: Any, estimate: Union[str, Sequence[str]],
        error_model: Any = "proportional", bounds: Optional[Mapping[str, Tuple[float, float]]] = None,
        log_scale: Union[bool, Sequence[str], Mapping[str, bool]] = True,
        fixed: Optional[Mapping[str, float]] = None, doses: Any = None, weight: Any = None,
        start: Optional[Mapping[str, float]] = None, starts: int = 1, method: str = "L-BFGS-B",
        gradient: str = "sensitivities", by: Optional[str] = None, pooled: bool = False,
        solver: Optional[Mapping[str, Any]] = None, information: str = "expected",
        level: float = 0.95, seed: int = 0, workers: Optional[int] = None,
        max_iterations: int = 500, progress: Optional[bool] = None):
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
        doses: list of :class:`crsim.Dose` for every subject, id -> list, or a NONMEM-style event
            table (:func:`crsim.doses_from_nonmem`; with an ID column, per subject). Default: the
            data's dose records, else the Scenario's regimen.
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
        solver: engine settings (method, rtol, atol, max_steps, max_step, initial_step,
            sensitivity_error_control); default rosenbrock4 with rtol 1e-6, atol 1e-9, and the
            sensitivities integrated along the states' own steps (sensitivity_error_control False).
        information: ``"expected"`` (default; Fisher information from the sensitivities) or
            ``"observed"`` (Hessian of the log likelihood by differences of the exact gradient)
            for the standard errors.
        level: confidence level of the intervals.
        max_iterations: per start.
        progress: a progress bar of the starts (``starts`` > 1) or of the subjects (``by``) on
            stderr (None: only in a terminal; True: always, e.g. in a notebook).

    Returns:
        A :class:`crsim.FitResult` (one fit) or a :class:`crsim.FitSet` (``by="id"``).

    Raises:
        InputError naming the argument or the data cell, the value and what is allowed.
    """
    t_wall = time.perf_counter()
    setup = setup_fit(model, data, estimate, error_model, bounds, log_scale, fixed, doses, weight,
                   start, starts, method, gradient, by, pooled, solver, information, level, seed,
                   workers, max_iterations)
    if by is not None:
        return _fit_each(setup, t_wall, progress)
    return run_fit(setup, setup.data.ids, setup.workers, progress)


# --- one fit ------------------------------------------------------------------------------------------

def _fit_each(setup: FitSetup, t_wall: float, progress: Optional[bool] = None) -> FitSet:
    """One fit per subject (``by``), in parallel over ``setup.workers``."""
    ids = setup.data.ids
    tasks = [(lambda i=i: run_fit(setup, [i], 1)) for i in ids]
    with _progress.bar(len(tasks), "fit by subject", progress, unit="subject") as bar:
        out = run_parallel(tasks, setup.workers, bar.update)
    for r in out:  # bad input is the caller's to fix: raised, not filed as a failed subject
        if isinstance(r, InputError):
            raise r
    fits = {i: r for i, r in zip(ids, out) if isinstance(r, FitResult)}
    errors = {i: r for i, r in zip(ids, out) if not isinstance(r, FitResult)}
    return FitSet(fits, errors, ids, time.perf_counter() - t_wall)


def build_objective(setup: FitSetup, ids: List[Any]) -> Tuple[Objective, FitData]:
    """The objective over the subjects ``ids`` (their observations in data order)."""
    m: Model = setup.model
    fd: FitData = setup.data.subset(ids) if len(ids) != len(setup.data.ids) else setup.data
    tab = fd.table
    outs = m.observable_names + m.state_names
    col_of = {}
    for i, n in enumerate(outs):
        col_of.setdefault(n, i)
    subjects = []
    for sid in ids:
        rows = np.flatnonzero((tab["id"] == sid).to_numpy())
        t = tab["time_h"].to_numpy()[rows]
        if (t < setup.t_start).any():
            bad = tab.iloc[rows[np.argmax(t < setup.t_start)]]
            raise input_error(data_cell(bad["row"], "time"), float(bad["time_h"]),
                              f"a time >= t_start = {setup.t_start:g} h")
        times = np.unique(t)
        w = setup.weights.get(sid)
        params = {}
        if WEIGHT_PARAMETER in m.parameter_names:
            if w is None:
                w = setup.base[WEIGHT_PARAMETER]
            params[WEIGHT_PARAMETER] = float(w)
        wk = math.nan if w is None else as_finite(w, f"weight[{sid!r}]", WEIGHT_ALLOWED,
                                                   lower=0.0, strict=True)
        if wk > MAX_WEIGHT_KG:
            raise input_error(f"weight[{sid!r}]", wk, WEIGHT_ALLOWED)
        core = to_core_doses(setup.doses[sid], m, wk)
        subjects.append(Subject(id=sid, times=times, core_doses=core, weight_kg=wk, rows=rows,
                                t_index=np.searchsorted(times, t),
                                col=np.array([col_of[o] for o in tab["observable"].to_numpy()[rows]]),
                                params=params))
    est = setup.estimate
    obj = Objective(m, subjects, tab["value"].to_numpy(dtype=float), tab["censored"].to_numpy(dtype=bool),
                    tab["limit"].to_numpy(dtype=float), tab["observable"].to_numpy(dtype=object),
                    setup.base, est, [setup.logs[n] for n in est], setup.error_models,
                    setup.options, setup.t_start, setup.initial, bounds=setup.bounds)
    return obj, fd


def run_fit(setup: FitSetup, ids: List[Any], workers: int, progress: Optional[bool] = False) -> FitResult:
    t0 = time.perf_counter()
    obj, fd = build_objective(setup, ids)
    if setup.method == "least_squares":
        why = least_squares_applies(obj)
        if why:
            raise input_error("method", "least_squares", "L-BFGS-B (or another minimize method): "
                              f"-2LL is not a sum of squares here: {why}")
    errs = {o: dict(em.values) for o, em in obj.error_models.items()}
    theta0 = obj.theta_of(setup.base, errs)
    lower = np.array([_scaled(setup.bounds[n][0], _is_log(obj, j)) for j, n in enumerate(obj.names)])
    upper = np.array([_scaled(setup.bounds[n][1], _is_log(obj, j)) for j, n in enumerate(obj.names)])
    # One plain simulation first: bad doses, weights or solver settings fail here with their message.
    obj.predict(obj.natural(theta0)[0], False)
    run = multistart(obj, theta0, lower, upper, setup.starts, setup.seed, setup.method,
                     setup.gradient, workers, setup.max_iterations, progress)
    return FitResult(obj, run, fd.table, lower, upper, theta0, information=setup.information,
                     level=setup.level, gradient=setup.gradient, method=setup.method,
                     doses={i: setup.doses[i] for i in ids}, seconds=time.perf_counter() - t0,
                     settings=setup)


def _is_log(obj: Objective, j: int) -> bool:
    return obj.log_scale[j] if j < obj.n_model else True


def _scaled(v: float, log: bool) -> float:
    if not log:
        return v
    if v <= 0:
        return -math.inf
    return math.log(v) if math.isfinite(v) else math.inf


def run_parallel(tasks, workers: int, done: Optional[Callable[[int], Any]] = None):
    """Runs callables in threads, returning (result or exception) in order; ``done(1)`` after
    each."""
    def guarded(fn):
        try:
            return fn()
        except Exception as ex:  # reported per subject by the caller
            return ex
        finally:
            if done is not None:
                done(1)
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
    setup = setup_fit(model, data, estimate, **args)
    obj, _ = build_objective(setup, setup.data.ids)
    errs = {o: dict(em.values) for o, em in obj.error_models.items()}
    return obj, obj.theta_of(setup.base, errs)
