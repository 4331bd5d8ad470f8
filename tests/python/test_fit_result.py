"""What a fit returns: the Fisher information against an independent computation, the estimates
table, information criteria, residuals, identifiability warnings, profiles, predictions and plots."""
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2, norm

import crsim

T = np.linspace(0.5, 24, 30)
DOSE = [crsim.Dose("central", 100)]
TRUTH = dict(CL=3.0, V=40.0)


def pk1_data(kind="additive", seed=0, sd=0.05, times=T, lloq=None):
    f = crsim.simulate("pk1", times=times, doses=DOSE, parameters=TRUTH, rtol=1e-10, atol=1e-12)["C"]
    e = np.random.default_rng(seed).standard_normal(len(times))
    y = f + sd * e if kind == "additive" else f * (1 + sd * e)
    df = pd.DataFrame({"time_h": times, "observable": "C", "value": y, "unit": "mg/L"})
    if lloq is not None:
        df["lloq"] = lloq
    return df


@pytest.fixture(scope="module")
def additive_fit():
    return crsim.fit("pk1", pk1_data(), estimate=["CL", "V"], doses=DOSE, error_model="additive",
                     solver=dict(rtol=1e-10, atol=1e-12))


def test_expected_information_matches_an_independent_computation(additive_fit):
    # Additive error, y = f(θ) + a e: I = J^T J / a^2 for θ = (log CL, log V) with J from finite
    # differences of plain simulations (no sensitivities), I[log a, log a] = 2 n, no cross terms.
    fit = additive_fit
    a = fit.error_parameters["C"]["a"]
    p = fit.parameters
    J = np.empty((len(T), 2))
    for j, name in enumerate(["CL", "V"]):
        h = 1e-6
        up = crsim.simulate("pk1", times=T, doses=DOSE, parameters={**p, name: p[name] * math.exp(h)},
                            rtol=1e-12, atol=1e-14)["C"]
        down = crsim.simulate("pk1", times=T, doses=DOSE, parameters={**p, name: p[name] * math.exp(-h)},
                              rtol=1e-12, atol=1e-14)["C"]
        J[:, j] = (up - down) / (2 * h)
    info = fit.fisher_information.to_numpy()
    np.testing.assert_allclose(info[:2, :2], J.T @ J / a ** 2, rtol=1e-5)
    assert info[2, 2] == pytest.approx(2 * len(T), rel=1e-12)
    np.testing.assert_allclose(info[:2, 2], 0.0, atol=1e-9)
    np.testing.assert_allclose(fit.covariance.to_numpy(), np.linalg.inv(info), rtol=1e-8)
    assert fit.information == "expected"


def test_estimates_table_intervals_and_criteria(additive_fit):
    fit = additive_fit
    e = fit.estimates
    assert list(e.index) == ["CL", "V", "C.a"]
    assert list(e["unit"]) == ["L/h", "L", "mg/L"] and list(e["kind"]) == ["model", "model", "error"]
    z = norm.ppf(0.975)
    se_theta = np.sqrt(np.diag(fit.covariance.to_numpy()))
    np.testing.assert_allclose(e["se_theta"], se_theta)
    np.testing.assert_allclose(e["ci_lower"], np.exp(e["theta"] - z * se_theta))
    np.testing.assert_allclose(e["ci_upper"], np.exp(e["theta"] + z * se_theta))
    np.testing.assert_allclose(e["se"], e["estimate"] * se_theta)          # delta method
    np.testing.assert_allclose(e["rse_pct"], 100 * se_theta)
    ci90 = fit.ci(0.90)
    assert (ci90["ci_lower"] > e["ci_lower"]).all() and (ci90["ci_upper"] < e["ci_upper"]).all()
    # -2LL recomputed from the residuals; AIC and BIC
    r = fit.residuals
    a = fit.error_parameters["C"]["a"]
    m2ll = np.sum(np.log(2 * np.pi * a ** 2) + (r["value"] - r["pred"]) ** 2 / a ** 2)
    assert fit.m2ll == pytest.approx(m2ll, rel=1e-10)
    assert fit.aic == pytest.approx(m2ll + 6) and fit.bic == pytest.approx(m2ll + 3 * math.log(len(T)))
    # ML estimate of an additive SD: the root mean square residual
    assert a == pytest.approx(np.sqrt(np.mean(r["res"] ** 2)), rel=1e-4)
    np.testing.assert_allclose(r["wres"], r["res"] / a)
    c = fit.correlation.to_numpy()
    np.testing.assert_allclose(np.diag(c), 1.0)
    np.testing.assert_allclose(c, c.T)
    assert "-2LL" in fit.summary() and "expected Fisher information" in fit.summary()


def test_observed_information_is_close_to_expected_at_the_optimum():
    df = pk1_data("proportional", seed=2, sd=0.1, times=np.linspace(0.5, 24, 80))
    kw = dict(estimate=["CL", "V"], doses=DOSE, solver=dict(rtol=1e-10, atol=1e-12))
    exp_ = crsim.fit("pk1", df, **kw)
    obs = crsim.fit("pk1", df, information="observed", **kw)
    assert obs.information == "observed"
    np.testing.assert_allclose(obs.estimates["estimate"], exp_.estimates["estimate"], rtol=1e-6)
    # E[observed] = expected; at n = 80 the two SEs differ by a few per cent.
    np.testing.assert_allclose(obs.estimates["se_theta"], exp_.estimates["se_theta"], rtol=0.15)
    assert not np.allclose(obs.estimates["se_theta"], exp_.estimates["se_theta"], rtol=1e-6)


def test_identifiability_warning_names_the_parameters():
    # pk2_mm at a tiny dose: C << Km, so elimination is (CL + Vmax/Km) C: only that sum is determined.
    t = np.linspace(1, 24 * 28, 25)
    dose = [crsim.Dose("central", 0.01, duration=1)]
    f = crsim.simulate("pk2_mm", times=t, doses=dose)["C"]
    df = pd.DataFrame({"time_h": t, "observable": "C", "value": f * (1 + 0.05 * np.sin(t)), "unit": "ug/mL"})
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit = crsim.fit("pk2_mm", df, estimate=["CL", "Vmax", "Km"], doses=dose)
    messages = [str(w.message) for w in rec if w.category is crsim.IdentifiabilityWarning]
    # Where the optimiser stops in the flat valley decides how the null space splits (one
    # combination of all three, or CL-Km and CL-Vmax when Km ends large): together the warnings
    # must name all three parameters.
    named = set()
    for m in messages:
        hit = re.search(r"near-singular Fisher information: the data do not determine the combination "
                        r"of ([A-Za-z_, ]+) \(", m)
        if hit:
            named |= {x.strip() for x in hit.group(1).split(",")}
    assert {"CL", "Vmax", "Km"} <= named, messages
    assert all(w.filename == __file__ for w in rec)   # the warning points at the crsim.fit call
    assert any("CL" in w and "Vmax" in w for w in fit.warnings)
    assert fit.estimates.loc[["CL", "Vmax", "Km"], "se"].isna().all()   # not pretended
    assert np.isfinite(fit.estimates.loc["C.b", "se"])
    # the same parameters at a dose that saturates elimination: no singularity warning
    dose = [crsim.Dose("central", 1000, duration=1)]
    f = crsim.simulate("pk2_mm", times=t, doses=dose)["C"]
    df["value"] = f * (1 + 0.05 * np.sin(t))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit = crsim.fit("pk2_mm", df, estimate=["CL", "Vmax", "Km"], doses=dose)
    assert not any("near-singular" in str(w.message) for w in rec)
    assert np.isfinite(fit.estimates["se"]).all()


def test_profile_likelihood_interval(additive_fit):
    fit = additive_fit
    prof = fit.profile("CL")
    thr = chi2.ppf(0.95, 1)
    assert prof.threshold == pytest.approx(thr)
    lo, hi = prof.interval
    e = fit.estimates.loc["CL"]
    assert lo < e["estimate"] < hi
    # At the interval's ends, the re-optimised -2LL is the threshold above the minimum.
    for v in (lo, hi):
        obj = fit._obj
        j = fit.names.index("CL")
        lower, upper = fit._lower.copy(), fit._upper.copy()
        lower[j] = upper[j] = math.log(v)
        from crsim.fitting.optimize import minimize
        x0 = fit.theta.copy()
        x0[j] = math.log(v)
        r = minimize(obj, x0, lower, upper)
        assert r["m2ll"] - fit.m2ll == pytest.approx(thr, abs=0.05)
    # Nearly linear problem with 30 points: profile and Wald intervals agree to a few per cent.
    assert lo == pytest.approx(e["ci_lower"], rel=0.03) and hi == pytest.approx(e["ci_upper"], rel=0.03)
    assert (prof.table["delta"] >= -1e-6).all()
    assert "profile interval" in repr(prof)
    prof.plot()


def test_profile_of_an_unbounded_direction_is_open():
    # Observations only after absorption has ended: a faster absorption changes nothing, so the
    # data bound ka from below only.
    t = np.array([12.0, 24.0, 36.0, 48.0])
    f = crsim.simulate("pk1_oral", times=t, doses=[crsim.Dose("depot", 100)])["C"]
    df = pd.DataFrame({"time_h": t, "observable": "C", "value": f, "unit": "mg/L"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = crsim.fit("pk1_oral", df, estimate=["ka"], doses=[crsim.Dose("depot", 100)],
                        error_model=crsim.ErrorModel("proportional", b=0.3, estimate=False),
                        bounds={"ka": (1e-3, 1e3)})
        prof = fit.profile("ka", max_steps=8)
    assert np.isfinite(prof.lower) and prof.lower < fit.estimates.loc["ka", "estimate"]
    assert math.isnan(prof.upper)
    above = prof.table[prof.table["value"] > fit.estimates.loc["ka", "estimate"]]
    assert above["value"].max() == pytest.approx(1e3) and (above["delta"] < prof.threshold).all()


def test_predictions_bands_and_plots():
    df = pk1_data("proportional", seed=3, sd=0.15, lloq=0.9)
    fit = crsim.fit("pk1", df, estimate=["CL", "V"], doses=DOSE)
    assert fit.data["censored"].sum() > 0
    p = fit.predict(times=np.linspace(0, 24, 50))
    assert list(p.columns) == ["time_h", "observable", "unit", "pred", "ci_lower", "ci_upper",
                               "pi_lower", "pi_upper"]
    assert (p["ci_lower"] <= p["pred"]).all() and (p["pred"] <= p["ci_upper"]).all()
    assert (p["pi_upper"] - p["pi_lower"] > p["ci_upper"] - p["ci_lower"]).all()
    # At the data times, pred equals the fit's predictions.
    at = p.set_index("time_h").loc[df["time_h"].to_numpy(), "pred"].to_numpy()
    np.testing.assert_allclose(at, fit.residuals["pred"], rtol=1e-5)
    fig = fit.plot()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "below LLOQ (at the limit)" in labels and "95 % prediction interval" in labels
    assert ax.get_ylabel() == "C (mg/L)"


def test_fitset_plot_and_table():
    df = pd.concat([pk1_data(seed=s).assign(id=s) for s in (1, 2, 3)], ignore_index=True)
    fs = crsim.fit("pk1", df, estimate=["CL", "V"], doses=DOSE, by="id", error_model="additive")
    assert len(fs) == 3 and set(fs.table["parameter"]) == {"CL", "V", "C.a"}
    fig = fs.plot(["CL", "V"])
    assert len(fig.axes) == 2
    fig.canvas.draw()
    assert any(ax.get_xscale() == "log" for ax in fig.axes)
    for ax in fig.axes:      # log axes read as plain numbers, no overlapping minor labels
        if ax.get_xscale() == "log":
            shown = [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]
            assert shown == []
            assert all("10^" not in t.get_text() and "×" not in t.get_text()
                       for t in ax.get_xticklabels())
    assert fs.to_pandas().shape == (9, 11)


def test_a_start_exactly_at_a_finite_upper_bound_is_accepted():
    # pk2_mm's Vmax is bounded by 1e4 mg/h and exp(log(1e4)) exceeds 1e4 by a rounding step: the
    # engine refused the back-transformed start ("parameters.Vmax = 10000 is not allowed: a
    # finite value in [0, 10000] mg/h") before the values were clipped into the bounds. The truth at
    # the bound also sends L-BFGS-B's projected steps onto log(1e4) exactly.
    upper = float(crsim.Model("pk2_mm").parameters.set_index("name").upper["Vmax"])
    assert math.exp(math.log(upper)) > upper  # the rounding this test is about
    t = np.linspace(0.5, 48, 12)
    dose = [crsim.Dose("central", 100, duration=0.5)]
    slow = {"Km": 1e5}  # Vmax / Km = 0.1 L/h: the drug stays measurable for the 2 days
    f = crsim.simulate("pk2_mm", times=t, doses=dose, parameters={"Vmax": upper, **slow})["C"]
    y = f * (1 + 0.05 * np.random.default_rng(1).standard_normal(len(t)))
    data = pd.DataFrame({"time_h": t, "observable": "C", "value": y, "unit": "ug/mL"})
    fit = crsim.fit("pk2_mm", data, ["Vmax"], doses=dose, start={"Vmax": upper}, fixed=slow,
                    bounds={"Vmax": (1.0, upper)}, starts=3, seed=0, workers=1)
    # every start ran (the given one at the bound and two Latin-hypercube draws) and none failed
    assert len(fit.starts) == 3 and fit.starts["start.Vmax"].iloc[0] == math.log(upper)
    assert np.all(np.isfinite(fit.starts["m2ll"].to_numpy(dtype=float)))
    assert math.isfinite(fit.m2ll) and fit.converged
    assert 1.0 <= fit.estimates.loc["Vmax", "estimate"] <= upper
