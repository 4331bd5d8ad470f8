// crsim: one simulation of one model: problem description, options, trajectory.
#pragma once

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "crsim/dosing.hpp"
#include "crsim/interrupt.hpp"
#include "crsim/model.hpp"
#include "crsim/policy.hpp"

namespace crsim {

enum class Method {
    Rosenbrock4,  // stiff: Rosenbrock 4(3) with dense output, Jacobian by automatic differentiation
    Dopri5,       // non-stiff: Dormand-Prince 5(4) with dense output
    // Chooses itself: dopri5 with Hairer's stiffness detection, handing over to rosenbrock4 while
    // the problem is stiff and back when the Rosenbrock steps show it no longer is
    // (core/src/stiffness.hpp, docs/engine.md).
    Auto,
};

Method method_from_string(const std::string& name);  // "auto" | "rosenbrock4" | "dopri5"
std::string to_string(Method m);

struct SolverOptions {
    Method method = Method::Auto;
    double rtol = 1e-8;          // relative tolerance, in (0, 1)
    double atol = 1e-10;         // absolute tolerance (state units), > 0
    long max_steps = 500000;     // accepted steps over the whole run
    double max_step = 0.0;       // h; 0 = unlimited
    double initial_step = 0.0;   // h; 0 = automatic
    // Whether forward sensitivities take part in the step-size control (as states do). Off, the
    // steps are those of the states alone: sensitivities are integrated along by the same method
    // but their error is not estimated (cheaper: CRS + 4 sensitivities, 279 instead of 491 steps).
    bool sensitivity_error_control = true;
};

// A threshold the readout trajectory watches: where `variable` (an observable or state, or "time"
// for the run's time in h unless the model names a variable so) starts or stops satisfying
// `variable <comparison> threshold`, bracketing points are recorded.
struct ReadoutWatch {
    std::string variable;
    Comparison comparison = Comparison::GreaterEqual;
    double threshold = 0.0;
};

// The readout trajectory (off by default): the state at every accepted step end of the solver and
// at both sides of every discontinuity (dose, infusion start or stop, policy firing), plus two
// points bracketing each crossing of a watched threshold, located by bisection on the dense output
// to `time_tolerance` h. Its points depend on the solver's steps and the model, never on the output
// times asked for, so readouts computed from it (onset, duration, time at grade, peaks) do not
// depend on the output grid. Recording it leaves the output at the requested times unchanged.
struct ReadoutOptions {
    bool record = false;
    std::vector<ReadoutWatch> watch;
    double time_tolerance = 1e-6;  // h, > 0
};

struct Problem {
    std::vector<double> parameters;             // full vector in model order (empty = defaults)
    std::map<std::string, double> initial;      // state name -> initial value overriding x0(p)
    std::vector<Dose> doses;
    double weight_kg = std::numeric_limits<double>::quiet_NaN();
    double t_start = 0.0;                       // h; the initial state holds here
    std::vector<double> times;                  // output times (h), increasing, >= t_start
    SolverOptions options;
    // Parameter names, or "init:<state>" for an initial value, whose forward sensitivities are
    // integrated with the states.
    std::vector<std::string> sensitivities;
    // Triggered policies, watched on every step (see policy.hpp). Sensitivities do not include the
    // dependence of a firing time on the parameters.
    std::vector<Policy> policies;
    ReadoutOptions readouts;
};

// A hand-over of method "auto" from one stepper to the other.
struct MethodSwitch {
    double time = 0.0;                // h: the end of the last step of the method handed over from
    Method to = Method::Rosenbrock4;  // the method that takes over there (Rosenbrock4: found stiff)
};

struct SolverStats {
    long steps = 0;           // accepted steps
    long rhs_evaluations = 0;
    long jacobian_evaluations = 0;
    long restarts = 0;        // segments started at discontinuities
    long rejected_steps = 0;  // step attempts the error control rejected (then retried smaller)
    // Accepted steps per method (their sum is `steps`) and, for "auto", every switch in time order.
    long dopri5_steps = 0;
    long rosenbrock4_steps = 0;
    std::vector<MethodSwitch> switches;
};

// The methods that took the accepted steps of a run: "dopri5", "rosenbrock4" or
// "dopri5+rosenbrock4"; a run without steps names the method `requested` starts with.
std::string method_used(Method requested, const SolverStats& stats);

// Points of the readout trajectory in time order (ReadoutOptions); at a discontinuity two points
// share its time, the state before and after it. States without their sensitivities.
struct ReadoutTrajectory {
    std::vector<double> times;        // R
    std::vector<double> states;       // R x n, row-major
    std::vector<double> observables;  // R x n_obs, row-major
};

struct Trajectory {
    std::vector<double> times;        // T
    std::vector<double> states;       // T x n, row-major
    std::vector<double> observables;  // T x n_obs, row-major
    std::vector<std::string> sensitivity_names;  // m
    std::vector<double> state_sensitivities;       // T x n x m
    std::vector<double> observable_sensitivities;  // T x n_obs x m
    std::vector<DoseEvent> doses;     // the administrations up to the last output time (incl. triggered)
    std::vector<PolicyFiring> firings;  // triggered policies, in time order
    ReadoutTrajectory readout;        // empty unless problem.readouts.record
    SolverStats stats;

    // Empties every field; the vectors keep their capacity (a buffer reused from run to run).
    void clear() noexcept {
        for (auto* v : {&times, &states, &observables, &state_sensitivities, &observable_sensitivities,
                        &readout.times, &readout.states, &readout.observables})
            v->clear();
        sensitivity_names.clear();
        doses.clear();
        firings.clear();
        stats = SolverStats{};
    }
};

// Throws InputError (bad problem), SolverError (integration failed) or Interrupted (a
// request_interrupt() after the run started, or after `interrupt` was made).
Trajectory simulate(const Model& model, const Problem& problem);
Trajectory simulate(const Model& model, const Problem& problem, const InterruptToken& interrupt);
// The same run into the buffers of `reuse` (emptied, their capacity kept), for loops over many
// runs that would otherwise allocate (and fault in) fresh memory for every trajectory.
Trajectory simulate(const Model& model, const Problem& problem, const InterruptToken& interrupt,
                    Trajectory&& reuse);

}  // namespace crsim
