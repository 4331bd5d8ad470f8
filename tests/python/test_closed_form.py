"""The Python API against closed-form one- and two-compartment solutions: bolus, infusion,
first-order absorption and multiple-dose superposition; relative error <= 1e-6 with both methods."""
import numpy as np
import pytest

import crsim
from pkref import OneCmt, TwoCmt, max_rel_err

METHODS = ["rosenbrock4", "dopri5"]
TIGHT = dict(rtol=1e-10, atol=1e-12)
TOL = 1e-6

PK1 = dict(CL=14.7, V=64.0)
PK2 = dict(CL=0.0125, V1=3.5, Q=0.00833, V2=2.9)


@pytest.mark.parametrize("method", METHODS)
def test_one_compartment_bolus_infusion_oral(method):
    ref = OneCmt(**PK1)
    t = np.linspace(0.25, 24, 40)
    r = crsim.simulate("pk1", times=t, doses=[crsim.Dose("central", 10)], method=method, **TIGHT)
    assert max_rel_err(r["C"], 10 * ref.bolus(t)) < TOL

    t = np.linspace(1.05, 24, 60)
    r = crsim.simulate("pk1", times=t, doses=[crsim.Dose("central", 20, time=1, duration=2)],
                       method=method, **TIGHT)
    assert max_rel_err(r["C"], 10 * (ref.infusion(t - 1) - ref.infusion(t - 3))) < TOL

    t = np.linspace(0.2, 24, 50)
    r = crsim.simulate("pk1_oral", times=t, doses=[crsim.Dose("depot", 100)], method=method, **TIGHT)
    assert max_rel_err(r["C"], 100 * ref.oral(t, 1.5)) < TOL


@pytest.mark.parametrize("method", METHODS)
def test_two_compartment_bolus_infusion_oral(method):
    ref = TwoCmt(**PK2)
    t = np.linspace(1, 24 * 60, 80)
    r = crsim.simulate("pk2", times=t, doses=[crsim.Dose("central", 560)], method=method, **TIGHT)
    assert max_rel_err(r["C"], 560 * ref.bolus(t)) < TOL

    # 560 mg at 280 mg/h: a 2 h infusion; outputs during and after it.
    t = np.concatenate([np.linspace(0.1, 1.9, 10), np.linspace(2.5, 24 * 30, 40)])
    r = crsim.simulate("pk2", times=t, doses=[crsim.Dose("central", 560, rate=280)], method=method,
                       **TIGHT)
    assert max_rel_err(r["C"], 280 * (ref.infusion(t) - ref.infusion(t - 2))) < TOL

    t = np.linspace(2, 24 * 40, 60)
    r = crsim.simulate("pk2_oral", times=t, doses=[crsim.Dose("depot", 162)], method=method, **TIGHT)
    assert max_rel_err(r["C"], 162 * ref.oral(t, 0.02)) < TOL


@pytest.mark.parametrize("method", METHODS)
def test_repeated_doses_superpose(method):
    ref = TwoCmt(**PK2)
    # 4 doses of 8 mg/kg (70 kg -> 560 mg) over 1 h every 2 weeks.
    dose = crsim.Dose("central", 8, unit="mg/kg", duration=1, additional=3, interval=336)
    t = np.linspace(0.5, 24 * 70, 120)
    r = crsim.simulate("pk2", times=t, doses=dose, weight=70, method=method, **TIGHT)
    expected = sum(560 * (ref.infusion(t - s) - ref.infusion(t - s - 1)) for s in (0, 336, 672, 1008))
    assert max_rel_err(r["C"], expected) < TOL


@pytest.mark.parametrize("method", METHODS)
def test_parameter_overrides_reach_the_engine(method):
    pars = dict(CL=2.0, V=10.0)
    ref = OneCmt(**pars)
    t = np.linspace(0.5, 12, 24)
    r = crsim.simulate("pk1", times=t, doses=[crsim.Dose("central", 5)], parameters=pars,
                       method=method, **TIGHT)
    assert max_rel_err(r["C"], 5 * ref.bolus(t)) < TOL
    assert r.parameters == pars
