"""The T-cell-engager model's extension (crsim/extensions/tce/): product names in text regimens,
per-dose readouts (CRS attributed to the dose that preceded it, IL-6 peak, grade, onset, target
depletion), the standard strategies (tocilizumab at grade 2, the ASH bispecific consensus)."""
import math

import numpy as np
import pytest

import crsim
from crsim.extensions.tce import EXTENSION, per_dose
from crsim.model.extension import extension

LABEL_C1 = ["mosunetuzumab 1 mg iv over 4h", "mosunetuzumab 2 mg iv over 4h day 7",
            "mosunetuzumab 60 mg iv over 4h day 14"]


def _run(regimen, days=21, policies=(), **kw):
    sc = crsim.Scenario("tce", name="tce", regimen=list(regimen), policies=list(policies),
                        horizon_days=days, outputs={"step_h": 0.5}, **kw)
    return crsim.simulate(sc)


def test_registered_for_the_model():
    assert extension("tce") is EXTENSION
    assert EXTENSION.grade_observable == "crs_grade_now"
    assert list(crsim.strategies("tce")["name"]) == ["none", "tocilizumab_grade2", "ash_consensus"]


def test_product_names_dose_the_engager():
    res = _run(LABEL_C1)
    d = res.doses
    assert list(d["state"]) == ["tce_central"] * 3
    assert list(d["amount"]) == [1, 2, 60] and list(d["time_h"]) == [0, 168, 336]
    sc = crsim.Scenario("tce", name="sc", regimen=["epcoritamab 0.16 mg sc"], horizon_days=1)
    assert list(crsim.simulate(sc).doses["state"]) == ["tce_depot"]


def test_readouts_per_dose():
    res = _run(LABEL_C1)
    r = res.readouts
    rows = per_dose(res)
    assert len(rows) == 3
    # the first dose releases the most IL-6 (targets still present) and gives the fever
    assert r["dose1.il6_peak"] > r["dose2.il6_peak"] and r["dose1.il6_peak"] > r["dose3.il6_peak"]
    assert r["dose1.crs"] == 1 and r["dose1.max_grade"] >= 1 and 0 < r["dose1.onset_h"] < 24
    assert r["dose2.crs"] == 0 and math.isnan(r["dose2.onset_h"])
    assert r["crs_episodes"] == sum(x["crs"] for x in rows) and r["first_crs_dose"] == 1
    # target depletion: all before the first dose, a fraction of a percent before the second
    assert r["dose1.target_fraction_before"] == pytest.approx(1.0)
    assert r["dose2.target_fraction_before"] < 0.01
    assert r["max_grade"] == max(x["max_grade"] for x in rows)
    assert res.readout_units["dose1.il6_peak"] == "pg/mL"
    assert any("dose 1" in line for line in EXTENSION.summary(res))


def test_ash_consensus_gives_dexamethasone_for_persistent_fever():
    """A 60 mg first dose (no step-up) keeps the typical patient febrile for hours: the consensus
    strategy gives dexamethasone 10 mg once, which lowers the IL-6 that follows."""
    plain = _run(["mosunetuzumab 60 mg iv over 4h"], days=7)
    ash = _run(["mosunetuzumab 60 mg iv over 4h"], days=7, policies=["ash_consensus"])
    fired = ash.firings
    assert list(fired["policy"]) == ["dexamethasone for refractory fever"]
    t = float(fired["administered_h"].iloc[0])
    after = ash.times > t + 6
    assert ash["il6"][after].max() < plain["il6"][after].max()


def test_scan_over_height_rescales_per_m2_doses():
    """Blinatumomab in ug/m2/day: a scan over patient.height_cm changes the body surface area
    (Mosteller) and so the engager's steady-state concentration in proportion; a bad height is
    refused naming the key."""
    sc = crsim.Scenario("tce", name="blin", parameter_set="tce_blinatumomab_nhl",
                        patient={"weight_kg": 70, "height_cm": 170},
                        regimen=["blinatumomab 15 ug/m2/day iv for 3 d"], horizon_days=3,
                        outputs={"step_h": 1})
    heights = [150.0, 185.0]
    tab = crsim.scan(sc, {"patient.height_cm": heights}, readouts=["il6_peak"])
    assert list(tab["patient.height_cm"]) == heights
    assert tab["il6_peak"].iloc[1] > tab["il6_peak"].iloc[0]
    css = [crsim.simulate(sc.replace(patient={"weight_kg": 70, "height_cm": h}))["tce_ngml"][-1]
           for h in heights]
    bsa = [math.sqrt(h * 70 / 3600) for h in heights]
    assert css[1] / css[0] == pytest.approx(bsa[1] / bsa[0], rel=1e-3)
    with pytest.raises(crsim.InputError, match="patient.height_cm"):
        crsim.scan(sc, {"patient.height_cm": [-5]})


def test_per_dose_readouts_do_not_depend_on_the_output_grid():
    """The readouts come from the readout trajectory (solver steps, both sides of each dose, the
    grader's threshold crossings located to 1e-6 h): hourly, 7-hourly and 3-minute output give the
    same numbers - the grid-based readouts placed the first fever's onset only to the grid's
    spacing. The label C1 with the doses at 1.5 h past the hour (off every grid)."""
    regimen = ["mosunetuzumab 1 mg iv over 4h at 1.5h", "mosunetuzumab 2 mg iv over 4h at 169.5h",
               "mosunetuzumab 60 mg iv over 4h at 337.5h"]
    runs = []
    for step in (1.0, 7.0, 0.05):
        sc = crsim.Scenario("tce", name="grid", regimen=regimen, horizon_days=21,
                            outputs={"times_h": [float(x) for x in np.arange(0.0, 504.0 + 1e-9, step)]})
        runs.append(crsim.simulate(sc).readouts)
    ref = runs[2]
    assert ref["dose1.crs"] == 1 and ref["dose1.max_grade"] >= 1
    for r in runs[:2]:
        assert set(r) == set(ref)
        for k, v in ref.items():
            if isinstance(v, float) and math.isnan(v):
                assert math.isnan(r[k]), k
            elif k.endswith("il6_peak"):
                assert r[k] == pytest.approx(v, rel=1e-9), k      # same step points
            else:
                assert r[k] == pytest.approx(v, rel=1e-9, abs=1e-9), k
    assert 0 < ref["dose1.onset_h"] < 24
