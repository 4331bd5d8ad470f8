// The T-cell-engager model (models/tce/tce.ant) with its product sets: it simulates, its baseline is
// a steady state, its PK matches the sources, the mechanistic signatures of the issue hold, and the
// calibration checks against Hosseini et al. 2020 (npj Syst Biol Appl 6:28) pass. Every parameter
// changes some output (the sensitivity test).
#include <cmath>
#include <cstdio>

#include "catch.hpp"
#include "tce_fixture.hpp"

using namespace tce_test;

TEST_CASE("tce: the untreated patient stays at the baseline steady state", "[tce]") {
    const auto& m = tce_model();
    for (const auto& set : {kMosun, kBlin, kTec}) {
        const auto p = crsim::parameters_from(m, load_set(set));
        std::vector<double> x0(static_cast<std::size_t>(m.n_states())), dx(x0.size());
        m.initial(p.data(), x0.data());
        m.rhs(0.0, x0.data(), p.data(), dx.data());
        for (std::size_t i = 0; i < dx.size(); ++i) {
            const std::string& name = m.info().states[i].name;
            INFO(set << ": d" << name << "/dt at baseline");
            if (name == "b_tu")  // the tumor grows untreated, at kBtumor (1/day)
                CHECK(dx[i] == Approx(x0[i] * p[static_cast<std::size_t>(m.parameter_index("kBtumor"))] / 24.0));
            else
                CHECK(std::abs(dx[i]) <= 1e-9 * std::max(1.0, std::abs(x0[i])));
        }
    }
}

TEST_CASE("tce: the mosunetuzumab label cycle simulates; cells and cytokines stay non-negative and IL-6 returns to baseline",
          "[tce]") {
    const auto r = run(kMosun, mosun_label_c1_c2(), 42.0);
    const auto& m = tce_model();
    for (std::size_t k = 0; k < r.tr.times.size(); ++k)
        for (int i = 0; i < m.n_states(); ++i) {
            const double v = r.tr.states[k * static_cast<std::size_t>(m.n_states()) + static_cast<std::size_t>(i)];
            INFO(m.info().states[static_cast<std::size_t>(i)].name << " at t = " << r.tr.times[k] << " h");
            REQUIRE(std::isfinite(v));
            CHECK(v >= -1e-6 * (1.0 + std::abs(v)));
        }
    CHECK(r.peak("il6", 0.0, 7.0) > 2.0 * r.at("il6", 0.0));
    CHECK(r.at("il6", 41.9) < 2.0 * r.at("il6", 0.0));
    CHECK(r.at("b_cell_fraction_blood", 13.9) < 0.1);  // blood B cells depleted within the first week
}

TEST_CASE("tce: engager mass balance: dose = in body + eliminated (linear PK, quadrature of CL x C)", "[tce]") {
    // mosunetuzumab 60 mg IV bolus: amount eliminated = CL * AUC; in body = central + peripheral
    const auto r = run(kMosun, {dose("tce_central", 60.0, 0.0)}, 28.0, {}, 0.05);
    const auto& m = tce_model();
    const auto p = crsim::parameters_from(m, load_set(kMosun));
    const double CL = p[static_cast<std::size_t>(m.parameter_index("tce_CL"))];  // 70 kg, exponent 1
    double auc = 0.0;                                                              // ug/mL h = mg/L h
    for (std::size_t k = 1; k < r.tr.times.size(); ++k)
        auc += 0.5 * (r.obs(k, "tce") + r.obs(k - 1, "tce")) * (r.tr.times[k] - r.tr.times[k - 1]);
    const std::size_t last = r.tr.times.size() - 1;
    const double body = r.state(last, "tce_central") + r.state(last, "tce_peripheral");
    CHECK(body + CL * auc == Approx(60.0).epsilon(1e-4));
}

TEST_CASE("tce PK: mosunetuzumab Cmax at the end of C2D1 (label schedule) against the EU SmPC", "[tce][pk]") {
    // Lunsumio EU SmPC section 5.2: mean Cmax at the end of the C2D1 infusion 17.9 ug/mL (CV 49.6 %)
    const auto r = run(kMosun, mosun_label_c1_c2(), 22.5, {}, 0.05);
    const double cmax = r.peak("tce", 21.0, 22.5);
    std::printf("tce PK: mosunetuzumab C2D1 Cmax %.2f ug/mL (SmPC 17.9, CV 49.6 %%)\n", cmax);
    CHECK(cmax > 17.9 * (1 - 0.496));
    CHECK(cmax < 17.9 * (1 + 0.496));
}

TEST_CASE("tce PK: blinatumomab steady state and half-life against Zhu 2013", "[tce][pk]") {
    // Zhu M et al. 2013, J Clin Oncol 31(15 suppl):3048: linear PK, t1/2 about 2 h, CL about 2 L/h
    // (1.9-2.6 L/h by renal function), V about 5 L. The set's Klinger 2012 / Hosseini 2020 values
    // at 1.9 m2 give CL 1.77 L/h and t1/2 1.2 h: checked within a factor stated here.
    const auto r = run(kBlin, {infusion(28.0, 0.0, 7.0)}, 8.0, {}, 0.05);
    const double css = r.at("tce_ngml", 6.9) * 1000.0;  // pg/mL
    const double cl = 28.0 / 24.0 / (css * 1e-3);         // ug/h / (ug/L) = L/h
    double t_half = 0.0;                                  // from the decay after the infusion stops
    for (std::size_t k = 0; k < r.tr.times.size(); ++k)
        if (r.tr.times[k] > 7.0 * 24.0 && r.obs(k, "tce_ngml") * 1000.0 <= css / 2.0) {
            t_half = r.tr.times[k] - 7.0 * 24.0;
            break;
        }
    std::printf("tce PK: blinatumomab 28 ug/day Css %.0f pg/mL, CL %.2f L/h, t1/2 %.2f h (Zhu 2013: ~2 L/h, ~2 h)\n",
                css, cl, t_half);
    CHECK(cl > 2.0 / 1.25);
    CHECK(cl < 2.6);
    CHECK(t_half > 1.0);
    CHECK(t_half < 3.0);
}

TEST_CASE("tce signature: target depletion attenuates the IL-6 peak of a repeated dose", "[tce][signature]") {
    // two equal 2 mg doses a week apart: the first depletes blood B cells, so the second activates
    // fewer T cells (Hosseini 2020's explanation of the first-dose effect). Without killing
    // (kBkill = 0) the targets remain and the second peak is not attenuated the same way.
    const std::vector<crsim::Dose> two = {dose("tce_central", 2.0, 0.0, 4.0), dose("tce_central", 2.0, 7.0, 4.0)};
    const auto r = run(kMosun, two, 14.0);
    const auto nk = run(kMosun, two, 14.0, {{"kBkill", 0.0}});
    const double ratio = r.peak("il6", 7.0, 14.0) / r.peak("il6", 0.0, 7.0);
    const double ratio_nk = nk.peak("il6", 7.0, 14.0) / nk.peak("il6", 0.0, 7.0);
    std::printf("tce signature: second/first IL-6 peak %.3f (targets killed) vs %.3f (no killing)\n", ratio, ratio_nk);
    CHECK(r.at("b_cell_fraction_blood", 6.9) < 0.1);
    CHECK(nk.at("b_cell_fraction_blood", 6.9) > 0.5);
    CHECK(ratio < 0.5);
    CHECK(ratio < 0.5 * ratio_nk);
}

TEST_CASE("tce signature: the label step-up lowers the first full dose's IL-6 peak below a single full dose",
          "[tce][signature]") {
    const auto step = run(kMosun, mosun_label_c1_c2(), 21.0);
    const auto full = run(kMosun, {dose("tce_central", 60.0, 0.0, 4.0)}, 7.0);
    const double p_step = step.peak("il6", 14.0, 21.0), p_full = full.peak("il6", 0.0, 7.0);
    std::printf("tce signature: IL-6 peak after 60 mg: %.1f pg/mL after 1/2 mg steps vs %.1f as the first dose\n",
                p_step, p_full);
    CHECK(p_step < 0.2 * p_full);
    // and the step doses themselves stay below the single full dose
    CHECK(step.peak("il6", 0.0, 14.0) < p_full);
}

TEST_CASE("tce signature: dexamethasone before the dose lowers IL-6 and CRP", "[tce][signature]") {
    // dexamethasone 20 mg IV 1 h before a 60 mg first dose (Lunsumio premedication: dexamethasone 20 mg)
    const auto base = run(kMosun, {dose("tce_central", 60.0, 1.0 / 24.0, 4.0)}, 7.0);
    const auto dex = run(kMosun, {dose("dexamethasone_central", 20.0, 0.0), dose("tce_central", 60.0, 1.0 / 24.0, 4.0)},
                         7.0);
    std::printf("tce signature: dexamethasone 20 mg: IL-6 peak %.1f -> %.1f, CRP peak %.1f -> %.1f\n",
                base.peak("il6", 0, 7), dex.peak("il6", 0, 7), base.peak("crp", 0, 7), dex.peak("crp", 0, 7));
    CHECK(dex.peak("il6", 0, 7) < 0.8 * base.peak("il6", 0, 7));
    CHECK(dex.peak("crp", 0, 7) < 0.9 * base.peak("crp", 0, 7));
}

TEST_CASE("tce signature: tocilizumab lowers CRP while total IL-6 rises", "[tce][signature]") {
    // tocilizumab 8 mg/kg (560 mg at 70 kg) IV over 1 h, 2 h after the start of a 60 mg first dose
    const auto base = run(kMosun, {dose("tce_central", 60.0, 0.0, 4.0)}, 7.0);
    const auto toc = run(kMosun, {dose("tce_central", 60.0, 0.0, 4.0), dose("tocilizumab_central", 560.0, 2.0 / 24.0, 1.0)},
                         7.0);
    std::printf("tce signature: tocilizumab: IL-6 peak %.1f -> %.1f, CRP peak %.1f -> %.1f\n",
                base.peak("il6", 0, 7), toc.peak("il6", 0, 7), base.peak("crp", 0, 7), toc.peak("crp", 0, 7));
    CHECK(toc.peak("il6", 0, 7) > 1.2 * base.peak("il6", 0, 7));
    CHECK(toc.peak("crp", 0, 7) < 0.8 * base.peak("crp", 0, 7));
}

TEST_CASE("tce: the priming/desensitisation switch", "[tce][signature]") {
    // off (the sets' default): tolerance stays 0. On: prior activation lowers the IL-6 released by a
    // later dose beyond what target depletion does
    const std::vector<crsim::Dose> two = {dose("tce_central", 2.0, 0.0, 4.0), dose("tce_central", 2.0, 7.0, 4.0)};
    const auto off = run(kMosun, two, 14.0);
    const auto on = run(kMosun, two, 14.0, {{"priming_on", 1.0}});
    CHECK(off.peak("tolerance", 0.0, 14.0) == 0.0);
    CHECK(on.peak("tolerance", 0.0, 14.0) > 0.1);
    CHECK(on.peak("il6", 0.0, 7.0) == Approx(off.peak("il6", 0.0, 7.0)).epsilon(0.2));
    CHECK(on.peak("il6", 7.0, 14.0) < 0.8 * off.peak("il6", 7.0, 14.0));
}

TEST_CASE("tce: the instantaneous ASTCT grade is a derived output of the model", "[tce]") {
    const auto full = run(kMosun, {dose("tce_central", 60.0, 0.0, 4.0)}, 7.0);
    const auto low = run(kMosun, {dose("tce_central", 0.05, 0.0, 4.0)}, 7.0);
    std::printf("tce: highest grade after 60 mg first dose %.0f, after 0.05 mg %.0f; peak T %.2f / %.2f degC\n",
                full.peak("crs_grade_now", 0, 7), low.peak("crs_grade_now", 0, 7), full.peak("temperature", 0, 7),
                low.peak("temperature", 0, 7));
    CHECK(full.peak("crs_grade_now", 0, 7) >= 1.0);
    CHECK(low.peak("crs_grade_now", 0, 7) == 0.0);
}

TEST_CASE("tce: every parameter changes some output (no parameter silently ignored)", "[tce][sensitivity]") {
    // One scenario that exercises every route: the priming switch on, a saturable elimination, an SC
    // dose (ka, F), a time-varying clearance (CL_tv, kdes) and an IV dose of the engager,
    // tocilizumab, siltuximab, oral and IV dexamethasone.
    // An 80 kg patient (weight scaling acts) and post-activated T cells returning to rest within days
    // (fTa0deact 0.5/day instead of 0.001/day), so that blood resting T cells exceed their baseline and
    // their homeostatic death (fTrapop) acts. Each parameter in turn is moved by 10 % (towards the
    // inside of its bounds); some observable must change by more than 1e-6 relative.
    const auto& m = tce_model();
    const std::map<std::string, double> base_ov = {
        {"priming_on", 1.0}, {"tce_Vmax", 0.001}, {"tce_ka", 0.02}, {"tce_F", 0.7}, {"body_weight", 80.0},
        {"fTa0deact", 0.5}, {"tce_CL_tv", 0.01}, {"tce_kdes", 0.01}};
    const std::vector<crsim::Dose> doses = {
        dose("tce_depot", 1.0, 0.0), dose("dexamethasone_depot", 10.0, 0.5), dose("tocilizumab_central", 560.0, 1.0, 1.0),
        dose("siltuximab_central", 770.0, 2.0, 1.0), dose("tce_central", 2.0, 7.0, 4.0),
        dose("dexamethasone_central", 10.0, 8.0)};
    auto outputs = [&](const std::map<std::string, double>& ov) {
        return run(kMosun, doses, 14.0, ov, 2.0).tr.observables;
    };
    const auto p0 = crsim::parameters_from(m, load_set(kMosun), base_ov);
    const auto y0 = outputs(base_ov);
    std::vector<std::string> ignored;
    for (int j = 0; j < m.n_parameters(); ++j) {
        const auto& info = m.info().parameters[static_cast<std::size_t>(j)];
        const double v = p0[static_cast<std::size_t>(j)];
        double nv = v != 0.0 ? v * 1.1 : 0.1;
        if (nv > info.upper) nv = v != 0.0 ? v * 0.9 : info.upper;
        auto ov = base_ov;
        ov[info.name] = nv;
        const auto y = outputs(ov);
        double worst = 0.0;
        for (std::size_t k = 0; k < y.size(); ++k)
            worst = std::max(worst, std::abs(y[k] - y0[k]) / (std::abs(y0[k]) + 1e-9));
        if (!(worst > 1e-6)) ignored.push_back(info.name);
    }
    std::string list;
    for (const auto& n : ignored) list += n + " ";
    INFO("parameters without effect: " << list);
    CHECK(ignored.empty());
}

TEST_CASE("tce calibration: blinatumomab step-up vs flat serum IL-6 (Hosseini 2020)", "[tce][calibration]") {
    // Hosseini 2020: serum IL-6 in NHL after blinatumomab 5 -> 15 -> 60 ug/m2/day weekly (n = 21,
    // their calibration data) and flat 60 ug/m2/day (n = 9, their validation data), as digitised from
    // the paper's figure by a third party (yuezheli/hosseini-2020, data/hosseini-blincyto-il6/): days
    // 0-2 geometric mean 87 pg/mL (step) and 206 pg/mL (flat), ratio 2.4; the step-up's later weeks
    // 54 and 36 pg/mL. The sets calibrate kIL6prod (level) and f_IL6tiss (the step/flat ratio).
    const auto st = run(kBlin, blin_step(3.0), 21.0, {}, 0.1);
    const auto fl = run(kBlin, blin_flat(1.0), 7.0, {}, 0.1);
    const double s1 = st.peak("il6", 0, 7), s2 = st.peak("il6", 7, 14), s3 = st.peak("il6", 14, 21);
    const double f1 = fl.peak("il6", 0, 7);
    std::printf("tce calibration: blinatumomab IL-6 peaks step %.0f / %.0f / %.0f (weeks 1-3), flat %.0f pg/mL; "
                "flat/step %.2f (data 2.4)\n", s1, s2, s3, f1, f1 / s1);
    CHECK(s1 > 87.0 / 2);
    CHECK(s1 < 87.0 * 2);
    CHECK(f1 / s1 > 1.5);
    CHECK(f1 / s1 < 4.0);
    CHECK(s2 < s1);  // later weeks lower despite 3x and 12x the first week's dose
    CHECK(s3 < s1);
}

TEST_CASE("tce calibration: mosunetuzumab first-dose IL-6 peak by C1D1 dose (Hosseini 2020 Fig. 6)",
          "[tce][calibration]") {
    // First-dose peak IL-6 of the Phase I patients by C1D1 dose (Hosseini 2020 Fig. 6, as digitised by
    // a third party, yuezheli/hosseini-2020 script/hosseini-simplified-il6.jl): range at each dose;
    // 0.05 and 0.2 mg one patient each (4.7, 12.8 pg/mL); middle of the 0.8 mg group 65-75 pg/mL
    // (the calibration target of kIL6prod). The model's typical patient must fall in each range.
    struct Obs { double mg, lo, hi; };
    const std::vector<Obs> obs = {{0.05, 4.7 / 10, 4.7 * 10}, {0.2, 12.8 / 10, 12.8 * 10}, {0.4, 9, 259},
                                  {0.8, 3.8, 1308}, {1.0, 3.3, 2344}, {1.2, 16.6, 247}, {1.6, 17, 1644},
                                  {2.0, 4.8, 1242}, {2.8, 12, 423}};
    double last = 0.0;
    for (const auto& o : obs) {
        const auto r = run(kMosun, {dose("tce_central", o.mg, 0.0, 4.0)}, 4.0, {}, 0.1);
        const double p = r.peak("il6", 0, 4);
        std::printf("tce calibration: mosunetuzumab C1D1 %.2f mg: IL-6 peak %.1f pg/mL (observed %.1f-%.1f)\n", o.mg, p,
                    o.lo, o.hi);
        CHECK(p > o.lo);
        CHECK(p < o.hi);
        CHECK(p > last);  // rises with dose
        last = p;
        if (o.mg == 0.8) {
            CHECK(p > 70.0 / 1.5);
            CHECK(p < 70.0 * 1.5);
        }
    }
}
