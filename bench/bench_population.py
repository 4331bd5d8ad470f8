"""Virtual populations: time per patient of crsim.population (batched C++ threads, readouts only)
against a loop of crsim.simulate calls over the same patients, measured in this process.

Problems: tocilizumab (pk2_mm, 8 mg/kg, 28 days, Frey 2010 IIV of CL and Vmax) and the CRS model
(default scenario, 28 days hourly, rho and tumor burden varied). Run:
``.venv/bin/python bench/bench_population.py [--n-pk N] [--n-crs N]``. Never fails on speed.
"""
from __future__ import annotations

import argparse
import os
import time

import crsim
from crsim.model.parameter_sets import data_dir


def loop(scenario, params, k):
    t0 = time.perf_counter()
    for i in range(k):
        crsim.simulate(scenario.replace(parameters={c: float(params[c].iloc[i]) for c in params.columns})).readouts
    return (time.perf_counter() - t0) / k


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-pk", type=int, default=10_000)
    ap.add_argument("--n-crs", type=int, default=1_000)
    args = ap.parse_args()
    toci = crsim.Scenario("pk2_mm", name="toci", patient={"weight_kg": 70},
                          regimen=["8 mg/kg iv over 1h max 800mg"], horizon_days=28)
    crs = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")
    cases = [("pk2_mm, tocilizumab 8 mg/kg", toci, args.n_pk,
              {"CL": {"cv": 0.39}, "Vmax": {"cv": 0.54}}, {("CL", "Vmax"): -0.5}),
             ("crs, default scenario (default method: auto)", crs, args.n_crs, {"rho": 0.3, "tumor_burden": 1.0}, None),
             ("crs, default scenario, dopri5", crs.replace(solver=crsim.Solver(method="dopri5")), args.n_crs,
              {"rho": 0.3, "tumor_burden": 1.0}, None)]
    print(f"crsim {crsim.__version__}, {os.cpu_count()} CPUs")
    print("| population | patients | s | ms / patient | loop of crsim.simulate, ms / patient | speed-up | 100,000 patients |")
    print("|---|---|---|---|---|---|---|")
    for name, sc, n, var, corr in cases:
        t0 = time.perf_counter()
        crsim.population(sc, n, var, correlation=corr, seed=1)
        s = time.perf_counter() - t0
        params = crsim.sample_parameters(sc, min(n, 100), var, correlation=corr, seed=1)
        per_loop = loop(sc, params, len(params))
        per = s / n
        print(f"| {name} | {n} | {s:.2f} | {1e3 * per:.2f} | {1e3 * per_loop:.2f} | {per_loop / per:.1f}x | "
              f"{1e5 * per / 60:.1f} min |", flush=True)


if __name__ == "__main__":
    main()
