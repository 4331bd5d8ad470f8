"""The example files shipped with crsim: scenarios (crsim/data/scenarios/*.yaml) and data sets
(crsim/data/examples/*.csv), reachable after ``pip install`` without the source checkout."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pandas as pd

from crsim.base.errors import input_error
from crsim.model.parameter_sets import data_dir

__all__ = ["examples", "example"]

_KINDS = (("scenario", "scenarios", "*.yaml"), ("data", "examples", "*.csv"))


def _files() -> List[tuple]:
    out = []
    for kind, sub, pattern in _KINDS:
        d = data_dir() / sub
        for f in sorted(d.glob(pattern)) if d.is_dir() else []:
            out.append((f.stem, kind, f))
    return out


def _description(kind: str, path: Path) -> str:
    if kind == "scenario":
        import yaml
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh) or {}
        return str(doc.get("description", "")) if isinstance(doc, dict) else ""
    with open(path, encoding="utf-8") as fh:
        return f"data table, columns: {fh.readline().strip()}"


def examples() -> pd.DataFrame:
    """The shipped examples: name, kind ('scenario' or 'data'), path, description."""
    rows = [{"name": n, "kind": k, "path": str(p), "description": _description(k, p)}
            for n, k, p in _files()]
    return pd.DataFrame(rows, columns=["name", "kind", "path", "description"])


def example(name: str) -> str:
    """The path of a shipped example by name, e.g. ``crsim.example("default")`` (the default
    scenario) or ``crsim.example("pk1_oral_three_subjects")`` (a data set for fitting)."""
    files = _files()
    for n, _, p in files:
        if name in (n, p.name):
            return str(p)
    raise input_error("example", name, "one of {" + ", ".join(n for n, _, _ in files) + "}")
