"""The ``crsim`` command line: ``crsim models``, ``crsim params MODEL``, ``crsim demo``.

Each subcommand is a pair (add_<name>(subparsers), run function) so later commands (run, show)
plug in without touching the others. User errors print one line on stderr and exit with status 2;
solver failures exit with status 1; no traceback either way.
"""
from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Callable, List, Optional

from ._errors import InputError, SolverError
from ._model import Model, models

EXIT_USER_ERROR = 2
EXIT_SOLVER_ERROR = 1


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


def _cmd_demo(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # the demo writes a file; no display needed
    from . import _demo

    result = _demo.run(weight=args.weight, days=args.days)
    for line in _demo.report(result):
        print(line)
    if args.plot:
        fig = result.plot(["C"])
        try:
            fig.savefig(args.plot, dpi=120)
        except OSError as ex:
            raise InputError(f"--plot = {args.plot!r} is not allowed: a writable file path ({ex})")
        print(f"plot: {args.plot}")
    return 0


def _add_models(sub) -> None:
    p = sub.add_parser("models", help="list the built-in models")
    p.set_defaults(func=_cmd_models)


def _add_params(sub) -> None:
    p = sub.add_parser("params", help="parameters of a model with units, bounds and sources")
    p.add_argument("model", help="model name (see `crsim models`)")
    p.set_defaults(func=_cmd_params)


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="tocilizumab 8 mg/kg IV (max 800 mg), 8 weeks, summary and plot")
    p.add_argument("--plot", default="demo.png", metavar="PNG",
                   help="where to write the plot (default demo.png; '' for none)")
    p.add_argument("--weight", type=float, default=70.0, help="body weight in kg (default 70)")
    p.add_argument("--days", type=float, default=56.0, help="length of the run in days (default 56)")
    p.set_defaults(func=_cmd_demo)


COMMANDS: List[Callable] = [_add_models, _add_params, _add_demo]


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
    from ._core import __version__

    return f"crsim {__version__}"


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the command line; returns the exit status (0 ok, 1 solver failure, 2 user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except InputError as ex:
        print(f"crsim: error: {ex}", file=sys.stderr)
        return EXIT_USER_ERROR
    except SolverError as ex:
        print(f"crsim: solver error: {ex}", file=sys.stderr)
        return EXIT_SOLVER_ERROR


if __name__ == "__main__":
    sys.exit(main())
