"""Predictions with uncertainty bands from a fit, and the goodness-of-fit plot."""
from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Union

import numpy as np
import pandas as pd

from crsim import _core
from crsim.base.errors import input_error

__all__ = ["prediction_table", "plot_fit"]


def _subject(fit, id: Any):
    sid = fit.ids[0] if id is None else id
    if sid not in fit.ids:
        raise input_error("id", id, "a subject of this fit, one of " + repr(fit.ids[:20]))
    return sid, fit._obj.subjects[fit.ids.index(sid)]


def prediction_table(fit, times: Any = None, id: Any = None, level: Optional[float] = None,
                     observables: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Fitted curve of each fitted observable with two bands (delta method):

    - ci_lower/ci_upper: the curve's uncertainty from the estimates' covariance,
      var f = (df/dθ) Σ (df/dθ)^T, with df/dθ from forward sensitivities;
    - pi_lower/pi_upper: where a new observation falls: that variance plus the residual variance
      of the error model (on the log scale for log-normal error).

    Columns: time_h, observable, unit, pred, ci_lower, ci_upper, pi_lower, pi_upper."""
    from scipy.stats import norm

    obj = fit._obj
    sid, sub = _subject(fit, id)
    lv = fit.level if level is None else level
    z = norm.ppf(0.5 + lv / 2)
    if times is None:
        t_end = float(sub.times.max()) if len(sub.times) else obj.t_start + 24.0
        times = np.linspace(obj.t_start, t_end * 1.05 + 1e-9, 301)
    times = np.unique(np.concatenate([np.asarray(times, dtype=float), sub.times]))
    names = list(obj.error_models) if observables is None else list(observables)
    params = {**fit.parameters, **sub.params}
    raw = _core.simulate(obj.model.name, params, sub.core_doses, times, sub.weight_kg, obj.t_start,
                         obj.initial, obj.options, obj.model_names)
    outs = fit.model.observable_names + fit.model.state_names
    vals = np.concatenate([raw["observables"], raw["states"]], axis=1)
    sens = np.concatenate([raw["observable_sensitivities"], raw["state_sensitivities"]], axis=1)
    dp = obj.dp_dtheta(fit.parameters)
    cov = fit.covariance.to_numpy()[:obj.n_model, :obj.n_model]
    units = fit.model.units()
    frames = []
    for o in names:
        if o not in outs:
            raise input_error("observables", o, "an observable of the fit {" + ", ".join(obj.error_models) + "}")
        c = outs.index(o)
        f = vals[:, c]
        g = sens[:, c, :] * dp
        var_f = np.einsum("ti,ij,tj->t", g, cov, g) if obj.n_model else np.zeros(len(f))
        em = obj.error_models.get(o)
        errs = fit.error_parameters.get(o, {})
        if em is not None and em.kind == "lognormal":
            fl = np.maximum(f, obj.floor.get(o, 1e-300))
            sd_log = np.sqrt(np.clip(var_f, 0, None)) / fl
            tot = np.sqrt(sd_log ** 2 + errs["sigma"] ** 2)
            ci = fl * np.exp(-z * sd_log), fl * np.exp(z * sd_log)
            pi = fl * np.exp(-z * tot), fl * np.exp(z * tot)
        else:
            sd_f = np.sqrt(np.clip(var_f, 0, None))
            sd_e = em.sd(f, errs) if em is not None else np.zeros(len(f))
            tot = np.sqrt(sd_f ** 2 + sd_e ** 2)
            ci = f - z * sd_f, f + z * sd_f
            pi = f - z * tot, f + z * tot
        frames.append(pd.DataFrame({"time_h": times, "observable": o, "unit": units.get(o, ""),
                                    "pred": f, "ci_lower": ci[0], "ci_upper": ci[1],
                                    "pi_lower": pi[0], "pi_upper": pi[1]}))
    return pd.concat(frames, ignore_index=True)


def plot_fit(fit, id: Any = None, observables: Union[None, str, Sequence[str]] = None,
             band: bool = True, log: Optional[bool] = None, ax: Any = None):
    import matplotlib.pyplot as plt

    sid, sub = _subject(fit, id)
    names: List[str] = list(fit._obj.error_models) if observables is None else (
        [observables] if isinstance(observables, str) else list(observables))
    pred = prediction_table(fit, id=sid, observables=names)
    data = fit.residuals[fit.residuals["id"] == sid]
    span = float(pred["time_h"].max() - pred["time_h"].min())
    days = span > 72
    tscale, tlabel = (24.0, "time (d)") if days else (1.0, "time (h)")
    if ax is None:
        fig, axes = plt.subplots(len(names), 1, figsize=(7, 2.8 * len(names)), squeeze=False,
                                 sharex=True)
        axes = list(axes[:, 0])
    else:
        axes = list(np.atleast_1d(ax))
        fig = axes[0].figure
    if len(axes) != len(names):
        raise input_error("ax", f"{len(axes)} Axes", f"{len(names)} Axes (one per observable)", raw=True)
    lv = int(round(fit.level * 100))
    for a, o in zip(axes, names):
        p = pred[pred["observable"] == o]
        d = data[data["observable"] == o]
        t = p["time_h"].to_numpy() / tscale
        positive = (d.loc[~d["censored"], "value"] > 0).all() and (p["pred"] > 0).all()
        use_log = log if log is not None else bool(positive and _decades(d, p) > 1.5)
        if band and np.isfinite(p["pi_lower"]).all():
            lo = np.clip(p["pi_lower"], 1e-300, None) if use_log else p["pi_lower"]
            a.fill_between(t, lo, p["pi_upper"], color="C0", alpha=0.15,
                           label=f"{lv} % prediction interval")
            lo = np.clip(p["ci_lower"], 1e-300, None) if use_log else p["ci_lower"]
            a.fill_between(t, lo, p["ci_upper"], color="C0", alpha=0.35, label=f"{lv} % CI of the curve")
        a.plot(t, p["pred"], color="C0", label="fit")
        unc = d[~d["censored"]]
        a.plot(unc["time_h"] / tscale, unc["value"], "o", color="k", ms=4, label="observed")
        cen = d[d["censored"]]
        if len(cen):
            a.plot(cen["time_h"] / tscale, cen["limit"], "v", mfc="none", color="C3", ms=6,
                   label="below LLOQ (at the limit)")
        if use_log:
            a.set_yscale("log")
        unit = p["unit"].iloc[0] if len(p) else ""
        a.set_ylabel(f"{o} ({unit})" if unit else o)
        a.legend(fontsize="small", loc="best")
    axes[-1].set_xlabel(tlabel)
    title = f"{fit.model.name}: fit to subject {sid!r}" if len(fit.ids) > 1 else f"{fit.model.name}: fit"
    axes[0].set_title(title)
    fig.tight_layout()
    return fig


def _decades(d: pd.DataFrame, p: pd.DataFrame) -> float:
    v = np.concatenate([d["value"].to_numpy(dtype=float), p["pred"].to_numpy(dtype=float)])
    v = v[np.isfinite(v) & (v > 0)]
    return math.log10(v.max() / v.min()) if len(v) > 1 else 0.0
