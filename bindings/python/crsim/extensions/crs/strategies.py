"""Standard CRS management strategies: triggered policies plus scheduled doses, each cited.

Each strategy names its sources (labels, guidelines, trials; "[read]" or "recalled" says whether
the figure was checked against the publication). Times are h from the CAR-T infusion (t = 0).
"grade" is the CRS model's instantaneous ASTCT grade ``crs_grade_now`` (docs/model.md sec. 7).
Strategies are data; change any field with ``strategy(name).policies[i].replace(...)`` or build your
own :class:`crsim.Strategy`.
"""
from __future__ import annotations

from typing import List

from crsim.spec.policy import Policy
from crsim.model.strategies import Strategy

__all__ = ["standard"]

_TOCI_LABEL = "tocilizumab 8 mg/kg iv over 1h max 800mg"
_LABEL_SOURCE = ("Kymriah (tisagenlecleucel) US prescribing information, Table 1, and Actemra (tocilizumab) "
                 "label [read]: "
                 "tocilizumab 8 mg/kg IV over 1 h if >= 30 kg (max 800 mg; 12 mg/kg if < 30 kg), repeat "
                 "after >= 8 h if no improvement, at most 3 doses in 24 h and 4 in total")


def standard() -> List[Strategy]:
    """The standard strategies, in the order :func:`crsim.strategies` lists them."""
    label = Policy("tocilizumab at grade >= 2", when="grade >= 2", give=_TOCI_LABEL, max_doses=4,
                   min_interval_h=8, max_per_24h=3)
    return [
        Strategy(
            "none", "no anti-cytokine treatment (supportive care only, as the grader assumes)",
            "the untreated reference of every comparison"),
        Strategy(
            "tocilizumab_grade2",
            "tocilizumab at ASTCT grade >= 2 at the label dose and limits (8 mg/kg, max 800 mg; repeat "
            ">= 8 h apart while grade >= 2 persists, <= 3 in 24 h, <= 4 in total)",
            _LABEL_SOURCE + "; grade >= 2 as the trigger per ASCO 2021 (Santomasso) / NCCN / CARTOX "
            "tables (Santomasso BD et al. 2021, ASCO guideline, J Clin Oncol; Neelapu SS et al. 2018, "
            "Nat Rev Clin Oncol 15:47; PMC9616161 Table 4) [read]",
            (label,)),
        Strategy(
            "siltuximab_grade2",
            "siltuximab (anti-IL-6) 11 mg/kg IV over 1 h at ASTCT grade >= 2, one dose (its half-life is "
            "about 3 weeks): the CARTOX alternative to tocilizumab",
            "CRS management table of PMC9616161 (Table 4) [read]: siltuximab 11 mg/kg IV as the CARTOX "
            "(Neelapu SS et al. 2018, Nat Rev Clin Oncol 15:47) alternative to tocilizumab; one dose "
            "per label interval (Sylvant prescribing information: 11 mg/kg every 3 weeks)",
            (Policy("siltuximab at grade >= 2", when="grade >= 2", give="siltuximab 11 mg/kg iv over 1h",
                    max_doses=1),)),
        Strategy(
            "tocilizumab_grade1",
            "early (pre-emptive) tocilizumab at ASTCT grade >= 1, i.e. at the first fever >= 38 degC, "
            "label dose and limits",
            "earlier strategies: ZUMA-1 cohort 4 (Topp MS et al. 2021: tocilizumab and steroids "
            "started at grade 1), Gardner RA et al. 2019 (PLAT-02: tocilizumab at mild CRS; details "
            "recalled); " + _LABEL_SOURCE,
            (label.replace(name="tocilizumab at grade >= 1", when="grade >= 1"),)),
        Strategy(
            "tocilizumab_persistent_fever",
            "risk-adapted pre-emptive tocilizumab at the first persistent fever: one label dose when "
            "T >= 38.5 degC has held for 10 h",
            "Kadauke S et al. 2021 (risk-adapted pre-emptive tocilizumab with tisagenlecleucel: high-burden "
            "paediatric B-ALL receive tocilizumab at the first persistent fever); the definition "
            "38.5 degC for 10 h is recalled, unverified "
            "[design: change when/sustained_h]; single dose as in that trial (recalled)",
            (Policy("tocilizumab at persistent fever", when="temperature >= 38.5 degC for 10 h",
                    give=_TOCI_LABEL, max_doses=1),)),
        Strategy(
            "dexamethasone_prophylaxis",
            "prophylactic dexamethasone 10 mg orally once daily on days 0, 1 and 2 (day 0 given at the "
            "infusion; oral bioavailability 0.78)",
            "ZUMA-1 cohort 6 (Oluwole OO et al. 2021): dexamethasone 10 mg PO on days 0 (before "
            "infusion), 1 and 2 [read]; F = 0.78 in healthy volunteers (as cited by Brophy TR et al. 1983, "
            "Eur J Clin Pharmacol 24:103)",
            (), ("dexamethasone 10 mg po F 0.78 q24h x3",)),
        Strategy(
            "astct_escalation",
            "escalation by grade: tocilizumab at grade >= 2 (label limits); dexamethasone 10 mg IV q6h "
            "for 24 h at grade >= 3, repeated daily while grade >= 3 persists (at most 3 days); "
            "dexamethasone 20 mg IV q6h for 24 h at grade 4 (not the guidelines' alternative, "
            "methylprednisolone 1 g/day)",
            "ASTCT-grade-based algorithms [read]: grade 2 tocilizumab, grade 3 tocilizumab + "
            "dexamethasone 10 mg IV q6h (NCCN-type guideline summary on guidelinecentral.com; Santomasso "
            "BD et al. 2021, ASCO guideline), refractory or grade 4: 20 mg q6h (J Clin Med 2023;12:6124, "
            "Table 1, PMC10573998) or methylprednisolone 1 g/day (not used here); " + _LABEL_SOURCE,
            (label,
             Policy("dexamethasone at grade >= 3", when="grade >= 3",
                    give="dexamethasone 10 mg iv q6h x4", max_doses=3, min_interval_h=24),
             Policy("dexamethasone 20 mg at grade 4", when="grade >= 4",
                    give="dexamethasone 20 mg iv q6h x4", max_doses=3, min_interval_h=24))),
    ] + _iec_hs()


#: IEC-HS trigger: hypofibrinogenaemia (< 150 mg/dL), a cardinal laboratory feature of IEC-HS and
#: an HLH-2004 criterion, which the typical CRS course does not reach (docs/model.md section 7b).
_IEC_TRIGGER = "fibrinogen <= 150 mg/dL"
_IEC_SOURCE = ("Hines MR et al. 2023, Transplant Cell Ther 29:438 (ASTCT IEC-HS consensus; treatment "
               "ladder recalled: anakinra first line, with or without corticosteroids; ruxolitinib or "
               "emapalumab for refractory disease); hypofibrinogenaemia < 150 mg/dL as the trigger: "
               "HLH-2004 (Henter JI et al. 2007) and the IEC-HS framework [design: change `when`]")
_ANAKINRA = Policy("anakinra at IEC-HS", when=_IEC_TRIGGER, give="anakinra 100 mg iv q6h x28", max_doses=1)


def _iec_hs() -> List[Strategy]:
    """Strategies for IEC-HS (docs/model.md sections 6a and 7b), triggered by its laboratory
    features; anakinra and methylprednisolone doses from the sources each strategy names,
    emapalumab at its HLH label dose."""
    return [
        Strategy(
            "iec_hs_anakinra",
            "anakinra 100 mg IV every 6 h for 7 days once fibrinogen falls to <= 150 mg/dL (IEC-HS first "
            "line)",
            _IEC_SOURCE + "; dose: anakinra 100-200 mg IV or SC every 6-12 h in adult IEC-HS "
            "(recalled, unverified), 5-10 mg/kg/day in HLH/MAS (UpToDate table, read)",
            (_ANAKINRA,)),
        Strategy(
            "iec_hs_anakinra_methylprednisolone",
            "anakinra as in iec_hs_anakinra plus methylprednisolone pulse 1 g IV daily for 3 days at the "
            "same trigger",
            _IEC_SOURCE + "; methylprednisolone 30 mg/kg/day (max 1 g/day) IV for 1-3 days in HLH/MAS "
            "(UpToDate table, read)",
            (_ANAKINRA,
             Policy("methylprednisolone pulse at IEC-HS", when=_IEC_TRIGGER,
                    give="methylprednisolone 1000 mg iv over 1h q24h x3", max_doses=1))),
        Strategy(
            "iec_hs_emapalumab_refractory",
            "anakinra as in iec_hs_anakinra; if fibrinogen is still <= 100 mg/dL 48 h later (refractory), "
            "emapalumab 6 mg/kg IV then 3 mg/kg every 3 days (5 doses)",
            _IEC_SOURCE + "; emapalumab: Gamifant (emapalumab-lzsg) prescribing information, HLH/MAS: "
            "6 mg/kg on day 1, then 3 mg/kg every 3 days; a fibrinogen <= 100 mg/dL that does not improve "
            "is one of its dose-escalation criteria (read on drugs.com and gamifant.com)",
            (_ANAKINRA,
             Policy("emapalumab for refractory IEC-HS", when="fibrinogen <= 100 mg/dL for 48 h",
                    give=["emapalumab 6 mg/kg iv over 1h",
                          "emapalumab 3 mg/kg iv over 1h q72h x5 day 3"], max_doses=1))),
    ]
