// Triggered policies: the crossing time is located on the dense output (not on the output grid),
// and sustained-for, delay, limits (max firings, min interval, max per period) and windows act as
// documented in core/include/crsim/policy.hpp.
#include <cmath>
#include <string>
#include <vector>

#include "catch.hpp"
#include "crsim/errors.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/simulate.hpp"

using namespace crsim;

namespace {

// pk1 (CL 14.7 L/h, V 64 L) under a constant infusion R mg/h from t = 0: C(t) = R/CL (1 - e^{-kt}).
constexpr double kCL = 14.7, kV = 64.0, kR = 100.0;
const double kK = kCL / kV;
double conc(double t) { return kR / kCL * (1.0 - std::exp(-kK * t)); }
double crossing(double c) { return -std::log(1.0 - c * kCL / kR) / kK; }

Problem infusion_problem(const std::vector<double>& times) {
    Problem pr;
    Dose d;
    d.target = "central";
    d.amount = kR * 1000.0;
    d.rate = kR;  // runs for 1000 h
    pr.doses = {d};
    pr.times = times;
    pr.options.rtol = 1e-10;
    pr.options.atol = 1e-12;
    return pr;
}

Policy bolus_when_conc_above(double threshold, double amount = 1.0) {
    Policy p;
    p.name = "rescue";
    p.condition.variable = "C";
    p.condition.threshold = threshold;
    Dose b;
    b.target = "central";
    b.amount = amount;
    p.action = {b};
    return p;
}

const Model& pk1() { return *models::builtin_registry().get("pk1"); }

}  // namespace

TEST_CASE("a firing is located on the dense output to the stated tolerance", "[policy]") {
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) {
        Problem pr = infusion_problem({0.0, 100.0});  // the output grid cannot see the crossing
        pr.options.method = method;
        pr.policies = {bolus_when_conc_above(3.0)};
        const auto tr = simulate(pk1(), pr);
        REQUIRE(tr.firings.size() == 1);
        const double t_star = crossing(3.0);
        INFO("method " << to_string(method) << ": located " << tr.firings[0].detected << " h, exact " << t_star);
        CHECK(std::abs(tr.firings[0].condition_met - t_star) <= 1e-6);
        CHECK(std::abs(tr.firings[0].detected - t_star) <= 1e-6);
        CHECK(tr.firings[0].value == Approx(3.0).epsilon(1e-5));
        CHECK(tr.firings[0].policy == "rescue");
        // The 1 mg bolus adds a decaying exponential to the infusion profile (superposition).
        const double t = 100.0;
        const double expected = conc(t) + std::exp(-kK * (t - tr.firings[0].administered)) / kV;
        CHECK(tr.observables.back() == Approx(expected).epsilon(1e-7));
        REQUIRE(tr.doses.size() == 2);
        CHECK(tr.doses[1].time == tr.firings[0].administered);
    }
}

TEST_CASE("sustained, delay and window shift the firing exactly", "[policy]") {
    const double t_star = crossing(3.0);
    Policy p = bolus_when_conc_above(3.0);
    p.condition.sustained = 2.0;
    p.delay = 0.5;
    Problem pr = infusion_problem({0.0, 50.0});
    pr.policies = {p};
    auto tr = simulate(pk1(), pr);
    REQUIRE(tr.firings.size() == 1);
    CHECK(tr.firings[0].condition_met == Approx(t_star).margin(1e-6));
    CHECK(tr.firings[0].detected == Approx(t_star + 2.0).margin(1e-6));
    CHECK(tr.firings[0].administered == Approx(t_star + 2.5).margin(1e-6));

    p = bolus_when_conc_above(3.0);
    p.window_start = 20.0;  // the condition holds since t*, counts only from 20 h
    pr.policies = {p};
    tr = simulate(pk1(), pr);
    REQUIRE(tr.firings.size() == 1);
    CHECK(tr.firings[0].detected == Approx(20.0).margin(1e-9));

    p.window_start = 0.0;
    p.window_end = 1.0;  // closes before the crossing
    pr.policies = {p};
    CHECK(simulate(pk1(), pr).firings.empty());
}

TEST_CASE("limits: max firings, min interval, max per period", "[policy]") {
    const double t_star = crossing(3.0);
    Policy p = bolus_when_conc_above(3.0);
    p.max_firings = 4;
    p.min_interval = 8.0;
    p.max_per_period = 3;
    p.period = 24.0;  // e.g. tocilizumab: >= 8 h apart, <= 3 in 24 h, <= 4 in total
    Problem pr = infusion_problem({0.0, 100.0});
    pr.policies = {p};
    const auto tr = simulate(pk1(), pr);
    REQUIRE(tr.firings.size() == 4);
    const std::vector<double> expected = {t_star, t_star + 8, t_star + 16, t_star + 24};
    for (std::size_t i = 0; i < 4; ++i) CHECK(tr.firings[i].detected == Approx(expected[i]).margin(1e-6));
}

TEST_CASE("a condition that stops holding before it is sustained does not fire", "[policy]") {
    // 640 mg bolus: C(0) = 10 mg/L, falls below 5 mg/L at ln 2 / k = 3.0 h.
    Problem pr;
    Dose d;
    d.target = "central";
    d.amount = 640.0;
    pr.doses = {d};
    pr.times = {0.0, 24.0};
    Policy p = bolus_when_conc_above(5.0);
    p.condition.sustained = 4.0;
    pr.policies = {p};
    CHECK(simulate(pk1(), pr).firings.empty());
    pr.policies[0].condition.sustained = 2.0;
    const auto tr = simulate(pk1(), pr);
    REQUIRE(tr.firings.size() == 1);
    CHECK(tr.firings[0].condition_met == 0.0);
    CHECK(tr.firings[0].detected == Approx(2.0).margin(1e-9));
    // Falling condition: LessEqual fires at the located time C = 5 mg/L.
    Policy q = bolus_when_conc_above(5.0);
    q.condition.comparison = Comparison::LessEqual;
    pr.policies = {q};
    const auto tr2 = simulate(pk1(), pr);
    REQUIRE(tr2.firings.size() == 1);
    CHECK(tr2.firings[0].detected == Approx(std::log(2.0) / kK).margin(1e-6));
}

TEST_CASE("bad policies raise InputError naming the field", "[policy][errors]") {
    Problem pr = infusion_problem({0.0, 10.0});
    auto expect_field = [&](Policy p, const std::string& field) {
        pr.policies = {p};
        try {
            simulate(pk1(), pr);
            FAIL("no InputError for " << field);
        } catch (const InputError& e) {
            INFO(e.what());
            CHECK(std::string(e.what()).find(field) != std::string::npos);
        }
    };
    Policy p = bolus_when_conc_above(3.0);
    p.condition.variable = "IL6";
    expect_field(p, "policies[0].condition.variable");
    p = bolus_when_conc_above(3.0);
    p.delay = -1.0;
    expect_field(p, "policies[0].delay");
    p = bolus_when_conc_above(3.0);
    p.action.clear();
    expect_field(p, "policies[0].action");
    p = bolus_when_conc_above(3.0);
    p.action[0].target = "nowhere";
    expect_field(p, "policies[0].action.doses[0].target");
    p = bolus_when_conc_above(std::nan(""));
    expect_field(p, "policies[0].condition.threshold");
    p = bolus_when_conc_above(3.0);
    p.period = 0.0;
    expect_field(p, "policies[0].period");
}

TEST_CASE("a trend condition fires where the fold change over its window crosses the threshold",
          "[policy][trend]") {
    // Infusion: C(t) / C(t - w) falls from infinity (just after t = w; C(0) = 0 before, where a fold
    // change is undefined) towards 1. With w = 0.5 h it reaches 1.5 where
    // e^{-kt} = 0.5 / (1.5 e^{kw} - 1). The look-back is interpolated between accepted steps.
    const double w = 0.5;
    const double t15 = -std::log(0.5 / (1.5 * std::exp(kK * w) - 1.0)) / kK;
    REQUIRE(t15 > w);
    for (const std::vector<double>& grid : {std::vector<double>{0.0, 10.0}, std::vector<double>{0.0, 1.0, 2.0, 10.0}}) {
        Problem pr = infusion_problem(grid);
        Policy p = bolus_when_conc_above(1.5, 1e-9);
        p.condition.comparison = Comparison::LessEqual;
        p.condition.window = w;
        pr.policies = {p};
        const Trajectory tr = simulate(pk1(), pr);
        REQUIRE(tr.firings.size() == 1);
        INFO("fired at " << tr.firings[0].condition_met << " h, analytic " << t15 << " h; " << tr.firings[0].reason);
        CHECK(std::abs(tr.firings[0].condition_met - t15) < 1e-3);
        CHECK(tr.firings[0].reason.find("fold change over 0.5 h <= 1.5") != std::string::npos);
    }
    // a window that is not a finite look-back >= 0, or a fold change <= 0, is refused
    Problem pr = infusion_problem({0.0, 10.0});
    Policy p = bolus_when_conc_above(1.5);
    p.condition.window = -1.0;
    pr.policies = {p};
    CHECK_THROWS_WITH(simulate(pk1(), pr), Catch::Matchers::Contains("policies[0].condition.window"));
    p.condition.window = 24.0;
    p.condition.threshold = 0.0;
    pr.policies = {p};
    CHECK_THROWS_WITH(simulate(pk1(), pr), Catch::Matchers::Contains("a fold change > 0"));
}
