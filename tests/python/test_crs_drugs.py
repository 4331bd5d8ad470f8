"""Anakinra, emapalumab and methylprednisolone in the CRS model (issue 14, item 3): each drug's PK
against the numbers of its source, the direction of its effect in the default CRS course, the
drug names of text regimens, and per-kg doses by body weight. Each test prints the numbers it
asserts.

PK runs use the CRS model without CAR-T cells (no cytokine response), so the drug states follow
their PK alone. Sources (data/parameters/drugs/*.json):
- anakinra: Urien S et al. 2013, BMC Pharmacol Toxicol 14:40 (one compartment, first-order SC
  absorption, ka 0.38 /h, CL/F 6.24 L/h and V/F 65.2 L for 70 kg, weight exponents 0.47 and 0.76);
  Yang et al. 2003, Clin Pharmacol Ther 74:85 (IV CL 137 +/- 21 mL/min); Kineret label (tmax 3-7 h);
- emapalumab: Brossard P, Laveille C 2024, Rheumatol Ther 11(3) (CL and terminal half-life at total
  IFN-gamma 1e3-1e6 pg/mL, 10 kg child); Gamifant label (first dose peak and trough at 1 mg/kg);
- methylprednisolone: Al-Habet SM, Rogers HJ 1989, Br J Clin Pharmacol 27:285 (20-80 mg IV: t1/2
  1.93 h, CL 0.45 L/h/kg); Biopharm Drug Dispos 1983;4:233 (1 g pulse: t1/2 2.4 h, CL 15.1 L/h,
  V 50 L); Antal 1994, J Clin Pharmacol 34:1109 (CL 19.5-44.7 L/h).
"""
import math

import numpy as np
import pytest

import crsim
from crsim.model.parameter_sets import data_dir
from crsim.model.targets import targets_for

LN2 = math.log(2.0)
ADULT = "crs_axicabtagene_lbcl"


def pk_run(regimen, weight, hours, step=0.05, parameters=None):
    """The CRS model without CAR-T cells: drugs only."""
    sc = crsim.Scenario(name="pk", model="crs", parameter_set=ADULT, regimen=regimen,
                        parameters=dict(parameters or {}, body_weight=weight), horizon_h=hours,
                        outputs={"step_h": step}, solver={"rtol": 1e-10, "atol": 1e-12})
    return crsim.simulate(sc)


def obs(res, name):
    """An observable (``res[name]`` is the state where a state has the same name, as ``ifng``:
    the state is IFN-gamma above the pre-infusion value, the observable the total)."""
    return res.observables[:, res.observable_names.index(name)]


def auc_inf(t, c, tail=0.25):
    """AUC from 0 to infinity: trapezoids, plus the log-linear extrapolation of the last quarter."""
    k = terminal_rate(t, c, tail)
    return float(np.trapezoid(c, t) + c[-1] / k)


def terminal_rate(t, c, tail=0.25, start=None):
    """Slope of log(c) over the last ``tail`` of the run (or from ``start`` h), 1/h."""
    m = (t >= start) if start is not None else (t >= t[-1] * (1 - tail))
    return float(-np.polyfit(t[m], np.log(c[m]), 1)[0])


# --- anakinra ---------------------------------------------------------------------------------

URIEN = dict(ka=0.38, CL=6.24, V=65.2, wexp_cl=0.47, wexp_v=0.76)


def urien_sc(dose_mg, weight, t):
    """Urien 2013's one-compartment SC model, closed form (mg/L = ug/mL)."""
    cl = URIEN["CL"] * (weight / 70) ** URIEN["wexp_cl"]
    v = URIEN["V"] * (weight / 70) ** URIEN["wexp_v"]
    ka, k = URIEN["ka"], cl / v
    return dose_mg * ka / (v * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t)), cl, v


@pytest.mark.parametrize("weight", [70.0, 35.0, 15.0])
def test_anakinra_sc_pk_is_urien_2013_with_its_weight_exponents(weight):
    res = pk_run(["anakinra 100 mg sc"], weight, 96)
    t, c = res.times, res["anakinra"] / 1000          # ng/mL -> ug/mL (mg/L)
    ref, cl, v = urien_sc(100.0, weight, t)
    i, j = int(np.argmax(c)), int(np.argmax(ref))
    cl_model = 100.0 / auc_inf(t, c)
    t_half = LN2 / terminal_rate(t, c)
    print(f"\n{weight:g} kg, 100 mg SC: Cmax {c[i]:.3f} mg/L at {t[i]:.2f} h (Urien "
          f"{ref[j]:.3f} at {t[j]:.2f} h); CL/F {cl_model:.2f} L/h (Urien {cl:.2f}); t1/2 "
          f"{t_half:.2f} h (Urien "
          f"{LN2 * v / cl:.2f}; Kineret label 4-6 h in adults)")
    assert c[i] == pytest.approx(ref[j], rel=2e-3)
    assert t[i] == pytest.approx(t[j], abs=0.06)
    assert cl_model == pytest.approx(cl, rel=5e-3)
    assert t_half == pytest.approx(LN2 * v / cl, rel=5e-3)
    assert 3.0 <= t[i] <= 7.0                         # Kineret label: tmax 3-7 h


def test_anakinra_iv_clearance_against_yang_2003():
    res = pk_run(["anakinra 1 mg/kg iv"], 70.0, 72)
    t, c = res.times, res["anakinra"] / 1000
    cl = 70.0 / auc_inf(t, c)
    yang, sd = 137 * 0.06, 21 * 0.06                  # 137 +/- 21 mL/min in L/h
    print(f"\nanakinra 1 mg/kg IV, 70 kg: C0 {c[0]:.2f} mg/L, CL {cl:.2f} L/h (Urien's CL/F "
          f"applied to IV) vs Yang 2003 {yang:.1f} +/- {sd:.1f} L/h (healthy adults); t1/2 "
          f"{LN2 / terminal_rate(t, c):.1f} h")
    assert cl == pytest.approx(6.24, rel=5e-3)
    assert abs(cl - yang) <= 2 * sd                   # within 2 SD of the healthy-adult mean


# --- emapalumab -------------------------------------------------------------------------------

BROSSARD = {1e3: (0.00218, 19.2), 1e4: (0.00308, 13.8), 1e5: (0.00623, 7.18), 1e6: (0.01718, 3.12)}


@pytest.mark.parametrize("ifng", sorted(BROSSARD))
def test_emapalumab_clearance_and_half_life_rise_with_total_ifng(ifng):
    """Brossard & Laveille 2024, 10 kg child: total IFN-gamma held at a level (the pre-infusion
    value set to it, and bound IFN-gamma cleared like free so that none accumulates)."""
    cl_ref, t_half_ref = BROSSARD[ifng]
    res = pk_run(["emapalumab 1 mg/kg iv over 1h"], 10.0, 24 * 120, step=6,
                 parameters={"ifng_base": ifng, "emap_k_cplx": 0.7})
    assert np.allclose(obs(res, "ifng"), ifng, rtol=1e-9)
    cl = res["emapalumab_clearance"]
    t, c = res.times, res["emapalumab"]
    t_half = LN2 / terminal_rate(t, c, start=24 * 60) / 24
    print(f"\ntotal IFN-gamma {ifng:.0e} pg/mL: CL {cl[1]:.5f} L/h (Brossard {cl_ref}), terminal "
          f"t1/2 {t_half:.2f} d (Brossard {t_half_ref})")
    assert np.allclose(cl, cl[1], rtol=1e-9)
    assert cl[1] == pytest.approx(cl_ref, rel=0.04)   # the fitted curve is within 3.6 %
    assert t_half == pytest.approx(t_half_ref, rel=0.05)


def test_emapalumab_first_dose_exposure_against_the_label():
    """Gamifant label, 1 mg/kg: steady-state peak 44 and trough 25 ug/mL, 2.9x and 4.3x the first
    dose, i.e. a first-dose peak of about 15 and a 3-day trough of about 6 ug/mL (HLH patients,
    whose IFN-gamma is not known here: the default patient's pre-infusion IFN-gamma)."""
    res = pk_run(["emapalumab 1 mg/kg iv over 1h"], 10.0, 72, step=0.5)
    c = res["emapalumab"]
    peak, trough = float(c.max()), float(c[-1])
    print(f"\nemapalumab 1 mg/kg, 10 kg: first-dose peak {peak:.1f} ug/mL (label about "
          f"{44 / 2.9:.1f}), 72 h {trough:.1f} ug/mL (label about {25 / 4.3:.1f})")
    assert peak == pytest.approx(44 / 2.9, rel=0.2)
    assert trough == pytest.approx(25 / 4.3, rel=0.5)


# --- methylprednisolone -----------------------------------------------------------------------

def mp_pk(dose, weight):
    res = pk_run([dose], weight, 24, step=0.02)
    t, c = res.times, res["methylprednisolone"] / 1000          # mg/L
    mg = float(res.doses.amount.sum())
    return mg / auc_inf(t, c), LN2 / terminal_rate(t, c), mg


def test_methylprednisolone_about_1_mg_per_kg_against_al_habet_1989():
    cl, t_half, mg = mp_pk("methylprednisolone 1 mg/kg iv", 70.0)
    print(f"\nmethylprednisolone {mg:g} mg IV, 70 kg: CL {cl:.1f} L/h = {cl / 70:.3f} L/h/kg "
          f"(Al-Habet 0.45 +/- 0.12), t1/2 {t_half:.2f} h (1.93 +/- 0.35)")
    assert mg == 70.0
    assert cl / 70 == pytest.approx(0.45, rel=0.02)
    # one compartment with Vss: 2.3 h; the reported terminal half-life is 1.93 +/- 0.35 h
    assert abs(t_half - 1.93) <= 0.35 + 0.1


def test_methylprednisolone_1_g_pulse_against_the_published_range():
    weight = 50 / 0.87              # the 4 women of the 1 g study (V 50 L = 0.87 L/kg)
    cl, t_half, mg = mp_pk("methylprednisolone 1 g iv", weight)
    print(f"\nmethylprednisolone 1 g IV, {weight:.1f} kg: CL {cl:.1f} L/h (1 g pulse in RA: 15.1; "
          f"first doses 40-500 mg 19.5-27.7; repeated doses 31.1-44.7), t1/2 {t_half:.2f} h (2.4)")
    assert mg == 1000.0
    assert t_half == pytest.approx(2.4, rel=0.1)
    assert 15.1 <= cl <= 44.7                          # the sources disagree up to 3x


# --- effects in the default CRS course -----------------------------------------------------------

@pytest.fixture(scope="module")
def default():
    return crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")


@pytest.fixture(scope="module")
def untreated(default):
    return crsim.simulate(default)


def treated(default, text):
    return crsim.simulate(default.replace(regimen=list(default.regimen) + [text]))


def test_no_new_drug_no_change(untreated):
    """Without these drugs their states stay zero and the observables that they would change equal
    the untreated ones (the stored reference trajectories: tests/python/test_reference.py)."""
    for s in ("anakinra_depot", "anakinra_central", "anakinra_effect", "emapalumab_central",
              "emapalumab_peripheral", "methylprednisolone_depot", "methylprednisolone_central",
              "methylprednisolone_effect"):
        assert not np.any(untreated.states[:, untreated.state_names.index(s)]), s
    assert np.array_equal(untreated["ifng_free"], obs(untreated, "ifng"))
    assert not np.any(untreated["ifng_bound_emapalumab"])
    assert not np.any(untreated["anakinra_il1_blockade"])


def test_anakinra_lowers_il1_driven_quantities_modestly(default, untreated):
    """100 mg SC q6h for 7 days from day 2 (the untreated course peaks near day 8): IL-1 signalling
    falls with the blockade, and with it what IL-1 drives (myeloid activation, the IL-1
    amplification of IL-6, endothelial activation, fever) — modestly: less than a dexamethasone
    course over the same days (IL-1R blockade lessened cytokine release less than dexamethasone,
    Leclercq-Cohen 2023; prophylactic anakinra did not reduce any-grade CRS, Liang 2025)."""
    ana = treated(default, "anakinra 100 mg sc q6h x28 day 2")
    dex = treated(default, "dexamethasone 10 mg iv q6h x28 day 2")
    r0, r1, r2 = untreated.readouts, ana.readouts, dex.readouts
    rel = {}
    for name in ("il1_signalling", "myeloid_activation", "il6", "crp", "endothelial_activation",
                 "ferritin"):
        p0 = float(obs(untreated, name).max())
        rel[name] = (float(obs(ana, name).max()) / p0, float(obs(dex, name).max()) / p0)
    print(f"\nanakinra 100 mg SC q6h days 2-9: IL-1 blockade up to "
          f"{ana['anakinra_il1_blockade'].max():.2f}; peaks relative to untreated (anakinra, "
          f"dexamethasone 10 mg q6h): "
          + ", ".join(f"{n} {a:.3f} / {d:.3f}" for n, (a, d) in rel.items())
          + f"; peak temperature {obs(untreated, 'temperature').max():.2f} -> "
          f"{obs(ana, 'temperature').max():.2f} degC; max grade {r0['max_grade']:.0f} -> "
          f"{r1['max_grade']:.0f} (dexamethasone {r2['max_grade']:.0f}); hours at grade >= 3 "
          f"{r0['hours_grade_ge3']:.0f} -> {r1['hours_grade_ge3']:.0f}")
    assert ana["anakinra_il1_blockade"].max() > 0.8
    assert rel["il1_signalling"][0] < 0.5
    for name in ("myeloid_activation", "il6", "crp", "endothelial_activation", "ferritin"):
        assert rel[name][0] < 1.0, name
    assert obs(ana, "temperature").max() < obs(untreated, "temperature").max()
    assert r1["hours_grade_ge3"] < r0["hours_grade_ge3"]
    # modest: IL-6 falls by less than half, and less than with dexamethasone; the grade stays
    for name in ("il6", "crp", "myeloid_activation"):
        assert rel[name][1] < rel[name][0], name
    assert rel["il6"][0] > 0.5
    assert r1["max_grade"] == r0["max_grade"]


def test_emapalumab_neutralises_ifng_while_total_ifng_rises(default, untreated):
    emap = treated(default, "emapalumab 1 mg/kg iv over 1h day 2")
    t = untreated.times
    k = int(np.searchsorted(t, 48 + 24))
    after = t >= 48 + 2
    print(f"\nemapalumab 1 mg/kg at 48 h, 24 h later: total IFN-gamma "
          f"{obs(untreated, 'ifng')[k]:.0f} -> {obs(emap, 'ifng')[k]:.0f} pg/mL, free "
          f"{untreated['ifng_free'][k]:.1f} -> "
          f"{emap['ifng_free'][k]:.4f} pg/mL (day 28: total {obs(emap, 'ifng')[-1]:.0f}, free "
          f"{emap['ifng_free'][-1]:.1f} vs {untreated['ifng_free'][-1]:.1f} untreated); peaks: "
          f"myeloid activation {untreated['myeloid_activation'].max():.2f} -> "
          f"{emap['myeloid_activation'].max():.2f}, ferritin {untreated['ferritin'].max():.0f} -> "
          f"{emap['ferritin'].max():.0f} ng/mL, IL-6 {untreated.readouts['il6_peak']:.0f} -> "
          f"{emap.readouts['il6_peak']:.0f} pg/mL; platelet nadir "
          f"{untreated['platelets'].min():.1f} -> {emap['platelets'].min():.1f}; hours at grade "
          f">= 3 "
          f"{untreated.readouts['hours_grade_ge3']:.0f} -> {emap.readouts['hours_grade_ge3']:.0f}; "
          f"emapalumab {emap['emapalumab'][k]:.1f} ug/mL (35 mg)")
    assert float(emap.doses.amount[emap.doses.state == "emapalumab_central"].sum()) == 35.0
    assert obs(emap, "ifng")[k] > 2 * obs(untreated, "ifng")[k]
    assert emap["ifng_free"][k] < 1e-2 * untreated["ifng_free"][k]
    # free IFN-gamma stays within 2x its pre-infusion 5 pg/mL while the untreated course peaks at
    # about 160: the slowly cleared complex holds total IFN-gamma high and, as the antibody wanes,
    # releases free IFN-gamma near the baseline (printed: day 28)
    assert emap["ifng_free"][after].max() < 10.0 < 0.1 * untreated["ifng_free"][after].max()
    assert np.all(obs(emap, "ifng")[after] > obs(untreated, "ifng")[after])
    assert emap["ifng_bound_emapalumab"][k] == pytest.approx(obs(emap, "ifng")[k]
                                                           - emap["ifng_free"][k])
    assert emap["myeloid_activation"].max() < untreated["myeloid_activation"].max()
    assert emap["ferritin"].max() < untreated["ferritin"].max()
    assert emap["platelets"].min() > untreated["platelets"].min()
    # the clearance rises with the accumulated (bound) IFN-gamma
    assert emap["emapalumab_clearance"][k] > untreated["emapalumab_clearance"][k]


def _course_mean(res, untreated, name, lo=72.0, hi=120.0):
    """Mean of an output over the last two days of a course given from day 2 to day 5, relative to
    the untreated run: the glucocorticoid effect acts while it is given (the peaks of the default
    B-ALL patient come later, near the CAR-T peak, which it does not change)."""
    w = (untreated.times >= lo) & (untreated.times <= hi)
    return float(np.mean(obs(res, name)[w]) / np.mean(obs(untreated, name)[w]))


def test_methylprednisolone_acts_like_dexamethasone_at_equipotent_doses(default, untreated):
    """Dexamethasone 10 mg and methylprednisolone 40 mg IV q6h for 3 days from day 2: the Lunsumio
    label's interchangeable premedication doses (20 mg and 80 mg) halved."""
    dex = treated(default, "dexamethasone 10 mg iv q6h x12 day 2")
    mp = treated(default, "methylprednisolone 40 mg iv q6h x12 day 2")
    out = {}
    for name in ("il6", "crp", "ifng", "car_t_blood", "temperature"):
        out[name] = (_course_mean(dex, untreated, name), _course_mean(mp, untreated, name))
    h0, hd, hm = (r.readouts["hours_grade_ge3"] for r in (untreated, dex, mp))
    print("\ndays 3-5 relative to untreated (dexamethasone, methylprednisolone): "
          + ", ".join(f"{n} {d:.3f} / {m:.3f}" for n, (d, m) in out.items())
          + f"; glucocorticoid effect max {dex['dexamethasone_effect_fraction'].max():.3f} / "
          f"{mp['dexamethasone_effect_fraction'].max():.3f}; hours at grade >= 3 {hd:.0f} / {hm:.0f} "
          f"(untreated {h0:.0f}); max grade {dex.readouts['max_grade']:.0f} / "
          f"{mp.readouts['max_grade']:.0f} (untreated {untreated.readouts['max_grade']:.0f})")
    for name in ("il6", "crp"):
        d, m = out[name]
        assert d < 0.1 and m < 0.1, name
        assert m == pytest.approx(d, rel=0.25), name
    # no effect on CAR-T cells (Stein 2019, Fster 1.0)
    assert out["car_t_blood"][0] == pytest.approx(1.0, abs=0.01)
    assert out["car_t_blood"][1] == pytest.approx(1.0, abs=0.01)
    # the course shortens severe CRS alike for both steroids
    assert hm == pytest.approx(hd, rel=0.05)
    assert hd < h0 - 24


def test_methylprednisolone_potency_shows_at_partial_effect(default, untreated):
    """At clinical doses both steroids saturate the effect; at 0.5 mg dexamethasone and 2 mg
    methylprednisolone q6h (the same 1:4 pair) the effect is about half-maximal, where it depends
    on the potency ratio mp_dex_equiv: the two courses agree, a course at half the potency does
    not."""
    w = (untreated.times >= 48) & (untreated.times <= 120)
    runs = {"dexamethasone 0.5 mg": treated(default, "dexamethasone 0.5 mg iv q6h x12 day 2"),
            "methylprednisolone 2 mg": treated(default, "methylprednisolone 2 mg iv q6h x12 day 2")}
    half = default.replace(parameters=dict(default.parameters, mp_dex_equiv=0.27))
    runs["methylprednisolone 2 mg at half potency"] = treated(
        half, "methylprednisolone 2 mg iv q6h x12 day 2")
    eff = {k: float(r["dexamethasone_effect_fraction"][w].mean()) for k, r in runs.items()}
    il6 = {k: _course_mean(r, untreated, "il6") for k, r in runs.items()}
    print("\n" + "; ".join(f"{k}: mean effect days 2-5 {eff[k]:.3f}, IL-6 days 3-5 x{il6[k]:.3f}"
                           for k in runs))
    a, b, c = runs
    assert 0.3 < eff[a] < 0.6
    assert eff[b] == pytest.approx(eff[a], rel=0.05)
    assert il6[b] == pytest.approx(il6[a], rel=0.05)
    assert eff[c] < 0.85 * eff[a] and il6[c] > 1.2 * il6[a]


def test_one_glucocorticoid_effect_for_both_steroids():
    """Methylprednisolone enters the dexamethasone effect as a dexamethasone-equivalent
    concentration, mp_dex_equiv (0.54) per ng/mL: the same effect-site concentration gives the
    same effect whichever steroid it comes from."""
    m = crsim.Model("crs")
    p = m.parameters.set_index("name")["value"]
    ce = 30.0
    a = crsim.simulate(m, times=[0.0, 1e-9],
                       initial={"dexamethasone_effect": ce * p["mp_dex_equiv"]})
    b = crsim.simulate(m, times=[0.0, 1e-9], initial={"methylprednisolone_effect": ce})
    fa, fb = a["dexamethasone_effect_fraction"][0], b["dexamethasone_effect_fraction"][0]
    x = ce * p["mp_dex_equiv"]
    print(f"\nCe {ce:g} ng/mL methylprednisolone = {x:.1f} ng/mL dexamethasone: effect {fb:.4f} "
          f"vs {fa:.4f}")
    assert fb == pytest.approx(fa, rel=1e-12)
    assert fa == pytest.approx(x / (x + p["dex_IC50"]), rel=1e-12)


# --- text regimens -------------------------------------------------------------------------------

@pytest.mark.parametrize("text,state,amount,unit,n", [
    ("anakinra 100 mg sc q6h x12 day 5", "anakinra_depot", 100, "mg", 12),
    ("anakinra 200 mg iv q12h x6", "anakinra_central", 200, "mg", 6),
    ("emapalumab 1 mg/kg iv over 1h day 6", "emapalumab_central", 1, "mg/kg", 1),
    ("methylprednisolone 1 g iv q24h x3 day 6", "methylprednisolone_central", 1000, "mg", 3),
    ("methylprednisolone 2 mg/kg iv q12h x4", "methylprednisolone_central", 2, "mg/kg", 4),
    ("methylprednisolone 32 mg po F 0.82", "methylprednisolone_depot", 32, "mg", 1),
])
def test_text_regimens_name_the_new_drugs(text, state, amount, unit, n):
    d = crsim.parse_regimen(text, targets=targets_for("crs", crsim.Model("crs")._info))
    assert len(d) == 1
    assert (d[0].target, d[0].amount, d[0].unit, d[0].additional + 1) == (state, amount, unit, n)


def test_per_kg_doses_use_the_body_weight():
    """mg/kg doses of the new drugs are resolved with the parameter set's body weight (35 kg in the
    default B-ALL set) or the scenario's."""
    for weight in (None, 60.0):
        sc = crsim.Scenario(name="w", model="crs", parameter_set="crs_tisagenlecleucel_ball",
                            regimen=["emapalumab 1 mg/kg iv", "methylprednisolone 2 mg/kg iv",
                                     "anakinra 4 mg/kg sc"],
                            parameters={} if weight is None else {"body_weight": weight},
                            horizon_h=2)
        res = crsim.simulate(sc)
        w = 35.0 if weight is None else weight
        got = dict(zip(res.doses.state, res.doses.amount))
        assert got == {"emapalumab_central": pytest.approx(w), "methylprednisolone_central":
                       pytest.approx(2 * w), "anakinra_depot": pytest.approx(4 * w)}


@pytest.mark.parametrize("weight", [35.0, 70.0, 100.0, 140.0])
def test_tocilizumab_body_size_follows_frey_2010(weight):
    """Frey 2010's covariate model (linear clearance x BSA^0.7, taken as W^0.35; no body size on the
    volumes, Q or Vmax): the CRS model's tocilizumab course equals pk2_mm (the same Frey structure,
    another model source) with CL scaled and nothing else, at any weight; 8 mg/kg therefore gives
    heavier patients higher peaks, up to the 800 mg cap (issue 15, 'Tocilizumab and body weight')."""
    res = pk_run(["tocilizumab 8 mg/kg iv over 1h max 800mg"], weight, 14 * 24, step=0.5)
    toc = crsim.Model("crs", ADULT).parameter_values
    amount = min(8.0 * weight, 800.0)
    ref = crsim.simulate(crsim.Scenario(
        name="frey", model="pk2_mm", regimen=[f"{amount} mg iv over 1h"], horizon_h=14 * 24,
        outputs={"step_h": 0.5}, solver={"rtol": 1e-10, "atol": 1e-12},
        parameters={"CL": toc["toc_CL"] * (weight / 70.0) ** 0.35, "V1": toc["toc_V1"], "Q": toc["toc_Q"],
                    "V2": toc["toc_V2"], "Vmax": toc["toc_Vmax"], "Km": toc["toc_Km"]}))
    c, c_ref = obs(res, "tocilizumab"), ref["C"]
    np.testing.assert_allclose(c, c_ref, rtol=1e-6, atol=1e-6 * c_ref.max())
    assert toc["toc_CL_wexp"] == 0.35 and toc["toc_V_wexp"] == 0.0
    # Cmax about dose / V1: proportional to the weight below the cap, flat above it
    assert c.max() == pytest.approx(amount / toc["toc_V1"], rel=0.05)
