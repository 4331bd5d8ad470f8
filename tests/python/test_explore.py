"""The notebook explorer: controls re-simulate the scenario, the summary follows in clinical words,
bad controls are rejected with the key named, and a run that fails is reported, not raised."""
import pytest

import crsim
from crsim.run.demo import default_scenario

pytest.importorskip("ipywidgets")


def test_default_explorer_runs_the_default_scenario():
    e = crsim.explore()
    assert set(e.values) == {"parameters.tumor_burden", "regimen[0].amount", "strategy"}
    assert e.values["strategy"] == "none"
    ref = crsim.simulate(default_scenario()).readouts
    for k in ("max_grade", "onset_h", "il6_peak", "crp_peak", "cart_cmax"):
        assert e.result.readouts[k] == pytest.approx(ref[k], rel=1e-12)
    assert "maximal ASTCT grade 3" in e.summary_html()
    assert e.figure is not None and len(e.figure.axes) == 9


def test_controls_change_the_course():
    e = crsim.explore()
    untreated = dict(e.result.readouts)
    e.set("strategy", "tocilizumab_grade2")
    treated = e.result.readouts
    assert len(e.result.firings) >= 1
    assert treated["hours_grade_ge3"] < untreated["hours_grade_ge3"]
    assert "maximal ASTCT grade 2" in e.summary_html()
    # moving the slider itself (as a user would) re-simulates through the widget's observer
    slider = e._sliders["parameters.tumor_burden"]
    slider.value = slider.value / 10 ** 1.5
    assert e.values["parameters.tumor_burden"] == pytest.approx(slider.value)
    assert e.result.readouts["cart_cmax"] < treated["cart_cmax"]   # less antigen, less expansion
    e.set("regimen[0].amount", e.values["regimen[0].amount"] * 3)
    assert e.current_scenario().doses[0].amount == pytest.approx(e.values["regimen[0].amount"])


def test_bad_controls_name_the_key():
    with pytest.raises(crsim.InputError, match=r"controls\['parameters.nope'\]"):
        crsim.explore(controls={"parameters.nope": (1, 2)})
    with pytest.raises(crsim.InputError, match=r"controls\['parameters.rho'\].*low < high"):
        crsim.explore(controls={"parameters.rho": (0.1, 0.01)})
    with pytest.raises(crsim.InputError, match=r"controls\['parameters.rho'\].*'log'"):
        crsim.explore(controls={"parameters.rho": (0.0, 0.1, "log")})
    e = crsim.explore(controls={"parameters.rho": (0.01, 0.1)})
    with pytest.raises(crsim.InputError, match=r"key = 'strategy'.*parameters.rho"):
        e.set("strategy", "none")
    with pytest.raises(crsim.InputError, match=r"parameters.rho = 0.5 .*\[0.01, 0.1\]"):
        e.set("parameters.rho", 0.5)
    d = crsim.explore()
    with pytest.raises(crsim.InputError, match=r"strategy = 'nope'.*tocilizumab_grade2"):
        d.set("strategy", "nope")


def test_a_failing_run_is_reported_not_raised():
    sc = default_scenario().replace(solver=crsim.Solver(max_steps=20))
    e = crsim.explore(sc, controls={"parameters.rho": (0.01, 0.1)})
    assert e.result is None
    assert "the run failed" in e.summary_html() and "max_steps" in e.summary_html()
    e.set("parameters.rho", 0.05)   # still failing, still no exception
    assert e.result is None
