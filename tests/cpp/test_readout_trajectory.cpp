// The readout trajectory (ReadoutOptions, simulate.hpp): recorded at the solver's step points, both
// sides of discontinuities and located threshold crossings; it leaves the output at the requested
// times unchanged and does not depend on them, and so neither do the CRS readouts computed from it.
#include <cmath>
#include <string>
#include <vector>

#include "catch.hpp"
#include "crs_fixture.hpp"
#include "crsim/errors.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/models/crs_grade.hpp"
#include "crsim/simulate.hpp"

using namespace crsim;

namespace {

const Model& pk1() { return *models::builtin_registry().get("pk1"); }

// pk1 (CL 14.7 L/h, V 64 L) under 100 mg/h from t = 0, a 50 mg bolus at 5 h, and a policy giving
// 20 mg when C >= 1.2 mg/L; output every `dt` h to 20 h.
Problem pk_problem(double dt, bool record) {
    Problem pr;
    Dose inf;
    inf.target = "central";
    inf.amount = 100.0 * 1000.0;
    inf.rate = 100.0;
    Dose bolus;
    bolus.target = "central";
    bolus.time = 5.0;
    bolus.amount = 50.0;
    pr.doses = {inf, bolus};
    const int n = static_cast<int>(std::lround(20.0 / dt));  // the same last time, 20 h, for every dt
    for (int k = 0; k <= n; ++k) pr.times.push_back(k * dt);
    Policy p;
    p.name = "rescue";
    p.condition.variable = "C";
    p.condition.threshold = 1.2;
    Dose give;
    give.target = "central";
    give.amount = 20.0;
    p.action = {give};
    pr.policies = {p};
    pr.readouts.record = record;
    pr.readouts.watch = {{"C", Comparison::GreaterEqual, 0.5}};
    return pr;
}

// C(t) of the infusion alone (before the bolus at 5 h).
double infusion_conc(double t) { return 100.0 / 14.7 * (1.0 - std::exp(-14.7 / 64.0 * t)); }

Problem crs_problem(double dt, bool tocilizumab_at_fever) {
    using namespace crs_test;
    const Model& m = crs_model();
    const ParameterSet ps = load_set("crs_tisagenlecleucel_ball");
    Problem pr;
    pr.parameters = parameters_from(m, ps, {});
    pr.weight_kg = pr.parameters[static_cast<std::size_t>(m.parameter_index("body_weight"))];
    Dose car;
    car.target = "car_t_effector";
    car.amount = ps.regimen.at("car_t_dose").value;
    car.per_kg = true;
    pr.doses = {car};
    const int n = static_cast<int>(std::lround(28.0 * 24.0 / dt));
    for (int k = 0; k <= n; ++k) pr.times.push_back(k * dt);
    if (tocilizumab_at_fever) {
        Policy p;
        p.name = "tocilizumab at the first fever";
        p.condition.variable = "temperature";
        p.condition.threshold = models::GradingPolicy{}.fever_c;
        p.action = {tocilizumab(0.0, pr.weight_kg)};
        pr.policies = {p};
    }
    pr.options.rtol = 1e-6;
    pr.options.atol = 1e-8;
    pr.readouts.record = true;
    pr.readouts.watch = models::crs_readout_watch();
    return pr;
}

}  // namespace

TEST_CASE("recording the readout trajectory leaves the output bit-for-bit unchanged",
          "[readouts]") {
    for (Method method : {Method::Rosenbrock4, Method::Dopri5, Method::Auto}) {
        Problem off = pk_problem(1.0, false), on = pk_problem(1.0, true);
        off.options.method = on.options.method = method;
        const Trajectory a = simulate(pk1(), off), b = simulate(pk1(), on);
        INFO("method " << to_string(method));
        CHECK(a.readout.times.empty());
        REQUIRE(!b.readout.times.empty());
        CHECK(a.times == b.times);
        CHECK(a.states == b.states);
        CHECK(a.observables == b.observables);
        CHECK(a.stats.steps == b.stats.steps);
        CHECK(a.stats.rhs_evaluations == b.stats.rhs_evaluations);
        REQUIRE(a.firings.size() == b.firings.size());
        for (std::size_t i = 0; i < a.firings.size(); ++i)
            CHECK(a.firings[i].detected == b.firings[i].detected);
    }
}

TEST_CASE("the readout trajectory does not depend on the output grid", "[readouts]") {
    for (Method method : {Method::Rosenbrock4, Method::Dopri5, Method::Auto}) {
        Problem hourly = pk_problem(1.0, true), fine = pk_problem(0.05, true);
        hourly.options.method = fine.options.method = method;
        const Trajectory a = simulate(pk1(), hourly), b = simulate(pk1(), fine);
        INFO("method " << to_string(method));
        CHECK(a.stats.steps == b.stats.steps);
        CHECK(a.readout.times == b.readout.times);
        CHECK(a.readout.states == b.readout.states);
        CHECK(a.readout.observables == b.readout.observables);
    }
}

TEST_CASE("readout points: the start, both sides of a dose, steps and bracketed crossings",
          "[readouts]") {
    const Trajectory tr = simulate(pk1(), pk_problem(10.0, true));
    const auto& r = tr.readout;
    REQUIRE(r.states.size() == r.times.size());  // one state
    REQUIRE(r.observables.size() == r.times.size());
    CHECK(r.times.front() == 0.0);
    for (std::size_t k = 1; k < r.times.size(); ++k) CHECK(r.times[k] >= r.times[k - 1]);
    // the bolus at 5 h: the state before and after it, at the same time
    std::size_t at5 = 0;
    for (std::size_t k = 0; k + 1 < r.times.size(); ++k)
        if (r.times[k] == 5.0 && r.times[k + 1] == 5.0) at5 = k;
    REQUIRE(at5 > 0);
    CHECK(r.states[at5 + 1] - r.states[at5] == Approx(50.0).epsilon(1e-12));
    // C = 0.5 mg/L crossed upwards once, bracketed within 1e-6 h around the exact time
    const double t_star = -std::log(1.0 - 0.5 * 14.7 / 100.0) / (14.7 / 64.0);
    int brackets = 0;
    for (std::size_t k = 0; k + 1 < r.times.size(); ++k)
        if (r.observables[k] < 0.5 && r.observables[k + 1] >= 0.5) {
            ++brackets;
            CHECK(r.times[k + 1] - r.times[k] <= 1e-6);
            CHECK(std::abs(r.times[k + 1] - t_star) < 2e-6);
            CHECK(r.observables[k + 1] == Approx(infusion_conc(r.times[k + 1])).epsilon(1e-6));
        }
    CHECK(brackets == 1);
    // many more points than the 3 output times: every accepted step ends on one
    CHECK(static_cast<long>(r.times.size()) >= tr.stats.steps);
}

TEST_CASE("bad readout options raise InputError naming the field", "[readouts][errors]") {
    Problem pr = pk_problem(1.0, true);
    auto expect_field = [&](const std::string& field) {
        try {
            simulate(pk1(), pr);
            FAIL("no InputError for " << field);
        } catch (const InputError& e) {
            INFO(e.what());
            CHECK(std::string(e.what()).find(field) != std::string::npos);
        }
    };
    pr.readouts.watch = {{"IL6", Comparison::GreaterEqual, 1.0}};
    expect_field("readouts.watch[0].variable");
    pr.readouts.watch = {{"C", Comparison::GreaterEqual, std::nan("")}};
    expect_field("readouts.watch[0].threshold");
    pr.readouts.watch = {};
    pr.readouts.time_tolerance = 0.0;
    expect_field("readouts.time_tolerance");
}

TEST_CASE("CRS readouts from the readout trajectory are the same for every output grid",
          "[readouts][crs]") {
    for (bool toci : {false, true}) {
        std::vector<models::CrsReadouts> rs;
        for (double dt : {1.0, 6.0, 0.05}) {
            const Trajectory tr = simulate(crs_test::crs_model(), crs_problem(dt, toci));
            rs.push_back(models::crs_readouts(crs_test::crs_model(), tr));
            CHECK(rs.back().grade.size() == tr.times.size());
        }
        INFO("tocilizumab at the first fever: " << toci);
        const models::CrsReadouts& a = rs[0];
        REQUIRE(a.max_grade >= 1);
        for (const auto& b : rs) {
            CHECK(b.max_grade == a.max_grade);
            CHECK(b.episodes == a.episodes);
            CHECK(b.onset_h == a.onset_h);
            CHECK((b.duration_h == a.duration_h ||
                   (std::isnan(a.duration_h) && std::isnan(b.duration_h))));
            CHECK(b.hours_grade_ge2 == a.hours_grade_ge2);
            CHECK(b.hours_grade_ge3 == a.hours_grade_ge3);
            CHECK(b.il6_peak == a.il6_peak);
            CHECK(b.temp_max == a.temp_max);
            CHECK(b.map_min == a.map_min);
            CHECK(b.b_cell_aplasia_h == a.b_cell_aplasia_h);
            CHECK(b.hscore_partial_max == a.hscore_partial_max);
        }
        if (toci) {  // the treated fever ends within the hour: no hourly output sees 38 degC
            CHECK(a.duration_h > 0.0);
            CHECK(a.duration_h < 1.0);
        }
    }
}
