// crsim._core: many runs of one model on C++ threads (crsim::simulate_batch) with the GIL released,
// for scans and populations. The problems are converted with the GIL held, integrated without it,
// and converted back in input order; a failed run is reported in its own entry.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "convert.hpp"
#include "crs_numbers.hpp"
#include "crsim/batch.hpp"
#include "crsim/errors.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/models/crs_grade.hpp"

namespace py = pybind11;

namespace {

py::object get_or(const py::dict& d, const char* key, py::object fallback) {
    return d.contains(key) ? py::reinterpret_borrow<py::object>(d[key]) : fallback;
}

crsim::Problem problem_from(const crsim::Model& model, const py::handle& h, std::size_t i) {
    using namespace crsim_py;
    const std::string f = "problems[" + std::to_string(i) + "]";
    const py::dict d = to_dict(h, f, "a dict with keys parameters, doses, times, weight_kg, t_start, "
                                     "initial, options, sensitivities, policies");
    static const std::set<std::string> known = {"parameters", "doses", "times", "weight_kg", "t_start",
                                                "initial", "options", "sensitivities", "policies",
                                                "readouts"};
    for (auto kv : d) {
        const std::string key = to_string(kv.first, f + " key", "a field name (str)");
        if (!known.count(key))
            throw crsim::InputError(f, "a dict with key '" + key + "'",
                                    "keys among parameters, doses, times, weight_kg, t_start, initial, "
                                    "options, sensitivities, policies, readouts");
    }
    if (!d.contains("times")) throw crsim::InputError(f + ".times", "missing", "output times in h");
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const py::object w = get_or(d, "weight_kg", py::none());
    const double weight = w.is_none() ? nan : to_double(w, f + ".weight_kg", "a body weight in kg or None");
    const double t0 = to_double(get_or(d, "t_start", py::float_(0.0)), f + ".t_start", "a time in h");
    try {
        crsim::Problem pr =
            to_problem(model, get_or(d, "parameters", py::dict()), get_or(d, "doses", py::list()),
                       d["times"], weight, t0, get_or(d, "initial", py::dict()),
                       get_or(d, "options", py::dict()), get_or(d, "sensitivities", py::list()),
                       get_or(d, "policies", py::list()));
        pr.readouts = to_readouts(get_or(d, "readouts", py::none()));
        return pr;
    } catch (const crsim::InputError& e) {
        throw crsim::InputError::nested(f + ".", e);
    }
}

const char* status_name(crsim::BatchOutcome::Status s) {
    switch (s) {
        case crsim::BatchOutcome::Status::Ok: return "ok";
        case crsim::BatchOutcome::Status::InputError: return "InputError";
        case crsim::BatchOutcome::Status::SolverError: return "SolverError";
        default: return "OtherError";
    }
}

std::vector<crsim::Problem> problems_from(const crsim::Model& model, const py::handle& problems) {
    if (!py::isinstance<py::list>(problems) && !py::isinstance<py::tuple>(problems))
        throw crsim::InputError("problems", crsim_py::repr_of(problems), "a list of problem dicts");
    std::vector<crsim::Problem> prs;
    std::size_t i = 0;
    for (auto item : problems) prs.push_back(problem_from(model, item, i++));
    return prs;
}

py::list batch(const std::string& model_name, const py::handle& problems, int threads) {
    const auto model = crsim::models::builtin_registry().get(model_name);
    std::vector<crsim::Problem> prs = problems_from(*model, problems);
    std::vector<crsim::BatchOutcome> outcomes;
    {
        py::gil_scoped_release release;
        outcomes = crsim::simulate_batch(*model, prs, threads);
    }
    py::list out;
    for (std::size_t k = 0; k < outcomes.size(); ++k) {
        const auto& o = outcomes[k];
        py::dict d = o.ok() ? crsim_py::trajectory_to_dict(*model, prs[k], o.trajectory) : py::dict();
        d["status"] = status_name(o.status);
        d["message"] = o.message;
        out.append(d);
    }
    return out;
}

// --- readouts-only batches ------------------------------------------------------------------------

// The value of `values` (column `column` of a row-major T x width table) at time t by linear
// interpolation on the output times, as numpy.interp computes it; NaN outside the output times
// (1e-9 h slack), as crsim.results.readouts.value_at.
double value_at(const std::vector<double>& times, const std::vector<double>& values, std::size_t width,
                std::size_t column, double t) {
    const std::size_t T = times.size();
    if (T == 0 || t < times.front() - 1e-9 || t > times.back() + 1e-9) return std::numeric_limits<double>::quiet_NaN();
    auto y = [&](std::size_t k) { return values[k * width + column]; };
    if (t <= times.front()) return y(0);
    if (t >= times.back()) return y(T - 1);
    const std::size_t j = static_cast<std::size_t>(std::upper_bound(times.begin(), times.end(), t) - times.begin()) - 1;
    if (t == times[j]) return y(j);
    const double slope = (y(j + 1) - y(j)) / (times[j + 1] - times[j]);
    return slope * (t - times[j]) + y(j);
}

using Reading = std::function<double(const crsim::Trajectory&, const std::vector<double>& crs)>;

// One column of a readouts-only batch, from its spec tuple:
//   ("crs", name)                    a clinical readout of the crs model (crs_readouts)
//   ("dose_count", [state, ...])     administrations into any of these states (triggered included)
//   ("policy_firings",)              number of policy firings
//   ("value_at", variable, t)        a state (first) or observable at t h, linear on the output grid
Reading reading_from(const crsim::Model& model, const py::handle& h, const std::string& f, bool& needs_crs) {
    using namespace crsim_py;
    const std::string allowed = "('crs', name), ('dose_count', [state, ...]), ('policy_firings',) or "
                                "('value_at', variable, time_h)";
    if (!py::isinstance<py::tuple>(h) && !py::isinstance<py::list>(h)) throw crsim::InputError(f, repr_of(h), allowed);
    const py::sequence t = py::reinterpret_borrow<py::sequence>(h);
    if (py::len(t) == 0) throw crsim::InputError(f, repr_of(h), allowed);
    const std::string kind = to_string(t[0], f + "[0]", allowed);
    if (kind == "crs" && py::len(t) == 2) {
        const std::string name = to_string(t[1], f + "[1]", "a crs readout name");
        const auto names = crs_readout_numbers(crsim::models::CrsReadouts{});
        std::size_t k = 0;
        while (k < names.size() && name != names[k].first) ++k;
        if (k == names.size()) throw crsim::InputError(f + "[1]", "'" + name + "'", "a numeric readout of the crs model");
        needs_crs = true;
        return [k](const crsim::Trajectory&, const std::vector<double>& crs) { return crs[k]; };
    }
    if (kind == "dose_count" && py::len(t) == 2) {
        std::vector<int> states;
        for (auto s : t[1]) states.push_back(model.state_index(to_string(s, f + "[1]", "a state name"), f + "[1]"));
        return [states](const crsim::Trajectory& tr, const std::vector<double>&) {
            double n = 0.0;
            for (const auto& d : tr.doses)
                if (std::find(states.begin(), states.end(), d.state) != states.end()) n += 1.0;
            return n;
        };
    }
    if (kind == "policy_firings" && py::len(t) == 1)
        return [](const crsim::Trajectory& tr, const std::vector<double>&) { return static_cast<double>(tr.firings.size()); };
    if (kind == "value_at" && py::len(t) == 3) {
        const std::string var = to_string(t[1], f + "[1]", "a state or observable name");
        const double at = to_double(t[2], f + "[2]", "a time in h");
        const auto& states = model.info().states;
        const auto s = std::find_if(states.begin(), states.end(), [&](const auto& x) { return x.name == var; });
        if (s != states.end()) {
            const auto col = static_cast<std::size_t>(s - states.begin());
            const std::size_t width = states.size();
            return [col, width, at](const crsim::Trajectory& tr, const std::vector<double>&) {
                return value_at(tr.times, tr.states, width, col, at);
            };
        }
        const auto col = static_cast<std::size_t>(model.observable_index(var, f + "[1]"));
        const std::size_t width = static_cast<std::size_t>(model.n_observables());
        return [col, width, at](const crsim::Trajectory& tr, const std::vector<double>&) {
            return value_at(tr.times, tr.observables, width, col, at);
        };
    }
    throw crsim::InputError(f, repr_of(h), allowed);
}

py::tuple batch_readouts(const std::string& model_name, const py::handle& problems, int threads,
                         const py::handle& spec) {
    const auto model = crsim::models::builtin_registry().get(model_name);
    if (!py::isinstance<py::list>(spec) && !py::isinstance<py::tuple>(spec))
        throw crsim::InputError("spec", crsim_py::repr_of(spec), "a list of readout specs");
    std::vector<Reading> readings;
    bool needs_crs = false;
    std::size_t j = 0;
    for (auto item : spec) readings.push_back(reading_from(*model, item, "spec[" + std::to_string(j++) + "]", needs_crs));
    if (needs_crs && model_name != "crs")
        throw crsim::InputError("spec", "a ('crs', ...) readout for model " + model_name,
                                "('crs', ...) readouts only for the crs model");
    const std::vector<crsim::Problem> prs = problems_from(*model, problems);
    const crsim::Model& m = *model;
    const crsim::BatchReducer reduce = [&](const crsim::Problem&, const crsim::Trajectory& tr) {
        std::vector<double> crs;
        if (needs_crs)
            for (const auto& kv : crsim_py::crs_readout_numbers(crsim::models::crs_readouts(m, tr))) crs.push_back(kv.second);
        std::vector<double> row;
        row.reserve(readings.size());
        for (const auto& r : readings) row.push_back(r(tr, crs));
        return row;
    };
    std::vector<crsim::BatchRow> rows;
    {
        py::gil_scoped_release release;
        rows = crsim::simulate_batch(m, prs, threads, reduce);
    }
    const auto n = static_cast<py::ssize_t>(rows.size()), k = static_cast<py::ssize_t>(readings.size());
    py::array_t<double> values({n, k});
    auto v = values.mutable_unchecked<2>();
    py::list status, message;
    for (py::ssize_t i = 0; i < n; ++i) {
        const auto& r = rows[static_cast<std::size_t>(i)];
        for (py::ssize_t c = 0; c < k; ++c)
            v(i, c) = r.ok() ? r.values[static_cast<std::size_t>(c)] : std::numeric_limits<double>::quiet_NaN();
        status.append(status_name(r.status));
        message.append(r.message);
    }
    return py::make_tuple(values, status, message);
}

}  // namespace

void bind_batch(py::module_& m) {
    m.def("simulate_batch", &batch, py::arg("model"), py::arg("problems"), py::arg("threads") = 0,
          "Runs many simulations of one model on a pool of C++ threads (threads <= 0: one per "
          "hardware thread) with the GIL released. problems: list of dicts with the arguments of "
          "simulate (parameters, doses, times, weight_kg, t_start, initial, options, "
          "sensitivities, policies; readouts: see _core.Problem). A policy dict has name, "
          "variable (observable or state), "
          "comparison ('>=' or '<='), threshold, sustained (h), action (list of dose dicts whose "
          "time is an offset from administration), delay (h), max_firings, min_interval (h), "
          "max_per_period, period (h), window_start, window_end (h), time_tolerance (h); counts "
          "may be inf. Returns a list in input order: each entry the dict simulate returns plus "
          "status ('ok', 'InputError', 'SolverError' or 'OtherError') and message (empty when ok; "
          "a failed run has only these two keys; readout_times, readout_states, "
          "readout_observables "
          "when a readout trajectory was recorded). Conversion errors raise InputError naming "
          "problems[i].<field> before anything runs.");
    m.def("simulate_batch_readouts", &batch_readouts, py::arg("model"), py::arg("problems"),
          py::arg("threads") = 0, py::arg("spec"),
          "Like simulate_batch, but keeps only numbers per run, computed in the worker threads right "
          "after each run (the trajectories are never converted): spec is a list of ('crs', name) "
          "(a numeric clinical readout of the crs model), ('dose_count', [state, ...]), "
          "('policy_firings',) or ('value_at', variable, time_h) (linear on the output grid, NaN "
          "outside it). Returns (values: array (runs, len(spec)), NaN rows for failed runs; "
          "status list; message list).");
}
