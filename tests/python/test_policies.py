"""Triggered policies from Python (crsim.Policy, strategies, scenario files, results files).

Reference for the crossing time: pk1 (CL, V) under a constant infusion R mg/h from t = 0 has
C(t) = R/CL (1 - exp(-k t)), k = CL/V, so C reaches c at t* = -ln(1 - c CL/R)/k exactly. A bolus of
b mg at t_d adds b/V exp(-k (t - t_d)) (superposition). The engine locates t* on the solver's dense
output by bisection to the policy's tolerance (1e-6 h), whatever the output grid.
"""
import math

import numpy as np
import pytest

import crsim

CL, V = 14.7, 64.0
K = CL / V
R = 100.0  # mg/h for 1000 h


def conc(t):
    return R / CL * (1.0 - np.exp(-K * np.asarray(t)))


def crossing(c):
    return -math.log(1.0 - c * CL / R) / K


def infusion():
    return [crsim.Dose("central", R * 1000, rate=R)]


def run_pk(times, policies, **kw):
    return crsim.simulate("pk1", times=times, doses=infusion(), policies=policies, rtol=1e-10, atol=1e-12, **kw)


def test_firing_at_analytic_crossing_whatever_the_output_grid():
    t_star = crossing(3.0)
    pol = crsim.Policy("rescue", when="C >= 3 mg/L", give=crsim.Dose("central", 1.0))
    coarse = run_pk([0.0, 50.0, 100.0], [pol])
    fine = run_pk(np.linspace(0.0, 100.0, 10001), [pol])
    fc, ff = coarse.firings, fine.firings
    print(f"\nexact crossing {t_star:.9f} h; coarse grid {fc.detected_h[0]:.9f} h, fine grid "
          f"{ff.detected_h[0]:.9f} h; |coarse - fine| = {abs(fc.detected_h[0] - ff.detected_h[0]):.2e} h")
    assert len(fc) == len(ff) == 1
    assert abs(fc.condition_met_h[0] - t_star) <= 1e-6
    assert abs(fc.detected_h[0] - t_star) <= 1e-6
    assert abs(fc.detected_h[0] - ff.detected_h[0]) <= 1e-6
    assert fc.value[0] == pytest.approx(3.0, rel=1e-5)
    assert fc.policy[0] == "rescue" and "C >= 3" in fc.reason[0]
    # The same trajectory afterwards: on both grids and against superposition.
    td = fc.administered_h[0]
    for t in (50.0, 100.0):
        c_coarse = coarse["C"][list(coarse.times).index(t)]
        c_fine = fine["C"][int(np.argmin(abs(fine.times - t)))]
        exact = conc(t) + math.exp(-K * (t - td)) / V
        assert c_coarse == pytest.approx(c_fine, rel=1e-9)
        assert c_coarse == pytest.approx(exact, rel=1e-7)
    # The dose is in the administrations table at the located time.
    doses = coarse.doses
    assert len(doses) == 2 and doses.time_h[1] == td


def test_sustained_delay_and_window_shift_the_firing():
    t_star = crossing(3.0)
    pol = crsim.Policy("p", when="C >= 3 for 2 h", give=crsim.Dose("central", 1.0), delay_h=0.5)
    f = run_pk([0.0, 40.0], [pol]).firings
    assert f.condition_met_h[0] == pytest.approx(t_star, abs=1e-6)
    assert f.detected_h[0] == pytest.approx(t_star + 2.0, abs=1e-6)
    assert f.administered_h[0] == pytest.approx(t_star + 2.5, abs=1e-6)
    late = crsim.Policy("p", when="C >= 3", give=crsim.Dose("central", 1.0), window_h=(20.0, None))
    assert run_pk([0.0, 40.0], [late]).firings.detected_h[0] == pytest.approx(20.0, abs=1e-9)
    never = crsim.Policy("p", when="C >= 3", give=crsim.Dose("central", 1.0), window_h=(0.0, 1.0))
    assert len(run_pk([0.0, 40.0], [never]).firings) == 0
    below = crsim.Policy("p", when="C <= 2", give=crsim.Dose("central", 1.0))  # true from t = 0
    assert run_pk([0.0, 40.0], [below]).firings.detected_h[0] == 0.0


@pytest.mark.parametrize("max_doses,min_interval,per24", [(5, 8.0, 2), (4, 8.0, 3), (None, 12.0, None)])
def test_limits_hold_while_the_condition_stays_true_for_days(max_doses, min_interval, per24):
    # C >= 3 from t* = 2.53 h for the rest of the 10-day run (the infusion lasts 1000 h).
    pol = crsim.Policy("repeat", when="C >= 3", give=crsim.Dose("central", 0.1), max_doses=max_doses,
                       min_interval_h=min_interval, max_per_24h=per24)
    res = run_pk(np.arange(0.0, 240.0 + 1e-9, 6.0), [pol])
    t = np.asarray(res.firings.administered_h)
    gaps = np.diff(t)
    in_24h = max(int(np.sum((t >= s) & (t < s + 24.0))) for s in t)
    print(f"\nmax_doses={max_doses}, min interval {min_interval} h, max per 24 h {per24}: {len(t)} firings, "
          f"smallest gap {gaps.min():.6f} h, most in any 24 h window {in_24h}")
    assert np.all(gaps >= min_interval - 1e-9)
    if per24 is not None:
        assert in_24h <= per24
    if max_doses is not None:
        assert len(t) == max_doses
    else:  # as often as the interval allows: every 12 h from t* to the end
        t_star = crossing(3.0)
        assert len(t) == int((240.0 - t_star) // min_interval) + 1
    # every firing shows up as an administration
    assert len(res.doses) == 1 + len(t)


def test_give_text_resolves_targets_per_model_and_scales_per_kg():
    sc = crsim.Scenario.from_file(crsim.model.parameter_sets.data_dir() / "scenarios" / "default.yaml")
    pol = crsim.Policy("both", when="grade >= 2", give=["tocilizumab 8 mg/kg iv over 1h max 800mg",
                                                         "dexamethasone 10 mg po", "dexamethasone 10 mg iv"])
    res = crsim.simulate(sc.replace(policies=[pol], horizon_days=7))
    d = res.doses
    given = d[d.time_h == res.firings.administered_h[0]]
    assert sorted(given.state) == ["dexamethasone_central", "dexamethasone_depot", "tocilizumab_central"]
    w = res.parameters["body_weight"]
    assert given[given.state == "tocilizumab_central"].amount.iloc[0] == pytest.approx(min(8 * w, 800))


def test_policy_fields_and_errors():
    p = crsim.Policy("t", when="grade >= 2 for 2 h", give="tocilizumab 8 mg/kg iv over 1h max 800mg")
    assert p.sustained_h == 2.0 and p.condition.variable == "grade" and p.condition.threshold == 2.0
    assert p.give == ("tocilizumab 8 mg/kg iv over 1h max 800mg",)
    assert p.replace(trigger_grade=1).when == "grade >= 1" and p.replace(trigger_grade=1).sustained_h == 2.0
    assert p.replace(delay_h=6).delay_h == 6.0
    cases = [
        (dict(when="temperature > 38"), "when", "use >= or <="),
        (dict(when="temperature >= "), "when", "no threshold"),
        (dict(when=">= 38"), "when", "no variable"),
        (dict(when="grade >= 2 for"), "when", "'for' without a duration"),
        (dict(when="grade >= 2", give=None), "give", "a regimen"),
        (dict(when="grade >= 2", give="tocilizumab 8 bananas"), "give", "unexpected token"),
        (dict(when="grade >= 2", give="8 mg/kg iv", delay_h=-1), "delay_h", ">= 0 h"),
        (dict(when="grade >= 2", give="8 mg/kg iv", max_doses=1.5), "max_doses", "integer"),
        (dict(when="grade >= 2", give="8 mg/kg iv", max_per_24h=0), "max_per_24h", ">= 1"),
        (dict(when="grade >= 2", give="8 mg/kg iv", window_h=(10, 5)), "window_h[1]", ">= the start"),
        (dict(when="grade >= 2 for 2 h", give="8 mg/kg iv", sustained_h=3), "sustained_h", "already says"),
        (dict(when="grade >= 2", give=crsim.Dose("tocilizumab_central", 8, time=-1)), "give.time", "offset"),
    ]
    for kw, field, text in cases:
        with pytest.raises(crsim.InputError) as ei:
            crsim.Policy("x", **kw)
        assert ei.value.problems[0][0] == field, (kw, ei.value.problems)
        assert text in str(ei.value), (kw, str(ei.value))
    # the pointer sits under the bad part
    with pytest.raises(crsim.InputError) as ei:
        crsim.Policy("x", when="il6 => 500 pg/mL extra", give="8 mg/kg iv")
    lines = str(ei.value).splitlines()
    text_line = next(i for i, s in enumerate(lines) if s.strip() == "il6 => 500 pg/mL extra")
    assert lines[text_line + 1].index("^") == lines[text_line].index("extra")


def test_model_level_errors_name_the_policy():
    sc = crsim.Scenario.from_file(crsim.model.parameter_sets.data_dir() / "scenarios" / "default.yaml")
    bad = [
        (crsim.Policy("a", when="temperatur >= 38", give="tocilizumab 8 mg/kg iv"), "policies[0].when",
         "did you mean 'temperature'"),
        (crsim.Policy("a", when="il6 >= 500 mg/L", give="tocilizumab 8 mg/kg iv"), "policies[0].when",
         "not the unit of il6"),
        (crsim.Policy("a", when="il6 >= 500", give="aspirin 8 mg iv"), "policies[0].give[0]",
         "receiving state"),
    ]
    for pol, field, text in bad:
        with pytest.raises(crsim.InputError) as ei:
            sc.replace(policies=[pol])
        assert ei.value.problems[0][0] == field and text in str(ei.value), str(ei.value)
        with pytest.raises(crsim.InputError, match=text):  # the same through simulate
            crsim.simulate("crs", times=[0.0, 1.0], policies=[pol])
    with pytest.raises(crsim.InputError, match=r"policies\[0\] = 'tocilizumab_grde2'.*did you mean"):
        crsim.simulate("crs", times=[0.0, 1.0], policies=["tocilizumab_grde2"])


def test_scenario_file_policies_round_trip_and_path_errors(tmp_path):
    data = {
        "model": "crs", "regimen": ["3e6 cells/kg iv"], "horizon_days": 10, "outputs": {"step_h": 2},
        "policies": [
            "dexamethasone_prophylaxis",
            {"name": "toci", "when": "grade >= 2", "give": "tocilizumab 8 mg/kg iv over 1h max 800mg",
             "max_doses": 4, "min_interval_h": 8, "max_per_24h": 3},
            {"name": "dex", "when": "il6 >= 20 pg/mL for 2 h", "delay_h": 1,
             "give": [{"target": "dexamethasone_central", "amount": 10, "unit": "mg", "additional": 3,
                       "interval": 6}], "window_h": [24, None]},
        ],
    }
    sc = crsim.Scenario.from_dict(data, default_name="pol")
    assert isinstance(sc.policies[1], crsim.Policy) and sc.policies[0] == "dexamethasone_prophylaxis"
    for suffix in (".yaml", ".json"):
        path = tmp_path / f"pol{suffix}"
        sc.to_file(path)
        assert crsim.Scenario.from_file(path) == sc
    res = crsim.simulate(sc)
    assert (res.doses.state == "dexamethasone_depot").sum() == 3  # the strategy's scheduled doses
    h5 = tmp_path / "pol.h5"
    res.save(h5)
    back = crsim.load(h5)
    assert back.scenario == sc
    assert len(res.firings) >= 1
    assert back.firings.equals(res.firings)
    assert back.readouts["policy_firings"] == len(res.firings)

    bad = dict(data, policies=[
        {"name": "x", "when": "grade >> 2", "give": "tocilizumab 8 mg/kg iv"},
        {"name": "y", "when": "grade >= 2", "give": "tocilizumab 8 mg/kg iv", "max_dose": 4},
        {"when": "grade >= 2", "give": [{"target": "tocilizumab_central", "amount": -8, "unit": "mg"}]},
        "astct",
        42,
    ])
    with pytest.raises(crsim.InputError) as ei:
        crsim.Scenario.from_dict(bad)
    paths = [p for p, _ in ei.value.problems]
    print("\n" + str(ei.value))
    assert paths == ["policies[0].when", "policies[1].max_dose", "policies[2].name",
                     "policies[2].give[0].amount", "policies[3]", "policies[4]"]
    assert "did you mean 'max_doses'" in str(ei.value)
    # a YAML file names the line
    f = tmp_path / "bad.yaml"
    f.write_text("model: crs\nregimen: ['3e6 cells/kg iv']\npolicies:\n  - name: x\n    when: grade >= 2\n"
                 "    give: tocilizumab 8 mg/kg iv\n    delay_h: soon\n")
    with pytest.raises(crsim.InputError, match=r"policies\[0\]\.delay_h \(line 7\) = 'soon'"):
        crsim.Scenario.from_file(f)


def test_standard_strategies_are_cited_and_run():
    table = crsim.strategies()
    assert {"none", "tocilizumab_grade2", "tocilizumab_grade1", "dexamethasone_prophylaxis",
            "astct_escalation"} <= set(table.name)
    assert table.source.str.len().min() > 20
    label = crsim.strategy("tocilizumab_grade2").policies[0]
    assert (label.max_doses, label.min_interval_h, label.max_per_24h) == (4, 8.0, 3)
    assert label.give == ("tocilizumab 8 mg/kg iv over 1h max 800mg",)
    assert crsim.strategy("dexamethasone_prophylaxis").regimen == ("dexamethasone 10 mg po F 0.78 q24h x3",)
    with pytest.raises(crsim.InputError, match="did you mean"):
        crsim.strategy("tocilizumab_grade")
    for name in crsim.strategies("crs").name:  # every model's strategies are listed; run the CRS ones
        res = crsim.simulate("crs", doses=[crsim.Dose("car_t_effector", 3e6, unit="cells/kg")],
                             times=np.arange(0.0, 14 * 24 + 1, 2.0), policies=[name])
        assert np.all(np.isfinite(res.states))
        assert res.scenario.policies == [name]


def test_custom_strategy_and_dict_policies_in_simulate():
    mine = crsim.Strategy("mine", "prophylaxis then rescue", "test",
                          policies=[crsim.Policy("t", when="grade >= 2", give="tocilizumab 8 mg/kg iv")],
                          regimen=["dexamethasone 4 mg iv"])
    res = crsim.simulate("crs", doses=[crsim.Dose("car_t_effector", 3e6, unit="cells/kg")],
                         times=np.arange(0.0, 10 * 24 + 1, 2.0), policies=[mine])
    assert "dexamethasone_central" in set(res.doses.state)
    sc = res.scenario  # the custom strategy is expanded into the equivalent scenario
    assert [p.name for p in sc.policies] == ["t"] and any(d.target == "dexamethasone_central" for d in sc.doses)
    again = crsim.simulate(sc)
    assert np.array_equal(again.states, res.states)
    with pytest.raises(crsim.InputError, match=r"policies\[0\]\.when"):
        crsim.simulate("crs", times=[0.0, 1.0], policies=[{"name": "x", "when": "grade ! 2", "give": "8 mg iv"}])


# --- trend conditions: "VARIABLE rises|falls Fx in W h" -------------------------------------------

def _pk1_trend(when, doses, t_end=300.0):
    pol = crsim.Policy("trend", when=when, give=[crsim.Dose("central", 1e-6)])
    return crsim.simulate("pk1", doses=doses, parameters=dict(CL=1.0, V=100.0), times=[0.0, t_end],
                          policies=[pol])


def test_trend_condition_parses_and_prints():
    from crsim.spec.policy import parse_condition

    c = parse_condition("ferritin rises 2x in 48 h")
    assert (c.variable, c.comparison, c.threshold, c.window_h, c.sustained_h) == ("ferritin", ">=", 2.0, 48.0, 0.0)
    c = parse_condition("C falls 4-fold within 1 d for 30 min")
    assert (c.comparison, c.threshold, c.window_h, c.sustained_h) == ("<=", 0.25, 24.0, 0.5)
    assert c.text() == "C falls 4x in 24 h"
    p = crsim.Policy("x", when="ferritin rises 2x in 48 h", give="tocilizumab 8 mg/kg iv")
    assert p.replace(threshold=3).when == "ferritin rises 3x in 48 h"
    for bad, where in (("ferritin rises 2x", "no time window"), ("ferritin rises 0.5x in 48 h", "fold change > 1"),
                       ("ferritin rises twice in 48 h", "no fold change"), ("ferritin rises 2x in 0 h", "window > 0"),
                       ("ferritin rises 2x in 48 h later", "unexpected text")):
        with pytest.raises(crsim.InputError, match=where):
            parse_condition(bad)


def test_trend_before_the_window_compares_with_the_start():
    # C = C0 exp(-k t), k = CL/V = 0.01 /h: "falls 2x in 200 h" looks back before the start for
    # t < 200 h, i.e. compares with C0, and first holds at the half-life ln 2 / k = 69.31 h.
    r = _pk1_trend("C falls 2x in 200 h", [crsim.Dose("central", 100)])
    assert len(r.firings) == 1
    assert r.firings.condition_met_h[0] == pytest.approx(math.log(2) / 0.01, abs=1e-5)
    # after the window the fold change over 200 h is exp(-2) < 1/2 everywhere: a 20 h window never
    # sees a halving (exp(-0.2) = 0.82)
    assert len(_pk1_trend("C falls 2x in 20 h", [crsim.Dose("central", 100)]).firings) == 0


def test_trend_across_a_dose_looks_back_correctly():
    # Boluses at 0 and 48 h: C(t) / C(t - 6 h) jumps to (1 + e^-0.48) / e^-0.42 = 2.46 at 48 h and
    # stays there until the look-back passes the dose at 54 h, then falls to e^-0.06 = 0.94.
    doses = [crsim.Dose("central", 100), crsim.Dose("central", 100, time=48)]
    r = _pk1_trend("C rises 1.05x in 6 h", doses)
    assert r.firings.condition_met_h[0] == pytest.approx(48.0, abs=1e-9)
    assert "now 2.46" in r.firings.reason[0]
    assert _pk1_trend("C rises 1.05x in 6 h for 5.9 h", doses).firings.detected_h[0] == pytest.approx(53.9)
    assert len(_pk1_trend("C rises 1.05x in 6 h for 6.1 h", doses).firings) == 0


def test_trend_on_the_crs_model_fires_when_ferritin_doubles():
    sc = crsim.Scenario.from_file(crsim.model.parameter_sets.data_dir() / "scenarios" / "default.yaml")
    pol = crsim.Policy("IEC-HS watch", when="ferritin rises 2x in 48 h",
                       give="dexamethasone 10 mg iv", max_doses=1)
    r = crsim.simulate(sc.replace(policies=[pol]))
    assert len(r.firings) == 1
    t = r.firings.condition_met_h[0]
    fine = crsim.simulate(sc.replace(outputs=crsim.Outputs(times_h=[0.0, t - 48.0, t] if t > 48 else [0.0, t])))
    f = fine["ferritin"]
    ratio = f[-1] / (f[1] if t > 48 else f[0])
    assert ratio == pytest.approx(2.0, rel=2e-3)   # look-back interpolated between accepted steps
