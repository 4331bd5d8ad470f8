// Shared set-up of the CRS model tests: load a parameter set from data/parameters, build the default
// scenario (CAR-T infusion at t = 0 in cells/kg, hourly output), run, and summarise.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "crsim/models/builtin.hpp"
#include "crsim/models/crs_grade.hpp"
#include "crsim/parameter_set.hpp"
#include "crsim/simulate.hpp"

#ifndef CRSIM_DATA_DIR
#error "CRSIM_DATA_DIR must point at data/ (set by tests/cpp/CMakeLists.txt)"
#endif

namespace crs_test {

inline const crsim::Model& crs_model() { return *crsim::models::builtin_registry().get("crs"); }

inline crsim::ParameterSet load_set(const std::string& stem) {
    return crsim::load_parameter_set(std::string(CRSIM_DATA_DIR) + "/parameters/" + stem + ".json");
}

const std::vector<std::string> kSets = {"crs_tisagenlecleucel_ball", "crs_axicabtagene_lbcl"};

struct Scenario {
    std::string set = "crs_tisagenlecleucel_ball";
    std::map<std::string, double> overrides;
    double car_t_per_kg = -1.0;     // cells/kg; < 0: the set's regimen
    double days = 28.0;
    double step_h = 1.0;
    std::vector<crsim::Dose> extra_doses;
    double rtol = 1e-6, atol = 1e-8;
};

struct Run {
    crsim::Trajectory tr;
    crsim::models::CrsReadouts r;
    std::vector<double> p;
    double obs(std::size_t k, const std::string& name) const {
        const auto& m = crs_model();
        return tr.observables[k * static_cast<std::size_t>(m.n_observables()) +
                              static_cast<std::size_t>(m.observable_index(name))];
    }
    // index of the output time t (h)
    std::size_t at(double t) const {
        std::size_t k = 0;
        while (k + 1 < tr.times.size() && tr.times[k] < t - 1e-9) ++k;
        return k;
    }
};

inline Run run(const Scenario& sc) {
    const auto& m = crs_model();
    const crsim::ParameterSet ps = load_set(sc.set);
    crsim::Problem pr;
    pr.parameters = crsim::parameters_from(m, ps, sc.overrides);
    pr.weight_kg = pr.parameters[static_cast<std::size_t>(m.parameter_index("body_weight"))];
    crsim::Dose car;
    car.target = "car_t_effector";
    car.amount = sc.car_t_per_kg >= 0.0 ? sc.car_t_per_kg : ps.regimen.at("car_t_dose").value;
    car.per_kg = true;
    if (car.amount > 0.0) pr.doses.push_back(car);
    for (const auto& d : sc.extra_doses) pr.doses.push_back(d);
    for (double t = 0.0; t <= sc.days * 24.0 + 1e-9; t += sc.step_h) pr.times.push_back(t);
    pr.options.rtol = sc.rtol;
    pr.options.atol = sc.atol;
    Run out;
    out.p = pr.parameters;
    out.tr = crsim::simulate(m, pr);
    out.r = crsim::models::crs_readouts(m, out.tr);
    return out;
}

// Tocilizumab 8 mg/kg IV over 1 h (12 mg/kg under 30 kg), max 800 mg, at time t (h).
inline crsim::Dose tocilizumab(double t, double weight_kg) {
    crsim::Dose d;
    d.target = "tocilizumab_central";
    d.time = t;
    d.amount = weight_kg < 30.0 ? 12.0 : 8.0;
    d.per_kg = true;
    d.cap = 800.0;
    d.duration = 1.0;
    return d;
}

// Siltuximab 11 mg/kg IV over 1 h at time t (h) (CARTOX alternative to tocilizumab; clinical.md 3.4).
inline crsim::Dose siltuximab(double t) {
    crsim::Dose d;
    d.target = "siltuximab_central";
    d.time = t;
    d.amount = 11.0;
    d.per_kg = true;
    d.duration = 1.0;
    return d;
}

// Dexamethasone 10 mg IV every 6 h, `count` doses from time t (h).
inline crsim::Dose dexamethasone_iv(double t, int count) {
    crsim::Dose d;
    d.target = "dexamethasone_central";
    d.time = t;
    d.amount = 10.0;
    d.additional = count - 1;
    d.interval = 6.0;
    return d;
}

}  // namespace crs_test
