// crsim._core (private): bound objects at the Python boundary.
//
//   _core.Problem(model, parameters, doses, times, weight_kg, t_start, initial, options,
//                 sensitivities, policies, readouts=None)
//       one run converted and checked once (a crsim::Problem and its model); .simulate() runs it
//       with the GIL released and returns a
//   _core.Trajectory
//       the engine's output, owned by the object; its arrays (times, states, observables,
//       sensitivities, the readout trajectory) are numpy views into it (no copy), alive as long
//       as any view is; readout_times/_states/_observables are None when none was recorded.
//
// crsim.scenario.resolve builds the arguments; crsim.run.simulate makes the Problem and wraps the
// Trajectory in a crsim.Result.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "convert.hpp"
#include "crsim/model.hpp"
#include "crsim/registry.hpp"
#include "crsim/simulate.hpp"

namespace py = pybind11;

namespace crsim_py {
// module.cpp
std::shared_ptr<const crsim::Model> model_by_name(const std::string& name);
py::dict stats_to_dict(const crsim::SolverStats& st, crsim::Method method);
py::dict events_to_dict(const crsim::Model& model, const std::vector<crsim::DoseEvent>& events);
}  // namespace crsim_py

namespace {

struct BoundProblem {
    std::shared_ptr<const crsim::Model> model;
    crsim::Problem problem;
};

struct BoundTrajectory {
    std::shared_ptr<const crsim::Model> model;
    crsim::Method method;
    std::vector<double> parameters;
    crsim::Trajectory tr;
};

// A numpy view of `data` with `shape` (C order) whose base keeps `owner` alive.
py::array view(const std::vector<double>& data, std::vector<py::ssize_t> shape, py::handle owner) {
    std::vector<py::ssize_t> strides(shape.size());
    py::ssize_t stride = static_cast<py::ssize_t>(sizeof(double));
    for (std::size_t k = shape.size(); k-- > 0;) {
        strides[k] = stride;
        stride *= shape[k];
    }
    return py::array(py::dtype::of<double>(), std::move(shape), std::move(strides), data.data(), owner);
}

BoundTrajectory& traj(py::handle self) { return self.cast<BoundTrajectory&>(); }

}  // namespace

using namespace crsim_py;

void bind_bound(py::module_& m) {
    py::class_<BoundProblem>(m, "Problem",
                             "One run converted for the engine (checked once); .simulate() runs it.")
        .def(py::init([](const std::string& model, const py::handle& parameters, const py::handle& doses,
                         const py::handle& times, double weight_kg, double t_start,
                         const py::handle& initial, const py::handle& options,
                         const py::handle& sensitivities, const py::handle& policies,
                         const py::handle& readouts) {
                 BoundProblem b;
                 b.model = model_by_name(model);
                 b.problem = to_problem(*b.model, parameters, doses, times, weight_kg, t_start, initial,
                                        options, sensitivities, policies);
                 b.problem.readouts = to_readouts(readouts);
                 return b;
             }),
             py::arg("model"), py::arg("parameters"), py::arg("doses"), py::arg("times"),
             py::arg("weight_kg"), py::arg("t_start"), py::arg("initial"), py::arg("options"),
             py::arg("sensitivities"), py::arg("policies"), py::arg("readouts") = py::none(),
             "readouts: None, or the watched thresholds of a readout trajectory to record along "
             "(a list of (variable, '>=' or '<=', threshold); [] records the step points alone).")
        .def_property_readonly("model", [](const BoundProblem& b) { return b.model->name(); })
        .def_property_readonly("n_times", [](const BoundProblem& b) { return b.problem.times.size(); })
        .def("simulate",
             [](const BoundProblem& b) {
                 BoundTrajectory t;
                 t.model = b.model;
                 t.method = b.problem.options.method;
                 t.parameters = b.problem.parameters;
                 {
                     py::gil_scoped_release release;
                     t.tr = crsim::simulate(*b.model, b.problem);
                 }
                 return t;
             },
             "Integrates the problem: a Trajectory (raises InputError, SolverError or Interrupted).");

    py::class_<BoundTrajectory>(m, "Trajectory",
                                "The engine's output of one run; arrays are views into it (no copy).")
        .def_property_readonly("times", [](py::object self) {
            const auto& t = traj(self).tr;
            return view(t.times, {static_cast<py::ssize_t>(t.times.size())}, self);
        })
        .def_property_readonly("states", [](py::object self) {
            const auto& b = traj(self);
            return view(b.tr.states, {static_cast<py::ssize_t>(b.tr.times.size()),
                                      static_cast<py::ssize_t>(b.model->n_states())}, self);
        })
        .def_property_readonly("observables", [](py::object self) {
            const auto& b = traj(self);
            return view(b.tr.observables, {static_cast<py::ssize_t>(b.tr.times.size()),
                                           static_cast<py::ssize_t>(b.model->n_observables())}, self);
        })
        .def_property_readonly("sensitivity_names",
                               [](const BoundTrajectory& b) { return b.tr.sensitivity_names; })
        .def_property_readonly("state_sensitivities", [](py::object self) {
            const auto& b = traj(self);
            return view(b.tr.state_sensitivities,
                        {static_cast<py::ssize_t>(b.tr.times.size()),
                         static_cast<py::ssize_t>(b.model->n_states()),
                         static_cast<py::ssize_t>(b.tr.sensitivity_names.size())}, self);
        })
        .def_property_readonly("observable_sensitivities", [](py::object self) {
            const auto& b = traj(self);
            return view(b.tr.observable_sensitivities,
                        {static_cast<py::ssize_t>(b.tr.times.size()),
                         static_cast<py::ssize_t>(b.model->n_observables()),
                         static_cast<py::ssize_t>(b.tr.sensitivity_names.size())}, self);
        })
        .def_property_readonly("parameters", [](py::object self) {
            const auto& b = traj(self);
            return view(b.parameters, {static_cast<py::ssize_t>(b.parameters.size())}, self);
        })
        .def_property_readonly("stats",
                               [](const BoundTrajectory& b) { return stats_to_dict(b.tr.stats, b.method); })
        .def_property_readonly("doses",
                               [](const BoundTrajectory& b) { return events_to_dict(*b.model, b.tr.doses); })
        .def_property_readonly("firings",
                               [](const BoundTrajectory& b) {
                                   return firings_to_dict(b.tr.firings);
                               })
        .def_property_readonly("readout_times", [](py::object self) -> py::object {
            const auto& r = traj(self).tr.readout;
            if (r.times.empty()) return py::none();
            return view(r.times, {static_cast<py::ssize_t>(r.times.size())}, self);
        })
        .def_property_readonly("readout_states", [](py::object self) -> py::object {
            const auto& b = traj(self);
            const auto& r = b.tr.readout;
            if (r.times.empty()) return py::none();
            return view(r.states, {static_cast<py::ssize_t>(r.times.size()),
                                   static_cast<py::ssize_t>(b.model->n_states())}, self);
        })
        .def_property_readonly("readout_observables", [](py::object self) -> py::object {
            const auto& b = traj(self);
            const auto& r = b.tr.readout;
            if (r.times.empty()) return py::none();
            return view(r.observables, {static_cast<py::ssize_t>(r.times.size()),
                                        static_cast<py::ssize_t>(b.model->n_observables())}, self);
        });
}
