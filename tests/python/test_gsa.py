"""Global sensitivity analysis (crsim.gsa, SALib on crsim's batch engine): the Ishigami function's
analytic Sobol' indices come out within the confidence intervals, through a user model compiled by
crsim and run as a population is; Morris and FAST rank its parameters as the analytic indices do;
the CRS model's analysis runs, plots, and says which outputs it could not analyse; bad input names
the field."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import crsim  # noqa: E402

pytest.importorskip("SALib")

ISHIGAMI = """
model ishigami()
  // Ishigami & Homma 1990 test function (a = 7, b = 0.1) as an observable of a constant state
  y = 0; y' = 0
  x1 = 0; x2 = 0; x3 = 0
  //@ x1 bounds=[-4, 4]
  //@ x2 bounds=[-4, 4]
  //@ x3 bounds=[-4, 4]
  f := sin(x1) + 7*sin(x2)^2 + 0.1*x3^4*sin(x1)
end
"""
# analytic indices for a = 7, b = 0.1 on [-pi, pi]^3 (Sobol' 1993; Saltelli et al. 2008, ch. 4)
_V1 = 0.5 * (1 + 0.1 * math.pi ** 4 / 5) ** 2
_V2 = 7 ** 2 / 8
_V13 = 0.1 ** 2 * math.pi ** 8 * (1 / 18 - 1 / 50)
_V = _V1 + _V2 + _V13
S1 = {"x1": _V1 / _V, "x2": _V2 / _V, "x3": 0.0}
ST = {"x1": (_V1 + _V13) / _V, "x2": _V2 / _V, "x3": _V13 / _V}
RANGES = {f"x{i}": (-math.pi, math.pi) for i in (1, 2, 3)}


@pytest.fixture(scope="module")
def ishigami():
    model = crsim.Model.from_antimony(ISHIGAMI)
    return crsim.Scenario(model.name, name="ishigami", horizon_h=1, outputs={"step_h": 1})


def test_ishigami_sobol_indices_match_the_analytic_ones(ishigami):
    res = crsim.gsa(ishigami, RANGES, outputs=["f.last"], method="sobol", n=1024, seed=3)
    assert len(res.design) == 1024 * (3 + 2)
    idx = res.table.set_index(["parameter", "index"])
    for name in RANGES:
        for index, want in (("S1", S1[name]), ("ST", ST[name])):
            got, conf = idx.loc[(name, index), "value"], idx.loc[(name, index), "conf"]
            assert abs(got - want) <= max(2 * conf, 0.03), (name, index, got, want, conf)
    # the same seed gives the same design and the same indices
    again = crsim.gsa(ishigami, RANGES, outputs=["f.last"], method="sobol", n=1024, seed=3)
    assert np.array_equal(again.table["value"], res.table["value"])


def test_ishigami_morris_and_fast_rank_the_parameters(ishigami):
    morris = crsim.gsa(ishigami, RANGES, outputs=["f.last"], method="morris", n=64, seed=1)
    mu = morris.indices("f.last")["mu_star"]
    assert mu["x1"] > mu["x3"] > 0 and mu["x2"] > mu["x3"]   # x3 acts only with x1
    fast = crsim.gsa(ishigami, RANGES, outputs=["f.last"], method="fast", n=1000, seed=1)
    s1 = fast.indices("f.last")["S1"]
    for name in RANGES:
        assert abs(s1[name] - S1[name]) < 0.05, (name, s1[name])
    fig = morris.plot()
    assert fig.axes[0].get_xlabel().startswith("μ*")
    plt.close(fig)


def test_crs_model_analysis_runs_and_plots():
    sc = crsim.Scenario.from_file(crsim.example("default")).replace(horizon_days=14)
    res = crsim.gsa(sc, {"rho": (0.015, 0.06), "tumor_burden": (1e9, 1e11, "log"),
                         "p_il6_myeloid": (1000.0, 4000.0)},
                    outputs=["hours_grade_ge2", "il6_peak"], method="sobol", n=8, seed=2)
    assert len(res.design) == 8 * 5 and "error" not in res.design
    burden = res.design["tumor_burden"]
    assert burden.min() >= 1e9 and burden.max() <= 1e11          # log-uniform, in model units
    assert set(res.table["output"]) == {"hours_grade_ge2", "il6_peak"}
    fig = res.plot()
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "hours_grade_ge2"
    plt.close(fig)


def test_bad_input_names_the_field(ishigami):
    with pytest.raises(crsim.InputError, match=r"ranges\['nope'\]"):
        crsim.gsa(ishigami, {"nope": (0, 1)}, outputs=["f.last"])
    with pytest.raises(crsim.InputError, match=r"ranges\['x1'\].*bounds"):
        crsim.gsa(ishigami, {"x1": (-10, 10)}, outputs=["f.last"])
    with pytest.raises(crsim.InputError, match=r"ranges\['x1'\].*low > 0"):
        crsim.gsa(ishigami, {"x1": (-1, 1, "log")}, outputs=["f.last"])
    with pytest.raises(crsim.InputError, match="method"):
        crsim.gsa(ishigami, RANGES, outputs=["f.last"], method="pawn")
    with pytest.raises(crsim.InputError, match="power of 2"):
        crsim.gsa(ishigami, RANGES, outputs=["f.last"], n=100)
    with pytest.raises(crsim.InputError, match="readout"):
        crsim.gsa(ishigami, RANGES, outputs=["f.nothing"], n=8)


def test_an_output_with_failed_runs_is_not_analysed_and_says_so():
    sc = crsim.Scenario.from_file(crsim.example("default")).replace(solver={"max_steps": 20})
    res = crsim.gsa(sc, {"rho": (0.015, 0.06)}, outputs=["il6_peak"], n=4)
    assert res.table.empty
    assert len(res.notes) == 1 and res.notes[0].startswith("il6_peak: not analysed, 12 of 12 runs")
    assert res.design["error"].str.contains("max_steps").all()
