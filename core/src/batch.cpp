#include "crsim/batch.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

#include "crsim/errors.hpp"
#include "crsim/interrupt.hpp"

namespace crsim {

namespace {

unsigned pool_size(std::size_t count, int threads) {
    const unsigned n = threads > 0 ? static_cast<unsigned>(threads) : std::thread::hardware_concurrency();
    return std::max(1u, std::min<unsigned>(n, static_cast<unsigned>(count)));
}

// Runs body(i, w) for every problem on pool_size(count, threads) threads, w the worker's number
// (input order kept by the caller's slots); body returns false when the run was interrupted.
// Throws Interrupted when a request stopped the batch before every run finished.
template <class Body>
void for_each_problem(std::size_t count, int threads, const InterruptToken& interrupt, Body body) {
    const unsigned n = pool_size(count, threads);
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> done{0};
    auto worker = [&](unsigned w) {
        for (std::size_t i = next++; i < count && !interrupt.requested(); i = next++) {
            if (!body(i, w)) return;
            ++done;
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < n; ++t) pool.emplace_back(worker, t);
    worker(0);
    for (auto& th : pool) th.join();
    if (done.load() < count && interrupt.requested())
        throw Interrupted("batch of " + std::to_string(count) + " runs, " + std::to_string(done.load()) +
                          " finished");
}

// Runs fn() and files an error in (status, message); false when interrupted.
template <class Fn>
bool guarded(BatchOutcome::Status& status, std::string& message, Fn fn) {
    try {
        fn();
    } catch (const Interrupted&) {
        return false;
    } catch (const InputError& e) {
        status = BatchOutcome::Status::InputError;
        message = e.what();
    } catch (const SolverError& e) {
        status = BatchOutcome::Status::SolverError;
        message = e.what();
    } catch (const std::exception& e) {
        status = BatchOutcome::Status::OtherError;
        message = e.what();
    }
    return true;
}

}  // namespace

std::vector<BatchOutcome> simulate_batch(const Model& model, const std::vector<Problem>& problems,
                                         int threads) {
    std::vector<BatchOutcome> out(problems.size());
    const InterruptToken interrupt;  // a request during the batch stops every run, later ones too
    for_each_problem(problems.size(), threads, interrupt, [&](std::size_t i, unsigned) {
        BatchOutcome& o = out[i];
        return guarded(o.status, o.message, [&] { o.trajectory = simulate(model, problems[i], interrupt); });
    });
    return out;
}

std::vector<BatchRow> simulate_batch(const Model& model, const std::vector<Problem>& problems,
                                     int threads, const BatchReducer& reduce) {
    std::vector<BatchRow> out(problems.size());
    const InterruptToken interrupt;
    // one trajectory buffer per worker, reused from run to run (no fresh memory per run)
    std::vector<Trajectory> buffers(pool_size(problems.size(), threads));
    for_each_problem(problems.size(), threads, interrupt, [&](std::size_t i, unsigned w) {
        BatchRow& r = out[i];
        return guarded(r.status, r.message, [&] {
            Trajectory tr = simulate(model, problems[i], interrupt, std::move(buffers[w]));
            r.values = reduce(problems[i], tr);
            buffers[w] = std::move(tr);
        });
    });
    return out;
}

}  // namespace crsim
