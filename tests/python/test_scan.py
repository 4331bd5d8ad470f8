"""crsim.scan: grids over intervention settings run on C++ threads (crsim._core.simulate_batch) and
tabulated one row per combination; the same numbers as one simulate call per combination."""
import time

import numpy as np
import pandas as pd
import pytest

import crsim
from crsim.model.parameter_sets import data_dir
from crsim.model.extension import extension

GRID = {"policy.trigger_grade": [1, 2, 3], "policy.delay_h": [0, 6, 12, 24]}


@pytest.fixture(scope="module")
def default():
    return crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")


@pytest.fixture(scope="module")
def table(default):
    t0 = time.perf_counter()
    tab = crsim.scan(default, GRID, base_policy="tocilizumab_grade2")
    print(f"\n3 x 4 scan: {time.perf_counter() - t0:.2f} s")
    return tab


def test_3x4_scan_returns_12_rows_with_all_readouts(table):
    readouts = list(extension("crs").scan_readouts)
    assert list(table.columns) == list(GRID) + readouts
    assert len(table) == 12
    assert list(zip(table["policy.trigger_grade"], table["policy.delay_h"])) == [
        (g, d) for g in (1, 2, 3) for d in (0, 6, 12, 24)]
    for r in readouts:  # onset is NaN only where no fever shows on the output grid
        col = table[r]
        assert col.notna().all() or r == "onset_h", r
    assert table.attrs["units"]["il6_peak"] == "pg/mL" and table.attrs["units"]["cart_auc28"] == "cells/uL*d"
    assert table.attrs["keys"] == list(GRID)
    print("\n" + table.round(1).to_string())
    # a later trigger or a longer delay never shortens the time at grade >= 2
    h2 = table.pivot(index="policy.trigger_grade", columns="policy.delay_h", values="hours_grade_ge2")
    assert np.all(np.diff(h2.values, axis=0) >= 0) and np.all(np.diff(h2.values, axis=1) >= 0)
    assert (table.tocilizumab_doses <= 4).all() and (table.tocilizumab_doses >= 1).all()


def test_scan_rows_equal_single_simulations(default, table):
    base = crsim.strategy("tocilizumab_grade2").policies[0]
    for k in (5, 10):
        g, d = table["policy.trigger_grade"][k], table["policy.delay_h"][k]
        pol = base.replace(trigger_grade=g, delay_h=d)
        res = crsim.simulate(default.replace(policies=[pol]))
        for name in ("max_grade", "hours_grade_ge2", "il6_peak", "cart_cmax", "cart_auc28"):
            assert table[name][k] == res.readouts[name], (k, name)
        assert table.tocilizumab_doses[k] == (res.doses.state == "tocilizumab_central").sum()
        assert table.tumor_day28[k] == pytest.approx(res["tumor_cells"][-1], rel=1e-12)


def test_threads_do_not_change_the_numbers(default):
    grid = {"policy.delay_h": [0, 12], "parameters.tumor_burden": [5e10, 1e11]}
    one = crsim.scan(default, grid, base_policy="tocilizumab_grade2", threads=1)
    two = crsim.scan(default, grid, base_policy="tocilizumab_grade2", threads=2)
    pd.testing.assert_frame_equal(one, two)
    assert one.il6_peak[2] > one.il6_peak[0]  # burden raises IL-6


def test_other_keys_strategies_and_regimen_fields(default):
    tab = crsim.scan(default, {"strategy": ["none", "tocilizumab_grade2", "dexamethasone_prophylaxis"],
                               "regimen[0].amount": [1e6, 3e6]}, readouts=["max_grade", "cart_cmax",
                                                                           "dexamethasone_doses"])
    assert list(tab.columns) == ["strategy", "regimen[0].amount", "max_grade", "cart_cmax", "dexamethasone_doses"]
    assert list(tab.dexamethasone_doses) == [0, 0, 0, 0, 3, 3]
    assert tab.cart_cmax[1] > tab.cart_cmax[0]  # dose raises expansion
    tab = crsim.scan("crs", {"policies[1].delay_h": [0, 12]}, base_policy="astct_escalation",
                     readouts=["max_grade"])
    assert len(tab) == 2
    fig = crsim.plot_scan(crsim.scan(default, {"policy.delay_h": [0, 24]}, base_policy="tocilizumab_grade2"),
                          "hours_grade_ge2")
    assert fig.axes[0].get_xlabel() == "delay (h)"


def test_heatmap(table):
    import matplotlib

    fig = crsim.plot_scan(table, "hours_grade_ge2")
    ax = fig.axes[0]
    # readable axis names with units (issue 17), the readout with its unit as the title
    assert ax.get_xlabel() == "delay (h)" and ax.get_ylabel() == "trigger: ASTCT grade ≥"
    assert ax.get_title() == "hours grade ge2 (h)"
    assert len(ax.texts) == 12
    grade = crsim.plot_scan(table, "max_grade")
    ticks = grade.axes[1].get_yticks()                     # the colour bar: whole grades only
    assert len(ticks) and all(float(t).is_integer() for t in ticks)
    assert isinstance(fig, matplotlib.figure.Figure)
    with pytest.raises(crsim.InputError, match="readout"):
        crsim.plot_scan(table, "nothing")


def test_scan_errors_name_the_key(default):
    cases = [
        ({"policy.trigger_grade": [1]}, None, "policy.trigger_grade", "a scenario with a policy"),
        ({"policy.delay": [1]}, "tocilizumab_grade2", "policy.delay", "did you mean 'delay_h'"),
        ({"policy.delay_h": [1]}, "astct_escalation", "policy.delay_h", "the scenario has 3 policies"),
        ({"policies[5].delay_h": [1]}, "astct_escalation", "policies[5].delay_h", "index in [0, 2]"),
        ({"parameter.rho": [1]}, None, "grid key", "policy.<field>"),
        ({"policy.delay_h": [-1]}, "tocilizumab_grade2", "policy.delay_h", "delay"),
        ({"parameters.rho": [5.0]}, None, "parameters.rho", "rho"),
        ({"regimen[3].amount": [1]}, None, "regimen[3].amount", "index"),
        ({"policy.delay_h": []}, "tocilizumab_grade2", "grid['policy.delay_h']", "at least one"),
        ({}, None, "grid", "non-empty"),
    ]
    for grid, base, field, text in cases:
        with pytest.raises(crsim.InputError) as ei:
            crsim.scan(default, grid, base_policy=base)
        assert field in str(ei.value) and text in str(ei.value), (grid, str(ei.value))
    with pytest.raises(crsim.InputError, match="did you mean 'il6_peak'"):
        crsim.scan(default, {"policy.delay_h": [0]}, base_policy="tocilizumab_grade2", readouts=["il6_peek"])
    with pytest.raises(crsim.InputError, match="model pk1 has none"):
        crsim.scan(crsim.Scenario("pk1", regimen=["1 mg iv"]), {"policy.trigger_grade": [1]},
                   base_policy=crsim.Policy("p", when="C >= 1", give="1 mg iv"))


def test_failed_runs_are_reported_per_row(default):
    grid = {"parameters.rho": [0.03]}
    sc = default.replace(solver={"max_steps": 50})  # too few steps: SolverError in C++
    with pytest.warns(RuntimeWarning, match="1 of 1 scan runs failed"):
        tab = crsim.scan(sc, grid)
    assert np.isnan(tab.max_grade[0]) and "SolverError" in tab.error[0]
