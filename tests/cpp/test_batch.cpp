// Batch runs: input order kept, results bitwise identical to serial runs whatever the thread count,
// and a failing run reported in its slot without aborting the others.
#include <vector>

#include "catch.hpp"
#include "crsim/batch.hpp"
#include "crsim/errors.hpp"
#include "crsim/interrupt.hpp"
#include "crsim/models/builtin.hpp"

using namespace crsim;

namespace {

// pk2_mm runs: Vmax scaled by vmax(i), a 1-h infusion of amount(i) mg, daily outputs to days(i).
template <class Vmax, class Amount, class Days>
std::vector<Problem> pk_problems(const Model& m, int count, Vmax vmax, Amount amount, Days days) {
    std::vector<Problem> problems;
    for (int i = 0; i < count; ++i) {
        Problem pr;
        pr.parameters = m.default_parameters();
        pr.parameters[4] *= vmax(i);
        Dose d;
        d.target = "central";
        d.amount = amount(i);
        d.duration = 1.0;
        pr.doses = {d};
        for (int k = 0; k <= days(i); ++k) pr.times.push_back(24.0 * k);
        problems.push_back(pr);
    }
    return problems;
}

}  // namespace

TEST_CASE("batch runs match serial runs for any thread count; failures stay in their slot", "[batch]") {
    const Model& m = *models::builtin_registry().get("pk2_mm");
    std::vector<Problem> problems = pk_problems(
        m, 24, [](int i) { return 0.5 + 0.05 * i; }, [](int i) { return 100.0 + 20.0 * i; },
        [](int) { return 56; });
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

TEST_CASE("a reducing batch keeps each run's numbers, its errors in their slot, and reuses memory exactly",
          "[batch]") {
    const Model& m = *models::builtin_registry().get("pk2_mm");
    std::vector<Problem> problems = pk_problems(  // trajectories of different sizes (6 to 22 rows)
        m, 17, [](int i) { return 0.5 + 0.1 * i; }, [](int i) { return 200.0 + 50.0 * i; },
        [](int i) { return 5 + i; });
    problems[5].options.rtol = 2.0;      // bad input
    problems[11].options.max_steps = 3;  // solver failure
    // the reduction: the last concentration, the number of output rows, the sum of every state
    const BatchReducer reduce = [&](const Problem&, const Trajectory& tr) {
        double sum = 0.0;
        for (double v : tr.states) sum += v;
        return std::vector<double>{tr.observables[tr.observables.size() - 1],
                                   static_cast<double>(tr.times.size()), sum};
    };
    for (int threads : {1, 2, 5}) {
        const auto rows = simulate_batch(m, problems, threads, reduce);
        REQUIRE(rows.size() == problems.size());
        for (std::size_t i = 0; i < rows.size(); ++i) {
            if (i == 5) {
                CHECK(rows[i].status == BatchOutcome::Status::InputError);
                CHECK(rows[i].message.find("options.rtol") != std::string::npos);
                CHECK(rows[i].values.empty());
                continue;
            }
            if (i == 11) {
                CHECK(rows[i].status == BatchOutcome::Status::SolverError);
                continue;
            }
            REQUIRE(rows[i].ok());
            CHECK(rows[i].values == reduce(problems[i], simulate(m, problems[i])));
        }
    }
    // a run into a reused buffer (a longer trajectory before it) equals a fresh run
    Trajectory buffer = simulate(m, problems[16]);
    const Trajectory fresh = simulate(m, problems[0]);
    const Trajectory reused = simulate(m, problems[0], InterruptToken(), std::move(buffer));
    CHECK(reused.times == fresh.times);
    CHECK(reused.states == fresh.states);
    CHECK(reused.observables == fresh.observables);
    CHECK(reused.doses.size() == fresh.doses.size());
    CHECK(reused.stats.steps == fresh.stats.steps);
    // a reducer that throws fails its run only
    const BatchReducer picky = [](const Problem& pr, const Trajectory&) {
        if (pr.times.size() == 10) throw InputError("reduce", "a run of 10 rows", "any other");
        return std::vector<double>{1.0};
    };
    const auto rows = simulate_batch(m, problems, 2, picky);
    CHECK(rows[4].status == BatchOutcome::Status::InputError);  // 5 + 4 + 1 = 10 rows
    CHECK(rows[3].ok());
}
