// crsim: many independent simulations of one model on a pool of threads (scans, populations).
// One failed run never aborts the batch: its outcome carries the error instead of a trajectory.
// Results are in input order and identical whatever the number of threads.
#pragma once

#include <functional>
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

// A batch that keeps only numbers per run (a population's readouts): `reduce` is called in the
// worker thread right after each run, and the run's trajectory is dropped there, so memory does
// not grow with the trajectories' size and the reduction runs on all threads. An exception from
// `reduce` becomes that run's error, like a solver error. `reduce` must be safe to call
// concurrently (it gets its own problem and trajectory).
struct BatchRow {
    BatchOutcome::Status status = BatchOutcome::Status::Ok;
    std::string message;        // empty when Ok
    std::vector<double> values;  // reduce's numbers (empty when the run failed)
    bool ok() const noexcept { return status == BatchOutcome::Status::Ok; }
};
using BatchReducer = std::function<std::vector<double>(const Problem&, const Trajectory&)>;
std::vector<BatchRow> simulate_batch(const Model& model, const std::vector<Problem>& problems,
                                     int threads, const BatchReducer& reduce);

}  // namespace crsim
