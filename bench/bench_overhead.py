"""The Python share of one ``crsim.simulate`` call (issue #11 item 4).

The default CRS scenario (``crsim.example('default')``: tisagenlecleucel in paediatric B-ALL, 28 days,
hourly outputs) with ``method="dopri5"``:

- engine: ``crsim._core.simulate`` on arguments prepared once (the C++ integration alone);
- scenario: ``crsim.simulate(scenario)`` (checks, model, parameter set, conversion, Result);
- kwargs: ``crsim.simulate("crs", times=..., doses=..., weight=..., method="dopri5")`` (the same
  output times, doses and weight as the scenario).

CPU time of the process (``time.process_time``), median of ``--runs`` calls after a warm-up; the
Python share is (call - engine) / engine. Prints a table; never fails on speed.

    python bench/bench_overhead.py [--runs 200]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import crsim
from crsim import _core


def _median_cpu(fn, runs: int) -> float:
    for _ in range(5):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        out.append(time.process_time() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()

    sc = crsim.Scenario.from_file(crsim.example("default"))
    sc = sc.replace(solver=crsim.Solver(method="dopri5"))
    res = crsim.simulate(sc)
    # the engine's arguments as crsim.simulate passes them, prepared once
    from crsim.scenario.resolve import resolve_scenario as prepare_scenario

    c = prepare_scenario(sc).core
    name = sc.model

    def engine():
        _core.simulate(name, c["parameters"], c["doses"], c["times"], c["weight_kg"], c["t_start"],
                       c["initial"], c["options"], c["sensitivities"], c["policies"])

    weight = res.weight
    doses = list(res.scenario.doses)
    times = res.times

    def scenario_call():
        crsim.simulate(sc)

    def kwargs_call():
        crsim.simulate(name, times=times, doses=doses, weight=weight, method="dopri5")

    load = os.getloadavg()
    t_engine = _median_cpu(engine, args.runs)
    rows = [("engine only (_core.simulate)", t_engine)]
    for label, fn in (("crsim.simulate(scenario)", scenario_call),
                      ("crsim.simulate(name, times=..., ...)", kwargs_call)):
        rows.append((label, _median_cpu(fn, args.runs)))
    print(f"default CRS scenario, dopri5, {len(c['times'])} output times; CPU time, median of "
          f"{args.runs}; load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'call':<40} {'ms':>8} {'Python share of engine time':>28}")
    for label, t in rows:
        share = "" if t is t_engine else f"{100 * (t - t_engine) / t_engine:.0f} %"
        print(f"{label:<40} {1e3 * t:>8.2f} {share:>28}")


if __name__ == "__main__":
    main()
