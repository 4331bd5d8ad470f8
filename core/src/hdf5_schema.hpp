// crsim (private): pieces of the results-file schema shared by the writer (hdf5.cpp) and the
// reader (hdf5_read.cpp). The layout itself is documented in docs/hdf5-schema.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

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

// HDF5's user block (the first bytes of the file, which libhdf5 skips) holds, in files written
// since the check was added, "crsim-results\ncrc32 <8 hex digits> size <bytes>\n" padded with NUL:
// the CRC-32 (zlib) of every byte after the user block and the file's size.
constexpr std::size_t kUserBlockSize = 512;
constexpr const char* kUserBlockMagic = "crsim-results";
void stamp_user_block(std::vector<unsigned char>& image);  // fills the user block of a file image

// Root attributes written by crsim itself (not available for FileMetadata::attributes).
constexpr const char* kReservedRoot[] = {"format", "schema_version", "crsim_version", "created"};

}  // namespace crsim::h5
