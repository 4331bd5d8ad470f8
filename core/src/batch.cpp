#include "crsim/batch.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

#include "crsim/errors.hpp"
#include "crsim/interrupt.hpp"

namespace crsim {

std::vector<BatchOutcome> simulate_batch(const Model& model, const std::vector<Problem>& problems,
                                         int threads) {
    std::vector<BatchOutcome> out(problems.size());
    unsigned n = threads > 0 ? static_cast<unsigned>(threads) : std::thread::hardware_concurrency();
    n = std::max(1u, std::min<unsigned>(n, static_cast<unsigned>(problems.size())));
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> done{0};
    const InterruptToken interrupt;  // a request during the batch stops every run, later ones too
    auto worker = [&] {
        for (std::size_t i = next++; i < problems.size() && !interrupt.requested(); i = next++) {
            BatchOutcome& o = out[i];
            try {
                o.trajectory = simulate(model, problems[i], interrupt);
                ++done;
            } catch (const Interrupted&) {
                return;
            } catch (const InputError& e) {
                o.status = BatchOutcome::Status::InputError;
                o.message = e.what();
            } catch (const SolverError& e) {
                o.status = BatchOutcome::Status::SolverError;
                o.message = e.what();
            } catch (const std::exception& e) {
                o.status = BatchOutcome::Status::OtherError;
                o.message = e.what();
            }
            if (!o.ok()) ++done;
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < n; ++t) pool.emplace_back(worker);
    worker();
    for (auto& th : pool) th.join();
    if (done.load() < problems.size() && interrupt.requested())
        throw Interrupted("batch of " + std::to_string(problems.size()) + " runs, " +
                          std::to_string(done.load()) + " finished");
    return out;
}

}  // namespace crsim
