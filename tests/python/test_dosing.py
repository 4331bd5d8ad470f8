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
