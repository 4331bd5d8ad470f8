// The solvers against closed-form solutions of one- and two-compartment models: bolus, infusion,
// first-order absorption and multiple-dose superposition, relative error <= 1e-6 for both methods.
#include <cmath>
#include <string>
#include <vector>

#include "catch.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/simulate.hpp"
#include "pk_reference.hpp"

using namespace crsim;

namespace {

const Model& model(const std::string& name) {
    return *models::builtin_registry().get(name);
}

std::vector<double> grid(double t0, double t1, int n) {
    std::vector<double> t;
    for (int i = 0; i < n; ++i) t.push_back(t0 + (t1 - t0) * i / (n - 1));
    return t;
}

Problem tight(Method method) {
    Problem pr;
    pr.options.method = method;
    pr.options.rtol = 1e-10;
    pr.options.atol = 1e-12;
    return pr;
}

// Largest relative error of observable 0 against ref(t).
template <class F>
double max_rel_err(const Trajectory& tr, int n_obs, F ref) {
    double worst = 0.0;
    for (std::size_t i = 0; i < tr.times.size(); ++i) {
        const double r = ref(tr.times[i]);
        const double s = tr.observables[i * static_cast<std::size_t>(n_obs)];
        worst = std::max(worst, std::abs(s - r) / std::abs(r));
    }
    return worst;
}

Dose dose(const std::string& target, double t, double amt) {
    Dose d;
    d.target = target;
    d.time = t;
    d.amount = amt;
    return d;
}

}  // namespace

TEST_CASE("one-compartment closed forms, both solvers", "[pk][closed-form]") {
    const Model& m = model("pk1");
    const Model& mo = model("pk1_oral");
    const double CL = 14.7, V = 64.0, ka = 1.5;
    const pkref::OneCmt ref(CL, V);
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) {
        INFO("method " << to_string(method));
        {  // bolus
            Problem pr = tight(method);
            pr.times = grid(0.25, 24.0, 40);
            pr.doses = {dose("central", 0.0, 10.0)};
            const auto tr = simulate(m, pr);
            CHECK(max_rel_err(tr, 1, [&](double t) { return 10.0 * ref.bolus(t); }) < 1e-6);
        }
        {  // infusion by duration over 2 h, outputs during and after
            Problem pr = tight(method);
            pr.times = grid(0.1, 24.0, 60);
            Dose d = dose("central", 1.0, 20.0);
            d.duration = 2.0;
            pr.doses = {d};
            pr.times = grid(1.05, 24.0, 60);
            const double R = 10.0;
            const auto tr = simulate(m, pr);
            CHECK(max_rel_err(tr, 1, [&](double t) {
                      return R * (ref.infusion(t - 1.0) - ref.infusion(t - 3.0));
                  }) < 1e-6);
        }
        {  // oral
            Problem pr = tight(method);
            pr.times = grid(0.1, 24.0, 50);
            pr.doses = {dose("depot", 0.0, 8.0)};
            const auto tr = simulate(mo, pr);
            CHECK(max_rel_err(tr, 1, [&](double t) { return 8.0 * ref.oral(t, ka); }) < 1e-6);
        }
        {  // multiple oral doses q6h x 4: superposition
            Problem pr = tight(method);
            pr.times = grid(0.1, 30.0, 80);
            Dose d = dose("depot", 0.0, 8.0);
            d.additional = 3;
            d.interval = 6.0;
            pr.doses = {d};
            const auto tr = simulate(mo, pr);
            CHECK(max_rel_err(tr, 1, [&](double t) {
                      double c = 0.0;
                      for (int k = 0; k < 4; ++k) c += 8.0 * ref.oral(t - 6.0 * k, ka);
                      return c;
                  }) < 1e-6);
        }
    }
}

TEST_CASE("two-compartment closed forms, both solvers", "[pk][closed-form]") {
    const Model& m = model("pk2");
    const Model& mo = model("pk2_oral");
    const double CL = 0.0125, V1 = 3.5, Q = 0.00833, V2 = 2.9, ka = 0.02;
    const pkref::TwoCmt ref(CL, V1, Q, V2);
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) {
        INFO("method " << to_string(method));
        {  // bolus, followed for 8 weeks
            Problem pr = tight(method);
            pr.times = grid(1.0, 24.0 * 56, 60);
            pr.doses = {dose("central", 0.0, 560.0)};
            const auto tr = simulate(m, pr);
            CHECK(max_rel_err(tr, 1, [&](double t) { return 560.0 * ref.bolus(t); }) < 1e-6);
        }
        {  // 1-h infusion by rate, q4w x 3 (multiple-dose superposition)
            Problem pr = tight(method);
            pr.times = grid(0.5, 24.0 * 84, 120);
            Dose d = dose("central", 0.0, 560.0);
            d.rate = 560.0;
            d.additional = 2;
            d.interval = 24.0 * 28;
            pr.doses = {d};
            const auto tr = simulate(m, pr);
            CHECK(max_rel_err(tr, 1, [&](double t) {
                      double c = 0.0;
                      for (int k = 0; k < 3; ++k) {
                          const double s = t - 24.0 * 28 * k;
                          c += 560.0 * (ref.infusion(s) - ref.infusion(s - 1.0));
                      }
                      return c;
                  }) < 1e-6);
        }
        {  // first-order absorption
            Problem pr = tight(method);
            pr.times = grid(2.0, 24.0 * 42, 60);
            pr.doses = {dose("depot", 0.0, 162.0)};
            const auto tr = simulate(mo, pr);
            CHECK(max_rel_err(tr, 1, [&](double t) { return 162.0 * ref.oral(t, ka); }) < 1e-6);
        }
    }
}
