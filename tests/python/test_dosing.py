"""Each dosing feature through the Python API, against closed forms (one-compartment pk1: CL 14.7
L/h, V 64 L; two-compartment pk2), and the dose table the result reports."""
import numpy as np
import pytest

import crsim
from pkref import OneCmt, TwoCmt, max_rel_err

TIGHT = dict(rtol=1e-10, atol=1e-12)
TOL = 1e-6
REF1 = OneCmt(14.7, 64.0)
REF2 = TwoCmt(0.0125, 3.5, 0.00833, 2.9)


def run(doses, t, model="pk1", **kw):
    return crsim.simulate(model, times=t, doses=doses, **TIGHT, **kw)


def test_lag_shifts_every_administration():
    t = np.linspace(2.0, 30, 40)
    r = run([crsim.Dose("central", 10, time=1, lag=0.75, additional=1, interval=12)], t)
    assert max_rel_err(r["C"], 10 * (REF1.bolus(t - 1.75) + REF1.bolus(t - 13.75))) < TOL
    assert list(r.doses["time_h"]) == [1.75, 13.75]


def test_bioavailability_scales_the_amount():
    t = np.linspace(0.5, 24, 30)
    r = run([crsim.Dose("depot", 100, bioavailability=0.6)], t, model="pk1_oral")
    assert max_rel_err(r["C"], 60 * REF1.oral(t, 1.5)) < TOL
    assert r.doses["amount"].iloc[0] == pytest.approx(60.0)


def test_infusion_by_rate_and_by_duration_agree_with_closed_form():
    t = np.concatenate([np.linspace(0.1, 1.9, 7), np.linspace(2.1, 24, 20)])
    expected = 10 * (REF1.infusion(t) - REF1.infusion(t - 2))
    by_rate = run([crsim.Dose("central", 20, rate=10)], t)
    by_duration = run([crsim.Dose("central", 20, duration=2)], t)
    assert max_rel_err(by_rate["C"], expected) < TOL
    assert max_rel_err(by_duration["C"], expected) < TOL
    d = by_rate.doses.iloc[0]
    assert (d["kind"], d["rate"], d["end_h"], d["amount_unit"]) == ("infusion", 10.0, 2.0, "mg")


def test_per_kg_rate_is_per_kg_per_hour():
    # 0.2 mg/kg at 0.1 mg/kg/h in 50 kg: 10 mg at 5 mg/h over 2 h.
    t = np.linspace(0.5, 12, 24)
    r = run([crsim.Dose("central", 0.2, unit="mg/kg", rate=0.1)], t, weight=50)
    assert max_rel_err(r["C"], 5 * (REF1.infusion(t) - REF1.infusion(t - 2))) < TOL
    assert r.doses["rate"].iloc[0] == pytest.approx(5.0)
    assert r.doses["end_h"].iloc[0] == pytest.approx(2.0)


def test_repeats_expand_to_additional_plus_one_administrations():
    t = np.linspace(0.5, 60, 50)
    r = run([crsim.Dose("central", 10, additional=3, interval=12)], t)
    assert list(r.doses["time_h"]) == [0, 12, 24, 36]
    assert max_rel_err(r["C"], sum(10 * REF1.bolus(t - s) for s in (0, 12, 24, 36))) < TOL


def test_days_helpers_equal_hours():
    a = crsim.Dose("central", 10, time_days=1, interval_days=0.5, additional=2)
    b = crsim.Dose("central", 10, time=24, interval=12, additional=2)
    assert a == b
    with pytest.raises(crsim.InputError, match="time_days"):
        crsim.Dose("central", 10, time=3, time_days=1)


@pytest.mark.parametrize("weight, given", [(70, 560.0), (100, 800.0), (120, 800.0)])
def test_mg_per_kg_with_cap(weight, given):
    dose = crsim.Dose("central", 8, unit="mg/kg", duration=1, cap=800)
    t = np.linspace(0.5, 24 * 28, 60)
    r = run([dose], t, model="pk2", weight=weight)
    assert r.doses["amount"].iloc[0] == pytest.approx(given)
    assert max_rel_err(r["C"], given * (REF2.infusion(t) - REF2.infusion(t - 1))) < TOL


def test_outputs_at_a_bolus_time_are_post_dose():
    r = run([crsim.Dose("central", 64, time=2)], [0.0, 2.0])
    assert r["C"][0] == 0.0
    assert r["C"][1] == pytest.approx(1.0, rel=1e-12)


def test_default_grid_covers_the_regimen_and_holds_event_times():
    r = crsim.simulate("pk1", doses=[crsim.Dose("central", 20, time=1, duration=2.3)])
    assert r.times[0] == 0.0 and r.times[-1] == pytest.approx(3.3 + 24)
    assert np.any(np.isclose(r.times, 3.3, rtol=0, atol=1e-12))
    assert np.all(np.diff(r.times) > 0)
    r = crsim.simulate("pk2", doses=[crsim.Dose("central", 100)], days=56)
    assert r.times[-1] == pytest.approx(56 * 24) and len(r.times) <= 2002


def test_doses_accept_a_single_dose_and_dicts():
    t = np.linspace(0.5, 10, 5)
    a = run(crsim.Dose("central", 10, time=0.1), t)
    b = run([{"target": "central", "amount": 10, "time": 0.1}], t)
    np.testing.assert_array_equal(a.states, b.states)


# --- body-surface-area dosing and continuous infusions as a daily rate (issue 13) ------------------

from crsim.spec.dosing import body_surface_area  # noqa: E402


@pytest.mark.parametrize("height, weight, bsa", [
    (180, 72.2, 1.9),                  # 180 x 72.2 / 3600 = 3.61 = 1.9^2
    (160, 90, 2.0),                    # 14400 / 3600 = 4
    (170, 70, 1.8181186857),           # sqrt(11900 / 3600) = sqrt(3.30556)
    (100, 16, 0.6666666667),           # sqrt(1600 / 3600) = 2/3
])
def test_body_surface_area_is_mosteller(height, weight, bsa):
    assert body_surface_area(height, weight) == pytest.approx(bsa, rel=1e-9)


def test_per_m2_bolus_is_scaled_by_the_body_surface_area():
    t = np.linspace(0.5, 24, 20)
    r = run([crsim.Dose("central", 100, unit="mg/m2")], t, height=180, weight=72.2)  # 1.9 m2
    assert r.doses["amount"].iloc[0] == pytest.approx(190.0, rel=1e-12)
    assert r.doses["amount_unit"].iloc[0] == "mg"
    assert max_rel_err(r["C"], 190 * REF1.bolus(t)) < TOL
    # the cap is on the absolute amount, after scaling
    r = run([crsim.Dose("central", 100, unit="mg/m2", cap=150)], t, height=180, weight=72.2)
    assert r.doses["amount"].iloc[0] == pytest.approx(150.0)
    # the scenario equivalent to the call records the height
    assert r.scenario.patient.height_cm == 180 and r.scenario.to_dict()["patient"]["height_cm"] == 180


def test_continuous_infusion_delivers_the_analytical_total():
    # blinatumomab-like 15 ug/m2/day for 7 d at 1.9 m2: 28.5 ug/day, 0.1995 mg over 168 h
    doses = crsim.parse_regimen("15 ug/m2/day iv for 7 d")
    t = np.concatenate([np.linspace(1, 167, 84), np.linspace(169, 180, 12)])  # before the tail decays to atol
    r = run(doses, t, height=180, weight=72.2)
    total = 0.015 * 1.9 * 7
    d = r.doses.iloc[0]
    assert (d["kind"], d["time_h"], d["end_h"]) == ("infusion", 0.0, 168.0)
    assert d["amount"] == pytest.approx(total, rel=1e-12)
    assert d["rate"] == pytest.approx(0.015 * 1.9 / 24, rel=1e-12)   # mg/h
    rate = total / 168
    assert max_rel_err(r["C"], rate * (REF1.infusion(t) - REF1.infusion(t - 168))) < TOL
    # mass balance: infused = eliminated (CL x AUC) + left in the body (V x C) at the end
    tt = np.linspace(0, 168, 20001)
    rr = run(doses, tt, height=180, weight=72.2)
    eliminated = 14.7 * np.trapezoid(rr["C"], tt)
    assert eliminated + 64.0 * rr["C"][-1] == pytest.approx(total, rel=1e-6)


def test_per_m2_doses_in_a_scenario_and_its_file_form():
    sc = crsim.Scenario("pk1", patient={"weight_kg": 72.2, "height_cm": 180},
                        regimen=["100 mg/m2 iv day 0; 50 day 1"], horizon_days=2)
    assert [(d.amount, d.unit, d.time) for d in sc.doses] == [(100.0, "mg/m2", 0.0), (50.0, "mg/m2", 24.0)]
    r = crsim.simulate(sc)
    assert list(r.doses["amount"]) == pytest.approx([190.0, 95.0], rel=1e-12)
    assert crsim.Scenario.from_dict(sc.to_dict()) == sc
    assert sc.to_dict()["patient"] == {"weight_kg": 72.2, "height_cm": 180}


def test_per_m2_dose_without_height_or_out_of_range_names_the_field():
    dose = crsim.Dose("central", 100, unit="mg/m2")
    with pytest.raises(crsim.InputError) as err:
        crsim.simulate("pk1", doses=[dose], weight=70)
    assert err.value.field == "height" and "patient.height_cm" in str(err.value)
    assert "doses[0]" in str(err.value) and "mg/m2" in str(err.value)
    with pytest.raises(crsim.InputError) as err:  # neither: the height is named first
        crsim.simulate("pk1", doses=[dose])
    assert err.value.field == "height"
    with pytest.raises(crsim.InputError) as err:
        crsim.simulate("pk1", doses=[dose], height=175)
    assert err.value.field == "weight"
    with pytest.raises(crsim.InputError) as err:  # metres, not cm
        crsim.simulate("pk1", doses=[dose], weight=70, height=1.75)
    assert err.value.field == "height" and "1.75" in str(err.value) and "[20, 280]" in str(err.value)
    with pytest.raises(crsim.InputError) as err:
        crsim.Scenario("pk1", patient={"weight_kg": 70}, regimen=["375 mg/m2 iv over 4h"])
    msg = str(err.value)
    assert "patient.height_cm" in msg and "regimen[0]" in msg and "mg/m2" in msg
    with pytest.raises(crsim.InputError, match=r"patient\.height_cm = 1\.75 is not allowed"):
        crsim.Scenario("pk1", patient={"weight_kg": 70, "height_cm": 1.75}, regimen=["375 mg/m2 iv"])
    with pytest.raises(crsim.InputError, match=r"regimen\[0\]\.unit = 'mg/m3'"):
        crsim.Scenario("pk1", patient={"weight_kg": 70}, regimen=[{"target": "central", "amount": 1,
                                                                   "unit": "mg/m3"}])


def test_per_m2_results_file_keeps_the_prescription_and_the_amount_given(tmp_path):
    sc = crsim.Scenario("pk1", patient={"weight_kg": 72.2, "height_cm": 180}, regimen=["100 mg/m2 iv"],
                        horizon_days=1)
    crsim.save(crsim.simulate(sc), tmp_path / "r.h5")
    back = crsim.load(tmp_path / "r.h5")
    assert back.scenario.patient.height_cm == 180 and back.scenario.regimen == ["100 mg/m2 iv"]
    assert back.doses["amount"].tolist() == pytest.approx([190.0], rel=1e-12)   # mg given


def test_scenario_errors_name_the_entry_and_part_of_a_text_with_several():
    with pytest.raises(crsim.InputError, match=r"regimen\[1\]\[1\]\.additional"):  # part 1 of entry 1
        crsim.Scenario("pk1", regimen=["1 mg iv", "2 mg iv; 3 mg q1h x2000000"], horizon_h=100)
    with pytest.raises(crsim.InputError, match=r"regimen\[0\] = 720 is not allowed: a first administration"):
        crsim.Scenario("pk1", regimen=["1 mg iv day 0; 2 mg day 30"], horizon_h=48)
    with pytest.raises(crsim.InputError) as err:  # a policy giving a per-m² dose without a height
        crsim.Scenario("pk1", patient={"weight_kg": 70}, regimen=["1 mg iv"],
                       policies=[{"name": "p", "when": "C >= 0.5", "give": "10 mg/m2 iv"}])
    assert err.value.field == "patient.height_cm" and "policies[0].give[0]" in str(err.value)
