// crsim._core: the thin pybind11 layer between the C++ engine and the Python package `crsim`.
// It converts plain Python containers (dicts, lists, numpy arrays) to crsim::Problem and a
// crsim::Trajectory back to numpy arrays, and maps crsim::InputError / crsim::SolverError to
// Python exceptions (subclasses of ValueError / RuntimeError) keeping their messages. Everything
// Pythonic (DataFrames, Dose objects, plots) lives in the pure-Python package.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crsim/dosing.hpp"
#include "crsim/errors.hpp"
#include "crsim/hdf5.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/simulate.hpp"
#include "convert.hpp"

#ifndef CRSIM_VERSION
#define CRSIM_VERSION "unknown"
#endif

namespace py = pybind11;

namespace {
std::shared_ptr<const crsim::Model> get_model(const std::string& name) {
    return crsim::models::builtin_registry().get(name);
}
}  // namespace

namespace crsim_py {
// A model by name (built-in or loaded user model); InputError naming the known ones otherwise.
std::shared_ptr<const crsim::Model> model_by_name(const std::string& name) { return get_model(name); }
}  // namespace crsim_py

// Conversions shared with policies.cpp and batch.cpp (declared in convert.hpp).
namespace crsim_py {

std::string repr_of(const py::handle& h) { return py::repr(h).cast<std::string>(); }

// --- conversions with errors that name the field ------------------------------------------------

double to_double(const py::handle& h, const std::string& field, const std::string& allowed) {
    if (py::isinstance<py::bool_>(h) || h.is_none() || py::isinstance<py::str>(h))
        throw crsim::InputError(field, repr_of(h), allowed);
    try {
        return py::float_(py::reinterpret_borrow<py::object>(h)).cast<double>();
    } catch (const py::error_already_set&) {
        throw crsim::InputError(field, repr_of(h), allowed);
    }
}

long to_long(const py::handle& h, const std::string& field, const std::string& allowed) {
    const double v = to_double(h, field, allowed);
    if (!std::isfinite(v) || v != std::floor(v) || std::abs(v) > 9.0e15)
        throw crsim::InputError(field, repr_of(h), allowed);
    return static_cast<long>(v);
}

std::string to_string(const py::handle& h, const std::string& field, const std::string& allowed) {
    if (!py::isinstance<py::str>(h)) throw crsim::InputError(field, repr_of(h), allowed);
    return h.cast<std::string>();
}

bool to_bool(const py::handle& h, const std::string& field) {
    if (!py::isinstance<py::bool_>(h)) throw crsim::InputError(field, repr_of(h), "True or False");
    return h.cast<bool>();
}

py::dict to_dict(const py::handle& h, const std::string& field, const std::string& allowed) {
    if (h.is_none()) return py::dict();
    if (!py::isinstance<py::dict>(h)) throw crsim::InputError(field, repr_of(h), allowed);
    return py::reinterpret_borrow<py::dict>(h);
}

std::map<std::string, double> to_name_values(const py::handle& h, const std::string& field,
                                             const std::string& unit_hint) {
    std::map<std::string, double> out;
    for (auto kv : to_dict(h, field, "a dict of name -> number")) {
        const std::string name = to_string(kv.first, field + " key", "a name (str)");
        out[name] = to_double(kv.second, field + "." + name, "a number (" + unit_hint + ")");
    }
    return out;
}

crsim::Dose to_dose(const py::handle& h, std::size_t i, const std::string& prefix) {
    const std::string f = prefix + "[" + std::to_string(i) + "]";
    const py::dict d = to_dict(h, f, "a dict with keys target, amount, ...");
    crsim::Dose dose;
    static const std::set<std::string> known = {"target", "time", "amount", "per_kg", "cap",
                                                "rate", "duration", "additional", "interval",
                                                "lag", "bioavailability"};
    for (auto kv : d) {
        const std::string key = to_string(kv.first, f + " key", "a field name (str)");
        const std::string fk = f + "." + key;
        const py::handle v = kv.second;
        if (!known.count(key))
            throw crsim::InputError(f, "a dict with key '" + key + "'",
                                    "keys among target, time, amount, per_kg, cap, rate, duration, "
                                    "additional, interval, lag, bioavailability");
        if (key == "target") dose.target = to_string(v, fk, "a state name (str)");
        else if (key == "time") dose.time = to_double(v, fk, "a time in h");
        else if (key == "amount") dose.amount = to_double(v, fk, "an amount (number)");
        else if (key == "per_kg") dose.per_kg = to_bool(v, fk);
        else if (key == "cap") dose.cap = v.is_none() ? dose.cap : to_double(v, fk, "a cap (number) or None");
        else if (key == "rate") dose.rate = v.is_none() ? 0.0 : to_double(v, fk, "a rate (number) or None");
        else if (key == "duration") dose.duration = v.is_none() ? 0.0 : to_double(v, fk, "a duration in h or None");
        else if (key == "additional") {
            // checked before the cast: 4294967297 must not wrap to 1 repeat
            const long n = to_long(v, fk, "an integer >= 0");
            if (n < 0 || n > std::numeric_limits<int>::max())
                throw crsim::InputError(fk, std::to_string(n),
                                        "an integer number of repeats in [0, " +
                                            std::to_string(std::numeric_limits<int>::max()) + "]");
            dose.additional = static_cast<int>(n);
        }
        else if (key == "interval") dose.interval = v.is_none() ? 0.0 : to_double(v, fk, "an interval in h or None");
        else if (key == "lag") dose.lag = to_double(v, fk, "a lag time in h");
        else if (key == "bioavailability") dose.bioavailability = to_double(v, fk, "a fraction");
    }
    if (!d.contains("target")) throw crsim::InputError(f + ".target", "missing", "a state name");
    return dose;
}

std::vector<crsim::Dose> to_doses(const py::handle& h, const std::string& prefix) {
    std::vector<crsim::Dose> doses;
    if (h.is_none()) return doses;
    if (!py::isinstance<py::list>(h) && !py::isinstance<py::tuple>(h))
        throw crsim::InputError(prefix, repr_of(h), "a list of dose dicts");
    std::size_t i = 0;
    for (auto item : h) doses.push_back(to_dose(item, i++, prefix));
    return doses;
}

std::vector<double> to_times(const py::handle& h) {
    py::array_t<double, py::array::c_style | py::array::forcecast> a;
    try {
        a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(h);
    } catch (const py::error_already_set&) {
        a = py::array_t<double, py::array::c_style | py::array::forcecast>();
    }
    if (!a || a.ndim() != 1)
        throw crsim::InputError("times", repr_of(h), "a 1-D array of output times in h");
    return std::vector<double>(a.data(), a.data() + a.size());
}

// Solver statistics as the dict Result.stats holds.
py::dict stats_to_dict(const crsim::SolverStats& st, crsim::Method method) {
    py::dict stats;
    stats["steps"] = st.steps;
    stats["rhs_evaluations"] = st.rhs_evaluations;
    stats["jacobian_evaluations"] = st.jacobian_evaluations;
    stats["restarts"] = st.restarts;
    stats["rejected_steps"] = st.rejected_steps;
    stats["method"] = crsim::to_string(method);
    stats["method_used"] = crsim::method_used(method, st);
    stats["dopri5_steps"] = st.dopri5_steps;
    stats["rosenbrock4_steps"] = st.rosenbrock4_steps;
    py::list switches;
    for (const auto& w : st.switches) {
        py::dict d;
        d["time_h"] = w.time;
        d["to"] = crsim::to_string(w.to);
        switches.append(d);
    }
    stats["stiff_switches"] = switches;
    return stats;
}

crsim::SolverOptions to_options(const py::handle& h) {
    crsim::SolverOptions o;
    for (auto kv : to_dict(h, "options", "a dict of solver options")) {
        const std::string key = to_string(kv.first, "options key", "an option name (str)");
        const std::string f = "options." + key;
        const py::handle v = kv.second;
        if (key == "method") o.method = crsim::method_from_string(to_string(v, "method", "one of {auto, rosenbrock4, dopri5}"));
        else if (key == "rtol") o.rtol = to_double(v, f, "a relative tolerance in [1e-14, 1)");
        else if (key == "atol") o.atol = to_double(v, f, "a finite absolute tolerance > 0");
        else if (key == "max_steps") o.max_steps = to_long(v, f, "a step count > 0 (integer)");
        else if (key == "max_step") o.max_step = to_double(v, f, "a finite step in h >= 0 (0 = unlimited)");
        else if (key == "initial_step") o.initial_step = to_double(v, f, "a finite step in h >= 0 (0 = automatic)");
        else if (key == "sensitivity_error_control") o.sensitivity_error_control = to_bool(v, f);
        else
            throw crsim::InputError("options", "'" + key + "'",
                                    "one of {method, rtol, atol, max_steps, max_step, initial_step, "
                                    "sensitivity_error_control}");
    }
    return o;
}

std::vector<std::string> to_names(const py::handle& h, const std::string& field) {
    std::vector<std::string> out;
    if (h.is_none()) return out;
    if (!py::isinstance<py::list>(h) && !py::isinstance<py::tuple>(h))
        throw crsim::InputError(field, repr_of(h), "a list of names");
    std::size_t i = 0;
    for (auto item : h)
        out.push_back(to_string(item, field + "[" + std::to_string(i++) + "]", "a name (str)"));
    return out;
}

// --- outputs -----------------------------------------------------------------------------------

py::array_t<double> array_from(const std::vector<double>& v, std::vector<py::ssize_t> shape) {
    py::array_t<double> a(shape);
    if (!v.empty()) std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(double));
    return a;
}

py::dict events_to_dict(const crsim::Model& model, const std::vector<crsim::DoseEvent>& events) {
    py::list state;
    std::vector<double> time, amount, rate, end;
    for (const auto& e : events) {
        state.append(model.info().states[static_cast<std::size_t>(e.state)].name);
        time.push_back(e.time);
        amount.push_back(e.amount);
        rate.push_back(e.rate);
        end.push_back(e.end);
    }
    const py::ssize_t k = static_cast<py::ssize_t>(events.size());
    py::dict d;
    d["state"] = state;
    d["time"] = array_from(time, {k});
    d["amount"] = array_from(amount, {k});
    d["rate"] = array_from(rate, {k});
    d["end"] = array_from(end, {k});
    return d;
}

crsim::Problem to_problem(const crsim::Model& model, const py::handle& parameters, const py::handle& doses,
                          const py::handle& times, double weight_kg, double t_start,
                          const py::handle& initial, const py::handle& options,
                          const py::handle& sensitivities, const py::handle& policies) {
    crsim::Problem pr;
    pr.parameters = model.parameters_with(to_name_values(parameters, "parameters", "parameter unit"));
    pr.doses = to_doses(doses);
    pr.times = to_times(times);
    pr.weight_kg = weight_kg;
    pr.t_start = t_start;
    pr.initial = to_name_values(initial, "initial", "state unit");
    pr.options = to_options(options);
    pr.sensitivities = to_names(sensitivities, "sensitivities");
    pr.policies = to_policies(policies);
    return pr;
}

crsim::ReadoutOptions to_readouts(const py::handle& h, const std::string& field) {
    crsim::ReadoutOptions r;
    if (h.is_none()) return r;
    const std::string allowed = "None or a list of (variable, '>=' or '<=', threshold)";
    if (!py::isinstance<py::list>(h) && !py::isinstance<py::tuple>(h))
        throw crsim::InputError(field, repr_of(h), allowed);
    r.record = true;
    std::size_t i = 0;
    for (auto item : h) {
        const std::string f = field + "[" + std::to_string(i++) + "]";
        const std::string one = "a (variable, '>=' or '<=', threshold) tuple";
        const bool seq = py::isinstance<py::list>(item) || py::isinstance<py::tuple>(item);
        if (!seq || py::len(item) != 3) throw crsim::InputError(f, repr_of(item), one);
        const py::sequence t = py::reinterpret_borrow<py::sequence>(item);
        crsim::ReadoutWatch w;
        w.variable = to_string(t[0], f + ".variable", "an observable or state name");
        const std::string c = to_string(t[1], f + ".comparison", "'>=' or '<='");
        if (c != ">=" && c != "<=")
            throw crsim::InputError(f + ".comparison", "'" + c + "'", "'>=' or '<='");
        w.comparison = c == ">=" ? crsim::Comparison::GreaterEqual : crsim::Comparison::LessEqual;
        w.threshold = to_double(t[2], f + ".threshold", "a finite threshold");
        r.watch.push_back(w);
    }
    return r;
}

void readout_to_dict(const crsim::Model& model, const crsim::ReadoutTrajectory& r, py::dict& out) {
    if (r.times.empty()) return;
    const auto R = static_cast<py::ssize_t>(r.times.size());
    out["readout_times"] = array_from(r.times, {R});
    out["readout_states"] = array_from(r.states, {R, static_cast<py::ssize_t>(model.n_states())});
    out["readout_observables"] =
        array_from(r.observables, {R, static_cast<py::ssize_t>(model.n_observables())});
}

py::dict trajectory_to_dict(const crsim::Model& model, const crsim::Problem& pr, const crsim::Trajectory& tr) {
    const auto T = static_cast<py::ssize_t>(tr.times.size());
    const auto n = static_cast<py::ssize_t>(model.n_states());
    const auto no = static_cast<py::ssize_t>(model.n_observables());
    const auto m = static_cast<py::ssize_t>(tr.sensitivity_names.size());
    py::dict out;
    out["times"] = array_from(tr.times, {T});
    out["states"] = array_from(tr.states, {T, n});
    out["observables"] = array_from(tr.observables, {T, no});
    out["sensitivity_names"] = py::cast(tr.sensitivity_names);
    out["state_sensitivities"] = array_from(tr.state_sensitivities, {T, n, m});
    out["observable_sensitivities"] = array_from(tr.observable_sensitivities, {T, no, m});
    out["parameters"] = py::cast(pr.parameters);
    out["stats"] = stats_to_dict(tr.stats, pr.options.method);
    out["doses"] = events_to_dict(model, tr.doses);
    out["firings"] = firings_to_dict(tr.firings);
    readout_to_dict(model, tr.readout, out);
    return out;
}

}  // namespace crsim_py

namespace {

using namespace crsim_py;

py::dict model_info(const std::string& name) {
    const auto model = get_model(name);
    const crsim::ModelInfo& mi = model->info();
    py::list states, params, obs;
    for (const auto& s : mi.states) {
        py::dict d;
        d["name"] = s.name;
        d["unit"] = s.unit;
        d["description"] = s.description;
        d["dose_unit"] = s.dose_unit;
        states.append(d);
    }
    for (const auto& p : mi.parameters) {
        py::dict d;
        d["name"] = p.name;
        d["unit"] = p.unit;
        d["default"] = p.value;
        d["lower"] = p.lower;
        d["upper"] = p.upper;
        d["description"] = p.description;
        d["source"] = p.source;
        params.append(d);
    }
    for (const auto& o : mi.observables) {
        py::dict d;
        d["name"] = o.name;
        d["unit"] = o.unit;
        d["description"] = o.description;
        obs.append(d);
    }
    py::dict out;
    out["name"] = mi.name;
    out["description"] = mi.description;
    out["version"] = mi.version;
    out["states"] = states;
    out["parameters"] = params;
    out["observables"] = obs;
    out["sources"] = py::cast(mi.sources);
    out["default_parameter_set"] = mi.default_parameter_set;
    return out;
}

py::dict expand(const std::string& model_name, const py::handle& doses, double weight_kg,
                double t_start, const std::string& field) {
    const auto model = get_model(model_name);
    const auto events = crsim::expand_doses(*model, to_doses(doses, field), weight_kg, t_start,
                                            std::numeric_limits<double>::infinity(), 0,
                                            crsim::kMaxAdministrations, field);
    return events_to_dict(*model, events);
}

py::dict simulate(const std::string& model_name, const py::handle& parameters,
                  const py::handle& doses, const py::handle& times, double weight_kg,
                  double t_start, const py::handle& initial, const py::handle& options,
                  const py::handle& sensitivities, const py::handle& policies) {
    const auto model = get_model(model_name);
    const crsim::Problem pr = to_problem(*model, parameters, doses, times, weight_kg, t_start, initial,
                                         options, sensitivities, policies);
    crsim::Trajectory tr;
    {
        py::gil_scoped_release release;
        tr = crsim::simulate(*model, pr);
    }
    return trajectory_to_dict(*model, pr, tr);
}

// --- results files (HDF5) ----------------------------------------------------------------------
// A record is a plain dict (see write_results' docstring); conversions run with the GIL held, the
// file is written / read with it released.

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

py::handle item(const py::dict& d, const char* key, const std::string& f) {
    if (!d.contains(key)) throw crsim::InputError(f + "." + key, "missing", "a value (required key)");
    return d[key];
}

std::vector<double> flat_doubles(const py::handle& h, const std::string& field) {
    DoubleArray a;
    try {
        a = DoubleArray::ensure(h);
    } catch (const py::error_already_set&) {
        a = DoubleArray();
    }
    if (!a) throw crsim::InputError(field, repr_of(h), "an array of numbers");
    return std::vector<double>(a.data(), a.data() + a.size());
}

std::map<std::string, std::string> to_str_map(const py::handle& h, const std::string& field) {
    std::map<std::string, std::string> out;
    for (auto kv : to_dict(h, field, "a dict of name -> str")) {
        const std::string key = to_string(kv.first, field + " key", "a name (str)");
        out[key] = to_string(kv.second, field + "." + key, "a text (str)");
    }
    return out;
}

crsim::ResultRecord to_record(const py::handle& h, std::size_t i) {
    const std::string f = "records[" + std::to_string(i) + "]";
    const py::dict d = to_dict(h, f, "a dict describing one simulated scenario");
    crsim::ResultRecord r;
    r.name = to_string(item(d, "name", f), f + ".name", "a scenario name (str)");
    r.model_name = to_string(item(d, "model_name", f), f + ".model_name", "a model name (str)");
    r.model_version = to_string(item(d, "model_version", f), f + ".model_version", "a version (str)");
    r.scenario_json = to_string(item(d, "scenario_json", f), f + ".scenario_json", "JSON text (str)");
    if (d.contains("seed") && !d["seed"].is_none())
        r.seed = static_cast<std::uint64_t>(to_long(d["seed"], f + ".seed", "an integer seed >= 0"));
    r.state_names = to_names(item(d, "state_names", f), f + ".state_names");
    r.state_units = to_names(item(d, "state_units", f), f + ".state_units");
    r.state_dose_units = to_names(item(d, "state_dose_units", f), f + ".state_dose_units");
    r.observable_names = to_names(item(d, "observable_names", f), f + ".observable_names");
    r.observable_units = to_names(item(d, "observable_units", f), f + ".observable_units");
    r.parameter_names = to_names(item(d, "parameter_names", f), f + ".parameter_names");
    r.parameter_units = to_names(item(d, "parameter_units", f), f + ".parameter_units");
    r.parameter_values = flat_doubles(item(d, "parameter_values", f), f + ".parameter_values");
    r.solver = to_options(item(d, "solver", f));

    crsim::Trajectory& tr = r.trajectory;
    tr.times = flat_doubles(item(d, "times", f), f + ".times");
    tr.states = flat_doubles(item(d, "states", f), f + ".states");
    tr.observables = flat_doubles(item(d, "observables", f), f + ".observables");
    if (d.contains("sensitivity_names")) {
        tr.sensitivity_names = to_names(d["sensitivity_names"], f + ".sensitivity_names");
        tr.state_sensitivities = flat_doubles(item(d, "state_sensitivities", f), f + ".state_sensitivities");
        tr.observable_sensitivities =
            flat_doubles(item(d, "observable_sensitivities", f), f + ".observable_sensitivities");
        if (tr.sensitivity_names.empty()) {
            tr.state_sensitivities.clear();
            tr.observable_sensitivities.clear();
        }
    }
    const py::dict doses = to_dict(item(d, "doses", f), f + ".doses", "a dict of arrays state, time, amount, rate, end");
    const auto state = flat_doubles(item(doses, "state", f + ".doses"), f + ".doses.state");
    const auto time = flat_doubles(item(doses, "time", f + ".doses"), f + ".doses.time");
    const auto amount = flat_doubles(item(doses, "amount", f + ".doses"), f + ".doses.amount");
    const auto rate = flat_doubles(item(doses, "rate", f + ".doses"), f + ".doses.rate");
    const auto end = flat_doubles(item(doses, "end", f + ".doses"), f + ".doses.end");
    if (time.size() != state.size() || amount.size() != state.size() || rate.size() != state.size() ||
        end.size() != state.size())
        throw crsim::InputError(f + ".doses", "arrays of different lengths", "equal-length arrays");
    for (std::size_t k = 0; k < state.size(); ++k) {
        crsim::DoseEvent e;
        e.state = static_cast<int>(state[k]);
        e.time = time[k];
        e.amount = amount[k];
        e.rate = rate[k];
        e.end = end[k];
        tr.doses.push_back(e);
    }
    const py::dict stats = to_dict(item(d, "stats", f), f + ".stats", "a dict of solver statistics");
    tr.stats.steps = to_long(item(stats, "steps", f + ".stats"), f + ".stats.steps", "an integer");
    tr.stats.rhs_evaluations =
        to_long(item(stats, "rhs_evaluations", f + ".stats"), f + ".stats.rhs_evaluations", "an integer");
    tr.stats.jacobian_evaluations = to_long(item(stats, "jacobian_evaluations", f + ".stats"),
                                            f + ".stats.jacobian_evaluations", "an integer");
    tr.stats.restarts = to_long(item(stats, "restarts", f + ".stats"), f + ".stats.restarts", "an integer");
    if (stats.contains("rejected_steps"))
        tr.stats.rejected_steps = to_long(stats["rejected_steps"], f + ".stats.rejected_steps", "an integer");
    if (stats.contains("dopri5_steps"))
        tr.stats.dopri5_steps = to_long(stats["dopri5_steps"], f + ".stats.dopri5_steps", "an integer");
    if (stats.contains("rosenbrock4_steps"))
        tr.stats.rosenbrock4_steps = to_long(stats["rosenbrock4_steps"], f + ".stats.rosenbrock4_steps", "an integer");
    if (stats.contains("stiff_switches") && !stats["stiff_switches"].is_none()) {
        const std::string sf = f + ".stats.stiff_switches";
        std::size_t i = 0;
        for (auto e : stats["stiff_switches"]) {
            const std::string ef = sf + "[" + std::to_string(i++) + "]";
            const py::dict w = to_dict(e, ef, "a dict {time_h, to}");
            crsim::MethodSwitch ms;
            ms.time = to_double(item(w, "time_h", ef), ef + ".time_h", "a time in h");
            const std::string to = to_string(item(w, "to", ef), ef + ".to", "'rosenbrock4' or 'dopri5'");
            if (to != "rosenbrock4" && to != "dopri5")
                throw crsim::InputError(ef + ".to", "'" + to + "'", "'rosenbrock4' or 'dopri5'");
            ms.to = crsim::method_from_string(to);
            tr.stats.switches.push_back(ms);
        }
    }

    if (d.contains("readouts")) r.readouts = to_name_values(d["readouts"], f + ".readouts", "readout unit");
    if (d.contains("readout_units")) r.readout_units = to_str_map(d["readout_units"], f + ".readout_units");
    if (d.contains("readout_labels")) r.readout_labels = to_str_map(d["readout_labels"], f + ".readout_labels");
    return r;
}

py::dict record_to_dict(const crsim::ResultRecord& r) {
    const crsim::Trajectory& tr = r.trajectory;
    const auto T = static_cast<py::ssize_t>(tr.times.size());
    const auto n = static_cast<py::ssize_t>(r.state_names.size());
    const auto no = static_cast<py::ssize_t>(r.observable_names.size());
    const auto m = static_cast<py::ssize_t>(tr.sensitivity_names.size());
    py::dict d;
    d["name"] = r.name;
    d["model_name"] = r.model_name;
    d["model_version"] = r.model_version;
    d["scenario_json"] = r.scenario_json;
    d["seed"] = r.seed ? py::object(py::int_(*r.seed)) : py::object(py::none());
    d["state_names"] = py::cast(r.state_names);
    d["state_units"] = py::cast(r.state_units);
    d["state_dose_units"] = py::cast(r.state_dose_units);
    d["observable_names"] = py::cast(r.observable_names);
    d["observable_units"] = py::cast(r.observable_units);
    d["parameter_names"] = py::cast(r.parameter_names);
    d["parameter_units"] = py::cast(r.parameter_units);
    d["parameter_values"] = array_from(r.parameter_values, {static_cast<py::ssize_t>(r.parameter_values.size())});
    py::dict solver;
    solver["method"] = crsim::to_string(r.solver.method);
    solver["rtol"] = r.solver.rtol;
    solver["atol"] = r.solver.atol;
    solver["max_steps"] = r.solver.max_steps;
    solver["max_step"] = r.solver.max_step;
    solver["initial_step"] = r.solver.initial_step;
    solver["sensitivity_error_control"] = r.solver.sensitivity_error_control;
    d["solver"] = solver;
    d["times"] = array_from(tr.times, {T});
    d["states"] = array_from(tr.states, {T, n});
    d["observables"] = array_from(tr.observables, {T, no});
    d["sensitivity_names"] = py::cast(tr.sensitivity_names);
    d["state_sensitivities"] = array_from(tr.state_sensitivities, {T, n, m});
    d["observable_sensitivities"] = array_from(tr.observable_sensitivities, {T, no, m});
    py::list state;
    std::vector<double> time, amount, rate, end;
    for (const auto& e : tr.doses) {
        state.append(r.state_names[static_cast<std::size_t>(e.state)]);
        time.push_back(e.time);
        amount.push_back(e.amount);
        rate.push_back(e.rate);
        end.push_back(e.end);
    }
    const auto k = static_cast<py::ssize_t>(tr.doses.size());
    py::dict doses;
    doses["state"] = state;
    doses["time"] = array_from(time, {k});
    doses["amount"] = array_from(amount, {k});
    doses["rate"] = array_from(rate, {k});
    doses["end"] = array_from(end, {k});
    d["doses"] = doses;
    d["stats"] = stats_to_dict(tr.stats, r.solver.method);
    d["readouts"] = py::cast(r.readouts);
    d["readout_units"] = py::cast(r.readout_units);
    d["readout_labels"] = py::cast(r.readout_labels);
    return d;
}

void write_results(const std::string& path, const py::handle& records, const py::handle& attributes,
                   const std::string& created) {
    if (!py::isinstance<py::list>(records) && !py::isinstance<py::tuple>(records))
        throw crsim::InputError("records", repr_of(records), "a list of record dicts");
    std::vector<crsim::ResultRecord> recs;
    std::size_t i = 0;
    for (auto r : records) recs.push_back(to_record(r, i++));
    crsim::FileMetadata meta;
    meta.created = created;
    meta.attributes = to_str_map(attributes, "attributes");
    py::gil_scoped_release release;
    crsim::write_results(path, recs, meta);
}

py::dict read_results(const std::string& path) {
    crsim::ResultsFile file;
    {
        py::gil_scoped_release release;
        file = crsim::read_results(path);
    }
    py::dict meta;
    meta["schema_version"] = file.meta.schema_version;
    meta["crsim_version"] = file.meta.crsim_version;
    meta["created"] = file.meta.created;
    meta["attributes"] = py::cast(file.meta.attributes);
    py::list scenarios;
    for (const auto& r : file.scenarios) scenarios.append(record_to_dict(r));
    py::dict out;
    out["meta"] = meta;
    out["scenarios"] = scenarios;
    return out;
}

// Test hook (tests/python/test_hdf5*.py): sleeps `seconds` whenever the writer reaches a stage
// starting with `stage` ("created", "scenario:", "closed"), so a test can kill the process while a
// write is in progress. seconds <= 0 removes the hook. Not for production use.
void testing_set_write_delay(const std::string& stage, double seconds) {
    if (!(seconds > 0.0)) {
        crsim::testing::set_results_write_hook(nullptr);
        return;
    }
    crsim::testing::set_results_write_hook([stage, seconds](const std::string& s, const std::string&) {
        if (s.compare(0, stage.size(), stage) == 0)
            std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    });
}

// Exceptions with the message kept and the structured details as attributes (InputError.field;
// SolverError.time_reached and .step_size in h).
PyObject* g_input_error = nullptr;
PyObject* g_solver_error = nullptr;
PyObject* g_io_error = nullptr;

void raise_with(PyObject* type, const char* what, const std::vector<std::pair<const char*, py::object>>& attrs) {
    py::object inst = py::reinterpret_steal<py::object>(PyObject_CallFunction(type, "s", what));
    if (!inst) return;  // the error raised by the constructor is already set
    for (const auto& a : attrs) PyObject_SetAttrString(inst.ptr(), a.first, a.second.ptr());
    PyErr_SetObject(type, inst.ptr());
}

}  // namespace

void bind_parameter_sets(py::module_& m);  // parameter_sets.cpp
void bind_crs_readouts(py::module_& m);    // crs_readouts.cpp
void bind_batch(py::module_& m);           // batch.cpp
void bind_model_library(py::module_& m);   // model_library.cpp
void bind_bound(py::module_& m);           // bound.cpp
void bind_interrupt(py::module_& m);       // interrupt.cpp

PYBIND11_MODULE(_core, m) {
    m.doc() = "crsim._core: thin binding of the crsim C++ engine (use the `crsim` package instead)";
    m.attr("__version__") = CRSIM_VERSION;

    // Created once at import and kept alive by the module (attributes) for the process lifetime.
    py::object input_error = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
        "crsim._core.InputError",
        "Bad input: the message names the field, the value and what is allowed (a ValueError).",
        PyExc_ValueError, nullptr));
    py::object solver_error = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
        "crsim._core.SolverError",
        "Integration failed: the message names the time reached (h), the last step size and the "
        "likely cause (a RuntimeError).",
        PyExc_RuntimeError, nullptr));
    py::object io_error = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
        "crsim._core.IoError",
        "A results file could not be read or written (an HDF5 or file-system failure, or a file "
        "that is not a crsim results file or has another schema version); the message names the "
        "path, also in .path (an OSError).",
        PyExc_OSError, nullptr));
    m.attr("InputError") = input_error;
    m.attr("SolverError") = solver_error;
    m.attr("IoError") = io_error;
    g_input_error = input_error.ptr();
    g_solver_error = solver_error.ptr();
    g_io_error = io_error.ptr();
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const crsim::InputError& e) {
            raise_with(g_input_error, e.what(), {{"field", py::str(e.field())}});
        } catch (const crsim::SolverError& e) {
            raise_with(g_solver_error, e.what(),
                       {{"time_reached", py::float_(e.time_reached())},
                        {"step_size", py::float_(e.step_size())}});
        } catch (const crsim::IoError& e) {
            raise_with(g_io_error, e.what(), {{"path", py::str(e.path())}});
        }
    });

    bind_parameter_sets(m);
    bind_crs_readouts(m);
    bind_batch(m);
    bind_model_library(m);
    bind_bound(m);
    bind_interrupt(m);
    m.def("models", [] { return crsim::models::builtin_registry().names(); },
          "Names of the built-in models.");
    m.def("model_info", &model_info, py::arg("name"),
          "Metadata of a model as plain dicts and lists: name, description, version, states (name, "
          "unit, description, dose_unit), parameters (name, unit, default, lower, upper, "
          "description, source), observables (name, unit, description), sources.");
    m.def("expand_doses", &expand, py::arg("model"), py::arg("doses"),
          py::arg("weight_kg") = std::numeric_limits<double>::quiet_NaN(), py::arg("t_start") = 0.0,
          py::arg("field") = "doses",
          "Validates dose dicts and expands them into administrations: dict of arrays state, time "
          "(h), amount (dose unit, bioavailability applied), rate (dose unit/h, 0 for a bolus), "
          "end (h). Errors name field[i].<key> (field: what the user wrote the doses under).");
    m.def("simulate", &simulate, py::arg("model"), py::arg("parameters"), py::arg("doses"), py::arg("times"),
          py::arg("weight_kg") = std::numeric_limits<double>::quiet_NaN(), py::arg("t_start") = 0.0,
          py::arg("initial") = py::dict(), py::arg("options") = py::dict(),
          py::arg("sensitivities") = py::list(), py::arg("policies") = py::list(),
          "Simulates one model. parameters: name -> value (model units; defaults otherwise); "
          "doses: list of dicts (target, time h, amount in the dose unit, per_kg, cap, rate per h, "
          "duration h, additional, interval h, lag h, bioavailability); times: 1-D increasing "
          "output times (h); weight_kg; t_start (h); initial: state -> value; options: method, "
          "rtol, atol, max_steps, max_step (h), initial_step (h); sensitivities: parameter names "
          "or 'init:<state>'; policies: list of triggered-policy dicts (see simulate_batch). Returns a dict of numpy arrays times (T,), states (T, n), "
          "observables (T, n_obs), state_sensitivities (T, n, m), observable_sensitivities "
          "(T, n_obs, m), plus sensitivity_names, parameters (values used), stats, doses "
          "(applied administrations) and firings (dict of lists policy, condition_met, detected, "
          "administered, value, reason). The GIL is released while integrating.");

    m.attr("RESULTS_SCHEMA_VERSION") = crsim::kResultsSchemaVersion;
    m.attr("RESULTS_FORMAT") = crsim::kResultsFormat;
    m.def("write_results", &write_results, py::arg("path"), py::arg("records"),
          py::arg("attributes") = py::dict(), py::arg("created") = std::string(),
          "Writes a crsim results file (docs/hdf5-schema.md) atomically (temporary file + rename). "
          "records: list of dicts with name, model_name, model_version, scenario_json, seed "
          "(None or int), state_names/_units/_dose_units, observable_names/_units, "
          "parameter_names/_units/_values, solver (dict as for simulate's options), times (T,), "
          "states (T, n), observables (T, n_obs), optional sensitivity_names with "
          "state_sensitivities (T, n, m) and observable_sensitivities (T, n_obs, m), doses (dict "
          "of arrays state (index), time, amount, rate, end), stats (steps, rhs_evaluations, "
          "jacobian_evaluations, restarts), optional readouts (name -> float), readout_units and "
          "readout_labels (name -> str). attributes: extra root attributes (str -> str). The GIL "
          "is released while writing. Raises InputError (bad records, missing directory) or "
          "IoError (HDF5 / file-system failure).");
    m.def("read_results", &read_results, py::arg("path"),
          "Reads a crsim results file: dict meta (schema_version, crsim_version, created, "
          "attributes) and scenarios (list of record dicts as for write_results, with doses' "
          "state as names and stats including method). The GIL is released while reading. "
          "Raises InputError (missing file) or IoError (not HDF5, not crsim's, another schema "
          "version, inconsistent contents).");
    m.def("_testing_set_write_delay", &testing_set_write_delay, py::arg("stage"), py::arg("seconds"),
          "Test hook: make the results writer sleep at stages starting with `stage`; seconds <= 0 "
          "removes it. Not for production use.");
}
