// crsim._core (private): conversions between plain Python containers and the engine's types,
// shared by module.cpp (simulate, results files), policies.cpp (triggered policies) and batch.cpp
// (many runs on C++ threads). Every conversion error is a crsim::InputError naming the field.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "crsim/dosing.hpp"
#include "crsim/model.hpp"
#include "crsim/policy.hpp"
#include "crsim/simulate.hpp"

namespace crsim_py {

namespace py = pybind11;

std::string repr_of(const py::handle& h);
double to_double(const py::handle& h, const std::string& field, const std::string& allowed);
long to_long(const py::handle& h, const std::string& field, const std::string& allowed);
std::string to_string(const py::handle& h, const std::string& field, const std::string& allowed);
py::dict to_dict(const py::handle& h, const std::string& field, const std::string& allowed);
// A dose dict (target, time, amount, per_kg, cap, rate, duration, additional, interval, lag,
// bioavailability); errors name `<prefix>[i].<key>`.
crsim::Dose to_dose(const py::handle& h, std::size_t i, const std::string& prefix = "doses");
std::vector<crsim::Dose> to_doses(const py::handle& h, const std::string& prefix = "doses");
py::array_t<double> array_from(const std::vector<double>& v, std::vector<py::ssize_t> shape);

// The Problem of one run from the arguments of _core.simulate (policies: list of policy dicts,
// see policies.cpp).
crsim::Problem to_problem(const crsim::Model& model, const py::handle& parameters, const py::handle& doses,
                          const py::handle& times, double weight_kg, double t_start,
                          const py::handle& initial, const py::handle& options,
                          const py::handle& sensitivities, const py::handle& policies);
// The readout trajectory to record: None (none) or a list of watched thresholds, each a
// (variable, comparison '>=' or '<=', threshold) sequence; errors name `<field>[i]`.
crsim::ReadoutOptions to_readouts(const py::handle& h, const std::string& field = "readouts");
// The readout trajectory as numpy arrays into `out` (readout_times, readout_states,
// readout_observables), or nothing when none was recorded.
void readout_to_dict(const crsim::Model& model, const crsim::ReadoutTrajectory& r, py::dict& out);
// A trajectory as the dict _core.simulate returns (numpy arrays, stats, doses, firings).
py::dict trajectory_to_dict(const crsim::Model& model, const crsim::Problem& problem,
                            const crsim::Trajectory& tr);

// policies.cpp
std::vector<crsim::Policy> to_policies(const py::handle& h);
py::dict firings_to_dict(const std::vector<crsim::PolicyFiring>& firings);

}  // namespace crsim_py
