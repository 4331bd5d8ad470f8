// crsim._core: the thin pybind11 layer between the C++ engine and the Python package `crsim`.
// It converts plain Python containers (dicts, lists, numpy arrays) to crsim::Problem and a
// crsim::Trajectory back to numpy arrays, and maps crsim::InputError / crsim::SolverError to
// Python exceptions (subclasses of ValueError / RuntimeError) keeping their messages. Everything
// Pythonic (DataFrames, Dose objects, plots) lives in the pure-Python package.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "crsim/dosing.hpp"
#include "crsim/errors.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/simulate.hpp"

#ifndef CRSIM_VERSION
#define CRSIM_VERSION "unknown"
#endif

namespace py = pybind11;

namespace {

std::shared_ptr<const crsim::Model> get_model(const std::string& name) {
    return crsim::models::builtin_registry().get(name);
}

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

crsim::Dose to_dose(const py::handle& h, std::size_t i) {
    const std::string f = "doses[" + std::to_string(i) + "]";
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
        else if (key == "additional") dose.additional = static_cast<int>(to_long(v, fk, "an integer >= 0"));
        else if (key == "interval") dose.interval = v.is_none() ? 0.0 : to_double(v, fk, "an interval in h or None");
        else if (key == "lag") dose.lag = to_double(v, fk, "a lag time in h");
        else if (key == "bioavailability") dose.bioavailability = to_double(v, fk, "a fraction");
    }
    if (!d.contains("target")) throw crsim::InputError(f + ".target", "missing", "a state name");
    return dose;
}

std::vector<crsim::Dose> to_doses(const py::handle& h) {
    std::vector<crsim::Dose> doses;
    if (h.is_none()) return doses;
    if (!py::isinstance<py::list>(h) && !py::isinstance<py::tuple>(h))
        throw crsim::InputError("doses", repr_of(h), "a list of dose dicts");
    std::size_t i = 0;
    for (auto item : h) doses.push_back(to_dose(item, i++));
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

crsim::SolverOptions to_options(const py::handle& h) {
    crsim::SolverOptions o;
    for (auto kv : to_dict(h, "options", "a dict of solver options")) {
        const std::string key = to_string(kv.first, "options key", "an option name (str)");
        const std::string f = "options." + key;
        const py::handle v = kv.second;
        if (key == "method") o.method = crsim::method_from_string(to_string(v, "method", "one of {rosenbrock4, dopri5}"));
        else if (key == "rtol") o.rtol = to_double(v, f, "a relative tolerance in [1e-14, 1)");
        else if (key == "atol") o.atol = to_double(v, f, "a finite absolute tolerance > 0");
        else if (key == "max_steps") o.max_steps = to_long(v, f, "a step count > 0 (integer)");
        else if (key == "max_step") o.max_step = to_double(v, f, "a finite step in h >= 0 (0 = unlimited)");
        else if (key == "initial_step") o.initial_step = to_double(v, f, "a finite step in h >= 0 (0 = automatic)");
        else
            throw crsim::InputError("options", "'" + key + "'",
                                    "one of {method, rtol, atol, max_steps, max_step, initial_step}");
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
                double t_start) {
    const auto model = get_model(model_name);
    const auto events = crsim::expand_doses(*model, to_doses(doses), weight_kg, t_start);
    return events_to_dict(*model, events);
}

py::dict simulate(const std::string& model_name, const py::handle& parameters,
                  const py::handle& doses, const py::handle& times, double weight_kg,
                  double t_start, const py::handle& initial, const py::handle& options,
                  const py::handle& sensitivities) {
    const auto model = get_model(model_name);
    crsim::Problem pr;
    pr.parameters = model->parameters_with(to_name_values(parameters, "parameters", "parameter unit"));
    pr.doses = to_doses(doses);
    pr.times = to_times(times);
    pr.weight_kg = weight_kg;
    pr.t_start = t_start;
    pr.initial = to_name_values(initial, "initial", "state unit");
    pr.options = to_options(options);
    pr.sensitivities = to_names(sensitivities, "sensitivities");

    crsim::Trajectory tr;
    {
        py::gil_scoped_release release;
        tr = crsim::simulate(*model, pr);
    }

    const auto T = static_cast<py::ssize_t>(tr.times.size());
    const auto n = static_cast<py::ssize_t>(model->n_states());
    const auto no = static_cast<py::ssize_t>(model->n_observables());
    const auto m = static_cast<py::ssize_t>(tr.sensitivity_names.size());
    py::dict out;
    out["times"] = array_from(tr.times, {T});
    out["states"] = array_from(tr.states, {T, n});
    out["observables"] = array_from(tr.observables, {T, no});
    out["sensitivity_names"] = py::cast(tr.sensitivity_names);
    out["state_sensitivities"] = array_from(tr.state_sensitivities, {T, n, m});
    out["observable_sensitivities"] = array_from(tr.observable_sensitivities, {T, no, m});
    out["parameters"] = py::cast(pr.parameters);
    py::dict stats;
    stats["steps"] = tr.stats.steps;
    stats["rhs_evaluations"] = tr.stats.rhs_evaluations;
    stats["jacobian_evaluations"] = tr.stats.jacobian_evaluations;
    stats["restarts"] = tr.stats.restarts;
    stats["method"] = crsim::to_string(pr.options.method);
    out["stats"] = stats;
    out["doses"] = events_to_dict(*model, tr.doses);
    return out;
}

// Exceptions with the message kept and the structured details as attributes (InputError.field;
// SolverError.time_reached and .step_size in h).
PyObject* g_input_error = nullptr;
PyObject* g_solver_error = nullptr;

void raise_with(PyObject* type, const char* what, const std::vector<std::pair<const char*, py::object>>& attrs) {
    py::object inst = py::reinterpret_steal<py::object>(PyObject_CallFunction(type, "s", what));
    if (!inst) return;  // the error raised by the constructor is already set
    for (const auto& a : attrs) PyObject_SetAttrString(inst.ptr(), a.first, a.second.ptr());
    PyErr_SetObject(type, inst.ptr());
}

}  // namespace

void bind_parameter_sets(py::module_& m);  // parameter_sets.cpp

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
    m.attr("InputError") = input_error;
    m.attr("SolverError") = solver_error;
    g_input_error = input_error.ptr();
    g_solver_error = solver_error.ptr();
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const crsim::InputError& e) {
            raise_with(g_input_error, e.what(), {{"field", py::str(e.field())}});
        } catch (const crsim::SolverError& e) {
            raise_with(g_solver_error, e.what(),
                       {{"time_reached", py::float_(e.time_reached())},
                        {"step_size", py::float_(e.step_size())}});
        }
    });

    bind_parameter_sets(m);
    m.def("models", [] { return crsim::models::builtin_registry().names(); },
          "Names of the built-in models.");
    m.def("model_info", &model_info, py::arg("name"),
          "Metadata of a model as plain dicts and lists: name, description, version, states (name, "
          "unit, description, dose_unit), parameters (name, unit, default, lower, upper, "
          "description, source), observables (name, unit, description), sources.");
    m.def("expand_doses", &expand, py::arg("model"), py::arg("doses"),
          py::arg("weight_kg") = std::numeric_limits<double>::quiet_NaN(), py::arg("t_start") = 0.0,
          "Validates dose dicts and expands them into administrations: dict of arrays state, time "
          "(h), amount (dose unit, bioavailability applied), rate (dose unit/h, 0 for a bolus), "
          "end (h).");
    m.def("simulate", &simulate, py::arg("model"), py::arg("parameters"), py::arg("doses"), py::arg("times"),
          py::arg("weight_kg") = std::numeric_limits<double>::quiet_NaN(), py::arg("t_start") = 0.0,
          py::arg("initial") = py::dict(), py::arg("options") = py::dict(),
          py::arg("sensitivities") = py::list(),
          "Simulates one model. parameters: name -> value (model units; defaults otherwise); "
          "doses: list of dicts (target, time h, amount in the dose unit, per_kg, cap, rate per h, "
          "duration h, additional, interval h, lag h, bioavailability); times: 1-D increasing "
          "output times (h); weight_kg; t_start (h); initial: state -> value; options: method, "
          "rtol, atol, max_steps, max_step (h), initial_step (h); sensitivities: parameter names "
          "or 'init:<state>'. Returns a dict of numpy arrays times (T,), states (T, n), "
          "observables (T, n_obs), state_sensitivities (T, n, m), observable_sensitivities "
          "(T, n_obs, m), plus sensitivity_names, parameters (values used), stats and doses "
          "(applied administrations). The GIL is released while integrating.");
}
