"""Parameter sets: the cited JSON files in data/parameters/ (shipped as crsim/data/parameters/).

A set may extend shared layers (drugs/*.json, physiology/*.json, cells/*.json: files without a
"model"), which the C++ loader resolves; only complete sets, the files directly in the directory that
name a model, are listed.

Sets are read and checked once per process: the resolved set (:func:`load_parameter_set`) and a
model's parameter vector from it (:func:`parameter_values`) are cached per file, and a cache entry
holds as long as the file and every layer it extends keep their modification time, size and inode
(checked with one ``stat`` per file on every use; an edited file is read again)."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pandas as pd

from crsim import _core
from crsim.base.errors import input_error

__all__ = ["data_dir", "parameter_sets", "parameter_set_path", "load_parameter_set",
           "parameter_values", "model_parameter_set", "clear_cache"]


_INSTALLED_DATA = Path(__file__).resolve().parents[1] / "data"


def data_dir() -> Path:
    """Directory holding crsim's data (``parameters/``, ``scenarios/``): $CRSIM_DATA_DIR if set,
    else the copy installed with the package."""
    env = os.environ.get("CRSIM_DATA_DIR")
    return Path(env) if env else _INSTALLED_DATA


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
        s = _resolved(str(f))[1]
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


_names: Dict[Tuple[str, Optional[str]], str] = {}   # (set name, $CRSIM_DATA_DIR) -> file


def _set_file(spec: str) -> str:
    """``str(parameter_set_path(spec))``, with set names remembered (the file is still checked)."""
    if not isinstance(spec, str) or spec.endswith(".json"):
        return str(parameter_set_path(spec))
    key = (spec, os.environ.get("CRSIM_DATA_DIR"))
    hit = _names.get(key)
    if hit is not None and os.path.isfile(hit):
        return hit
    path = _names[key] = str(parameter_set_path(spec))
    return path


# --- the per-process cache -------------------------------------------------------------------------
Stamps = Tuple[Tuple[str, Tuple[int, int, int]], ...]   # (file, (mtime_ns, size, inode)) per file

_lock = threading.Lock()
_sets: Dict[Tuple[str, str], Tuple[Stamps, dict]] = {}               # (path, abspath) -> stamps, set
_values: Dict[Tuple[str, Optional[str], str, str], Tuple[Stamps, Dict[str, float]]] = {}


def _stat(path: str) -> Tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _files_of(path: str) -> List[str]:
    """The file and every layer it extends (the C++ loader's rules: names relative to the directory
    of the file that names a model, ``.json`` optional); unreadable files end the walk there (the
    loader reports them)."""
    out: List[str] = []
    seen = set()

    def visit(p: str, parent_dir: str, top: bool) -> None:
        key = os.path.realpath(p)
        if key in seen:
            return
        seen.add(key)
        out.append(p)
        try:
            with open(p, encoding="utf-8") as f:
                d = json.load(f)
        except (OSError, ValueError):
            return
        if not isinstance(d, dict):
            return
        own = os.path.dirname(p) if top or d.get("model") else parent_dir
        ext = d.get("extends")
        for name in ext if isinstance(ext, list) else []:
            if not isinstance(name, str) or not name:
                continue
            file = name if len(name) > 5 and name.endswith(".json") else name + ".json"
            layer = os.path.normpath(file if os.path.isabs(file) or not own else os.path.join(own, file))
            if os.path.isfile(layer):
                visit(layer, own, False)

    visit(path, os.path.dirname(path), True)
    return out


def _stamps(files: List[str]) -> Optional[Stamps]:
    try:
        return tuple((f, _stat(f)) for f in files)
    except OSError:
        return None


def _current(stamps: Stamps) -> bool:
    """Whether every file of a cache entry is unchanged."""
    try:
        return all(_stat(f) == st for f, st in stamps)
    except OSError:
        return False


def _resolved(path: str) -> Tuple[Stamps, dict]:
    key = (path, os.path.abspath(path))
    with _lock:
        hit = _sets.get(key)
    if hit is not None and _current(hit[0]):
        return hit
    # stamps taken before reading: a file edited while it is read is read again next time
    stamps = _stamps(_files_of(path))
    data = _core.load_parameter_set(path)
    with _lock:
        if stamps is not None:
            _sets[key] = (stamps, data)
    return (stamps or (), data)


def load_parameter_set(spec: str) -> dict:
    """The parameter set as a dict (path, name, model, description, sources, parameters: name ->
    {value, unit, source, note}, patient: covariate names, regimen: name -> entry). Cached: the dict
    is shared, do not modify it."""
    return _resolved(_set_file(spec))[1]


def parameter_values(model: str, spec: str) -> Dict[str, float]:
    """The model's parameter values (name -> value) from a parameter set, checked against the model
    (model name, every parameter given, units, bounds); cached like :func:`load_parameter_set`
    (per model: a user model loaded again under the same name from another library is checked
    again). A new dict on every call."""
    return model_parameter_set(model, spec)[1]


def model_parameter_set(model: str, spec: str) -> Tuple[dict, Dict[str, float]]:
    """(the resolved set as :func:`load_parameter_set` gives it, the model's values from it as
    :func:`parameter_values` gives them), with one look at the files."""
    path = _set_file(spec)
    stamps, data = _resolved(path)
    key = (model, _core.user_models().get(model), path, os.path.abspath(path))
    with _lock:
        hit = _values.get(key)
    if hit is not None and stamps and hit[0] == stamps:
        return data, dict(hit[1])
    values = dict(_core.parameters_from(model, path))
    with _lock:
        if stamps:
            _values[key] = (stamps, values)
    return data, dict(values)


def clear_cache() -> None:
    """Forgets the cached parameter sets (they are read again on next use)."""
    with _lock:
        _sets.clear()
        _values.clear()
