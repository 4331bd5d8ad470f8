"""The demonstration run of ``crsim demo`` and the text summaries of results the CLI prints.

The demo runs the default scenario shipped with the package (``crsim/data/scenarios/default.yaml``,
from data/scenarios/ in the source tree). The summaries are generic: they print what a Result
carries (scenario, administrations, readouts, solver statistics), so they serve every model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from crsim.base.errors import input_error
from crsim.model.extension import extension
from crsim.model.parameter_sets import data_dir
from crsim.results.result import Result
from crsim.run.simulate import run_scenario
from crsim.scenario.scenario import Scenario

DEFAULT_SCENARIO = "default.yaml"


def default_scenario_path() -> Path:
    """The default scenario file (``<data dir>/scenarios/default.yaml``)."""
    return data_dir() / "scenarios" / DEFAULT_SCENARIO


def default_scenario(weight: Optional[float] = None, days: Optional[float] = None) -> Scenario:
    """The default scenario, optionally with another body weight (kg) or run length (days)."""
    path = default_scenario_path()
    if not path.is_file():
        raise input_error("default scenario", str(path), "an installed crsim with its data files "
                          "(reinstall crsim, or set CRSIM_DATA_DIR to the source tree's data/)")
    sc = Scenario.from_file(path)
    changes: Dict[str, Any] = {}
    if weight is not None:
        changes["patient"] = {"weight_kg": weight, "height_cm": sc.patient.height_cm}
    if days is not None:
        changes.update(horizon_h=None, horizon_days=days)
    return sc.replace(**changes) if changes else sc


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return value
    return f"{value:.4g}"


def _dose_lines(result: Result) -> List[str]:
    d = result.doses
    lines = []
    for _, r in d.head(8).iterrows():
        how = (f"infusion until {r['end_h']:g} h" if r["kind"] == "infusion" else "bolus")
        lines.append(f"    {r['time_h']:g} h  {r['state']}  {r['amount']:.4g} {r['amount_unit']}  ({how})")
    if len(d) > 8:
        lines.append(f"    ... {len(d) - 8} more")
    return lines


def report(result: Result, name: Optional[str] = None) -> List[str]:
    """A short summary of a run: scenario, patient, regimen, administrations, readouts, solver."""
    sc = result.scenario
    title = name or (sc.name if sc is not None else result.model.name)
    lines = [f"scenario '{title}'" + (f": {sc.description}" if sc is not None and sc.description else "")]
    lines.append(f"  model {result.model.name}: {result.model.description}")
    if sc is not None and sc.parameter_set:
        lines.append(f"  parameter set: {sc.parameter_set}")
    if result.weight is not None:
        lines.append(f"  patient: {result.weight:g} kg")
    if sc is not None and sc.regimen:
        lines.append("  regimen: " + "; ".join(e if isinstance(e, str) else
                                                f"{e.amount:g} {e.unit} into {e.target} at {e.time:g} h"
                                                for e in sc.regimen))
    t = result.times
    lines.append(f"  simulated {t[0]:g}-{t[-1]:g} h ({(t[-1] - t[0]) / 24:.4g} days), {len(t)} output times")
    if len(result.doses):
        lines.append("  administered:")
        lines += _dose_lines(result)
    summary = extension(result.model.name).summary
    if summary is not None:
        lines.append("  clinical summary:")
        lines += ["    " + line for line in summary(result)]
    readouts, units = result.readouts, result.readout_units
    if readouts:
        lines.append("  readouts:")
        w = max(len(k) for k in readouts)
        for k, v in readouts.items():
            lines.append(f"    {k:<{w}}  {_fmt(v):>12} {units.get(k, '')}".rstrip())
    s = result.stats
    lines.append(f"  solver: {result.solver.get('method', s.get('method'))}, {s['steps']} steps, "
                 f"{s['rhs_evaluations']} right-hand-side evaluations")
    return lines


def run(weight: Optional[float] = None, days: Optional[float] = None) -> Result:
    """Simulates the default scenario."""
    return run_scenario(default_scenario(weight=weight, days=days))
