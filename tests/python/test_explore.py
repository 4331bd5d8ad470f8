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


def test_classroom_explorer_reference_units_strategies_steady_axes():
    """The figure is the clinical course over the faint untreated reference course (with the
    grade panel); controls show their units; every standard strategy is on the menu; axes keep
    the range they had (they only widen) when a setting changes."""
    e = crsim.explore()
    labels = [s.description for s in e._sliders.values()]
    assert labels == ["tumor_burden (cells)", "CAR-T dose (cells/kg)", "strategy"]
    menu = set(e._sliders["strategy"].options)
    assert menu == {"none"} | {n for n in crsim.strategies("crs")["name"] if n != "none"}
    ylabels = [a.get_ylabel() for a in e.figure.axes]
    assert "ASTCT grade" in ylabels
    temp = e.figure.axes[ylabels.index("temperature (°C)")]
    greys = [line for line in temp.get_lines() if line.get_color() == "0.6"]
    assert len(greys) == 1                                    # the reference course
    before = {i: a.get_ylim() for i, a in enumerate(e.figure.axes)}
    e.set("strategy", "tocilizumab_grade2")
    after = {i: a.get_ylim() for i, a in enumerate(e.figure.axes)}
    for i, (lo, hi) in before.items():
        assert after[i][0] <= lo + 1e-12 and after[i][1] >= hi - 1e-12
    assert e.reference.readouts["max_grade"] == 3 and e.result.readouts["max_grade"] < 3


def test_slider_moves_in_an_event_loop_are_coalesced():
    """Inside a running event loop (Jupyter) a burst of slider moves runs one simulation, after
    the slider has been still for DEBOUNCE_S; outside one, every move runs at once (above)."""
    import asyncio

    from crsim.viz import explore as ex

    e = crsim.explore()
    runs = []
    original = e._update
    e._update = lambda: (runs.append(dict(e.values)), original())[1]
    slider = e._sliders["regimen[0].amount"]

    async def burst():
        for k in range(5):
            slider.value = slider.value * 1.1
            await asyncio.sleep(0.01)
        await asyncio.sleep(ex.DEBOUNCE_S + 0.3)

    # a plain event loop: asyncio.run() would install its own SIGINT handler and, restoring Python's,
    # drop crsim's (which stands in front of Python's: tests/python/test_hardening_engine.py)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(burst())
    finally:
        loop.close()
    assert len(runs) == 1 and runs[0]["regimen[0].amount"] == pytest.approx(slider.value)
