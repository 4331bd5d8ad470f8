#include "crsim/batch.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

#include "crsim/errors.hpp"

namespace crsim {

std::vector<BatchOutcome> simulate_batch(const Model& model, const std::vector<Problem>& problems,
                                         int threads) {
    std::vector<BatchOutcome> out(problems.size());
    unsigned n = threads > 0 ? static_cast<unsigned>(threads) : std::thread::hardware_concurrency();
    n = std::max(1u, std::min<unsigned>(n, static_cast<unsigned>(problems.size())));
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        for (std::size_t i = next++; i < problems.size(); i = next++) {
            BatchOutcome& o = out[i];
            try {
                o.trajectory = simulate(model, problems[i]);
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
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < n; ++t) pool.emplace_back(worker);
    worker();
    for (auto& th : pool) th.join();
    return out;
}

}  // namespace crsim
