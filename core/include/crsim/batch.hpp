// crsim: many independent simulations of one model on a pool of threads (scans, populations).
// One failed run never aborts the batch: its outcome carries the error instead of a trajectory.
// Results are in input order and identical whatever the number of threads.
#pragma once

#include <string>
#include <vector>

#include "crsim/model.hpp"
#include "crsim/simulate.hpp"

namespace crsim {

struct BatchOutcome {
    enum class Status { Ok, InputError, SolverError, OtherError };
    Status status = Status::Ok;
    std::string message;  // empty when Ok
    Trajectory trajectory;
    bool ok() const noexcept { return status == Status::Ok; }
};

// threads <= 0: one per hardware thread. A request_interrupt() during the batch stops the runs in
// progress and starts no more: the batch then throws crsim::Interrupted (interrupt.hpp).
std::vector<BatchOutcome> simulate_batch(const Model& model, const std::vector<Problem>& problems,
                                         int threads = 0);

}  // namespace crsim
