"""The hyperinflammation arm of the CRS model (issue 14): the IFN-gamma -> macrophage -> IL-18 loop
behind IEC-HS (docs/model.md section 6a), the flags per their definitions with every criterion
reported (section 7b), the drugs' effects on the loop and the IEC-HS strategies. Behaviour is tested
in the typical patient, in patients at risk and in virtual populations."""
import math

import numpy as np
import pytest

import crsim
from crsim.extensions.crs.readouts import READOUTS
from crsim.model.parameter_sets import data_dir

#: The default patient (tisagenlecleucel, B-ALL) at risk of IEC-HS: pre-existing inflammation
#: (serum IL-18 3,000 pg/mL instead of 200) and a CAR-T proliferation rate 20 % above the typical
#: one (more expansion). Both risk factors come from docs/model.md section 6a.
AT_RISK = {"il18_base": 3000.0, "rho": 0.036}
#: Between-patient variability of the populations (SD of the log-normal random effect): notebook
#: 04's, plus the loop's patient factors (a modelling choice, docs/model.md section 6a).
VARIABILITY = {"rho": 0.3, "tumor_burden": 1.0, "p_il6_myeloid": 0.4, "k_hlh_clear": 0.5,
               "il18_base": 0.7}
N = 300
HLH_READOUTS = ["max_grade", "onset_h", "duration_h", "iec_hs", "iec_hs_onset_h", "iec_hs_duration_h",
                "iec_hs_grade_max", "carhlh", "cart_cmax", "ferritin_peak"]


def _default(**changes):
    sc = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml").replace(horizon_days=42)
    return sc.replace(**changes) if changes else sc


@pytest.fixture(scope="module")
def typical():
    return crsim.simulate(_default())


@pytest.fixture(scope="module")
def at_risk():
    return crsim.simulate(_default(parameters=AT_RISK))


def _day(res, d):
    return int(np.argmin(np.abs(res.times - 24.0 * d)))


def test_no_hyperinflammation_flag_in_the_typical_patient(typical):
    r = typical.readouts
    assert r["max_grade"] >= 1  # the typical patient has CRS ...
    assert r["iec_hs"] == 0 and math.isnan(r["iec_hs_onset_h"]) and r["iec_hs_grade_max"] == 0
    assert r["carhlh"] == 0
    assert (crsim.iec_hs_grade(typical) == 0).all()
    # ... and the loop stays quiet: hyperactivated macrophages, IL-18 and AST stay low
    assert np.max(typical["macrophage_hyperactivation"]) < 0.05
    assert np.max(typical["il18"]) < 1000.0
    assert np.max(typical["ast"]) < 2 * 40.0


def test_iec_hs_follows_resolving_crs_in_a_patient_at_risk(at_risk):
    r = at_risk.readouts
    assert r["iec_hs"] == 1
    onset_d = r["iec_hs_onset_h"] / 24
    assert 7 <= onset_d <= 21, onset_d                       # the second or third week
    assert r["iec_hs_onset_h"] > r["onset_h"] + 3 * 24        # well after CRS onset
    # at onset the CRS is resolving: IL-6 has fallen far below its peak while ferritin climbs
    k = _day(at_risk, onset_d)
    il6 = np.asarray(at_risk["il6"])
    assert il6[k] < 0.5 * il6.max()
    assert at_risk["ferritin"][k] > 10000
    # and the hyperinflammation outlasts it: ferritin peaks later, above 20,000 ng/mL
    fer = np.asarray(at_risk["ferritin"])
    assert at_risk.times[np.argmax(fer)] > r["iec_hs_onset_h"]
    assert fer.max() > 20000
    # a course of days to weeks
    assert 3 * 24 <= r["iec_hs_duration_h"] <= 28 * 24
    # the loop: IL-18 and CXCL9 high, hyperactivated macrophages, liver injury
    assert np.max(at_risk["il18"]) > 5000
    assert np.max(at_risk["cxcl9"]) > 10000
    assert np.max(at_risk["macrophage_hyperactivation"]) > 0.3
    assert np.max(at_risk["ast"]) > 200


def test_every_criterion_is_reported_and_explains_the_flag(at_risk, typical):
    for res in (at_risk, typical):
        table = crsim.hlh_criteria(res)
        assert list(table.columns) == ["definition", "key", "criterion", "evaluable", "met", "first_h",
                                       "value", "unit"]
        assert not table.duplicated(["definition", "key"]).any()
        assert set(table.definition) == {"IEC-HS", "carHLH", "HLH-2004", "HScore"}
        # criteria the model cannot evaluate are named, never met
        blind = table[~table.evaluable]
        assert {("IEC-HS", "haemophagocytosis"), ("HLH-2004", "splenomegaly")} <= \
            set(zip(blind.definition, blind.key))
        assert not blind.met.any()
        assert (table.met == table.first_h.notna()).all()
    table = crsim.hlh_criteria(at_risk)
    onset = at_risk.readouts["iec_hs_onset_h"]
    iec = table[table.definition == "IEC-HS"].set_index("key")
    met_by_onset = iec.evaluable & iec.met & (iec.first_h <= onset + 1e-9)
    assert met_by_onset[["ferritin", "ferritin_rise", "timing"]].all()
    assert met_by_onset[["cytopenia", "hypofibrinogenaemia", "transaminitis"]].any()
    # HLH-2004: the model evaluates 4 of 8 criteria, so it can meet at most 4 (5 diagnose)
    assert at_risk.readouts["hlh2004_max"] <= 4
    assert at_risk.readouts["hscore_partial_max"] <= 182
    # the clinical summary says it in words
    from crsim.model.extension import extension
    words = " ".join(extension("crs").summary(at_risk))
    assert "IEC-HS from day" in words


def test_carhlh_fires_with_two_organ_toxicities():
    # the patient at risk with pre-existing hypoxaemia (PaO2/FiO2 150 mmHg): hepatic and pulmonary
    # grade >= 3 toxicities with ferritin > 10,000 ng/mL during CRS
    res = crsim.simulate(_default(parameters={**AT_RISK, "k_hlh_clear": 0.0015, "tumor_burden": 2.5e11,
                                              "pf_base": 150.0}))
    r = res.readouts
    assert r["carhlh"] == 1 and r["carhlh_organ_toxicities"] == 2
    table = crsim.hlh_criteria(res)
    car = table[table.definition == "carHLH"]
    assert car[car.evaluable].met.all()
    # without the lung disease the same patient has only the hepatic toxicity: no carHLH
    res2 = crsim.simulate(_default(parameters={**AT_RISK, "k_hlh_clear": 0.0015, "tumor_burden": 2.5e11}))
    assert res2.readouts["carhlh_organ_toxicities"] == 1 and res2.readouts["carhlh"] == 0


@pytest.fixture(scope="module")
def population():
    return crsim.population(_default(), N, VARIABILITY, seed=11, readouts=HLH_READOUTS)


def test_iec_hs_in_a_minority_of_a_population_with_plausible_timing(population):
    pop = population
    assert pop.max_grade.notna().all()
    iec = pop[pop.iec_hs == 1]
    incidence = len(iec) / len(pop)
    # a minority, not none: the B-ALL set (whose CRS is too severe: docs/calibration.md) gives more
    # than the 1-3.5 % of real-world CD19 CAR-T, of the order of the 14 % of a paediatric series
    assert 0.03 <= incidence <= 0.35, incidence
    # onset in the second week or later (published median day 12, range 4-21), after CRS onset
    onset_d = iec.iec_hs_onset_h / 24
    assert 8 <= onset_d.median() <= 16, onset_d.median()
    assert (iec.iec_hs_onset_h > iec.onset_h).all()
    # a course of days to weeks (published median 7 d, range 4-25)
    dur_d = iec.iec_hs_duration_h.dropna() / 24
    assert len(dur_d) >= 0.8 * len(iec)
    assert 3 <= dur_d.median() <= 25, dur_d.median()
    # HLH-level ferritin in those flagged, CRS-level in the others (published medians: 92,204 vs
    # 2,035-5,467 ng/mL)
    assert iec.ferritin_peak.median() > 5 * pop[pop.iec_hs == 0].ferritin_peak.median()


def test_iec_hs_risk_rises_with_car_t_expansion(population):
    pop = population
    high = pop.cart_cmax >= pop.cart_cmax.median()
    assert pop[high].iec_hs.mean() > 3 * pop[~high].iec_hs.mean() + 0.02


def test_iec_hs_risk_rises_with_pre_existing_inflammation(population):
    # the same patients (same seed and variability), with a fivefold higher typical serum IL-18
    inflamed = crsim.population(_default(parameters={"il18_base": 1000.0}), N, VARIABILITY, seed=11,
                                readouts=["iec_hs"])
    assert inflamed.iec_hs.mean() > population.iec_hs.mean() + 0.02
    # patient by patient, many more gain the flag than lose it (a patient can lose it: with more IL-18
    # the loop starts during the CRS, ferritin is already high when the CRS resolves, and the
    # "worsening ferritin" criterion of IEC-HS is then not met: docs/model.md section 7b)
    gained = ((population.iec_hs == 0) & (inflamed.iec_hs == 1)).sum()
    lost = ((population.iec_hs == 1) & (inflamed.iec_hs == 0)).sum()
    assert gained > 3 * lost, (gained, lost)


def test_iec_hs_is_rare_after_axicabtagene_in_lbcl():
    # adult LBCL (axi-cel set): real-world IEC-HS after CD19 CAR-T about 1-3.5 %
    sc = crsim.Scenario("crs", name="axi", parameter_set="crs_axicabtagene_lbcl",
                        regimen=["car-t 2e6 cells/kg iv"], horizon_days=42)
    pop = crsim.population(sc, N, VARIABILITY, seed=11, readouts=["iec_hs"])
    assert pop.iec_hs.mean() <= 0.05


def _give(res_scenario, regimen):
    return crsim.simulate(res_scenario.replace(regimen=list(res_scenario.regimen) + [regimen]))


def test_emapalumab_breaks_the_loop(at_risk):
    sc = _default(parameters=AT_RISK)
    onset_d = at_risk.readouts["iec_hs_onset_h"] / 24
    day = math.ceil(onset_d)
    treated = _give(sc, f"emapalumab 6 mg/kg iv over 1h at day {day}")
    k0, k1 = _day(treated, day), _day(treated, day + 1)
    # CXCL9, the IFN-gamma activity marker, falls within a day; free IFN-gamma with it, while total
    # IFN-gamma (bound to the antibody) does not fall
    assert treated["cxcl9"][k1] < 0.5 * at_risk["cxcl9"][k1]
    assert treated["ifng_free"][k1] < 0.2 * at_risk["ifng_free"][k1]
    assert treated["ifng"][k1] >= 0.5 * at_risk["ifng"][k1]
    # the loop loses its drive: IL-18 and the hyperactivated macrophages decline at their clearance
    # rate (half-life about 5 d) and, later, ferritin; total IFN-gamma accumulates bound to the drug
    k7 = _day(treated, day + 7)
    base = AT_RISK["il18_base"]
    assert treated["il18"][k7] - base < 0.8 * (at_risk["il18"][k7] - base)
    assert treated["macrophage_hyperactivation"][k7] < 0.8 * at_risk["macrophage_hyperactivation"][k7]
    assert treated["ferritin"][k7] < 0.9 * at_risk["ferritin"][k7]
    assert treated["ifng"][k7] > 10 * at_risk["ifng"][k7]
    assert treated.readouts["iec_hs_duration_h"] < 0.7 * at_risk.readouts["iec_hs_duration_h"]
    assert treated["fibrinogen"][k7] > at_risk["fibrinogen"][k7]
    assert treated["ferritin"][k0] == pytest.approx(at_risk["ferritin"][k0], rel=0.02)


def test_anakinra_is_modest_and_methylprednisolone_acts_on_the_loop(at_risk):
    sc = _default(parameters=AT_RISK)
    day = math.ceil(at_risk.readouts["iec_hs_onset_h"] / 24)
    ana = _give(sc, f"anakinra 100 mg iv q6h x28 at day {day}")
    mp = _give(sc, f"methylprednisolone 1000 mg iv over 1h q24h x3 at day {day}")
    emap = _give(sc, f"emapalumab 6 mg/kg iv over 1h at day {day}")
    k = _day(at_risk, day + 5)
    h = {name: res["macrophage_hyperactivation"][k] for name, res in
         (("none", at_risk), ("anakinra", ana), ("methylprednisolone", mp), ("emapalumab", emap))}
    # every drug lowers the hyperactivated macrophages; anakinra least (it only removes IL-1's
    # amplification), emapalumab most (it removes the drive)
    assert h["anakinra"] < h["none"]
    assert h["none"] - h["anakinra"] < 0.5 * (h["none"] - h["emapalumab"])
    assert h["methylprednisolone"] < h["anakinra"]
    assert ana["anakinra_il1_blockade"][_day(ana, day + 1)] > 0.8


def test_iec_hs_strategies_fire_on_its_laboratory_features(at_risk):
    names = set(crsim.strategies("crs").name)
    assert {"iec_hs_anakinra", "iec_hs_anakinra_methylprednisolone", "iec_hs_emapalumab_refractory"} <= names
    sc = _default(parameters={**AT_RISK, "k_hlh_clear": 0.003})
    none = crsim.simulate(sc)
    assert none.readouts["iec_hs"] == 1 and np.min(none["fibrinogen"]) <= 150
    treated = crsim.simulate(sc.replace(policies=["iec_hs_anakinra_methylprednisolone"]))
    t = treated.readouts
    assert t["anakinra_doses"] == 28 and t["methylprednisolone_doses"] == 3
    fired = treated.firings
    assert len(fired) == 2 and (fired.administered_h > t["onset_h"] + 3 * 24).all()
    # IEC-HS-directed therapy after onset: grade >= 2; the treatment shortens the hyperinflammation
    assert t["iec_hs_grade_max"] >= 2
    assert np.max(treated["ferritin"]) < np.max(none["ferritin"])
    # the typical patient never reaches the trigger: no IEC-HS drug given
    typical = crsim.simulate(_default(policies=["iec_hs_emapalumab_refractory"])).readouts
    assert typical["anakinra_doses"] == 0 and typical["emapalumab_doses"] == 0


def test_the_new_readouts_are_documented():
    for key in ("iec_hs_duration_h", "iec_hs_grade_max", "carhlh_organ_toxicities"):
        assert key in READOUTS and READOUTS[key][1]


def test_clinical_figure_draws_the_iec_hs_grade(at_risk, typical):
    import matplotlib
    matplotlib.use("Agg")
    fig = crsim.plot(at_risk)
    grade_ax = [ax for ax in fig.axes if ax.get_ylabel() in ("grade", "ASTCT grade")]
    assert len(grade_ax) == 1 and grade_ax[0].get_ylabel() == "grade"
    legend = grade_ax[0].get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["ASTCT CRS", "IEC-HS"]
    fig2 = crsim.plot(typical)  # no IEC-HS: no second course, the ASTCT label as before
    grade_ax = [ax for ax in fig2.axes if ax.get_ylabel() in ("grade", "ASTCT grade")]
    assert len(grade_ax) == 1 and grade_ax[0].get_ylabel() == "ASTCT grade"
    assert grade_ax[0].get_legend() is None
