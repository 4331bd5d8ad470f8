"""CD19 CAR-T product sets that extend a calibrated product set (issue 15 item 6; docs/model.md
"Product sets"; docs/calibration.md "Per product"): each loads, takes the product's kinetics from the
set it extends (4-1BB: crs_tisagenlecleucel_ball; CD28: crs_axicabtagene_lbcl) and the lymphoma
patient of crs_axicabtagene_lbcl, simulates its typical patient at the label dose, and its cellular-kinetics calibration values are pinned so that any change shows here (a
deliberate change updates PINNED and docs/calibration.md with
`scripts/calibrate.py --products --write`). The CRS of these sets is a prediction: nothing is pinned
to a published CRS figure."""
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import crsim
from crsim import _core

ROOT = Path(__file__).resolve().parents[2]
SETS = ROOT / "data" / "parameters"
_spec = importlib.util.spec_from_file_location("calibrate", ROOT / "scripts" / "calibrate.py")
calibrate = importlib.util.module_from_spec(_spec)
sys.modules["calibrate"] = calibrate  # dataclasses look their module up while it executes
_spec.loader.exec_module(calibrate)

PRODUCTS = ["crs_tisagenlecleucel_lbcl", "crs_lisocabtagene_lbcl"]  # 4-1BB
CD28_PRODUCTS = ["crs_brexucabtagene_mcl"]  # extend crs_axicabtagene_lbcl
#: the product kinetics every 4-1BB product set takes from crs_tisagenlecleucel_ball
KINETICS = ["rho", "K_A", "delta_E", "k_EM", "delta_M", "k_EX", "f_blood", "k_kill", "p_ifng",
            "w_engaged_mact"]
#: the LBCL patient every LBCL product set takes from crs_axicabtagene_lbcl
LBCL_PATIENT = ["body_weight", "tumor_burden", "b_cells0", "blood_volume", "il6_base", "ferritin_base",
                "fibrinogen_base", "anc_base", "platelets_base", "hemoglobin_base", "map_base", "sbp_base"]

#: the model's values when these pins were set (typical patients, hourly output: 1e-3)
PINNED = {
    "tisa_ball_auc_cmax": 13.1, "tisa_lbcl_cmax_ratio": 0.202, "tisa_lbcl_tmax_d": 5.83,
    "tisa_lbcl_auc_cmax": 14.9, "liso_tmax_d": 7.17, "liso_auc_cmax": 14.0,
    "brexu_mcl_cmax_ratio": 1.0, "brexu_mcl_tmax_d": 6.67, "brexu_mcl_auc_cmax": 11.6,
}


def _resolved(stem):
    return _core.load_parameter_set(str(SETS / f"{stem}.json"))["parameters"]


@pytest.mark.parametrize("stem", PRODUCTS)
def test_set_takes_the_4_1bb_kinetics_and_the_lbcl_patient(stem):
    got, tisa, axi = _resolved(stem), _resolved("crs_tisagenlecleucel_ball"), _resolved("crs_axicabtagene_lbcl")
    assert set(got) == set(tisa)
    for name in KINETICS:
        assert got[name]["value"] == tisa[name]["value"], name
    for name in LBCL_PATIENT:
        assert (got[name]["value"], got[name]["unit"]) == (axi[name]["value"], axi[name]["unit"]), name
    for name, e in got.items():  # all the rest: the layers shared by every crs set
        if name not in KINETICS + LBCL_PATIENT:
            assert e["value"] == tisa[name]["value"], name


@pytest.mark.parametrize("stem", CD28_PRODUCTS)
def test_cd28_set_is_axi_cel_product_and_patient(stem):
    """Brexu-cel is axi-cel's CAR construct (CD28) with another manufacturing process; no kinetic or
    patient value specific to it was read, so every parameter and patient value is axi-cel's."""
    got, axi = _core.load_parameter_set(str(SETS / f"{stem}.json")), \
        _core.load_parameter_set(str(SETS / "crs_axicabtagene_lbcl.json"))
    assert set(got["parameters"]) == set(axi["parameters"])
    for name, e in axi["parameters"].items():
        assert (got["parameters"][name]["value"], got["parameters"][name]["unit"]) == (e["value"], e["unit"]), name
    assert sorted(got["patient"]) == sorted(axi["patient"])  # names; their values are parameters
    # its own entries say why they are what they are
    own = json.loads((SETS / f"{stem}.json").read_text())
    assert own.get("parameters", {}) == {}
    assert "modelling choice" in own["patient"]["tumor_burden"]["source"]
    assert "Tecartus" in own["regimen"]["car_t_dose"]["source"]
    # the published between-patient variability comes with the layers (the population default)
    assert got["variability"].keys() == axi["variability"].keys()
    for name, e in axi["variability"].items():
        assert got["variability"][name]["omega"] == e["omega"], name


def test_label_doses():
    tisa = crsim.Model("crs", str(SETS / "crs_tisagenlecleucel_lbcl.json"))
    liso = crsim.Model("crs", str(SETS / "crs_lisocabtagene_lbcl.json"))
    w = tisa.patient["body_weight"]
    assert tisa.default_regimen["car_t_dose"]["value"] * w == pytest.approx(3e8)  # inside 0.6-6.0e8
    assert liso.default_regimen["car_t_dose"]["value"] * w == pytest.approx(1e8, rel=1e-6)  # target dose
    brexu = crsim.Model("crs", str(SETS / "crs_brexucabtagene_mcl.json"))
    assert brexu.default_regimen["car_t_dose"]["value"] == pytest.approx(2e6)  # MCL target dose
    assert brexu.default_regimen["car_t_dose"]["value"] * brexu.patient["body_weight"] <= 2e8  # the cap
    for m in (tisa, liso, brexu):
        assert m.default_regimen["car_t_dose"]["unit"] == "cells/kg"


@pytest.mark.parametrize("stem", PRODUCTS + CD28_PRODUCTS)
def test_typical_patient_simulates(stem):
    res = crsim.simulate(calibrate._product_scenario(stem, 28))
    c = np.asarray(res["car_t_blood"], dtype=float)
    assert np.all(np.isfinite(c)) and c.max() > 10 * c[0]  # expansion
    assert res.readouts["max_grade"] >= 0
    assert math.isfinite(res.readouts["cart_cmax"])


@pytest.fixture(scope="module")
def values():
    return calibrate.product_kinetics()


def test_product_kinetics_are_pinned(values):
    for key, want in PINNED.items():
        assert values[key] == pytest.approx(want, rel=3e-3), key


def test_what_was_met_stays_met(values):
    """Met when the product table was written; the misses (liso-cel AUC0-28d/Cmax: the 4-1BB contraction
    of the model is slower than liso-cel's in TRANSCEND; brexu-cel MCL / axi-cel LBCL Cmax: 1 by
    construction, no MCL-specific value was read) are reported in docs/calibration.md."""
    for t in calibrate.PRODUCT_TARGETS:
        if t.key in ("tisa_ball_auc_cmax", "tisa_lbcl_cmax_ratio", "liso_tmax_d"):
            assert calibrate.met(t, values[t.key]), (t.key, values[t.key], t.lo, t.hi)


def test_what_is_missed_is_reported_as_missed(values):
    """brexu-cel MCL has axi-cel's product and patient at axi-cel's dose: equal expansion, which is not
    the "higher in MCL" of the flow-cytometry cohort; the target must not count equality as met."""
    t = next(t for t in calibrate.PRODUCT_TARGETS if t.key == "brexu_mcl_cmax_ratio")
    assert values[t.key] == pytest.approx(1.0)
    assert calibrate.met(t, values[t.key]) is False


def test_new_ck_targets_have_sources():
    """Every kinetics target of a product set names the publication or label section it comes from,
    says what was read, and only unit-free forms are targets (ratios and times)."""
    for t in calibrate.PRODUCT_TARGETS:
        assert "read" in t.source, t.key
        assert t.unit in ("1", "d"), t.key
    brexu = next(t for t in calibrate.PRODUCT_TARGETS if t.key == "brexu_mcl_cmax_ratio")
    assert "Blood Adv 2024" in brexu.source and "abstract read" in brexu.source


def test_targets_and_predictions_cite_sources():
    for t in calibrate.PRODUCT_TARGETS:
        assert t.lo <= t.hi and t.source.strip() and t.target.strip()
    for p in calibrate.PREDICTIONS:
        assert p.source.strip() and p.published.strip()
    for text in [t.source for t in calibrate.PRODUCT_TARGETS] + [p.source for p in calibrate.PREDICTIONS]:
        assert not any(w in text for w in ("shared/science", "clinical.md", "drugs.md", "models.md", "digest"))


def test_populations_run_every_patient_within_the_bounds():
    """The populations draw each set's published variability; the few patients drawn outside the
    model's bounds (Stein's wide spreads on the CAR-T death rates) are refused, the others run
    (test_population_variability.py checks that every failure is such a refusal)."""
    v = calibrate.product_populations(40)
    for prefix in ("tisa_lbcl", "liso", "brexu_mcl"):
        assert v[f"{prefix}_failed"] < 0.15
        assert 0.0 <= v[f"{prefix}_any"] <= 1.0 and 0.0 <= v[f"{prefix}_ge3"] <= 1.0


def test_docs_product_table_is_the_scripts_output():
    doc = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    body = doc[doc.index(calibrate.P_BEGIN):doc.index(calibrate.P_END)]
    for t in calibrate.PRODUCT_TARGETS:
        assert f"| {t.what} | {t.target} |" in body, t.key
    for p in calibrate.PREDICTIONS:
        assert f"| {p.what} | {p.published} |" in body, p.key
    # the existing table is still there, untouched by the product section
    assert doc.index(calibrate.END) < doc.index(calibrate.P_BEGIN)


def test_sets_name_their_parent():
    for stem, parent in (("crs_tisagenlecleucel_lbcl", "crs_tisagenlecleucel_ball"),
                         ("crs_lisocabtagene_lbcl", "crs_tisagenlecleucel_lbcl"),
                         ("crs_brexucabtagene_mcl", "crs_axicabtagene_lbcl")):
        assert json.loads((SETS / f"{stem}.json").read_text())["extends"] == [parent]
