"""A large CRS population (readouts only) on a Dask LocalCluster of 2 worker processes (one thread
each), streamed to an HDF5 file: throughput per core and the client's peak memory against the
number of patients, next to the same population on this process's 2 C++ threads.

Each (backend, n) runs in a fresh client process, so its peak resident memory (ru_maxrss, the
client: drawing the parameters, the scheduler, writing the file) belongs to that run alone; the
workers' CPU time is read from the workers themselves. The smallest n is also checked patient by
patient against the local run (the same numbers, bit for bit). The machine's load (1-minute
average) is printed before and after: the cores are shared.

Run: ``.venv/bin/python bench/dask_population.py [--n 2000,8000,32000] [--chunk-size N]``.
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
    workers_cpu = None
    if client is not None:
        workers_cpu = sum(client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_utime
                                     + resource.getrusage(resource.RUSAGE_SELF).ru_stime).values()) - before
        client.close()
        cluster.close()
    return {"backend": backend, "n": n, "wall": wall, "client_cpu": cpu, "workers_cpu": workers_cpu,
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="2000,8000,32000")
    ap.add_argument("--chunk-size", type=int, default=None)
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
          "| client peak MB |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for k, n in enumerate(sizes):
            for backend in (("local", "dask") if k == 0 else ("dask",)):
                r = run(backend, n, args.chunk_size, os.path.join(tmp, f"{backend}-{n}.h5"))
                wcpu = f"{r['workers_cpu']:.1f}" if r["workers_cpu"] is not None else "–"
                print(f"| {backend} {'(2 C++ threads)' if backend == 'local' else '(2 workers)'} | {n:,} | "
                      f"{r['wall']:.1f} | {n / r['wall'] / 2:.0f} | {r['client_cpu']:.1f} | {wcpu} | "
                      f"{r['peak_mb']:.0f} |", flush=True)
        n0 = sizes[0]
        print(f"same patients, bit for bit, dask vs local (n = {n0:,}): "
              f"{same(os.path.join(tmp, f'local-{n0}.h5'), os.path.join(tmp, f'dask-{n0}.h5'))}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
