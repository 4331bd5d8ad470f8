"""Benchmark: a 3 x 4 intervention scan (tocilizumab trigger grade 1-3 x delay 0/6/12/24 h) on the
default CRS scenario (tisagenlecleucel, B-ALL, 28 days, hourly output) with crsim.scan (C++ threads,
GIL released), against the same 12 runs as serial crsim.simulate calls in this process.

Run: .venv/bin/python bench/bench_scan.py [repeats]. Prints a table; never fails on speed.
"""
import os
import statistics
import sys
import time

import crsim
from crsim.model.parameter_sets import data_dir

GRID = {"policy.trigger_grade": [1, 2, 3], "policy.delay_h": [0, 6, 12, 24]}


def main(repeats: int = 5) -> None:
    sc = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")
    label = crsim.strategy("tocilizumab_grade2").policies[0]
    scenarios = [sc.replace(policies=[label.replace(trigger_grade=g, delay_h=d)])
                 for g in GRID["policy.trigger_grade"] for d in GRID["policy.delay_h"]]
    crsim.simulate(scenarios[0])  # warm-up (imports, parameter-set cache of the OS)

    def serial():
        return [crsim.simulate(s).readouts for s in scenarios]

    def scan(threads):
        return crsim.scan(sc, GRID, base_policy=label, threads=threads)

    rows = []
    times = {}
    for name, fn in [("12 x crsim.simulate (serial)", serial), ("crsim.scan, 1 thread", lambda: scan(1)),
                     ("crsim.scan, 2 threads", lambda: scan(2)),
                     ("crsim.scan, default threads", lambda: scan(None))]:
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        times[name] = statistics.median(ts)
        rows.append(name)
    # The engine alone: the batch call without the Python set-up and readouts.
    from crsim.run.scan import scan_scenarios
    from crsim.scenario.resolve import resolve_scenario as prepare_scenario

    _, scs = scan_scenarios(sc, GRID, label)
    problems = [prepare_scenario(s).core for s in scs]
    cpu = {}
    for th in (1, 2):
        ts, cs = [], []
        for _ in range(repeats):
            c0, t0 = time.process_time(), time.perf_counter()
            crsim._core.simulate_batch("crs", problems, th)
            ts.append(time.perf_counter() - t0)
            cs.append(time.process_time() - c0)
        name = f"engine only: simulate_batch, {th} thread{'s' if th > 1 else ''}"
        times[name] = statistics.median(ts)
        cpu[name] = statistics.median(cs) / times[name]
        rows.append(name)

    ref = times[rows[0]]
    print(f"3 x 4 scan of the default CRS scenario, {len(scenarios)} runs of 28 days; median of {repeats}; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    print(f"| {'what':<40} | {'s':>7} | {'ms / run':>8} | {'vs serial':>9} | {'CPU / wall':>10} |")
    print(f"|{'-' * 42}|{'-' * 9}|{'-' * 10}|{'-' * 11}|{'-' * 12}|")
    for name in rows:
        t = times[name]
        c = f"{cpu[name]:.2f}" if name in cpu else "–"
        print(f"| {name:<40} | {t:7.3f} | {1000 * t / len(scenarios):8.1f} | {ref / t:8.2f}x | {c:>10} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
