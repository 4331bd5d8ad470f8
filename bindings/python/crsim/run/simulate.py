"""Running one simulation: :func:`simulate` (keyword arguments or a Scenario) and the engine call
shared by scans and populations (:func:`run_problem`, :func:`to_result`)."""
from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from crsim import _core
from crsim.base.errors import input_error
from crsim.model.model import Model
from crsim.results.result import Result
from crsim.scenario.resolve import Problem, resolve_call, resolve_scenario
from crsim.scenario.scenario import Scenario

__all__ = ["simulate", "run_scenario", "run_problem", "to_result"]


def to_result(problem: Problem, raw: Any) -> Result:
    """The Result of the engine's output for ``problem``: a bound ``_core.Trajectory``, or the dict
    of one run of ``_core.simulate_batch``."""
    w = problem.weight_kg
    res = Result(problem.model, raw, weight=None if math.isnan(w) else w,
                 t_start=problem.core["t_start"], solver=problem.core["options"])
    res._policies_used = problem.has_policies
    res._call = dict(problem.call, times=res.times)
    return res


def run_problem(problem: Problem) -> Result:
    """Simulates one resolved problem: converted for the engine once (a bound ``_core.Problem``),
    integrated with the GIL released, its output kept in C++ and seen through numpy views."""
    c = problem.core
    bound = _core.Problem(problem.model.name, c["parameters"], c["doses"], c["times"], c["weight_kg"],
                          c["t_start"], c["initial"], c["options"], c["sensitivities"],
                          c["policies"], c.get("readouts"))
    return to_result(problem, bound.simulate())


def run_scenario(s: Scenario) -> Result:
    """Simulates a scenario; the Result keeps it (``result.scenario``)."""
    result = run_problem(resolve_scenario(s))
    result.scenario = s
    return result


_DEFAULTS = dict(times=None, doses=(), parameters=None, weight=None, height=None, initial=None,
                 method="auto", rtol=1e-8, atol=1e-10, max_steps=500_000, max_step=0.0,
                 initial_step=0.0, sensitivities=None, t_start=0.0, days=None, policies=None,
                 sensitivity_error_control=True)


def simulate(model: Union[str, Model, Scenario], times: Any = None, doses: Any = (),
             parameters: Optional[Mapping[str, float]] = None, weight: Optional[float] = None,
             height: Optional[float] = None,
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
        height: body height, cm (in [20, 280]); with ``weight``, the body surface area of per-m²
            doses such as ``unit="mg/m2"`` (Mosteller: sqrt(height x weight / 3600) m²).
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
    given = dict(times=times, doses=doses, parameters=parameters, weight=weight, height=height,
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
    return run_problem(resolve_call(model, **given))


def _same(value: Any, default: Any) -> bool:
    if value is default:
        return True
    try:
        return bool(value == default) and type(value) is type(default)
    except (TypeError, ValueError):
        return False
