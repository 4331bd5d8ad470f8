"""Result: variable access, pandas conversion (wide and long) with units, plots with units in the
labels, readouts and the administered-dose table."""
import numpy as np
import pandas as pd
import pytest

import crsim
from pkref import OneCmt


@pytest.fixture(scope="module")
def res():
    return crsim.simulate("pk2_mm", times=np.linspace(0, 48, 97),
                          doses=[crsim.Dose("central", 8, unit="mg/kg", duration=1, cap=800)],
                          weight=70)


def test_arrays_names_and_units(res):
    assert res.times.shape == (97,)
    assert res.states.shape == (97, 4) and res.observables.shape == (97, 2)
    assert res.state_names == ["central", "peripheral", "eliminated_linear", "eliminated_mm"]
    assert res.state_units == ["mg"] * 4
    assert res.observable_names == ["C", "total_amount"] and res.observable_units == ["mg/L", "mg"]
    np.testing.assert_array_equal(res["C"], res.observables[:, 0])
    np.testing.assert_array_equal(res["peripheral"], res.states[:, 1])
    assert "C" in res and "X" not in res
    with pytest.raises(crsim.InputError, match="variable = 'X'"):
        res["X"]
    assert res.stats["steps"] > 0 and res.stats["method"] == "auto"
    # the default method on this non-stiff model: dopri5 throughout
    assert res.stats["method_used"] == "dopri5" and res.stats["stiff_switches"] == []
    assert res.stats["dopri5_steps"] == res.stats["steps"] and res.stats["rosenbrock4_steps"] == 0
    assert res.weight == 70 and "pk2_mm" in repr(res)


def test_mass_balance_through_the_api(res):
    # Everything infused (560 mg by 1 h) is in the body or eliminated.
    np.testing.assert_allclose(res["total_amount"][res.times >= 1], 560.0, rtol=1e-7)


def test_wide_table(res):
    df = res.to_pandas()
    assert df.shape == (97, 6)
    assert df.index.name == "time_h"
    assert list(df.columns) == res.state_names + res.observable_names
    assert df.attrs["units"] == {"central": "mg", "peripheral": "mg", "eliminated_linear": "mg",
                                 "eliminated_mm": "mg", "C": "mg/L", "total_amount": "mg"}
    np.testing.assert_array_equal(df["C"].to_numpy(), res["C"])


def test_long_table(res):
    df = res.to_pandas("long")
    assert df.shape == (97 * 6, 5)
    assert list(df.columns) == ["time_h", "variable", "value", "unit", "kind"]
    c = df[df["variable"] == "C"]
    np.testing.assert_array_equal(c["value"].to_numpy(), res["C"])
    assert set(c["unit"]) == {"mg/L"} and set(c["kind"]) == {"observable"}
    assert set(df[df["kind"] == "state"]["variable"]) == set(res.state_names)
    with pytest.raises(crsim.InputError, match="form = 'tall'"):
        res.to_pandas("tall")


def test_dose_table(res):
    d = res.doses
    assert list(d.columns) == ["state", "kind", "time_h", "amount", "amount_unit", "rate", "end_h"]
    assert d.iloc[0].to_dict() == {"state": "central", "kind": "infusion", "time_h": 0.0,
                                   "amount": 560.0, "amount_unit": "mg", "rate": 560.0, "end_h": 1.0}


def test_plot_has_units_in_labels(res):
    import matplotlib.figure

    fig = res.plot()
    assert isinstance(fig, matplotlib.figure.Figure)
    labels = [a.get_ylabel() for a in fig.axes]
    assert labels == ["C (mg/L)", "total_amount (mg)"]
    assert fig.axes[-1].get_xlabel() == "time (h)"
    fig = res.plot(["C", "peripheral"])
    assert [a.get_ylabel() for a in fig.axes] == ["C (mg/L)", "peripheral (mg)"]


def test_plot_long_runs_in_days_and_into_given_axes():
    import matplotlib.pyplot as plt

    r = crsim.simulate("pk2", doses=[crsim.Dose("central", 100)], days=30)
    fig = r.plot("C")
    assert fig.axes[0].get_xlabel() == "time (days)"
    line = fig.axes[0].get_lines()[0]
    assert line.get_xdata()[-1] == pytest.approx(30.0)
    fig2, ax = plt.subplots()
    assert r.plot("C", ax=ax) is fig2 and ax.get_ylabel() == "C (mg/L)"
    with pytest.raises(crsim.InputError, match="ax"):
        r.plot(["C", "peripheral"], ax=ax)
    with pytest.raises(crsim.InputError, match=r"variables\[0\] = 'Y'"):
        r.plot("Y")
    plt.close("all")


def test_summary_against_closed_form():
    # pk1 bolus of 64 mg: C(0) = 1 mg/L, AUC(0-inf) = D/CL; on a fine grid over 10 half-lives
    # the trapezoid is within 1e-4 of the closed-form AUC(0-T).
    D, CL, V = 64.0, 14.7, 64.0
    t = np.linspace(0, 30, 30001)
    r = crsim.simulate("pk1", times=t, doses=[crsim.Dose("central", D)], rtol=1e-10, atol=1e-12)
    s = r.summary()["C"]
    assert s["unit"] == "mg/L" and s["auc_unit"] == "h*mg/L"
    assert s["max"] == pytest.approx(1.0, rel=1e-12) and s["t_max_h"] == 0.0
    auc = D / CL * (1 - np.exp(-CL / V * 30))
    assert s["auc"] == pytest.approx(auc, rel=1e-4)
    assert s["last"] == pytest.approx(D * OneCmt(CL, V).bolus(30.0), rel=1e-6)
    assert (s["t_first_h"], s["t_last_h"]) == (0.0, 30.0)


def test_to_xarray_time_by_variable_with_units():
    """Result.to_xarray(): every observable and state a variable over time with its unit, kind and
    description; a state sharing an observable's name keeps both (the state as <name>_state)."""
    xr = pytest.importorskip("xarray")
    res = crsim.simulate("crs", doses=[crsim.Dose("car_t_effector", 3e6, unit="cells/kg")],
                         days=3, weight=35)
    ds = res.to_xarray()
    assert isinstance(ds, xr.Dataset)
    assert np.array_equal(ds["time"].values, res.times) and ds["time"].attrs["units"] == "h"
    assert np.array_equal(ds["il6"].values, res.observables[:, res.observable_names.index("il6")])
    assert ds["il6"].attrs["units"] == "pg/mL" and ds["il6"].attrs["kind"] == "observable"
    assert np.array_equal(ds["il6_state"].values, res.states[:, res.state_names.index("il6")])
    assert ds["il6_state"].attrs["kind"] == "state"
    assert len(ds.data_vars) == len(res.observable_names) + len(res.state_names)
    assert ds.attrs["model"] == "crs" and ds.attrs["parameter_set"] == "crs_tisagenlecleucel_ball"
    assert float(ds["temperature"].max()) == pytest.approx(float(res["temperature"].max()))
