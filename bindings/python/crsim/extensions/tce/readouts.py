"""Readouts of the T-cell-engager model (models/tce/tce.ant, docs/tce-model.md), per dose of the
engager: each administration into ``tce_central`` or ``tce_depot`` opens a window that lasts until
the next one (or the end of the run), and the window's CRS episode, IL-6 peak, grade, time to onset
and target depletion are attributed to that dose. The grade is the model's instantaneous ASTCT grade
``crs_grade_now`` (temperature, MAP, SBP, FiO2; the grader of the CRS model), its maximum over the
window; an episode is a window in which it reaches 1. Output times a few hours apart or closer keep
the peaks and onsets meaningful."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple, Union

import numpy as np

__all__ = ["ENGAGER_STATES", "dose_windows", "per_dose", "tce_readouts", "PLOT_VARIABLES",
           "SCAN_READOUTS", "clinical_summary"]

#: The states an engager dose enters (IV and SC).
ENGAGER_STATES = ("tce_central", "tce_depot")

PLOT_VARIABLES = ("tce", "il6", "crp", "temperature", "b_cell_fraction_blood", "target_fraction",
                  "crs_grade_now")
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


def _at(times: np.ndarray, values: np.ndarray, t: float) -> float:
    return float(np.interp(t, times, values))


def per_dose(result: Any) -> List[Dict[str, float]]:
    """One record per engager administration: time_h, amount (mg), il6_peak, max_grade, crs (0/1),
    onset_h (from the dose to the first grade >= 1; NaN without), target_fraction_before/after,
    b_cell_fraction_blood_before."""
    t = np.asarray(result.times, dtype=float)
    il6, grade = np.asarray(result["il6"]), np.asarray(result["crs_grade_now"])
    target, blood_b = np.asarray(result["target_fraction"]), np.asarray(result["b_cell_fraction_blood"])
    rows = []
    for start, end, amount in dose_windows(result):
        w = (t >= start) & (t < end) if end > start else (t >= start)
        g = grade[w]
        fever = np.nonzero(g >= 1)[0]
        rows.append({
            "time_h": start, "amount": amount,
            "il6_peak": float(il6[w].max()) if w.any() else float("nan"),
            "max_grade": float(g.max()) if w.any() else float("nan"),
            "crs": float(fever.size > 0),
            "onset_h": float(t[w][fever[0]] - start) if fever.size else float("nan"),
            "target_fraction_before": _at(t, target, start),
            "target_fraction_after": _at(t, target, end),
            "b_cell_fraction_blood_before": _at(t, blood_b, start),
        })
    return rows


def tce_readouts(result: Any) -> Tuple[Dict[str, Union[float, str]], Dict[str, str]]:
    """The run's readouts: the whole run (max_grade, il6_peak, crs_episodes, first_crs_dose,
    target_fraction_end) and per dose ``dose<k>.<name>`` (k from 1, see :func:`per_dose`)."""
    t = np.asarray(result.times, dtype=float)
    rows = per_dose(result)
    values: Dict[str, Union[float, str]] = {
        "max_grade": float(np.max(result["crs_grade_now"])),
        "il6_peak": float(np.max(result["il6"])),
        "crs_episodes": float(sum(r["crs"] for r in rows)),
        "first_crs_dose": float(next((k + 1 for k, r in enumerate(rows) if r["crs"]), float("nan"))),
        "target_fraction_end": float(np.asarray(result["target_fraction"])[-1]) if t.size else float("nan"),
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
