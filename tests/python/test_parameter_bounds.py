"""Parameter bounds (issue 18, "Bounds wider than the model"): every shipped parameter set lies inside
its model's bounds, and the bounds of the CRS and T-cell-engager models are physiological ranges
(docs/model.md, "Parameter bounds"), not [1e-12, inf]: finite, half-saturation constants a few
decades around the typical value, rates no faster than biology allows, and lung_b small enough that
fio2_required stays finite at any legal values."""
import math

import numpy as np
import pandas as pd
import pytest

import crsim

MODELS = crsim.models()
SETS = [(row.model, row.name) for row in crsim.parameter_sets().itertuples()]
#: the models whose bounds were chosen as physiological ranges
PHYSIOLOGICAL = ["crs", "tce"]

#: half-saturation, dissociation and potency constants: a name with one of these parts (split at
#: "_") or prefixes; the default set's value is their typical value
HALF_SATURATION_PARTS = {"K", "Km", "KD", "Ki", "EC50", "IC50", "Kss", "ifng50"}
HALF_SATURATION_PREFIXES = ("Kdrug", "KmBT", "KmTB")


def _half_saturation(name):
    return bool(HALF_SATURATION_PARTS & set(name.split("_"))) or name.startswith(HALF_SATURATION_PREFIXES)
#: explicit physiological limits a bound must not exceed: name -> (lowest lower bound, highest upper
#: bound) in the model's unit (values from docs/model.md, "Parameter bounds")
LIMITS = {
    "crs": {"rho": (0, 0.1), "rho_h": (0, 0.1), "g_tumor": (0, 0.1), "delta_E": (0, 1),
            "body_weight": (0.3, 700), "tumor_burden": (1, 1e14), "blood_volume": (30, 150),
            "k_ifng": (1e-3, 100), "k_il1": (1e-3, 100), "k_il6": (1e-3, 100), "k_il10": (1e-3, 100),
            "k_mcp1": (1e-3, 100), "toc_MW": (50, 300), "silt_MW": (50, 300), "emap_MW": (50, 300),
            "toc_V1": (0.5, 50), "dex_CL": (0.01, 500), "temp_base": (30, 42), "lung_b": (0, 10)},
    "tce": {"kBtumor": (0, 2.4), "fTaprolif": (0, 10), "body_weight": (0.3, 700), "V_pb": (50, 2e4),
            "tce_F": (0, 1), "toc_MW": (50, 300), "lung_b": (0, 10)},
}


def test_every_builtin_model_with_parameters_has_a_shipped_set():
    assert {m for m, _ in SETS} >= set(PHYSIOLOGICAL)


@pytest.mark.parametrize("model", MODELS)
def test_default_values_of_every_builtin_model_lie_inside_the_bounds(model):
    p = crsim.Model(model).parameters
    v, lo, hi = (p[c].to_numpy(dtype=float) for c in ("value", "lower", "upper"))
    known = np.isfinite(v)  # a model without a default set has no values (NaN) until a set is given
    assert not p.name[known & ((v < lo) | (v > hi))].tolist()


@pytest.mark.parametrize("model,name", SETS, ids=[f"{m}:{n}" for m, n in SETS])
def test_shipped_sets_lie_inside_the_bounds(model, name):
    p = crsim.Model(model, parameter_set=name).parameters  # an out-of-bounds value: InputError
    v, lo, hi = (p[c].to_numpy(dtype=float) for c in ("value", "lower", "upper"))
    outside = p.name[(v < lo) | (v > hi) | ~np.isfinite(v)].tolist()
    assert not outside, f"{model}:{name} outside the bounds: {outside}"


def test_a_value_outside_the_bounds_is_refused_and_named():
    with pytest.raises(crsim.InputError, match="lung_b"):
        crsim.simulate("crs", parameters={"lung_b": 50.0}, days=1)
    with pytest.raises(crsim.InputError, match="K_ifng"):
        crsim.simulate("crs", parameters={"K_ifng": 1e-12}, days=1)


@pytest.mark.parametrize("model", PHYSIOLOGICAL)
def test_bounds_are_finite_and_not_wider_than_physiological(model):
    p = crsim.Model(model).parameters.set_index("name")  # the default set
    # the typical values: those of the shipped sets (products differ, e.g. blinatumomab's EC50s are
    # three decades below mosunetuzumab's)
    shipped = [crsim.Model(model, parameter_set=n).parameters.set_index("name").value
               for m, n in SETS if m == model]
    low, high = pd.concat(shipped, axis=1).min(axis=1), pd.concat(shipped, axis=1).max(axis=1)
    infinite = p.index[~np.isfinite(p.upper.to_numpy(dtype=float))].tolist()
    assert not infinite, f"{model}: parameters without a finite upper bound: {infinite}"
    too_wide = []
    for name, row in p.iterrows():
        if _half_saturation(name) and low[name] > 0:
            # a half-saturation constant a few decades around its typical values, not down to 1e-12
            if row.lower < 1e-6 * low[name] or row.upper > 1e6 * high[name]:
                too_wide.append(f"{name} [{row.lower:g}, {row.upper:g}] around "
                                f"{low[name]:g}-{high[name]:g}")
        if row.unit in ("1/h",) and row.upper > 100:  # faster than a 25-s half-life
            too_wide.append(f"{name} [{row.lower:g}, {row.upper:g}] 1/h")
        if row.unit in ("1/day",) and row.upper > 1e4:
            too_wide.append(f"{name} [{row.lower:g}, {row.upper:g}] 1/day")
    for name, (lo, hi) in LIMITS[model].items():
        if p.lower[name] < lo or p.upper[name] > hi:
            too_wide.append(f"{name} [{p.lower[name]:g}, {p.upper[name]:g}] wider than [{lo:g}, {hi:g}]")
    assert not too_wide, f"{model}: bounds wider than physiological: {too_wide}"
    # every half-saturation constant was checked (the pattern still matches the model's names)
    assert sum(_half_saturation(n) for n in p.index) >= 15


@pytest.mark.parametrize("model", PHYSIOLOGICAL)
def test_fio2_required_cannot_overflow_within_the_bounds(model):
    p = crsim.Model(model).parameters.set_index("name")  # the default set
    # obs_fio2_required = pao2_target / pf_base * exp(lung_b * capillary_leak), capillary_leak <= 1
    worst = p.upper["pao2_target"] / p.lower["pf_base"] * math.exp(p.upper["lung_b"])
    assert math.isfinite(worst) and worst < 1e3
    # and the bounds still allow a patient who needs FiO2 1.0 at full leak (severe ARDS)
    typical = p.value["pao2_target"] / p.value["pf_base"]
    assert typical * math.exp(p.upper["lung_b"]) > 1.0


def test_fio2_required_at_the_extreme_bounds_is_finite():
    m = crsim.Model("crs").parameters.set_index("name")
    extreme = {"lung_b": float(m.upper["lung_b"]), "pao2_target": float(m.upper["pao2_target"]),
               "pf_base": float(m.lower["pf_base"]), "leak_on": float(m.upper["leak_on"])}
    sc = crsim.Scenario.from_file(crsim.example("default")).replace(horizon_days=4.0)
    r = crsim.simulate(sc.replace(parameters={**sc.parameters, **extreme}))
    fio2 = r.to_pandas()["fio2_required"].to_numpy(dtype=float)
    assert np.all(np.isfinite(fio2)) and fio2.max() < 1e3
