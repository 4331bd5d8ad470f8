"""Virtual populations: time per patient of crsim.population (batched C++ threads, readouts only)
against a loop of crsim.simulate calls over the same patients, measured in this process.

Problems: tocilizumab (pk2_mm, 8 mg/kg, 28 days, Frey 2010 IIV of CL and Vmax) and the CRS model
(default scenario, 28 days hourly, rho and tumor burden varied). Run:
``.venv/bin/python bench/bench_population.py [--n-pk N] [--n-crs N]``. Never fails on speed.

``--scaling N``: the CRS population of N patients on 1 and on 2 threads, back to back (wall and CPU
time). ``--paths N``: the CRS population of N patients with its readouts computed in the engine's
threads (the default when every readout is native) and through a Result per patient, alternating, two
rounds. ``--memory N1,N2,...``: each CRS population in a fresh process, its wall and CPU time and
peak resident memory (ru_maxrss), to show that memory stays flat in the number of patients.
The machine's load (1-minute average) is printed before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import crsim
from crsim.model.parameter_sets import data_dir


def loop(scenario, params, k):
    t0 = time.perf_counter()
    for i in range(k):
        crsim.simulate(scenario.replace(parameters={c: float(params[c].iloc[i]) for c in params.columns})).readouts
    return (time.perf_counter() - t0) / k


VAR = {"rho": 0.3, "tumor_burden": 1.0}


def crs_population(n, threads=None):
    """(wall s, CPU s) of one CRS population of n patients (default scenario, readouts only)."""
    sc = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")
    t0, c0 = time.perf_counter(), time.process_time()
    tab = crsim.population(sc, n, VAR, seed=1, threads=threads)
    assert len(tab) == n
    return time.perf_counter() - t0, time.process_time() - c0


def load():
    return f"load average {os.getloadavg()[0]:.1f}"


def scaling(n):
    crs_population(20)  # warm-up: parameter set, model tables
    print(f"CRS population of {n}, default scenario ({load()})")
    print("| threads | wall s | CPU s | ms / patient (wall) | speed-up |")
    print("|---|---|---|---|---|")
    base = None
    for th in (1, 2):
        w, c = crs_population(n, th)
        base = base or w
        print(f"| {th} | {w:.2f} | {c:.2f} | {1e3 * w / n:.3f} | {base / w:.2f}x |", flush=True)
    print(f"({load()})")


def paths(n):
    """Readouts in the engine (native) against readouts from a Result per patient, same patients."""
    from crsim.run import batches
    native = batches.native_spec
    crs_population(20)
    print(f"CRS population of {n}, default scenario, readouts in the engine vs from Results ({load()})")
    print("| readouts | wall s | CPU s | CPU ms / patient |")
    print("|---|---|---|---|")
    for _ in range(2):
        for label, spec in (("in the engine's threads", native), ("from a Result per patient", lambda m, w: None)):
            batches.native_spec = spec
            w, c = crs_population(n)
            print(f"| {label} | {w:.2f} | {c:.2f} | {1e3 * c / n:.3f} |", flush=True)
    batches.native_spec = native
    print(f"({load()})")


def memory(sizes):
    print(f"CRS populations in fresh processes ({load()})")
    print("| patients | wall s | CPU s | ms / patient (wall) | peak RSS MB |")
    print("|---|---|---|---|---|")
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        print(f"| {n} | {r['wall']:.1f} | {r['cpu']:.1f} | {1e3 * r['wall'] / n:.3f} | {r['rss_mb']:.0f} |",
              flush=True)
    print(f"({load()})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-pk", type=int, default=10_000)
    ap.add_argument("--n-crs", type=int, default=1_000)
    ap.add_argument("--scaling", type=int, default=0, metavar="N")
    ap.add_argument("--memory", default="", metavar="N1,N2,...")
    ap.add_argument("--paths", type=int, default=0, metavar="N")
    ap.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        w, c = crs_population(args.one)
        print(json.dumps({"wall": w, "cpu": c,
                          "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return
    if args.scaling or args.memory or args.paths:
        if args.paths:
            paths(args.paths)
        if args.scaling:
            scaling(args.scaling)
        if args.memory:
            memory([int(v) for v in args.memory.split(",")])
        return
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
