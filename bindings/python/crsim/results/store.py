"""The results file at its lowest level: records written and read through the C++ HDF5 writer and
reader (:func:`write_records`, :func:`read_file`). The layout is docs/hdf5-schema.md (schema
version 1). Writing is atomic (temporary file + rename); the GIL is released while the file is
written or read. :mod:`crsim.results.files` holds the public ``save`` and ``load``.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from crsim import _core
from crsim.base.errors import input_error

__all__ = ["IoError", "write_records", "read_file"]

IoError = _core.IoError


def _path(path: Any, field: str = "path") -> str:
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise input_error(field, path, "a file path (str or pathlib.Path)")
    text = os.fspath(path)
    if not isinstance(text, str) or not text or "\0" in text:
        # the C++ writer would stop at the NUL and write another file ("x\0y.h5" -> "x")
        raise input_error(field, text, "a non-empty file path without NUL characters")
    return text


def _record(name: str, res: Any) -> Dict[str, Any]:
    values: Dict[str, float] = {}
    labels: Dict[str, str] = {}
    for k, v in res.readouts.items():
        if isinstance(v, str):
            labels[k] = v
        else:
            values[k] = float(v)
    units = {k: u for k, u in res.readout_units.items() if k in values}
    index = {n: i for i, n in enumerate(res.state_names)}
    d = res._doses
    return {
        "name": name,
        "model_name": res.model.name,
        "model_version": res.model.version,
        "scenario_json": res.scenario_json,
        "seed": None,
        "state_names": res.state_names,
        "state_units": res.state_units,
        "state_dose_units": res.state_dose_units,
        "observable_names": res.observable_names,
        "observable_units": res.observable_units,
        "parameter_names": list(res.parameters),
        "parameter_units": [res.parameter_units.get(k, "") for k in res.parameters],
        "parameter_values": np.asarray(list(res.parameters.values()), dtype=float),
        "solver": {k: res.solver[k] for k in ("method", "rtol", "atol", "max_steps", "max_step",
                                               "initial_step", "sensitivity_error_control")
                   if k in res.solver},
        "times": res.times,
        "states": res.states,
        "observables": res.observables,
        "sensitivity_names": list(res._sens_names),
        "state_sensitivities": res._state_sens,
        "observable_sensitivities": res._obs_sens,
        "doses": {"state": np.asarray([index[s] for s in d["state"]], dtype=float),
                  "time": d["time"], "amount": d["amount"], "rate": d["rate"], "end": d["end"]},
        "stats": {k: res.stats[k] for k in ("steps", "rhs_evaluations", "jacobian_evaluations",
                                             "restarts", "rejected_steps", "dopri5_steps",
                                             "rosenbrock4_steps", "stiff_switches") if k in res.stats},
        "readouts": values,
        "readout_units": units,
        "readout_labels": labels,
    }


def write_records(path: Any, named: Sequence[Tuple[str, Any]],
                  attributes: Optional[Mapping[str, str]] = None) -> None:
    """Writes (scenario name, Result) pairs to the results file ``path`` atomically."""
    p = _path(path)
    _core.write_results(p, [_record(name, r) for name, r in named], dict(attributes or {}))


def read_file(path: Any) -> Dict[str, Any]:
    """The raw contents of a results file as read by the C++ reader: ``meta`` and ``scenarios``
    (a list of dicts of names, units and numpy arrays)."""
    return read_results(_path(path))


def read_results(p: str) -> Dict[str, Any]:
    """``_core.read_results(p)``; a text field that is not UTF-8 (a damaged file whose strings
    libhdf5 still reads) is an IoError naming the file, not a UnicodeDecodeError."""
    try:
        return _core.read_results(p)
    except UnicodeDecodeError as ex:
        raise _io_error(p, f"results file '{p}' cannot be read: a text field is not valid UTF-8 "
                           f"({ex.reason} at byte {ex.start}); the file is damaged") from None


def _io_error(path: str, message: str) -> Exception:
    err = IoError(message)
    err.path = path
    return err
