"""crsim.Scenario: construction, files (YAML / JSON) round trips, validation reporting every problem
with its path, text regimens resolved against the model, and running a scenario (the same numbers
as the equivalent crsim.simulate call)."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

import crsim
from crsim.scenario.resolve import output_grid

DATA = Path(__file__).resolve().parents[2] / "data" / "scenarios"


def toci(**kw):
    base = dict(model="pk2_mm", name="toci", patient={"weight_kg": 70},
                regimen=["8 mg/kg iv over 1h max 800mg"], horizon_days=7)
    base.update(kw)
    return crsim.Scenario(**base)


def test_fields_are_normalised():
    sc = toci(solver={"rtol": 1e-6}, outputs={"step_h": 2})
    assert sc.patient == crsim.Patient(weight_kg=70.0)
    assert sc.solver == crsim.Solver(rtol=1e-6)  # others at their defaults
    assert sc.outputs == crsim.Outputs(step_h=2.0)
    assert sc.horizon == 7 * 24.0
    (d,) = sc.doses
    assert (d.target, d.amount, d.unit, d.duration, d.cap) == ("central", 8.0, "mg/kg", 1.0, 800.0)


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_file_round_trip_gives_an_equal_scenario(tmp_path, suffix):
    sc = crsim.Scenario(
        "pk2_mm", name="all_keys", description="every key once", parameters={"CL": 0.02},
        patient=crsim.Patient(weight_kg=82.5, height_cm=181.0),
        regimen=["8 mg/kg iv over 1h q8h x3 max 800mg",
                 crsim.Dose("central", 100, unit="mg", time=48, rate=50),
                 {"target": "peripheral", "amount": 1.5, "unit": "mg/kg", "time_days": 3, "lag": 0.25,
                  "bioavailability": 0.9, "additional": 1, "interval_days": 1, "cap": 100}],
        horizon_h=240.0, outputs={"times_h": [0, 0.5, 1, 1e-3 + 2, 24, 240]},
        solver={"method": "dopri5", "rtol": 1e-7, "atol": 1e-9, "max_steps": 12345, "max_step": 2.5,
                "initial_step": 1e-4},
        sensitivities=["CL", "init:central"], initial={"peripheral": 1.0}, t_start_h=0.0)
    path = tmp_path / f"s{suffix}"
    sc.to_file(path)
    back = crsim.Scenario.from_file(path)
    assert back == sc
    assert back.to_dict() == sc.to_dict()
    assert crsim.Scenario.from_dict(json.loads(sc.to_json())) == sc
    # the file is plain data anyone can read
    text = path.read_text()
    assert "8 mg/kg iv over 1h q8h x3 max 800mg" in text and "dopri5" in text


def test_file_name_is_the_default_name(tmp_path):
    p = tmp_path / "my_run.yaml"
    p.write_text("model: pk1\nregimen: ['100 mg iv']\n")
    assert crsim.Scenario.from_file(p).name == "my_run"


def test_yaml_1_2_numbers(tmp_path):
    """`1e-8` is a float (YAML 1.1 readers such as plain PyYAML would make it a string)."""
    p = tmp_path / "s.yaml"
    p.write_text("model: pk1\nregimen: ['100 mg iv']\nsolver: {rtol: 1e-8, atol: 5E-12}\n")
    sc = crsim.Scenario.from_file(p)
    assert sc.solver.rtol == 1e-8 and sc.solver.atol == 5e-12


def test_every_problem_is_reported_at_once_with_its_path():
    with pytest.raises(crsim.InputError) as err:
        crsim.Scenario.from_dict({
            "model": "pk2_mm", "patient": {"weight_kg": -1}, "colour": "red",
            "regimen": ["8 mg/kg iv", {"target": "central", "amount": -3, "unit": "mg"},
                        {"target": "central", "amount": 3, "unit": "kg"}],
            "solver": {"rtol": 5, "method": "euler"}, "outputs": {"step_h": -1},
            "sensitivities": ["nope"]}, source="test scenario")
    msg = str(err.value)
    paths = [p for p, _ in err.value.problems]
    assert paths == ["colour", "patient.weight_kg", "regimen[1].amount", "regimen[2].unit",
                     "outputs.step_h", "solver.method", "solver.rtol", "sensitivities[0]"]
    assert msg.startswith("test scenario: 8 problems:")
    assert "regimen[1].amount = -3 is not allowed: a finite amount >= 0 in mg" in msg
    assert "solver.rtol = 5 is not allowed: a relative tolerance in [1e-14, 1)" in msg
    assert "regimen[2].unit = 'kg' is not allowed: 'mg', 'mg/kg' or 'mg/m2'" in msg
    assert err.value.field == "colour"
    assert isinstance(err.value, ValueError)


def test_python_construction_reports_paths_too():
    with pytest.raises(crsim.InputError, match=r"patient\.weight_kg = 0 is not allowed"):
        toci(patient={"weight_kg": 0})
    with pytest.raises(crsim.InputError, match=r"regimen\[0\]\.target = 'centre'.*did you mean 'central'"):
        toci(regimen=[crsim.Dose("centre", 1)])


def test_policies_are_checked_with_their_paths():
    # triggered policies in full: tests/python/test_policies.py
    assert toci(policies=[]).policies == []
    with pytest.raises(crsim.InputError) as err:
        toci(policies=[{"when": "C > 1"}])
    assert [p for p, _ in err.value.problems] == ["policies[0].name", "policies[0].when", "policies[0].give"]
    assert "use >= or <=" in str(err.value)
    sc = toci(policies=[{"name": "rescue", "when": "C >= 100", "give": "100 mg iv"}])
    assert sc.policies[0].when == "C >= 100"


def test_text_regimen_targets_follow_the_model():
    crs = crsim.Scenario("crs", patient={"weight_kg": 70}, horizon_days=1, regimen=[
        "1e6 cells/kg iv", "tocilizumab 8 mg/kg iv over 1h max 800mg day 1",
        "dexamethasone 10 mg iv q6h x4", "dexamethasone 10 mg po"])
    assert [d.target for d in crs.doses] == ["car_t_effector", "tocilizumab_central",
                                            "dexamethasone_central", "dexamethasone_depot"]
    with pytest.raises(crsim.InputError, match=r"regimen\[0\].*name the drug or the route"):
        crsim.Scenario("crs", patient={"weight_kg": 70}, regimen=["8 mg/kg iv over 1h"])
    assert [d.target for d in crsim.Scenario("pk1_oral", regimen=["100 mg po"]).doses] == ["depot"]


def test_doses_must_fall_inside_the_run():
    with pytest.raises(crsim.InputError, match=r"regimen\[0\] = 240 is not allowed: a first "
                                               r"administration time within the run \[0, 168\] h"):
        toci(regimen=["100 mg iv day 10"])


def test_simulate_a_scenario_matches_the_equivalent_call():
    sc = toci(outputs={"step_h": 0.5}, sensitivities=["CL"])
    res = crsim.simulate(sc)
    assert res.scenario is sc
    ref = crsim.simulate("pk2_mm", times=res.times,
                         doses=[crsim.Dose("central", 8, unit="mg/kg", duration=1, cap=800)],
                         weight=70, sensitivities=["CL"])
    np.testing.assert_array_equal(res.states, ref.states)
    np.testing.assert_array_equal(res.sensitivities().values, ref.sensitivities().values)
    assert res.doses["amount"].iloc[0] == pytest.approx(560.0)
    with pytest.raises(crsim.InputError, match="days = 3 is not allowed: not given with a Scenario"):
        crsim.simulate(sc, days=3)


def test_output_grids():
    sc = toci(outputs={"step_h": 6}, regimen=["100 mg iv over 1.5h"])
    m = crsim.Model("pk2_mm")
    from crsim.scenario.resolve import to_core_doses

    grid = output_grid(sc, m, to_core_doses(sc.doses, m, 70.0), 70.0)
    expected = np.unique(np.concatenate([np.arange(0, 169, 6.0), [1.5, 168.0]]))
    np.testing.assert_array_equal(grid, expected)
    explicit = toci(outputs={"times_h": [0, 1, 24]})
    np.testing.assert_array_equal(crsim.simulate(explicit).times, [0, 1, 24])
    # no outputs: crsim.simulate's default grid over the horizon
    t = crsim.simulate(toci()).times
    assert t[0] == 0 and t[-1] == 168.0


def test_plain_simulate_results_carry_an_equivalent_scenario():
    res = crsim.simulate("pk2", doses=[crsim.Dose("central", 100, rate=50)], times=[0, 1, 2, 5],
                         parameters={"CL": 0.3}, method="dopri5", rtol=1e-9)
    sc = res.scenario
    assert (sc.model, sc.parameters, sc.outputs.times_h, sc.solver.method, sc.solver.rtol) == \
        ("pk2", {"CL": 0.3}, [0, 1, 2, 5], "dopri5", 1e-9)
    np.testing.assert_array_equal(crsim.simulate(sc).states, res.states)


def test_replace_checks_the_change():
    import dataclasses

    sc = toci()
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.horizon_days = -1  # scenarios are immutable: always the checked one
    assert sc.replace(horizon_days=2).horizon == 48
    with pytest.raises(crsim.InputError, match="horizon_days"):
        sc.replace(horizon_h=10)  # both given


@pytest.mark.parametrize("path", sorted(DATA.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenarios_validate_and_run(path):
    sc = crsim.Scenario.from_file(path)
    res = crsim.simulate(sc)
    assert np.all(np.isfinite(res.states))
    assert len(res.doses) >= 1


def test_bad_files(tmp_path):
    for name, text, words in [
        ("a.txt", "model: pk1", "a .yaml, .yml or .json file"),
        ("missing.yaml", None, "no such file"),
        ("bad.json", '{"model": "pk1",}', "invalid JSON at line 1"),
        ("dup.json", '{"model": "pk1", "model": "pk2"}', "duplicate key 'model'"),
    ]:
        p = tmp_path / name
        if text is not None:
            p.write_text(text)
        with pytest.raises(crsim.InputError, match=words):
            crsim.Scenario.from_file(p)


def test_the_documented_example_runs(tmp_path):
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "scenarios.md").read_text()
    example = re.search(r"## Example\n\n```yaml\n(.*?)```", doc, re.S).group(1)
    (tmp_path / "example.yaml").write_text(example)
    sc = crsim.Scenario.from_file(tmp_path / "example.yaml")
    res = crsim.simulate(sc)
    assert res.doses["amount"].tolist() == [560.0, 280.0]  # 8 mg/kg x 70 kg; 4 mg/kg x 70 kg
    assert res.sensitivities().parameters == ["CL", "Vmax"]


def test_per_kg_doses_use_the_models_body_weight_parameter():
    """Models with a body_weight parameter (the CRS model) take the weight from it when the
    patient's is not given, as crsim.simulate does; pk models need patient.weight_kg."""
    m = crsim.Model("crs")
    sc = crsim.Scenario("crs", regimen=["3e6 cells/kg iv"], horizon_days=1)
    res = crsim.simulate(sc)
    assert res.doses["amount"].iloc[0] == pytest.approx(3e6 * m.parameter_values["body_weight"])
    sc = crsim.Scenario("crs", regimen=["3e6 cells/kg iv"], horizon_days=1, parameters={"body_weight": 50})
    assert crsim.simulate(sc).doses["amount"].iloc[0] == pytest.approx(1.5e8)
    with pytest.raises(crsim.InputError, match="patient.weight_kg is missing"):
        crsim.Scenario("pk2_mm", regimen=["8 mg/kg iv"])


# --- patient covariates (issue 17, item 6) ---------------------------------------------------------

def test_free_covariates_are_refused_naming_the_field_the_value_and_where_values_belong():
    """No model reads free covariates: `disease: nonsense` gave results identical to no covariate.
    Each one is refused, naming the field and value, the patient fields that exist and the
    model's own patient parameters (set under `parameters`)."""
    with pytest.raises(crsim.InputError) as err:
        crsim.Scenario("crs", patient={"weight_kg": 35, "covariates": {"disease": "nonsense"}},
                       regimen=["tisagenlecleucel 3e6 cells/kg iv"], horizon_days=1)
    msg = str(err.value)
    assert "patient.covariates.disease = 'nonsense' is not allowed" in msg
    assert "no model reads free covariates" in msg
    assert "weight_kg (kg) and height_cm (cm)" in msg
    assert "b_cells0, tumor_burden: set them under parameters" in msg
    # a covariate that is a parameter of the model says where it goes; the weight likewise
    with pytest.raises(crsim.InputError) as err:
        crsim.Scenario("crs", patient={"weight_kg": 35, "covariates": {"tumor_burden": 1e10,
                                                                       "body_weight": 35}},
                       regimen=["tisagenlecleucel 3e6 cells/kg iv"], horizon_days=1)
    msg = str(err.value)
    assert "patient.covariates.tumor_burden = 10000000000 is not allowed: the value set as " \
           "parameters.tumor_burden (a parameter of model crs" in msg
    assert "patient.covariates.body_weight = 35 is not allowed: the body weight given as " \
           "patient.weight_kg" in msg
    # a model without patient parameters says so; not a mapping is refused too
    with pytest.raises(crsim.InputError, match=r"patient.covariates.age_group = 'adult' is not allowed: "
                       r"no model reads .*; model pk2_mm has no other patient parameters"):
        crsim.Scenario("pk2_mm", patient={"weight_kg": 70, "covariates": {"age_group": "adult"}},
                       regimen=["100 mg iv"])
    with pytest.raises(crsim.InputError, match="patient.covariates = 'adult' is not allowed"):
        crsim.Scenario("pk2_mm", patient={"covariates": "adult"}, regimen=["100 mg iv"])
    # the Python object has no such field, so it cannot carry one either
    with pytest.raises(TypeError):
        crsim.Patient(weight_kg=70, covariates={"age_group": "adult"})


def test_empty_covariates_say_nothing_and_pass():
    sc = crsim.Scenario("pk2_mm", patient={"weight_kg": 70, "covariates": {}}, regimen=["100 mg iv"])
    assert sc.patient == crsim.Patient(weight_kg=70)
    assert "covariates" not in sc.to_dict()["patient"]


def test_a_model_parameter_of_the_patient_changes_the_run_where_a_covariate_did_not():
    """What a covariate was taken to mean (tumor burden) is a parameter: it changes the course."""
    base = dict(regimen=["tisagenlecleucel 3e6 cells/kg iv", "tocilizumab 8 mg/kg iv on day 3",
                         "tocilizumab 8 mg/kg iv at day 5"],
                patient={"weight_kg": 35}, horizon_days=6, outputs={"step_h": 6})
    low = crsim.simulate(crsim.Scenario("crs", parameters={"tumor_burden": 1e9}, **base))
    high = crsim.simulate(crsim.Scenario("crs", **base))
    assert not np.array_equal(low["tumor_cells"], high["tumor_cells"])
    # the natural phrasings of a start day are doses on days 3 and 5 (72 h, 120 h)
    toci = [d for d in high.doses.itertuples() if "tocilizumab" in str(d.state)]
    assert [round(d.time_h) for d in toci] == [72, 120]
