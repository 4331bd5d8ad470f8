// crsim: doses as data, and their expansion into a timeline of bolus and infusion events.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "crsim/model.hpp"

namespace crsim {

// One dosing record. Amounts are in the target state's dose unit (StateInfo::dose_unit, e.g. mg or
// cells); per_kg multiplies by the patient's weight; cap limits the resulting amount (dose unit).
// Given neither rate nor duration it is a bolus; otherwise a zero-order infusion. NONMEM semantics
// for repeats (additional doses every interval hours after the first), lag and bioavailability.
struct Dose {
    std::string target;
    double time = 0.0;            // h
    double amount = 0.0;          // dose unit (or dose unit per kg when per_kg)
    bool per_kg = false;
    double cap = std::numeric_limits<double>::infinity();  // dose unit, applied after per-kg scaling
    double rate = 0.0;            // dose unit / h (infusion by rate); 0 = not given
    double duration = 0.0;        // h (infusion by duration); 0 = not given
    int additional = 0;           // repeats after the first dose (NONMEM ADDL)
    double interval = 0.0;        // h between repeats (NONMEM II)
    double lag = 0.0;             // h added to every administration time
    double bioavailability = 1.0; // fraction of the amount that reaches the state
};

// An administration after expansion: all in the dose unit of its state.
struct DoseEvent {
    int state = -1;
    double time = 0.0;    // h, lag included
    double amount = 0.0;  // effective amount (bioavailability applied)
    double rate = 0.0;    // dose unit / h; 0 for a bolus
    double end = 0.0;     // infusion end time (h); equals time for a bolus
    bool is_infusion() const noexcept { return rate > 0.0; }
};

// The most administrations (boluses and infusion starts, repeats expanded) one run may hold within
// its simulated time, triggered doses included. A modelling choice: 100 years of hourly doses,
// 40 MB of events; beyond it a regimen is almost certainly a typo (q1h x 1000000000) and would
// only exhaust memory and time. Exceeding it is an InputError naming the dose.
constexpr long kMaxAdministrations = 1000000;

// Discontinuities (administration times, infusion ends) closer than
//   kMergeSpan * max(1 h, |t - t_start|)  or  kMergeAbsolute * |t|
// to an earlier one are moved onto it, and those that close before the horizon (the last output
// time, where the run ends) onto the horizon: a time grid built by t += 0.1 puts a dose 1e-12 h
// after an infusion end, or the last output time 8e-11 h after one. The engine integrates between
// discontinuities, and a segment that short started with a step below its step-size floor ("step
// size underflow"). An infusion whose start and end merge is given as a bolus of its amount; an
// infusion whose end moves keeps its amount (the rate follows). 1e-9 of a 28-day run is 2.4 ms.
constexpr double kMergeSpan = 1e-9;
constexpr double kMergeAbsolute = 1e-10;

// Validates every dose (each error names <field>[i].<key>, the value and what is allowed; `field`
// is the name the caller's user wrote the doses under, e.g. "regimen" for a scenario file) and
// expands repeats, in time order. weight_kg may be NaN when no dose is per kg. Administrations
// after `horizon` (h; the end of the simulated time) are not expanded: a repeat past it is never
// given, so `additional` may be large when the run is short. More than `max_administrations`
// administrations up to the horizon (plus `already` given before) is an InputError. Times closer
// than the merge distance (kMergeSpan, kMergeAbsolute) are merged (see there).
std::vector<DoseEvent> expand_doses(const Model& model, const std::vector<Dose>& doses,
                                    double weight_kg, double t_start,
                                    double horizon = std::numeric_limits<double>::infinity(),
                                    long already = 0, long max_administrations = kMaxAdministrations,
                                    const std::string& field = "doses");

}  // namespace crsim
