"""The regression reference cases of tests/reference/trajectories.h5, as data.

Shared by scripts/make_reference.py (which runs them and writes the file) and
tests/python/test_reference.py (which checks that the file was made from this table and re-runs
every case from the scenario stored in the file). Each case is a crsim scenario (docs/scenarios.md)
given either inline (``scenario``) or as a scenario file of this repository plus replaced keys
(``scenario_file``, ``replace``); ``resolve`` turns a case into the plain scenario dict that is run
and stored. Changing this table means regenerating the file (``python scripts/make_reference.py``)
with the code the references are meant to pin.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

REPO = Path(__file__).resolve().parents[2]
REFERENCE_FILE = REPO / "tests" / "reference" / "trajectories.h5"

#: The comparison of tests/python/test_reference.py (see its docstring): a value b of the file
#: and a re-computed a agree when |a - b| <= COMPARE_RTOL * (|b| + FLOOR * scale), where scale is
#: max |b| over the column for states and observables, and max(max |b|, max |y| / |p|) over the
#: column for a sensitivity dy/dp.
COMPARE_RTOL = 1e-9
FLOOR_VALUES = 1e-9
FLOOR_SENSITIVITIES = 1e-2

#: Tight solver settings of most cases: solver noise far below the 1e-9 comparison.
TIGHT = {"rtol": 1e-10, "atol": 1e-12}

_CART = "tisagenlecleucel 3e6 cells/kg iv"   # the CAR-T dose of data/scenarios/default.yaml
_CRS_BASE = {                                 # default.yaml at tight tolerances
    "model": "crs",
    "parameter_set": "crs_tisagenlecleucel_ball",
    "horizon_days": 28,
    "outputs": {"step_h": 1},
}


def _crs(name: str, description: str, regimen: List[Any], sensitivities: Any = None,
         method: str = "rosenbrock4", **extra: Any) -> Dict[str, Any]:
    sc = dict(copy.deepcopy(_CRS_BASE), name=name, description=description,
              regimen=[_CART] + regimen, solver=dict(TIGHT, method=method), **extra)
    if sensitivities is not None:
        sc["sensitivities"] = sensitivities
    return {"name": name, "scenario": sc}


def _pk(name: str, model: str, description: str, regimen: List[Any], sensitivities: List[str],
        method: str = "rosenbrock4", **extra: Any) -> Dict[str, Any]:
    sc = dict(name=name, model=model, description=description, regimen=regimen,
              solver=dict(TIGHT, method=method), sensitivities=sensitivities, **extra)
    return {"name": name, "scenario": sc}


# sensitivities: CAR-T expansion, IL-6 production, myeloid activation, body weight (blood volume,
# drug PK); the treated cases take at least one drug parameter. Few columns: a small file.
_CRS_SENS = ["rho", "p_il6_myeloid", "k_mact_on", "body_weight"]
_TOCI = {"target": "tocilizumab_central", "amount": 8, "unit": "mg/kg", "time": 72,
         "duration": 1, "cap": 800}
_SILT = {"target": "siltuximab_central", "amount": 11, "unit": "mg/kg", "time": 72, "duration": 1}
_DEX_IV = {"target": "dexamethasone_central", "amount": 10, "unit": "mg", "time": 72}
_DEX_PO = {"target": "dexamethasone_depot", "amount": 10, "unit": "mg", "time": 72,
           "additional": 3, "interval": 6}
_PK2_MM_REGIMEN = [
    # 8 mg/kg over 1 h in a 120 kg patient: the 800 mg cap applies
    {"target": "central", "amount": 8, "unit": "mg/kg", "duration": 1, "cap": 800},
    # 4 mg/kg at 8 mg/kg/h (30 min) on days 14 and 28
    {"target": "central", "amount": 4, "unit": "mg/kg", "rate": 8, "time_days": 14,
     "additional": 1, "interval_days": 14},
]
# Robertson's stiff kinetics to 4e5 h on a log grid: 0, then 1e-6 ... 4e5 h, 12 points a decade,
# rounded to 12 digits (the same numbers whatever numpy's last bits) and ending exactly at 4e5
_ROBERTSON_TIMES = [0.0] + [float(f"{t:.12g}") for t in np.logspace(-6, np.log10(4e5), 140)]
_ROBERTSON_TIMES[-1] = 4e5

CASES: List[Dict[str, Any]] = [
    # --- CRS model, tisagenlecleucel B-ALL set, default course ---------------------------------
    {"name": "crs_default_scenario_file", "scenario_file": "data/scenarios/default.yaml",
     "replace": {},
     "note": "data/scenarios/default.yaml exactly as shipped (its solver defaults rtol 1e-8, "
             "atol 1e-10), no sensitivities"},
    _crs("crs_default_rosenbrock4", "default.yaml course at rtol 1e-10, atol 1e-12, rosenbrock4",
         [], _CRS_SENS),
    _crs("crs_default_dopri5", "default.yaml course at rtol 1e-10, atol 1e-12, dopri5",
         [], ["rho", "k_mact_on"], method="dopri5"),
    # --- the same patient treated at 72 h -------------------------------------------------------
    _crs("crs_tocilizumab_72h", "default course, tocilizumab 8 mg/kg iv over 1 h (max 800 mg) "
         "at 72 h", [_TOCI], ["rho", "toc_CL", "toc_KD"]),
    _crs("crs_siltuximab_72h", "default course, siltuximab 11 mg/kg iv over 1 h at 72 h",
         [_SILT], ["rho", "silt_KD"]),
    _crs("crs_dexamethasone_iv_72h", "default course, dexamethasone 10 mg iv at 72 h",
         [_DEX_IV], ["rho", "dex_IC50"]),
    _crs("crs_dexamethasone_po_72h", "default course, dexamethasone 10 mg po q6h x4 from 72 h "
         "(the depot route)", [_DEX_PO]),
    # --- the drugs of issue 14 (docs/model.md secs. 5a-5c) -----------------------------------------
    _crs("crs_methylprednisolone_72h", "default course, methylprednisolone 1 g iv at 72 h",
         [{"target": "methylprednisolone_central", "amount": 1000, "unit": "mg", "time": 72}],
         ["rho", "mp_dex_equiv"]),
    _crs("crs_anakinra_48h", "default course, anakinra 100 mg sc q6h x28 from 48 h",
         [{"target": "anakinra_depot", "amount": 100, "unit": "mg", "time": 48, "additional": 27,
           "interval": 6}], ["rho", "ana_IC50"]),
    _crs("crs_emapalumab_48h", "default course, emapalumab 1 mg/kg iv over 1 h at 48 h",
         [{"target": "emapalumab_central", "amount": 1, "unit": "mg/kg", "time": 48,
           "duration": 1}], ["rho", "emap_KD"]),
    # the policy of the standard strategy tocilizumab_grade2, its crossing located to 1e-12 h
    # instead of the default 1e-6 h: with 1e-6 h, round-off alone moves the firing by ~1e-7 h and
    # the states after it by ~1e-7 relative, which would swamp a 1e-9 comparison
    _crs("crs_policy_tocilizumab_grade2", "default course, tocilizumab 8 mg/kg iv over 1 h (max "
         "800 mg) triggered at ASTCT grade >= 2 (>= 8 h apart, <= 3 in 24 h, <= 4 in all)", [],
         None, policies=[{"name": "tocilizumab at grade >= 2", "when": "grade >= 2",
                          "give": "tocilizumab 8 mg/kg iv over 1h max 800mg", "max_doses": 4,
                          "min_interval_h": 8, "max_per_24h": 3, "tolerance_h": 1e-12}]),
    # --- CRS model, axicabtagene LBCL set --------------------------------------------------------
    {"name": "crs_axicabtagene_lbcl",
     "scenario": {"name": "crs_axicabtagene_lbcl", "model": "crs",
                  "parameter_set": "crs_axicabtagene_lbcl",
                  "description": "axicabtagene ciloleucel 2e6 cells/kg (the set's ZUMA-1 dose), "
                                 "adult LBCL (75 kg), untreated, 28 days",
                  "regimen": ["axicabtagene 2e6 cells/kg iv"], "horizon_days": 28,
                  "outputs": {"step_h": 1}, "solver": dict(TIGHT, method="rosenbrock4")}},
    # --- PK library -----------------------------------------------------------------------------
    _pk("pk1", "pk1", "100 mg iv bolus at 0 h; 200 mg iv over 2 h q12h x4 from 12 h",
        [{"target": "central", "amount": 100, "unit": "mg"},
         {"target": "central", "amount": 200, "unit": "mg", "time": 12, "duration": 2,
          "additional": 3, "interval": 12}],
        ["CL", "V"], horizon_h=72, outputs={"step_h": 0.25}),
    _pk("pk1_oral", "pk1_oral", "500 mg po q12h x4 (lag 0.5 h, F 0.8); 100 mg iv bolus at 6 h",
        [{"target": "depot", "amount": 500, "unit": "mg", "additional": 3, "interval": 12,
          "lag": 0.5, "bioavailability": 0.8},
         {"target": "central", "amount": 100, "unit": "mg", "time": 6}],
        ["ka", "CL", "V"], horizon_h=72, outputs={"step_h": 0.25}),
    _pk("pk2", "pk2", "70 kg: 8 mg/kg iv over 1 h (max 800 mg) q4w x2",
        [{"target": "central", "amount": 8, "unit": "mg/kg", "duration": 1, "cap": 800,
          "additional": 1, "interval_days": 28}],
        ["CL", "V1", "Q", "V2"], patient={"weight_kg": 70}, horizon_days=56,
        outputs={"step_h": 2}),
    _pk("pk2_oral", "pk2_oral", "162 mg sc (depot, F 0.8) weekly x4",
        [{"target": "depot", "amount": 162, "unit": "mg", "additional": 3, "interval_days": 7,
          "bioavailability": 0.8}],
        ["ka", "CL", "V1", "Q", "V2"], horizon_days=42, outputs={"step_h": 2}),
    _pk("pk2_mm_rosenbrock4", "pk2_mm", "120 kg: 8 mg/kg iv over 1 h capped at 800 mg; 4 mg/kg at "
        "8 mg/kg/h on days 14 and 28; rosenbrock4", _PK2_MM_REGIMEN,
        ["CL", "V1", "Q", "V2", "Vmax", "Km"], patient={"weight_kg": 120}, horizon_days=56,
        outputs={"step_h": 2}),
    _pk("pk2_mm_dopri5", "pk2_mm", "as pk2_mm_rosenbrock4, dopri5", _PK2_MM_REGIMEN,
        ["CL", "V1", "Q", "V2", "Vmax", "Km"], method="dopri5", patient={"weight_kg": 120},
        horizon_days=56, outputs={"step_h": 2}),
    _pk("robertson", "robertson", "Robertson's stiff chemical kinetics from its default initial "
        "state (y1 = 1) to 4e5 h on a log grid", [], ["k1", "k2", "k3"],
        horizon_h=4e5, outputs={"times_h": _ROBERTSON_TIMES}),
]


def resolve(case: Dict[str, Any]) -> Dict[str, Any]:
    """The scenario dict of a case (a file case read and its ``replace`` keys applied), named
    after the case."""
    import crsim

    if "scenario_file" in case:
        sc = crsim.Scenario.from_file(REPO / case["scenario_file"])
        if case.get("replace"):
            sc = sc.replace(**case["replace"])
        data = sc.to_dict()
    else:
        data = crsim.Scenario.from_dict(copy.deepcopy(case["scenario"])).to_dict()
    data["name"] = case["name"]
    return data
