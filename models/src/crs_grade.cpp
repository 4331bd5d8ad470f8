// ASTCT grade (Lee DW et al. 2019, Biol Blood Marrow Transplant 25:625) and clinical readouts of CRS
// trajectories (docs/model.md sec. 7).
#include "crsim/models/crs_grade.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <string>

#include "crsim/errors.hpp"

namespace crsim::models {

Support supportive_care(const GraderInputs& in, const GradingPolicy& pol) {
    Support s;
    s.hypotension = in.sbp < pol.sbp_hypotension || in.map < pol.map_target;
    if (s.hypotension) {
        const double deficit = pol.map_target - (in.map + pol.fluid_map_gain);
        s.fluid_responsive = deficit <= 0.0;
        if (deficit > 0.0) {
            s.n_vaso_nonavp = deficit > pol.ne_avp_restorable ? 2 : 1;
            s.avp_on = deficit > pol.ne_restorable;
        }
    }
    if (in.fio2_required > pol.fio2_positive_pressure)
        s.o2 = O2Device::PositivePressure;
    else if (in.fio2_required > pol.fio2_low_flow_max)
        s.o2 = O2Device::HighFlow;
    else if (in.fio2_required > pol.fio2_room_air)
        s.o2 = O2Device::LowFlow;
    return s;
}

int hypotension_level(const Support& s) {
    if (s.n_vaso_nonavp >= 2) return 4;
    if (s.n_vaso_nonavp == 1) return 3;
    return s.hypotension ? 2 : 0;
}

int oxygen_level(const Support& s) {
    switch (s.o2) {
        case O2Device::PositivePressure: return 4;
        case O2Device::HighFlow: return 3;
        case O2Device::LowFlow: return 2;
        default: return 0;
    }
}

int astct_grade(const GraderInputs& in, bool in_crs_episode, bool fever_waived, bool dead,
                const GradingPolicy& pol) {
    if (dead && in_crs_episode) return 5;
    if (!in_crs_episode) return 0;
    const bool fever_now = in.temperature >= pol.fever_c;
    if (!(fever_now || fever_waived)) return 0;
    const Support s = supportive_care(in, pol);
    return std::max({1, hypotension_level(s), oxygen_level(s)});
}

int astct_grade_now(const GraderInputs& in, bool anticytokine_active, const GradingPolicy& pol) {
    const bool fever_now = in.temperature >= pol.fever_c;
    if (!fever_now && !anticytokine_active) return 0;
    const Support s = supportive_care(in, pol);
    return std::max({fever_now ? 1 : 0, hypotension_level(s), oxygen_level(s)});
}

GradeCourse astct_grade_course(const std::vector<double>& times, const std::vector<GraderInputs>& in,
                               const std::vector<double>& anticytokine_h, const GradingPolicy& pol) {
    if (in.size() != times.size())
        throw InputError("inputs", std::to_string(in.size()) + " time points",
                         std::to_string(times.size()) + " (one per output time)");
    GradeCourse gc;
    gc.grade.assign(times.size(), 0);
    bool active = false;
    double quiet_since = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t k = 0; k < times.size(); ++k) {
        const double t = times[k];
        const GraderInputs& x = in[k];
        const bool fever = x.temperature >= pol.fever_c;
        const Support s = supportive_care(x, pol);
        const bool quiet = !fever && !s.hypotension && s.o2 == O2Device::None;
        if (!active && fever) {
            active = true;
            gc.episodes.push_back(Episode{t, std::numeric_limits<double>::quiet_NaN(), 0});
            quiet_since = std::numeric_limits<double>::quiet_NaN();
        }
        if (active) {
            Episode& ep = gc.episodes.back();
            if (quiet) {
                if (std::isnan(quiet_since)) quiet_since = t;
                if (t - quiet_since >= pol.resolution_h) {
                    ep.resolution_h = quiet_since;
                    active = false;
                }
            } else {
                quiet_since = std::numeric_limits<double>::quiet_NaN();
            }
            bool waived = false;
            for (double ta : anticytokine_h) waived = waived || (ta >= ep.onset_h && ta <= t);
            // Within the 24 h confirmation window the patient is still counted in the episode.
            gc.grade[k] = astct_grade(x, true, waived, false, pol);
            ep.max_grade = std::max(ep.max_grade, gc.grade[k]);
        }
    }
    return gc;
}

std::vector<ReadoutWatch> crs_readout_watch(const GradingPolicy& pol) {
    const double fluids = pol.map_target - pol.fluid_map_gain;  // MAP below: fluids do not suffice
    const auto ge = Comparison::GreaterEqual, le = Comparison::LessEqual;
    return {
        {"temperature", ge, pol.fever_c},
        {"sbp", ge, pol.sbp_hypotension},
        {"map", ge, pol.map_target},
        {"map", ge, fluids},
        {"map", ge, fluids - pol.ne_restorable},
        {"map", ge, fluids - pol.ne_avp_restorable},
        {"fio2_required", le, pol.fio2_room_air},
        {"fio2_required", le, pol.fio2_low_flow_max},
        {"fio2_required", le, pol.fio2_positive_pressure},
        {"b_cell_fraction", ge, kBCellAplasiaFraction},
        // the end of the early window of mcp1_peak_36h and temp_max_36h: a point within the
        // bisection tolerance before 36 h (the steps alone could end hours before it)
        {"time", ge, kEarlyWindowH},
    };
}

namespace {
// Per point k, the largest (or smallest) y[j] over the points j <= k with ts[j] >= ts[k] - width
// (a monotone queue: linear in the number of points).
std::vector<double> window_extreme(const std::vector<double>& ts, const std::vector<double>& y,
                                   double width, bool largest) {
    std::vector<double> out(ts.size());
    std::deque<std::size_t> q;
    for (std::size_t k = 0; k < ts.size(); ++k) {
        while (!q.empty() && (largest ? y[q.back()] <= y[k] : y[q.back()] >= y[k])) q.pop_back();
        q.push_back(k);
        while (ts[q.front()] < ts[k] - width) q.pop_front();
        out[k] = y[q.front()];
    }
    return out;
}

// Each output time's point: the last point of ts at or before it (after a discontinuity's doses,
// as outputs are); ts.size() when there is none.
std::vector<std::size_t> output_points(const std::vector<double>& out, const std::vector<double>& ts) {
    std::vector<std::size_t> at(out.size(), ts.size());
    for (std::size_t k = 0; k < out.size(); ++k) {
        const auto it = std::upper_bound(ts.begin(), ts.end(), out[k]);
        if (it != ts.begin()) at[k] = static_cast<std::size_t>(it - ts.begin()) - 1;
    }
    return at;
}

// Times of the doses into states whose names start with one of the prefixes.
template <std::size_t N>
std::vector<double> dose_times(const Model& model, const Trajectory& tr, const char* const (&prefixes)[N]) {
    std::vector<double> times;
    for (const DoseEvent& d : tr.doses) {
        const std::string& s = model.info().states[static_cast<std::size_t>(d.state)].name;
        for (const char* prefix : prefixes)
            if (s.rfind(prefix, 0) == 0) {
                times.push_back(d.time);
                break;
            }
    }
    return times;
}

// The grade course (at the points ts) read at the output times (their points `at`), 0 once the
// episode of that point closed (pol.resolution_h after its last quiet start).
std::vector<int> grade_at(const std::vector<double>& out, const std::vector<std::size_t>& at,
                          const std::vector<double>& ts, const GradeCourse& gc, const GradingPolicy& pol) {
    std::vector<int> g(out.size(), 0);
    for (std::size_t k = 0; k < out.size(); ++k) {
        const std::size_t j = at[k];
        if (j >= ts.size()) continue;
        g[k] = gc.grade[j];
        const Episode* ep = nullptr;
        for (const Episode& e : gc.episodes)
            if (e.onset_h <= ts[j]) ep = &e;
        if (g[k] > 0 && ep != nullptr && !std::isnan(ep->resolution_h) &&
            ts[j] >= ep->resolution_h && out[k] - ep->resolution_h >= pol.resolution_h)
            g[k] = 0;
    }
    return g;
}

// Hyperinflammation flags (docs/model.md sec. 7b): IEC-HS as read from Hines MR et al. 2023
// (Transplant Cell Ther 29:438), carHLH (Neelapu SS et al. 2018, Nat Rev Clin Oncol 15:47),
// HLH-2004 (Henter JI et al. 2007, Pediatr Blood Cancer 48:124) and the HScore (Fardet L et al.
// 2014, Arthritis Rheumatol 66:2613), on the points ts; every criterion reported in r.criteria.
struct Labs {
    const std::vector<double>&fer, &il6, &temp, &fib, &ast, &anc, &plt, &hb, &fio2, &map, &sbp;
};

void hyperinflammation(const std::vector<double>& ts, const std::vector<double>& out_times,
                       const std::vector<std::size_t>& out_point, const Labs& L,
                       const std::vector<double>& therapy_h, const GradeCourse& gc,
                       const GradingPolicy& pol, CrsReadouts& r) {
    using Criterion = CrsReadouts::Criterion;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::size_t T = ts.size();
    auto add = [&r](const char* def, const char* key, std::string what, bool evaluable,
                    const char* unit = "") {
        Criterion c;
        c.definition = def;
        c.key = key;
        c.criterion = std::move(what);
        c.evaluable = evaluable;
        c.unit = unit;
        r.criteria.push_back(c);
        return r.criteria.size() - 1;
    };
    // criterion i met at point k with value v (its worst value: the largest, or the smallest)
    auto hit = [&r, &ts](std::size_t i, std::size_t k, double v, bool low = false) {
        Criterion& c = r.criteria[i];
        if (!c.met) {
            c.met = true;
            c.first_h = ts[k];
            c.value = v;
        } else {
            c.value = low ? std::min(c.value, v) : std::max(c.value, v);
        }
    };
    const double fer0 = L.fer.front(), ast0 = L.ast.front();
    const double fer_thr = 2.0 * std::max(pol.ferritin_uln, fer0);
    const double ast_thr = 5.0 * std::max(pol.ast_uln, ast0);
    char buf[200];

    // --- IEC-HS -------------------------------------------------------------------------------
    std::snprintf(buf, sizeof buf, "ferritin > 2 x max(ULN %.0f, value at infusion %.0f) = %.0f ng/mL",
                  pol.ferritin_uln, fer0, fer_thr);
    const std::size_t c_fer = add("IEC-HS", "ferritin", buf, true, "ng/mL");
    std::snprintf(buf, sizeof buf,
                  "onset as CRS resolves: after CRS onset, IL-6 <= %.0f %% of its peak, or %.0f d after onset",
                  100.0 * pol.iec_resolving_il6_fraction, pol.iec_resolving_after_onset_h / 24.0);
    const std::size_t c_res = add("IEC-HS", "timing", buf, true, "h");
    std::snprintf(buf, sizeof buf, "worsening ferritin: >= %.1f x its value when the CRS began to resolve",
                  pol.iec_ferritin_rise);
    const std::size_t c_rise = add("IEC-HS", "ferritin_rise", buf, true, "ng/mL");
    const std::size_t c_cyto = add("IEC-HS", "cytopenia", "new or worsening cytopenia since the CRS began to resolve "
                                   "(ANC < 1.0, platelets < 100 x 1e9/L or Hb < 9.0 g/dL, newly or at half "
                                   "the value then)", true, "lineages");
    const std::size_t c_fib = add("IEC-HS", "hypofibrinogenaemia", "hypofibrinogenaemia: fibrinogen < 150 mg/dL", true, "mg/dL");
    std::snprintf(buf, sizeof buf, "transaminitis: AST >= 5 x max(ULN %.0f, value at infusion) = %.0f U/L",
                  pol.ast_uln, ast_thr);
    const std::size_t c_ast = add("IEC-HS", "transaminitis", buf, true, "U/L");
    add("IEC-HS", "haemophagocytosis", "haemophagocytosis in marrow or tissue", false);
    add("IEC-HS", "coagulopathy", "coagulopathy (PT/INR), hyperbilirubinaemia, LDH rise", false);

    // The CRS begins to resolve: the first time, after CRS onset, that IL-6 is at most the
    // fraction of its peak so far, or the set time after onset has passed.
    std::size_t k_res = T;
    if (!gc.episodes.empty()) {
        const double onset = gc.episodes.front().onset_h;
        double il6_peak = 0.0;
        for (std::size_t k = 0; k < T; ++k) {
            il6_peak = std::max(il6_peak, L.il6[k]);
            if (ts[k] < onset) continue;
            if (L.il6[k] <= pol.iec_resolving_il6_fraction * il6_peak ||
                ts[k] >= onset + pol.iec_resolving_after_onset_h) {
                k_res = k;
                break;
            }
        }
    }
    r.iec_hs_grade.assign(out_times.size(), 0);
    std::vector<int> grade_pt(T, 0);  // IEC-HS grade per point
    if (k_res < T) {
        hit(c_res, k_res, ts[k_res]);
        bool active = false;
        double off_since = nan;
        for (std::size_t k = k_res; k < T; ++k) {
            const bool fer_high = L.fer[k] > fer_thr;
            const bool fer_rise = L.fer[k] >= pol.iec_ferritin_rise * L.fer[k_res];
            auto new_or_worse = [&](const std::vector<double>& y, double cut) {
                return y[k] < cut && (y[k_res] >= cut || y[k] <= 0.5 * y[k_res]);
            };
            const int cyto = new_or_worse(L.anc, 1.0) + new_or_worse(L.plt, 100.0) + new_or_worse(L.hb, 9.0);
            const bool hypofib = L.fib[k] < 150.0, transaminitis = L.ast[k] >= ast_thr;
            if (fer_high) hit(c_fer, k, L.fer[k]);
            if (fer_rise) hit(c_rise, k, L.fer[k]);
            if (cyto > 0) hit(c_cyto, k, cyto);
            if (hypofib) hit(c_fib, k, L.fib[k], true);
            if (transaminitis) hit(c_ast, k, L.ast[k]);
            const bool organ = cyto > 0 || hypofib || transaminitis;
            // identified once all hold; an identified episode lasts while ferritin stays high with
            // an organ feature (the worsening rise was needed only to identify it)
            const bool criteria = fer_high && organ && (active || fer_rise);
            if (!r.iec_hs && criteria) {
                r.iec_hs = true;
                r.iec_hs_onset_h = ts[k];
                active = true;
            }
            if (!active) continue;
            if (criteria) {
                off_since = nan;
            } else if (std::isnan(off_since)) {
                off_since = ts[k];
            }
            if (!std::isnan(off_since) && ts[k] - off_since >= pol.iec_resolution_h) {
                active = false;
                r.iec_hs_duration_h = off_since - r.iec_hs_onset_h;
                continue;
            }
            // Grade (Hines 2023 as read; thresholds [design]): 1; 2 with IEC-HS-directed therapy
            // given since onset or fibrinogen < 150 mg/dL (cryoprecipitate); 3 with fibrinogen
            // < 100 mg/dL, transaminitis (hepatic dysfunction) or oxygen by high flow; 4 with
            // vasopressors or positive-pressure ventilation.
            const Support s = supportive_care(GraderInputs{L.temp[k], L.map[k], L.sbp[k], L.fio2[k]}, pol);
            int g = 1;
            for (double th : therapy_h)
                if (th >= r.iec_hs_onset_h && th <= ts[k]) g = 2;
            if (hypofib) g = std::max(g, 2);
            if (L.fib[k] < 100.0 || transaminitis || s.o2 == O2Device::HighFlow) g = std::max(g, 3);
            if (s.n_vaso_nonavp >= 1 || s.o2 == O2Device::PositivePressure) g = 4;
            grade_pt[k] = g;
            r.iec_hs_grade_max = std::max(r.iec_hs_grade_max, g);
        }
    }
    for (std::size_t i = 0; i < out_times.size(); ++i)
        if (out_point[i] < T) r.iec_hs_grade[i] = grade_pt[out_point[i]];

    // --- carHLH: peak ferritin > 10,000 ng/mL during CRS plus >= 2 organ toxicities of grade >= 3
    const std::size_t h_fer = add("carHLH", "ferritin", "peak ferritin > 10,000 ng/mL during CRS", true, "ng/mL");
    std::snprintf(buf, sizeof buf, "hepatic toxicity grade >= 3: AST > 5 x ULN (%.0f U/L)", 5.0 * pol.ast_uln);
    const std::size_t h_liver = add("carHLH", "hepatic", buf, true, "U/L");
    const std::size_t h_lung = add("carHLH", "pulmonary", "pulmonary oedema grade >= 3 (positive-pressure ventilation)",
                                   true, "FiO2");
    add("carHLH", "renal", "renal toxicity grade >= 3 (oliguria or creatinine rise)", false);
    add("carHLH", "haemophagocytosis", "haemophagocytosis in marrow or organs (histology)", false);
    for (std::size_t k = 0; k < T; ++k) {
        if (gc.grade[k] >= 1 && L.fer[k] > 10000.0) hit(h_fer, k, L.fer[k]);
        if (L.ast[k] > 5.0 * pol.ast_uln) hit(h_liver, k, L.ast[k]);
        if (L.fio2[k] > pol.fio2_positive_pressure) hit(h_lung, k, L.fio2[k]);
    }
    r.carhlh_organ_toxicities = int{r.criteria[h_liver].met} + int{r.criteria[h_lung].met};
    r.carhlh = r.criteria[h_fer].met && r.carhlh_organ_toxicities >= 2;

    // --- HLH-2004: 5 of 8 criteria diagnose; the model evaluates 4 ----------------------------
    const std::size_t l_fever = add("HLH-2004", "fever", "fever >= 38.5 degC", true, "degC");
    const std::size_t l_cyto = add("HLH-2004", "cytopenias", "cytopenias in >= 2 of 3 lineages (Hb < 9.0 g/dL, platelets "
                                   "< 100, ANC < 1.0 x 1e9/L)", true, "lineages");
    const std::size_t l_fib = add("HLH-2004", "fibrinogen", "hypofibrinogenaemia <= 150 mg/dL (the alternative, "
                                  "triglycerides >= 265 mg/dL, is not modelled)", true, "mg/dL");
    const std::size_t l_fer = add("HLH-2004", "ferritin", "ferritin >= 500 ng/mL", true, "ng/mL");
    add("HLH-2004", "splenomegaly", "splenomegaly", false);
    add("HLH-2004", "haemophagocytosis", "haemophagocytosis in marrow, spleen, lymph node or liver", false);
    add("HLH-2004", "nk_activity", "low or absent NK-cell activity", false);
    add("HLH-2004", "scd25", "soluble CD25 >= 2400 U/mL", false);
    // --- partial HScore: maximal temperature and nadir counts over the past 7 days -------------
    const std::size_t s_temp = add("HScore", "temperature", "temperature (38.4-39.4: 33; > 39.4 degC: 49 points)", true, "points");
    const std::size_t s_cyto = add("HScore", "cytopenias", "cytopenias (Hb <= 9.2 g/dL, WBC <= 5.0 read as ANC <= 5.0, "
                                   "platelets <= 110 x 1e9/L; 2 lineages: 24, 3: 34 points)", true, "points");
    const std::size_t s_fer = add("HScore", "ferritin", "ferritin (2000-6000: 35; > 6000 ng/mL: 50 points)", true, "points");
    const std::size_t s_fib = add("HScore", "fibrinogen", "fibrinogen <= 250 mg/dL (30 points)", true, "points");
    const std::size_t s_ast = add("HScore", "ast", "AST >= 30 U/L (19 points)", true, "points");
    add("HScore", "immunosuppression", "known underlying immunosuppression (18 points)", false);
    add("HScore", "organomegaly", "organomegaly (23-38 points)", false);
    add("HScore", "triglycerides", "triglycerides (44-64 points)", false);
    add("HScore", "haemophagocytosis", "haemophagocytosis on marrow aspirate (35 points)", false);
    const double week = 7.0 * 24.0;
    const auto tmax7 = window_extreme(ts, L.temp, week, true);
    const auto hbmin = window_extreme(ts, L.hb, week, false);
    const auto pltmin = window_extreme(ts, L.plt, week, false);
    const auto ancmin = window_extreme(ts, L.anc, week, false);
    for (std::size_t k = 0; k < T; ++k) {
        const int cytopenias = int{L.anc[k] < 1.0} + int{L.plt[k] < 100.0} + int{L.hb[k] < 9.0};
        if (L.temp[k] >= 38.5) hit(l_fever, k, L.temp[k]);
        if (cytopenias >= 2) hit(l_cyto, k, cytopenias);
        if (L.fib[k] <= 150.0) hit(l_fib, k, L.fib[k], true);
        if (L.fer[k] >= 500.0) hit(l_fer, k, L.fer[k]);
        r.hlh2004_max = std::max(r.hlh2004_max, int{L.temp[k] >= 38.5} + int{cytopenias >= 2} +
                                                    int{L.fib[k] <= 150.0} + int{L.fer[k] >= 500.0});
        const int p_temp = tmax7[k] > 39.4 ? 49 : (tmax7[k] >= 38.4 ? 33 : 0);
        const int lineages = int{hbmin[k] <= 9.2} + int{ancmin[k] <= 5.0} + int{pltmin[k] <= 110.0};
        const int p_cyto = lineages == 3 ? 34 : (lineages == 2 ? 24 : 0);
        const int p_fer = L.fer[k] > 6000.0 ? 50 : (L.fer[k] >= 2000.0 ? 35 : 0);
        const int p_fib = L.fib[k] <= 250.0 ? 30 : 0;
        const int p_ast = L.ast[k] >= 30.0 ? 19 : 0;
        if (p_temp > 0) hit(s_temp, k, p_temp);
        if (p_cyto > 0) hit(s_cyto, k, p_cyto);
        if (p_fer > 0) hit(s_fer, k, p_fer);
        if (p_fib > 0) hit(s_fib, k, p_fib);
        if (p_ast > 0) hit(s_ast, k, p_ast);
        r.hscore_partial_max = std::max(r.hscore_partial_max, p_temp + p_cyto + p_fer + p_fib + p_ast);
    }
}
}  // namespace

CrsReadouts crs_readouts(const Model& model, const Trajectory& tr, const GradingPolicy& pol) {
    if (model.name() != "crs")
        throw InputError("model", "'" + model.name() + "'", "'crs' (readouts need its observables)");
    // The readout trajectory when recorded (grid-independent), else the output grid.
    const bool fine = !tr.readout.times.empty();
    const auto& ts = fine ? tr.readout.times : tr.times;
    const auto& obs = fine ? tr.readout.observables : tr.observables;
    const std::size_t T = ts.size(), no = static_cast<std::size_t>(model.n_observables());
    if (obs.size() != T * no)
        throw InputError(fine ? "trajectory.readout.observables" : "trajectory.observables",
                         std::to_string(obs.size()) + " values",
                         std::to_string(T * no) + " (times x observables of model crs)");
    auto series = [&](const char* name) {
        const std::size_t j = static_cast<std::size_t>(model.observable_index(name));
        std::vector<double> v(T);
        for (std::size_t k = 0; k < T; ++k) v[k] = obs[k * no + j];
        return v;
    };
    const auto cart = series("car_t_blood"), il6 = series("il6"), crp = series("crp"),
               fer = series("ferritin"), ifng = series("ifng"), mcp1 = series("mcp1"),
               temp = series("temperature"), map = series("map"), sbp = series("sbp"),
               fio2 = series("fio2_required"), bfrac = series("b_cell_fraction"),
               anc = series("anc"), plt = series("platelets"), hb = series("hemoglobin"),
               fib = series("fibrinogen"), ast = series("ast");
    CrsReadouts r;
    if (T == 0) return r;
    r.map_min = map[0];
    for (std::size_t k = 0; k < T; ++k) {
        if (cart[k] > r.cart_cmax) { r.cart_cmax = cart[k]; r.cart_tmax_h = ts[k]; }
        r.il6_peak = std::max(r.il6_peak, il6[k]);
        r.crp_peak = std::max(r.crp_peak, crp[k]);
        r.ferritin_peak = std::max(r.ferritin_peak, fer[k]);
        r.ifng_peak = std::max(r.ifng_peak, ifng[k]);
        r.temp_max = std::max(r.temp_max, temp[k]);
        r.map_min = std::min(r.map_min, map[k]);
        r.fio2_max = std::max(r.fio2_max, fio2[k]);
        if (ts[k] <= kEarlyWindowH) {
            r.mcp1_peak_36h = std::max(r.mcp1_peak_36h, mcp1[k]);
            r.temp_max_36h = std::max(r.temp_max_36h, temp[k]);
        }
        if (k + 1 < T) {
            const double dt = ts[k + 1] - ts[k];
            if (ts[k + 1] <= 28.0 * 24.0) r.cart_auc28 += 0.5 * (cart[k] + cart[k + 1]) * dt / 24.0;
            if (bfrac[k] < kBCellAplasiaFraction) r.b_cell_aplasia_h += dt;
        }
    }
    r.cart_last = cart.back();
    if (fine && !tr.times.empty() && tr.observables.size() == tr.times.size() * no) {
        const auto j = static_cast<std::size_t>(model.observable_index("car_t_blood"));
        r.cart_last = tr.observables[(tr.times.size() - 1) * no + j];  // at the last output time
    }

    // ASTCT grade course; anti-cytokine therapy = doses into the kAnticytokineStates.
    const std::vector<double> anticyto = dose_times(model, tr, kAnticytokineStates);
    // each output time's point (the output grid itself without a readout trajectory)
    std::vector<std::size_t> out_point(tr.times.size());
    if (fine) out_point = output_points(tr.times, ts);
    else for (std::size_t i = 0; i < out_point.size(); ++i) out_point[i] = i;
    std::vector<GraderInputs> gin(T);
    for (std::size_t k = 0; k < T; ++k) gin[k] = GraderInputs{temp[k], map[k], sbp[k], fio2[k]};
    const GradeCourse gc = astct_grade_course(ts, gin, anticyto, pol);
    r.grade = fine ? grade_at(tr.times, out_point, ts, gc, pol) : gc.grade;
    r.episodes = static_cast<int>(gc.episodes.size());
    if (!gc.episodes.empty()) {
        r.onset_h = gc.episodes.front().onset_h;
        r.duration_h = gc.episodes.front().resolution_h - gc.episodes.front().onset_h;
    }
    for (std::size_t k = 0; k < T; ++k) {
        r.max_grade = std::max(r.max_grade, gc.grade[k]);
        if (k + 1 < T) {
            const double dt = ts[k + 1] - ts[k];
            if (gc.grade[k] >= 2) r.hours_grade_ge2 += dt;
            if (gc.grade[k] >= 3) r.hours_grade_ge3 += dt;
        }
    }

    // IEC-HS-directed therapy: doses into the kIecHsTherapyStates.
    const std::vector<double> therapy = dose_times(model, tr, kIecHsTherapyStates);
    hyperinflammation(ts, tr.times, out_point, Labs{fer, il6, temp, fib, ast, anc, plt, hb, fio2, map, sbp},
                      therapy, gc, pol, r);
    return r;
}

}  // namespace crsim::models
