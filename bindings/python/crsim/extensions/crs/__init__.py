"""The extension of the CRS model (models/crs/crs.ant): clinical readouts and the ASTCT grade,
standard management strategies, drug names of text regimens and policy conditions, plot and scan
defaults, the explorer's controls and the clinical summary in words.

Registered in pyproject.toml::

    [project.entry-points."crsim.models"]
    crs = "crsim.extensions.crs:EXTENSION"
"""
from __future__ import annotations

from typing import Any, Dict, List

from crsim import _core
from crsim.model.extension import ModelExtension
from crsim.viz.explore import current_values
from .readouts import (NATIVE_READOUTS, PLOT_LABELS, PLOT_PANELS, PLOT_VARIABLES, SCAN_READOUTS, clinical_summary,
                       crs_grade, crs_readouts, extra_readouts, hlh_criteria, iec_hs_grade,
                       population_summary)
from .strategies import standard

__all__ = ["EXTENSION", "crs_grade", "hlh_criteria", "iec_hs_grade"]

#: Which state a text regimen doses, by "drug route" or "drug" (on top of the generic rules).
DRUG_TARGETS = {
    "tocilizumab": "tocilizumab_central",
    "tocilizumab iv": "tocilizumab_central",
    "siltuximab": "siltuximab_central",
    "siltuximab iv": "siltuximab_central",
    "dexamethasone": "dexamethasone_central",
    "dexamethasone iv": "dexamethasone_central",
    "dexamethasone po": "dexamethasone_depot",
    "methylprednisolone": "methylprednisolone_central",
    "methylprednisolone iv": "methylprednisolone_central",
    "methylprednisolone po": "methylprednisolone_depot",
    "anakinra": "anakinra_central",
    "anakinra iv": "anakinra_central",
    "anakinra sc": "anakinra_depot",
    "emapalumab": "emapalumab_central",
    "emapalumab iv": "emapalumab_central",
    "tisagenlecleucel": "car_t_effector",
    "axicabtagene": "car_t_effector",
    "car-t": "car_t_effector",
}

#: Clinical words a policy condition may use for an observable.
VARIABLE_ALIASES = {
    "grade": "crs_grade_now",
    "crs_grade": "crs_grade_now",
    "astct_grade": "crs_grade_now",
    "il-6": "il6",
    "ifn-gamma": "ifng",
    "t": "temperature",
    "fio2": "fio2_required",
}

#: The states whose administrations count as doses of a drug (scan readouts <drug>_doses).
DRUG_STATES = {
    "tocilizumab": ("tocilizumab_central",),
    "siltuximab": ("siltuximab_central",),
    "dexamethasone": ("dexamethasone_central", "dexamethasone_depot"),
    "methylprednisolone": ("methylprednisolone_central", "methylprednisolone_depot"),
    "anakinra": ("anakinra_central", "anakinra_depot"),
    "emapalumab": ("emapalumab_central",),
}


def scan_regimen(model: Any) -> List[Any]:
    """The parameter set's CAR-T dose at t = 0 (the base of a scan given by model name)."""
    dose = model.default_regimen.get("car_t_dose")
    return [] if dose is None else [f"{dose['value']:g} cells/kg iv"]


def explorer_controls(scenario: Any) -> Dict[str, Any]:
    """The CRS teaching explorer: tumor burden and CAR-T dose (log sliders over ±10-fold around the
    scenario's values), and the intervention strategy (none or any standard strategy)."""
    ex = current_values(scenario, ["parameters.tumor_burden", "regimen[0].amount"])
    burden, dose = ex["parameters.tumor_burden"], ex["regimen[0].amount"]
    names = ["none"] + [s.name for s in EXTENSION.standard_strategies().values() if s.name != "none"]
    return {"parameters.tumor_burden": (burden / 10, burden * 10),
            "regimen[0].amount": (dose / 10, dose * 10),
            "strategy": names}


EXTENSION = ModelExtension(
    drug_targets=DRUG_TARGETS,
    variable_aliases=VARIABLE_ALIASES,
    # il6_signalling is a 0-1 fraction, not a concentration (issue 15): renamed (the former name warns)
    renamed={"il6_signalling": "il6_signalling_fraction"},
    grade_observable="crs_grade_now",
    drug_states=DRUG_STATES,
    readouts=crs_readouts,
    # the grader's thresholds (crsim::models::GradingPolicy, one source of truth)
    readout_watch=tuple(_core.crs_readout_watch()),
    extra_readouts=extra_readouts,
    scan_readouts=SCAN_READOUTS,
    native_readouts=NATIVE_READOUTS,
    plot_variables=PLOT_VARIABLES,
    plot_panels=PLOT_PANELS,
    plot_labels=PLOT_LABELS,
    grade_course=crs_grade,
    flag_courses={"IEC-HS": iec_hs_grade},
    summary=clinical_summary,
    population_summary=population_summary,
    strategies=standard,
    scan_regimen=scan_regimen,
    explorer_controls=explorer_controls,
    control_labels={"regimen[0].amount": "CAR-T dose"},
)
