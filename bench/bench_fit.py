"""Fitting with the gradient from forward sensitivities vs central finite differences.

The same fit (data, start, optimiser L-BFGS-B, engine tolerances) runs twice in this process:
``gradient="sensitivities"`` (the default: one simulation with sensitivities per objective
evaluation) and ``gradient="fd"`` (central differences: 2 plain simulations per estimated
parameter per gradient). Printed per problem: objective evaluations, simulations, wall time
(median of the repeats), their ratios fd / sensitivities, the difference of the optima, and the
engine's cost of one plain simulation and of one with sensitivities, which explains the times.

Run: ``.venv/bin/python bench/bench_fit.py [--repeats N] [--quick]``. Never fails on speed.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import numpy as np
import pandas as pd

import crsim


def pk1_oral_problem():
    t = np.geomspace(0.25, 24, 16)
    dose = [crsim.Dose("depot", 100)]
    f = crsim.simulate("pk1_oral", times=t, doses=dose, parameters=dict(ka=1.2, CL=3.0, V=40.0))["C"]
    y = f * (1 + 0.15 * np.random.default_rng(1).standard_normal(len(t)))
    df = pd.DataFrame({"time_h": t, "observable": "C", "value": y, "unit": "mg/L"})
    return dict(name="pk1_oral: ka, CL, V + proportional b", model="pk1_oral", data=df,
                kw=dict(estimate=["ka", "CL", "V"], doses=dose, start=dict(ka=0.6, CL=6.0, V=20.0)))


def pk2_mm_problem():
    t = np.linspace(2, 24 * 56, 30)
    dose = [crsim.Dose("central", 8, unit="mg/kg", duration=1, cap=800, additional=1, interval=24 * 28)]
    f = crsim.simulate("pk2_mm", times=t, doses=dose, weight=70)["C"]
    y = f * (1 + 0.15 * np.random.default_rng(2).standard_normal(len(t)))
    df = pd.DataFrame({"time_h": t, "observable": "C", "value": y, "unit": "ug/mL", "lloq": 5.0})
    start = dict(CL=0.02, V1=3.0, Q=0.01, V2=2.0, Vmax=0.5, Km=5.0)
    return dict(name="pk2_mm: CL, V1, Q, V2, Vmax, Km + b, M3 censoring", model="pk2_mm", data=df,
                kw=dict(estimate=list(start), doses=dose, weight=70, start=start))


def crs_problem(method: str = "dopri5", tol: float = 1e-6):
    days = np.array([1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 17, 21, 28])
    dose = [crsim.Dose("car_t_effector", 3e6, unit="cells/kg")]
    truth = {"rho": 0.03, "delta_E": 0.012, "p_il6_myeloid": 1500.0, "k_mact_on": 0.06}
    r = crsim.simulate("crs", times=days * 24.0, doses=dose, weight=35, parameters=truth,
                       method="dopri5", rtol=1e-8, atol=1e-8)
    rng = np.random.default_rng(11)
    rows = []
    for obs, cv, unit in (("car_t_blood", 0.25, "cells/uL"), ("il6", 0.3, "pg/mL")):
        for d, v in zip(days, r[obs] * np.exp(cv * rng.standard_normal(len(days)))):
            rows.append(dict(time_d=d, observable=obs, value=v, unit=unit, lloq=5.0 if obs == "il6" else 0.5))
    return dict(name=f"crs: rho, delta_E, p_il6_myeloid, k_mact_on + 2 sigma ({method}, tol {tol:g})",
                model="crs",
                data=pd.DataFrame(rows),
                kw=dict(estimate=list(truth), doses=dose, weight=35, error_model="lognormal",
                        solver=dict(method=method, rtol=tol, atol=tol)))


def engine_cost(problem, repeats: int):
    """ms per plain simulation and per simulation with sensitivities at the start values."""
    from crsim.fitting.fit import make_objective

    obj, theta = make_objective(problem["model"], problem["data"], **problem["kw"])
    params, _ = obj.natural(theta)
    out = []
    for sens in (False, True):
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            obj.predict(params, sens)
            ts.append(time.perf_counter() - t0)
        out.append(1e3 * statistics.median(ts) / len(obj.subjects))
    return out


def run(problem, repeats: int):
    rows = {}
    for grad in ("sensitivities", "fd"):
        times, fit = [], None
        for _ in range(repeats):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                fit = crsim.fit(problem["model"], problem["data"], gradient=grad, workers=1, **problem["kw"])
                times.append(time.perf_counter() - t0)
        rows[grad] = dict(fit=fit, seconds=statistics.median(times))
    a, b = rows["sensitivities"]["fit"], rows["fd"]["fit"]
    plain, sens = engine_cost(problem, max(3, repeats))
    return dict(problem=problem["name"], k=a.n_parameters,
                evals_sens=a.evaluations, evals_fd=b.evaluations, sims_sens=a.simulations,
                sims_fd=b.simulations, s_sens=rows["sensitivities"]["seconds"], s_fd=rows["fd"]["seconds"],
                d_m2ll=b.m2ll - a.m2ll,
                d_est=float(np.max(np.abs(b.estimates["theta"] - a.estimates["theta"]))),
                conv=f"{a.converged}/{b.converged}", ms_plain=plain, ms_sens=sens)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="PK problems only")
    args = ap.parse_args()
    problems = [pk1_oral_problem(), pk2_mm_problem()] + (
        [] if args.quick else [crs_problem("dopri5"), crs_problem("rosenbrock4"), crs_problem("rosenbrock4", 1e-8)])
    print(f"crsim {crsim.__version__}, Python {platform.python_version()}, {platform.machine()}, "
          f"median of {args.repeats} fits per variant (crs: {max(1, args.repeats // 3)})")
    print("| problem | estimated | objective evaluations (sens / fd / ratio) | simulations (sens / fd) "
          "| wall s (sens / fd / ratio fd:sens) | ms per simulation (plain / with sens.) | Δ(-2LL) fd-sens "
          "| max Δθ | converged |")
    print("|---|---|---|---|---|---|---|---|---|")
    with warnings.catch_warnings():  # warm-up: imports and first-call costs stay out of the timings
        warnings.simplefilter("ignore")
        crsim.fit(problems[0]["model"], problems[0]["data"], workers=1, **problems[0]["kw"])
        crsim.fit(problems[0]["model"], problems[0]["data"], workers=1, gradient="fd", **problems[0]["kw"])
    for p in problems:
        r = run(p, max(1, args.repeats // 3) if p["model"] == "crs" else args.repeats)
        print(f"| {r['problem']} | {r['k']} | {r['evals_sens']} / {r['evals_fd']} / "
              f"{r['evals_fd'] / r['evals_sens']:.1f} | {r['sims_sens']} / {r['sims_fd']} | "
              f"{r['s_sens']:.3f} / {r['s_fd']:.3f} / {r['s_fd'] / r['s_sens']:.2f} | "
              f"{r['ms_plain']:.2f} / {r['ms_sens']:.2f} | {r['d_m2ll']:+.1e} | {r['d_est']:.1e} | "
              f"{r['conv']} |", flush=True)


if __name__ == "__main__":
    main()
