"""Incidence with exact binomial confidence intervals (crsim.incidence, crsim.plot_incidence):
the intervals are scipy's Clopper-Pearson ones, failed runs are left out and counted, the bars
carry the intervals, bad arguments name themselves."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy.stats import beta  # noqa: E402

import crsim  # noqa: E402


def _table(grades):
    return pd.DataFrame({"max_grade": grades})


def test_fractions_and_exact_intervals():
    """7 of 20 patients at grade >= 1: the interval is the Clopper-Pearson one, written out with
    the beta distribution (independent of scipy's binomtest)."""
    t = _table([0] * 13 + [1] * 3 + [2] * 2 + [3] * 2)
    inc = crsim.incidence(t)
    row = inc[inc.level == 1].iloc[0]
    assert (row.n, row.events, row.fraction) == (20, 7, 0.35)
    assert row.ci_low == pytest.approx(beta.ppf(0.025, 7, 14), rel=1e-9)
    assert row.ci_high == pytest.approx(beta.ppf(0.975, 8, 13), rel=1e-9)
    assert list(inc.events) == [7, 4, 2]
    zero = crsim.incidence(_table([0] * 10), at_least=[1]).iloc[0]
    assert zero.ci_low == 0.0 and zero.ci_high == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-9)


def test_failed_runs_are_left_out_and_counted():
    t = _table([0, 1, np.nan, 3])
    row = crsim.incidence(t, at_least=[1]).iloc[0]
    assert (row.n, row.failed, row.events) == (3, 1, 2)


def test_real_populations_by_strategy_and_the_figure():
    sc = crsim.Scenario.from_file(crsim.example("default"))
    pops = {name: crsim.population(sc.replace(policies=[] if name == "none" else [name]), 30,
                                   {"rho": 0.3, "tumor_burden": 1.0}, seed=4, readouts=["max_grade"])
            for name in ("none", "tocilizumab_grade2")}
    inc = crsim.incidence(pops)
    assert set(inc.population) == {"none", "tocilizumab_grade2"}
    assert (inc.ci_low <= inc.fraction).all() and (inc.fraction <= inc.ci_high).all()
    fig = crsim.plot_incidence(pops)
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * 3                       # bars: 2 populations x 3 levels
    assert [t.get_text() for t in ax.get_xticklabels()] == ["grade ≥ 1", "grade ≥ 2", "grade ≥ 3"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["none (n = 30)",
                                                                   "tocilizumab_grade2 (n = 30)"]
    heights = [p.get_height() for p in ax.patches]
    assert heights[:3] == pytest.approx(list(100 * inc[inc.population == "none"].fraction))
    plt.close(fig)


def test_bad_arguments_name_themselves():
    t = _table([0, 1])
    with pytest.raises(crsim.InputError, match="confidence"):
        crsim.incidence(t, confidence=95)
    with pytest.raises(crsim.InputError, match="readout"):
        crsim.incidence(t, readout="onset")
    with pytest.raises(crsim.InputError, match="tables"):
        crsim.incidence([t])
