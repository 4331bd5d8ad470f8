"""Minimising the objective: scipy optimisers, Latin hypercube multistart run in threads."""
from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd

from crsim.base import progress as _progress
from crsim.fitting.objective import Counter, Objective

__all__ = ["METHODS", "sampling_box", "latin_hypercube_starts", "minimize", "multistart"]

#: Optimisers: scipy.optimize.minimize methods that take bounds and a gradient, and least_squares
#: (for objectives that are a plain sum of squares: see least_squares_applies).
METHODS = ("L-BFGS-B", "TNC", "SLSQP", "trust-constr", "least_squares")
#: A line-search stop is accepted as convergence when no projected-gradient component of -2LL
#: (per unit of θ) exceeds this.
ACCEPT_GRADIENT = 1e-3
#: ... or when the quasi-Newton decrement of -2LL is below this (negligible next to the 3.84 that
#: bounds a 95 % profile interval).
ACCEPT_DECREMENT = 1e-3


def sampling_box(obj: Objective, theta0: np.ndarray, lower: np.ndarray,
                 upper: np.ndarray) -> np.ndarray:
    """(p, 2) box on the estimation scale where starts are drawn: the bounds when both are finite,
    else the start ± log(10) (log-scale model parameters: a factor 10), ± 50 % (linear scale)
    or ± log(3) (error parameters), cut to the bounds."""
    box = np.empty((len(theta0), 2))
    for j, t0 in enumerate(theta0):
        if np.isfinite(lower[j]) and np.isfinite(upper[j]):
            box[j] = lower[j], upper[j]
            continue
        if j >= obj.n_model:
            w = math.log(3.0)
        elif obj.log_scale[j]:
            w = math.log(10.0)
        else:
            w = 0.5 * abs(t0) if t0 != 0 else 1.0
        box[j] = max(t0 - w, lower[j]), min(t0 + w, upper[j])
    return box


def latin_hypercube_starts(theta0: np.ndarray, box: np.ndarray, n: int, seed: int) -> List[np.ndarray]:
    """The given start, then n - 1 points of a Latin hypercube over the box (seeded)."""
    from scipy.stats import qmc

    starts = [np.array(theta0, dtype=float)]
    if n > 1:
        u = qmc.LatinHypercube(d=len(theta0), seed=seed).random(n - 1)
        starts += list(box[:, 0] + u * (box[:, 1] - box[:, 0]))
    return starts


def least_squares_applies(obj: Objective) -> Optional[str]:
    """None when -2LL is a sum of squares plus a constant (additive or log-normal error with fixed
    parameters, no censored observation); else why not."""
    if obj.censored.any():
        return "the data have censored observations (M3 likelihood)"
    for o, em in obj.error_models.items():
        if em.kind not in ("additive", "lognormal"):
            return f"the error model of {o} is {em.kind} (its SD depends on the prediction)"
        if em.estimate:
            return f"error parameters of {o} are estimated (fix them: ErrorModel(..., estimate=False))"
    return None


def _residuals(obj: Objective, f: np.ndarray, errs) -> np.ndarray:
    r = np.empty(obj.n_obs)
    for o, idx in obj.groups:
        em = obj.error_models[o]
        if em.kind == "additive":
            r[idx] = (obj.y[idx] - f[idx]) / errs[o]["a"]
        else:
            r[idx] = (np.log(obj.y[idx]) - np.log(np.maximum(f[idx], obj.floor[o]))) / errs[o]["sigma"]
    return r


def _least_squares(obj: Objective, theta0, lower, upper, gradient: str, max_iterations: int,
                   counter: Counter):
    from scipy import optimize

    cache: Dict[str, Any] = {}

    def run(theta):
        key = theta.tobytes()
        if cache.get("key") != key:
            params, errs = obj.natural(theta)
            counter.add(evaluations=1, gradients=int(gradient == "sensitivities"))
            f, S = obj.predict(params, gradient == "sensitivities", counter)
            cache.update(key=key, f=f, S=S, params=params, errs=errs)
        return cache

    def fun(theta):
        c = run(theta)
        return _residuals(obj, c["f"], c["errs"])

    def jac(theta):
        c = run(theta)
        J = -c["S"] * obj.dp_dtheta(c["params"])
        for o, idx in obj.groups:
            em = obj.error_models[o]
            scale = (1.0 / c["errs"][o]["a"] if em.kind == "additive"
                     else 1.0 / (np.maximum(c["f"][idx], obj.floor[o]) * c["errs"][o]["sigma"]))
            J[idx] *= np.broadcast_to(scale, len(idx))[:, None]
        return J

    res = optimize.least_squares(fun, theta0, jac=jac if gradient == "sensitivities" else "3-point",
                                 bounds=(lower, upper), method="trf", x_scale="jac",
                                 max_nfev=max_iterations * 5, xtol=1e-10, ftol=1e-12, gtol=1e-10)
    return res.x, obj.value(res.x), res.success, res.message, res.nfev


def gauss_newton_decrement(obj: Objective, theta: np.ndarray, g: np.ndarray) -> float:
    """g' (2 I)^-1 g with I the expected Fisher information at theta (pseudo-inverse over the
    identifiable directions); inf when it cannot be computed."""
    try:
        info = obj.details(theta)["information"]
    except Exception:  # the engine failed here: no verdict
        return math.inf
    if not np.all(np.isfinite(info)):
        return math.inf
    return float(g @ np.linalg.pinv(2.0 * info, rcond=1e-12, hermitian=True) @ g)


def minimize(obj: Objective, theta0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
             method: str = "L-BFGS-B", gradient: str = "sensitivities",
             max_iterations: int = 500) -> Dict[str, Any]:
    """One local optimisation from theta0. Returns theta, m2ll, converged, message, iterations,
    counter (evaluations, simulations, ...) and seconds."""
    from scipy import optimize

    counter = Counter()
    t0 = time.perf_counter()
    theta0 = np.clip(np.asarray(theta0, dtype=float), lower, upper)
    if method == "least_squares":
        x, fx, ok, msg, nit = _least_squares(obj, theta0, lower, upper, gradient, max_iterations, counter)
    else:
        bounds = optimize.Bounds(lower, upper)
        if gradient == "sensitivities":
            fun, jac = (lambda th: obj.value_and_gradient(th, counter)), True
        else:
            fun, jac = (lambda th: obj.value(th, counter)), (lambda th: obj.gradient_fd(th, counter))
        options: Dict[str, Any] = {"maxiter": max_iterations}
        if method == "TNC":
            options = {"maxfun": 10 * max_iterations}
        if method == "L-BFGS-B":
            options.update(ftol=1e-11, gtol=1e-6)  # maxcor > 10 makes OpenBLAS threading cost 40 ms per run
        f0 = fun(theta0)
        if not math.isfinite(f0[0] if isinstance(f0, tuple) else f0):
            return dict(theta=theta0, m2ll=math.inf, converged=False,
                        message="the objective is not finite at the start (the engine failed or a "
                        "prediction is invalid)", iterations=0, counter=counter,
                        seconds=time.perf_counter() - t0)
        res = optimize.minimize(fun, theta0, jac=jac, method=method, bounds=bounds, options=options)
        x, fx, ok, msg = res.x, float(res.fun), bool(res.success), str(res.message)
        nit = int(getattr(res, "nit", 0) or 0)
        g = getattr(res, "jac", None)
        if not ok and "ABNORMAL" in msg and g is not None and math.isfinite(fx):
            # The line search cannot improve further: with an ODE tolerance the objective carries
            # integration noise (adaptive step sequences change with θ). Accept when what is left
            # to gain is negligible: the projected gradient is small, or the decrement g' H^-1 g
            # (the decrease of -2LL a Newton step would bring, times 2) is below ACCEPT_DECREMENT.
            pg = np.where(((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0)), 0.0, g)
            dec = math.inf
            hinv = getattr(res, "hess_inv", None)
            if hinv is not None and hasattr(hinv, "matvec"):
                dec = float(pg @ hinv.matvec(pg))
            kind = "quasi-Newton"
            if not (np.max(np.abs(pg)) <= ACCEPT_GRADIENT or 0 <= dec <= ACCEPT_DECREMENT):
                # L-BFGS's curvature pairs are poor when parameters are strongly correlated; the
                # Gauss-Newton decrement g' (2 I)^-1 g from the expected Fisher information I
                # (Hessian of -2LL ~ 2 I) measures the same remaining gain (one more simulation).
                gn = gauss_newton_decrement(obj, x, pg)
                if gn < dec:
                    dec, kind = gn, "Gauss-Newton"
            if np.max(np.abs(pg)) <= ACCEPT_GRADIENT or 0 <= dec <= ACCEPT_DECREMENT:
                ok = True
                msg += (f" (accepted: projected gradient {np.max(np.abs(pg)):.1e}, {kind} "
                        f"decrement {dec:.1e} of -2LL)")
    return dict(theta=np.asarray(x, dtype=float), m2ll=float(fx), converged=bool(ok) and math.isfinite(fx),
                message=str(msg), iterations=int(nit), counter=counter,
                seconds=time.perf_counter() - t0)


def multistart(obj: Objective, theta0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
               starts: int, seed: int, method: str, gradient: str, workers: int,
               max_iterations: int, progress: Optional[bool] = False) -> Dict[str, Any]:
    """Optimises from ``starts`` starting points (the given one and a Latin hypercube) in
    ``workers`` threads; the best converged run wins (lowest -2LL; ties by start order). The result
    is the same whatever the number of threads. Returns the best run plus ``table`` (one row per
    start) and ``counter`` (totals)."""
    box = sampling_box(obj, theta0, lower, upper)
    points = latin_hypercube_starts(theta0, box, starts, seed)

    with _progress.bar(len(points), "fit starts", progress if len(points) > 1 else False,
                       unit="start") as bar:
        def run(th):
            out = minimize(obj, th, lower, upper, method, gradient, max_iterations)
            bar.update(1)
            return out

        if workers > 1 and len(points) > 1:
            with ThreadPoolExecutor(max_workers=min(workers, len(points))) as pool:
                runs = list(pool.map(run, points))
        else:
            runs = [run(p) for p in points]
    rows = []
    total = Counter()
    for i, r in enumerate(runs):
        c = r["counter"]
        total.add(c.evaluations, c.gradients, c.simulations, c.solver_failures)
        rows.append({"start": i, "m2ll": r["m2ll"], "converged": r["converged"],
                     "iterations": r["iterations"], "evaluations": c.evaluations,
                     "simulations": c.simulations, "seconds": r["seconds"], "message": r["message"],
                     **{f"start.{n}": v for n, v in zip(obj.names, points[i])},
                     **{f"end.{n}": v for n, v in zip(obj.names, r["theta"])}})
    table = pd.DataFrame(rows)
    finite = [i for i, r in enumerate(runs) if math.isfinite(r["m2ll"])]
    ok = [i for i in finite if runs[i]["converged"]] or finite or [0]
    best = min(ok, key=lambda i: (runs[i]["m2ll"], i))
    out = dict(runs[best])
    out.update(best_start=best, table=table, counter=total, box=box)
    return out
