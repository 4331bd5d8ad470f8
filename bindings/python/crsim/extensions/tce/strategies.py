"""Standard CRS management strategies for T-cell engagers: triggered policies, each cited. Times
are h from the start of the run; "grade" is the T-cell-engager model's instantaneous ASTCT grade
``crs_grade_now``. Premedication before each step-up dose belongs to the regimen (the label's
dexamethasone 20 mg IV before each cycle 1-2 mosunetuzumab dose: data/scenarios/
tce_mosunetuzumab_label.yaml), not to a strategy, since its times follow the engager's schedule."""
from __future__ import annotations

from typing import List

from crsim.spec.policy import Policy
from crsim.model.strategies import Strategy

__all__ = ["standard"]

_TOCI_LABEL = "tocilizumab 8 mg/kg iv over 1h max 800mg"
_TOCI_SOURCE = ("Actemra (tocilizumab) US prescribing information, CRS: 8 mg/kg IV over 1 h (max 800 mg), repeat "
                "after >= 8 h if no improvement, at most 3 doses in 24 h and 4 in total")
_ASH = ("Crombie JL et al. 2024, Blood 143:1565 - ASH consensus on the management of CRS after "
        "bispecific antibodies: dexamethasone 10 mg once if fever is refractory or recurs within 6-8 h")


def standard() -> List[Strategy]:
    """The standard strategies, in the order :func:`crsim.strategies` lists them."""
    toci = Policy("tocilizumab at grade >= 2", when="grade >= 2", give=_TOCI_LABEL, max_doses=4,
                  min_interval_h=8, max_per_24h=3)
    dex_fever = Policy("dexamethasone for refractory fever", when="grade >= 1 for 6 h",
                       give="dexamethasone 10 mg iv", max_doses=1)
    return [
        Strategy("none", "no anti-cytokine treatment (supportive care only, as the grader assumes)",
                 "the untreated reference of every comparison"),
        Strategy("tocilizumab_grade2",
                 "tocilizumab at ASTCT grade >= 2 at the label dose and limits",
                 _TOCI_SOURCE, (toci,)),
        Strategy("ash_consensus",
                 "ASH bispecific consensus: grade 1 managed with antipyretics; dexamethasone 10 mg "
                 "once if the fever persists 6 h (refractory or recurring within 6-8 h); tocilizumab "
                 "at grade >= 2",
                 _ASH + "; " + _TOCI_SOURCE + "; 6 h stands for 'refractory or recurring within 6-8 h' "
                 "(modelling choice: the model has no antipyretic)",
                 (dex_fever, toci)),
    ]
