// crsim._core: clinical readouts of a "crs" trajectory (ASTCT grade per time, onset, duration,
// time at grade, biomarker peaks, HLH flags), computed by crsim::models::crs_readouts, from the
// run's readout trajectory when given (grid-independent), and the thresholds that trajectory
// watches (crsim::models::crs_readout_watch).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "crsim/errors.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/models/crs_grade.hpp"
#include "crs_numbers.hpp"

namespace py = pybind11;

namespace crsim_py {

std::vector<std::pair<const char*, double>> crs_readout_numbers(const crsim::models::CrsReadouts& r) {
    return {{"cart_cmax", r.cart_cmax},
            {"cart_tmax_h", r.cart_tmax_h},
            {"cart_auc28", r.cart_auc28},
            {"cart_last", r.cart_last},
            {"il6_peak", r.il6_peak},
            {"ifng_peak", r.ifng_peak},
            {"crp_peak", r.crp_peak},
            {"ferritin_peak", r.ferritin_peak},
            {"mcp1_peak_36h", r.mcp1_peak_36h},
            {"temp_max", r.temp_max},
            {"temp_max_36h", r.temp_max_36h},
            {"map_min", r.map_min},
            {"fio2_max", r.fio2_max},
            {"onset_h", r.onset_h},
            {"duration_h", r.duration_h},
            {"max_grade", r.max_grade},
            {"hours_grade_ge2", r.hours_grade_ge2},
            {"hours_grade_ge3", r.hours_grade_ge3},
            {"episodes", r.episodes},
            {"b_cell_aplasia_h", r.b_cell_aplasia_h},
            {"iec_hs", r.iec_hs ? 1.0 : 0.0},
            {"iec_hs_onset_h", r.iec_hs_onset_h},
            {"iec_hs_duration_h", r.iec_hs_duration_h},
            {"iec_hs_grade_max", r.iec_hs_grade_max},
            {"carhlh", r.carhlh ? 1.0 : 0.0},
            {"carhlh_organ_toxicities", r.carhlh_organ_toxicities},
            {"hlh2004_max", r.hlh2004_max},
            {"hscore_partial_max", r.hscore_partial_max}};
}

}  // namespace crsim_py

namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

std::vector<double> to_vector(const Array& a) { return std::vector<double>(a.data(), a.data() + a.size()); }

py::dict readouts(const std::string& model_name, const Array& times, const Array& states,
                  const Array& observables, const py::dict& doses, const py::object& readout_times,
                  const py::object& readout_observables) {
    const auto model = crsim::models::builtin_registry().get(model_name);
    const auto T = static_cast<std::size_t>(times.size());
    if (states.ndim() != 2 || static_cast<std::size_t>(states.shape(0)) != T ||
        states.shape(1) != model->n_states())
        throw crsim::InputError("states", "an array of shape (" + std::to_string(states.shape(0)) + ", ...)",
                                "shape (len(times), n_states) of model " + model_name);
    if (observables.ndim() != 2 || static_cast<std::size_t>(observables.shape(0)) != T ||
        observables.shape(1) != model->n_observables())
        throw crsim::InputError("observables", "an array of the wrong shape",
                                "shape (len(times), n_observables) of model " + model_name);
    crsim::Trajectory tr;
    tr.times = to_vector(times);
    tr.states = to_vector(states);
    tr.observables = to_vector(observables);
    if (readout_times.is_none() != readout_observables.is_none())
        throw crsim::InputError("readout_times", readout_times.is_none() ? "None" : "an array",
                                "given together with readout_observables (both or neither)");
    if (!readout_times.is_none()) {
        const Array rt = readout_times.cast<Array>(), ro = readout_observables.cast<Array>();
        if (rt.ndim() != 1 || rt.size() == 0 || ro.ndim() != 2 || ro.shape(0) != rt.size() ||
            ro.shape(1) != model->n_observables())
            throw crsim::InputError("readout_observables", "an array of the wrong shape",
                                    "shape (len(readout_times) > 0, n_observables) of model " +
                                        model_name);
        tr.readout.times = to_vector(rt);
        tr.readout.observables = to_vector(ro);
    }
    const auto names = doses["state"].cast<std::vector<std::string>>();
    const auto time = doses["time"].cast<std::vector<double>>();
    const auto amount = doses["amount"].cast<std::vector<double>>();
    const auto rate = doses["rate"].cast<std::vector<double>>();
    const auto end = doses["end"].cast<std::vector<double>>();
    for (std::size_t i = 0; i < names.size(); ++i) {
        crsim::DoseEvent e;
        e.state = model->state_index(names[i], "doses.state");
        e.time = time.at(i);
        e.amount = amount.at(i);
        e.rate = rate.at(i);
        e.end = end.at(i);
        tr.doses.push_back(e);
    }
    crsim::models::CrsReadouts r;
    {
        py::gil_scoped_release release;
        r = crsim::models::crs_readouts(*model, tr);
    }
    py::dict out;
    for (const auto& [name, value] : crsim_py::crs_readout_numbers(r)) out[name] = value;
    out["grade"] = py::array_t<int>(static_cast<py::ssize_t>(r.grade.size()), r.grade.data());
    out["iec_hs_grade"] =
        py::array_t<int>(static_cast<py::ssize_t>(r.iec_hs_grade.size()), r.iec_hs_grade.data());
    py::list criteria;
    for (const auto& c : r.criteria) {
        py::dict row;
        row["definition"] = c.definition;
        row["key"] = c.key;
        row["criterion"] = c.criterion;
        row["evaluable"] = c.evaluable;
        row["met"] = c.met;
        row["first_h"] = c.first_h;
        row["value"] = c.value;
        row["unit"] = c.unit;
        criteria.append(row);
    }
    out["criteria"] = criteria;
    return out;
}

}  // namespace

void bind_crs_readouts(py::module_& m) {
    m.def("crs_readouts", &readouts, py::arg("model"), py::arg("times"), py::arg("states"),
          py::arg("observables"), py::arg("doses"), py::arg("readout_times") = py::none(),
          py::arg("readout_observables") = py::none(),
          "Clinical readouts of a run of the crs model (docs/model.md sec. 7): dict of numbers, flags and "
          "the ASTCT grade per output time ('grade'); from the readout trajectory when given "
          "(readout_times, readout_observables), else from the output grid.");
    m.def("crs_readout_watch", [] {
              py::list out;
              for (const auto& w : crsim::models::crs_readout_watch())
                  out.append(py::make_tuple(
                      w.variable, w.comparison == crsim::Comparison::GreaterEqual ? ">=" : "<=",
                      w.threshold));
              return out;
          },
          "The thresholds the readout trajectory of a crs run watches, from the ASTCT grader's "
          "GradingPolicy: a list of (observable, '>=' or '<=', threshold).");
}
