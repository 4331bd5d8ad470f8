#include "crsim/dosing.hpp"

#include <algorithm>
#include <cmath>

#include "crsim/errors.hpp"

namespace crsim {

namespace {
void require(bool ok, const std::string& field, double value, const std::string& allowed) {
    if (!ok) throw InputError(field, fmt(value), allowed);
}
}  // namespace

std::vector<DoseEvent> expand_doses(const Model& model, const std::vector<Dose>& doses,
                                    double weight_kg, double t_start, double horizon, long already,
                                    long max_administrations, const std::string& field) {
    std::vector<DoseEvent> events;
    long total = already;
    for (std::size_t d = 0; d < doses.size(); ++d) {
        const Dose& dose = doses[d];
        const std::string f = field + "[" + std::to_string(d) + "].";
        const int state = model.state_index(dose.target, f + "target");
        const StateInfo& si = model.info().states[static_cast<std::size_t>(state)];
        if (si.dose_unit.empty())
            throw InputError(f + "target", "'" + dose.target + "'",
                             "a state that takes doses (state '" + si.name + "' of model " +
                                 model.name() + " does not)");
        require(std::isfinite(dose.time) && dose.time >= t_start, f + "time", dose.time,
                "a finite time >= the simulation start " + fmt(t_start) + " h");
        require(std::isfinite(dose.amount) && dose.amount >= 0.0, f + "amount", dose.amount,
                "a finite amount >= 0 " + si.dose_unit + (dose.per_kg ? "/kg" : ""));
        require(!std::isnan(dose.cap) && dose.cap > 0.0, f + "cap", dose.cap,
                "a cap > 0 " + si.dose_unit + " (infinite for no cap)");
        require(std::isfinite(dose.rate) && dose.rate >= 0.0, f + "rate", dose.rate,
                "a finite infusion rate >= 0 " + si.dose_unit + "/h (0 = not given)");
        require(std::isfinite(dose.duration) && dose.duration >= 0.0, f + "duration",
                dose.duration, "a finite infusion duration >= 0 h (0 = not given)");
        if (dose.rate > 0.0 && dose.duration > 0.0)
            throw InputError(f + "rate", fmt(dose.rate),
                             "either rate or duration for an infusion, not both (duration = " +
                                 fmt(dose.duration) + ")");
        require(dose.additional >= 0, f + "additional", dose.additional,
                "a number of repeats >= 0");
        if (dose.additional > 0)
            require(std::isfinite(dose.interval) && dose.interval > 0.0, f + "interval",
                    dose.interval, "an interval > 0 h when additional > 0");
        require(std::isfinite(dose.lag) && dose.lag >= 0.0, f + "lag", dose.lag,
                "a finite lag time >= 0 h");
        require(std::isfinite(dose.bioavailability) && dose.bioavailability >= 0.0,
                f + "bioavailability", dose.bioavailability, "a finite fraction >= 0");

        double amount = dose.amount;
        if (dose.per_kg) {
            require(std::isfinite(weight_kg) && weight_kg > 0.0, "weight_kg", weight_kg,
                    "a body weight > 0 kg, needed by the per-kg dose " + field + "[" + std::to_string(d) +
                        "]");
            amount *= weight_kg;
        }
        amount = std::min(amount, dose.cap) * dose.bioavailability;

        // Administrations up to the horizon, counted before anything is allocated.
        const double first = dose.time + dose.lag;
        double count = 0.0;
        if (first <= horizon)
            count = 1.0 + (dose.additional > 0
                               ? std::min(static_cast<double>(dose.additional),
                                          std::floor((horizon - first) / dose.interval))
                               : 0.0);
        if (static_cast<double>(total) + count > static_cast<double>(max_administrations))
            throw InputError(f + "additional", std::to_string(dose.additional),
                             "at most " + std::to_string(max_administrations) +
                                 " administrations per run up to the end of the simulated time (" +
                                 fmt(horizon) + " h); this dose gives " + fmt(count) +
                                 (total > 0 ? " after " + std::to_string(total) + " others" : "") +
                                 " (check additional and interval = " + fmt(dose.interval) + " h)");
        total += static_cast<long>(count);
        events.reserve(events.size() + static_cast<std::size_t>(count));

        for (int k = 0; k <= dose.additional; ++k) {
            DoseEvent e;
            e.state = state;
            e.time = first + k * dose.interval;
            if (e.time > horizon) break;
            e.amount = amount;
            if (dose.rate > 0.0) {
                e.rate = dose.rate;
                e.end = e.time + amount / dose.rate;
            } else if (dose.duration > 0.0) {
                e.rate = amount / dose.duration;
                e.end = e.time + dose.duration;
            } else {
                e.end = e.time;
            }
            if (e.rate > 0.0 && amount <= 0.0) e.rate = 0.0, e.end = e.time;  // empty infusion
            events.push_back(e);
        }
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const DoseEvent& a, const DoseEvent& b) { return a.time < b.time; });
    return events;
}

}  // namespace crsim
