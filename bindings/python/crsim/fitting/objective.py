"""The fitting objective, -2 log likelihood, and its gradient from forward sensitivities.

The estimation vector θ holds the estimated model parameters (log of the value when estimated on
the log scale, else the value) followed by the log of the estimated error parameters. For every
subject the engine simulates the model at the subject's observation times with forward sensitivities
to the estimated model parameters; the gradient is the chain rule

    d(-2LL)/dθ_j = Σ_i d(-2LL_i)/df_i · ∂f_i/∂p_j · dp_j/dθ_j   (+ the error-parameter terms)

with dp/dθ = p on the log scale. ``gradient="fd"`` replaces it by central differences of the
objective (2 objective evaluations per estimated parameter), for benchmarks and checks.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from crsim import _core
from crsim.fitting.errormodels import ErrorModel, evaluate
from crsim.base.errors import SolverError

__all__ = ["Objective", "Subject", "Counter"]


@dataclass
class Subject:
    """One subject's simulation inputs and the map from its observations to the outputs."""

    id: Any
    times: np.ndarray          # sorted unique observation times, h
    core_doses: List[Dict[str, Any]]
    weight_kg: float           # NaN when none
    rows: np.ndarray           # indices of the subject's observations in the data table
    t_index: np.ndarray        # per row: index into times
    col: np.ndarray            # per row: column in [observables | states]
    params: Dict[str, float] = field(default_factory=dict)  # per-subject values (body_weight)


@dataclass
class Counter:
    """Work done by one optimisation: objective evaluations and engine simulations."""

    evaluations: int = 0
    gradients: int = 0
    simulations: int = 0
    solver_failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, evaluations: int = 0, gradients: int = 0, simulations: int = 0,
            failures: int = 0) -> None:
        with self.lock:
            self.evaluations += evaluations
            self.gradients += gradients
            self.simulations += simulations
            self.solver_failures += failures


class Objective:
    """-2 log L of the data for an estimation vector θ (see the module doc).

    Args:
        model: a crsim.Model.
        subjects: the subjects whose observations are fitted together.
        y, censored, limit, observable: per observation (data table order), in model units.
        base: every model parameter's value (defaults, scenario, fixed), name -> value.
        model_names: estimated model parameters; log_scale: per model parameter (bool).
        error_models: observable -> ErrorModel (with starting values filled in).
        options: engine solver options; t_start: h; initial: initial-state overrides.
        bounds: name -> (lower, upper) on the natural scale (estimated model and error parameters,
            the latter as ``<observable>.<name>``): the back-transformed values are clipped into
            them, since exp(log(upper)) can exceed upper by a rounding step and the engine refuses
            a model parameter above its bound (a start or a step of the optimiser exactly at a
            finite bound).
    """

    def __init__(self, model, subjects: List[Subject], y: np.ndarray, censored: np.ndarray,
                 limit: np.ndarray, observable: np.ndarray, base: Dict[str, float],
                 model_names: List[str], log_scale: List[bool], error_models: Dict[str, ErrorModel],
                 options: Dict[str, Any], t_start: float, initial: Optional[Dict[str, float]] = None,
                 bounds: Optional[Dict[str, Tuple[float, float]]] = None):
        self.model = model
        self.subjects = subjects
        self.y, self.censored, self.limit, self.observable = y, censored, limit, observable
        self.base = dict(base)
        self.model_names = list(model_names)
        self.log_scale = list(log_scale)
        self.error_models = error_models
        self.options = dict(options)
        self.t_start = t_start
        self.initial = dict(initial or {})
        self.bounds = dict(bounds or {})
        self.n_obs = len(y)
        self.groups: List[Tuple[str, np.ndarray]] = [(o, np.flatnonzero(observable == o))
                                                     for o in error_models]
        self.floor: Dict[str, float] = {}
        for o, idx in self.groups:
            vals = np.abs(np.where(censored[idx], limit[idx], y[idx]))
            med = float(np.median(vals)) if len(vals) else 1.0
            self.floor[o] = 1e-9 * (med if med > 0 else 1.0)
        # error parameters in θ: (observable, parameter name, index within the kind's names)
        self.error_slots: List[Tuple[str, str, int]] = []
        for o, em in error_models.items():
            for k in em.estimate:
                self.error_slots.append((o, k, em.names.index(k)))
        self.names = self.model_names + [f"{o}.{k}" for o, k, _ in self.error_slots]
        self.n_model = len(self.model_names)

    # --- parameter vector ------------------------------------------------------------------------
    def natural(self, theta: np.ndarray) -> Tuple[Dict[str, float], Dict[str, Dict[str, float]]]:
        """Model parameter values (all of them) and error parameter values per observable."""
        params = dict(self.base)
        for j, name in enumerate(self.model_names):
            params[name] = self._clip(name, math.exp(theta[j]) if self.log_scale[j] else float(theta[j]))
        errs = {o: dict(em.values) for o, em in self.error_models.items()}
        for j, (o, k, _) in enumerate(self.error_slots):
            errs[o][k] = self._clip(f"{o}.{k}", math.exp(theta[self.n_model + j]))
        return params, errs

    def _clip(self, name: str, v: float) -> float:
        lo, hi = self.bounds.get(name, (-math.inf, math.inf))
        return min(max(v, lo), hi)

    def theta_of(self, params: Dict[str, float], errs: Dict[str, Dict[str, float]]) -> np.ndarray:
        th = [math.log(params[n]) if ls else params[n] for n, ls in zip(self.model_names, self.log_scale)]
        th += [math.log(errs[o][k]) for o, k, _ in self.error_slots]
        return np.asarray(th, dtype=float)

    def dp_dtheta(self, params: Dict[str, float]) -> np.ndarray:
        return np.array([params[n] if ls else 1.0 for n, ls in zip(self.model_names, self.log_scale)])

    # --- simulation ------------------------------------------------------------------------------
    def predict(self, params: Dict[str, float], sensitivities: bool,
                counter: Optional[Counter] = None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Predictions f (n_obs,) and, with sensitivities, df/dp (n_obs, n_model) for the
        estimated model parameters (natural scale)."""
        f = np.empty(self.n_obs)
        S = np.empty((self.n_obs, self.n_model)) if sensitivities else None
        sens = self.model_names if sensitivities else []
        for s in self.subjects:
            p = {**params, **s.params} if s.params else params
            raw = _core.simulate(self.model.name, p, s.core_doses, s.times, s.weight_kg,
                                 self.t_start, self.initial, self.options, sens)
            if counter is not None:
                counter.add(simulations=1)
            out = np.concatenate([raw["observables"], raw["states"]], axis=1)
            f[s.rows] = out[s.t_index, s.col]
            if sensitivities and self.n_model:
                so = np.concatenate([raw["observable_sensitivities"], raw["state_sensitivities"]], axis=1)
                S[s.rows] = so[s.t_index, s.col, :]
            elif sensitivities:
                S[s.rows] = np.zeros((len(s.rows), 0))
        return f, S

    # --- likelihood --------------------------------------------------------------------------------
    def terms(self, f: np.ndarray, errs: Dict[str, Dict[str, float]]) -> Dict[str, Dict[str, np.ndarray]]:
        out = {}
        for o, idx in self.groups:
            em = self.error_models[o]
            out[o] = evaluate(em.kind, errs[o], f[idx], self.y[idx], self.censored[idx],
                              self.limit[idx], self.floor[o])
        return out

    def value(self, theta: np.ndarray, counter: Optional[Counter] = None) -> float:
        """-2 log L (inf when the engine fails at these parameters)."""
        params, errs = self.natural(theta)
        if counter is not None:
            counter.add(evaluations=1)
        try:
            f, _ = self.predict(params, False, counter)
        except SolverError:
            if counter is not None:
                counter.add(failures=1)
            return math.inf
        total = sum(float(np.sum(t["m2ll"])) for t in self.terms(f, errs).values())
        return total if math.isfinite(total) else math.inf

    def value_and_gradient(self, theta: np.ndarray,
                           counter: Optional[Counter] = None) -> Tuple[float, np.ndarray]:
        """-2 log L and its gradient from forward sensitivities."""
        params, errs = self.natural(theta)
        if counter is not None:
            counter.add(evaluations=1, gradients=1)
        try:
            f, S = self.predict(params, True, counter)
        except SolverError:
            if counter is not None:
                counter.add(failures=1)
            return math.inf, np.zeros(len(theta))
        total, grad = self._assemble(theta, params, errs, f, S)
        if not (math.isfinite(total) and np.all(np.isfinite(grad))):
            return math.inf, np.zeros(len(theta))
        return total, grad

    def _assemble(self, theta, params, errs, f, S) -> Tuple[float, np.ndarray]:
        terms = self.terms(f, errs)
        d_f = np.empty(self.n_obs)
        grad = np.zeros(len(theta))
        total = 0.0
        for o, idx in self.groups:
            t = terms[o]
            total += float(np.sum(t["m2ll"]))
            d_f[idx] = t["d_f"]
        grad[:self.n_model] = (d_f @ S) * self.dp_dtheta(params) if self.n_model else 0.0
        for j, (o, k, pos) in enumerate(self.error_slots):
            grad[self.n_model + j] = float(np.sum(terms[o]["d_p"][:, pos])) * errs[o][k]
        return total, grad

    def gradient_fd(self, theta: np.ndarray, counter: Optional[Counter] = None,
                    rel_step: float = 6e-6) -> np.ndarray:
        """Central differences of :meth:`value` (step rel_step · max(1, |θ_j|))."""
        g = np.empty(len(theta))
        for j in range(len(theta)):
            h = rel_step * max(1.0, abs(theta[j]))
            up, down = theta.copy(), theta.copy()
            up[j] += h
            down[j] -= h
            g[j] = (self.value(up, counter) - self.value(down, counter)) / (2 * h)
        if counter is not None:
            counter.add(gradients=1)
        return g

    # --- at the estimate ------------------------------------------------------------------------------
    def details(self, theta: np.ndarray) -> Dict[str, Any]:
        """Everything the result needs at θ: predictions, residuals, -2LL, gradient and the
        expected Fisher information (of log L, on the estimation scale)."""
        params, errs = self.natural(theta)
        f, S = self.predict(params, True)
        terms = self.terms(f, errs)
        total, grad = self._assemble(theta, params, errs, f, S)
        p = len(theta)
        dfdth = S * self.dp_dtheta(params) if self.n_model else np.zeros((self.n_obs, 0))
        info = np.zeros((p, p))
        res, wres, sd = (np.empty(self.n_obs) for _ in range(3))
        m2ll_i = np.empty(self.n_obs)
        for o, idx in self.groups:
            t = terms[o]
            res[idx], wres[idx], sd[idx], m2ll_i[idx] = t["res"], t["wres"], t["sd"], t["m2ll"]
            slots = [(j, pos, errs[o][k]) for j, (oo, k, pos) in enumerate(self.error_slots) if oo == o]
            for r in range(2):
                G = np.zeros((len(idx), p))
                G[:, :self.n_model] = t["info_f"][:, r, None] * dfdth[idx]
                for j, pos, val in slots:
                    G[:, self.n_model + j] = t["info_p"][:, r, pos] * val
                info += G.T @ G
        return dict(params=params, errors=errs, f=f, dfdtheta=dfdth, m2ll=total, gradient=grad,
                    information=info, res=res, wres=wres, sd=sd, m2ll_i=m2ll_i)
