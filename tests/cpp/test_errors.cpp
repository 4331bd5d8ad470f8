// Every bad input raises crsim::InputError (a std::invalid_argument) whose field() and message name
// the offending field (and whose message shows what is allowed); solver failures raise
// crsim::SolverError naming the time reached and the cause.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "catch.hpp"
#include "test_support.hpp"

using namespace crsim;
using namespace testsupport;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

// A valid pk1 problem: 10 mg bolus at 0, outputs 1..24 h.
Problem valid() {
    Problem pr;
    pr.times = grid(1.0, 24.0, 24);
    pr.doses = {bolus("central", 0.0, 10.0)};
    return pr;
}

// Runs simulate(model, pr), requires InputError with field() == field and the field in what().
void expect_input_error(const std::string& model_name, const Problem& pr, const std::string& field,
                        const std::string& also_in_message = "") {
    const Model& m = model(model_name);
    CHECK_THROWS_AS(simulate(m, pr), InputError);
    try {
        simulate(m, pr);
    } catch (const InputError& e) {
        INFO("message: " << e.what());
        CHECK(e.field() == field);
        CHECK(contains(e.what(), field));
        CHECK(contains(e.what(), "is not allowed"));
        if (!also_in_message.empty()) CHECK(contains(e.what(), also_in_message));
    }
}

}  // namespace

TEST_CASE("the valid baseline problem runs", "[errors]") {
    CHECK_NOTHROW(simulate(model("pk1"), valid()));
}

TEST_CASE("unknown model name", "[errors]") {
    CHECK_THROWS_AS(models::builtin_registry().get("pk3"), InputError);
    const std::string msg = message_of<InputError>([] { models::builtin_registry().get("pk3"); });
    CHECK(contains(msg, "model"));
    CHECK(contains(msg, "'pk3'"));
    CHECK(contains(msg, "pk2_mm"));  // lists the known models
}

TEST_CASE("parameter overrides and values", "[errors][parameters]") {
    const Model& m = model("pk1");
    SECTION("unknown parameter in overrides") {
        CHECK_THROWS_AS(m.parameters_with({{"Cl", 1.0}}), InputError);
        const std::string msg = message_of<InputError>([&] { m.parameters_with({{"Cl", 1.0}}); });
        CHECK(contains(msg, "parameters"));
        CHECK(contains(msg, "'Cl'"));
        CHECK(contains(msg, "CL, V"));
    }
    SECTION("override out of bounds or NaN") {
        CHECK_THROWS_AS(m.parameters_with({{"CL", -1.0}}), InputError);
        CHECK(contains(message_of<InputError>([&] { m.parameters_with({{"CL", -1.0}}); }),
                       "parameters.CL"));
        CHECK_THROWS_AS(m.parameters_with({{"V", 0.0}}), InputError);  // V >= 0.01 L (its lower bound)
        CHECK(contains(message_of<InputError>([&] { m.parameters_with({{"V", 0.0}}); }), "parameters.V"));
        CHECK_THROWS_AS(m.parameters_with({{"V", kNaN}}), InputError);
        CHECK(contains(message_of<InputError>([&] { m.parameters_with({{"V", kNaN}}); }), "nan"));
    }
    SECTION("parameter vector given to simulate") {
        Problem pr = valid();
        pr.parameters = {14.7, kInf};
        expect_input_error("pk1", pr, "parameters.V");
        pr.parameters = {-0.5, 64.0};
        expect_input_error("pk1", pr, "parameters.CL", "[0, 2000]");  // the bounds of models/pk/pk1.ant
        pr.parameters = {14.7};
        expect_input_error("pk1", pr, "parameters", "2 values");
    }
}

TEST_CASE("dose records", "[errors][dosing]") {
    SECTION("negative or non-finite amount") {
        for (double a : {-1.0, kNaN, kInf}) {
            Problem pr = valid();
            pr.doses[0].amount = a;
            expect_input_error("pk1", pr, "doses[0].amount", "mg");
        }
    }
    SECTION("time NaN or before t_start") {
        Problem pr = valid();
        pr.doses[0].time = kNaN;
        expect_input_error("pk1", pr, "doses[0].time");
        pr.doses[0].time = -1.0;
        expect_input_error("pk1", pr, "doses[0].time", ">= the simulation start");
        pr = valid();
        pr.t_start = 2.0;
        pr.times = {3.0, 4.0};
        pr.doses.push_back(bolus("central", 1.0, 1.0));  // doses[0] at 0 is also before t_start
        expect_input_error("pk1", pr, "doses[0].time");
    }
    SECTION("both rate and duration") {
        Problem pr = valid();
        pr.doses[0].rate = 10.0;
        pr.doses[0].duration = 1.0;
        expect_input_error("pk1", pr, "doses[0].rate", "duration");
    }
    SECTION("negative rate or duration") {
        Problem pr = valid();
        pr.doses[0].rate = -10.0;
        expect_input_error("pk1", pr, "doses[0].rate");
        pr = valid();
        pr.doses[0].duration = -1.0;
        expect_input_error("pk1", pr, "doses[0].duration");
    }
    SECTION("repeats without an interval") {
        Problem pr = valid();
        pr.doses[0].additional = 3;
        pr.doses[0].interval = 0.0;
        expect_input_error("pk1", pr, "doses[0].interval", "additional > 0");
        pr.doses[0].additional = -1;
        pr.doses[0].interval = 12.0;
        expect_input_error("pk1", pr, "doses[0].additional");
    }
    SECTION("per kg without a weight") {
        Problem pr = valid();
        pr.doses[0].per_kg = true;
        expect_input_error("pk1", pr, "weight_kg", "doses[0]");
        pr.weight_kg = -70.0;
        expect_input_error("pk1", pr, "weight_kg");
    }
    SECTION("lag, bioavailability and cap") {
        Problem pr = valid();
        pr.doses[0].lag = -0.5;
        expect_input_error("pk1", pr, "doses[0].lag");
        pr = valid();
        pr.doses[0].bioavailability = kNaN;
        expect_input_error("pk1", pr, "doses[0].bioavailability");
        pr = valid();
        pr.doses[0].cap = 0.0;
        expect_input_error("pk1", pr, "doses[0].cap");
    }
    SECTION("unknown target, and a state that takes no doses") {
        Problem pr = valid();
        pr.doses.push_back(bolus("centre", 1.0, 1.0));
        expect_input_error("pk1", pr, "doses[1].target", "'centre'");
        Problem pm = valid();
        pm.doses = {bolus("eliminated_linear", 0.0, 10.0)};
        expect_input_error("pk2_mm", pm, "doses[0].target", "does not");
    }
}

TEST_CASE("output times", "[errors][times]") {
    Problem pr = valid();
    pr.times = {1.0, 2.0, 2.0, 3.0};
    expect_input_error("pk1", pr, "times[2]", "strictly increasing");
    pr.times = {1.0, 3.0, 2.0};
    expect_input_error("pk1", pr, "times[2]", "strictly increasing");
    pr.times = {1.0, kNaN};
    expect_input_error("pk1", pr, "times[1]");
    pr.times = {1.0, kInf};
    expect_input_error("pk1", pr, "times[1]");
    pr.times = {};
    expect_input_error("pk1", pr, "times", "at least one");
    pr.times = {-1.0, 1.0};
    expect_input_error("pk1", pr, "times[0]", "t_start");
    pr = valid();
    pr.t_start = kNaN;
    expect_input_error("pk1", pr, "t_start");
}

TEST_CASE("solver options", "[errors][options]") {
    for (double rtol : {0.0, 1.0, 1e-20, -1e-6, kNaN}) {
        INFO("rtol " << rtol);
        Problem pr = valid();
        pr.options.rtol = rtol;
        expect_input_error("pk1", pr, "options.rtol");
    }
    for (double atol : {0.0, -1e-10, kNaN, kInf}) {
        INFO("atol " << atol);
        Problem pr = valid();
        pr.options.atol = atol;
        expect_input_error("pk1", pr, "options.atol");
    }
    for (long n : {0L, -5L}) {
        Problem pr = valid();
        pr.options.max_steps = n;
        expect_input_error("pk1", pr, "options.max_steps");
    }
    Problem pr = valid();
    pr.options.max_step = -1.0;
    expect_input_error("pk1", pr, "options.max_step");
    pr = valid();
    pr.options.initial_step = kNaN;
    expect_input_error("pk1", pr, "options.initial_step");
    CHECK_THROWS_AS(method_from_string("rk45"), InputError);
    CHECK(contains(message_of<InputError>([] { method_from_string("rk45"); }), "method"));
}

TEST_CASE("sensitivity requests", "[errors][sensitivities]") {
    Problem pr = valid();
    pr.sensitivities = {"CL", "Vc"};
    expect_input_error("pk1", pr, "sensitivities[1]", "'Vc'");
    pr.sensitivities = {"init:peripheral"};
    expect_input_error("pk1", pr, "sensitivities[0]", "'peripheral'");
    pr.sensitivities = {"CL", "V", "CL"};
    expect_input_error("pk1", pr, "sensitivities[2]", "once");
    pr.sensitivities = {"init:central", "init:central"};
    expect_input_error("pk1", pr, "sensitivities[1]", "once");
}

TEST_CASE("initial-value overrides", "[errors]") {
    Problem pr = valid();
    pr.initial = {{"central", kNaN}};
    expect_input_error("pk1", pr, "initial.central");
    pr.initial = {{"centre", 1.0}};
    expect_input_error("pk1", pr, "initial", "'centre'");
}

TEST_CASE("too many steps raises SolverError with the time reached", "[errors][solver]") {
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) {
        INFO("method " << to_string(method));
        Problem pr = valid();
        pr.options.method = method;
        pr.options.max_steps = 5;
        pr.times = grid(1.0, 24.0 * 28, 50);
        pr.doses[0].additional = 27;
        pr.doses[0].interval = 24.0;
        CHECK_THROWS_AS(simulate(model("pk1"), pr), SolverError);
        try {
            simulate(model("pk1"), pr);
        } catch (const SolverError& e) {
            INFO("message: " << e.what());
            CHECK(e.time_reached() < pr.times.back());
            CHECK(e.time_reached() > 0.0);
            CHECK(e.step_size() > 0.0);
            CHECK(contains(e.what(), "max_steps"));
            CHECK(contains(e.what(), "solver failed at t = "));
        }
    }
}

TEST_CASE("an explicit method on a stiff problem runs out of steps", "[errors][solver][stiff]") {
    // Robertson to t = 1e5: dopri5 is limited by stability (|lambda| ~ 1e4) to steps of order 1e-4
    // at late times, i.e. ~1e9 steps; rosenbrock4 needs a few hundred.
    Problem pr;
    pr.options.method = Method::Dopri5;
    pr.options.rtol = 1e-6;
    pr.options.atol = 1e-12;
    pr.options.max_steps = 20000;
    pr.times = {1.0, 1e5};
    const Model& m = model("robertson");
    CHECK_THROWS_AS(simulate(m, pr), SolverError);
    const std::string msg = message_of<SolverError>([&] { simulate(m, pr); });
    CHECK(contains(msg, "too much work"));
    CHECK(contains(msg, "max_steps"));
    // the message names the state whose error estimate limits the steps (one of the model's), and
    // lists no parameter: Robertson's rate constants are far from their bounds
    INFO("message: " << msg);
    bool named = false;
    for (const auto& s : m.info().states)
        named = named || contains(msg, "error estimate was largest in state '" + s.name + "' = ");
    CHECK(named);
    CHECK_FALSE(contains(msg, "of a bound"));
    pr.options.method = Method::Rosenbrock4;
    CHECK_NOTHROW(simulate(m, pr));
}
