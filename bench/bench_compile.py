"""Benchmark: compiling users' own models at run time (crsim.Model.from_antimony).

For generated models of N states (a depot, a transit chain, a two-compartment PK with saturable
elimination, an indirect-response effect with a Hill term (coefficient 2), a cell population and a cytokine with a
piecewise rate) it prints

  * compile s: the first crsim.Model.from_antimony in an empty cache (code generation, the C++
    compiler, loading), in this process, wall time and the compiler's CPU time;
  * cache hit, s: the same call in a fresh process with the cache filled (generation, hashing,
    dlopen; Python start-up and ``import crsim`` not counted), and in this process after the first
    load (the in-process memo);

and with ``--opt`` the trade-off between optimisation levels on the 30-state model: compile time
against the run time (CPU time of the calling thread, median) of a 7-day simulation (rosenbrock4,
Jacobians by AD) and of the same with forward sensitivities to 4 parameters. Never fails on speed. Usage:

    .venv/bin/python bench/bench_compile.py [--states 6 15 30] [--opt] [--repeats 20]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np


def model_text(n: int) -> str:
    """An Antimony model of ``n`` >= 6 states."""
    if n < 6:
        raise SystemExit("--states: at least 6")
    k = n - 6
    lines = [f"model bench{n}()",
             "  depot = 0; central = 0; peripheral = 0; effect = 1; cells = 10; cytokine = 1"]
    lines += [f"  tr{i} = 0" for i in range(k)]
    lines += ["  ka = 1.2; ktr = 3.0; CL = 0.5; V1 = 10; Q = 1.1; V2 = 25; Vmax = 2; Km = 0.7",
              "  kin = 1.0; kout = 1.0; Emax = 3; EC50 = 0.4; kg = 0.05; Nmax = 1000",
              "  kkill = 0.2; ksyn = 2; kdeg = 1.5; kstim = 0.01",
              "  C := central/V1",
              "  stim := Emax*C^2/(EC50^2 + C^2)",
              "  depot' = -ka*depot"]
    inflow = "ka*depot"
    for i in range(k):
        lines.append(f"  tr{i}' = {inflow} - ktr*tr{i}")
        inflow = f"ktr*tr{i}"
    lines += [f"  central' = {inflow} - CL*C - Q*(C - peripheral/V2) - Vmax*C/(Km + C)",
              "  peripheral' = Q*(C - peripheral/V2)",
              "  effect' = kin*(1 + stim) - kout*effect",
              "  cells' = kg*cells*(1 - cells/Nmax) - kkill*stim*cells",
              "  cytokine' = ksyn*(1 + kstim*cells) - kdeg*cytokine*piecewise(2, effect > 2, 1)",
              "  E := effect",
              "end"]
    return "\n".join(lines) + "\n"


HIT = """\
import sys, time
import crsim
text = open(sys.argv[1]).read()
t0 = time.perf_counter()
crsim.Model.from_antimony(text)
import crsim.model.usermodels as um
print(time.perf_counter() - t0, um.compiles)
"""


def fresh_process_hit(text: str, cache: str) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".ant", delete=False) as fh:
        fh.write(text)
    try:
        out = subprocess.run([sys.executable, "-c", HIT, fh.name], capture_output=True, text=True,
                             env=dict(os.environ, CRSIM_CACHE_DIR=cache), check=True)
    finally:
        os.unlink(fh.name)
    seconds, compiles = out.stdout.split()
    assert compiles == "0", "the fresh process compiled: no cache hit"
    return float(seconds)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed_load(text: str):
    """(wall s, CPU s of the compiler) of one crsim.Model.from_antimony."""
    import crsim

    c0, t0 = children_cpu(), time.perf_counter()
    m = crsim.Model.from_antimony(text)
    return m, time.perf_counter() - t0, children_cpu() - c0


def compile_table(sizes, cache: str) -> None:
    import crsim

    print("| states | compile s (wall) | compiler CPU s | cache hit, new process, s | "
          "cache hit, same process, s |")
    print("|---|---|---|---|---|")
    for n in sizes:
        text = model_text(n)
        _, t_compile, cpu = timed_load(text)
        t_new = fresh_process_hit(text, cache)
        t0 = time.perf_counter()
        crsim.Model.from_antimony(text)
        t_same = time.perf_counter() - t0
        print(f"| {n} | {t_compile:.1f} | {cpu:.1f} | {t_new:.3f} | {t_same:.1e} |", flush=True)


def run_times(name: str, repeats: int):
    import crsim

    dose = [crsim.Dose("depot", 10, unit="1", interval=24, additional=6)]
    times = np.arange(0, 7 * 24 + 1e-9, 1.0)

    def median(**kw):  # CPU time of this thread (the engine runs in it): robust to a busy machine
        crsim.simulate(name, times=times, doses=dose, **kw)
        ts = []
        for _ in range(repeats):
            t0 = time.thread_time()
            crsim.simulate(name, times=times, doses=dose, **kw)
            ts.append(time.thread_time() - t0)
        return 1e3 * float(np.median(ts))

    return median(), median(sensitivities=["CL", "ka", "EC50", "kkill"])


def opt_table(repeats: int) -> None:
    import crsim
    import crsim.model.usermodels as um

    text = model_text(30)
    base = list(um.COMPILE_FLAGS)
    os.environ["CRSIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="crsim-bench-opt-")  # compile each
    print("| flags (30 states) | compile s (wall) | compiler CPU s | CPU ms / simulation | "
          "CPU ms / simulation with 4 sensitivities |")
    print("|---|---|---|---|---|")
    try:
        for level in ("-O1", "-O2", "-O3"):
            um.COMPILE_FLAGS[:] = [level] + [f for f in base if not f.startswith("-O")]
            um._memo.clear()
            m, t_compile, cpu = timed_load(text)
            plain, sens = run_times(m.name, repeats)
            print(f"| {level} | {t_compile:.1f} | {cpu:.1f} | {plain:.2f} | {sens:.2f} |", flush=True)
    finally:
        um.COMPILE_FLAGS[:] = base
        shutil.rmtree(os.environ["CRSIM_CACHE_DIR"], ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--states", type=int, nargs="+", default=[6, 15, 30])
    ap.add_argument("--opt", action="store_true", help="compare -O1/-O2/-O3 on 30 states")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="crsim-bench-cache-") as cache:
        os.environ["CRSIM_CACHE_DIR"] = cache  # an empty cache: every first load compiles
        print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs\n")
        compile_table(args.states, cache)
        if args.opt:
            print()
            opt_table(args.repeats)


if __name__ == "__main__":
    main()
