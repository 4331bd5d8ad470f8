// crsim: stopping runs from outside (Ctrl-C, a GUI's stop button, a time limit of the caller).
//
// request_interrupt() asks every run and batch in progress to stop: the integration loop checks
// at every step, at every discontinuity and at every firing of a triggered policy, the batch loop
// before every run, and they end by throwing crsim::Interrupted. Runs started after the request
// are not affected (a request is not "pending" for the next run), so a Ctrl-C that arrived while no
// run was active never breaks a later one. clear_interrupt() withdraws requests made so far from
// the runs in progress. Both are async-signal-safe (a lock-free atomic counter each) and may be
// called from a signal handler or any thread.
#pragma once

#include <atomic>
#include <stdexcept>
#include <string>

namespace crsim {

void request_interrupt() noexcept;
void clear_interrupt() noexcept;

// What a run checks: the requests made since it started (and not cleared).
class InterruptToken {
public:
    InterruptToken() noexcept;  // the state now: earlier requests do not count
    bool requested() const noexcept;

private:
    unsigned long start_;
};

// A run or batch ended early by request_interrupt(). Not an InputError or SolverError: nothing was
// wrong with the problem.
class Interrupted : public std::runtime_error {
public:
    explicit Interrupted(const std::string& where)
        : std::runtime_error("interrupted (" + where + "): the run was stopped on request (Ctrl-C)") {}
};

}  // namespace crsim
