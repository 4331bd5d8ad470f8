"""Clinical readouts of the CRS model ("crs"): the ASTCT grade at every output time and the
per-patient summary in clinical language (computed in C++, crsim::models::crs_readouts, as
specified in docs/model.md section 7)."""
from __future__ import annotations

from typing import Dict, Tuple, Union

import numpy as np
import pandas as pd

from . import _core
from ._errors import input_error
from ._result import READOUT_FUNCTIONS, Result

__all__ = ["crs_grade", "crs_readouts"]

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
    "iec_hs": ("", "IEC-HS identified (clinical.md 7a.4; transaminases not modelled)"),
    "iec_hs_onset_h": ("h", "IEC-HS onset; NaN = not identified"),
    "carhlh": ("", "carHLH criteria met (only pulmonary organ toxicity is modelled)"),
    "hlh2004_max": ("", "largest number of simulable HLH-2004 criteria met at once (of 4)"),
    "hscore_partial_max": ("", "largest partial HScore (simulable items)"),
}


def _raw(result: Result) -> dict:
    if result.model.name not in CRS_MODELS:
        raise input_error("result", result.model.name, "a result of the crs model")
    return _core.crs_readouts(result.model.name, result.times, result.states, result.observables,
                              result._doses)


def crs_readouts(result: Result) -> Tuple[Dict[str, Union[float, str]], Dict[str, str]]:
    """Clinical readouts of a CRS run: (name -> value, name -> unit); flags are 0/1 numbers."""
    raw = _raw(result)
    values = {k: float(raw[k]) for k in READOUTS}
    units = {k: READOUTS[k][0] for k in READOUTS}
    return values, units


def crs_grade(result: Result) -> pd.Series:
    """The ASTCT CRS grade at every output time (index: time in h). Output times should be at
    most a few hours apart for the episode logic (24 h resolution) to be meaningful."""
    grade = np.asarray(_raw(result)["grade"], dtype=int)
    return pd.Series(grade, index=pd.Index(result.times, name="time_h"), name="astct_grade")


for _name in CRS_MODELS:
    READOUT_FUNCTIONS[_name] = crs_readouts
