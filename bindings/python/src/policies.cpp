// crsim._core: triggered policies (crsim::Policy) from plain dicts, and the firings of a run back
// to lists. The Pythonic side (condition text, regimen text, strategies) is crsim/_policy.py.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "convert.hpp"
#include "crsim/errors.hpp"

namespace crsim_py {

namespace {

// Counts arrive as numbers; +inf (Python's math.inf) means "no limit".
int to_count(const py::handle& h, const std::string& field, int unlimited) {
    const double v = to_double(h, field, "a count (integer >= 0, or inf for no limit)");
    if (std::isinf(v) && v > 0) return unlimited;
    if (!std::isfinite(v) || v != std::floor(v) || v < 0 || v > 1e9)
        throw crsim::InputError(field, repr_of(h), "a count (integer >= 0, or inf for no limit)");
    return static_cast<int>(v);
}

crsim::Policy to_policy(const py::handle& h, std::size_t i) {
    const std::string f = "policies[" + std::to_string(i) + "]";
    const py::dict d = to_dict(h, f, "a dict with keys name, variable, comparison, threshold, action, ...");
    static const std::set<std::string> known = {
        "name", "variable", "comparison", "threshold", "sustained", "window", "action", "delay",
        "max_firings", "min_interval", "max_per_period", "period", "window_start", "window_end",
        "time_tolerance"};
    crsim::Policy p;
    p.name = "policy " + std::to_string(i);
    bool has_variable = false, has_action = false;
    for (auto kv : d) {
        const std::string key = to_string(kv.first, f + " key", "a field name (str)");
        const std::string fk = f + "." + key;
        const py::handle v = kv.second;
        if (!known.count(key))
            throw crsim::InputError(f, "a dict with key '" + key + "'",
                                    "keys among name, variable, comparison, threshold, sustained, "
                                    "window, action, delay, max_firings, min_interval, max_per_period, period, "
                                    "window_start, window_end, time_tolerance");
        if (key == "name") {
            p.name = to_string(v, fk, "a policy name (str)");
        } else if (key == "variable") {
            p.condition.variable = to_string(v, fk, "an observable or state name (str)");
            has_variable = true;
        } else if (key == "comparison") {
            const std::string c = to_string(v, fk, "'>=' or '<='");
            if (c == ">=") p.condition.comparison = crsim::Comparison::GreaterEqual;
            else if (c == "<=") p.condition.comparison = crsim::Comparison::LessEqual;
            else throw crsim::InputError(fk, "'" + c + "'", "'>=' or '<='");
        } else if (key == "threshold") {
            p.condition.threshold = to_double(v, fk, "a finite threshold (number)");
        } else if (key == "sustained") {
            p.condition.sustained = to_double(v, fk, "a duration >= 0 h");
        } else if (key == "window") {
            p.condition.window = to_double(v, fk, "a look-back >= 0 h (0: a level condition)");
        } else if (key == "action") {
            p.action = to_doses(v, fk);
            has_action = true;
        } else if (key == "delay") {
            p.delay = to_double(v, fk, "a delay >= 0 h");
        } else if (key == "max_firings") {
            p.max_firings = to_count(v, fk, std::numeric_limits<int>::max());
        } else if (key == "min_interval") {
            p.min_interval = to_double(v, fk, "an interval >= 0 h");
        } else if (key == "max_per_period") {
            p.max_per_period = to_count(v, fk, std::numeric_limits<int>::max());
        } else if (key == "period") {
            p.period = to_double(v, fk, "a period > 0 h");
        } else if (key == "window_start") {
            p.window_start = to_double(v, fk, "a time in h");
        } else if (key == "window_end") {
            p.window_end = to_double(v, fk, "a time in h (inf: no end)");
        } else if (key == "time_tolerance") {
            p.time_tolerance = to_double(v, fk, "a tolerance > 0 h");
        }
    }
    if (!has_variable) throw crsim::InputError(f + ".variable", "missing", "an observable or state name");
    if (!has_action) throw crsim::InputError(f + ".action", "missing", "a list of dose dicts");
    return p;
}

}  // namespace

std::vector<crsim::Policy> to_policies(const py::handle& h) {
    std::vector<crsim::Policy> out;
    if (h.is_none()) return out;
    if (!py::isinstance<py::list>(h) && !py::isinstance<py::tuple>(h))
        throw crsim::InputError("policies", repr_of(h), "a list of policy dicts");
    std::size_t i = 0;
    for (auto item : h) out.push_back(to_policy(item, i++));
    return out;
}

py::dict firings_to_dict(const std::vector<crsim::PolicyFiring>& firings) {
    py::list policy, reason;
    std::vector<double> met, detected, administered, value;
    for (const auto& f : firings) {
        policy.append(f.policy);
        reason.append(f.reason);
        met.push_back(f.condition_met);
        detected.push_back(f.detected);
        administered.push_back(f.administered);
        value.push_back(f.value);
    }
    const auto k = static_cast<py::ssize_t>(firings.size());
    py::dict d;
    d["policy"] = policy;
    d["condition_met"] = array_from(met, {k});
    d["detected"] = array_from(detected, {k});
    d["administered"] = array_from(administered, {k});
    d["value"] = array_from(value, {k});
    d["reason"] = reason;
    return d;
}

}  // namespace crsim_py
