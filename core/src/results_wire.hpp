// crsim results files: a ResultsFile as bytes, from the child process that read a file not known to
// be intact back to the parent (hdf5_read.cpp), so that the parent never opens such a file with
// libhdf5 itself. Both ends are the same binary: numbers travel in the machine's own layout.
#pragma once

#include <string>

#include "crsim/hdf5.hpp"

namespace crsim::wire {

// Everything read_results fills in (metadata, and per scenario the names, units, arrays, solver
// settings and statistics, doses, sensitivities, readouts).
std::string encode(const ResultsFile& file);

// The inverse of encode. Bytes that end early, run on or declare more than they hold (a child
// killed mid-write) are an IoError naming `path`.
ResultsFile decode(const std::string& bytes, const std::string& path);

}  // namespace crsim::wire
