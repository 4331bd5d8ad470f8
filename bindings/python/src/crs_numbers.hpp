// crsim._core: the numeric clinical readouts of a crs run, by name, in the order crsim lists them
// (shared by crs_readouts and the readouts-only batch).
#pragma once

#include <utility>
#include <vector>

#include "crsim/models/crs_grade.hpp"

namespace crsim_py {

std::vector<std::pair<const char*, double>> crs_readout_numbers(const crsim::models::CrsReadouts& r);

}  // namespace crsim_py
