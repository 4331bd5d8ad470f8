"""Model-specific knowledge that policies, strategies and scans need, keyed by model name.

- ``DRUG_TARGETS``: which state a text regimen doses, by ``"drug route"`` or ``"drug"`` (on top of the
  generic rules of :func:`crsim._scenario.targets_table`: iv -> central, po -> depot, and states named
  ``<drug>_central`` / ``<drug>_depot``).
- ``VARIABLE_ALIASES``: clinical words a policy condition may use for an observable.
- ``GRADE_OBSERVABLE``: the observable holding the instantaneous CRS grade (``policy.trigger_grade``).
- ``DRUG_STATES``: the states whose administrations count as doses of a drug (readouts
  ``<drug>_doses``).
- ``extra_readouts(result)``: readouts a scan reports beyond ``Result.readouts`` (dose counts, tumor
  burden at day 28).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Tuple

import numpy as np

__all__ = ["DRUG_TARGETS", "VARIABLE_ALIASES", "GRADE_OBSERVABLE", "DRUG_STATES", "targets_for",
           "resolve_variable", "extra_readouts", "EXTRA_READOUTS"]

DRUG_TARGETS: Dict[str, Dict[str, str]] = {
    "crs": {
        "tocilizumab": "tocilizumab_central",
        "tocilizumab iv": "tocilizumab_central",
        "siltuximab": "siltuximab_central",
        "siltuximab iv": "siltuximab_central",
        "dexamethasone": "dexamethasone_central",
        "dexamethasone iv": "dexamethasone_central",
        "dexamethasone po": "dexamethasone_depot",
        "tisagenlecleucel": "car_t_effector",
        "axicabtagene": "car_t_effector",
        "car-t": "car_t_effector",
    },
}

VARIABLE_ALIASES: Dict[str, Dict[str, str]] = {
    "crs": {
        "grade": "crs_grade_now",
        "crs_grade": "crs_grade_now",
        "astct_grade": "crs_grade_now",
        "il-6": "il6",
        "ifn-gamma": "ifng",
        "t": "temperature",
        "fio2": "fio2_required",
    },
}

GRADE_OBSERVABLE: Dict[str, str] = {"crs": "crs_grade_now"}

DRUG_STATES: Dict[str, Dict[str, Tuple[str, ...]]] = {
    "crs": {
        "tocilizumab": ("tocilizumab_central",),
        "siltuximab": ("siltuximab_central",),
        "dexamethasone": ("dexamethasone_central", "dexamethasone_depot"),
    },
}

#: Model -> readout -> (unit, meaning) of :func:`extra_readouts`.
EXTRA_READOUTS: Dict[str, Dict[str, Tuple[str, str]]] = {
    "crs": {
        "tocilizumab_doses": ("", "tocilizumab administrations (scheduled and triggered)"),
        "siltuximab_doses": ("", "siltuximab administrations (scheduled and triggered)"),
        "dexamethasone_doses": ("", "dexamethasone administrations (IV and oral, scheduled and triggered)"),
        "tumor_day28": ("cells", "CD19+ tumor cells at day 28 (672 h; linear interpolation on the "
                                 "output grid; NaN if the run is shorter)"),
        "tumor_fraction_day28": ("1", "tumor at day 28 relative to the burden at infusion"),
    },
}


def targets_for(model: str, info: Mapping[str, Any]) -> Dict[str, str]:
    """The drug/route -> state table of text regimens for one model (generic rules, then the model's
    own names, which win)."""
    from ._scenario import targets_table

    table = targets_table(info)
    table.update(DRUG_TARGETS.get(model, {}))
    return table


def resolve_variable(model: str, name: str) -> str:
    """The observable or state a condition's variable names (aliases resolved, case kept)."""
    return VARIABLE_ALIASES.get(model, {}).get(name.lower(), name)


def _value_at(times: np.ndarray, values: np.ndarray, t: float) -> float:
    if len(times) == 0 or t < times[0] - 1e-9 or t > times[-1] + 1e-9:
        return math.nan
    return float(np.interp(t, times, values))


def extra_readouts(result: Any) -> Tuple[Dict[str, float], Dict[str, str]]:
    """Readouts beyond ``result.readouts`` for scans: per drug of the model the number of
    administrations, and for the CRS model the tumor burden at day 28. Models without entries get
    ``policy_firings`` only."""
    name = result.model.name
    values: Dict[str, float] = {}
    units: Dict[str, str] = {}
    states = list(result._doses["state"])
    for drug, targets in DRUG_STATES.get(name, {}).items():
        values[f"{drug}_doses"] = float(sum(1 for s in states if s in targets))
    if name == "crs":
        values["tumor_day28"] = _value_at(result.times, result["tumor_cells"], 28 * 24.0)
        values["tumor_fraction_day28"] = _value_at(result.times, result["tumor_fraction"], 28 * 24.0)
    units.update({k: v[0] for k, v in EXTRA_READOUTS.get(name, {}).items() if k in values})
    values["policy_firings"] = float(len(result._firings["policy"])) if result._firings else 0.0
    units["policy_firings"] = ""
    return values, units
