// CRS model: the default patient of each parameter set against the calibration targets of
// shared/science (clinical.md sec. 7b, drugs.md sec. 12). Each check prints the simulated value
// beside the target and its source (shown with -s or on failure).
#include <cmath>
#include <string>

#include "catch.hpp"
#include "crs_fixture.hpp"

using namespace crs_test;

namespace {
void in_range(const std::string& what, double v, double lo, double hi, const char* target,
              const char* src) {
    INFO(what << ": simulated " << v << ", target " << target << " (accepted " << lo << " - " << hi
              << "), source: " << src);
    WARN(what << ": simulated " << v << " | target " << target << " | " << src);
    CHECK(v >= lo);
    CHECK(v <= hi);
}

// Peak IL-6, CRP and ferritin against the bands for the patient's own max ASTCT grade.
void biomarkers_for_grade(const std::string& set, const crsim::models::CrsReadouts& r) {
    const std::string g = set + " (max grade " + std::to_string(r.max_grade) + ")";
    if (r.max_grade >= 3) {
        in_range(g + " peak IL-6 pg/mL", r.il6_peak, 300, 10000, "300-10,000 for grade >= 3",
                 "clinical.md 7b row 31 [recalled]");
        in_range(g + " peak CRP mg/L", r.crp_peak, 200, 400, ">= 200 in severe CRS",
                 "clinical.md 7b row 30 (Davila 2014) [recalled]");
        in_range(g + " peak ferritin ng/mL", r.ferritin_peak, 2186, 14614,
                 "median 5,467 (IQR 2,186-14,614), high-grade CRS without HLH",
                 "clinical.md 7b row 23 [read]");
    } else {
        in_range(g + " peak IL-6 pg/mL", r.il6_peak, 10, 300, "10-300 for grade 1-2",
                 "clinical.md 7b row 31 [recalled]");
        in_range(g + " peak CRP mg/L", r.crp_peak, 50, 200, "50-150 in mild CRS (accepted to 200)",
                 "clinical.md 4.4 [recalled]");
        in_range(g + " peak ferritin ng/mL", r.ferritin_peak, 855, 4048,
                 "median 2,035 (IQR 855-4,048), no or low-grade CRS", "clinical.md 7b row 22 [read]");
    }
}
}  // namespace

TEST_CASE("tisagenlecleucel B-ALL default patient meets its calibration targets", "[crs][calibration]") {
    Scenario sc;
    sc.set = "crs_tisagenlecleucel_ball";
    const Run run_ = run(sc);
    const auto& r = run_.r;
    in_range("tisa-cel CAR-T Tmax d", r.cart_tmax_h / 24, 7, 14, "about day 10 (7-14)",
             "Mueller 2018 / Stein 2019 [recalled]");
    in_range("tisa-cel CAR-T Cmax cells/uL", r.cart_cmax, 20, 500, "tens to hundreds of cells/uL",
             "Mueller 2018 [recalled; qPCR copies/ug not convertible]");
    in_range("tisa-cel CRS onset d", r.onset_h / 24, 2, 4, "median day 3 (1-22)",
             "clinical.md 7b row 8, Kymriah label [read]");
    in_range("tisa-cel CRS duration d", r.duration_h / 24, 1, 36, "median 8 d (1-36)",
             "clinical.md 7b row 8 [read]");
    in_range("tisa-cel max temperature degC", r.temp_max, 38.6, 41.5, ">= 38.6 in 95 % with CRS",
             "clinical.md 7b row 35 [read]");
    CHECK(r.max_grade >= 1);
    biomarkers_for_grade(sc.set, r);
}

TEST_CASE("axicabtagene LBCL default patient meets its calibration targets", "[crs][calibration]") {
    Scenario sc;
    sc.set = "crs_axicabtagene_lbcl";
    const Run run_ = run(sc);
    const auto& r = run_.r;
    in_range("axi-cel CAR-T Tmax d", r.cart_tmax_h / 24, 5, 14, "within the first 2 weeks",
             "ZUMA-1, Neelapu 2017 [recalled]");
    in_range("axi-cel CAR-T Cmax cells/uL", r.cart_cmax, 10, 60, "median 16 (real world) to 38 (ZUMA-1)",
             "Blood Adv 2021;5:2523 [read]; Neelapu 2017 [recalled]");
    in_range("axi-cel CRS onset d", r.onset_h / 24, 1, 3, "median day 2 (1-12)",
             "clinical.md 7b row 3, Yescarta label [read]");
    in_range("axi-cel CRS duration d", r.duration_h / 24, 2, 58, "median 7 d (2-58)",
             "clinical.md 7b row 4 [read]");
    CHECK(r.max_grade >= 1);
    CHECK(r.max_grade <= 2);  // the typical ZUMA-1 patient: 94 % any grade, 13 % grade >= 3
    biomarkers_for_grade(sc.set, r);
}

TEST_CASE("tocilizumab PK in the CRS model reproduces Frey 2010", "[crs][calibration][tocilizumab]") {
    // A 70 kg adult without CAR-T cells: the drug PK is then that of Frey's typical patient.
    Scenario sc;
    sc.set = "crs_axicabtagene_lbcl";
    sc.overrides = {{"body_weight", 70.0}};
    sc.car_t_per_kg = 0.0;
    sc.days = 35;
    sc.extra_doses = {tocilizumab(0.0, 70.0)};
    const Run one = run(sc);
    double cmax = 0;
    for (std::size_t k = 0; k < one.tr.times.size(); ++k) cmax = std::max(cmax, one.obs(k, "tocilizumab"));
    const char* t2 = "drugs.md 12.1 T2 [computed from Frey 2010]";
    in_range("tocilizumab 8 mg/kg Cmax ug/mL", cmax, 150, 190, "150-190 (Frey typical 159)",
             "drugs.md 12.1 T1 [computed/label]");
    in_range("tocilizumab day 1 ug/mL", one.obs(one.at(24), "tocilizumab"), 137 * 0.9, 137 * 1.1, "about 137", t2);
    in_range("tocilizumab day 7 ug/mL", one.obs(one.at(168), "tocilizumab"), 56 * 0.85, 56 * 1.15, "about 56", t2);
    in_range("tocilizumab day 14 ug/mL", one.obs(one.at(336), "tocilizumab"), 21 * 0.8, 21 * 1.2, "about 21", t2);
    in_range("tocilizumab day 21 ug/mL", one.obs(one.at(504), "tocilizumab"), 8 * 0.75, 8 * 1.25, "about 8", t2);
    in_range("tocilizumab day 28 ug/mL", one.obs(one.at(672), "tocilizumab"), 2.7 * 0.7, 2.7 * 1.3, "about 2.7", t2);

    // CRS regimen: 3 x 560 mg, 8 h apart.
    sc.extra_doses = {tocilizumab(0.0, 70.0), tocilizumab(8.0, 70.0), tocilizumab(16.0, 70.0)};
    sc.days = 8;
    const Run three = run(sc);
    double peak3 = 0;
    for (std::size_t k = 0; k < three.tr.times.size(); ++k) peak3 = std::max(peak3, three.obs(k, "tocilizumab"));
    in_range("tocilizumab 3 x 560 mg peak ug/mL", peak3, 455 * 0.9, 455 * 1.1, "about 455",
             "drugs.md 12.1 T10 [computed from Frey 2010]");
    in_range("tocilizumab 3 x 560 mg day 7 ug/mL", three.obs(three.at(168), "tocilizumab"), 196 * 0.85,
             196 * 1.15, "about 196", "drugs.md 12.1 T10 [computed from Frey 2010]");
}

TEST_CASE("tocilizumab in the CRS model equals the pk2_mm model with Frey's parameters",
          "[crs][tocilizumab]") {
    // Independent implementation: the PK library's two-compartment Michaelis-Menten model.
    const auto& pk = *crsim::models::builtin_registry().get("pk2_mm");
    crsim::Problem pr;
    pr.parameters = pk.parameters_with({{"CL", 0.0125}, {"V1", 3.5}, {"Q", 0.00833}, {"V2", 2.9},
                                        {"Vmax", 0.3125}, {"Km", 2.7}});
    crsim::Dose d;
    d.target = "central";
    d.amount = 560.0;
    d.duration = 1.0;
    pr.doses = {d};
    for (double t = 0; t <= 24 * 28; t += 24) pr.times.push_back(t);
    pr.options.rtol = 1e-10;
    pr.options.atol = 1e-12;
    const auto ref = crsim::simulate(pk, pr);

    Scenario sc;
    sc.set = "crs_axicabtagene_lbcl";
    sc.overrides = {{"body_weight", 70.0}};
    sc.car_t_per_kg = 0.0;
    sc.step_h = 24;
    sc.extra_doses = {tocilizumab(0.0, 70.0)};
    sc.rtol = 1e-10;
    sc.atol = 1e-12;
    const Run r = run(sc);
    for (std::size_t k = 0; k < ref.times.size(); ++k) {
        const double c_ref = ref.observables[k * 2];
        INFO("t = " << ref.times[k] << " h: pk2_mm " << c_ref << ", crs " << r.obs(k, "tocilizumab"));
        CHECK(std::abs(r.obs(k, "tocilizumab") - c_ref) <= 1e-6 * std::max(1.0, c_ref));
    }
}

TEST_CASE("dexamethasone 10 mg IV q6h reaches the computed steady-state exposure", "[crs][calibration][dex]") {
    Scenario sc;
    sc.set = "crs_axicabtagene_lbcl";
    sc.overrides = {{"body_weight", 70.0}};
    sc.car_t_per_kg = 0.0;
    sc.days = 3;
    sc.step_h = 0.25;
    sc.extra_doses = {dexamethasone_iv(0.0, 12)};
    const Run r = run(sc);
    // the interval 60-66 h (11th dose at 60 h): peak just after the bolus, trough before the next
    const double peak = r.obs(r.at(60.0), "dexamethasone");
    const double trough = r.obs(r.at(65.75), "dexamethasone");
    in_range("dexamethasone q6h steady-state Cmax ng/mL", peak, 170, 215, "about 170-210",
             "drugs.md 12.4 D2 [computed, 1 compartment]");
    in_range("dexamethasone q6h steady-state trough ng/mL", trough, 43, 56, "about 45-55",
             "drugs.md 12.4 D2 [computed, 1 compartment]");
}

TEST_CASE("siltuximab PK in the CRS model reproduces the digest's model and the label",
          "[crs][calibration][siltuximab]") {
    // 11 mg/kg over 1 h every 3 weeks at 70 kg, no CAR-T cells: drugs.md sec. 3 computes first dose
    // Cmax 189 / trough 48 ug/mL and tenth dose Cmax 289 / trough 100 ug/mL with these parameters
    // (label steady state: Cmax 332 (42 % CV), trough 84 (78 % CV) ug/mL; drugs.md 12.4 S1), and a
    // terminal half-life of 22.4 d (S2: population medians 19.1-24.5 d).
    Scenario sc;
    sc.set = "crs_axicabtagene_lbcl";
    sc.overrides = {{"body_weight", 70.0}};
    sc.car_t_per_kg = 0.0;
    sc.days = 10 * 21;
    sc.step_h = 0.5;
    for (int k = 0; k < 10; ++k) sc.extra_doses.push_back(siltuximab(504.0 * k));
    const Run r = run(sc);
    auto peak_trough = [&](int k) {
        double cmax = 0.0;
        for (std::size_t i = 0; i < r.tr.times.size(); ++i)
            if (r.tr.times[i] > 504.0 * k && r.tr.times[i] <= 504.0 * k + 6.0) cmax = std::max(cmax, r.obs(i, "siltuximab"));
        return std::make_pair(cmax, r.obs(r.at(504.0 * (k + 1) - 0.5), "siltuximab"));
    };
    const auto first = peak_trough(0), tenth = peak_trough(9);
    const char* digest = "drugs.md sec. 3 / 12.4 S1 [computed with this model]";
    in_range("siltuximab dose 1 Cmax ug/mL", first.first, 189 * 0.9, 189 * 1.1, "about 189", digest);
    in_range("siltuximab dose 1 trough ug/mL", first.second, 48 * 0.85, 48 * 1.15, "about 48", digest);
    in_range("siltuximab dose 10 Cmax ug/mL", tenth.first, 289 * 0.9, 289 * 1.1, "about 289 (label 332)", digest);
    in_range("siltuximab dose 10 trough ug/mL", tenth.second, 100 * 0.85, 100 * 1.15, "about 100 (label 84)", digest);
    // terminal half-life from the last interval's decline, days 14-21 after the tenth dose
    const double c1 = r.obs(r.at(504.0 * 9 + 336.0), "siltuximab"), c2 = r.obs(r.at(504.0 * 9 + 503.0), "siltuximab");
    const double thalf_d = std::log(2.0) * (503.0 - 336.0) / std::log(c1 / c2) / 24.0;
    in_range("siltuximab apparent half-life d (days 14-21)", thalf_d, 15.0, 26.0,
             "19-25 d (population medians; terminal 22.4 d)", "drugs.md 12.4 S2 [read: Nikanjam 2019]");
}

TEST_CASE("siltuximab captures IL-6: total IL-6 rises, free IL-6 and its signalling fall, sIL-6R unchanged",
          "[crs][behaviour][siltuximab]") {
    // drugs.md sec. 3 (design inference from the mechanism): siltuximab binds IL-6 itself; the
    // complex is cleared slowly (0.03 /d), so immunoassay (total) IL-6 accumulates while free IL-6
    // falls; sIL-6R is not a target.
    Scenario base;
    base.days = 10;
    const Run untreated = run(base);
    Scenario treated = base;
    treated.extra_doses = {siltuximab(72.0)};
    const Run t = run(treated);
    auto at = [](const Run& r, const char* obs, double h) { return r.obs(r.at(h), obs); };
    CHECK(at(t, "siltuximab", 73.0) > 100.0);
    CHECK(at(t, "il6", 96.0) > 1.5 * at(untreated, "il6", 96.0));
    CHECK(at(t, "il6_free", 96.0) < 1e-3 * at(untreated, "il6_free", 96.0));
    CHECK(at(t, "il6_signalling_fraction", 96.0) < 0.05 * at(untreated, "il6_signalling_fraction", 96.0));
    CHECK(at(t, "il6_bound_siltuximab", 96.0) > 0.99 * at(t, "il6", 96.0));
    CHECK(at(t, "crp", 120.0) < 0.7 * at(untreated, "crp", 120.0));
    CHECK(at(t, "temperature", 96.0) < at(untreated, "temperature", 96.0));
    CHECK(std::abs(at(t, "sil6r", 120.0) / at(untreated, "sil6r", 120.0) - 1.0) < 0.01);
    // before the dose nothing differs
    CHECK(at(t, "il6", 71.0) == Approx(at(untreated, "il6", 71.0)).epsilon(1e-6));
}
