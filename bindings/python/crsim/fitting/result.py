"""The result of a fit: estimates with uncertainty, information criteria, residuals, diagnostics."""
from __future__ import annotations

import math
import warnings
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import pandas as pd

from crsim.base.errors import input_error
from crsim.fitting.diagnostics import FitFailedWarning, IdentifiabilityWarning
from crsim.fitting.objective import Objective
from crsim.fitting.plot import plot_fit, prediction_table
from crsim.fitting.profile import profile
from crsim.run.simulate import simulate

__all__ = ["FitResult", "IdentifiabilityWarning", "FitFailedWarning", "covariance_from_information"]

#: Scaled Fisher information with an eigenvalue below this fraction of the largest is near singular.
NEAR_SINGULAR = 1e-8
#: |correlation| above this is reported as a warning.
HIGH_CORRELATION = 0.95


def covariance_from_information(info: np.ndarray, names: Sequence[str]):
    """Covariance (inverse Fisher information) with identifiability diagnostics.

    The information is scaled to unit diagonal before it is inverted; eigenvectors of the scaled
    matrix with eigenvalue < NEAR_SINGULAR × the largest are directions the data do not determine:
    the parameters with a weight >= 0.3 in them are named, and their variances are NaN.
    Returns (covariance, messages, condition number of the scaled information)."""
    p = len(names)
    messages: List[str] = []
    if p == 0:
        return np.zeros((0, 0)), messages, 1.0
    d = np.sqrt(np.clip(np.diag(info), 0.0, None))
    zero = d <= 0
    if zero.any():
        messages.append("no information about " + ", ".join(n for n, z in zip(names, zero) if z) +
                        " (the predictions do not depend on it at the observation times)")
    ds = np.where(zero, 1.0, d)
    scaled = info / np.outer(ds, ds)
    w, v = np.linalg.eigh(scaled)
    wmax = max(float(w.max()), 1e-300)
    cond = wmax / float(w.min()) if w.min() > 0 else math.inf
    weak = w < NEAR_SINGULAR * wmax
    bad = zero.copy()
    for k in np.flatnonzero(weak):
        involved = [names[j] for j in range(p) if abs(v[j, k]) >= 0.3 and not zero[j]]
        bad |= np.abs(v[:, k]) >= 0.3
        if involved:
            messages.append("near-singular Fisher information: the data do not determine the "
                            "combination of " + ", ".join(involved) + f" (scaled eigenvalue "
                            f"{w[k] / wmax:.1e}); fix one of them or add informative data")
    if weak.any() or zero.any():
        inv = np.linalg.pinv(scaled, rcond=NEAR_SINGULAR)
    else:
        inv = np.linalg.inv(scaled)
    cov = inv / np.outer(ds, ds)
    cov[bad, :] = np.nan
    cov[:, bad] = np.nan
    return cov, messages, cond


class FitResult:
    """Maximum-likelihood estimates and their uncertainty.

    Attributes:
        estimates: DataFrame indexed by parameter: kind (model/error), unit, scale (log/linear),
            estimate, se, rse_pct, ci_lower, ci_upper (``level`` Wald interval computed on the
            estimation scale and back-transformed), theta and se_theta (estimation scale), start.
        covariance, correlation: DataFrames over the estimated parameters, on the estimation scale.
        information: ``"expected"`` or ``"observed"``: the Fisher information the standard errors
            come from (see docs/fitting.md).
        m2ll, aic, bic: -2 log likelihood, AIC = m2ll + 2k, BIC = m2ll + k log(n) (k estimated
            parameters, n observations); ``n_observations``, ``n_parameters``.
        parameters: every model parameter's value used at the estimate (fixed ones included).
        error_parameters: observable -> {name: value} at the estimate.
        residuals: the data with pred, res (observed - predicted, model unit), wres (weighted
            residual: res / sd, log scale for log-normal; NaN when censored), sd and m2ll per row.
        converged, message: of the best start; ``starts``: one row per start (-2LL, converged,
            evaluations, start and end values); ``evaluations``, ``gradients``, ``simulations``
            (totals over all starts), ``seconds`` (wall time).
        warnings: identifiability and convergence messages (also issued as warnings).
        model, data (the checked observations), ids, doses (id -> list of Dose).
    """

    def __init__(self, objective: Objective, run: Dict[str, Any], data: pd.DataFrame,
                 lower: np.ndarray, upper: np.ndarray, theta_start: np.ndarray, *, information: str,
                 level: float, gradient: str, method: str, doses: Dict[Any, list], seconds: float,
                 settings: Dict[str, Any]):
        self._obj = objective
        self._lower, self._upper = lower, upper
        self._settings = settings
        self.model = objective.model
        self.ids = [s.id for s in objective.subjects]
        self.doses = doses
        self.data = data
        self.level = level
        self.gradient = gradient
        self.method = method
        self.theta = np.asarray(run["theta"], dtype=float)
        self.converged = bool(run["converged"])
        self.message = run["message"]
        self.starts: pd.DataFrame = run["table"]
        c = run["counter"]
        self.evaluations, self.gradients, self.simulations = c.evaluations, c.gradients, c.simulations
        self.seconds = seconds
        self.names: List[str] = list(objective.names)
        det = objective.details(self.theta)
        self._details = det
        self.m2ll = float(det["m2ll"])
        self.n_observations = int(objective.n_obs)
        self.n_parameters = len(self.names)
        self.aic = self.m2ll + 2 * self.n_parameters
        self.bic = self.m2ll + self.n_parameters * math.log(max(self.n_observations, 1))
        self.parameters: Dict[str, float] = dict(det["params"])
        self.error_parameters = {o: dict(v) for o, v in det["errors"].items()}
        self.warnings: List[str] = []
        if not self.converged:
            self.warnings.append(f"the optimiser did not report convergence: {self.message}")
        if information not in ("expected", "observed"):
            raise input_error("information", information, "'expected' or 'observed'")
        self.information = information
        finite = math.isfinite(self.m2ll)
        if not finite:  # no likelihood at the end point: no information, no standard errors
            self.converged = False
            self.warnings.append(f"the fit ended at -2LL = {self.m2ll}: no likelihood at these "
                                 "parameter values (the engine failed, or residuals or error "
                                 "parameters are out of floating-point range); the estimates are "
                                 "not a fit and their SE and confidence intervals are NaN")
            warnings.warn(self.warnings[-1], FitFailedWarning, stacklevel=3)
            info = np.full((len(self.names), len(self.names)), np.nan)
        else:
            info = det["information"] if information == "expected" else self._observed_information()
        self.fisher_information = pd.DataFrame(info, index=self.names, columns=self.names)
        if finite:
            cov, msgs, self.condition_number = covariance_from_information(info, self.names)
        else:
            cov, msgs, self.condition_number = info.copy(), [], math.nan
        self.covariance = pd.DataFrame(cov, index=self.names, columns=self.names)
        sd = np.sqrt(np.diag(cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov / np.outer(sd, sd)
        self.correlation = pd.DataFrame(corr, index=self.names, columns=self.names)
        for i in range(len(self.names)):
            for j in range(i + 1, len(self.names)):
                if abs(corr[i, j]) > HIGH_CORRELATION:
                    msgs.append(f"estimates of {self.names[i]} and {self.names[j]} are correlated "
                                f"{corr[i, j]:+.3f}: the data hardly separate them")
        at_bound = [n for n, t, lo, hi in zip(self.names, self.theta, lower, upper)
                    if (np.isfinite(lo) and t - lo < 1e-6 * max(1, abs(lo)))
                    or (np.isfinite(hi) and hi - t < 1e-6 * max(1, abs(hi)))]
        if at_bound:
            msgs.append("estimates at a bound (the Wald interval there is not meaningful; see "
                        ".profile()): " + ", ".join(at_bound))
        for m in msgs:
            warnings.warn(m, IdentifiabilityWarning, stacklevel=4)  # points at the crsim.fit call
        self.warnings += msgs
        self.estimates = self._estimate_table(theta_start, sd)
        self.residuals = self._residual_table()

    # --- tables ------------------------------------------------------------------------------------
    def _estimate_table(self, theta_start: np.ndarray, se_theta: np.ndarray) -> pd.DataFrame:
        from scipy.stats import norm

        z = norm.ppf(0.5 + self.level / 2)
        units = self.model.units()
        rows = []
        obj = self._obj
        for j, name in enumerate(self.names):
            if j < obj.n_model:
                log, kind, unit = obj.log_scale[j], "model", units.get(name, "")
            else:
                o, k, _ = obj.error_slots[j - obj.n_model]
                log, kind = True, "error"
                unit = {"a": units.get(o, ""), "b": "1", "sigma": "1 (log scale)"}[k]
            t, s = self.theta[j], se_theta[j]
            if log:
                with np.errstate(over="ignore", invalid="ignore"):
                    est, lo, hi = (float(np.exp(x)) for x in (t, t - z * s, t + z * s))
                    se = est * s
                start = float(np.exp(theta_start[j]))
            else:
                est, se, lo, hi, start = t, s, t - z * s, t + z * s, theta_start[j]
            rows.append(dict(parameter=name, kind=kind, unit=unit, scale="log" if log else "linear",
                             estimate=est, se=se, rse_pct=100 * se / abs(est) if est != 0 else np.nan,
                             ci_lower=lo, ci_upper=hi, theta=t, se_theta=s, start=start))
        return pd.DataFrame(rows).set_index("parameter")

    def _residual_table(self) -> pd.DataFrame:
        det = self._details
        r = self.data.copy()
        r["pred"] = det["f"]
        r["res"] = det["res"]
        r["wres"] = det["wres"]
        r["sd"] = det["sd"]
        r["m2ll"] = det["m2ll_i"]
        return r

    def _observed_information(self) -> np.ndarray:
        """Observed Fisher information: half the Hessian of -2LL, by central differences of the
        sensitivity-based gradient (2 gradients per parameter), symmetrised."""
        p = len(self.theta)
        H = np.empty((p, p))
        for j in range(p):
            h = 1e-4 * max(1.0, abs(self.theta[j]))
            up, down = self.theta.copy(), self.theta.copy()
            up[j] += h
            down[j] -= h
            H[:, j] = (self._obj.value_and_gradient(up)[1] - self._obj.value_and_gradient(down)[1]) / (2 * h)
        return 0.25 * (H + H.T)

    # --- derived -----------------------------------------------------------------------------------
    def ci(self, level: Optional[float] = None) -> pd.DataFrame:
        """Wald intervals at another level (default the fit's), back-transformed."""
        from scipy.stats import norm

        lv = self.level if level is None else level
        if not (isinstance(lv, (int, float)) and 0 < lv < 1):
            raise input_error("level", level, "a confidence level in (0, 1), e.g. 0.95")
        z = norm.ppf(0.5 + lv / 2)
        e = self.estimates
        lo = e["theta"] - z * e["se_theta"]
        hi = e["theta"] + z * e["se_theta"]
        log = e["scale"] == "log"
        return pd.DataFrame({"estimate": e["estimate"], "ci_lower": np.where(log, np.exp(lo), lo),
                             "ci_upper": np.where(log, np.exp(hi), hi)}, index=e.index)

    def simulate(self, times: Any = None, id: Any = None, **kwargs: Any):
        """Simulates the fitted model for one subject (default the first) at the estimates:
        a :class:`crsim.Result`. Extra keyword arguments go to :func:`crsim.simulate`."""

        sid = self.ids[0] if id is None else id
        if sid not in self.ids:
            raise input_error("id", sid, "a subject of this fit, one of " + repr(self.ids))
        sub = self._obj.subjects[self.ids.index(sid)]
        params = {**self.parameters, **getattr(sub, "params", {})}
        weight = None if math.isnan(sub.weight_kg) else sub.weight_kg
        if "body_weight" in params and weight is not None:
            params.pop("body_weight")
        opts = {k: v for k, v in self._obj.options.items()}
        kw = dict(times=times, doses=self.doses.get(sid, []), parameters=params, weight=weight,
                  t_start=self._obj.t_start, initial=self._obj.initial or None, **opts)
        kw.update(kwargs)
        if times is None and "days" not in kwargs:
            kw["times"] = np.linspace(self._obj.t_start, float(sub.times.max()) * 1.05 + 1e-9, 400)
        return simulate(self.model, **kw)

    def predict(self, times: Any = None, id: Any = None, level: Optional[float] = None) -> pd.DataFrame:
        """The fitted curve of every fitted observable with the band of the curve (parameter
        uncertainty, delta method with forward sensitivities: ci_lower/ci_upper) and the
        prediction interval of a new observation (adds the residual error: pi_lower/pi_upper).
        Columns: time_h, observable, unit, pred, ci_lower, ci_upper, pi_lower, pi_upper."""

        return prediction_table(self, times, id, level)

    def profile(self, parameter: str, level: Optional[float] = None, **kwargs: Any):
        """Profile likelihood of one estimated parameter (see :func:`crsim.fitting.profile.profile`)."""

        return profile(self, parameter, self.level if level is None else level, **kwargs)

    def plot(self, id: Any = None, observables: Union[None, str, Sequence[str]] = None,
             band: bool = True, log: Optional[bool] = None, ax: Any = None):
        """Goodness of fit: observations and the fitted curve against time, one panel per
        observable, with the 95 % band of the curve (parameter uncertainty) and the 95 %
        prediction interval (parameter and residual error); censored points drawn open at their
        limit. Returns the matplotlib Figure."""

        return plot_fit(self, id, observables, band, log, ax)

    def summary(self) -> str:
        """A text summary: fit statistics and the estimates table."""
        e = self.estimates[["unit", "scale", "estimate", "se", "rse_pct", "ci_lower", "ci_upper"]]
        lines = [f"crsim fit of model '{self.model.name}': {len(self.ids)} subject(s), "
                 f"{self.n_observations} observations ({int(self.data['censored'].sum())} censored), "
                 f"{self.n_parameters} estimated parameters",
                 f"-2LL {self.m2ll:.4f}   AIC {self.aic:.4f}   BIC {self.bic:.4f}   "
                 f"converged: {self.converged}   gradient: {self.gradient}   "
                 f"SE from the {self.information} Fisher information",
                 f"{len(self.starts)} start(s), {self.evaluations} objective evaluations, "
                 f"{self.simulations} simulations, {self.seconds:.2f} s",
                 e.to_string(float_format=lambda v: f"{v:.4g}")]
        if self.warnings:
            lines.append("warnings:\n  " + "\n  ".join(self.warnings))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        head = self.summary().split("\n")[:3]
        return "<pre>" + "\n".join(head) + "</pre>" + self.estimates.to_html(float_format=lambda v: f"{v:.4g}")
