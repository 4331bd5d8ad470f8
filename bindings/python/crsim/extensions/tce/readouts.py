"""Readouts of the T-cell-engager model (models/tce/tce.ant, docs/tce-model.md), per dose of the
engager: each administration into ``tce_central`` or ``tce_depot`` opens a window that lasts until
the next one (or the end of the run), and the window's CRS episode, IL-6 peak, grade, time to onset
and target depletion are attributed to that dose. The grade is the model's instantaneous ASTCT grade
``crs_grade_now`` (temperature, MAP, SBP, FiO2; the grader of the CRS model), its maximum over the
window; an episode is a window in which it reaches 1.

All of them are read from the run's readout trajectory (docs/package.md, "Readout trajectory"): the
solver's own step points, both sides of every dose, and two points 1e-6 h apart around each crossing
of the grader's thresholds (:data:`READOUT_WATCH`), so they do not depend on the output grid the
user asked for; peaks are the largest value at those points. A run loaded from a file has no readout
trajectory: its readouts come from the output grid."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import pandas as pd

from crsim.model.extension import PlotPanel, grader_thresholds

__all__ = ["ENGAGER_STATES", "GRADER_INPUTS", "PLOT_PANELS", "PLOT_LABELS", "grade_course",
           "dose_windows", "per_dose", "tce_readouts", "PLOT_VARIABLES",
           "SCAN_READOUTS", "clinical_summary"]

#: The states an engager dose enters (IV and SC).
ENGAGER_STATES = ("tce_central", "tce_depot")

#: The grader inputs of the model (the CRS model's grader reads the same observables).
GRADER_INPUTS = ("temperature", "map", "sbp", "fio2_required")

PLOT_VARIABLES = ("tce", "il6", "crp", "temperature", "b_cell_fraction_blood", "target_fraction",
                  "crs_grade_now")


#: The clinical figure: the engager, IL-6 and CRP, target depletion, then the grader's inputs with
#: the CRS grader's thresholds; the instantaneous ASTCT grade below (:func:`grade_course`).
PLOT_PANELS = (
    PlotPanel(("tce_ngml",), "T-cell engager in serum", log=True),
    PlotPanel(("il6", "crp"), "IL-6 and CRP", log=True),
    PlotPanel(("b_cell_fraction_blood", "target_fraction"), "target cells (fraction of baseline)",
              log=True),
    PlotPanel(("temperature",), "temperature", thresholds=grader_thresholds("temperature", 1)),
    PlotPanel(("map",), "mean arterial pressure without fluids or vasopressors",
              thresholds=grader_thresholds("map", 1)),
    PlotPanel(("fio2_required",), "oxygen the patient needs",
              thresholds=grader_thresholds("fio2_required", 2)),
)

PLOT_LABELS = {"tce_ngml": "engager", "tce": "T-cell engager", "il6": "IL-6", "crp": "CRP",
               "b_cell_fraction_blood": "B cells in blood", "target_fraction": "all targets",
               "temperature": "temperature", "map": "MAP", "fio2_required": "FiO₂ needed",
               "crs_grade_now": "ASTCT grade", "tce_central": "engager IV",
               "tce_depot": "engager SC"}


def grade_course(result: Any) -> pd.Series:
    """The instantaneous ASTCT grade on the run's readout trajectory (index: time in h)."""
    times, _, obs = result._readout_trajectory()
    g = obs[:, list(result.observable_names).index("crs_grade_now")]
    return pd.Series(np.asarray(g, dtype=float), index=pd.Index(times, name="time_h"))
SCAN_READOUTS = ("max_grade", "il6_peak", "crs_episodes", "first_dose_il6_peak",
                 "first_dose_max_grade", "target_fraction_end")

_UNITS = {"time_h": "h", "amount": "mg", "il6_peak": "pg/mL", "max_grade": "1", "crs": "1",
          "onset_h": "h", "target_fraction_before": "1", "target_fraction_after": "1",
          "b_cell_fraction_blood_before": "1"}


def dose_windows(result: Any) -> List[Tuple[float, float, float]]:
    """(start h, end h, amount mg) of each engager administration, in time order; a window ends
    at the next administration or at the last output time."""
    d = result.doses
    d = d[d["state"].isin(ENGAGER_STATES)].sort_values("time_h")
    starts = list(d["time_h"])
    amounts = list(d["amount"])
    end = float(result.times[-1])
    return [(float(t), float(starts[i + 1]) if i + 1 < len(starts) else end, float(a))
            for i, (t, a) in enumerate(zip(starts, amounts))]


def _course(result: Any) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """Times and the observables the readouts use, on the readout trajectory (or the output grid
    of a loaded run). At a dose time the trajectory holds the state before, then after the dose."""
    times, _, obs = result._readout_trajectory()
    names = list(result.observable_names)
    cols = ("il6", "crs_grade_now", "target_fraction", "b_cell_fraction_blood")
    return np.asarray(times, dtype=float), {c: np.asarray(obs[:, names.index(c)]) for c in cols}


def per_dose(result: Any, course: Optional[Tuple[np.ndarray, Dict[str, np.ndarray]]] = None
             ) -> List[Dict[str, float]]:
    """One record per engager administration: time_h, amount (mg), il6_peak, max_grade, crs (0/1),
    onset_h (from the dose to the first grade >= 1; NaN without), target_fraction_before/after,
    b_cell_fraction_blood_before. A window runs from the state just after its dose to the state
    just before the next engager dose (or the end of the run). ``course``: :func:`_course` of
    the result, when the caller has it already."""
    t, c = course if course is not None else _course(result)
    rows = []
    for start, end, amount in dose_windows(result):
        first = int(np.searchsorted(t, start, side="left"))       # before the dose
        i0 = max(int(np.searchsorted(t, start, side="right")) - 1, first)   # just after it
        i1 = int(np.searchsorted(t, end, side="left")) if end > start else len(t) - 1
        i1 = min(max(i1, i0), len(t) - 1)
        w = slice(i0, i1 + 1)
        g = c["crs_grade_now"][w]
        fever = np.nonzero(g >= 1)[0]
        rows.append({
            "time_h": start, "amount": amount,
            "il6_peak": float(c["il6"][w].max()),
            "max_grade": float(g.max()),
            "crs": float(fever.size > 0),
            "onset_h": float(t[w][fever[0]] - start) if fever.size else float("nan"),
            "target_fraction_before": float(c["target_fraction"][min(first, len(t) - 1)]),
            "target_fraction_after": float(c["target_fraction"][i1]),
            "b_cell_fraction_blood_before": float(c["b_cell_fraction_blood"][min(first, len(t) - 1)]),
        })
    return rows


def tce_readouts(result: Any) -> Tuple[Dict[str, Union[float, str]], Dict[str, str]]:
    """The run's readouts: the whole run (max_grade, il6_peak, crs_episodes, first_crs_dose,
    target_fraction_end) and per dose ``dose<k>.<name>`` (k from 1, see :func:`per_dose`)."""
    t, c = _course(result)
    rows = per_dose(result, (t, c))
    values: Dict[str, Union[float, str]] = {
        "max_grade": float(np.max(c["crs_grade_now"])),
        "il6_peak": float(np.max(c["il6"])),
        "crs_episodes": float(sum(r["crs"] for r in rows)),
        "first_crs_dose": float(next((k + 1 for k, r in enumerate(rows) if r["crs"]), float("nan"))),
        "target_fraction_end": float(c["target_fraction"][-1]) if t.size else float("nan"),
        "first_dose_il6_peak": rows[0]["il6_peak"] if rows else float("nan"),
        "first_dose_max_grade": rows[0]["max_grade"] if rows else float("nan"),
    }
    units = {"max_grade": "1", "il6_peak": "pg/mL", "crs_episodes": "1", "first_crs_dose": "1",
             "target_fraction_end": "1", "first_dose_il6_peak": "pg/mL", "first_dose_max_grade": "1"}
    for k, r in enumerate(rows, start=1):
        for name, v in r.items():
            values[f"dose{k}.{name}"] = v
            units[f"dose{k}.{name}"] = _UNITS[name]
    return values, units


def clinical_summary(result: Any) -> List[str]:
    """The run in words, one line per engager dose."""
    lines = []
    for k, r in enumerate(per_dose(result), start=1):
        onset = "no CRS" if not r["crs"] else f"CRS grade {int(r['max_grade'])} from {r['onset_h']:.0f} h"
        lines.append(f"dose {k} (day {r['time_h'] / 24:.1f}, {r['amount']:g} mg): IL-6 peak "
                     f"{r['il6_peak']:.0f} pg/mL, {onset}; targets {100 * r['target_fraction_before']:.1f} % "
                     "of baseline before the dose")
    return lines or ["no engager dose"]
