// Hardening of the engine against inputs that used to hang it, exhaust memory or drop output in
// silence (issue 18): the event timeline (cost per dose, repeats past the end, the limit on
// administrations), policies that would fire forever, interrupts (request_interrupt from another
// thread and from a signal handler) and output grids far from t = 0 or closely spaced.
// docs/reliability.md lists the guarantees these tests check.
#include <signal.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "crsim/batch.hpp"
#include "crsim/interrupt.hpp"
#include "test_support.hpp"

using namespace crsim;
using namespace testsupport;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// pk1 with CL = 0: the central amount is exactly what was given so far.
Problem no_elimination() {
    Problem pr;
    pr.parameters = model("pk1").parameters_with({{"CL", 0.0}});
    return pr;
}

// A run that would take practically forever: steps of at most 1e-6 h over 1e6 h.
Problem endless() {
    Problem pr;
    pr.options.method = Method::Dopri5;
    pr.options.max_step = 1e-6;
    pr.options.max_steps = std::numeric_limits<long>::max();
    pr.doses = {bolus("central", 0.0, 100.0)};
    pr.times = {0.0, 1e6};
    return pr;
}

}  // namespace

// --- the event timeline ------------------------------------------------------------------------

TEST_CASE("100,001 boluses 1e-6 h apart take linear-logarithmic time, each given once", "[hardening][dosing]") {
    // The fuzzer's case (additional: 100000, interval: 1e-6) hung: every discontinuity scanned all
    // events. Each one now leaves the timeline once (O(log n)).
    Problem pr = no_elimination();
    Dose d = bolus("central", 0.0, 1.0);
    d.additional = 100000;
    d.interval = 1e-6;
    pr.doses = {d};
    pr.times = {0.0, 0.05, 1.0};
    pr.options.max_steps = 10000000;  // a few steps per dose
    const auto t0 = std::chrono::steady_clock::now();
    const Trajectory tr = simulate(model("pk1"), pr);
    const double secs = seconds_since(t0);
    INFO("run took " << secs << " s");
    CHECK(secs < 20.0);  // quadratic: 1e10 event visits; an unoptimised sanitizer build needs ~2 s
    REQUIRE(tr.doses.size() == 100001);
    CHECK(tr.states[0] == 1.0);                                       // the dose at t = 0
    CHECK(tr.states[1] == Approx(50001.0).epsilon(1e-12));            // doses at 0 .. 0.05 h
    CHECK(tr.states[2] == Approx(100001.0).epsilon(1e-12));           // all of them
}

TEST_CASE("repeats after the last output time are not expanded", "[hardening][dosing]") {
    // q1h x 1,000,000,000 over two days: 49 administrations, not a billion.
    Problem pr = no_elimination();
    Dose d = bolus("central", 0.0, 100.0);
    d.additional = 1000000000;
    d.interval = 1.0;
    pr.doses = {d, bolus("central", 100.0, 5.0)};  // a dose after the end: never given, not listed
    pr.times = grid(0.0, 48.0, 49);
    const Trajectory tr = simulate(model("pk1"), pr);
    REQUIRE(tr.doses.size() == 49);
    CHECK(tr.doses.back().time == 48.0);
    CHECK(tr.states.back() == Approx(4900.0).epsilon(1e-12));
    // the expansion itself, horizon given
    CHECK(expand_doses(model("pk1"), pr.doses, std::nan(""), 0.0, 48.0).size() == 49);
}

TEST_CASE("more administrations than the limit is an InputError naming the dose", "[hardening][dosing]") {
    Problem pr = no_elimination();
    Dose d = bolus("central", 0.0, 1.0);
    d.additional = 2000000;
    d.interval = 1e-6;
    pr.doses = {bolus("central", 0.0, 1.0), d};
    pr.times = {0.0, 10.0};
    const std::string msg = message_of<InputError>([&] { simulate(model("pk1"), pr); });
    INFO(msg);
    CHECK(contains(msg, "doses[1].additional = 2000000"));
    CHECK(contains(msg, "at most " + std::to_string(kMaxAdministrations) + " administrations"));
    // without a horizon (crsim._core.expand_doses), a billion repeats are refused before allocating
    d.additional = 1000000000;
    d.interval = 1.0;
    const std::string m2 = message_of<InputError>([&] { expand_doses(model("pk1"), {d}, std::nan(""), 0.0); });
    CHECK(contains(m2, "doses[0].additional = 1000000000"));
}

TEST_CASE("overlapping infusions: rates add up and return to exactly zero", "[hardening][dosing]") {
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) {
        INFO("method " << to_string(method));
        Problem pr = no_elimination();
        pr.options.method = method;
        pr.options.rtol = 1e-10;
        pr.options.atol = 1e-12;
        // 0.1 + 0.2 + 0.7 mg/h: summed and subtracted in floating point the rate would not return
        // to 0 exactly; the state must then stay constant bit for bit.
        pr.doses = {infusion_rate("central", 0.0, 1.0, 0.1), infusion_rate("central", 1.0, 2.0, 0.2),
                    infusion_rate("central", 2.0, 7.0, 0.7)};
        pr.times = {5.0, 12.0, 20.0, 30.0, 100.0};
        const Trajectory tr = simulate(model("pk1"), pr);
        CHECK(tr.states[0] == Approx(0.5 + 0.8 + 2.1).epsilon(1e-10));  // at 5 h: 0.1*5, 0.2*4, 0.7*3
        CHECK(tr.states[2] == Approx(10.0).epsilon(1e-10));
        CHECK(tr.states[3] == tr.states[2]);
        CHECK(tr.states[4] == tr.states[2]);
    }
}

// --- policies ----------------------------------------------------------------------------------

namespace {
Policy always(const std::string& name) {
    Policy p;
    p.name = name;
    p.condition.variable = "C";
    p.condition.comparison = Comparison::GreaterEqual;
    p.condition.threshold = -1.0;  // always true
    p.max_firings = std::numeric_limits<int>::max();  // max_doses: null
    p.min_interval = 0.0;
    p.action = {bolus("central", 0.0, 1.0)};
    return p;
}
}  // namespace

TEST_CASE("a policy that is always true without limits stops with an error naming it", "[hardening][policy]") {
    Problem pr;
    pr.times = {0.0, 24.0};
    pr.policies = {always("forever")};
    const auto t0 = std::chrono::steady_clock::now();
    const std::string msg = message_of<InputError>([&] { simulate(model("pk1"), pr); });
    CHECK(seconds_since(t0) < 10.0);
    INFO(msg);
    CHECK(contains(msg, "policies[0].max_firings = unlimited"));
    CHECK(contains(msg, "policy 'forever' fired " + std::to_string(kMaxFiringsPerInstant) + " times at t = 0 h"));
}

TEST_CASE("a policy firing at tiny intervals stops at the per-run limit", "[hardening][policy]") {
    Problem pr;
    pr.times = {0.0, 24.0};
    Policy p = always("often");
    p.min_interval = 1e-4;  // 240,000 firings in 24 h
    Policy never = always("never");
    never.condition.threshold = 1e300;
    pr.policies = {never, p};
    const std::string msg = message_of<InputError>([&] { simulate(model("pk1"), pr); });
    INFO(msg);
    CHECK(contains(msg, "policies[1].max_firings"));
    CHECK(contains(msg, "policy 'often' reached " + std::to_string(kMaxFiringsPerRun) + " firings"));
}

TEST_CASE("firings below the limits are unaffected", "[hardening][policy]") {
    Problem pr;
    pr.times = {0.0, 24.0};
    Policy p = always("capped");
    p.max_firings = kMaxFiringsPerInstant;  // all at t = 0: allowed
    pr.policies = {p};
    const Trajectory tr = simulate(model("pk1"), pr);
    CHECK(tr.firings.size() == static_cast<std::size_t>(kMaxFiringsPerInstant));
    CHECK(tr.doses.size() == static_cast<std::size_t>(kMaxFiringsPerInstant));
}

// --- interrupts --------------------------------------------------------------------------------

TEST_CASE("interrupt tokens count only requests after they were made, until cleared", "[hardening][interrupt]") {
    const InterruptToken before;
    request_interrupt();
    const InterruptToken after;
    CHECK(before.requested());
    CHECK_FALSE(after.requested());  // a request is not pending for later runs
    clear_interrupt();
    CHECK_FALSE(before.requested());
    request_interrupt();
    CHECK(before.requested());
    CHECK(after.requested());
}

TEST_CASE("request_interrupt from another thread stops a run within a step", "[hardening][interrupt]") {
    std::atomic<bool> started{false};
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        started = true;
        request_interrupt();
    });
    const auto t0 = std::chrono::steady_clock::now();
    const std::string msg = message_of<Interrupted>([&] { simulate(model("pk1"), endless()); });
    const double secs = seconds_since(t0);
    stopper.join();
    CHECK(started);
    CHECK(contains(msg, "interrupted (at t = "));
    CHECK(secs < 5.0);
}

namespace {
void on_alarm(int) { request_interrupt(); }
}  // namespace

TEST_CASE("request_interrupt from a signal handler stops a run (as Ctrl-C does)", "[hardening][interrupt]") {
    struct sigaction sa {}, old {};
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    REQUIRE(sigaction(SIGALRM, &sa, &old) == 0);
    itimerval timer{};
    timer.it_value.tv_usec = 200000;  // 0.2 s
    setitimer(ITIMER_REAL, &timer, nullptr);
    const std::string msg = message_of<Interrupted>([&] { simulate(model("pk1"), endless()); });
    sigaction(SIGALRM, &old, nullptr);
    CHECK(contains(msg, "interrupted"));
}

TEST_CASE("request_interrupt stops a batch: runs in progress and those not started", "[hardening][interrupt][batch]") {
    std::vector<Problem> problems(20, endless());
    std::thread stopper([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        request_interrupt();
    });
    const auto t0 = std::chrono::steady_clock::now();
    const std::string msg = message_of<Interrupted>([&] { simulate_batch(model("pk1"), problems, 2); });
    stopper.join();
    CHECK(contains(msg, "batch of 20 runs, 0 finished"));
    CHECK(seconds_since(t0) < 5.0);
    // and a later batch runs normally
    Problem quick;
    quick.times = {0.0, 1.0};
    CHECK(simulate_batch(model("pk1"), std::vector<Problem>(3, quick), 2)[2].ok());
}

// --- output grids --------------------------------------------------------------------------------

TEST_CASE("a run far from t = 0 returns every output row and gives its doses", "[hardening][times]") {
    // t_start = 1e9 h: the grid tolerance was absolute-time relative (1e-13 |t| = 1e-4 h there).
    for (Method method : {Method::Auto, Method::Rosenbrock4, Method::Dopri5}) {
        INFO("method " << to_string(method));
        for (double t0 : {0.0, 1e9}) {
            INFO("t_start " << t0);
            Problem pr;
            pr.options.method = method;
            pr.t_start = t0;
            pr.doses = {bolus("central", t0 + 1.0, 100.0)};
            for (int k = 0; k <= 24; ++k) pr.times.push_back(t0 + k);
            const Trajectory tr = simulate(model("pk1"), pr);
            REQUIRE(tr.times.size() == 25);
            CHECK(tr.times == pr.times);
            REQUIRE(tr.doses.size() == 1);
            // C(t) = 100/V e^{-k (t - 1)} after the dose (pk1 defaults CL 14.7 L/h, V 64 L)
            const double k = 14.7 / 64.0;
            CHECK(tr.observables[0] == 0.0);
            CHECK(tr.observables[1] == Approx(100.0 / 64.0).epsilon(1e-6));
            CHECK(tr.observables[24] == Approx(100.0 / 64.0 * std::exp(-k * 23.0)).epsilon(1e-5));
        }
    }
}

TEST_CASE("output times closer than a step are each returned", "[hardening][times]") {
    // Distinct doubles as close as 1 ulp, at a dose, before the end and at the end.
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) {
        INFO("method " << to_string(method));
        Problem pr;
        pr.options.method = method;
        const double up = std::nextafter(2.0, 3.0), down = std::nextafter(2.0, 1.0);
        const double end = 10.0, before_end = std::nextafter(10.0, 0.0);
        pr.doses = {bolus("central", 0.0, 100.0), bolus("central", 2.0, 100.0)};
        pr.times = {1.0, down, 2.0, up, 2.0 + 1e-14, 5.0, before_end - 1e-13, before_end, end};
        const Trajectory tr = simulate(model("pk1"), pr);
        REQUIRE(tr.times == pr.times);
        const double c_pre = tr.observables[1], c_post = tr.observables[2];
        CHECK(c_post - c_pre == Approx(100.0 / 64.0).epsilon(1e-9));  // `down` is before the dose
        CHECK(tr.observables[3] == Approx(c_post).epsilon(1e-12));
        CHECK(tr.observables[7] == Approx(tr.observables[8]).epsilon(1e-12));
    }
    // equal times are an error, not merged
    Problem pr;
    pr.times = {1.0, 2.0, 2.0};
    CHECK(contains(message_of<InputError>([&] { simulate(model("pk1"), pr); }), "times[2] = 2"));
}
