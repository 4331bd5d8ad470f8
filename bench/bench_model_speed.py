"""CPU time of crsim.simulate on the default CRS scenario (rosenbrock4 and dopri5), median of 15.

Run it under two builds back to back to compare them, e.g. the hand-written models (a build of
a09d54b) and the generated ones:
    /path/to/old/venv/bin/python bench/bench_model_speed.py
    .venv/bin/python bench/bench_model_speed.py
"""
import time, statistics, sys, os
import crsim
sc = crsim.Scenario.from_file(os.path.join(os.path.dirname(crsim.__file__), "data", "scenarios", "default.yaml"))
for method in ("rosenbrock4", "dopri5"):
    import dataclasses; s2 = sc.replace(solver=dataclasses.replace(sc.solver, method=method))
    kw = {}
    ts = []
    for _ in range(15):
        t0 = time.process_time(); crsim.simulate(s2, **kw); ts.append(time.process_time() - t0)
    print(method, f"{1000*statistics.median(ts):.2f} ms CPU (median of 15)")
