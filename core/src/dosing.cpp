#include "crsim/dosing.hpp"

#include <algorithm>
#include <cmath>

#include "crsim/errors.hpp"

namespace crsim {

namespace {
void require(bool ok, const std::string& field, double value, const std::string& allowed) {
    if (!ok) throw InputError(field, fmt(value), allowed);
}

double merge_distance(double t, double t_start) {
    return std::max(kMergeSpan * std::max(1.0, std::abs(t - t_start)),
                    kMergeAbsolute * std::abs(t));
}

// Moves every administration time and infusion end that lies within the merge distance after an
// earlier one onto it (clusters are measured from their earliest time, so a cluster spans at most
// one merge distance), and those within the merge distance before the horizon (the last output
// time, where the run ends) onto the horizon. Infusions keep their amounts; one whose start and
// end merge is a bolus.
void merge_close_times(std::vector<DoseEvent>& events, double t_start, double horizon) {
    if (std::isfinite(horizon)) {
        const double reach = merge_distance(horizon, t_start);
        for (DoseEvent& e : events) {
            const double end = e.end;
            if (e.time < horizon && horizon - e.time <= reach) e.time = horizon;
            if (e.is_infusion() && end < horizon && horizon - end <= reach) e.end = horizon;
            if (e.is_infusion() && !(e.end > e.time)) e.rate = 0.0, e.end = e.time;
            else if (e.is_infusion() && e.end != end) e.rate = e.amount / (e.end - e.time);
        }
    }
    std::vector<double> times;
    times.reserve(2 * events.size());
    for (const DoseEvent& e : events) {
        times.push_back(e.time);
        if (e.is_infusion()) times.push_back(e.end);
    }
    if (times.empty()) return;  // no administrations (times[0] below needs one)
    std::sort(times.begin(), times.end());
    times.erase(std::unique(times.begin(), times.end()), times.end());
    std::vector<double> onto(times.size());
    double first = times[0];
    for (std::size_t i = 0; i < times.size(); ++i) {
        const double t = times[i];
        const double reach = merge_distance(first, t_start);
        if (t - first > reach) first = t;
        onto[i] = first;
    }
    const auto merged = [&](double t) {
        const auto it = std::lower_bound(times.begin(), times.end(), t);
        return onto[static_cast<std::size_t>(it - times.begin())];
    };
    for (DoseEvent& e : events) {
        const double time = merged(e.time);
        if (!e.is_infusion()) {
            e.time = e.end = time;
            continue;
        }
        const double end = merged(e.end);
        if (!(end > time)) {
            e.rate = 0.0, e.time = e.end = time;  // too short to integrate: the amount as a bolus
        } else if (time != e.time || end != e.end) {
            e.rate = e.amount / (end - time);  // moved: the same amount over the new duration
            e.time = time, e.end = end;
        }
    }
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
    merge_close_times(events, t_start, horizon);
    std::stable_sort(events.begin(), events.end(),
                     [](const DoseEvent& a, const DoseEvent& b) { return a.time < b.time; });
    return events;
}

}  // namespace crsim
