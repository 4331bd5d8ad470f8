"""Population files (HDF5, docs/hdf5-schema.md "Population files"): a whole table written at once
(:func:`save_population`), or rows streamed chunk by chunk while a population runs
(:class:`PartsWriter`), with memory flat in the number of patients.

Streaming: each finished chunk is written by the client process to ``<path>.parts/`` as a small
HDF5 file of its own (a temporary name, then renamed: a part is there whole or not at all). When
every chunk is done the parts are merged, part by part, into a temporary file renamed to
``path``, and the parts directory is removed. While the run goes on (or after it was stopped),
``load_population(path, partial=True)`` reads the rows finished so far; ``path`` itself appears
only complete.
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from crsim import _core
from crsim.base.errors import input_error
from crsim.model.model import Model
from crsim.scenario.scenario import Scenario

__all__ = ["POPULATION_FORMAT", "POPULATION_SCHEMA", "save_population", "load_population",
           "PartsWriter", "PopulationFile", "parts_dir"]

#: Format name and schema version of population files (docs/hdf5-schema.md, "Population files").
POPULATION_FORMAT = "crsim-population"
POPULATION_SCHEMA = 1
#: Rows per chunk of a merged population file (and per block the merge gathers from the parts).
MERGE_BLOCK = 65536

#: Format of the header of a parts directory (a population being written).
PARTS_FORMAT = "crsim-population-parts"


def _h5py():
    try:
        import h5py
    except ImportError:
        raise input_error("path", "(HDF5)", "an HDF5 path with h5py installed (pip install h5py)") from None
    return h5py


def parts_dir(path: Any) -> str:
    """Where the finished chunks of a population streamed to ``path`` wait: ``<path>.parts``."""
    return os.fspath(path) + ".parts"


def _check_parent(path: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise input_error("path", path, f"a file in an existing directory ({parent} does not exist)")


def _write_header(f: Any, meta: Dict[str, Any]) -> Any:
    """The file attributes and the /population group of a population file (no columns yet)."""
    f.attrs["format"] = POPULATION_FORMAT
    f.attrs["schema_version"] = POPULATION_SCHEMA
    f.attrs["crsim_version"] = _core.__version__
    f.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    g = f.create_group("population")
    g.attrs["model"] = meta.get("model", "")
    g.attrs["seed"] = int(meta["seed"])
    g.attrs["omega_json"] = json.dumps(meta["omega"])
    g.attrs["typical_json"] = json.dumps(meta["typical"])
    g.attrs["variability_json"] = json.dumps(meta.get("variability") or {})
    g.attrs["columns"] = list(map(str, meta["columns"]))
    g.attrs["scenario_json"] = meta.get("scenario_json", "")
    g.create_dataset("correlation", data=np.asarray(meta["correlation"], dtype=float))
    g.create_group("columns")
    return g


def _parameter_units(model: str) -> Dict[str, str]:
    return Model(model).parameter_units if model else {}


def save_population(table: pd.DataFrame, path: Any, scenario: Optional[Scenario] = None) -> None:
    """Writes a population table (from :func:`crsim.population`) to an HDF5 file readable with
    h5py: one dataset per column under ``/population`` (with its unit), the variability, seed and
    scenario as attributes. The file is written to a temporary name and renamed, so ``path`` never
    holds a half-written file."""
    h5py = _h5py()
    if not isinstance(table, pd.DataFrame) or "omega" not in table.attrs:
        raise input_error("table", type(table).__name__, "a table returned by crsim.population")
    path = os.fspath(path)
    _check_parent(path)
    tmp = f"{path}.part{os.getpid()}"
    meta = {"model": table.attrs.get("model", ""), "seed": table.attrs["seed"],
            "omega": table.attrs["omega"], "typical": table.attrs["typical"],
            "correlation": table.attrs["correlation"], "columns": list(table.columns),
            "variability": table.attrs.get("variability", {}),
            "scenario_json": json.dumps(scenario.to_dict()) if scenario is not None else ""}
    try:
        with h5py.File(tmp, "w") as f:
            g = _write_header(f, meta)
            g.create_dataset("patient", data=table.index.to_numpy(dtype=np.int64))
            units = table.attrs.get("units", {})
            punits = _parameter_units(meta["model"])
            cols = g["columns"]
            for c in table.columns:
                if c == "error":
                    ds = cols.create_dataset(c, data=np.array(table[c].astype(str).tolist(), dtype=object),
                                             dtype=h5py.string_dtype())
                else:
                    ds = cols.create_dataset(c, data=table[c].to_numpy(dtype=float), compression="gzip")
                ds.attrs["unit"] = units.get(c, punits.get(c, ""))
        os.replace(tmp, path)
    except OSError as ex:
        raise input_error("path", path, f"a writable file path ({ex})") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_population(path: Any, columns: Optional[Sequence[str]] = None, partial: bool = False) -> pd.DataFrame:
    """Reads a population file (:func:`save_population`, ``crsim.population(..., output=path)``,
    ``crsim population -o pop.h5``) back into the same table, attributes included.

    Args:
        path: the file.
        columns: only these columns (default: all).
        partial: while a population is still being streamed to ``path`` (or after such a run
            was stopped), read the rows finished so far from ``<path>.parts`` (in patient order;
            ``attrs["complete"]`` is False and ``attrs["n"]`` the number of patients planned). A
            complete file is read as usual.
    """
    h5py = _h5py()
    path = os.fspath(path)
    if partial and os.path.isdir(parts_dir(path)):
        try:  # a run in progress (or stopped): its parts, even over an older complete file
            return _load_parts(path, columns)
        except FileNotFoundError:  # finished meanwhile: the parts were merged into path
            pass
    try:
        f = h5py.File(path, "r")
    except OSError as ex:
        hint = ("; a population is being written there: read the finished rows with partial=True"
                if os.path.isdir(parts_dir(path)) else "")
        raise input_error("path", path, f"a readable HDF5 population file ({ex}){hint}") from None
    with f:
        if f.attrs.get("format") != POPULATION_FORMAT:
            raise input_error("path", path, f"a crsim population file (attribute format = "
                              f"{POPULATION_FORMAT!r}; this file has {f.attrs.get('format')!r})")
        if int(f.attrs.get("schema_version", -1)) > POPULATION_SCHEMA:
            raise input_error("path", path, f"population schema version <= {POPULATION_SCHEMA} "
                              f"(file: {f.attrs.get('schema_version')}; update crsim)")
        g = f["population"]
        names = _selected(list(g.attrs["columns"]), columns)
        data = {}
        units = {}
        for c in names:
            ds = g["columns"][c]
            data[c] = [v.decode() if isinstance(v, bytes) else v for v in ds[()]] if c == "error" else ds[()]
            units[c] = str(ds.attrs["unit"])
        n = int(g["patient"].shape[0])
        table = pd.DataFrame(data, index=pd.Index(g["patient"][()], name="patient"), columns=names)
        omega = json.loads(g.attrs["omega_json"])
        table.attrs.update(omega=omega, typical=json.loads(g.attrs["typical_json"]),
                           variability=json.loads(g.attrs.get("variability_json", "{}")),
                           correlation=g["correlation"][()], seed=int(g.attrs["seed"]),
                           model=str(g.attrs["model"]),
                           units={k: v for k, v in units.items() if k not in omega and k != "error"})
        if partial:
            table.attrs.update(complete=True, n=n)
    return table


def _selected(available: List[str], columns: Optional[Sequence[str]]) -> List[str]:
    if columns is None:
        return available
    cols = [columns] if isinstance(columns, str) else list(columns)
    for c in cols:
        if c not in available:
            raise input_error("columns", c, "a column of the population, one of {" + ", ".join(available) + "}")
    return cols


# --- streaming ------------------------------------------------------------------------------------

def _part_name(start: int, stop: int) -> str:
    return f"rows-{start:012d}-{stop:012d}.h5"


class PartsWriter:
    """Streams a population to ``path``: :meth:`write` one finished chunk (any order), then
    :meth:`finish` (merge into ``path``, atomically). Holds nothing but the current chunk."""

    def __init__(self, path: Any, meta: Dict[str, Any]):
        self.h5py = _h5py()
        self.path = os.fspath(path)
        _check_parent(self.path)
        if os.path.isdir(self.path):
            raise input_error("output", self.path, "a file path (this is a directory)")
        self.dir = parts_dir(self.path)
        shutil.rmtree(self.dir, ignore_errors=True)  # a previous, unfinished run's parts
        try:
            os.mkdir(self.dir)
        except OSError as ex:
            raise input_error("output", self.path, f"a path in a writable directory ({ex.strerror})") from None
        self.meta = dict(meta, format=PARTS_FORMAT, crsim_version=_core.__version__)
        self.meta["correlation"] = np.asarray(meta["correlation"], dtype=float).tolist()
        self.done = 0
        self.failed = 0
        tmp = os.path.join(self.dir, "header.json.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.meta, fh)
        os.replace(tmp, os.path.join(self.dir, "header.json"))

    def write(self, start: int, stop: int, params: np.ndarray, readouts: pd.DataFrame,
              errors: Sequence[str], units: Dict[str, str]) -> None:
        """One chunk: rows ``start`` to ``stop - 1`` (parameters, readouts, errors, units)."""
        final = os.path.join(self.dir, _part_name(start, stop))
        tmp = final + ".tmp"
        with self.h5py.File(tmp, "w") as f:
            f.attrs["start"], f.attrs["stop"] = start, stop
            f.attrs["units_json"] = json.dumps(units)
            f.attrs["readouts"] = list(map(str, readouts.columns))
            f.create_dataset("parameters", data=np.asarray(params, dtype=float))
            f.create_dataset("readouts", data=readouts.to_numpy(dtype=float).reshape(stop - start, -1))
            f.create_dataset("error", data=np.array(list(errors), dtype=object),
                             dtype=self.h5py.string_dtype())
        os.replace(tmp, final)
        self.done += stop - start
        self.failed += sum(1 for e in errors if e)

    def finish(self) -> "PopulationFile":
        """Merges the parts (in patient order, one at a time) into ``path`` and removes them."""
        n = int(self.meta["n"])
        parts = _parts(self.dir)
        covered = sum(b - a for a, b, _ in parts)
        if covered != n:
            raise RuntimeError(f"population file {self.path}: {covered} of {n} rows were written")
        names = list(self.meta["names"])
        units: Dict[str, str] = {}
        for _, _, p in parts:
            with self.h5py.File(p, "r") as f:
                units.update(json.loads(f.attrs["units_json"]))
        wanted = self.meta.get("wanted")
        readouts = list(wanted) if wanted is not None else list(units)
        columns = names + readouts + (["error"] if self.failed else [])
        meta = dict(self.meta, columns=columns)
        punits = _parameter_units(meta.get("model", ""))
        tmp = f"{self.path}.part{os.getpid()}"
        try:
            # rdcc_nbytes=0: no chunk cache; whole chunks are written at once below. With the
            # default cache the merge held every chunk it wrote until the file was closed (memory
            # growing with n: 108 MB for 800,000 rows of 15 columns, h5py 3.16 / HDF5 2.0)
            with self.h5py.File(tmp, "w", rdcc_nbytes=0) as out:
                g = _write_header(out, meta)
                g.create_dataset("patient", data=np.arange(n, dtype=np.int64))
                cols = g["columns"]
                ds = {}
                for c in columns:
                    if c == "error":
                        ds[c] = cols.create_dataset(c, shape=(n,), dtype=self.h5py.string_dtype(),
                                                    chunks=(min(n, MERGE_BLOCK),))
                    else:
                        ds[c] = cols.create_dataset(c, shape=(n,), dtype=float, compression="gzip",
                                                    chunks=(min(n, MERGE_BLOCK),))
                    ds[c].attrs["unit"] = units.get(c, punits.get(c, ""))
                # whole blocks of `block` rows (the datasets' chunks) are gathered from the parts
                # and written at once (bounded memory: one block of every column)
                block = min(n, MERGE_BLOCK)
                buf = {c: np.full(block, np.nan) for c in columns if c != "error"}
                errs: List[Any] = [""] * block if self.failed else []
                lo = 0

                def flush(hi: int) -> None:
                    for c, v in buf.items():
                        ds[c][lo:hi] = v[:hi - lo]
                    if self.failed:
                        ds["error"][lo:hi] = errs[:hi - lo]

                for a, b, p in parts:
                    with self.h5py.File(p, "r") as f:
                        par = f["parameters"][()]
                        have = [str(x) for x in f.attrs["readouts"]]
                        vals = f["readouts"][()]
                        err = f["error"][()] if self.failed else None
                    k = a
                    while k < b:  # rows k.. of this part into the current block
                        m = min(b, lo + block)
                        i, j = k - lo, m - lo
                        for col, c in enumerate(names):
                            buf[c][i:j] = par[k - a:m - a, col]
                        for c in readouts:
                            buf[c][i:j] = vals[k - a:m - a, have.index(c)] if c in have else np.nan
                        if err is not None:
                            errs[i:j] = list(err[k - a:m - a])
                        k = m
                        if m == lo + block or m == n:
                            flush(m)
                            lo = m
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        shutil.rmtree(self.dir, ignore_errors=True)
        return PopulationFile(self.path, n, self.failed, int(meta["seed"]), str(meta.get("model", "")))


def _parts(directory: str) -> List[Any]:
    out = []
    for name in os.listdir(directory):
        if name.startswith("rows-") and name.endswith(".h5"):
            a, b = name[5:-3].split("-")
            out.append((int(a), int(b), os.path.join(directory, name)))
    return sorted(out)


def _load_parts(path: str, columns: Optional[Sequence[str]]) -> pd.DataFrame:
    h5py = _h5py()
    directory = parts_dir(path)
    with open(os.path.join(directory, "header.json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    names = list(meta["names"])
    frames = []
    units: Dict[str, str] = {}
    for a, b, p in _parts(directory):
        try:
            with h5py.File(p, "r") as f:
                units.update(json.loads(f.attrs["units_json"]))
                frame = pd.DataFrame(f["parameters"][()], columns=names, index=range(a, b))
                vals = pd.DataFrame(f["readouts"][()], columns=[str(x) for x in f.attrs["readouts"]],
                                    index=range(a, b))
                errors = [v.decode() if isinstance(v, bytes) else v for v in f["error"][()]]
        except OSError:  # removed by the merge meanwhile
            continue
        frame = pd.concat([frame, vals], axis=1)
        frame["error"] = errors
        frames.append(frame)
    wanted = meta.get("wanted")
    readouts = list(wanted) if wanted is not None else list(units)
    all_cols = names + readouts + ["error"]
    cols = _selected(all_cols, columns)
    table = (pd.concat(frames) if frames else pd.DataFrame(columns=all_cols)).reindex(columns=cols)
    table.index.name = "patient"
    table.attrs.update(omega=meta["omega"], typical=meta["typical"],
                       variability=meta.get("variability", {}),
                       correlation=np.asarray(meta["correlation"]), seed=int(meta["seed"]),
                       model=meta.get("model", ""), units={k: units.get(k, "") for k in readouts},
                       complete=False, n=int(meta["n"]))
    return table


@dataclass(frozen=True)
class PopulationFile:
    """A population written to ``path`` by ``crsim.population(..., output=path)``: ``n`` patients,
    ``failed`` of them with an error; :meth:`table` reads it (or some columns)."""

    path: str
    n: int
    failed: int
    seed: int
    model: str

    def table(self, columns: Optional[Sequence[str]] = None) -> pd.DataFrame:
        return load_population(self.path, columns=columns)
