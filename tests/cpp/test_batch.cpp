// Batch runs: input order kept, results bitwise identical to serial runs whatever the thread count,
// and a failing run reported in its slot without aborting the others.
#include <vector>

#include "catch.hpp"
#include "crsim/batch.hpp"
#include "crsim/models/builtin.hpp"

using namespace crsim;

TEST_CASE("batch runs match serial runs for any thread count; failures stay in their slot", "[batch]") {
    const Model& m = *models::builtin_registry().get("pk2_mm");
    std::vector<Problem> problems;
    for (int i = 0; i < 24; ++i) {
        Problem pr;
        pr.parameters = m.default_parameters();
        pr.parameters[4] *= 0.5 + 0.05 * i;  // Vmax
        Dose d;
        d.target = "central";
        d.amount = 100.0 + 20.0 * i;
        d.duration = 1.0;
        pr.doses = {d};
        for (int k = 0; k <= 56; ++k) pr.times.push_back(24.0 * k);
        problems.push_back(pr);
    }
    problems[7].options.rtol = 2.0;    // bad input
    problems[13].options.max_steps = 3;  // solver failure

    const auto serial = simulate_batch(m, problems, 1);
    for (int threads : {2, 3, 8}) {
        const auto par = simulate_batch(m, problems, threads);
        REQUIRE(par.size() == problems.size());
        for (std::size_t i = 0; i < par.size(); ++i) {
            CHECK(par[i].status == serial[i].status);
            CHECK(par[i].trajectory.states == serial[i].trajectory.states);
        }
    }
    CHECK(serial[7].status == BatchOutcome::Status::InputError);
    CHECK(serial[7].message.find("options.rtol") != std::string::npos);
    CHECK(serial[13].status == BatchOutcome::Status::SolverError);
    for (std::size_t i = 0; i < serial.size(); ++i) {
        if (i == 7 || i == 13) continue;
        CHECK(serial[i].ok());
        const auto single = simulate(m, problems[i]);
        CHECK(single.states == serial[i].trajectory.states);
    }
}
