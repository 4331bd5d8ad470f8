"""NONMEM-style event tables (one subject) converted to :class:`Dose` records.

Columns (case-insensitive): TIME (h), AMT (dose unit of the target state), CMT (1-based state number
or state name), EVID, and optionally RATE (dose unit/h), DUR (h), II (h), ADDL, SS. Other columns
(ID, DV, MDV, covariates, ...) are ignored; empty cells (NaN) in optional columns mean 0, as '.' does
in NONMEM. EVID 1 rows are doses; EVID 0 (observation) and EVID 2 (other event) rows give no dose,
their times can be returned as output times. Not supported, and rejected with an InputError naming
the cell: EVID 3/4 (reset), SS != 0 (steady state), RATE = -1/-2 (rate or duration modelled as a
parameter) and tables with more than one ID. Lag and bioavailability are model parameters in
NONMEM (ALAG, F), not data items: set them on the Dose objects if needed.

Errors name the input as the user sees it: the argument (``doses`` of :func:`crsim.simulate` and
:func:`crsim.fit`), the row (1-based position in the table and its index label), the column as
spelled in the table, the file when the table records one in ``table.attrs["source"]``, the value
and what is allowed, e.g. ``doses row 2 (index 11), column 'AMT' = -3 is not allowed: a finite
amount >= 0 mg``.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import pandas as pd

from crsim.spec.dosing import Dose
from crsim.base.errors import input_error, show
from crsim.model.model import Model, as_model

__all__ = ["doses_from_nonmem"]

_REQUIRED = ("time", "amt", "cmt", "evid")
_OPTIONAL = ("rate", "dur", "ii", "addl", "ss")


def _source(table: pd.DataFrame) -> str:
    """`` of file '<path>'`` when the table records where it came from (``attrs["source"]``)."""
    source = table.attrs.get("source") if isinstance(table.attrs, dict) else None
    return f" of file '{source}'" if isinstance(source, str) and source else ""


def _where(table: pd.DataFrame, name: str) -> str:
    return name + _source(table)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _cells(table: pd.DataFrame, name: str) -> Callable[[int, Any, str], str]:
    """Names a cell of ``table`` in messages: ``<name> row <n> (index <label>)[ of file '<path>'],
    column '<column>'``; n is the 1-based position of the label in ``table`` (when its index is
    unique; else the position given), so that a subset of a table (one subject's rows) is named by
    the position in the table the user gave."""
    cols = _columns(table, name)
    source = _source(table)
    unique = table.index.is_unique

    def at(pos: int, label: Any, key: str) -> str:
        label = _plain(label)
        if unique:
            pos = int(table.index.get_loc(label))
        return f"{name} row {pos + 1} (index {label!r}){source}, column {cols.get(key, key.upper())!r}"
    return at


def _columns(table: pd.DataFrame, name: str) -> dict:
    cols = {}
    for c in table.columns:
        if not isinstance(c, str):
            continue
        key = c.strip().lower()
        if key in _REQUIRED + _OPTIONAL + ("id",):
            if key in cols:
                raise input_error(f"{_where(table, name)} columns", [cols[key], c],
                                  f"one column named {key.upper()} (case-insensitive)")
            cols[key] = c
    missing = [k.upper() for k in _REQUIRED if k not in cols]
    if missing:
        raise input_error(f"{_where(table, name)} columns", list(table.columns),
                          "columns TIME, AMT, CMT, EVID (case-insensitive; missing: " +
                          ", ".join(missing) + "), optional RATE, DUR, II, ADDL, SS")
    return cols


def _number(value: Any, cell: str, allowed: str, default: Optional[float] = None) -> float:
    if np.ndim(value) == 0 and not isinstance(value, str) and pd.isna(value):
        if default is not None:
            return default
        raise input_error(cell, value, allowed)
    if isinstance(value, (bool, np.bool_, str)):
        raise input_error(cell, value, allowed)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise input_error(cell, value, allowed) from None
    if math.isnan(v) and default is not None:
        return default
    if not math.isfinite(v):
        raise input_error(cell, v, allowed)
    return v


def _integer(value: Any, cell: str, allowed: str, default: Optional[int] = None) -> int:
    v = _number(value, cell, allowed, None if default is None else float(default))
    if v != int(v):
        raise input_error(cell, value, allowed)
    return int(v)


def _state(value: Any, cell: str, model: Model) -> str:
    names = model.state_names
    allowed = (f"a state number 1..{len(names)} or a state name of model {model.name} "
               "(" + ", ".join(f"{i + 1}={n}" for i, n in enumerate(names)) + ")")
    if isinstance(value, str):
        text = value.strip()
        if text in names:
            name = text
        elif text.isdigit() and 1 <= int(text) <= len(names):
            name = names[int(text) - 1]
        else:
            raise input_error(cell, value, allowed)
    else:
        k = _integer(value, cell, allowed)
        if not 1 <= k <= len(names):
            raise input_error(cell, value, allowed)
        name = names[k - 1]
    if not model.dose_unit(name):
        dosable = [n for n in names if model.dose_unit(n)]
        raise input_error(cell, value, f"a state that takes doses (state '{name}' of model "
                          f"{model.name} does not); dosable: " + ", ".join(dosable))
    return name


def doses_from_nonmem(table: pd.DataFrame, model: Union[str, Model], unit: Optional[str] = None,
                      return_observation_times: bool = False, name: str = "table",
                      _cell: Optional[Callable[[int, Any, str], str]] = None
                      ) -> Union[List[Dose], Tuple[List[Dose], np.ndarray]]:
    """Dose records from a NONMEM-style event table of one subject.

    Args:
        table: DataFrame with TIME (h), AMT, CMT, EVID and optional RATE, DUR, II, ADDL, SS columns
            (names case-insensitive; see the module docstring for the semantics).
        model: model name or :class:`Model`; CMT numbers are 1-based positions in ``model.states``.
        unit: unit of AMT (and AMT/h of RATE); default the target state's dose unit. Give e.g.
            ``"mg/kg"`` for weight-based amounts.
        return_observation_times: also return the sorted unique times (h) of the EVID 0 and 2 rows.
        name: what errors call the table (``"doses"`` when it is the ``doses`` argument of
            :func:`crsim.simulate` or :func:`crsim.fit`).

    Returns:
        A list of :class:`Dose` (in table order), or ``(doses, observation_times)``.

    Raises:
        InputError naming the cell as ``<name> row <position> (index <label>), column '<column>'``
        (1-based position; the column as spelled in the table; the file from
        ``table.attrs["source"]`` when set), its value and what is allowed.
    """
    m = as_model(model)
    if not isinstance(table, pd.DataFrame):
        raise input_error(name, table, "a pandas DataFrame with columns TIME, AMT, CMT, EVID")
    cols = _columns(table, name)
    where = _where(table, name)
    at = _cell or _cells(table, name)
    if "id" in cols:
        for pos, (label, v) in enumerate(table[cols["id"]].items()):
            if not (v is None or isinstance(v, (str, numbers.Number))):
                raise input_error(at(pos, label, "id"), v, "a subject identifier (number or text)")
        ids = pd.unique(table[cols["id"]].dropna())
        if len(ids) > 1:
            raise input_error(f"{where} column {cols['id']!r}", [_plain(i) for i in list(ids)[:5]],
                              "a single subject (select the rows of one ID first)")

    def cell(label: Any, key: str) -> str:
        return at(pos, label, key)

    doses: List[Dose] = []
    obs_times: List[float] = []
    for pos, (label, row) in enumerate(table.iterrows()):
        get = {k: row[c] for k, c in cols.items()}
        time = _number(get["time"], cell(label, "time"), "a finite time in h")
        evid = _integer(get["evid"], cell(label, "evid"),
                        "0 (observation), 1 (dose) or 2 (other event)")
        if evid in (0, 2):
            obs_times.append(time)
            continue
        if evid != 1:
            raise input_error(cell(label, "evid"), evid,
                              "0 (observation), 1 (dose) or 2 (other event); EVID 3 and 4 (reset) "
                              "are not supported")
        if "ss" in cols and _number(get["ss"], cell(label, "ss"), "0", 0.0) != 0.0:
            raise input_error(cell(label, "ss"), get["ss"],
                              "0: steady-state doses are not supported (simulate the repeats "
                              "with ADDL and II instead)")
        target = _state(get["cmt"], cell(label, "cmt"), m)
        dose_unit = m.dose_unit(target)
        amt = _number(get["amt"], cell(label, "amt"),
                      f"a finite amount >= 0 {unit or dose_unit} for a dose record (EVID 1)")
        if amt < 0:
            raise input_error(cell(label, "amt"), amt, f"a finite amount >= 0 {unit or dose_unit}")
        rate = duration = None
        if "rate" in cols:
            r = _number(get["rate"], cell(label, "rate"), "a rate >= 0 (0 = bolus)", 0.0)
            if r in (-1.0, -2.0):
                raise input_error(cell(label, "rate"), r,
                                  "a rate >= 0; RATE = -1/-2 (rate/duration modelled as a parameter) "
                                  "is not supported: give RATE or DUR as data")
            if r < 0:
                raise input_error(cell(label, "rate"), r, f"a rate >= 0 {unit or dose_unit}/h (0 = bolus)")
            rate = r if r > 0 else None
        if "dur" in cols:
            dur = _number(get["dur"], cell(label, "dur"), "a duration >= 0 h (0 = bolus)", 0.0)
            if dur < 0:
                raise input_error(cell(label, "dur"), dur, "a duration >= 0 h (0 = bolus)")
            duration = dur if dur > 0 else None
        if rate is not None and duration is not None:
            raise input_error(cell(label, "rate"), rate,
                              f"either RATE or DUR for an infusion, not both (DUR = {show(duration)})")
        addl = 0
        if "addl" in cols:
            addl = _integer(get["addl"], cell(label, "addl"), "an integer number of repeats >= 0", 0)
            if addl < 0:
                raise input_error(cell(label, "addl"), addl, "an integer number of repeats >= 0")
        interval = None
        if addl > 0:
            allowed = "an interval > 0 h when ADDL > 0"
            if "ii" not in cols:
                raise input_error(cell(label, "addl"), addl, "0 when there is no II column")
            interval = _number(get["ii"], cell(label, "ii"), allowed, 0.0)
            if interval <= 0:
                raise input_error(cell(label, "ii"), get["ii"], allowed)
        doses.append(Dose(target=target, amount=amt, unit=unit or dose_unit, time=time, rate=rate,
                          duration=duration, additional=addl, interval=interval))
    if return_observation_times:
        return doses, np.unique(np.asarray(obs_times, dtype=float))
    return doses
