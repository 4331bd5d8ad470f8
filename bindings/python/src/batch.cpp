// crsim._core: many runs of one model on C++ threads (crsim::simulate_batch) with the GIL released,
// for scans and populations. The problems are converted with the GIL held, integrated without it,
// and converted back in input order; a failed run is reported in its own entry.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <limits>
#include <set>
#include <string>
#include <vector>

#include "convert.hpp"
#include "crsim/batch.hpp"
#include "crsim/errors.hpp"
#include "crsim/models/builtin.hpp"

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

py::list batch(const std::string& model_name, const py::handle& problems, int threads) {
    const auto model = crsim::models::builtin_registry().get(model_name);
    if (!py::isinstance<py::list>(problems) && !py::isinstance<py::tuple>(problems))
        throw crsim::InputError("problems", crsim_py::repr_of(problems), "a list of problem dicts");
    std::vector<crsim::Problem> prs;
    std::size_t i = 0;
    for (auto item : problems) prs.push_back(problem_from(*model, item, i++));
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
}
