"""The gradient the optimiser uses (forward sensitivities through the chain rule) agrees with central
finite differences of the objective, for every error model, with and without M3 censoring, on the
log and the linear scale, for one subject and for a pooled fit of several."""
import numpy as np
import pandas as pd
import pytest

import crsim
from crsim.fitting.fit import make_objective

TIGHT = dict(rtol=1e-10, atol=1e-12)
T = np.linspace(0.5, 24 * 14, 20)
DOSE = [crsim.Dose("central", 560, duration=1)]
NAMES = ["CL", "V1", "Vmax", "Km"]
OFF = dict(CL=0.015, V1=3.0, Vmax=0.25, Km=3.5)   # away from the truth: gradient far from zero


def _data(censor: bool, seed: int = 3) -> pd.DataFrame:
    f = crsim.simulate("pk2_mm", times=T, doses=DOSE, **TIGHT)["C"]
    y = f * (1 + 0.2 * np.random.default_rng(seed).standard_normal(len(T)))
    df = pd.DataFrame({"time_h": T, "observable": "C", "value": y, "unit": "ug/mL"})
    if censor:
        df["lloq"] = np.quantile(f, 0.3)
    return df


def _compare(obj, theta):
    value, grad = obj.value_and_gradient(theta)
    assert value == pytest.approx(obj.value(theta), rel=1e-9)
    fd = np.empty_like(theta)
    for j in range(len(theta)):
        h = 1e-5 * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        fd[j] = (obj.value(up) - obj.value(down)) / (2 * h)
    # Central differences: truncation O(h^2) and rounding ~ 1e-10 |value| / h; both far below 1e-6.
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * np.max(np.abs(fd)))
    assert np.all(np.abs(grad) > 0)


@pytest.mark.parametrize("censor", [False, True], ids=["uncensored", "M3"])
@pytest.mark.parametrize("kind", ["additive", "proportional", "combined", "lognormal"])
def test_gradient_matches_central_differences(kind, censor):
    df = _data(censor)
    obj, theta = make_objective("pk2_mm", df, NAMES, error_model=kind, doses=DOSE, solver=TIGHT, start=OFF)
    if censor:
        assert obj.censored.sum() >= 5
    assert len(theta) == 4 + (2 if kind == "combined" else 1)   # error parameters are estimated too
    _compare(obj, theta)


def test_gradient_on_linear_scale_with_fixed_error_parameters():
    obj, theta = make_objective("pk2_mm", _data(True), NAMES, doses=DOSE, solver=TIGHT, start=OFF,
                                log_scale=["V1", "Km"],
                                error_model=crsim.ErrorModel("combined", a=0.5, b=0.15, estimate=["b"]))
    assert obj.log_scale == [False, True, False, True] and obj.names[-1] == "C.b"
    _compare(obj, theta)


def test_gradient_of_a_pooled_fit_with_two_observables_and_dose_records():
    # pk2_mm observes C (ug/mL) and total_amount (mg); two subjects, weight-based doses from records.
    rows = []
    for sid, w in ((1, 60.0), (2, 85.0)):
        r = crsim.simulate("pk2_mm", times=T, doses=[crsim.Dose("central", 8, unit="mg/kg", duration=1)],
                           weight=w, **TIGHT)
        rows.append(dict(id=sid, time_h=0.0, evid=1, amt=8.0, amt_unit="mg/kg", cmt="central", dur=1.0,
                         weight=w))
        for t, c, a in zip(T, r["C"], r["total_amount"]):
            rows.append(dict(id=sid, time_h=t, evid=0, observable="C", value=c * 1.1, unit="mg/L", weight=w))
            rows.append(dict(id=sid, time_h=t, evid=0, observable="total_amount", value=a * 0.95,
                             unit="mg", weight=w))
    df = pd.DataFrame(rows)
    obj, theta = make_objective("pk2_mm", df, ["CL", "Vmax"], pooled=True, solver=TIGHT,
                                error_model={"C": "proportional", "total_amount": "additive"})
    assert len(obj.subjects) == 2 and obj.names == ["CL", "Vmax", "C.b", "total_amount.a"]
    _compare(obj, theta)


def test_gauss_newton_decrement_predicts_the_remaining_gain():
    """The acceptance test of a line-search stop uses g' (2 I)^-1 g from the expected Fisher
    information: near the optimum it predicts twice the decrease of -2LL that is left (quadratic
    model, Gauss-Newton Hessian 2 I), and it is ~0 at the optimum."""
    from crsim.fitting.optimize import gauss_newton_decrement

    data = _data(False)
    fit = crsim.fit("pk2_mm", data, NAMES, doses=DOSE, error_model="proportional", solver=TIGHT)
    obj, _ = make_objective("pk2_mm", data, NAMES, doses=DOSE, error_model="proportional", solver=TIGHT)
    best = fit.estimates["theta"].to_numpy()
    f_best, g_best = obj.value_and_gradient(best)
    assert gauss_newton_decrement(obj, best, g_best) < 1e-6
    hessian = 2 * obj.details(best)["information"]
    for j in range(3):
        theta = best.copy()
        theta[j] += 1.0 / np.sqrt(hessian[j, j])   # -2LL up by about 1/2 along this axis alone
        f, g = obj.value_and_gradient(theta)
        gain = f - f_best
        assert 0.2 < gain < 1.0
        assert gauss_newton_decrement(obj, theta, g) / 2 == pytest.approx(gain, rel=0.25)
