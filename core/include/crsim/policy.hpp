// crsim: triggered policies — "when <condition> holds (for <sustained> h), give <regimen>", with
// limits. The driver watches each condition on every accepted step, locates the crossing time on the
// stepper's dense output by bisection (to Policy::time_tolerance), stops the integration there and
// schedules the action's doses, so a firing is never detected late by the output grid.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "crsim/dosing.hpp"

namespace crsim {

enum class Comparison { GreaterEqual, LessEqual };

struct Condition {
    std::string variable;  // an observable or state of the model
    Comparison comparison = Comparison::GreaterEqual;
    double threshold = 0.0;  // in the variable's unit
    double sustained = 0.0;  // h the condition must hold without interruption before it counts
    // h; > 0 makes it a trend condition: the fold change v(t) / v(t - window) is compared with the
    // threshold (e.g. ferritin rising >= 2-fold within 48 h). Values before the start of the run
    // count as the value at the start; a fold change from a value <= 0 never holds.
    double window = 0.0;
};

struct Policy {
    std::string name;
    Condition condition;
    // The regimen given at each firing; each dose's `time` is an offset (h) from the administration
    // time (firing time + delay).
    std::vector<Dose> action;
    double delay = 0.0;        // h from detection to administration
    int max_firings = 1;       // in total
    double min_interval = 0.0; // h between two firings
    int max_per_period = std::numeric_limits<int>::max();  // e.g. at most 3 ...
    double period = 24.0;      // ... in any 24 h
    double window_start = 0.0; // h: detections before this time are ignored
    double window_end = std::numeric_limits<double>::infinity();
    double time_tolerance = 1e-6;  // h: accuracy of the located crossing time
};

// Engine limits on firings, whatever the policy's own limits (max_firings may be unlimited and
// min_interval 0, both valid). Modelling choices: a policy that fires this often is a loop (its
// condition still holds after its own doses), not a regimen; a clinical course has at most a few
// dozen rescue doses, and 10,000 leaves room for hourly titration over a year. Exceeding either is
// an InputError naming the policy (policies[i], its name, the time).
constexpr int kMaxFiringsPerInstant = 100;  // firings of one policy at one time
constexpr int kMaxFiringsPerRun = 10000;    // firings of one policy in one run

// One firing, as recorded in the trajectory.
struct PolicyFiring {
    std::string policy;
    double condition_met = 0.0;  // h: when the condition started to hold (crossing located)
    double detected = 0.0;       // h: when it counted as met (sustained, limits) = firing time
    double administered = 0.0;   // h: detected + delay
    double value = 0.0;          // the variable's value at detection
    std::string reason;          // e.g. "temperature >= 38 (sustained 0 h)"
};

}  // namespace crsim
