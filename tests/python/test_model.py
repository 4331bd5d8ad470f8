"""Model metadata in Python: names, DataFrames with units, bounds and sources."""
import math

import crsim


def test_models_lists_the_builtin_models():
    names = crsim.models()
    assert {"pk1", "pk1_oral", "pk2", "pk2_oral", "pk2_mm", "robertson"} <= set(names)


def test_model_tables():
    m = crsim.Model("pk2_mm")
    assert m.name == "pk2_mm" and "Michaelis-Menten" in m.description
    assert list(m.states.columns) == ["name", "unit", "dose_unit", "description"]
    assert list(m.states["name"]) == ["central", "peripheral", "eliminated_linear", "eliminated_mm"]
    assert list(m.states["dose_unit"]) == ["mg", "mg", "", ""]
    p = m.parameters
    assert list(p.columns) == ["name", "value", "unit", "lower", "upper", "description", "source"]
    km = p.set_index("name").loc["Km"]
    assert (km["value"], km["unit"]) == (2.7, "mg/L") and "Frey" in km["source"]
    assert math.isinf(km["upper"]) and km["lower"] > 0
    assert list(m.observables["unit"]) == ["mg/L", "mg"]
    assert m.parameter_values == dict(zip(p["name"], p["value"]))
    assert m.sources and all(isinstance(s, str) for s in m.sources)


def test_tables_are_copies_and_models_compare_by_name():
    m = crsim.Model("pk1")
    table = m.parameters
    table.loc[0, "value"] = -5
    assert m.parameter_values["CL"] == 14.7
    assert crsim.Model("pk1") == m and crsim.Model(m) == m and m != crsim.Model("pk2")
    assert "pk1" in repr(m) and "1 states" in repr(m)


def test_simulate_accepts_a_model_object():
    r = crsim.simulate(crsim.Model("pk1"), times=[1.0])
    assert r.model.name == "pk1"


def test_plain_unit_lookups_match_the_tables():
    for name in ("pk2_mm", "crs"):
        m = crsim.Model(name)
        assert m.state_units == list(m.states["unit"])
        assert m.state_dose_units == list(m.states["dose_unit"])
        assert m.observable_units == list(m.observables["unit"])
        assert m.parameter_units == dict(zip(m.parameters["name"], m.parameters["unit"]))
