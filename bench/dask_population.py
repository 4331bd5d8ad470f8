"""A large CRS population (readouts only) on a Dask LocalCluster of 2 worker processes (one thread
each), streamed to an HDF5 file: throughput per core and the client's peak memory against the
number of patients, next to the same population on this process's 2 C++ threads.

Each (backend, n) runs in a fresh client process, so its peak resident memory (ru_maxrss, the
client: drawing the parameters, the scheduler, writing the file) belongs to that run alone; the
workers' CPU time is read from the workers themselves. The smallest n is also checked patient by
patient against the local run (the same numbers, bit for bit), and from the largest n a random
sample of patients (``--check-sample K``) is run again here, on this process's threads, from the
parameter values in the file, and compared bit for bit. The workers' peak resident memory is read
from the workers. The machine's load (1-minute average) is printed before and after: the cores are
shared.

Run: ``.venv/bin/python bench/dask_population.py [--n 2000,8000,32000] [--chunk-size N]
[--check-sample K]``. The issue's target: ``--n 2000,1000000`` (about 20 min on two free cores).
Never fails on speed.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

VAR = {"rho": 0.3, "tumor_burden": 1.0}


def one(backend: str, n: int, chunk_size, path: str) -> dict:
    """One population in this process; returns its figures."""
    import crsim
    from crsim.model.parameter_sets import data_dir

    sc = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")
    kwargs = {}
    cluster = client = None
    if backend == "dask":
        import distributed

        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=":0")
        client = distributed.Client(cluster)
        kwargs = dict(client=client, chunk_size=chunk_size)
        before = sum(client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_utime
                                + resource.getrusage(resource.RUSAGE_SELF).ru_stime).values())
    else:
        kwargs = dict(threads=2)
    t0, c0 = time.perf_counter(), time.process_time()
    done = crsim.population(sc, n, VAR, seed=1, output=path, progress=False, **kwargs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    workers_cpu = workers_mb = None
    if client is not None:
        workers_cpu = sum(client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_utime
                                     + resource.getrusage(resource.RUSAGE_SELF).ru_stime).values()) - before
        workers_mb = max(client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024).values())
        client.close()
        cluster.close()
    return {"backend": backend, "n": n, "wall": wall, "client_cpu": cpu, "workers_cpu": workers_cpu,
            "workers_peak_mb": workers_mb,
            "failed": done.failed, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run(backend: str, n: int, chunk_size, path: str) -> dict:
    """One population in a fresh process."""
    out = subprocess.run([sys.executable, __file__, "--one", backend, str(n), str(chunk_size or 0), path],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def same(a: str, b: str) -> bool:
    import h5py
    import numpy as np

    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        ca, cb = fa["population/columns"], fb["population/columns"]
        return sorted(ca) == sorted(cb) and all(
            np.array_equal(ca[k][()], cb[k][()], equal_nan=ca[k].dtype.kind == "f") for k in ca)


def resample(path: str, k: int, seed: int = 7) -> tuple:
    """k random patients of a population file run again in this process from their parameter values:
    (patients compared, patients whose readouts differ in any bit)."""
    import h5py
    import numpy as np
    import pandas as pd

    import crsim
    from crsim.model.parameter_sets import data_dir
    from crsim.run.population import run_parameter_table

    sc = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")
    with h5py.File(path, "r") as f:
        cols = f["population/columns"]
        n = cols["rho"].shape[0]
        rows = np.sort(np.random.default_rng(seed).choice(n, size=min(k, n), replace=False))
        table = pd.DataFrame({c: cols[c][rows] for c in cols if cols[c].dtype.kind == "f"})
    params = table[list(VAR)]
    again = run_parameter_table(sc, params, readouts=[c for c in table.columns if c not in VAR])
    differ = 0
    for c in table.columns:
        a, b = table[c].to_numpy(), again[c].to_numpy(dtype=float)
        differ = max(differ, int((~((a == b) | (np.isnan(a) & np.isnan(b)))).sum()))
    return len(rows), differ


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="2000,8000,32000")
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--check-sample", type=int, default=1000)
    ap.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        backend, n, chunk, path = args.one
        print(json.dumps(one(backend, int(n), int(chunk) or None, path)))
        return
    sizes = [int(x) for x in args.n.split(",")]
    print(f"CRS population (default scenario, 28 days hourly, rho omega 0.3, tumor burden omega 1.0, "
          f"readouts only, streamed to HDF5); {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| backend | patients | wall s | patients / s / core | client CPU s | workers CPU s "
          "| CPU ms / patient | client peak MB | workers peak MB | failed |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for k, n in enumerate(sizes):
            for backend in (("local", "dask") if k == 0 else ("dask",)):
                r = run(backend, n, args.chunk_size, os.path.join(tmp, f"{backend}-{n}.h5"))
                wcpu = f"{r['workers_cpu']:.1f}" if r["workers_cpu"] is not None else "–"
                wmb = f"{r['workers_peak_mb']:.0f}" if r.get("workers_peak_mb") is not None else "–"
                per = 1e3 * (r["client_cpu"] + (r["workers_cpu"] or 0.0)) / n
                print(f"| {backend} {'(2 C++ threads)' if backend == 'local' else '(2 workers)'} | {n:,} | "
                      f"{r['wall']:.1f} | {n / r['wall'] / 2:.0f} | {r['client_cpu']:.1f} | {wcpu} | "
                      f"{per:.2f} | {r['peak_mb']:.0f} | {wmb} | {r['failed']} |", flush=True)
        n0 = sizes[0]
        print(f"same patients, bit for bit, dask vs local (n = {n0:,}): "
              f"{same(os.path.join(tmp, f'local-{n0}.h5'), os.path.join(tmp, f'dask-{n0}.h5'))}")
        if args.check_sample > 0:
            k, differ = resample(os.path.join(tmp, f"dask-{sizes[-1]}.h5"), args.check_sample)
            print(f"{k:,} random patients of the dask run of n = {sizes[-1]:,} run again locally: "
                  f"{differ} differ in any readout bit")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
