// ASTCT grade (Lee DW et al. 2019, Biol Blood Marrow Transplant 25:625) and clinical readouts of CRS
// trajectories (docs/model.md sec. 7).
#include "crsim/models/crs_grade.hpp"

#include <algorithm>
#include <cmath>
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

namespace {
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
    const std::size_t T = tr.times.size(), no = static_cast<std::size_t>(model.n_observables());
    auto series = [&](const char* name) {
        const std::size_t j = static_cast<std::size_t>(model.observable_index(name));
        std::vector<double> v(T);
        for (std::size_t k = 0; k < T; ++k) v[k] = tr.observables[k * no + j];
        return v;
    };
    const auto& ts = tr.times;
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
            if (bfrac[k] < 0.01) r.b_cell_aplasia_h += dt;
        }
    }
    r.cart_last = cart.back();

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
    r.grade = gc.grade;
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
        // partial HScore over the past 7 days (max temperature, nadir counts)
        double tmax7 = temp[k], hbmin = hb[k], pltmin = plt[k], ancmin = anc[k];
        for (std::size_t j = k; j-- > 0 && ts[j] >= t - 7.0 * 24.0;) {
            tmax7 = std::max(tmax7, temp[j]);
            hbmin = std::min(hbmin, hb[j]);
            pltmin = std::min(pltmin, plt[j]);
            ancmin = std::min(ancmin, anc[j]);
        }
        int hs = tmax7 > 39.4 ? 49 : (tmax7 >= 38.4 ? 33 : 0);
        const int lineages = (hbmin <= 9.2) + (ancmin <= 5.0) + (pltmin <= 110.0);
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
