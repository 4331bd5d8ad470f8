// crsim (private): pieces of the results-file schema shared by the writer (hdf5.cpp) and the
// reader (hdf5_read.cpp). The layout itself is documented in docs/hdf5-schema.md.
#pragma once

#include <cstdint>
#include <utility>

#include "hdf5_io.hpp"

namespace crsim::h5 {

// One row of /scenarios/<name>/doses in memory.
struct DoseRow {
    std::int32_t state;
    double time, amount, rate, end;
};

// The file type (packed, little-endian: state i32, time, amount, rate, end f64) and the memory
// type of DoseRow.
std::pair<Handle, Handle> dose_types();

// Root attributes written by crsim itself (not available for FileMetadata::attributes).
constexpr const char* kReservedRoot[] = {"format", "schema_version", "crsim_version", "created"};

}  // namespace crsim::h5
