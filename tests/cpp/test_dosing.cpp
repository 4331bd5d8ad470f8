// Dosing semantics, one feature per test case, each against exact reasoning or the closed forms of
// pk_reference.hpp (Gibaldi & Perrier): lag, bioavailability, infusions by rate and by duration,
// repeats, mg/kg with a cap, simultaneous doses, post-dose outputs, overlapping infusions, doses
// outside the output window, a dose at t_start, and exact restarts at discontinuities.
//
// With CL = 0 (allowed: CL's lower bound is 0) the one-compartment model is dA/dt = R(t), so the
// central amount equals the amount given so far exactly; those checks use a 1e-10 relative tolerance.
// Closed-form checks use 1e-6 relative with rtol 1e-10 (as test_pk_closed_form.cpp does).
#include <cmath>
#include <string>
#include <vector>

#include "catch.hpp"
#include "pk_reference.hpp"
#include "test_support.hpp"

using namespace crsim;
using namespace testsupport;

namespace {

const double kCL = 14.7, kV = 64.0, kKa = 1.5;  // pk1 / pk1_oral defaults (dexamethasone)

// pk1 with CL = 0: amount in central is the integral of what was given.
Problem no_elimination(Method method) {
    Problem pr = tight(method);
    pr.parameters = model("pk1").parameters_with({{"CL", 0.0}});
    return pr;
}

// Central amount (state 0 of pk1) at output i.
double central(const Trajectory& tr, std::size_t i) { return tr.states[i]; }

const Method kMethods[] = {Method::Rosenbrock4, Method::Dopri5};

}  // namespace

TEST_CASE("lag time shifts the whole profile and nothing reaches the state before it", "[dosing]") {
    const Model& m = model("pk1_oral");
    const pkref::OneCmt ref(kCL, kV);
    const double t_dose = 1.0, lag = 0.75, amt = 8.0;
    for (Method method : kMethods) {
        INFO("method " << to_string(method));
        Problem pr = tight(method);
        pr.times = grid(0.0, 24.0, 97);  // every 0.25 h: includes 1.0, 1.5 (< 1.75) and 1.75
        Dose d = bolus("depot", t_dose, amt);
        d.lag = lag;
        pr.doses = {d};
        const Trajectory tr = simulate(m, pr);
        REQUIRE(tr.doses.size() == 1);
        CHECK(tr.doses[0].time == t_dose + lag);

        // Before the lag has elapsed: exactly zero in both states.
        for (std::size_t i = 0; i < tr.times.size() && tr.times[i] < t_dose + lag; ++i) {
            CHECK(tr.states[2 * i] == 0.0);
            CHECK(tr.states[2 * i + 1] == 0.0);
        }
        // Same as giving the dose at t_dose + lag without a lag (same discontinuities, same steps).
        Problem shifted = pr;
        shifted.doses = {bolus("depot", t_dose + lag, amt)};
        const Trajectory ts = simulate(m, shifted);
        CHECK(max_rel_diff(tr.states, ts.states) <= 1e-14);
        // And the closed form of the shifted oral dose.
        double worst = 0.0;
        for (std::size_t i = 0; i < tr.times.size(); ++i) {
            const double t = tr.times[i];
            if (t <= t_dose + lag) continue;
            worst = std::max(worst, rel_diff(tr.observables[i], amt * ref.oral(t - t_dose - lag, kKa)));
        }
        CHECK(worst <= 1e-6);
    }
}

TEST_CASE("bioavailability scales the amount; F = 0 gives nothing", "[dosing]") {
    const Model& m = model("pk1_oral");
    const pkref::OneCmt ref(kCL, kV);
    for (Method method : kMethods) {
        INFO("method " << to_string(method));
        Problem pr = tight(method);
        pr.times = grid(0.25, 24.0, 96);
        Dose d = bolus("depot", 0.0, 8.0);
        d.bioavailability = 0.6;
        pr.doses = {d};
        const Trajectory tr = simulate(m, pr);
        CHECK(tr.doses[0].amount == Approx(4.8).epsilon(1e-15));
        double worst = 0.0;
        for (std::size_t i = 0; i < tr.times.size(); ++i)
            worst = std::max(worst, rel_diff(tr.observables[i], 0.6 * 8.0 * ref.oral(tr.times[i], kKa)));
        CHECK(worst <= 1e-6);

        pr.doses[0].bioavailability = 0.0;
        const Trajectory t0 = simulate(m, pr);
        for (double x : t0.states) CHECK(x == 0.0);
    }
    SECTION("with an infusion by rate F shortens the infusion; by duration it lowers the rate") {
        Problem pr = no_elimination(Method::Rosenbrock4);
        pr.times = {0.5, 1.0, 2.0, 3.0};
        Dose d = infusion_rate("central", 0.0, 100.0, 50.0);
        d.bioavailability = 0.5;
        pr.doses = {d};
        Trajectory tr = simulate(model("pk1"), pr);
        CHECK(tr.doses[0].end == Approx(1.0).epsilon(1e-15));   // 50 mg at 50 mg/h
        CHECK(central(tr, 0) == Approx(25.0).epsilon(1e-10));
        CHECK(central(tr, 1) == Approx(50.0).epsilon(1e-10));
        CHECK(central(tr, 3) == Approx(50.0).epsilon(1e-10));

        pr.doses = {infusion_duration("central", 0.0, 100.0, 2.0)};
        pr.doses[0].bioavailability = 0.5;
        tr = simulate(model("pk1"), pr);
        CHECK(tr.doses[0].rate == Approx(25.0).epsilon(1e-15));  // 50 mg over 2 h
        CHECK(central(tr, 1) == Approx(25.0).epsilon(1e-10));
        CHECK(central(tr, 2) == Approx(50.0).epsilon(1e-10));
        CHECK(central(tr, 3) == Approx(50.0).epsilon(1e-10));
    }
}

TEST_CASE("infusion by rate lasts amount/rate and delivers exactly the dose", "[dosing][infusion]") {
    for (Method method : kMethods) {
        INFO("method " << to_string(method));
        // 100 mg at 25 mg/h from t = 2 h: runs until 6 h.
        Problem pr = no_elimination(method);
        pr.times = {1.0, 2.0, 3.0, 4.5, 5.999, 6.0, 10.0};
        pr.doses = {infusion_rate("central", 2.0, 100.0, 25.0)};
        const Trajectory tr = simulate(model("pk1"), pr);
        REQUIRE(tr.doses.size() == 1);
        CHECK(tr.doses[0].is_infusion());
        CHECK(tr.doses[0].end == 6.0);
        CHECK(central(tr, 0) == 0.0);
        CHECK(central(tr, 1) == 0.0);
        const double expected[] = {0.0, 0.0, 25.0, 62.5, 99.975, 100.0, 100.0};
        for (std::size_t i = 2; i < tr.times.size(); ++i) {
            INFO("t = " << tr.times[i]);
            CHECK(central(tr, i) == Approx(expected[i]).epsilon(1e-10));
        }

        // With elimination: the closed form R (I(t - 2) - I(t - 6)).
        Problem pe = tight(method);
        pe.times = grid(2.1, 24.0, 80);
        pe.doses = pr.doses;
        const Trajectory te = simulate(model("pk1"), pe);
        const pkref::OneCmt ref(kCL, kV);
        double worst = 0.0;
        for (std::size_t i = 0; i < te.times.size(); ++i) {
            const double t = te.times[i];
            worst = std::max(worst, rel_diff(te.observables[i],
                                             25.0 * (ref.infusion(t - 2.0) - ref.infusion(t - 6.0))));
        }
        CHECK(worst <= 1e-6);
    }
}

TEST_CASE("infusion by duration runs at amount/duration", "[dosing][infusion]") {
    for (Method method : kMethods) {
        INFO("method " << to_string(method));
        Problem pr = no_elimination(method);
        pr.times = {0.5, 1.0, 2.5, 4.0, 7.0};
        pr.doses = {infusion_duration("central", 0.0, 100.0, 4.0)};
        const Trajectory tr = simulate(model("pk1"), pr);
        CHECK(tr.doses[0].rate == 25.0);
        CHECK(tr.doses[0].end == 4.0);
        const double expected[] = {12.5, 25.0, 62.5, 100.0, 100.0};
        for (std::size_t i = 0; i < tr.times.size(); ++i) {
            INFO("t = " << tr.times[i]);
            CHECK(central(tr, i) == Approx(expected[i]).epsilon(1e-10));
        }
        // The same infusion given by rate is the same administration.
        Problem pb = pr;
        pb.parameters.clear();
        pb.times = grid(0.1, 24.0, 60);
        const Trajectory td = simulate(model("pk1"), pb);
        pb.doses = {infusion_rate("central", 0.0, 100.0, 25.0)};
        const Trajectory tb = simulate(model("pk1"), pb);
        CHECK(max_rel_diff(td.states, tb.states) <= 1e-14);
    }
}

TEST_CASE("repeats (additional, interval) equal the doses listed one by one", "[dosing][repeats]") {
    const Model& m = model("pk2");
    SECTION("boluses") {
        for (Method method : kMethods) {
            INFO("method " << to_string(method));
            Problem pr = tight(method);
            pr.times = grid(0.5, 24.0 * 7, 120);
            Dose d = bolus("central", 0.0, 100.0);
            d.additional = 3;
            d.interval = 12.0;
            pr.doses = {d};
            const Trajectory tr = simulate(m, pr);
            REQUIRE(tr.doses.size() == 4);
            for (int k = 0; k < 4; ++k) CHECK(tr.doses[static_cast<std::size_t>(k)].time == 12.0 * k);
            Problem listed = pr;
            listed.doses.clear();
            for (int k = 0; k < 4; ++k) listed.doses.push_back(bolus("central", 12.0 * k, 100.0));
            const Trajectory tl = simulate(m, listed);
            CHECK(max_rel_diff(tr.states, tl.states) <= 1e-14);
            CHECK(tr.stats.restarts == tl.stats.restarts);
        }
    }
    SECTION("infusions with a lag") {
        for (Method method : kMethods) {
            INFO("method " << to_string(method));
            Problem pr = tight(method);
            pr.times = grid(0.5, 24.0 * 7, 120);
            Dose d = infusion_duration("central", 1.0, 200.0, 2.0);
            d.additional = 2;
            d.interval = 24.0;
            d.lag = 0.5;
            pr.doses = {d};
            const Trajectory tr = simulate(m, pr);
            Problem listed = pr;
            listed.doses.clear();
            for (int k = 0; k < 3; ++k)
                listed.doses.push_back(infusion_duration("central", 1.5 + 24.0 * k, 200.0, 2.0));
            const Trajectory tl = simulate(m, listed);
            CHECK(max_rel_diff(tr.states, tl.states) <= 1e-14);
            // and both equal the superposition of closed forms
            const pkref::TwoCmt ref(0.0125, 3.5, 0.00833, 2.9);
            double worst = 0.0;
            for (std::size_t i = 0; i < tr.times.size(); ++i) {
                double c = 0.0;
                for (int k = 0; k < 3; ++k) {
                    const double s = tr.times[i] - 1.5 - 24.0 * k;
                    c += 100.0 * (ref.infusion(s) - ref.infusion(s - 2.0));
                }
                worst = std::max(worst, rel_diff(tr.observables[i], c));
            }
            CHECK(worst <= 1e-6);
        }
    }
}

TEST_CASE("mg/kg doses scale with weight and respect the cap", "[dosing][per-kg]") {
    // Tocilizumab for CRS: 8 mg/kg IV, at most 800 mg per dose.
    Dose d = bolus("central", 0.0, 8.0);
    d.per_kg = true;
    d.cap = 800.0;
    for (Method method : kMethods) {
        INFO("method " << to_string(method));
        Problem pr = no_elimination(method);
        pr.times = {0.0, 5.0};
        pr.doses = {d};
        pr.weight_kg = 70.0;
        Trajectory tr = simulate(model("pk1"), pr);
        CHECK(tr.doses[0].amount == 560.0);
        CHECK(central(tr, 0) == 560.0);
        CHECK(central(tr, 1) == Approx(560.0).epsilon(1e-12));

        pr.weight_kg = 120.0;  // 960 mg uncapped
        tr = simulate(model("pk1"), pr);
        CHECK(tr.doses[0].amount == 800.0);
        CHECK(central(tr, 1) == Approx(800.0).epsilon(1e-12));

        // As a 1-h infusion by duration: 560 mg/h at 70 kg, 800 mg/h when capped.
        pr.doses[0].duration = 1.0;
        pr.times = {0.5, 1.0, 3.0};
        pr.weight_kg = 70.0;
        tr = simulate(model("pk1"), pr);
        CHECK(tr.doses[0].rate == 560.0);
        CHECK(central(tr, 0) == Approx(280.0).epsilon(1e-10));
        CHECK(central(tr, 2) == Approx(560.0).epsilon(1e-10));
        pr.weight_kg = 120.0;
        tr = simulate(model("pk1"), pr);
        CHECK(tr.doses[0].rate == 800.0);
        CHECK(central(tr, 2) == Approx(800.0).epsilon(1e-10));
    }
}

TEST_CASE("doses at the same time add up", "[dosing]") {
    for (Method method : kMethods) {
        INFO("method " << to_string(method));
        Problem pr = tight(method);
        pr.times = grid(0.0, 24.0, 49);
        pr.doses = {bolus("central", 2.0, 3.0), bolus("central", 2.0, 4.0)};
        const Trajectory two = simulate(model("pk1"), pr);
        pr.doses = {bolus("central", 2.0, 7.0)};
        const Trajectory one = simulate(model("pk1"), pr);
        CHECK(max_rel_diff(two.states, one.states, 1e-12) <= 1e-13);
        // Output at t = 2 h is the summed dose, exactly.
        CHECK(central(two, 4) == 7.0);
    }
}

TEST_CASE("an output at a dose time reports the state after the dose", "[dosing]") {
    const pkref::OneCmt ref(kCL, kV);
    for (Method method : kMethods) {
        INFO("method " << to_string(method));
        Problem pr = tight(method);
        pr.times = {0.0, 2.0 - 1e-7, 2.0, 3.0};
        pr.doses = {bolus("central", 0.0, 5.0), bolus("central", 2.0, 3.0)};
        const Trajectory tr = simulate(model("pk1"), pr);
        CHECK(central(tr, 0) == 5.0);
        CHECK(tr.observables[1] == Approx(5.0 * ref.bolus(2.0 - 1e-7)).epsilon(1e-8));  // pre-dose
        CHECK(tr.observables[2] == Approx(5.0 * ref.bolus(2.0) + 3.0 / kV).epsilon(1e-8));
        CHECK(tr.observables[3] == Approx(5.0 * ref.bolus(3.0) + 3.0 * ref.bolus(1.0)).epsilon(1e-8));
    }
}

TEST_CASE("overlapping infusions add their rates", "[dosing][infusion]") {
    for (Method method : kMethods) {
        INFO("method " << to_string(method));
        // 40 mg at 10 mg/h on [0, 4] and 20 mg at 5 mg/h on [2, 6].
        Problem pr = no_elimination(method);
        pr.times = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0};
        pr.doses = {infusion_rate("central", 0.0, 40.0, 10.0), infusion_rate("central", 2.0, 20.0, 5.0)};
        const Trajectory tr = simulate(model("pk1"), pr);
        const double expected[] = {10.0, 20.0, 35.0, 50.0, 55.0, 60.0, 60.0};
        for (std::size_t i = 0; i < tr.times.size(); ++i) {
            INFO("t = " << tr.times[i]);
            CHECK(central(tr, i) == Approx(expected[i]).epsilon(1e-10));
        }
        // Two-compartment model: superposition of the two infusion closed forms.
        Problem p2 = tight(method);
        p2.times = grid(0.25, 48.0, 120);
        p2.doses = pr.doses;
        const Trajectory t2 = simulate(model("pk2"), p2);
        const pkref::TwoCmt ref(0.0125, 3.5, 0.00833, 2.9);
        double worst = 0.0;
        for (std::size_t i = 0; i < t2.times.size(); ++i) {
            const double t = t2.times[i];
            const double c = 10.0 * (ref.infusion(t) - ref.infusion(t - 4.0)) +
                             5.0 * (ref.infusion(t - 2.0) - ref.infusion(t - 6.0));
            worst = std::max(worst, rel_diff(t2.observables[i], c));
        }
        CHECK(worst <= 1e-6);
    }
}

TEST_CASE("a dose after the last output time has no effect", "[dosing]") {
    for (Method method : kMethods) {
        INFO("method " << to_string(method));
        Problem pr = tight(method);
        pr.times = grid(0.5, 24.0, 48);
        pr.doses = {bolus("central", 0.0, 10.0)};
        const Trajectory base = simulate(model("pk1"), pr);
        pr.doses.push_back(bolus("central", 30.0, 1000.0));
        pr.doses.push_back(infusion_rate("central", 25.0, 1000.0, 10.0));
        const Trajectory later = simulate(model("pk1"), pr);
        CHECK(max_rel_diff(base.states, later.states) == 0.0);
        CHECK(base.stats.restarts == later.stats.restarts);
    }
    SECTION("an infusion running past the last output time is integrated up to it") {
        const pkref::OneCmt ref(kCL, kV);
        Problem pr = tight(Method::Rosenbrock4);
        pr.times = grid(20.5, 24.0, 8);
        pr.doses = {infusion_rate("central", 20.0, 100.0, 10.0)};  // runs until 30 h
        const Trajectory tr = simulate(model("pk1"), pr);
        double worst = 0.0;
        for (std::size_t i = 0; i < tr.times.size(); ++i)
            worst = std::max(worst, rel_diff(tr.observables[i], 10.0 * ref.infusion(tr.times[i] - 20.0)));
        CHECK(worst <= 1e-6);
    }
}

TEST_CASE("a dose at t_start is applied before the first output", "[dosing]") {
    const pkref::OneCmt ref(kCL, kV);
    for (Method method : kMethods) {
        INFO("method " << to_string(method));
        Problem pr = tight(method);
        pr.t_start = 5.0;
        pr.times = grid(5.0, 29.0, 49);
        pr.doses = {bolus("central", 5.0, 10.0)};
        const Trajectory tr = simulate(model("pk1"), pr);
        CHECK(central(tr, 0) == 10.0);
        double worst = 0.0;
        for (std::size_t i = 0; i < tr.times.size(); ++i)
            worst = std::max(worst, rel_diff(tr.observables[i], 10.0 * ref.bolus(tr.times[i] - 5.0)));
        CHECK(worst <= 1e-6);

        // An infusion starting at t_start: zero at t_start, closed form afterwards.
        pr.doses = {infusion_duration("central", 5.0, 10.0, 2.0)};
        const Trajectory ti = simulate(model("pk1"), pr);
        CHECK(central(ti, 0) == 0.0);
        worst = 0.0;
        for (std::size_t i = 1; i < ti.times.size(); ++i) {
            const double s = ti.times[i] - 5.0;
            worst = std::max(worst, rel_diff(ti.observables[i], 5.0 * (ref.infusion(s) - ref.infusion(s - 2.0))));
        }
        CHECK(worst <= 1e-6);
    }
}

TEST_CASE("the stepper restarts exactly at every discontinuity", "[dosing][restart]") {
    const Model& m = model("pk2");
    const pkref::TwoCmt ref(0.0125, 3.5, 0.00833, 2.9);
    SECTION("a 1-h infusion: two segments, the profile right after the stop matches the closed form") {
        for (Method method : kMethods) {
            INFO("method " << to_string(method));
            Problem pr = tight(method);
            // Right at and just after the end of the infusion, then out to a week.
            pr.times = {0.5, 1.0, 1.0 + 1e-9, 1.0 + 1e-6, 1.001, 1.01, 1.1, 2.0, 24.0, 168.0};
            pr.doses = {infusion_rate("central", 0.0, 560.0, 560.0)};
            const Trajectory tr = simulate(m, pr);
            CHECK(tr.stats.restarts == 2);  // [0, 1] and [1, 168]
            for (std::size_t i = 0; i < tr.times.size(); ++i) {
                const double t = tr.times[i];
                const double c = 560.0 * (ref.infusion(t) - ref.infusion(t - 1.0));
                INFO("t = " << t);
                CHECK(rel_diff(tr.observables[i], c) <= 1e-8);
            }
        }
    }
    SECTION("segments are counted once per discontinuity, coinciding ones merged") {
        for (Method method : kMethods) {
            INFO("method " << to_string(method));
            Problem pr = tight(method);
            pr.times = grid(1.0, 48.0, 48);
            pr.doses = {bolus("central", 0.0, 100.0), bolus("central", 12.0, 100.0),
                        infusion_duration("central", 24.0, 50.0, 1.0),
                        bolus("central", 25.0, 10.0),   // at the infusion stop: same boundary
                        bolus("central", 48.0, 10.0)};  // at the last output: no segment after it
            const Trajectory tr = simulate(m, pr);
            // boundaries 0, 12, 24, 25, 48 -> 4 segments
            CHECK(tr.stats.restarts == 4);
            CHECK(tr.stats.steps > 0);
            const double t_last = 48.0;
            const double c = 100.0 * (ref.bolus(t_last) + ref.bolus(t_last - 12.0)) +
                             50.0 * (ref.infusion(t_last - 24.0) - ref.infusion(t_last - 25.0)) +
                             10.0 * ref.bolus(t_last - 25.0) + 10.0 / 3.5;
            CHECK(rel_diff(tr.observables.back(), c) <= 1e-8);
        }
    }
}
