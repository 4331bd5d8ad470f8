"""Observed data for fitting: the long table, its CSV loader and its check against a model.

One row per observation (or per NONMEM-style dose record). Columns (names case-insensitive; other
columns, e.g. covariates, are ignored):

- ``id``: subject (optional: one subject when absent).
- time, one of: ``time`` with ``time_unit`` (``h``, ``d``, ``min`` or ``week`` per row), ``time_h``
  (hours) or ``time_d`` (days). Times are >= 0.
- ``observable``: a model observable (or state) name, e.g. ``il6``, ``car_t_blood``, ``C``.
- ``value`` (or ``dv``): the measurement in ``unit``; NaN only on rows flagged censored, negative
  only on flagged rows or rows without an ``lloq`` (and not for proportional or log-normal errors).
- ``unit``: converted to the observable's unit in the model (mg/L <-> ug/mL <-> ng/mL,
  pg/mL <-> ng/L, cells/uL <-> cells/mL <-> 1e9/L, ...; see ``crsim.base.units``).
- ``lloq`` (optional): lower limit of quantification, in ``unit``.
- ``censored`` (or ``blq``; optional): True/1 for a result below the limit of quantification.
  A row is censored when flagged, or when its value (>= 0) is below its ``lloq``. A missing
  value, or a negative one next to an ``lloq``, on a row not flagged censored is an error, not a
  censored observation.
  The limit of a censored row is its ``lloq``, else its ``value`` (NONMEM's DV = LLOQ convention).
- dose records (optional): rows with ``evid`` = 1 and ``amt``, ``cmt`` (state name or 1-based
  number), optional ``rate`` (per time unit of the row), ``dur``, ``ii`` (in the row's time unit),
  ``addl`` and ``amt_unit`` (e.g. ``cells/kg``; default the state's dose unit); see
  :func:`crsim.doses_from_nonmem`. Rows with ``evid`` = 2, or ``mdv`` = 1 without a dose, are skipped.
- ``weight`` or ``weight_kg`` (optional): body weight in kg, one value per subject.

Every problem raises :class:`crsim.InputError` naming the cell as ``data.loc[<row>, '<column>']``
(tables from :func:`read_data` are indexed by line number in the file; a table whose row labels
are not unique is named by position, ``data.iloc[<i>]['<column>']``), its value and what is allowed.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pandas as pd

from crsim.base.errors import InputError, input_error
from crsim.model.model import Model, as_model
from crsim.scenario.nonmem import doses_from_nonmem
from crsim.base.units import TIME_UNITS_H, conversion_factor
from crsim.spec.dosing import MAX_WEIGHT_KG, WEIGHT_ALLOWED

__all__ = ["read_data", "check_data", "FitData", "prepare_data", "data_cell"]

_ALIASES = {"dv": "value", "blq": "censored", "cens": "censored", "weight_kg": "weight",
            "obs": "observable", "name": "observable"}
_KNOWN = {"id", "time", "time_unit", "time_h", "time_d", "observable", "value", "unit", "lloq",
          "censored", "evid", "mdv", "amt", "cmt", "rate", "dur", "ii", "addl", "ss", "amt_unit", "weight"}


def read_data(path: Any, **read_csv_kwargs: Any) -> pd.DataFrame:
    """Reads observed data (the long format of :mod:`crsim.fitting.data`) from a CSV file.

    The table is returned as in the file, indexed by line number (the header is line 1), so that an
    error naming ``data.loc[7, 'unit']`` points at line 7 of the file. Checking against a model
    happens in :func:`crsim.fit` or :func:`crsim.check_data`. Extra keyword arguments go to
    ``pandas.read_csv`` (e.g. ``sep=";"``)."""
    p = Path(path)
    if not p.is_file():
        raise input_error("path", str(path), "an existing CSV file")
    try:
        df = pd.read_csv(p, **read_csv_kwargs)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as ex:
        raise InputError(f"data file '{path}' cannot be read as CSV: {ex}") from None
    df.index = pd.RangeIndex(2, 2 + len(df), name="line")
    df.attrs["source"] = str(path)
    return df


@dataclass
class FitData:
    """Observations checked against a model, in the model's units.

    Attributes:
        table: one row per observation: id, time_h, observable, value and lloq (model unit), unit
            (model unit), censored, limit (the censoring limit, model unit; NaN when not censored),
            value_data and unit_data (as given), row (label in the given table).
        ids: subjects in order of first appearance.
        doses: id -> list of Dose from the table's dose records (empty when none).
        weights: id -> body weight in kg from the table (absent when not given).
        has_dose_records: whether the table had dose records.
    """

    table: pd.DataFrame
    ids: List[Any]
    doses: Dict[Any, list] = field(default_factory=dict)
    weights: Dict[Any, float] = field(default_factory=dict)
    has_dose_records: bool = False

    def subset(self, ids: List[Any]) -> "FitData":
        keep = self.table["id"].isin(ids)
        return FitData(self.table[keep].reset_index(drop=True), list(ids),
                       {i: self.doses.get(i, []) for i in ids},
                       {i: self.weights[i] for i in ids if i in self.weights}, self.has_dose_records)


def _columns(df: pd.DataFrame) -> Dict[str, str]:
    cols: Dict[str, str] = {}
    for c in df.columns:
        if not isinstance(c, str):
            continue
        key = c.strip().lower()
        key = _ALIASES.get(key, key)
        if key in _KNOWN:
            if key in cols:
                raise input_error("data.columns", [cols[key], c], f"one column for '{key}' "
                                  "(names are case-insensitive; dv = value, blq = censored)")
            cols[key] = c
    return cols


class _Cells:
    """Names cells in messages: data.loc[<label>, '<column>'] (+ line of the file)."""

    def __init__(self, df: pd.DataFrame, cols: Dict[str, str], positional: bool = False):
        self.cols = cols
        self.source = df.attrs.get("source")
        self.positional = positional

    def __call__(self, label: Any, key: str) -> str:
        name = self.cols.get(key, key)
        label = label.item() if isinstance(label, np.generic) else label
        if self.positional:  # the table's labels are not unique: name the position
            return f"data.iloc[{label!r}][{name!r}]"
        where = f" (line {label} of '{self.source}')" if self.source and isinstance(label, (int, np.integer)) else ""
        return f"data.loc[{label!r}, {name!r}]{where}"


def data_cell(row: Any, column: str) -> str:
    """``data.loc[<row>, '<column>']`` for a row label of the checked table."""
    row = row.item() if isinstance(row, np.generic) else row
    return f"data.loc[{row!r}, {column!r}]"


def _numbers(df: pd.DataFrame, col: str, key: str, cell: _Cells, allowed: str) -> np.ndarray:
    """A float column; non-numeric entries raise naming the first bad cell."""
    s = df[col]
    if s.dtype == object:  # NONMEM writes '.' for an empty cell
        s = s.map(lambda v: np.nan if isinstance(v, str) and v.strip() in (".", "") else v)
    out = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(out) & s.notna().to_numpy()
                         | np.array([isinstance(v, (bool, np.bool_)) for v in s], dtype=bool))
    if bad.size:
        i = bad[0]
        raise input_error(cell(df.index[i], key), s.iloc[i], allowed)
    return out


def _flags(df: pd.DataFrame, col: str, cell: _Cells) -> np.ndarray:
    out = np.zeros(len(df), dtype=bool)
    for i, v in enumerate(df[col]):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if isinstance(v, str):
            t = v.strip().lower()
            if t in ("1", "true", "yes", "y", "blq", "<lloq"):
                out[i] = True
            elif t in ("0", "false", "no", "n", ""):
                pass
            else:
                raise input_error(cell(df.index[i], "censored"), v, "a flag: True/False, 1/0, yes/no or empty")
        elif isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1)):
            out[i] = bool(v)
        else:
            raise input_error(cell(df.index[i], "censored"), v, "a flag: True/False, 1/0, yes/no or empty")
    return out


def _times_h(df: pd.DataFrame, cols: Dict[str, str], cell: _Cells) -> Tuple[np.ndarray, np.ndarray, str]:
    """Times in h, the per-row factor (h per data time unit) and the time key used."""
    given = [k for k in ("time", "time_h", "time_d") if k in cols]
    if len(given) != 1:
        raise input_error("data.columns", list(df.columns), "exactly one time column: 'time' with "
                          "'time_unit' (h, d, min, week), 'time_h' (hours) or 'time_d' (days)" +
                          (f"; found {given}" if given else ""))
    key = given[0]
    t = _numbers(df, cols[key], key, cell, "a time >= 0 (a number)")
    if key == "time_h":
        factor = np.ones(len(df))
    elif key == "time_d":
        factor = np.full(len(df), TIME_UNITS_H["d"])
    else:
        if "time_unit" not in cols:
            raise input_error("data.columns", list(df.columns), "a 'time_unit' column (h, d, min or "
                              "week) next to 'time', or a column named time_h or time_d")
        factor = np.empty(len(df))
        for i, u in enumerate(df[cols["time_unit"]]):
            try:
                factor[i] = conversion_factor(u, "h", cell(df.index[i], "time_unit"), "a time unit")
            except InputError:
                raise input_error(cell(df.index[i], "time_unit"), u, "a time unit: one of {" +
                                  ", ".join(TIME_UNITS_H) + "}") from None
    for i in range(len(df)):
        if not (np.isfinite(t[i]) and t[i] >= 0):
            raise input_error(cell(df.index[i], key), t[i], "a finite time >= 0 (time since the start "
                              "of the run, t = 0)")
    return t * factor, factor, key


def _dose_records(df: pd.DataFrame, cols: Dict[str, str], rows: np.ndarray, time_h: np.ndarray,
                  factor: np.ndarray, model: Model, cell: _Cells) -> list:
    sub = pd.DataFrame({"TIME": time_h[rows]}, index=df.index[rows])
    sub["EVID"] = 1
    for key in ("amt", "cmt", "addl", "ss"):
        if key in cols:
            sub[key.upper()] = df[cols[key]].to_numpy()[rows]
    if "amt" not in cols or "cmt" not in cols:
        raise input_error("data.columns", list(df.columns), "columns 'amt' and 'cmt' for the dose "
                          "records (rows with evid = 1)")
    for key, per_time in (("rate", -1), ("dur", 1), ("ii", 1)):
        if key in cols:
            v = _numbers(df, cols[key], key, cell, f"a number ({key} of a dose record)")[rows]
            sub[key.upper()] = v * factor[rows] ** per_time
    unit = None
    if "amt_unit" in cols:
        units = pd.unique(df[cols["amt_unit"]].to_numpy()[rows])
        if len(units) != 1 or not isinstance(units[0], str):
            raise input_error(cell(df.index[rows[0]], "amt_unit"), list(units), "one dose unit (text) "
                              "for the dose records of a subject")
        unit = units[0]
    # Cells named as every other cell of the data (data.loc[<label>, '<its column>'], file line).
    return doses_from_nonmem(sub, model, unit=unit, name="data",
                             _cell=lambda pos, label, key: cell(label, key))


def prepare_data(data: Any, model: Model) -> FitData:
    """Checks ``data`` against ``model`` and converts it to the model's units (see the module doc)."""
    if isinstance(data, (str, Path)):
        data = read_data(data)
    if not isinstance(data, pd.DataFrame):
        raise input_error("data", data, "a pandas DataFrame (long format: id, time_h or time + "
                          "time_unit, observable, value, unit, ...) or the path of a CSV file")
    if len(data) == 0:
        raise input_error("data", "an empty table", "at least one observation", raw=True)
    positional = not data.index.is_unique  # e.g. pd.concat of per-subject tables
    if positional:
        data = data.reset_index(drop=True)
    cols = _columns(data)
    cell = _Cells(data, cols, positional)
    missing = [k for k in ("observable", "value", "unit") if k not in cols]
    if missing:
        raise input_error("data.columns", list(data.columns), "columns observable, value, unit, a time "
                          "column (time_h, time_d or time + time_unit) and optional id, lloq, censored, "
                          "dose records (evid, amt, cmt, ...); missing: " + ", ".join(missing))
    n = len(data)
    time_h, factor, _ = _times_h(data, cols, cell)
    ids = data[cols["id"]].to_numpy() if "id" in cols else np.ones(n, dtype=int)
    for i, v in enumerate(ids):
        if v is None or (isinstance(v, float) and math.isnan(v)) \
                or isinstance(v, (bool, np.bool_)) or not isinstance(v, (str, numbers.Number)):
            raise input_error(cell(data.index[i], "id"), v, "a subject identifier (number or text)")
    evid = np.zeros(n)
    if "evid" in cols:
        evid = _numbers(data, cols["evid"], "evid", cell, "0 (observation), 1 (dose) or 2 (other)")
        evid = np.where(np.isnan(evid), 0.0, evid)
        bad = np.flatnonzero(~np.isin(evid, (0, 1, 2)))
        if bad.size:
            raise input_error(cell(data.index[bad[0]], "evid"), evid[bad[0]],
                              "0 (observation), 1 (dose) or 2 (other event)")
    skip = evid == 2
    if "mdv" in cols:
        mdv = _numbers(data, cols["mdv"], "mdv", cell, "0 or 1")
        skip |= (mdv == 1) & (evid == 0)
    obs = np.flatnonzero((evid == 0) & ~skip)
    dose_rows = np.flatnonzero(evid == 1)

    names = model.observable_names + [s for s in model.state_names if s not in model.observable_names]
    units = model.units()
    value = _numbers(data, cols["value"], "value", cell, "a number (NaN only for a censored row)")
    lloq = (_numbers(data, cols["lloq"], "lloq", cell, "a limit of quantification >= 0, or empty")
            if "lloq" in cols else np.full(n, np.nan))
    flag = _flags(data, cols["censored"], cell) if "censored" in cols else np.zeros(n, dtype=bool)

    rows = []
    for i in obs:
        label = data.index[i]
        name = data[cols["observable"]].iloc[i]
        if not isinstance(name, str) or name not in names:
            raise input_error(cell(label, "observable"), name, f"an observable (or state) of model "
                              f"{model.name}, one of {{" + ", ".join(names) + "}")
        unit = data[cols["unit"]].iloc[i]
        target = units[name]
        f = conversion_factor(unit, target, cell(label, "unit"), f"the unit of {name} in model {model.name}")
        lq = lloq[i]
        if not (np.isnan(lq) or (np.isfinite(lq) and lq >= 0)):
            raise input_error(cell(label, "lloq"), lq, "a finite limit of quantification >= 0, or empty")
        v = value[i]
        if np.isinf(v):
            raise input_error(cell(label, "value"), v, "a finite number")
        # A missing value only on a row flagged censored; an unflagged value in [0, lloq) is
        # censored at its lloq (M3), a negative one next to an lloq is an error (it was censored
        # without a word). Negative values without an lloq are measurements (an additive error
        # produces them); the proportional and log-normal error models refuse them (fit setup).
        if not flag[i] and np.isnan(v):
            raise input_error(cell(label, "value"), v, "a number (a missing value is allowed only "
                              "on a censored row: set censored = 1 and lloq)")
        if not flag[i] and v < 0 and not np.isnan(lq):
            raise input_error(cell(label, "value"), v, f"a measurement >= 0 next to lloq = {lq:g} "
                              "(a negative value is allowed there only on a censored row: set "
                              "censored = 1)")
        censored = bool(flag[i]) or (not np.isnan(lq) and v < lq)
        limit = np.nan
        if censored:
            limit = lq if not np.isnan(lq) else v
            if np.isnan(limit) or limit < 0:
                raise input_error(cell(label, "value"), v, "a number >= 0, or for a censored row a "
                                  "value >= 0 or an lloq giving the limit of quantification")
        rows.append((ids[i], time_h[i], name, v * f, target, lq * f, censored, limit * f, v, unit,
                     label.item() if isinstance(label, np.generic) else label))
    if not rows:
        raise input_error("data", f"{n} rows without observations", "at least one observation row "
                          "(evid 0)", raw=True)
    table = pd.DataFrame(rows, columns=["id", "time_h", "observable", "value", "unit", "lloq",
                                        "censored", "limit", "value_data", "unit_data", "row"])
    order = [v.item() if isinstance(v, np.generic) else v for v in pd.unique(ids)]
    doses: Dict[Any, list] = {}
    if dose_rows.size:
        for sid in order:
            rs = dose_rows[ids[dose_rows] == sid]
            doses[sid] = _dose_records(data, cols, rs, time_h, factor, model, cell) if rs.size else []
    weights: Dict[Any, float] = {}
    if "weight" in cols:
        w = _numbers(data, cols["weight"], "weight", cell, WEIGHT_ALLOWED)
        for sid in order:
            ws = pd.unique(w[(ids == sid) & ~np.isnan(w)])
            if len(ws) > 1:
                i = int(np.flatnonzero((ids == sid) & (w == ws[1]))[0])
                raise input_error(cell(data.index[i], "weight"), ws[1], f"one body weight per subject "
                                  f"(subject {sid!r} also has {ws[0]:g} kg)")
            if len(ws) == 1:
                if not (np.isfinite(ws[0]) and 0 < ws[0] <= MAX_WEIGHT_KG):
                    i = int(np.flatnonzero((ids == sid) & (w == ws[0]))[0])
                    raise input_error(cell(data.index[i], "weight"), ws[0], WEIGHT_ALLOWED)
                weights[sid] = float(ws[0])
    order = [sid for sid in order if (table["id"] == sid).any()]
    return FitData(table, order, doses, weights, bool(dose_rows.size))


def check_data(data: Any, model: Any) -> pd.DataFrame:
    """``data`` (DataFrame or CSV path) checked against ``model`` and converted to its units: one row
    per observation with id, time_h, observable, value and lloq (model unit), unit (model unit),
    censored, limit (censoring limit, model unit), value_data and unit_data (as given) and row (the
    label in ``data``). Raises InputError naming the first bad cell."""

    return prepare_data(data, as_model(model)).table
