"""The demonstration run of ``crsim demo``: tocilizumab 8 mg/kg IV over 1 h (at most 800 mg) in a
70 kg patient, two-compartment PK with parallel linear and Michaelis-Menten elimination (pk2_mm,
Frey et al. 2010), followed for 8 weeks. Replaced by a CRS scenario once the CRS model exists."""
from __future__ import annotations

from typing import List

import numpy as np

from ._dosing import Dose
from ._result import Result
from ._simulate import simulate

MODEL = "pk2_mm"
DOSE_MG_PER_KG = 8.0
CAP_MG = 800.0
INFUSION_H = 1.0
READOUT_DAY = 28.0


def run(weight: float = 70.0, days: float = 56.0) -> Result:
    """Simulates the demo regimen; hourly outputs (the end of the infusion and day 28 included)."""
    hours = days * 24.0
    times = np.unique(np.concatenate([np.arange(0.0, np.floor(hours) + 1.0), [INFUSION_H, hours],
                                      [READOUT_DAY * 24.0] if READOUT_DAY * 24.0 <= hours else []]))
    dose = Dose("central", DOSE_MG_PER_KG, unit="mg/kg", duration=INFUSION_H, cap=CAP_MG)
    return simulate(MODEL, times=times, doses=[dose], weight=weight)


def report(result: Result) -> List[str]:
    """A short clinical-pharmacology summary of the demo run (lines of text)."""
    s = result.summary()["C"]
    unit = s["unit"]
    d = result.doses.iloc[0]
    lines = [
        f"tocilizumab {DOSE_MG_PER_KG:g} mg/kg IV over {INFUSION_H:g} h (max {CAP_MG:g} mg), "
        f"{result.weight:g} kg patient: {d['amount']:g} {d['amount_unit']} given",
        f"model {result.model.name}: {result.model.description}",
        f"  Cmax         {s['max']:10.1f} {unit} (= ug/mL) at {s['t_max_h']:g} h",
    ]
    t28 = READOUT_DAY * 24.0
    if result.times[-1] >= t28:
        c28 = float(result["C"][np.searchsorted(result.times, t28)])
        lines.append(f"  C(day {READOUT_DAY:g})   {c28:10.2f} {unit}")
    lines.append(f"  AUC(0-{s['t_last_h'] / 24:g} d) {s['auc']:10.0f} {s['auc_unit']} "
                 f"(= {s['auc'] / 24:.0f} day*{unit}; trapezoidal on the hourly grid)")
    lines.append(f"  solver: {result.stats['method']}, {result.stats['steps']} steps")
    return lines
