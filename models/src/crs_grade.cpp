// ASTCT grade (Lee DW et al. 2019, Biol Blood Marrow Transplant 25:625) and clinical readouts of CRS
// trajectories (docs/model.md sec. 7).
#include "crsim/models/crs_grade.hpp"

#include <algorithm>
#include <cmath>
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

// The grade course (at the points ts) read at the output times: the grade of the last point at or
// before each (after a discontinuity's doses, as outputs are), 0 once the episode of that point
// closed (pol.resolution_h after its last quiet start).
std::vector<int> grade_at(const std::vector<double>& out, const std::vector<double>& ts,
                          const GradeCourse& gc, const GradingPolicy& pol) {
    std::vector<int> g(out.size(), 0);
    for (std::size_t k = 0; k < out.size(); ++k) {
        const auto it = std::upper_bound(ts.begin(), ts.end(), out[k]);
        if (it == ts.begin()) continue;
        const std::size_t j = static_cast<std::size_t>(it - ts.begin()) - 1;
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

// Value of series y at time t (linear interpolation; clamps at the ends).
double at_time(const std::vector<double>& ts, const std::vector<double>& y, double t) {
    if (t <= ts.front()) return y.front();
    if (t >= ts.back()) return y.back();
    const auto it = std::upper_bound(ts.begin(), ts.end(), t);
    const std::size_t j = static_cast<std::size_t>(it - ts.begin());
    const double w = (t - ts[j - 1]) / (ts[j] - ts[j - 1]);
    return y[j - 1] + w * (y[j] - y[j - 1]);
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
               fib = series("fibrinogen");
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
        if (ts[k] <= 36.0) {
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
    std::vector<double> anticyto;
    for (const DoseEvent& d : tr.doses) {
        const std::string& s = model.info().states[static_cast<std::size_t>(d.state)].name;
        for (const char* prefix : kAnticytokineStates)
            if (s.rfind(prefix, 0) == 0) {
                anticyto.push_back(d.time);
                break;
            }
    }
    std::vector<GraderInputs> gin(T);
    for (std::size_t k = 0; k < T; ++k) gin[k] = GraderInputs{temp[k], map[k], sbp[k], fio2[k]};
    const GradeCourse gc = astct_grade_course(ts, gin, anticyto, pol);
    r.grade = fine ? grade_at(tr.times, ts, gc, pol) : gc.grade;
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

    // IEC-HS (7a.4), HLH-2004 (simulable criteria) and partial HScore.
    const double fer0 = fer.front();
    int grade_max_so_far = 0;
    double fer_max_crs = 0.0;
    int pulmonary = 0;
    // partial HScore over the past 7 days (max temperature, nadir counts)
    const double week = 7.0 * 24.0;
    const auto tmax7 = window_extreme(ts, temp, week, true);
    const auto hbmin = window_extreme(ts, hb, week, false);
    const auto pltmin = window_extreme(ts, plt, week, false);
    const auto ancmin = window_extreme(ts, anc, week, false);
    for (std::size_t k = 0; k < T; ++k) {
        const double t = ts[k];
        grade_max_so_far = std::max(grade_max_so_far, gc.grade[k]);
        const bool ferritin_high = fer[k] > 2.0 * pol.ferritin_uln || fer[k] > 2.0 * fer0;
        const bool ferritin_rising = t >= 48.0 && fer[k] / at_time(ts, fer, t - 48.0) >= 2.0;
        const bool timing_ok = gc.grade[k] < grade_max_so_far || t > 7.0 * 24.0;
        auto new_or_worse = [&](const std::vector<double>& y, double cut) {
            const double before = at_time(ts, y, t - 7.0 * 24.0);
            return y[k] < cut && (before >= cut || y[k] < before);
        };
        const int cyto_new = new_or_worse(anc, 1.0) + new_or_worse(plt, 100.0) + new_or_worse(hb, 9.0);
        const bool hypofib = fib[k] < 150.0;
        if (!r.iec_hs && (ferritin_high || ferritin_rising) && timing_ok && (cyto_new >= 1 || hypofib) &&
            grade_max_so_far > 0) {
            r.iec_hs = true;
            r.iec_hs_onset_h = t;
        }
        if (t <= 14.0 * 24.0) fer_max_crs = std::max(fer_max_crs, fer[k]);
        if (fio2[k] > pol.fio2_positive_pressure) pulmonary = 1;
        const int cytopenias = (anc[k] < 1.0) + (plt[k] < 100.0) + (hb[k] < 9.0);
        const int hlh = (temp[k] >= 38.5) + (cytopenias >= 2) + (fib[k] <= 150.0) + (fer[k] >= 500.0);
        r.hlh2004_max = std::max(r.hlh2004_max, hlh);
        int hs = tmax7[k] > 39.4 ? 49 : (tmax7[k] >= 38.4 ? 33 : 0);
        const int lineages = (hbmin[k] <= 9.2) + (ancmin[k] <= 5.0) + (pltmin[k] <= 110.0);
        hs += lineages == 3 ? 34 : (lineages == 2 ? 24 : 0);
        hs += fer[k] > 6000.0 ? 50 : (fer[k] >= 2000.0 ? 35 : 0);
        hs += fib[k] <= 250.0 ? 30 : 0;
        r.hscore_partial_max = std::max(r.hscore_partial_max, hs);
    }
    // carHLH needs >= 2 organ toxicities; only pulmonary oedema (positive pressure) is modelled.
    r.carhlh = fer_max_crs > 10000.0 && pulmonary >= 2;
    return r;
}

}  // namespace crsim::models
