// Shared set-up of the T-cell-engager model tests: load a product set from data/parameters, give a
// regimen (engager doses plus rescue drugs), run with hourly output, and read observables.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "crsim/models/builtin.hpp"
#include "crsim/parameter_set.hpp"
#include "crsim/simulate.hpp"

#ifndef CRSIM_DATA_DIR
#error "CRSIM_DATA_DIR must point at data/ (set by tests/cpp/CMakeLists.txt)"
#endif

namespace tce_test {

inline const crsim::Model& tce_model() { return *crsim::models::builtin_registry().get("tce"); }

inline crsim::ParameterSet load_set(const std::string& stem) {
    return crsim::load_parameter_set(std::string(CRSIM_DATA_DIR) + "/parameters/" + stem + ".json");
}

// A bolus or zero-order infusion of `amount` (mg) into `target` at `day` (days) over `hours`.
inline crsim::Dose dose(const std::string& target, double amount, double day, double hours = 0.0) {
    crsim::Dose d;
    d.target = target;
    d.amount = amount;
    d.time = day * 24.0;
    d.duration = hours;
    return d;
}

// A continuous infusion of `ug_per_day` (ug/day) from day `from` to day `to`.
inline crsim::Dose infusion(double ug_per_day, double from, double to) {
    crsim::Dose d;
    d.target = "tce_central";
    d.time = from * 24.0;
    d.duration = (to - from) * 24.0;
    d.amount = ug_per_day * 1e-3 * (to - from);  // mg
    return d;
}

struct Run {
    crsim::Trajectory tr;
    double obs(std::size_t k, const std::string& name) const {
        const auto& m = tce_model();
        return tr.observables[k * static_cast<std::size_t>(m.n_observables()) +
                              static_cast<std::size_t>(m.observable_index(name))];
    }
    double state(std::size_t k, const std::string& name) const {
        const auto& m = tce_model();
        return tr.states[k * static_cast<std::size_t>(m.n_states()) +
                         static_cast<std::size_t>(m.state_index(name))];
    }
    // largest value of an observable over [from, to) days
    double peak(const std::string& name, double from, double to) const {
        double best = -1e300;
        for (std::size_t k = 0; k < tr.times.size(); ++k)
            if (tr.times[k] >= from * 24.0 - 1e-9 && tr.times[k] < to * 24.0 - 1e-9)
                best = std::max(best, obs(k, name));
        return best;
    }
    // value at the output time nearest to `day`
    double at(const std::string& name, double day) const {
        std::size_t best = 0;
        for (std::size_t k = 0; k < tr.times.size(); ++k)
            if (std::abs(tr.times[k] - day * 24.0) < std::abs(tr.times[best] - day * 24.0)) best = k;
        return obs(best, name);
    }
};

inline Run run(const std::string& set, const std::vector<crsim::Dose>& doses, double days,
               const std::map<std::string, double>& overrides = {}, double step_h = 0.25) {
    const auto& m = tce_model();
    crsim::Problem pr;
    pr.parameters = crsim::parameters_from(m, load_set(set), overrides);
    pr.weight_kg = pr.parameters[static_cast<std::size_t>(m.parameter_index("body_weight"))];
    pr.doses = doses;
    // k * step, not a running sum: a sum drifts by ~1e-13 h and a grid time that close to an
    // infusion end made the engine fail with step-size underflow (reported for issue 18 item 5)
    for (int k = 0; k * step_h <= days * 24.0 + 1e-9; ++k) pr.times.push_back(k * step_h);
    pr.options.rtol = 1e-7;
    pr.options.atol = 1e-9;
    Run out;
    out.tr = crsim::simulate(m, pr);
    return out;
}

const std::string kMosun = "tce_mosunetuzumab_nhl";
const std::string kBlin = "tce_blinatumomab_nhl";
const std::string kTec = "tce_teclistamab_mm";

// Mosunetuzumab label, cycle 1 (21-day cycles): 1 mg D1, 2 mg D8, 60 mg D15, each over 4 h, then
// C2 D1 60 mg over 2 h (Lunsumio US prescribing information).
inline std::vector<crsim::Dose> mosun_label_c1_c2() {
    return {dose("tce_central", 1.0, 0.0, 4.0), dose("tce_central", 2.0, 7.0, 4.0),
            dose("tce_central", 60.0, 14.0, 4.0), dose("tce_central", 60.0, 21.0, 2.0)};
}

// Blinatumomab NHL step-up 5 -> 15 -> 60 ug/m2/day weekly, and flat 60 ug/m2/day (x 1.9 m2).
inline std::vector<crsim::Dose> blin_step(double weeks = 4.0) {
    const double bsa = 1.9;
    return {infusion(5.0 * bsa, 0.0, 7.0), infusion(15.0 * bsa, 7.0, 14.0),
            infusion(60.0 * bsa, 14.0, 7.0 * weeks)};
}
inline std::vector<crsim::Dose> blin_flat(double weeks = 4.0) {
    return {infusion(60.0 * 1.9, 0.0, 7.0 * weeks)};
}

}  // namespace tce_test
