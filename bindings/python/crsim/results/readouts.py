"""Readouts: simple ones of observables on the output grid (maximum, time of maximum, AUC, last
value), and the extra readouts a scan reports (:func:`extra_readouts`)."""
from __future__ import annotations

import math
from typing import Any, Dict, Tuple

import numpy as np

from crsim.model.extension import extension

_trapezoid = getattr(np, "trapezoid", None) or getattr(np, "trapz")


def summarize(times: np.ndarray, values: np.ndarray, unit: str) -> Dict[str, object]:
    """Readouts of one observable sampled at ``times`` (h).

    Computed from the output grid only, without interpolation or extrapolation: ``max`` and
    ``t_max_h`` are the largest sampled value and its time (a peak between grid points is missed
    by up to the grid spacing), ``auc`` is the trapezoidal integral from the first to the last output
    time (exact for piecewise-linear courses, error O(dt^2) otherwise). Without output rows every
    number is NaN.
    """
    if len(times) == 0 or len(values) == 0:
        return {"unit": unit, "max": math.nan, "t_max_h": math.nan, "min": math.nan,
                "last": math.nan, "t_first_h": math.nan, "t_last_h": math.nan, "auc": math.nan,
                "auc_unit": f"h*{unit}"}
    k = int(np.argmax(values))
    return {
        "unit": unit,
        "max": float(values[k]),
        "t_max_h": float(times[k]),
        "min": float(np.min(values)),
        "last": float(values[-1]),
        "t_first_h": float(times[0]),
        "t_last_h": float(times[-1]),
        "auc": float(_trapezoid(values, times)) if len(times) > 1 else 0.0,
        "auc_unit": f"h*{unit}",
    }


def value_at(times: np.ndarray, values: np.ndarray, t: float) -> float:
    """The value at time ``t`` (h) by linear interpolation on the output grid; NaN outside it."""
    if len(times) == 0 or t < times[0] - 1e-9 or t > times[-1] + 1e-9:
        return math.nan
    return float(np.interp(t, times, values))


def dose_counts(result: Any) -> Tuple[Dict[str, float], Dict[str, str]]:
    """``<drug>_doses``: the administrations (scheduled and triggered) of each drug of the model's
    extension (its ``drug_states``)."""
    states = list(result._doses["state"])
    values = {f"{drug}_doses": float(sum(1 for s in states if s in targets))
              for drug, targets in extension(result.model.name).drug_states.items()}
    return values, {k: "" for k in values}


def extra_readouts(result: Any) -> Tuple[Dict[str, float], Dict[str, str]]:
    """Readouts beyond ``result.readouts`` for scans: per drug of the model's extension the number of
    administrations, the extension's extra readouts, and ``policy_firings`` (every model)."""
    ext = extension(result.model.name)
    values, units = dose_counts(result)
    if ext.extra_readouts is not None:
        v, u = ext.extra_readouts(result)
        values.update(v)
        units.update(u)
    values["policy_firings"] = float(len(result._firings["policy"])) if result._firings else 0.0
    units["policy_firings"] = ""
    return values, units
