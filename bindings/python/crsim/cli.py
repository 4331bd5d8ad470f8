"""The ``crsim`` command line.

    crsim run SCENARIO.yaml [...] -o OUT.h5 [--plot PNG] [--csv CSV] [--progress]
    crsim demo [-o results.h5] [--plot demo.png] [--weight KG] [--days D]
    crsim population SCENARIO.yaml -n N --vary NAME=OMEGA [...] -o OUT.csv|OUT.h5
                     [--scheduler ADDRESS|local:N] [--progress]
    crsim show OUT.h5
    crsim models
    crsim params MODEL
    crsim export MODEL [--parameter-set SET] -o MODEL.xml

Each subcommand is a pair (add_<name>(subparsers), run function). Exit status: 0 on success, 2 on
bad input (a scenario, a path, an unreadable or foreign results file) with the message on stderr,
1 when the solver fails; never a traceback for those. Every input is checked before anything runs,
so bad input leaves no output file.
"""
from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from crsim import _core
from crsim.base.errors import InputError, SolverError
from crsim.base import progress as _progress
from crsim.model.extension import extension
from crsim.model.model import Model, models
from crsim.model.sbml import to_sbml
from crsim.results.files import save
from crsim.results.store import IoError, read_file
from crsim.run import demo as _demo
from crsim.results.plot import plot
from crsim.run.demo import report
from crsim.run.batches import connect
from crsim.run.population import MAX_PATIENTS, load_population, population, without_published_variability
from crsim.run.simulate import run_scenario
from crsim.scenario.scenario import Scenario
from crsim.spec.dosing import MAX_WEIGHT_KG, WEIGHT_ALLOWED

EXIT_USER_ERROR = 2
EXIT_SOLVER_ERROR = 1
MAX_PLOTTED = 9  # panels drawn by default (the model's key variables, else its first observables)


def _io_error_type():
    return IoError


# --- shared helpers ----------------------------------------------------------------------------------

def _check_output(path: str, flag: str, suffixes: Optional[Sequence[str]] = None) -> str:
    """Checks before any work that an output file can be created at ``path``."""
    p = Path(path)
    if not path:
        raise InputError(f"{flag} = '' is not allowed: a file path")
    if p.is_dir():
        raise InputError(f"{flag} = {path!r} is not allowed: a file path (this is a directory)")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{flag} = {path!r} is not allowed: a file in an existing directory "
                         f"(directory {str(parent)!r} does not exist)")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{flag} = {path!r} is not allowed: a file in a writable directory")
    if suffixes is not None and p.suffix.lower().lstrip(".") not in suffixes:
        raise InputError(f"{flag} = {path!r} is not allowed: a file name ending in one of "
                         + ", ".join("." + s for s in suffixes))
    return path


def _plot_formats() -> List[str]:
    from matplotlib.figure import Figure

    return sorted(Figure().canvas.get_supported_filetypes())


def _progress_enabled(args: argparse.Namespace) -> Optional[bool]:
    """True with --progress (bars on stderr even when it is not a terminal), else None (bars only
    on a terminal)."""
    return True if getattr(args, "progress", False) else None


def _run_all(scenarios, progress: Optional[bool]):
    results = {}
    for sc in scenarios:
        with _progress.step(f"simulating '{sc.name}' ({sc.model})", progress):
            results[sc.name] = run_scenario(sc)
    return results


def _save(results, path: str, progress: Optional[bool], argv: Optional[Sequence[str]]) -> None:
    command = "crsim " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    with _progress.step(f"writing {path}", progress):
        save(results, path, attributes={"command": command})


def _plot(results, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = next(iter(results.values()))
    names = [n for n in first.default_plot_variables
             if all(n in r.observable_names for r in results.values())][:MAX_PLOTTED]
    if all(r.model.name == first.model.name for r in results.values()):
        # the model's clinical figure, one colour per scenario
        fig = plot(list(results.values()), labels=list(results))
    elif names:  # different models sharing variables: a panel per variable, a line per scenario
        fig = first.plot(names)
        if len(results) > 1:
            for r in list(results.values())[1:]:
                r.plot(names, ax=fig.axes[: len(names)])
            for ax in fig.axes[: len(names)]:
                for line, label in zip(ax.get_lines(), results):
                    line.set_label(label)
            fig.axes[0].legend(fontsize="small")
            fig.axes[0].set_title(", ".join(sorted({r.model.name for r in results.values()})))
    else:  # nothing in common (different models): one column of panels per scenario
        per = {k: r.default_plot_variables[:MAX_PLOTTED] for k, r in results.items()}
        rows = max(len(v) for v in per.values())
        fig, axes = plt.subplots(rows, len(results), figsize=(4.5 * len(results), 2.2 * rows),
                                 squeeze=False, constrained_layout=True)
        for j, (label, r) in enumerate(results.items()):
            r.plot(per[label], ax=list(axes[: len(per[label]), j]))
            axes[0, j].set_title(f"{label} ({r.model.name})")
            for ax in axes[len(per[label]):, j]:
                ax.set_visible(False)
    try:
        fig.savefig(path, dpi=120)
    except OSError as ex:
        raise InputError(f"--plot = {path!r} is not allowed: a writable file path ({ex.strerror})")
    finally:
        plt.close(fig)


def _csv(results, path: str) -> None:
    import pandas as pd

    frames = []
    for name, r in results.items():
        df = r.to_pandas("wide")
        units = df.attrs["units"]
        df.columns = [f"{c} [{units[c]}]" for c in df.columns]
        df = df.reset_index()
        df.insert(0, "scenario", name)
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    try:
        table.to_csv(path, index=False)
    except OSError as ex:
        raise InputError(f"--csv = {path!r} is not allowed: a writable file path ({ex.strerror})")


# --- commands ------------------------------------------------------------------------------------------

def _cmd_models(args: argparse.Namespace) -> int:
    width = max(len(n) for n in models())
    for name in models():
        m = Model(name)
        print(f"{name:<{width}}  {len(m.state_names)} states, {len(m.parameter_names):>2} "
              f"parameters  {m.description}")
    return 0


def _cmd_params(args: argparse.Namespace) -> int:
    m = Model(args.model)
    print(f"{m.name}: {m.description}")
    p = m.parameters
    w_name = max(4, *(len(n) for n in p["name"]))
    w_unit = max(4, *(len(u) for u in p["unit"]))
    print(f"{'name':<{w_name}}  {'value':>12}  {'unit':<{w_unit}}  {'bounds':<20}  description")
    for _, r in p.iterrows():
        bounds = f"[{r['lower']:g}, {r['upper']:g}]"
        print(f"{r['name']:<{w_name}}  {r['value']:>12.6g}  {r['unit']:<{w_unit}}  {bounds:<20}  "
              f"{r['description']}")
        print(textwrap.fill(r["source"], width=100, initial_indent=" " * (w_name + 2) + "source: ",
                            subsequent_indent=" " * (w_name + 10)))
    print("states: " + ", ".join(f"{n} ({u})" for n, u in zip(m.state_names, m.states["unit"])))
    print("observables: " + ", ".join(f"{n} ({u})" for n, u in
                                      zip(m.observable_names, m.observables["unit"])))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    _check_output(args.output, "-o", ("xml", "sbml"))
    m = Model(args.model, args.parameter_set)
    to_sbml(m, path=args.output)  # written to a temporary name and renamed
    what = f"model {m.name}" + (f", parameter set {m.parameter_set}" if m.parameter_set else "")
    print(f"wrote {args.output} (SBML Level 3 Version 2: {what})")
    return 0


def _check_run_outputs(args: argparse.Namespace) -> None:
    _check_output(args.output, "-o", ("h5", "hdf5"))
    if args.plot:
        _check_output(args.plot, "--plot", _plot_formats())
    if args.csv:
        _check_output(args.csv, "--csv", ("csv",))


def _cmd_run(args: argparse.Namespace) -> int:
    _check_run_outputs(args)
    scenarios, errors = [], []
    for f in args.scenario:
        try:
            scenarios.append((f, Scenario.from_file(f)))
        except InputError as ex:
            errors.append(str(ex))
    if errors:
        raise InputError("\n".join(errors))
    names: Dict[str, str] = {}
    for f, sc in scenarios:
        if sc.name in names:
            raise InputError(f"name = {sc.name!r} is not allowed: a scenario name used once per "
                             f"results file ({names[sc.name]} and {f} both use it; set name: in one)")
        names[sc.name] = f
    progress = _progress_enabled(args)
    results = _run_all([sc for _, sc in scenarios], progress)
    _save(results, args.output, progress, getattr(args, "argv", None))
    if args.plot:
        _plot(results, args.plot)
    if args.csv:
        _csv(results, args.csv)
    for name, r in results.items():
        for line in report(r, name):
            print(line)
    written = [args.output] + [p for p in (args.plot, args.csv) if p]
    print("wrote " + ", ".join(written))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.weight is not None and not (math.isfinite(args.weight)
                                        and 0 < args.weight <= MAX_WEIGHT_KG):
        raise InputError(f"--weight = {args.weight:g} is not allowed: {WEIGHT_ALLOWED}")
    if args.days is not None and not (math.isfinite(args.days) and args.days > 0):
        raise InputError(f"--days = {args.days:g} is not allowed: a run length > 0 days")
    _check_output(args.output, "-o", ("h5", "hdf5"))
    if args.plot:
        _check_output(args.plot, "--plot", _plot_formats())
    sc = _demo.default_scenario(weight=args.weight, days=args.days)
    progress = _progress_enabled(args)
    results = _run_all([sc], progress)
    _save(results, args.output, progress, getattr(args, "argv", None))
    if args.plot:
        _plot(results, args.plot)
    for line in _demo.report(results[sc.name]):
        print(line)
    print("wrote " + ", ".join([args.output] + ([args.plot] if args.plot else [])))
    return 0


def _parse_vary(items: Sequence[str]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        cv = value.lower().startswith("cv:")
        try:
            number = float(value[3:] if cv else value)
        except ValueError:
            number = math.nan
        if not sep or not name or not math.isfinite(number) or number < 0:
            raise InputError(f"--vary = {item!r} is not allowed: NAME=OMEGA or NAME=cv:C with a number >= 0 "
                             "(e.g. rho=0.3, CL=cv:0.39)")
        out[name] = {"cv": number} if cv else number
    return out


def _parse_corr(items: Sequence[str]) -> Dict[Any, float]:
    out: Dict[Any, float] = {}
    for item in items:
        pair, sep, value = item.partition("=")
        names = [x.strip() for x in pair.split(",")]
        try:
            r = float(value)
        except ValueError:
            r = math.nan
        if not sep or len(names) != 2 or not all(names) or not math.isfinite(r):
            raise InputError(f"--corr = {item!r} is not allowed: A,B=R (e.g. CL,Vmax=-0.5)")
        out[(names[0], names[1])] = r
    return out


def _columns(path: str) -> List[str]:
    import h5py

    with h5py.File(path, "r") as f:
        return [str(c) for c in f["population"].attrs["columns"]]


def _short_source(text: str, width: int = 90) -> str:
    """A source as one short line (the first clause, cut at ``width`` characters)."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 3].rstrip() + "..."


def _varied(path: str) -> List[str]:
    import json

    import h5py

    with h5py.File(path, "r") as f:
        return list(json.loads(f["population"].attrs["omega_json"]))


def _cmd_population(args: argparse.Namespace) -> int:
    import numpy as np

    _check_output(args.output, "-o", ("csv", "h5", "hdf5"))
    if not 1 <= args.n <= MAX_PATIENTS:
        raise InputError(f"-n = {args.n} is not allowed: a number of patients in [1, {MAX_PATIENTS}]")
    if not 0 <= args.seed < 2**63:
        raise InputError(f"--seed = {args.seed} is not allowed: an integer seed in [0, 2**63)")
    if args.threads is not None and args.threads < 0:
        raise InputError(f"--threads = {args.threads} is not allowed: a thread count >= 0 (0: all)")
    if args.chunk_size is not None and args.chunk_size < 1:
        raise InputError(f"--chunk-size = {args.chunk_size} is not allowed: a number of patients per "
                         "Dask task >= 1")
    sc = Scenario.from_file(args.scenario)
    vary, corr = (_parse_vary(args.vary) or None), _parse_corr(args.corr) or None
    if vary is None:
        model = Model(sc.model, sc.parameter_set)
        missing = without_published_variability(model)
        if missing:
            raise InputError(f"--vary is required for this scenario: {missing} to use as the default; "
                             f"give at least one --vary NAME=OMEGA, e.g. --vary {model.parameter_names[0]}=0.3")
    client = None
    if args.scheduler is not None:
        client = connect(args.scheduler, "--scheduler")
    try:
        kwargs = dict(correlation=corr, seed=args.seed, threads=args.threads,
                      client=client[0] if client else None, chunk_size=args.chunk_size,
                      progress=_progress_enabled(args))
        if args.output.lower().endswith((".h5", ".hdf5")):
            # streamed to the file chunk by chunk (atomic: merged into a temporary file, renamed)
            done = population(sc, args.n, vary, output=args.output, **kwargs)
            table = None
        else:
            table = population(sc, args.n, vary, **kwargs)
    finally:
        if client is not None:
            client[1]()
    if table is None:
        # the summary reads the readouts back, not the parameters
        varied = _varied(done.path)
        table = load_population(done.path, columns=[c for c in _columns(done.path) if c not in varied])
    units = table.attrs["units"]
    if not args.output.lower().endswith((".h5", ".hdf5")):
        out = table.copy()
        out.columns = [f"{c} [{units[c]}]" if units.get(c) else c for c in out.columns]
        tmp = args.output + ".part"
        try:
            out.to_csv(tmp)
            os.replace(tmp, args.output)  # never a half-written table under the final name
        except OSError as ex:
            raise InputError(f"-o = {args.output!r} is not allowed: a writable file path ({ex.strerror})")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    failed = int((table["error"] != "").sum()) if "error" in table else 0
    print(f"population of {args.n} patients, scenario '{sc.name}' (model {sc.model}), seed {args.seed}"
          + (f"; {failed} runs failed (see the error column)" if failed else ""))
    info = table.attrs.get("variability") or {}
    if info.get("default"):
        print(f"  between-patient variability: published, as declared in parameter set "
              f"'{info.get('parameter_set')}' (crsim.Model(...).variability lists the sources)")
    for k, w in table.attrs["omega"].items():
        src = info.get("sources", {}).get(k, "")
        print(f"  {k}: typical {table.attrs['typical'][k]:.4g}, omega {w:.3g}"
              + (f" ({_short_source(src)})" if info.get("default") and src else ""))
    for k, why in (info.get("not_varied") or {}).items():
        print(f"  not varied: {k} ({_short_source(why)})")
    if info:
        print(f"  {info.get('others', '')}")
    summary = extension(sc.model).population_summary
    for line in summary(table) if summary is not None else []:
        print("  " + line)
    print("  readouts: median [5th, 95th percentile]")
    for c in units:
        v = table[c].dropna().to_numpy(dtype=float)
        if len(v):
            lo, med, hi = np.percentile(v, [5, 50, 95])
            print(f"    {c:<22} {med:>10.4g} [{lo:.4g}, {hi:.4g}] {units[c]}".rstrip())
    print(f"wrote {args.output}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    import json

    content = read_file(args.results)
    meta = content["meta"]
    print(f"{args.results}: crsim results file, schema version {meta['schema_version']}, written by "
          f"crsim {meta['crsim_version']} at {meta['created']}")
    for k, v in meta["attributes"].items():
        print(f"  {k}: {v}")
    print(f"{len(content['scenarios'])} scenario(s): " + ", ".join(r["name"] for r in content["scenarios"]))
    for r in content["scenarios"]:
        t = r["times"]
        print(f"\nscenario '{r['name']}': model {r['model_name']} (version {r['model_version']})")
        try:
            sc = json.loads(r["scenario_json"])
        except ValueError:
            sc = {}
        if isinstance(sc, dict):
            if sc.get("description"):
                print(f"  description: {sc['description']}")
            patient = sc.get("patient") or {}
            if isinstance(patient, dict):
                said = [f"{patient[k]} {unit}" for k, unit in (("weight_kg", "kg"), ("height_cm", "cm"))
                        if patient.get(k) is not None]
                if said:
                    print("  patient: " + ", ".join(said))
            for i, e in enumerate(sc.get("regimen") or []):
                print(f"  regimen[{i}]: {e if isinstance(e, str) else json.dumps(e)}")
        span = f"{t[0]:g}-{t[-1]:g} h" if len(t) else "none"
        print(f"  times: {len(t)} ({span})")
        print(f"  states ({len(r['state_names'])}): " +
              ", ".join(f"{n} [{u}]" for n, u in zip(r["state_names"], r["state_units"])))
        print(f"  observables ({len(r['observable_names'])}): " +
              ", ".join(f"{n} [{u}]" for n, u in zip(r["observable_names"], r["observable_units"])))
        print(f"  parameters: {len(r['parameter_names'])} values with units")
        if r["sensitivity_names"]:
            print(f"  sensitivities: " + ", ".join(r["sensitivity_names"]))
        d = r["doses"]
        print(f"  administrations: {len(d['time'])}")
        sv, st = r["solver"], r["stats"]
        print(f"  solver: {sv['method']}, rtol {sv['rtol']:g}, atol {sv['atol']:g}; {st['steps']} steps, "
              f"{st['rhs_evaluations']} right-hand-side evaluations, {st['jacobian_evaluations']} "
              f"Jacobians, {st['restarts']} restarts")
        values = {**{k: f"{v:.4g}" for k, v in r["readouts"].items()}, **r["readout_labels"]}
        if values:
            print("  readouts:")
            w = max(len(k) for k in values)
            for k, v in values.items():
                print(f"    {k:<{w}}  {v:>12} {r['readout_units'].get(k, '')}".rstrip())
    return 0


# --- parser --------------------------------------------------------------------------------------------

def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run scenario files, write an HDF5 results file (and a plot, a CSV)",
                       description="Runs one or more scenario files (.yaml/.yml/.json; see "
                       "docs/scenarios.md) and writes all results to one HDF5 file, one group per "
                       "scenario. Every file is checked before anything runs.")
    p.add_argument("scenario", nargs="+", help="scenario file(s)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.h5", help="results file to write")
    p.add_argument("--plot", metavar="PNG", help="also draw the observables to this image")
    p.add_argument("--csv", metavar="CSV", help="also write the trajectories as a CSV table")
    p.add_argument("--progress", action="store_true",
                   help="show progress on stderr even when it is not a terminal")
    p.set_defaults(func=_cmd_run)


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="run the default scenario: results.h5, a plot and a summary",
                       description="Runs the default scenario shipped with crsim "
                       "(crsim/data/scenarios/default.yaml), writes results.h5 and demo.png in the "
                       "current directory and prints a clinical summary.")
    p.add_argument("-o", "--output", default="results.h5", metavar="OUT.h5",
                   help="results file (default results.h5)")
    p.add_argument("--plot", default="demo.png", metavar="PNG",
                   help="where to write the plot (default demo.png; '' for none)")
    p.add_argument("--weight", type=float, default=None, help="body weight in kg (default: the scenario's)")
    p.add_argument("--days", type=float, default=None, help="length of the run in days (default: the scenario's)")
    p.add_argument("--progress", action="store_true",
                   help="show progress on stderr even when it is not a terminal")
    p.set_defaults(func=_cmd_demo)


def _add_population(sub) -> None:
    p = sub.add_parser("population", help="virtual patients of one scenario: a CSV of readouts",
                       description="Draws N virtual patients (log-normal variability of the given "
                       "parameters; docs/populations.md), runs the scenario for each on all cores and "
                       "writes one row of sampled parameters and readouts per patient.")
    p.add_argument("scenario", help="scenario file (.yaml/.yml/.json)")
    p.add_argument("-n", type=int, required=True, help="number of patients")
    p.add_argument("--vary", action="append", default=[], metavar="NAME=OMEGA",
                   help="a parameter's variability: SD of its log-normal random effect, or NAME=cv:C "
                   "(default: the published variability the scenario's parameter set declares)")
    p.add_argument("--corr", action="append", default=[], metavar="A,B=R",
                   help="correlation of two varied parameters' random effects")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--threads", type=int, default=None,
                   help="C++ threads (default: all cores; with --scheduler, per Dask task, default 1)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.csv|OUT.h5",
                   help="table to write: CSV, or HDF5 (docs/hdf5-schema.md, population files; "
                   "streamed chunk by chunk)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run chunks of patients on a Dask cluster: a scheduler address "
                   "(tcp://host:8786) or local:N (a LocalCluster of N worker processes); "
                   "docs/populations.md")
    p.add_argument("--chunk-size", type=int, default=None, metavar="N",
                   help="patients per Dask task (default: about four tasks per worker thread, "
                   "at most 1000)")
    p.add_argument("--progress", action="store_true",
                   help="show progress on stderr even when it is not a terminal")
    p.set_defaults(func=_cmd_population)


def _add_show(sub) -> None:
    p = sub.add_parser("show", help="summary of a results file")
    p.add_argument("results", help="a results file written by crsim (.h5)")
    p.set_defaults(func=_cmd_show)


def _add_models(sub) -> None:
    p = sub.add_parser("models", help="list the built-in models")
    p.set_defaults(func=_cmd_models)


def _add_params(sub) -> None:
    p = sub.add_parser("params", help="parameters of a model with units, bounds and sources")
    p.add_argument("model", help="model name (see `crsim models`)")
    p.set_defaults(func=_cmd_params)


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="write a model as SBML (Level 3, units, crsim annotations)",
                       description="Writes the model with the values of a parameter set as SBML "
                       "Level 3 Version 2 for other tools (libRoadRunner/Tellurium, COPASI, AMICI): "
                       "states as rate rules, intermediates and observables as assignment rules, "
                       "units, bounds and sources as annotations (docs/models.md).")
    p.add_argument("model", help="model name (see `crsim models`)")
    p.add_argument("--parameter-set", default=None, metavar="SET",
                   help="parameter set (name or path; default: the model's)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.xml", help="SBML file to write")
    p.set_defaults(func=_cmd_export)


COMMANDS: List[Callable] = [_add_run, _add_demo, _add_population, _add_show, _add_models, _add_params,
                            _add_export]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crsim", description="crsim: CAR-T / CRS pharmacology "
                                     "simulator (time in hours; units shown with every quantity)")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    return parser


def _version() -> str:
    return f"crsim {_core.__version__}"


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the command line; returns the exit status (0 ok, 1 solver failure, 2 user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except InputError as ex:
        print(f"crsim: error: {ex}", file=sys.stderr)
        return EXIT_USER_ERROR
    except _io_error_type() as ex:
        print(f"crsim: error: {ex}", file=sys.stderr)
        return EXIT_USER_ERROR
    except SolverError as ex:
        print(f"crsim: solver error: {ex}", file=sys.stderr)
        return EXIT_SOLVER_ERROR
    except KeyboardInterrupt:
        print("crsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`crsim params crs | head`): stop quietly, as Unix tools do; the
        # interpreter's own flush of stdout at exit would raise again, so stdout goes to devnull
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141   # 128 + SIGPIPE, the status a shell reports for a closed pipe


if __name__ == "__main__":
    sys.exit(main())
