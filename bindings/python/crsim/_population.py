"""Populations of virtual patients: one scenario, parameters drawn per patient with log-normal
inter-individual variability (optionally correlated), run in batches on C++ threads, one row of
readouts per patient.

    θ_i = θ · exp(η_i),   η_i ~ N(0, Ω),   Ω = diag(ω) · R · diag(ω)

with θ the scenario's value (parameter set or override), ω the SD of η (log scale; for small ω
about the CV; ``{"cv": c}`` gives ω = sqrt(ln(1 + c²))) and R the correlation matrix.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from . import _core
from ._errors import input_error
from ._fitsetup import WEIGHT_PARAMETER
from ._interventions import extra_readouts
from ._model import Model
from ._scenario import Scenario, prepare_scenario

__all__ = ["population", "sample_parameters"]

#: Patients simulated per engine call: bounds the memory of the trajectories held at once
#: (CRS, 28 days hourly: about 0.2 MB per patient).
BATCH = 500


def _omegas(variability: Any, model: Model) -> Dict[str, float]:
    if not isinstance(variability, Mapping) or not variability:
        raise input_error("variability", variability, "a non-empty dict parameter -> omega (SD of the "
                          "log-normal random effect) or {'cv': c}, e.g. {'rho': 0.3, 'tumor_burden': 1.0}")
    out: Dict[str, float] = {}
    for name, spec in variability.items():
        field = f"variability[{name!r}]"
        if name not in model.parameter_names:
            raise input_error(field, spec, f"a parameter of model {model.name}, one of "
                              f"{{{', '.join(model.parameter_names)}}}")
        if name == WEIGHT_PARAMETER:
            raise input_error(field, spec, "a parameter other than the body weight (per-kg doses are "
                              "converted once per population; run one population per weight)")
        if isinstance(spec, Mapping) and set(spec) == {"cv"}:
            cv = spec["cv"]
            if not (isinstance(cv, (int, float)) and math.isfinite(cv) and cv >= 0):
                raise input_error(field, spec, "{'cv': c} with a finite c >= 0")
            omega = math.sqrt(math.log1p(float(cv) ** 2))
        elif isinstance(spec, (int, float)) and not isinstance(spec, bool):
            omega = float(spec)
        else:
            raise input_error(field, spec, "omega (a number >= 0, SD on the log scale) or {'cv': c}")
        if not (math.isfinite(omega) and omega >= 0):
            raise input_error(field, spec, "omega >= 0 and finite (SD on the log scale)")
        out[name] = omega
    return out


def _correlation(correlation: Any, names: List[str]) -> np.ndarray:
    R = np.eye(len(names))
    if correlation is None:
        return R
    if not isinstance(correlation, Mapping):
        raise input_error("correlation", correlation, "a dict (name_a, name_b) -> r, e.g. {('CL', 'V1'): 0.6}")
    for pair, r in correlation.items():
        field = f"correlation[{pair!r}]"
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(p in names for p in pair) and pair[0] != pair[1]):
            raise input_error(field, r, "a key (name_a, name_b) of two different parameters in variability: "
                              + ", ".join(names))
        if not (isinstance(r, (int, float)) and -1 < r < 1):
            raise input_error(field, r, "a correlation in (-1, 1)")
        i, j = names.index(pair[0]), names.index(pair[1])
        R[i, j] = R[j, i] = float(r)
    if np.linalg.eigvalsh(R).min() <= 1e-10:
        raise input_error("correlation", correlation, "a positive definite correlation matrix (these "
                          "pairwise values are inconsistent with each other)")
    return R


def sample_parameters(scenario: Scenario, n: int, variability: Mapping[str, Any],
                      correlation: Optional[Mapping[Tuple[str, str], float]] = None,
                      seed: int = 0) -> pd.DataFrame:
    """The parameters of ``n`` virtual patients (one row each, the varied parameters as columns,
    in the model's units), drawn as described in the module docstring. Same seed, same table."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise input_error("n", n, "a number of patients >= 1 (integer)")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise input_error("seed", seed, "an integer seed")
    model = Model(scenario.model, scenario.parameter_set)
    omegas = _omegas(variability, model)
    names = list(omegas)
    R = _correlation(correlation, names)
    typical = np.array([float(scenario.parameters.get(k, model.parameter_values[k])) for k in names])
    if np.any(typical <= 0):
        bad = names[int(np.argmax(typical <= 0))]
        raise input_error(f"variability[{bad!r}]", omegas[bad], "a parameter with a typical value > 0 "
                          "(log-normal variability)")
    w = np.array([omegas[k] for k in names])
    L = np.linalg.cholesky(R)
    z = np.random.default_rng(int(seed)).standard_normal((int(n), len(names)))
    eta = (z @ L.T) * w
    table = pd.DataFrame(typical * np.exp(eta), columns=names)
    table.index.name = "patient"
    table.attrs.update(omega=dict(omegas), correlation=R, typical=dict(zip(names, typical)), seed=int(seed))
    return table


def population(scenario: Union[Scenario, str], n: int, variability: Mapping[str, Any],
               correlation: Optional[Mapping[Tuple[str, str], float]] = None, seed: int = 0,
               readouts: Optional[Sequence[str]] = None, threads: Optional[int] = None) -> pd.DataFrame:
    """Simulates ``n`` virtual patients of one scenario and tabulates their readouts.

    Args:
        scenario: the :class:`crsim.Scenario` (or a scenario file) every patient follows: regimen,
            policies, horizon, outputs, solver. Its parameters are the typical values.
        n: number of patients.
        variability: parameter -> omega (SD of the log-normal random effect η, so θ_i = θ e^η_i) or
            ``{"cv": c}`` (omega = sqrt(ln(1 + c²))). The body-weight parameter cannot vary (per-kg
            doses are converted once).
        correlation: optional ``{(a, b): r}`` between the random effects of varied parameters.
        seed: random seed (same seed, same patients, whatever the number of threads).
        readouts: columns wanted (default: as :func:`crsim.scan`).
        threads: C++ threads (None or 0: one per hardware thread).

    Returns:
        A DataFrame indexed by patient: the sampled parameters, then the readouts (``attrs``:
        ``units``, ``omega``, ``correlation``, ``typical``, ``seed``). A patient whose run failed
        keeps NaN readouts and its message in the ``error`` column.
    """
    from ._scan import DEFAULT_READOUTS
    from ._validate import suggest

    if isinstance(scenario, str):
        scenario = Scenario.from_file(scenario)
    if not isinstance(scenario, Scenario):
        raise input_error("scenario", scenario, "a crsim.Scenario or a scenario file path")
    params = sample_parameters(scenario, n, variability, correlation, seed)
    prep = prepare_scenario(scenario)
    base = prep.core
    nthreads = 0 if threads is None else int(threads)
    wanted = list(readouts) if readouts is not None else DEFAULT_READOUTS.get(scenario.model)
    rows: List[Dict[str, Any]] = []
    errors: List[str] = []
    units: Dict[str, str] = {}
    names = list(params.columns)
    values_all = params.to_numpy()
    for start in range(0, len(params), BATCH):
        chunk = values_all[start:start + BATCH]
        problems = [dict(base, parameters={**base["parameters"], **dict(zip(names, map(float, v)))})
                    for v in chunk]
        outs = _core.simulate_batch(scenario.model, problems, nthreads)
        for out in outs:
            row: Dict[str, Any] = {}
            if out["status"] != "ok":
                errors.append(f"{out['status']}: {out['message']}")
                rows.append(row)
                continue
            errors.append("")
            res = prep.result(out)
            vals = {k: v for k, v in res.readouts.items() if not isinstance(v, str)}
            u = dict(res.readout_units)
            ev, eu = extra_readouts(res)
            vals.update(ev)
            u.update(eu)
            for name in (wanted if wanted is not None else list(vals)):
                if name not in vals:
                    known = sorted(vals)
                    raise input_error("readouts", name, f"a readout of model {scenario.model}, one of "
                                      f"{{{', '.join(known)}}}{suggest(name, known)}")
                row[name] = vals[name]
                units[name] = u.get(name, "")
            rows.append(row)
    cols = wanted if wanted is not None else list(units)
    table = pd.concat([params, pd.DataFrame(rows, columns=cols, index=params.index)], axis=1)
    if any(errors):
        table["error"] = errors
    table.attrs.update(params.attrs)
    table.attrs["units"] = units
    table.attrs["model"] = scenario.model
    return table
