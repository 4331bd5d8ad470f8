// crsim._core: parameter-set files (data/parameters/*.json) as plain Python objects.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "crsim/models/builtin.hpp"
#include "crsim/parameter_set.hpp"

namespace py = pybind11;

namespace {

py::dict entry_dict(const crsim::ParameterEntry& e) {
    py::dict d;
    d["value"] = e.value;
    d["unit"] = e.unit;
    d["source"] = e.source;
    d["note"] = e.note;
    return d;
}

py::dict set_dict(const crsim::ParameterSet& s) {
    py::dict params, regimen;
    for (const auto& kv : s.parameters) params[py::str(kv.first)] = entry_dict(kv.second);
    for (const auto& kv : s.regimen) regimen[py::str(kv.first)] = entry_dict(kv.second);
    py::dict out;
    out["path"] = s.path;
    out["name"] = s.name;
    out["model"] = s.model;
    out["description"] = s.description;
    out["sources"] = py::cast(s.sources);
    out["parameters"] = params;
    out["patient"] = py::cast(s.patient);
    out["regimen"] = regimen;
    py::dict variability;
    for (const auto& kv : s.variability) {
        py::dict d;
        d["omega"] = kv.second.omega;
        d["cv"] = kv.second.cv;
        d["source"] = kv.second.source;
        d["origin"] = kv.second.origin;
        variability[py::str(kv.first)] = d;
    }
    py::list correlations;
    for (const auto& c : s.correlations) {
        py::dict d;
        d["between"] = py::make_tuple(c.a, c.b);
        d["r"] = c.r;
        d["source"] = c.source;
        d["origin"] = c.origin;
        correlations.append(d);
    }
    out["variability"] = variability;
    out["correlations"] = correlations;
    return out;
}

}  // namespace

void bind_parameter_sets(py::module_& m) {
    m.def(
        "load_parameter_set", [](const std::string& path) { return set_dict(crsim::load_parameter_set(path)); },
        py::arg("path"),
        "Reads and validates a parameter-set file: dict with path, name, model, description, "
        "sources, parameters (name -> {value, unit, source, note}), patient (names of the patient "
        "covariates), regimen (name -> entry), variability (name -> {omega, cv, source, origin}: "
        "published between-patient variability), correlations ([{between, r, source, origin}]).");
    m.def(
        "parameters_from",
        [](const std::string& model_name, const std::string& path,
           const std::map<std::string, double>& overrides) {
            const auto model = crsim::models::builtin_registry().get(model_name);
            const auto set = crsim::load_parameter_set(path);
            const auto values = crsim::parameters_from(*model, set, overrides);
            py::dict out;
            for (std::size_t i = 0; i < values.size(); ++i)
                out[py::str(model->info().parameters[i].name)] = values[i];
            return out;
        },
        py::arg("model"), py::arg("path"), py::arg("overrides") = std::map<std::string, double>{},
        "The model's parameter values (name -> value) from a parameter-set file with overrides, "
        "checked for model, completeness, units and bounds.");
}
