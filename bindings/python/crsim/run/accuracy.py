"""An estimate of a result's global error: :func:`check_accuracy` runs the result's scenario again
at tolerances ``factor`` times tighter (same method) and compares states and readouts.

The engine controls the local error of each step (rtol, atol); the error of a state after many steps
can be larger, most where small differences are amplified (an exponential expansion, a threshold
crossed a little earlier). docs/reliability.md, "Accuracy at the default tolerances", has the figures
measured over parameter vectors within the bounds. The estimate costs one more run, at tighter
tolerances, and is only taken when asked for.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, List

import numpy as np
import pandas as pd

from crsim.base.errors import SolverError, input_error
from crsim.results.result import Result
from crsim.run.simulate import run_scenario

__all__ = ["AccuracyWarning", "check_accuracy"]


class AccuracyWarning(RuntimeWarning):
    """A result whose estimated global error exceeds what :func:`check_accuracy` allows."""


def _positive(value: Any, field: str, allowed: str, low: float = 0.0) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise input_error(field, value, allowed) from None
    if not (math.isfinite(v) and v > low):
        raise input_error(field, value, allowed)
    return v


def check_accuracy(result: Result, factor: float = 100.0, limit: float = 100.0,
                   readout_rtol: float = 0.1, action: str = "warn") -> pd.DataFrame:
    """Estimates the global error of ``result`` from a rerun of its scenario with rtol and atol
    divided by ``factor`` (same method, same output times) and says loudly when it is too large.

    Args:
        result: a :class:`crsim.Result` with a scenario (any result of :func:`crsim.simulate`).
        factor: how much tighter the rerun is (> 1; rtol is kept >= 1e-14).
        limit: largest error allowed for a state, in units of its tolerance: the state's largest
            difference over the output times, divided by atol + rtol x its largest |value|.
        readout_rtol: largest relative difference allowed for a numeric readout (plus atol in
            absolute terms); a readout found in one run only (NaN in the other) always exceeds
            it. Peaks, minima and times of a maximum are read at the solver's steps (docs/model.md,
            "Where the readouts are read"), so they follow the step sizes rather than the
            tolerance: over 400 CRS parameter vectors within the bounds at the default tolerances,
            cart_tmax_h moved by up to 7.8 %, iec_hs_onset_h by 1.8 %, il6_peak by 0.06 % (and
            mcp1_peak_36h by 2.8 % before the end of its 36-h window was watched). The default,
            10 %, flags none of those; a changed grade (1 of 1-4) or a CRS found in one run only
            is always flagged.
        action: ``"warn"`` (an :class:`AccuracyWarning`), ``"raise"`` (a
            :class:`crsim.SolverError`) or ``"none"`` when something exceeds its limit.

    Returns:
        A DataFrame, one row per state and numeric readout (``kind`` ``"state"`` or
        ``"readout"``), with ``value`` (the result's largest |value| for a state, the readout),
        ``tighter`` (the same from the rerun), ``difference`` (largest absolute difference),
        ``error`` (states: tolerance units; readouts: relative), ``allowed`` and ``ok``; sorted by
        ``error / allowed``, worst first.

    Raises:
        InputError for bad arguments; SolverError when ``action="raise"`` and a state or readout
        exceeds its limit, or when the rerun fails (it names the rerun's tolerances).
    """
    if not isinstance(result, Result):
        raise input_error("result", type(result).__name__, "a crsim.Result")
    factor = _positive(factor, "factor", "a finite factor > 1", 1.0)
    limit = _positive(limit, "limit", "a finite error limit > 0 (tolerance units)")
    readout_rtol = _positive(readout_rtol, "readout_rtol", "a finite relative tolerance > 0")
    if action not in ("warn", "raise", "none"):
        raise input_error("action", action, "one of {'warn', 'raise', 'none'}")
    sc = result.scenario
    if sc is None:
        raise input_error("result", "a result without a scenario",
                          "a result whose scenario crsim can read (it is rerun)")
    rtol, atol = sc.solver.rtol, sc.solver.atol
    tight = dataclasses.replace(sc.solver, rtol=max(rtol / factor, 1e-14), atol=atol / factor)
    try:
        ref = run_scenario(sc.replace(solver=tight))
    except SolverError as e:
        raise SolverError(f"check_accuracy: the rerun at rtol = {tight.rtol:g}, atol = "
                          f"{tight.atol:g} failed, so no error estimate: {e}") from e

    rows: List[dict] = []
    x = np.asarray(result.states, dtype=float)
    xr = np.asarray(ref.states, dtype=float)
    if x.shape != xr.shape:  # the same scenario has the same output times
        raise SolverError(f"check_accuracy: the rerun has {xr.shape[0]} output rows, the result "
                          f"{x.shape[0]}")
    names = list(result.state_names)
    if len(x):
        diff = np.max(np.abs(x - xr), axis=0)
        scale = np.max(np.abs(xr), axis=0)
        err = diff / (atol + rtol * scale)
        for j, n in enumerate(names):
            rows.append(dict(name=n, kind="state", value=float(np.max(np.abs(x[:, j]))),
                             tighter=float(scale[j]), difference=float(diff[j]),
                             error=float(err[j]), allowed=limit))
    ro, rr = result.readouts, ref.readouts
    for k, a in ro.items():
        b = rr.get(k)
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            continue
        a, b = float(a), float(b)
        if math.isnan(a) and math.isnan(b):
            d = e = 0.0
        elif math.isnan(a) or math.isnan(b):  # found in one run only (an onset, a crossing)
            d = e = math.inf
        else:
            d = abs(a - b)
            e = d / (abs(b) + atol / readout_rtol)
        rows.append(dict(name=k, kind="readout", value=a, tighter=b, difference=d, error=e,
                         allowed=readout_rtol))
    table = pd.DataFrame(rows, columns=["name", "kind", "value", "tighter", "difference", "error",
                                        "allowed"])
    table["ok"] = table["error"] <= table["allowed"]
    table = table.iloc[np.argsort(-(table["error"] / table["allowed"]).to_numpy(), kind="stable")]
    table = table.reset_index(drop=True)
    bad = table[~table["ok"]]
    if len(bad) and action != "none":
        shown = ", ".join(
            f"state '{r.name}' differs by up to {r.difference:.3g} ({r.error:.3g} x its tolerance)"
            if r.kind == "state" else
            f"readout '{r.name}' {r.value:.6g} vs {r.tighter:.6g} (relative {r.error:.2g})"
            for r in bad.head(5).itertuples())
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        msg = (f"estimated global error above the limit (limit = {limit:g} x the tolerance for "
               f"states, readout_rtol = {readout_rtol:g} for readouts) at rtol = {rtol:g}, atol = "
               f"{atol:g} against a rerun at rtol = {tight.rtol:g}, atol = {tight.atol:g}: "
               f"{shown}{more}; tighten rtol/atol (solver.rtol, solver.atol) or check the inputs "
               "behind a fast amplification")
        if action == "raise":
            raise SolverError(msg)
        warnings.warn(msg, AccuracyWarning, stacklevel=2)
    return table
