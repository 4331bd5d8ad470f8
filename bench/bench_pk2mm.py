"""Benchmark: two-compartment model with parallel linear and Michaelis-Menten elimination
(tocilizumab, Frey 2010 typical values) under repeated 1-h IV infusions, simulated

  (a) through crsim (rosenbrock4 and dopri5), and
  (b) through scipy.integrate.solve_ivp(method="LSODA") on the same equations, with the same
      tolerances, restarted at the same discontinuities (infusion starts and stops),

printing the time per simulation of each (crsim both as crsim.simulate, which checks the arguments
and builds a Result, and as the engine call alone on prepared arguments), their ratios against LSODA
measured in this same process,
crsim's right-hand-side and Jacobian evaluation counts, and the largest difference between the
solutions. Never fails on speed. Usage: .venv/bin/python bench/bench_pk2mm.py [--repeats N]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.integrate import solve_ivp

import crsim

CL, V1, Q, V2, VMAX, KM = 0.0125, 3.5, 0.00833, 2.9, 0.3125, 2.7  # L/h, L, L/h, L, mg/h, mg/L
DOSE_MG, INF_H, TAU_H, N_DOSES = 560.0, 1.0, 24.0 * 28, 6        # 8 mg/kg at 70 kg, q4w x 6
RTOL, ATOL = 1e-8, 1e-10
TIMES = np.arange(0.0, 24.0 * 7 * 26 + 1e-9, 24.0)                 # daily for 26 weeks


def rhs(t, a, rate):
    c = a[0] / V1
    lin, mm, flow = CL * c, VMAX * c / (KM + c), Q * (c - a[1] / V2)
    return [rate - lin - mm - flow, flow, lin, mm]


def run_scipy():
    """LSODA piecewise between the infusion starts and stops (the same restarts crsim makes)."""
    starts = [k * TAU_H for k in range(N_DOSES)]
    bounds = sorted({0.0, TIMES[-1], *starts, *[s + INF_H for s in starts]})
    y = np.zeros(4)
    out = np.empty((TIMES.size, 4))
    out[0] = y
    nfev = 0
    for a, b in zip(bounds[:-1], bounds[1:]):
        rate = DOSE_MG / INF_H if any(s <= a < s + INF_H for s in starts) else 0.0
        inside = (TIMES > a) & (TIMES < b)
        t_eval = np.append(TIMES[inside], b)
        sol = solve_ivp(rhs, (a, b), y, method="LSODA", t_eval=t_eval, rtol=RTOL, atol=ATOL,
                        args=(rate,))
        if not sol.success:
            raise RuntimeError(sol.message)
        nfev += sol.nfev
        out[inside] = sol.y[:, :-1].T
        y = sol.y[:, -1]
        out[TIMES == b] = y
    return out, nfev


def run_crsim(method):
    dose = crsim.Dose("central", DOSE_MG, duration=INF_H, additional=N_DOSES - 1, interval=TAU_H)
    return crsim.simulate("pk2_mm", times=TIMES, doses=[dose], method=method, rtol=RTOL, atol=ATOL)


def engine_call(method):
    """The engine alone: crsim._core.simulate on arguments prepared once."""
    from crsim import _core
    from crsim.scenario.resolve import resolve_call as prepare

    dose = crsim.Dose("central", DOSE_MG, duration=INF_H, additional=N_DOSES - 1, interval=TAU_H)
    p = prepare("pk2_mm", times=TIMES, doses=[dose], method=method, rtol=RTOL, atol=ATOL)
    c = p.core
    return lambda: _core.simulate(p.model.name, c["parameters"], c["doses"], c["times"], c["weight_kg"],
                                  c["t_start"], c["initial"], c["options"], c["sensitivities"],
                                  c["policies"])


def timed(fn, repeats):
    best = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t0)
    return float(np.median(best))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()

    ref, nfev_scipy = run_scipy()
    t_scipy = timed(run_scipy, max(3, args.repeats // 4))
    rows = [("scipy LSODA", t_scipy, 1.0, nfev_scipy, "-", 0.0)]
    for method in ("rosenbrock4", "dopri5"):
        res = run_crsim(method)
        err = float(np.max(np.abs(res.states - ref) / (np.abs(ref) + 1e-6)))
        t = timed(lambda: run_crsim(method), args.repeats)
        rows.append((f"crsim {method}", t, t_scipy / t, res.stats["rhs_evaluations"],
                     res.stats["jacobian_evaluations"], err))
        t = timed(engine_call(method), args.repeats)
        rows.append((f"  engine only", t, t_scipy / t, res.stats["rhs_evaluations"],
                     res.stats["jacobian_evaluations"], err))

    print(f"pk2_mm, {N_DOSES} x {DOSE_MG:g} mg 1-h infusions q{TAU_H / 24:g}d, {TIMES.size} daily outputs, "
          f"rtol={RTOL:g} atol={ATOL:g}")
    print(f"{'solver':<20}{'ms/sim':>10}{'speed-up vs LSODA':>20}{'rhs evals':>12}{'jac evals':>11}"
          f"{'max rel diff':>14}")
    for name, t, ratio, nf, nj, err in rows:
        print(f"{name:<20}{t * 1e3:>10.3f}{ratio:>20.1f}{nf:>12}{nj!s:>11}{err:>14.2e}")


if __name__ == "__main__":
    main()
