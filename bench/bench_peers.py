"""crsim against libRoadRunner and scipy LSODA on the same equations, back to back in one process
(issue 12 item 4): CPU and wall time per simulation and a work-precision table, so that speed
ratios are read at matched accuracy.

Problems
  pk2_mm  tocilizumab PK (Frey 2010): 6 x 560 mg 1-h infusions every 28 days, daily outputs for 26
          weeks (bench_pk2mm.py's course).
  crs     the default CRS scenario (data/scenarios/default.yaml: tisagenlecleucel 3e6 cells/kg, the
          B-ALL set's 35 kg patient, untreated, 28 days, hourly outputs).
  robertson  Robertson's stiff kinetics to 1e5 h, 81 log-spaced outputs (the issue's "stiff problem").

Tools (every one on the equations of crsim's SBML export, crsim.to_sbml(model))
  crsim        methods auto (the default), rosenbrock4, dopri5; "engine" is crsim._core.simulate on
               arguments prepared once, "simulate" is crsim.simulate(...) with everything it checks
               and builds.
  roadrunner   libRoadRunner (CVODE BDF, its default; Adams as well) on the exported SBML, infusions as
               a rate parameter added to the dosed state's rate rule and switched between segments
               (the same restarts crsim makes); the CAR-T dose as the initial effector count. Timed:
               reset + set values + simulate (the model is loaded once, its load time printed).
  lsoda        scipy.integrate.solve_ivp(method="LSODA") on a Python right-hand side generated from the
               same SBML (straight-line code, parameter-only terms computed once), restarted at the
               same discontinuities.

Accuracy: every tool's states at every output time against a reference, crsim rosenbrock4 at
rtol 1e-12 (atol 1e-14 of the state's unit scale); error = max over states and times of
|x - ref| / (|ref| + 1e-6 max|ref| of that state + 1e-12). The reference is checked against roadrunner at
rtol 1e-12 (printed). Tolerances swept: rtol 1e-6, 1e-8, 1e-10 (crsim; the peers also 1e-12, as
their errors are larger at the same tolerance) with atol = rtol / 100 (the scenario default is
rtol 1e-8, atol 1e-10). "Matched accuracy" ratios interpolate each tool's cost
at the error crsim reaches (log-log, between its measured points).

Usage: python bench/bench_peers.py [--repeats N] [--quick] [--skip-lsoda] [--problems pk2_mm,crs,robertson]
Needs libroadrunner (pip install libroadrunner) and python-libsbml; without libRoadRunner its rows
are skipped with a message. Never fails on speed; prints markdown tables and the machine's load.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import math
import os
import platform
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from scipy.integrate import solve_ivp

import crsim
from crsim import _core

RTOLS = (1e-6, 1e-8, 1e-10)           # crsim
PEER_RTOLS = (1e-6, 1e-8, 1e-10, 1e-12)  # roadrunner, LSODA: down to errors crsim reaches
ATOL_FACTOR = 1e-2
REF_RTOL, REF_ATOL = 1e-12, 1e-14
FLOOR = 1e-6

# --- problems ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Problem:
    name: str
    model: str
    times: np.ndarray
    # (target state, start h, end h, rate in state units / h) infusions; boluses at 0 go in x0
    infusions: List[Tuple[str, float, float, float]]
    initial_changes: Dict[str, float]  # state -> value set after reset (boluses at t = 0)
    simulate_kw: Dict[str, object]     # crsim.simulate arguments (or a Scenario under "scenario")


def pk2mm_problem() -> Problem:
    dose, inf_h, tau, n = 560.0, 1.0, 24.0 * 28, 6
    times = np.arange(0.0, 24.0 * 7 * 26 + 1e-9, 24.0)
    infusions = [("central", k * tau, k * tau + inf_h, dose / inf_h) for k in range(n)]
    doses = [crsim.Dose("central", dose, duration=inf_h, additional=n - 1, interval=tau)]
    return Problem("pk2_mm", "pk2_mm", times, infusions, {}, dict(times=times, doses=doses))


def robertson_problem() -> Problem:
    times = np.concatenate([[0.0], np.logspace(-5, 5, 81)])
    return Problem("robertson", "robertson", times, [], {}, dict(times=times))


def crs_problem() -> Problem:
    sc = crsim.Scenario.from_file(os.path.join(os.path.dirname(crsim.__file__), "data", "scenarios",
                                               "default.yaml"))
    res = crsim.simulate(sc)
    weight = crsim.Model("crs", parameter_set=sc.parameter_set).patient["body_weight"]
    return Problem("crs", "crs", np.asarray(res.times), [],
                   {"car_t_effector": 3e6 * weight}, dict(scenario=sc))


# --- crsim -----------------------------------------------------------------------------------------


def crsim_calls(pb: Problem, method: str, rtol: float, atol: float):
    """(engine call, simulate call) for one method and tolerance."""
    from crsim.scenario.resolve import resolve_scenario as prepare_scenario
    from crsim.scenario.resolve import resolve_call as prepare

    if "scenario" in pb.simulate_kw:
        sc = pb.simulate_kw["scenario"]
        sc = sc.replace(solver=dataclasses.replace(sc.solver, method=method, rtol=rtol, atol=atol))
        prep = prepare_scenario(sc)
        sim = lambda: crsim.simulate(sc)  # noqa: E731
    else:
        kw = dict(pb.simulate_kw, method=method, rtol=rtol, atol=atol)
        prep = prepare(pb.model, **kw)
        sim = lambda: crsim.simulate(pb.model, **kw)  # noqa: E731
    c = prep.core

    def engine():
        return _core.simulate(prep.model.name, c["parameters"], c["doses"], c["times"], c["weight_kg"],
                              c["t_start"], c["initial"], c["options"], c["sensitivities"], c["policies"])
    return engine, sim


# --- the exported SBML as a Python right-hand side (for LSODA) --------------------------------------


def python_rhs(sbml: str):
    """(state ids, rhs(t, y, rates) -> list, parameter values) compiled from crsim's model IR of
    the SBML text: straight-line Python, intermediates that depend on parameters only computed once."""
    import libsbml as ls
    from crsim import modelgen

    doc, meta = modelgen.load(sbml)
    ir = modelgen.build(doc, meta)
    names = {p.id: f"p_{p.id}" for p in ir.parameters}
    names.update({s.id: f"x_{s.id}" for s in ir.states})
    names.update({k: f"v_{k}" for k in ir.intermediates})
    fn = {ls.AST_FUNCTION_EXP: "exp", ls.AST_FUNCTION_LN: "log", ls.AST_FUNCTION_ABS: "abs",
          ls.AST_FUNCTION_SIN: "sin", ls.AST_FUNCTION_COS: "cos", ls.AST_FUNCTION_TAN: "tan",
          ls.AST_FUNCTION_TANH: "tanh", ls.AST_FUNCTION_FLOOR: "floor", ls.AST_FUNCTION_CEILING: "ceil"}
    rel = {ls.AST_RELATIONAL_LT: "<", ls.AST_RELATIONAL_GT: ">", ls.AST_RELATIONAL_LEQ: "<=",
           ls.AST_RELATIONAL_GEQ: ">=", ls.AST_RELATIONAL_EQ: "==", ls.AST_RELATIONAL_NEQ: "!="}

    def py(node) -> str:
        if node is None:
            return "0.0"
        t = node.getType()
        ch = [node.getChild(i) for i in range(node.getNumChildren())]
        a = [py(c) for c in ch]
        if t == ls.AST_INTEGER:
            return repr(float(node.getInteger()))
        if t in (ls.AST_REAL, ls.AST_REAL_E, ls.AST_RATIONAL):
            return repr(float(node.getValue()))
        if t == ls.AST_NAME:
            return names[node.getName()]
        if t == ls.AST_NAME_TIME:
            return "t"
        if t == ls.AST_CONSTANT_E:
            return repr(math.e)
        if t == ls.AST_CONSTANT_PI:
            return repr(math.pi)
        if t in (ls.AST_CONSTANT_TRUE, ls.AST_CONSTANT_FALSE):
            return "True" if t == ls.AST_CONSTANT_TRUE else "False"
        if t == ls.AST_PLUS:
            return "(" + " + ".join(a) + ")" if a else "0.0"
        if t == ls.AST_MINUS:
            return f"(-{a[0]})" if len(a) == 1 else f"({a[0]} - {a[1]})"
        if t == ls.AST_TIMES:
            return "(" + " * ".join(a) + ")" if a else "1.0"
        if t == ls.AST_DIVIDE:
            return f"({a[0]} / {a[1]})"
        if t in (ls.AST_POWER, ls.AST_FUNCTION_POWER):
            return f"_pow({a[0]}, {a[1]})"
        if t == ls.AST_FUNCTION_ROOT:
            return f"sqrt({a[0]})" if len(a) == 1 else f"_pow({a[1]}, 1.0 / {a[0]})"
        if t == ls.AST_FUNCTION_LOG:
            return f"log10({a[0]})" if len(a) == 1 else f"(log({a[1]}) / log({a[0]}))"
        if t in fn:
            return f"{fn[t]}({a[0]})"
        if t == ls.AST_FUNCTION_MIN:
            return f"min({', '.join(a)})"
        if t == ls.AST_FUNCTION_MAX:
            return f"max({', '.join(a)})"
        if t in rel:
            return "(" + " and ".join(f"{a[i]} {rel[t]} {a[i + 1]}" for i in range(len(a) - 1)) + ")"
        if t == ls.AST_LOGICAL_AND:
            return "(" + " and ".join(a) + ")"
        if t == ls.AST_LOGICAL_OR:
            return "(" + " or ".join(a) + ")"
        if t == ls.AST_LOGICAL_NOT:
            return f"(not {a[0]})"
        if t == ls.AST_FUNCTION_PIECEWISE:
            out = a[-1] if len(a) % 2 else "0.0"  # (value, condition) pairs, then "otherwise"
            for i in range(len(a) - 2 - len(a) % 2, -1, -2):
                out = f"({a[i]} if {a[i + 1]} else {out})"
            return out
        raise NotImplementedError(ls.formulaToL3String(node))

    def deps(node) -> bool:
        """Whether node depends on time or a state (through intermediates)."""
        from crsim.modelgen.ir import names_in
        if node is None:
            return False
        if node_time(node):
            return True
        for n in names_in(node):
            if n in state_ids:
                return True
            if n in ir.intermediates and n in dynamic:
                return True
        return False

    def node_time(node) -> bool:
        if node.getType() == ls.AST_NAME_TIME:
            return True
        return any(node_time(node.getChild(i)) for i in range(node.getNumChildren()))

    state_ids = {s.id for s in ir.states}
    dynamic = set()
    for k, inter in ir.intermediates.items():
        if deps(inter.expr):
            dynamic.add(k)
    const_lines = [f"{names[p.id]} = {float(p.value)!r}" for p in ir.parameters]
    const_lines += [f"{names[k]} = {py(v.expr)}" for k, v in ir.intermediates.items() if k not in dynamic]
    body = [f"    {names[s.id]} = y[{i}]" for i, s in enumerate(ir.states)]
    body += [f"    {names[k]} = {py(v.expr)}" for k, v in ir.intermediates.items() if k in dynamic]
    body += ["    return [" + ", ".join(f"{py(s.rate)} + r[{i}]" for i, s in enumerate(ir.states)) + "]"]
    src = ("from math import exp, log, log10, sqrt, sin, cos, tan, tanh, floor, ceil\n"
           "def _pow(a, b):\n    return 0.0 if a == 0.0 and b > 0 else a ** b\n"
           + "\n".join(const_lines) + "\n"
           + "def rhs(t, y, r):\n" + "\n".join(body) + "\n")
    env: Dict[str, object] = {}
    exec(compile(src, f"<{ir.name} rhs>", "exec"), env)
    return [s.id for s in ir.states], env["rhs"]


def lsoda_runner(pb: Problem, x0: np.ndarray, rtol: float, atol: float):
    state_ids, rhs = python_rhs(crsim.to_sbml(pb.model))
    index = {s: i for i, s in enumerate(state_ids)}
    times = pb.times
    bounds = sorted({float(times[0]), float(times[-1])} | {b for _, s, e, _ in pb.infusions for b in (s, e)
                                                           if times[0] <= b <= times[-1]})

    def run():
        y = np.array(x0, dtype=float)
        out = np.empty((times.size, y.size))
        out[0] = y
        for a, b in zip(bounds[:-1], bounds[1:]):
            r = [0.0] * y.size
            for target, s, e, rate in pb.infusions:
                if s <= a < e:
                    r[index[target]] += rate
            inside = (times > a) & (times < b)
            sol = solve_ivp(rhs, (a, b), y, method="LSODA", t_eval=np.append(times[inside], b),
                            rtol=rtol, atol=atol, args=(r,))
            if not sol.success:
                raise RuntimeError(sol.message)
            out[inside] = sol.y[:, :-1].T
            y = sol.y[:, -1]
            out[times == b] = y
        return out
    return run, state_ids


# --- libRoadRunner -----------------------------------------------------------------------------------


def roadrunner_runner(pb: Problem, rtol: float, atol: float, stiff: bool = True):
    import libsbml as ls
    import roadrunner

    doc = ls.readSBMLFromString(crsim.to_sbml(pb.model))
    model = doc.getModel()
    targets = sorted({t for t, _, _, _ in pb.infusions})
    for target in targets:  # rate rule of the dosed state + a switched infusion rate
        p = model.createParameter()
        p.setId(f"inf_{target}")
        p.setConstant(False)
        p.setValue(0.0)
        rule = model.getRateRule(target)
        rule.setMath(ls.parseL3Formula(f"({ls.formulaToL3String(rule.getMath())}) + inf_{target}"))
    t0 = time.perf_counter()
    rr = roadrunner.RoadRunner(ls.writeSBMLToString(doc))
    load_s = time.perf_counter() - t0
    rr.integrator = "cvode"
    rr.integrator.relative_tolerance = rtol
    rr.integrator.absolute_tolerance = atol
    rr.integrator.maximum_num_steps = 1_000_000
    rr.integrator.stiff = stiff
    ir_states = list(crsim.Model(pb.model).state_names)  # SBML ids of the states (= crsim names)
    sel = ["time"] + ir_states
    times = pb.times
    bounds = sorted({float(times[0]), float(times[-1])} | {b for _, s, e, _ in pb.infusions for b in (s, e)
                                                           if times[0] <= b <= times[-1]})

    def run():
        rr.resetAll()
        for k, v in pb.initial_changes.items():
            rr[k] = v
        if len(bounds) == 2:
            return rr.simulate(times=times, selections=sel)[:, 1:]
        out = np.empty((times.size, len(ir_states)))
        for a, b in zip(bounds[:-1], bounds[1:]):
            for target in targets:
                rr[f"inf_{target}"] = sum(rate for tg, s, e, rate in pb.infusions if tg == target and s <= a < e)
            inside = (times >= a) & (times <= b)
            seg = np.unique(np.concatenate([[a], times[inside], [b]]))
            res = rr.simulate(times=seg, selections=sel)
            keep = np.isin(res[:, 0], times)
            out[np.isin(times, res[keep, 0])] = res[keep, 1:]
        return out
    return run, load_s


# --- measurement -------------------------------------------------------------------------------------


def cpu_wall(fn: Callable[[], object], repeats: int) -> Tuple[float, float]:
    """Median CPU and wall seconds per call (after one warm-up call)."""
    fn()
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def error(x: np.ndarray, ref: np.ndarray) -> float:
    """max |x - ref| / (|ref| + 1e-6 max|ref| of the state + 1e-12): relative, with a floor for
    values near 0 and for states that stay 0 (a drug never given: 0 in crsim, round-off in CVODE)."""
    scale = np.max(np.abs(ref), axis=0)
    return float(np.max(np.abs(x - ref) / (np.abs(ref) + FLOOR * scale[None, :] + 1e-12)))


def interp_cost(points: List[Tuple[float, float]], err: float) -> Optional[float]:
    """Cost at error `err` by log-log interpolation of (error, cost) points; None outside them."""
    pts = sorted((e, c) for e, c in points if e > 0 and math.isfinite(e))
    for (e1, c1), (e2, c2) in zip(pts, pts[1:]):
        if e1 <= err <= e2:
            if e1 == e2:
                return min(c1, c2)
            w = (math.log(err) - math.log(e1)) / (math.log(e2) - math.log(e1))
            return math.exp(math.log(c1) + w * (math.log(c2) - math.log(c1)))
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--quick", action="store_true", help="3 repeats, LSODA once per tolerance")
    ap.add_argument("--skip-lsoda", action="store_true")
    ap.add_argument("--problems", default="pk2_mm,crs,robertson")
    args = ap.parse_args()
    repeats = 3 if args.quick else args.repeats

    load0 = os.getloadavg()
    print(f"# bench_peers.py, {datetime.datetime.now().isoformat(timespec='minutes')}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"crsim {crsim.__version__}")
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    try:
        import roadrunner
        print(f"libRoadRunner {roadrunner.__version__}")
    except ImportError:
        roadrunner = None
        print("libRoadRunner not installed (pip install libroadrunner): its rows are skipped")
    import scipy
    print(f"scipy {scipy.__version__}")

    for name in args.problems.split(","):
        pb = {"pk2_mm": pk2mm_problem, "crs": crs_problem, "robertson": robertson_problem}[name]()
        if not hasattr(crsim, "to_sbml"):
            print(f"\n## {name}: crsim.to_sbml is not available in this crsim: roadrunner and LSODA skipped")
        # the reference
        eng, _ = crsim_calls(pb, "rosenbrock4", REF_RTOL, REF_ATOL)
        raw = eng()
        ref = np.asarray(raw["states"])
        x0 = ref[0]
        rows = []  # (tool, variant, rtol, cpu engine, wall engine, cpu simulate, wall simulate, error, steps)
        for method in ("auto", "rosenbrock4", "dopri5"):
            for rtol in RTOLS:
                atol = rtol * ATOL_FACTOR
                eng, sim = crsim_calls(pb, method, rtol, atol)
                try:
                    out = eng()
                except crsim.SolverError as ex:  # dopri5 on a stiff problem runs out of steps
                    rows.append(("crsim", method, rtol, None, None, None, None, math.inf,
                                 "fails: " + str(ex).split(": ", 1)[-1].split(";")[0]))
                    continue
                e = error(np.asarray(out["states"]), ref)
                ce, we = cpu_wall(eng, repeats)
                cs, ws = cpu_wall(sim, repeats)
                st = out["stats"]
                used = st.get("method_used", method)
                rows.append(("crsim", method, rtol, ce, we, cs, ws, e,
                             f"{st['steps']} steps ({used}), {st['jacobian_evaluations']} Jacobians"))
        if roadrunner is not None and hasattr(crsim, "to_sbml"):
            check, _ = roadrunner_runner(pb, REF_RTOL, REF_ATOL)
            ref_check = error(check(), ref)
            print(f"\n{pb.name}: roadrunner at rtol {REF_RTOL:g} vs the crsim reference: {ref_check:.1e} "
                  "(transcription check)")
            for stiff in (True, False):
                for rtol in PEER_RTOLS:
                    variant = "CVODE BDF" if stiff else "CVODE Adams"
                    run, load_s = roadrunner_runner(pb, rtol, rtol * ATOL_FACTOR, stiff)
                    try:
                        e = error(run(), ref)
                    except RuntimeError as ex:  # Adams on a stiff problem: CV_TOO_MUCH_WORK
                        rows.append(("roadrunner", variant, rtol, None, None, None, None, math.inf,
                                     "fails: " + str(ex).split(";")[0][:60]))
                        continue
                    c, w = cpu_wall(run, repeats)
                    rows.append(("roadrunner", variant, rtol, c, w, None, None, e,
                                 f"model load {load_s * 1e3:.0f} ms"))
        if not args.skip_lsoda and hasattr(crsim, "to_sbml"):
            for rtol in PEER_RTOLS:
                run, _ = lsoda_runner(pb, x0, rtol, rtol * ATOL_FACTOR)
                e = error(run(), ref)
                c, w = cpu_wall(run, 1 if (args.quick or pb.name == "crs") else max(3, repeats // 3))
                rows.append(("scipy", "LSODA (Python rhs)", rtol, c, w, None, None, e, ""))
        report(pb, rows)
    load1 = os.getloadavg()
    print(f"\nload average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


def report(pb: Problem, rows) -> None:
    print(f"\n## {pb.name}: {len(pb.times)} output times, atol = rtol x {ATOL_FACTOR:g}; ms per simulation "
          "(median CPU / wall); error vs the reference")
    print("\n| tool | variant | rtol | CPU ms (engine) | wall ms (engine) | CPU ms (crsim.simulate) | "
          "wall ms (crsim.simulate) | error | notes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for tool, var, rtol, ce, we, cs, ws, e, note in rows:
        f = lambda v: "–" if v is None else f"{v * 1e3:.3g}"  # noqa: E731
        print(f"| {tool} | {var} | {rtol:g} | {f(ce)} | {f(we)} | {f(cs)} | {f(ws)} | "
              f"{'–' if math.isinf(e) else f'{e:.1e}'} | {note} |")
    # matched accuracy: each crsim row against the peers' cost at the same error
    peers = {}
    for tool, var, rtol, ce, we, cs, ws, e, note in rows:
        if tool != "crsim" and ce is not None:
            peers.setdefault(f"{tool} {var}", []).append((e, ce))
    if not peers:
        return
    print(f"\n{pb.name}, matched accuracy: peer CPU time at crsim's error (log-log interpolated between the "
          "peer's measured tolerances) over crsim's CPU time; > 1 = crsim faster")
    names = sorted(peers)
    print("\n| crsim | rtol | error | " + " | ".join(f"vs {n} (engine / simulate)" for n in names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for tool, var, rtol, ce, we, cs, ws, e, note in rows:
        if tool != "crsim" or ce is None:
            continue
        cells = []
        for n in names:
            c = interp_cost(peers[n], e)
            cells.append("outside" if c is None else f"{c / ce:.2g}× / {c / cs:.2g}×")
        print(f"| {var} | {rtol:g} | {e:.1e} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
