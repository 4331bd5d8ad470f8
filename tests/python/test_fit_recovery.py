"""Recovery of known parameters from data simulated without noise (to within 1 %, every error model,
several optimisers and set-ups), multistart determinism, by-subject and pooled fits, scenarios."""
import warnings

import numpy as np
import pandas as pd
import pytest

import crsim

TRUTH = dict(ka=1.2, CL=3.0, V=40.0)
START = dict(ka=0.6, CL=6.0, V=20.0)        # a factor 2 away from the truth
T = np.array([0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24.0])
DOSE = [crsim.Dose("depot", 100)]
# Error parameters fixed (without noise their ML estimates go to 0). When the SD depends on the
# prediction (proportional, combined) the noise-free optimum is at f = y (1 + O(b^2)), not at f = y:
# the 2 log sd term pulls it; b is small so that this bias (1e-4) stays well inside the 1 %.
ERRORS = {"additive": crsim.ErrorModel("additive", a=0.05, estimate=False),
          "proportional": crsim.ErrorModel("proportional", b=0.01, estimate=False),
          "combined": crsim.ErrorModel("combined", a=0.002, b=0.01, estimate=False),
          "lognormal": crsim.ErrorModel("lognormal", sigma=0.1, estimate=False)}


def observed(parameters=TRUTH, doses=DOSE, times=T, **extra):
    c = crsim.simulate("pk1_oral", times=times, doses=doses, parameters=parameters, rtol=1e-10,
                       atol=1e-12)["C"]
    df = pd.DataFrame({"time_h": times, "observable": "C", "value": c * 1000.0, "unit": "ng/mL"})
    for k, v in extra.items():
        df[k] = v
    return df


def assert_recovered(estimates, truth=TRUTH, rel=0.01):
    for name, value in truth.items():
        assert estimates.loc[name, "estimate"] == pytest.approx(value, rel=rel), name


@pytest.mark.parametrize("kind", list(ERRORS))
def test_noise_free_recovery_within_one_percent(kind):
    fit = crsim.fit("pk1_oral", observed(), estimate=["ka", "CL", "V"], doses=DOSE,
                    error_model=ERRORS[kind], start=START)
    assert fit.converged
    assert_recovered(fit.estimates)
    # No noise: the fitted curve goes through the data.
    np.testing.assert_allclose(fit.residuals["pred"], fit.residuals["value"], rtol=1e-3)


@pytest.mark.parametrize("method", ["least_squares", "TNC", "trust-constr"])
def test_noise_free_recovery_other_optimisers(method):
    fit = crsim.fit("pk1_oral", observed(), estimate=["ka", "CL", "V"], doses=DOSE, method=method,
                    error_model=ERRORS["additive"], start=START)
    assert_recovered(fit.estimates)


def test_noise_free_recovery_on_the_linear_scale_and_with_censoring():
    df = observed(lloq=1000.0)  # ng/mL: two early and two late points are below the limit
    fit = crsim.fit("pk1_oral", df, estimate=["ka", "CL", "V"], doses=DOSE, log_scale=False,
                    error_model=ERRORS["proportional"], start=START)
    assert fit.data["censored"].sum() >= 3
    assert (fit.estimates["scale"] == "linear").all()
    assert_recovered(fit.estimates)


def test_finite_difference_gradient_reaches_the_same_optimum():
    kw = dict(estimate=["ka", "CL", "V"], doses=DOSE, error_model="proportional", start=START)
    df = observed()
    df["value"] *= 1 + 0.1 * np.random.default_rng(0).standard_normal(len(df))
    a = crsim.fit("pk1_oral", df, **kw)
    b = crsim.fit("pk1_oral", df, gradient="fd", **kw)
    assert b.gradient == "fd" and a.gradient == "sensitivities"
    assert b.m2ll == pytest.approx(a.m2ll, abs=1e-4)
    np.testing.assert_allclose(b.estimates["estimate"], a.estimates["estimate"], rtol=1e-3)
    # fd: 2 objective evaluations per parameter and gradient on top of the line-search ones
    assert b.evaluations > 2 * len(a.names) * b.gradients


def test_multistart_is_deterministic_whatever_the_threads():
    df = observed()
    df["value"] *= 1 + 0.1 * np.random.default_rng(1).standard_normal(len(df))
    kw = dict(estimate=["ka", "CL", "V"], doses=DOSE, starts=5, seed=7, start=START)
    one = crsim.fit("pk1_oral", df, workers=1, **kw)
    two = crsim.fit("pk1_oral", df, workers=2, **kw)
    assert len(one.starts) == 5
    pd.testing.assert_frame_equal(one.starts.drop(columns="seconds"), two.starts.drop(columns="seconds"))
    np.testing.assert_array_equal(one.theta, two.theta)
    # the first start is the given one, the others lie in the sampling box (a factor 10 around it)
    s = one.starts
    assert s.loc[0, "start.CL"] == pytest.approx(np.log(START["CL"]))
    assert (np.abs(s["start.CL"] - np.log(START["CL"])) <= np.log(10) + 1e-12).all()
    assert s["start.CL"].nunique() == 5


def test_multistart_escapes_a_bad_start():
    # A start 100x too large in ka, 10x in V: one local run may stall; the best of 6 must not.
    fit = crsim.fit("pk1_oral", observed(), estimate=["ka", "CL", "V"], doses=DOSE, starts=6,
                    start=dict(ka=120.0, CL=3.0, V=400.0), error_model=ERRORS["proportional"],
                    bounds={"ka": (0.01, 200.0), "V": (1.0, 1000.0), "CL": (0.01, 100.0)})
    assert_recovered(fit.estimates)


def _two_subjects():
    truth = {1: dict(ka=1.2, CL=3.0, V=40.0), 2: dict(ka=0.8, CL=5.0, V=55.0)}
    frames = [observed(p, id=sid) for sid, p in truth.items()]
    return pd.concat(frames, ignore_index=True), truth


def test_by_id_fits_each_subject_in_parallel():
    df, truth = _two_subjects()
    fs = crsim.fit("pk1_oral", df, estimate=["ka", "CL", "V"], doses=DOSE, by="id", start=START,
                   error_model=ERRORS["proportional"], workers=2)
    assert isinstance(fs, crsim.FitSet) and list(fs) == [1, 2] and not fs.errors
    for sid, p in truth.items():
        assert_recovered(fs[sid].estimates, p)
    t = fs.table
    assert list(t.columns[:3]) == ["id", "parameter", "kind"] and len(t) == 6
    row = t[(t["id"] == 2) & (t["parameter"] == "CL")].iloc[0]
    assert row["estimate"] == pytest.approx(5.0, rel=0.01) and row["unit"] == "L/h"
    assert list(fs.summary["id"]) == [1, 2] and fs.summary["converged"].all()


def test_pooled_fit_finds_one_parameter_set():
    df, _ = _two_subjects()
    df.loc[df["id"] == 2, "value"] = observed(TRUTH)["value"].to_numpy()  # both subjects share TRUTH
    doses = {1: DOSE, 2: [crsim.Dose("depot", 100)]}
    fit = crsim.fit("pk1_oral", df, estimate=["ka", "CL", "V"], doses=doses, pooled=True, start=START,
                    error_model=ERRORS["combined"])
    assert fit.ids == [1, 2] and fit.n_observations == 2 * len(T)
    assert_recovered(fit.estimates)


def test_dose_records_weights_and_days():
    # 1 mg/kg, 70 kg, with times in days and doses as records in the data
    c = observed(doses=[crsim.Dose("depot", 70.0)])
    df = pd.DataFrame({"id": 7, "time_d": np.concatenate([[0.0], T / 24]), "evid": [1] + [0] * len(T),
                       "amt": [1.0] + [np.nan] * len(T), "amt_unit": "mg/kg", "cmt": ["depot"] + [""] * len(T),
                       "observable": [""] + ["C"] * len(T), "unit": [""] + ["ug/L"] * len(T),
                       "value": np.concatenate([[np.nan], c["value"]]), "weight": 70.0})
    fit = crsim.fit("pk1_oral", df, estimate=["ka", "CL", "V"], start=START, error_model=ERRORS["additive"])
    assert fit.doses[7][0].unit == "mg/kg"
    assert_recovered(fit.estimates)


def test_doses_as_a_nonmem_table_per_subject():
    df, truth = _two_subjects()
    events = pd.DataFrame({"ID": [1, 2], "TIME": [0.0, 0.0], "AMT": [100.0, 100.0], "CMT": [1, 1],
                           "EVID": [1, 1]})
    fs = crsim.fit("pk1_oral", df, estimate=["ka", "CL", "V"], doses=events, by="id", start=START,
                   error_model=ERRORS["proportional"])
    assert fs[2].doses[2][0].target == "depot"
    assert_recovered(fs[2].estimates, truth[2])
    with pytest.raises(crsim.InputError, match=r"doses column 'ID' = 3 is not allowed: an id of the data"):
        crsim.fit("pk1_oral", df, estimate=["CL"], doses=events.assign(ID=[1, 3]), by="id")


def test_scenario_supplies_model_regimen_and_fixed_values():
    truth = dict(TRUTH, V=30.0)
    sc = crsim.Scenario("pk1_oral", parameters={"V": 30.0}, regimen=[crsim.Dose("depot", 100)],
                        solver=crsim.Solver(rtol=1e-7, atol=1e-10))
    fit = crsim.fit(sc, observed(truth), estimate=["ka", "CL"], start=dict(ka=0.6, CL=6.0),
                    error_model=ERRORS["lognormal"])
    assert fit.parameters["V"] == 30.0
    assert_recovered(fit.estimates, dict(ka=1.2, CL=3.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit.simulate(times=[1.0, 2.0])
    assert r["C"][0] == pytest.approx(fit.residuals.loc[2, "pred"], rel=1e-4)
