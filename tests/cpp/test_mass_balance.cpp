// Mass balance of pk2_mm (two compartments, parallel linear and Michaelis-Menten elimination, with the
// cumulative eliminated amounts as states): at every output time
//     central + peripheral + eliminated_linear + eliminated_mm = amount administered so far
// to 1e-8 relative, for boluses, infusions (by rate and by duration, overlapping), repeats, lag and
// bioavailability, in the saturated regime (tocilizumab 8 mg/kg, C >> Km) and the linear one
// (C << Km), with both methods. The sum of the right-hand sides is zero apart from the infusion
// rates, a linear invariant that Runge-Kutta and Rosenbrock methods (with an exact Jacobian) and their
// dense outputs keep up to rounding, so it must hold at loose tolerances too.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "catch.hpp"
#include "test_support.hpp"

using namespace crsim;
using namespace testsupport;

namespace {

// Amount administered up to time t (mg), from the administrations the engine applied.
double amount_in(const std::vector<DoseEvent>& events, double t) {
    double a = 0.0;
    for (const DoseEvent& e : events) {
        if (e.time > t) continue;
        a += e.is_infusion() ? e.rate * (std::min(t, e.end) - e.time) : e.amount;
    }
    return a;
}

struct Balance {
    double worst = 0.0;   // max |total - in| / in
    double c_max = 0.0;   // mg/L
    double c_min_after = 1e300;  // smallest concentration once dosing has started
};

Balance check_balance(const Trajectory& tr) {
    Balance b;
    for (std::size_t i = 0; i < tr.times.size(); ++i) {
        const double t = tr.times[i];
        const double in = amount_in(tr.doses, t);
        double sum = 0.0;
        for (std::size_t k = 0; k < 4; ++k) sum += tr.states[4 * i + k];
        INFO("t = " << t << " h: in " << in << " mg, in the body + eliminated " << sum << " mg");
        // The observable total_amount is the same sum.
        CHECK(tr.observables[2 * i + 1] == Approx(sum).epsilon(1e-14));
        if (in == 0.0) {
            CHECK(sum == 0.0);
            continue;
        }
        b.worst = std::max(b.worst, std::abs(sum - in) / in);
        CHECK(std::abs(sum - in) <= 1e-8 * in);
        b.c_max = std::max(b.c_max, tr.observables[2 * i]);
        b.c_min_after = std::min(b.c_min_after, tr.observables[2 * i]);
    }
    return b;
}

const double kKm = 2.7;  // mg/L, pk2_mm default (Frey 2010)

}  // namespace

TEST_CASE("pk2_mm mass balance: tocilizumab 8 mg/kg 1-h infusions q4w (saturated MM route)",
          "[mass-balance]") {
    Dose toci = infusion_duration("central", 0.0, 8.0, 1.0);
    toci.per_kg = true;
    toci.cap = 800.0;
    toci.additional = 2;
    toci.interval = 24.0 * 28;
    for (Method method : {Method::Rosenbrock4, Method::Dopri5})
        for (double rtol : {1e-8, 1e-4}) {
            INFO("method " << to_string(method) << ", rtol " << rtol);
            Problem pr;
            pr.options.method = method;
            pr.options.rtol = rtol;
            pr.options.atol = rtol * 1e-2;
            pr.weight_kg = 70.0;
            pr.doses = {toci};
            // Dense around the infusions (including mid-infusion), then every 12 h for 12 weeks.
            pr.times = grid(0.0, 2.0, 9);
            for (double t = 12.0; t <= 24.0 * 84; t += 12.0) pr.times.push_back(t);
            pr.times.push_back(672.5);
            pr.times.push_back(1344.25);
            std::sort(pr.times.begin(), pr.times.end());
            const Trajectory tr = simulate(model("pk2_mm"), pr);
            REQUIRE(tr.doses.size() == 3);
            CHECK(tr.doses[0].amount == 560.0);
            const Balance b = check_balance(tr);
            INFO("worst relative imbalance " << b.worst << ", C max " << b.c_max << " mg/L");
            // Saturated: the peak concentration is far above Km (~60 Km), so the MM route runs at
            // ~Vmax, and both elimination routes carry drug.
            CHECK(b.c_max > 30.0 * kKm);
            const std::size_t last = tr.times.size() - 1;
            CHECK(tr.states[4 * last + 2] > 1.0);
            CHECK(tr.states[4 * last + 3] > 1.0);
            CHECK(b.worst <= 1e-8);
        }
}

TEST_CASE("pk2_mm mass balance: small doses (linear regime), mixed administrations", "[mass-balance]") {
    // 1 mg boluses weekly, a 0.5 mg infusion by rate overlapping a 0.3 mg infusion by duration, a
    // lagged dose with F = 0.7 into the peripheral compartment.
    Dose weekly = bolus("central", 0.0, 1.0);
    weekly.additional = 3;
    weekly.interval = 168.0;
    Dose lagged = bolus("peripheral", 30.0, 2.0);
    lagged.lag = 6.5;
    lagged.bioavailability = 0.7;
    for (Method method : {Method::Rosenbrock4, Method::Dopri5})
        for (double rtol : {1e-8, 1e-4}) {
            INFO("method " << to_string(method) << ", rtol " << rtol);
            Problem pr;
            pr.options.method = method;
            pr.options.rtol = rtol;
            pr.options.atol = 1e-12;
            pr.doses = {weekly, infusion_rate("central", 10.0, 0.5, 0.1),
                        infusion_duration("central", 12.0, 0.3, 2.0), lagged};
            pr.times = grid(0.0, 24.0 * 35, 281);  // every 3 h, 5 weeks
            const Trajectory tr = simulate(model("pk2_mm"), pr);
            // F applied to the amount that reaches the peripheral compartment (state 1): 1.4 mg, at
            // 30 + 6.5 h.
            const auto it = std::find_if(tr.doses.begin(), tr.doses.end(),
                                         [](const DoseEvent& e) { return e.state == 1; });
            REQUIRE(it != tr.doses.end());
            CHECK(it->amount == Approx(1.4).epsilon(1e-15));
            CHECK(it->time == 36.5);
            const Balance b = check_balance(tr);
            INFO("worst relative imbalance " << b.worst << ", C max " << b.c_max << " mg/L");
            CHECK(b.c_max < 0.2 * kKm);  // linear regime
            CHECK(amount_in(tr.doses, tr.times.back()) == Approx(4.0 + 0.5 + 0.3 + 1.4).epsilon(1e-14));
            CHECK(b.worst <= 1e-8);
        }
}

TEST_CASE("pk2_mm mass balance holds with sensitivities requested", "[mass-balance][sensitivities]") {
    // The coupled state-sensitivity system is integrated by the same stepper; the state part must
    // still conserve mass, and the total's sensitivity to any parameter is zero (the total depends
    // on the doses only).
    Dose toci = infusion_duration("central", 0.0, 560.0, 1.0);
    toci.additional = 1;
    toci.interval = 336.0;
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) {
        INFO("method " << to_string(method));
        Problem pr;
        pr.options.method = method;
        pr.doses = {toci};
        pr.times = grid(0.0, 672.0, 113);
        pr.sensitivities = {"CL", "V1", "Q", "V2", "Vmax", "Km", "init:central"};
        const Trajectory tr = simulate(model("pk2_mm"), pr);
        const Balance b = check_balance(tr);
        CHECK(b.worst <= 1e-8);
        const std::size_t m = pr.sensitivities.size();
        double worst = 0.0;
        for (std::size_t i = 0; i < tr.times.size(); ++i)
            for (std::size_t k = 0; k + 1 < m; ++k) {  // parameters (init:central adds 1 exactly)
                double s = 0.0, mag = 0.0;
                for (std::size_t j = 0; j < 4; ++j) {
                    const double v = tr.state_sensitivities[(i * 4 + j) * m + k];
                    s += v;
                    mag = std::max(mag, std::abs(v));
                }
                worst = std::max(worst, mag > 0.0 ? std::abs(s) / mag : 0.0);
                CHECK(tr.observable_sensitivities[(i * 2 + 1) * m + k] == Approx(s).margin(1e-12 * std::max(1.0, mag)));
            }
        INFO("worst |sum of sensitivities| / largest term " << worst);
        CHECK(worst <= 1e-8);
        // d total / d init:central = 1 at every time.
        for (std::size_t i = 0; i < tr.times.size(); ++i)
            CHECK(tr.observable_sensitivities[(i * 2 + 1) * m + (m - 1)] == Approx(1.0).epsilon(1e-10));
    }
}
