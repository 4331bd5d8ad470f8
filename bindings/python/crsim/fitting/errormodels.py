"""Residual error models: likelihood of an observation given the model's prediction.

With prediction f and observation y (both in the observable's model unit):

- ``additive``:     y = f + a·e,              sd = a (observable unit)
- ``proportional``: y = f·(1 + b·e),          sd = b·|f| (b a fraction: 0.2 = 20 %)
- ``combined``:     y = f + sqrt(a² + b²f²)·e  (NONMEM/Monolix "combined2": variances add)
- ``lognormal``:    log y = log f + sigma·e    (additive on the log scale; y > 0)

with e ~ N(0, 1). Each observation adds to the objective, -2 log L,

    log(2π) + 2 log sd + ((y - f)/sd)²                     (Gaussian models)
    log(2π) + 2 log sigma + ((log y - log f)/sigma)² + 2 log y   (log-normal: the density of y,
                                                            so -2LL compares across error models)

and a censored observation (below its limit of quantification L, Beal's M3 method)

    -2 log Φ((L - f)/sd)      or      -2 log Φ((log L - log f)/sigma).

Predictions are floored at a tiny positive value per observable (1e-9 × the median |observation|)
where the likelihood needs f > 0 (log-normal; proportional sd) so that a zero prediction (e.g. a
concentration before absorption) gives a large finite objective rather than an infinite one.

:func:`evaluate` returns each observation's contribution, its derivatives with respect to f and to
the error parameters, and the rows of the expected Fisher information (see docs/fitting.md).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from crsim.base.errors import input_error

__all__ = ["ErrorModel", "as_error_models", "evaluate", "KINDS"]

#: error model kind -> names of its parameters
KINDS: Dict[str, Tuple[str, ...]] = {
    "additive": ("a",),
    "proportional": ("b",),
    "combined": ("a", "b"),
    "lognormal": ("sigma",),
}
_LOG2PI = math.log(2.0 * math.pi)


class ErrorModel:
    """A residual error model with its parameters (see the module doc).

    Args:
        kind: ``"additive"``, ``"proportional"``, ``"combined"`` or ``"lognormal"``.
        a: additive SD in the observable's model unit (additive, combined).
        b: proportional coefficient, a fraction (proportional, combined).
        sigma: SD on the natural-log scale (lognormal).
        estimate: True (estimate every parameter, the default), False (fix them all at the values
            given) or the names of the parameters to estimate. Unset values start from the data:
            a = 10 % (additive) or 5 % (combined) of the median |observation|, b = 0.1, sigma = 0.1.

    Example: ``ErrorModel("combined", a=2.0, b=0.15, estimate=["b"])`` (a fixed at 2 pg/mL).
    """

    def __init__(self, kind: str = "proportional", *, a: Optional[float] = None,
                 b: Optional[float] = None, sigma: Optional[float] = None,
                 estimate: Union[bool, str, Sequence[str]] = True):
        if not isinstance(kind, str) or kind not in KINDS:
            raise input_error("error_model", kind, "one of {" + ", ".join(KINDS) + "} or a "
                              "crsim.ErrorModel")
        self.kind = kind
        names = KINDS[kind]
        given = {"a": a, "b": b, "sigma": sigma}
        for k, v in given.items():
            if v is not None and k not in names:
                raise input_error(f"ErrorModel.{k}", v, f"not a parameter of the {kind} error "
                                  f"model (its parameters: {', '.join(names)})")
            if v is not None and not (isinstance(v, (int, float, np.floating, np.integer))
                                      and not isinstance(v, bool) and math.isfinite(v) and v > 0):
                raise input_error(f"ErrorModel.{k}", v, "a finite value > 0")
        self.values: Dict[str, Optional[float]] = {k: (None if given[k] is None else float(given[k]))
                                                   for k in names}
        if estimate is True:
            est = list(names)
        elif estimate is False:
            est = []
        else:
            est = [estimate] if isinstance(estimate, str) else list(estimate)
            for i, e in enumerate(est):
                if e not in names:
                    raise input_error(f"ErrorModel.estimate[{i}]", e, f"a parameter of the {kind} "
                                      f"error model, one of {{{', '.join(names)}}}")
        self.estimate: Tuple[str, ...] = tuple(k for k in names if k in est)
        for k in names:
            if k not in self.estimate and self.values[k] is None:
                raise input_error(f"ErrorModel.{k}", None, f"a value > 0 for the fixed parameter "
                                  f"'{k}' of the {kind} error model")

    @property
    def names(self) -> Tuple[str, ...]:
        return KINDS[self.kind]

    def with_starts(self, y: np.ndarray) -> "ErrorModel":
        """A copy whose unset values are data-based starting values (see the class doc)."""
        med = float(np.median(np.abs(y))) if len(y) else 1.0
        med = med if med > 0 else 1.0
        start = {"a": (0.1 if self.kind == "additive" else 0.05) * med, "b": 0.1, "sigma": 0.1}
        vals = {k: (v if v is not None else start[k]) for k, v in self.values.items()}
        return ErrorModel(self.kind, **vals, estimate=list(self.estimate))

    def sd(self, f: np.ndarray, values: Optional[Mapping[str, float]] = None) -> np.ndarray:
        """Residual SD at predictions f (log scale for lognormal)."""
        v = {**self.values, **(values or {})}
        if self.kind == "additive":
            return np.full(np.shape(f), v["a"])
        if self.kind == "proportional":
            return v["b"] * np.abs(f)
        if self.kind == "combined":
            return np.sqrt(v["a"] ** 2 + (v["b"] * f) ** 2)
        return np.full(np.shape(f), v["sigma"])

    def __repr__(self) -> str:
        vals = ", ".join(f"{k}={'start' if v is None else format(v, 'g')}"
                         + ("" if k in self.estimate else " (fixed)") for k, v in self.values.items())
        return f"ErrorModel('{self.kind}', {vals})"


def as_error_models(spec: Any, observables: Sequence[str]) -> Dict[str, ErrorModel]:
    """One ErrorModel per observable from a kind name, an ErrorModel (shared spec, separate
    parameters per observable) or a dict observable -> kind / ErrorModel."""
    if isinstance(spec, (str, ErrorModel)):
        spec = {o: spec for o in observables}
    if not isinstance(spec, Mapping):
        raise input_error("error_model", spec, "a kind {" + ", ".join(KINDS) + "}, a crsim.ErrorModel "
                          "or a dict observable -> kind / ErrorModel")
    out: Dict[str, ErrorModel] = {}
    for o in observables:
        if o not in spec:
            raise input_error("error_model", sorted(spec), f"an error model for every observable in "
                              f"the data; missing: '{o}'")
        e = spec[o]
        out[o] = e if isinstance(e, ErrorModel) else ErrorModel(e) if isinstance(e, str) else None
        if out[o] is None:
            raise input_error(f"error_model[{o!r}]", e, "a kind {" + ", ".join(KINDS) + "} or a "
                              "crsim.ErrorModel")
    for k in spec:
        if k not in observables:
            raise input_error(f"error_model[{k!r}]", spec[k], "an error model for an observable in the "
                              "data {" + ", ".join(observables) + "}")
    return out


def evaluate(kind: str, values: Mapping[str, float], f: np.ndarray, y: np.ndarray,
             censored: np.ndarray, limit: np.ndarray, floor: float) -> Dict[str, np.ndarray]:
    """Contributions of n observations of one observable to -2 log L, and derivatives.

    Returns a dict with
        m2ll (n,): each observation's -2 log L;
        d_f (n,): d m2ll / d f;
        d_p (n, k): d m2ll / d (error parameter), in the order of KINDS[kind];
        info_f (n, 2), info_p (n, 2, k): the expected Fisher information (of log L) is
            sum_i sum_r g_ir g_ir^T with g_ir = info_f[i, r] * df_i/dθ + info_p[i, r, :] @ dp/dθ;
        res (n,), wres (n,), sd (n,): y - f, the weighted residual (log scale for lognormal) and the
            residual SD (NaN on censored rows for res and wres).
    """
    from scipy.special import log_ndtr  # scipy is imported on first use: `import crsim` needs no scipy

    names = KINDS[kind]
    n = len(f)
    k = len(names)
    d_p = np.zeros((n, k))
    info_f = np.zeros((n, 2))
    info_p = np.zeros((n, 2, k))
    unc = ~censored
    if kind == "lognormal":
        s = values["sigma"]
        fl = np.maximum(f, floor)
        live = f > floor  # derivative of the floor is 0
        u = np.log(fl)
        du_df = np.where(live, 1.0 / fl, 0.0)
        ly = np.log(np.where(unc, y, 1.0))
        r = np.where(unc, (ly - u) / s, np.nan)
        z = np.where(censored, (np.log(np.where(censored, limit, 1.0)) - u) / s, np.nan)
        m2ll = np.where(unc, _LOG2PI + 2 * math.log(s) + r ** 2 + 2 * ly, 0.0)
        dL_du = np.where(unc, -2 * r / s, 0.0)
        d_p[:, 0] = np.where(unc, (2 / s) * (1 - r ** 2), 0.0)
        info_f[:, 0] = np.where(unc, du_df / s, 0.0)
        info_p[:, 1, 0] = np.where(unc, math.sqrt(2.0) / s, 0.0)
        if censored.any():
            zc = z[censored]
            lc = log_ndtr(zc)
            lam = np.exp(-0.5 * zc ** 2 - 0.5 * _LOG2PI - lc)  # φ(z)/Φ(z)
            m2ll[censored] = -2 * lc
            dL_du[censored] = 2 * lam / s
            d_p[censored, 0] = 2 * lam * zc / s
            c = _indicator_weight(zc, lc)   # φ/sqrt(P(1-P))
            info_f[censored, 0] = c * (-1.0 / s) * du_df[censored]
            info_p[censored, 0, 0] = c * (-zc / s)
        d_f = dL_du * du_df
        return dict(m2ll=m2ll, d_f=d_f, d_p=d_p, info_f=info_f, info_p=info_p,
                    res=np.where(unc, y - f, np.nan), wres=r, sd=np.full(n, s))

    # Gaussian models: sd = s(f, params)
    a = values.get("a", 0.0)
    b = values.get("b", 0.0)
    if kind == "additive":
        s = np.full(n, a)
        s_f = np.zeros(n)
        s_p = np.ones((n, 1))
    elif kind == "proportional":
        af = np.abs(f)
        live = af > floor
        af = np.maximum(af, floor)
        s = b * af
        s_f = np.where(live, b * np.sign(f), 0.0)
        s_p = af[:, None]
    else:  # combined
        s = np.sqrt(a * a + b * b * f * f)
        s_f = b * b * f / s
        s_p = np.stack([a / s, b * f * f / s], axis=1)
    r = np.where(unc, (y - f) / s, np.nan)
    m2ll = np.where(unc, _LOG2PI + 2 * np.log(s) + r ** 2, 0.0)
    d_f = np.where(unc, (2 / s) * (s_f * (1 - r ** 2) - r), 0.0)
    d_p[:] = np.where(unc[:, None], (2 * s_p / s[:, None]) * (1 - r ** 2)[:, None], 0.0)
    info_f[:, 0] = np.where(unc, 1.0 / s, 0.0)
    info_f[:, 1] = np.where(unc, math.sqrt(2.0) * s_f / s, 0.0)
    info_p[:, 1, :] = np.where(unc[:, None], math.sqrt(2.0) * s_p / s[:, None], 0.0)
    if censored.any():
        sc, sfc, spc = s[censored], s_f[censored], s_p[censored]
        zc = (limit[censored] - f[censored]) / sc
        lc = log_ndtr(zc)
        lam = np.exp(-0.5 * zc ** 2 - 0.5 * _LOG2PI - lc)
        dz_df = -(1 + zc * sfc) / sc
        dz_dp = -(zc / sc)[:, None] * spc
        m2ll[censored] = -2 * lc
        d_f[censored] = -2 * lam * dz_df
        d_p[censored] = (-2 * lam)[:, None] * dz_dp
        c = _indicator_weight(zc, lc)
        info_f[censored, 0] = c * dz_df
        info_f[censored, 1] = 0.0
        info_p[censored, 0, :] = c[:, None] * dz_dp
        info_p[censored, 1, :] = 0.0
    return dict(m2ll=m2ll, d_f=d_f, d_p=d_p, info_f=info_f, info_p=info_p,
                res=np.where(unc, y - f, np.nan), wres=r, sd=s)


def _indicator_weight(z: np.ndarray, log_p: np.ndarray) -> np.ndarray:
    """φ(z)/sqrt(P(1-P)) with P = Φ(z): the Fisher information of the event 'below the limit' is
    (dP/dθ)(dP/dθ)^T / (P(1-P)) with dP/dθ = φ(z) dz/dθ."""
    from scipy.special import ndtr

    p = np.exp(log_p)
    q = ndtr(-z)  # 1 - P without cancellation
    phi = np.exp(-0.5 * z ** 2 - 0.5 * _LOG2PI)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = phi / np.sqrt(p * q)
    return np.where(np.isfinite(w), w, 0.0)
