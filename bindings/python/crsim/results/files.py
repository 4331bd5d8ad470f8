"""Results files: :func:`save` and :func:`load` (HDF5, docs/hdf5-schema.md)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from crsim.base.errors import InputError, input_error
from crsim.model.model import Model, models
from crsim.results.result import Result
from crsim.results.store import IoError, _io_error, _path, read_results, write_records
from crsim.scenario.scenario import Scenario

__all__ = ["save", "load", "IoError"]


def _named(results: Any) -> List[Tuple[str, Result]]:
    if isinstance(results, Result):
        results = [results]
    if isinstance(results, Mapping):
        items = list(results.items())
        for i, (k, r) in enumerate(items):
            if not isinstance(k, str):
                raise input_error(f"results key {k!r}", k, "a scenario name (str)")
    elif isinstance(results, (list, tuple)):
        items = []
        for i, r in enumerate(results):
            if not isinstance(r, Result):
                raise input_error(f"results[{i}]", r, "a crsim.Result")
            sc = r.scenario
            items.append((sc.name if sc is not None else r.model.name, r))
    else:
        raise input_error("results", results, "a Result, a list of Results or a dict name -> Result")
    if not items:
        raise input_error("results", results, "at least one Result")
    seen: Dict[str, int] = {}
    for i, (k, r) in enumerate(items):
        if not isinstance(r, Result):
            raise input_error(f"results[{k!r}]", r, "a crsim.Result")
        if k in seen:
            raise input_error(f"results[{i}]", k, f"a unique scenario name (results[{seen[k]}] has it "
                              "too): give the scenarios different names, or pass a dict name -> Result")
        seen[k] = i
    return items


def save(results: Union[Result, Sequence[Result], Mapping[str, Result]], path: Any,
         attributes: Optional[Mapping[str, str]] = None) -> None:
    """Writes results to one crsim results file (HDF5; docs/hdf5-schema.md), one group per
    scenario under ``/scenarios/<name>``, replacing ``path`` atomically.

    Args:
        results: a Result, a list of Results (named by their scenarios, which must differ) or a
            dict name -> Result.
        path: the file to write (its directory must exist).
        attributes: extra text attributes of the file's root (provenance), name -> str.

    Raises:
        InputError (bad arguments, missing directory), IoError (an OSError; HDF5 or file system).
    """
    write_records(path, _named(results), attributes)


def _without_covariates(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """A stored scenario without ``patient.covariates``: files written before free covariates were
    refused may hold them; no model read them, so the run stored is the same without them (the
    stored text, ``Result._scenario_json``, keeps them)."""
    patient = data.get("patient")
    if isinstance(patient, Mapping) and "covariates" in patient:
        return {**data, "patient": {k: v for k, v in patient.items() if k != "covariates"}}
    return data


def _result_from_record(path: str, rec: Dict[str, Any]) -> Result:
    name = rec["name"]
    if rec["model_name"] not in models():
        raise _io_error(path, f"{path}: scenario '{name}' was simulated with model '{rec['model_name']}', "
                      f"which this crsim does not have (models: {', '.join(models())}); if it is a "
                      "model of your own, load its source first (crsim.Model.from_antimony(text or "
                      ".ant file), crsim.Model.from_sbml(file), or a scenario naming the file) and "
                      "call crsim.load again; or read the file with h5py (layout in "
                      "docs/hdf5-schema.md)")
    model = Model(rec["model_name"])
    scenario = None
    weight = None
    t_start = 0.0
    try:
        data = json.loads(rec["scenario_json"])
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        try:
            scenario = Scenario.from_dict(_without_covariates(data), source=f"{path}: scenario '{name}'")
        except InputError:
            scenario = None
        patient = data.get("patient")
        if isinstance(patient, Mapping) and isinstance(patient.get("weight_kg"), (int, float)):
            weight = float(patient["weight_kg"])
        if isinstance(data.get("t_start_h"), (int, float)):
            t_start = float(data["t_start_h"])
    raw = {k: rec[k] for k in ("times", "states", "observables", "sensitivity_names",
                               "state_sensitivities", "observable_sensitivities", "doses", "stats")}
    raw["parameters"] = rec["parameter_values"]
    res = Result(model, raw, weight=weight, t_start=t_start, solver=rec["solver"])
    # Names and units as stored (they are the model's unless the model changed since).
    res.state_names = list(rec["state_names"])
    res.state_units = list(rec["state_units"])
    res.state_dose_units = list(rec["state_dose_units"])
    res.observable_names = list(rec["observable_names"])
    res.observable_units = list(rec["observable_units"])
    res.parameters = dict(zip(rec["parameter_names"], (float(v) for v in rec["parameter_values"])))
    res.parameter_units = dict(zip(rec["parameter_names"], rec["parameter_units"]))
    res.scenario = scenario
    res._scenario_json = rec["scenario_json"]
    values: Dict[str, Any] = {k: float(v) for k, v in rec["readouts"].items()}
    values.update(rec["readout_labels"])
    res._readouts = (values, dict(rec["readout_units"]))
    return res


def load(path: Any, name: Optional[str] = None) -> Union[Result, Dict[str, Result]]:
    """Reads a crsim results file.

    Returns the Result when the file holds one scenario (or ``name`` picks one), otherwise a dict
    scenario name -> Result in the order they were written. Each Result has the stored arrays,
    units, solver settings, statistics and readouts, and ``result.scenario`` equal to the scenario
    that was run.

    Raises:
        InputError (no such file, unknown ``name``), IoError (an OSError: not an HDF5 file, not a
        crsim results file, a newer schema version, inconsistent contents).
    """
    p = _path(path)
    content = read_results(p)
    recs = content["scenarios"]
    if name is not None:
        names = [r["name"] for r in recs]
        if name not in names:
            raise input_error("name", name, f"a scenario in {p}, one of {{{', '.join(names)}}}")
        recs = [r for r in recs if r["name"] == name]
    results = {r["name"]: _result_from_record(p, r) for r in recs}
    if len(results) == 1:
        return next(iter(results.values()))
    return results
