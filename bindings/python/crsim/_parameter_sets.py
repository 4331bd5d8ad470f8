"""Parameter sets: the cited JSON files in data/parameters/ (shipped as crsim/data/parameters/).

A set may extend shared layers (drugs/*.json, physiology/*.json, cells/*.json: files without a
"model"), which the C++ loader resolves; only complete sets, the files directly in the directory that
name a model, are listed."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import List, Optional

import pandas as pd

from . import _core
from ._errors import input_error

__all__ = ["data_dir", "parameter_sets", "parameter_set_path", "load_parameter_set"]


def data_dir() -> Path:
    """Directory holding crsim's data (``parameters/``, ``scenarios/``): $CRSIM_DATA_DIR if set,
    else the copy installed with the package."""
    env = os.environ.get("CRSIM_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parent / "data"


def _is_set(path: Path) -> bool:
    """A complete parameter set names its model; a layer (used through "extends") does not."""
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError):
        return True  # let the loader report what is wrong with it
    return not isinstance(d, dict) or "model" in d


def _set_files() -> List[Path]:
    d = data_dir() / "parameters"
    return sorted(f for f in d.glob("*.json") if _is_set(f)) if d.is_dir() else []


def parameter_sets(model: Optional[str] = None) -> pd.DataFrame:
    """The available parameter sets (name, model, description), optionally for one model; layers
    (files without a model, used through a set's "extends") are not sets and are not listed."""
    rows = []
    for f in _set_files():
        s = _core.load_parameter_set(str(f))
        if model is None or s["model"] == model:
            rows.append({"name": s["name"], "model": s["model"], "description": s["description"]})
    return pd.DataFrame(rows, columns=["name", "model", "description"])


def parameter_set_path(spec: str) -> Path:
    """A parameter set given by name (file stem in the data directory) or by path."""
    if not isinstance(spec, (str, os.PathLike)):
        raise input_error("parameter_set", spec, "a parameter-set name or a path to a JSON file")
    p = Path(spec)
    if p.suffix == ".json" and p.is_file():
        return p
    candidate = data_dir() / "parameters" / f"{spec}.json"
    if candidate.is_file():
        return candidate
    known = ", ".join(f.stem for f in _set_files())
    raise input_error("parameter_set", spec, "the name of a parameter set {" + known + "} or the path "
                      "of an existing .json file")


def load_parameter_set(spec: str) -> dict:
    """The parameter set as a dict (path, name, model, description, sources, parameters: name ->
    {value, unit, source, note}, patient: covariate names, regimen: name -> entry)."""
    return _core.load_parameter_set(str(parameter_set_path(spec)))
