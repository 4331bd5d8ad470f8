"""The extension of the T-cell-engager model (models/tce/tce.ant, docs/tce-model.md): the products'
names for text regimens, clinical words of policy conditions, per-dose readouts (CRS episodes
attributed to the dose that preceded them, IL-6 peak and grade after each dose, time to onset,
target depletion), standard strategies and plot defaults.

Registered in pyproject.toml::

    [project.entry-points."crsim.models"]
    tce = "crsim.extensions.tce:EXTENSION"
"""
from __future__ import annotations

from crsim import _core
from crsim.model.extension import ModelExtension
from .readouts import (GRADER_INPUTS, PLOT_LABELS, PLOT_PANELS, PLOT_VARIABLES, SCAN_READOUTS,
                       clinical_summary, grade_course, per_dose, tce_readouts)
from .strategies import standard

__all__ = ["EXTENSION", "per_dose"]

#: Which state a text regimen doses, by "drug route" or "drug": the engager (every product is the
#: model's one engager, its parameter set says which) and the rescue drugs.
DRUG_TARGETS = {
    "mosunetuzumab": "tce_central", "mosunetuzumab iv": "tce_central",
    "glofitamab": "tce_central", "glofitamab iv": "tce_central",
    "blinatumomab": "tce_central", "blinatumomab iv": "tce_central",
    "epcoritamab": "tce_depot", "epcoritamab sc": "tce_depot",
    "teclistamab": "tce_depot", "teclistamab sc": "tce_depot",
    "tce": "tce_central", "tce iv": "tce_central", "tce sc": "tce_depot",
    "tocilizumab": "tocilizumab_central", "tocilizumab iv": "tocilizumab_central",
    "siltuximab": "siltuximab_central", "siltuximab iv": "siltuximab_central",
    "dexamethasone": "dexamethasone_central", "dexamethasone iv": "dexamethasone_central",
    "dexamethasone po": "dexamethasone_depot",
}

#: Clinical words a policy condition may use for an observable.
VARIABLE_ALIASES = {"grade": "crs_grade_now", "crs_grade": "crs_grade_now", "astct_grade": "crs_grade_now",
                    "il-6": "il6", "t": "temperature", "fio2": "fio2_required"}

#: The states whose administrations count as doses of a drug (scan readouts <drug>_doses).
DRUG_STATES = {
    "tce": ("tce_central", "tce_depot"),
    "tocilizumab": ("tocilizumab_central",),
    "siltuximab": ("siltuximab_central",),
    "dexamethasone": ("dexamethasone_central", "dexamethasone_depot"),
}

EXTENSION = ModelExtension(
    drug_targets=DRUG_TARGETS,
    variable_aliases=VARIABLE_ALIASES,
    # il6_signalling is a 0-1 fraction, not a concentration (issue 15): renamed (the former name warns)
    renamed={"il6_signalling": "il6_signalling_fraction"},
    grade_observable="crs_grade_now",
    drug_states=DRUG_STATES,
    readouts=tce_readouts,
    # the CRS grader's thresholds (its GradingPolicy) on the inputs this model has
    readout_watch=tuple(w for w in _core.crs_readout_watch() if w[0] in GRADER_INPUTS),
    scan_readouts=SCAN_READOUTS,
    plot_variables=PLOT_VARIABLES,
    plot_panels=PLOT_PANELS,
    plot_labels=PLOT_LABELS,
    grade_course=grade_course,
    summary=clinical_summary,
    strategies=standard,
)
