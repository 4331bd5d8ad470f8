"""Clinical readouts of the CRS model ("crs"): the ASTCT grade at every output time and the
per-patient summary in clinical language (computed in C++, crsim::models::crs_readouts, as
specified in docs/model.md section 7, from the run's readout trajectory: solver steps and located
threshold crossings, so that they do not depend on the output grid), the scan extras (tumor at day
28), the clinical summary in words and the default plot."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple, Union

import numpy as np
import pandas as pd

from crsim import _core
from crsim.base.errors import input_error
from crsim.model.extension import PlotPanel, grader_thresholds
from crsim.results.readouts import dose_counts, value_at

__all__ = ["NATIVE_READOUTS", "crs_grade", "iec_hs_grade", "hlh_criteria", "crs_readouts", "clinical_summary", "extra_readouts", "population_summary",
           "READOUTS", "EXTRA_READOUTS", "SCAN_READOUTS", "PLOT_VARIABLES",
           "PLOT_PANELS", "PLOT_LABELS"]

CRS_MODELS = ("crs",)

#: readout -> (unit, meaning)
READOUTS: Dict[str, Tuple[str, str]] = {
    "max_grade": ("", "maximal ASTCT CRS grade (0 = no CRS)"),
    "onset_h": ("h", "CRS onset (first fever of the first episode); NaN = no CRS"),
    "duration_h": ("h", "duration of the first CRS episode; NaN = not resolved in the run"),
    "episodes": ("", "number of CRS episodes"),
    "hours_grade_ge2": ("h", "time at ASTCT grade >= 2"),
    "hours_grade_ge3": ("h", "time at ASTCT grade >= 3"),
    "temp_max": ("degC", "highest temperature"),
    "map_min": ("mmHg", "lowest intrinsic mean arterial pressure (before fluids / vasopressors)"),
    "fio2_max": ("1", "highest inspired O2 fraction needed"),
    "il6_peak": ("pg/mL", "peak total serum IL-6"),
    "ifng_peak": ("pg/mL", "peak IFN-gamma"),
    "crp_peak": ("mg/L", "peak CRP"),
    "ferritin_peak": ("ng/mL", "peak ferritin"),
    "mcp1_peak_36h": ("pg/mL", "peak MCP-1 within 36 h of infusion (early predictor)"),
    "temp_max_36h": ("degC", "highest temperature within 36 h of infusion (early predictor)"),
    "cart_cmax": ("cells/uL", "CAR-T Cmax in blood"),
    "cart_tmax_h": ("h", "CAR-T Tmax"),
    "cart_auc28": ("cells/uL*d", "CAR-T AUC over days 0-28"),
    "cart_last": ("cells/uL", "CAR-T in blood at the last output time (persistence)"),
    "b_cell_aplasia_h": ("h", "time with B cells below 1 % of their level at infusion"),
    "iec_hs": ("", "IEC-HS identified (framework of Hines MR et al. 2023, Transplant Cell Ther 29:438, "
               "read as docs/model.md section 7b says; every criterion: crsim.hlh_criteria(result))"),
    "iec_hs_onset_h": ("h", "IEC-HS onset; NaN = not identified"),
    "iec_hs_duration_h": ("h", "duration of IEC-HS (until its criteria have been off for 48 h); NaN = "
                          "none or not resolved in the run"),
    "iec_hs_grade_max": ("", "highest IEC-HS grade (0 = none; 1-4 as in docs/model.md section 7b)"),
    "carhlh": ("", "carHLH (Neelapu SS et al. 2018): ferritin > 10,000 ng/mL during CRS and >= 2 grade >= 3 "
               "organ toxicities (hepatic and pulmonary evaluated; renal and histology not modelled)"),
    "carhlh_organ_toxicities": ("", "grade >= 3 organ toxicities of carHLH met (of the 2 the model evaluates)"),
    "hlh2004_max": ("", "largest number of HLH-2004 criteria met at once (of the 4 the model evaluates; "
                    "5 of 8 diagnose HLH)"),
    "hscore_partial_max": ("", "largest partial HScore (the evaluable items: at most 182 of 337)"),
}


def _raw(result: Any) -> dict:
    if result.model.name not in CRS_MODELS:
        raise input_error("result", result.model.name, "a result of the crs model")
    rt, _, ro = result._readout_trajectory(fallback=False)
    return _core.crs_readouts(result.model.name, result.times, result.states, result.observables,
                              result._doses, rt, ro)


def crs_readouts(result: Any) -> Tuple[Dict[str, Union[float, str]], Dict[str, str]]:
    """Clinical readouts of a CRS run: (name -> value, name -> unit); flags are 0/1 numbers. With
    them the number of administrations of each drug (``tocilizumab_doses``, ..., scheduled and
    triggered), as a scan or a population reports them."""
    raw = _raw(result)
    values = {k: float(raw[k]) for k in READOUTS}
    units = {k: READOUTS[k][0] for k in READOUTS}
    counts, count_units = dose_counts(result)
    values.update(counts)
    units.update(count_units)
    return values, units


def crs_grade(result: Any) -> pd.Series:
    """The ASTCT CRS grade at every output time (index: time in h), read from the grade course of
    the run's readout trajectory (so a fever between two output times still opens an episode). A
    result without one (built from arrays) is graded on its output times, which should then be at
    most a few hours apart for the episode logic (24 h resolution) to be meaningful."""
    grade = np.asarray(_raw(result)["grade"], dtype=int)
    return pd.Series(grade, index=pd.Index(result.times, name="time_h"), name="astct_grade")


def iec_hs_grade(result: Any) -> pd.Series:
    """The IEC-HS grade at every output time (index: time in h; 0 outside an IEC-HS episode), from
    the same readout trajectory as the readouts (docs/model.md section 7b)."""
    g = np.asarray(_raw(result)["iec_hs_grade"], dtype=int)
    return pd.Series(g, index=pd.Index(result.times, name="time_h"), name="iec_hs_grade")


def hlh_criteria(result: Any) -> pd.DataFrame:
    """Every criterion of the hyperinflammation definitions for one CRS run, so that a flag can be
    traced to its reasons: IEC-HS (Hines 2023, as read in docs/model.md section 7b), carHLH
    (Neelapu 2018), HLH-2004 and the HScore. Columns: definition, key (a short name within the
    definition: ``ferritin``, ``timing``, ``ferritin_rise``, ``cytopenia``, ``hypofibrinogenaemia``,
    ``transaminitis``, ... for IEC-HS), criterion (in words, with its threshold),
    evaluable (False: the model has no such quantity, e.g. haemophagocytosis on biopsy or
    organomegaly; never assumed met), met, first_h (first time met, h), value (worst value; HScore
    rows: the item's highest points), unit."""
    rows = _raw(result)["criteria"]
    cols = ["definition", "key", "criterion", "evaluable", "met", "first_h", "value", "unit"]
    return pd.DataFrame([{c: row[c] for c in cols} for row in rows], columns=cols)


def _day(h: float) -> str:
    return "-" if np.isnan(h) else f"day {h / 24:.1f}"


def clinical_summary(result: Any) -> List[str]:
    """The run in clinical words: CRS course and grade, vital signs, biomarkers, CAR-T exposure,
    hyperinflammation flags."""
    r = result.readouts
    lines = []
    if r["max_grade"] == 0:
        lines.append("no CRS (never febrile >= 38 degC)")
    else:
        dur = "not resolved by the end of the run" if np.isnan(r["duration_h"]) else \
            f"lasting {r['duration_h'] / 24:.1f} days"
        lines.append(f"CRS onset {_day(r['onset_h'])}, maximal ASTCT grade {int(r['max_grade'])}, "
                     f"first episode {dur}; {int(r['episodes'])} episode(s)")
        lines.append(f"time at grade >= 2: {r['hours_grade_ge2']:.0f} h, at grade >= 3: "
                     f"{r['hours_grade_ge3']:.0f} h")
    lines.append(f"highest temperature {r['temp_max']:.1f} degC; lowest intrinsic MAP "
                 f"{r['map_min']:.0f} mmHg; highest FiO2 needed {r['fio2_max']:.2f}")
    lines.append(f"peaks: IL-6 {r['il6_peak']:.4g} pg/mL, IFN-gamma {r['ifng_peak']:.4g} pg/mL, "
                 f"CRP {r['crp_peak']:.4g} mg/L, ferritin {r['ferritin_peak']:.4g} ng/mL")
    lines.append(f"CAR-T in blood: Cmax {r['cart_cmax']:.4g} cells/uL on {_day(r['cart_tmax_h'])}, "
                 f"AUC0-28d {r['cart_auc28']:.4g} cells/uL*d, {r['cart_last']:.3g} cells/uL at the end")
    lines.append("hyperinflammation: " + _hyperinflammation_words(result, r))
    return lines


def _hyperinflammation_words(result: Any, r: Dict[str, Any]) -> str:
    parts = []
    if r["iec_hs"] >= 0.5:
        crit = hlh_criteria(result)
        onset = r["iec_hs_onset_h"]
        why = crit[(crit.definition == "IEC-HS") & crit.met & (crit.first_h <= onset + 1e-9)]
        words = {"cytopenia": "a new or worsening cytopenia", "hypofibrinogenaemia": "hypofibrinogenaemia",
                 "transaminitis": "transaminitis"}
        organ = [words[k] for k in why.key if k in words]
        dur = "not resolved by the end of the run" if np.isnan(r["iec_hs_duration_h"]) else \
            f"lasting {r['iec_hs_duration_h'] / 24:.1f} days"
        parts.append(f"IEC-HS from {_day(onset)} (grade up to {int(r['iec_hs_grade_max'])}, {dur}; "
                     f"ferritin rising as the CRS resolved, with {', '.join(organ)})")
    if r["carhlh"] >= 0.5:
        parts.append("carHLH (ferritin > 10,000 ng/mL during CRS with hepatic and pulmonary toxicity)")
    return "; ".join(parts) if parts else "no IEC-HS / carHLH flag"


#: The cascade at a glance: CAR-T meets tumor, cytokines, liver and fever, haemodynamics, oxygen.
PLOT_VARIABLES = ("car_t_blood", "tumor_cells", "ifng", "il6", "crp", "ferritin", "temperature",
                  "map", "fio2_required")

#: The clinical figure (Result.plot(), crsim.plot, crsim run --plot, crsim demo): CAR-T and tumour
#: on log axes, the cytokines, CRP and ferritin, then the grader's inputs with its thresholds.
PLOT_PANELS = (
    PlotPanel(("car_t_blood",), "CAR-T cells in blood", log=True),
    PlotPanel(("tumor_cells",), "tumour", log=True),
    PlotPanel(("ifng", "il6"), "cytokines", log=True),
    PlotPanel(("crp", "ferritin"), "inflammation markers", log=True),
    PlotPanel(("temperature",), "temperature", thresholds=grader_thresholds("temperature")),
    PlotPanel(("map",), "mean arterial pressure without fluids or vasopressors",
              thresholds=grader_thresholds("map", 1)),
    PlotPanel(("fio2_required",), "oxygen the patient needs",
              thresholds=grader_thresholds("fio2_required", 2)),
)

#: Readable names of the figure's variables (units come from the model).
PLOT_LABELS = {
    "car_t_blood": "CAR-T in blood", "tumor_cells": "tumour cells", "ifng": "IFN-γ", "il6": "IL-6",
    "il6_free": "free IL-6", "crp": "CRP", "ferritin": "ferritin", "temperature": "temperature",
    "map": "MAP", "sbp": "SBP", "fio2_required": "FiO₂ needed", "tocilizumab": "tocilizumab",
    "b_cells": "B cells", "fibrinogen": "fibrinogen", "car_t_effector": "CAR-T cells",
    "siltuximab": "siltuximab", "dexamethasone": "dexamethasone", "il18": "IL-18", "cxcl9": "CXCL9",
    "ast": "AST", "macrophage_hyperactivation": "hyperactivated macrophages", "anc": "ANC",
    "platelets": "platelets", "hemoglobin": "haemoglobin",
}

#: Readouts a scan reports beyond ``Result.readouts``: readout -> (unit, meaning). The dose counts
#: come from the extension's ``drug_states``, the tumor burden from :func:`extra_readouts`.
EXTRA_READOUTS: Dict[str, Tuple[str, str]] = {
    "tocilizumab_doses": ("", "tocilizumab administrations (scheduled and triggered)"),
    "siltuximab_doses": ("", "siltuximab administrations (scheduled and triggered)"),
    "dexamethasone_doses": ("", "dexamethasone administrations (IV and oral, scheduled and triggered)"),
    "methylprednisolone_doses": ("", "methylprednisolone administrations (scheduled and triggered)"),
    "anakinra_doses": ("", "anakinra administrations (SC and IV, scheduled and triggered)"),
    "emapalumab_doses": ("", "emapalumab administrations (scheduled and triggered)"),
    "tumor_day28": ("cells", "CD19+ tumor cells at day 28 (672 h; linear interpolation on the "
                             "output grid; NaN if the run is shorter)"),
    "tumor_fraction_day28": ("1", "tumor at day 28 relative to the burden at infusion"),
}

#: Day 28 in h: the time of the tumour readouts.
DAY28_H = 28 * 24.0

#: The readouts the engine computes in a readouts-only batch (ModelExtension.native_readouts): the
#: clinical readouts (crsim::models::crs_readouts) and the tumor burden at day 28 (as
#: :func:`extra_readouts`, linear on the output grid).
NATIVE_READOUTS: Dict[str, Tuple[Tuple[Any, ...], str]] = {
    **{k: (("crs", k), READOUTS[k][0]) for k in READOUTS},
    "tumor_day28": (("value_at", "tumor_cells", DAY28_H), EXTRA_READOUTS["tumor_day28"][0]),
    "tumor_fraction_day28": (("value_at", "tumor_fraction", DAY28_H),
                             EXTRA_READOUTS["tumor_fraction_day28"][0]),
}

#: Readouts of a scan of the CRS model when none are asked for.
SCAN_READOUTS = ("max_grade", "onset_h", "hours_grade_ge2", "hours_grade_ge3", "il6_peak", "ifng_peak",
                 "crp_peak", "tocilizumab_doses", "dexamethasone_doses", "cart_cmax", "cart_auc28",
                 "tumor_day28")


def extra_readouts(result: Any) -> Tuple[Dict[str, float], Dict[str, str]]:
    """The tumor burden at day 28, absolute and relative to the burden at infusion."""
    values = {"tumor_day28": value_at(result.times, result["tumor_cells"], DAY28_H),
              "tumor_fraction_day28": value_at(result.times, result["tumor_fraction"], DAY28_H)}
    return values, {k: EXTRA_READOUTS[k][0] for k in values}


def population_summary(table: pd.DataFrame) -> List[str]:
    """The distribution of the maximal ASTCT grade over a population table."""
    if "max_grade" not in table:
        return []
    g = table["max_grade"].dropna()
    return ["maximal ASTCT grade: " + ", ".join(f"{int(k)}: {int(v)}" for k, v in
                                                 g.value_counts().sort_index().items())]
