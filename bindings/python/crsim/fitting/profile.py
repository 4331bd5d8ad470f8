"""Profile likelihood intervals: one parameter held at values around its estimate, the others
re-optimised; the interval is where -2LL stays within the chi-square(1) quantile of its minimum."""
from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pandas as pd

from crsim.base.errors import input_error
from crsim.fitting.diagnostics import IdentifiabilityWarning
from crsim.fitting.optimize import minimize
from crsim.results.plot import readable_log_axis

__all__ = ["Profile", "profile"]


class Profile:
    """The profile of one parameter.

    Attributes:
        parameter, level, threshold (the chi-square(1) quantile: -2LL rise bounding the interval).
        table: DataFrame value (parameter unit), theta (estimation scale), m2ll, delta (m2ll minus
            the fit's), converged; sorted by value.
        lower, upper: the profile likelihood interval (NaN on a side where the profile stays below
            the threshold up to the bound or the search limit: the data do not bound it there).
        estimate, wald_lower, wald_upper: the fit's estimate and Wald interval, for comparison.
    """

    def __init__(self, parameter: str, level: float, threshold: float, table: pd.DataFrame,
                 lower: float, upper: float, estimate: float, wald: Tuple[float, float], unit: str):
        self.parameter, self.level, self.threshold = parameter, level, threshold
        self.table = table
        self.lower, self.upper = lower, upper
        self.estimate = estimate
        self.wald_lower, self.wald_upper = wald
        self.unit = unit

    @property
    def interval(self) -> Tuple[float, float]:
        return self.lower, self.upper

    def plot(self, ax: Any = None):
        """Δ(-2LL) against the parameter with the threshold and both intervals."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(5, 3.5))
        fig = ax.figure
        t = self.table
        ax.plot(t["value"], t["delta"], "o-", ms=3, label="profile")
        ax.axhline(self.threshold, color="C3", ls="--", lw=1,
                   label=f"χ²₁ {int(round(self.level * 100))} % ({self.threshold:.2f})")
        for v in (self.lower, self.upper):
            if np.isfinite(v):
                ax.axvline(v, color="C0", lw=1)
        for v in (self.wald_lower, self.wald_upper):
            if np.isfinite(v):
                ax.axvline(v, color="0.5", ls=":", lw=1)
        ax.axvline(self.estimate, color="k", lw=0.8)
        if (t["value"] > 0).all() and t["value"].max() / t["value"].min() > 5:
            ax.set_xscale("log")
            readable_log_axis(ax.xaxis)
        ax.set_xlabel(f"{self.parameter} ({self.unit})" if self.unit else self.parameter)
        ax.set_ylabel("Δ(−2 log L)")
        ax.legend(fontsize="small")
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        return (f"<crsim.Profile {self.parameter}: estimate {self.estimate:.4g}, "
                f"{int(round(self.level * 100))} % profile interval [{self.lower:.4g}, {self.upper:.4g}], "
                f"Wald [{self.wald_lower:.4g}, {self.wald_upper:.4g}], {len(self.table)} points>")


def profile(fit, parameter: str, level: float = 0.95, step: Optional[float] = None,
            max_steps: int = 20, workers: int = 2, xtol: float = 0.05) -> Profile:
    """Profile likelihood of ``parameter`` (an estimated model or error parameter).

    Walks away from the estimate on the estimation scale in steps of ``step`` (default 0.75 × the
    Wald SE there, or 0.1 when the SE is unknown) until -2LL has risen by the chi-square(1)
    ``level`` quantile or ``max_steps`` steps or a bound are reached; the crossing is then located
    by Brent's method to ``xtol`` × step on the estimation scale. Every point re-optimises the
    other parameters (L-BFGS-B, warm started). Both directions run in parallel threads."""
    from scipy.optimize import brentq
    from scipy.stats import chi2

    obj = fit._obj
    if parameter not in fit.names:
        raise input_error("parameter", parameter, "an estimated parameter {" + ", ".join(fit.names) + "}")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise input_error("level", level, "a confidence level in (0, 1)")
    j = fit.names.index(parameter)
    thr = float(chi2.ppf(level, 1))
    th_hat = fit.theta.copy()
    se = float(fit.estimates["se_theta"].iloc[j])
    if step is None:
        step = 0.75 * se if np.isfinite(se) and se > 0 else 0.1 * max(1.0, abs(th_hat[j]))
    lower, upper = fit._lower, fit._upper
    ref = fit.m2ll
    gradient = fit.gradient

    def at(v: float, warm: np.ndarray) -> Tuple[float, np.ndarray, bool]:
        lo, hi = lower.copy(), upper.copy()
        lo[j] = hi[j] = v
        x0 = warm.copy()
        x0[j] = v
        if len(th_hat) == 1:
            val = obj.value(x0)
            return val, x0, math.isfinite(val)
        r = minimize(obj, x0, lo, hi, "L-BFGS-B", gradient, fit._settings.max_iterations)
        return r["m2ll"], r["theta"], r["converged"]

    def walk(direction: int) -> Tuple[List[Dict[str, Any]], float]:
        pts: List[Dict[str, Any]] = []
        warm, prev_v, prev_m = th_hat.copy(), th_hat[j], ref
        bound = upper[j] if direction > 0 else lower[j]
        for k in range(1, max_steps + 1):
            v = th_hat[j] + direction * k * step
            last = False
            if (direction > 0 and v >= bound) or (direction < 0 and v <= bound):
                v, last = bound, True
                if not np.isfinite(v):
                    break
            m2ll, theta, ok = at(v, warm)
            pts.append(dict(theta=v, m2ll=m2ll, converged=ok))
            if m2ll - ref >= thr and math.isfinite(m2ll):
                cache = {prev_v: warm}

                def g(x):
                    near = min(cache, key=lambda c: abs(c - x))
                    val, th, ok2 = at(x, cache[near])
                    cache[x] = th
                    pts.append(dict(theta=x, m2ll=val, converged=ok2))
                    return val - ref - thr
                try:
                    cross = brentq(g, prev_v, v, xtol=xtol * step, maxiter=12) if prev_m - ref < thr else prev_v
                except ValueError:
                    cross = v
                return pts, cross
            warm, prev_v, prev_m = theta, v, m2ll
            if last:
                break
        return pts, math.nan

    with ThreadPoolExecutor(max_workers=max(1, min(2, workers))) as pool:
        (down, lo_t), (up, hi_t) = pool.map(walk, (-1, 1))
    log = j >= obj.n_model or obj.log_scale[j]
    back = (lambda x: math.exp(x) if np.isfinite(x) else x) if log else (lambda x: x)
    rows = [dict(theta=th_hat[j], m2ll=ref, converged=fit.converged)] + down + up
    table = pd.DataFrame(rows).drop_duplicates("theta").sort_values("theta").reset_index(drop=True)
    table.insert(0, "value", [back(x) for x in table["theta"]])
    table["delta"] = table["m2ll"] - ref
    if (table["delta"] < -1e-3).any():
        msg = (f"the profile of {parameter} reaches a -2LL {-table['delta'].min():.3g} below the fit's: "
               "the fit stopped short of the optimum (try more starts)")
        warnings.warn(msg, IdentifiabilityWarning, stacklevel=3)
    e = fit.estimates.iloc[j]
    return Profile(parameter, level, thr, table, back(lo_t), back(hi_t), float(e["estimate"]),
                   (float(e["ci_lower"]), float(e["ci_upper"])), str(e["unit"]))
