"""Markdown reference of a model generated from its source: states with their initial values,
parameters with units, bounds and sources, every intermediate and right-hand side as written in the
source (function definitions expanded), observables. docs/reference/<model>.md are these files; a
test regenerates them, so the documentation cannot diverge from the model."""
from __future__ import annotations

import math
from typing import List

from .ir import ModelIR


def _formula(node) -> str:
    import libsbml
    if node is None:
        return "0"
    return libsbml.formulaToL3String(node)


def _num(v: float) -> str:
    if math.isnan(v):
        return "from the parameter set"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return format(v, ".6g")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(ir: ModelIR, *, origin: str) -> str:
    lines: List[str] = [
        f"# Model `{ir.name}` (generated reference)",
        "",
        f"Generated from `{origin}` by `scripts/generate_models.py`; do not edit (a test regenerates "
        "this file). Time in h. " + _cell(ir.description),
        "",
        "## States",
        "",
        "| # | state | unit | initial value | takes doses in | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for i, s in enumerate(ir.states):
        lines.append(f"| {i} | `{s.name}` | {s.unit} | `{_cell(_formula(s.initial))}` | "
                     f"{s.dose_unit or '–'} | {_cell(s.description)} |")
    lines += ["", "## Right-hand side", "", "```"]
    for s in ir.states:
        lines.append(f"d{s.id}/dt = {_formula(s.rate)}")
    lines += ["```", "", "## Intermediates and observables (in evaluation order)", "", "```"]
    obs = {o.id: o.name for o in ir.observables}
    for sid, inter in ir.intermediates.items():
        tag = f"   [observable {obs[sid]}]" if sid in obs else ""
        lines.append(f"{sid} := {_formula(inter.expr)}{tag}")
    lines += ["```", "", "## Parameters", "",
              "| # | parameter | unit | admissible | default | meaning | source |",
              "|---|---|---|---|---|---|---|"]
    for j, p in enumerate(ir.parameters):
        lines.append(f"| {j} | `{p.name}` | {p.unit} | [{_num(p.lower)}, {_num(p.upper)}] | "
                     f"{_num(p.value)} | {_cell(p.description)} | {_cell(p.source)} |")
    lines += ["", "## Observables", "", "| # | observable | unit | meaning |", "|---|---|---|---|"]
    for k, o in enumerate(ir.observables):
        lines.append(f"| {k} | `{o.name}` | {o.unit} | {_cell(o.description)} |")
    if ir.sources:
        lines += ["", "## Sources", ""] + [f"- {_cell(s)}" for s in ir.sources]
    return "\n".join(lines) + "\n"
