// crsim: results files. One HDF5 file holds one or more simulated scenarios under
// /scenarios/<name>/, self-described (schema version, crsim version, model name and version, the
// scenario as JSON, parameters with units, solver settings and statistics, states and observables
// with names and units, applied doses, optional sensitivities, clinical readouts). The layout is
// documented in docs/hdf5-schema.md and readable with plain h5py.
//
// Writing is atomic: the file is built in memory, written to "<path>.tmp-<pid>-<random>" in the
// same directory and renamed over <path> only after it was written and flushed successfully; on any
// failure (a full disk, a file-size limit) the temporary file is removed, an existing <path> is left
// untouched and libhdf5 holds nothing open.
//
// Errors: InputError for bad arguments (empty or duplicate scenario names, inconsistent array sizes,
// a missing directory, ...), IoError for HDF5 / file-system failures and for files that are not
// crsim results or have another schema version. Both messages name the path or field.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crsim/model.hpp"
#include "crsim/simulate.hpp"

namespace crsim {

// The schema version this crsim writes and the only one it reads.
constexpr int kResultsSchemaVersion = 1;
// The value of the root attribute `format`.
constexpr const char* kResultsFormat = "crsim-results";

// The crsim library version ("0.1.0"), from the CMake project version.
std::string version();

// File-level metadata. On writing, only `created` (empty = now) and `attributes` are taken from
// the caller; schema_version and crsim_version are always this library's. read_results fills all.
struct FileMetadata {
    int schema_version = kResultsSchemaVersion;
    std::string crsim_version;
    std::string created;  // UTC, ISO 8601 "YYYY-MM-DDTHH:MM:SSZ"
    // Extra root string attributes (provenance: command line, user, host, ...). Names must be
    // non-empty and must not be one of format, schema_version, crsim_version, created.
    std::map<std::string, std::string> attributes;
    // Reading only: "verified" when the file's CRC-32 (docs/hdf5-schema.md) matches, so it is as
    // crsim wrote it; otherwise "unverified: <why>" (a file written before the checksum existed,
    // or one changed or damaged since: it was read in a separate process first, see read_results).
    std::string integrity;
};

// One simulated scenario as stored under /scenarios/<name>/.
struct ResultRecord {
    std::string name;           // group name: non-empty, no '/', not "." or ".."
    std::string model_name;
    std::string model_version;
    std::string scenario_json;  // the full scenario as JSON, given by the caller (stored verbatim)
    std::optional<std::uint64_t> seed;

    // Metadata of the columns of trajectory.states / trajectory.observables.
    std::vector<std::string> state_names, state_units;
    std::vector<std::string> state_dose_units;  // per state; "" = the state takes no doses
    std::vector<std::string> observable_names, observable_units;

    // The full parameter vector the run used, in model order.
    std::vector<std::string> parameter_names, parameter_units;
    std::vector<double> parameter_values;

    SolverOptions solver;
    // times (h), states (T x n), observables (T x n_obs), sensitivities (T x n x m and
    // T x n_obs x m), applied doses and solver statistics.
    Trajectory trajectory;

    // Clinical readouts: numbers (with optional units, keys a subset of `readouts`) and labels.
    std::map<std::string, double> readouts;
    std::map<std::string, std::string> readout_units;
    std::map<std::string, std::string> readout_labels;
};

struct ResultsFile {
    FileMetadata meta;
    std::vector<ResultRecord> scenarios;  // in the order they were written
};

// A record for one run: model metadata from `model`, the parameters and solver settings of
// `problem` (empty problem.parameters = the model defaults), the trajectory moved in. Readouts and
// seed are left for the caller.
ResultRecord make_result_record(const std::string& name, const Model& model, const Problem& problem,
                                Trajectory trajectory, const std::string& scenario_json);

// Checks a set of records as write_results does (InputError naming scenarios[i].<field>).
void validate_results(const std::vector<ResultRecord>& scenarios, const FileMetadata& meta = {});

// Writes `scenarios` to a new file at `path` (replacing an existing file atomically).
void write_results(const std::string& path, const std::vector<ResultRecord>& scenarios,
                   const FileMetadata& meta = {});

// Reads a file written by write_results. Fails with InputError for a missing path, a directory or
// anything but a regular file (a device such as /dev/zero, a pipe); with IoError for a file that is
// not HDF5, not a crsim results file, of another schema version or with inconsistent contents
// (non-finite or decreasing times, a foreign doses table, soft or external links, external or
// virtual datasets, more elements declared than the file can hold). A file whose checksum does not
// verify is read only in a child process, which sends its reading back: libhdf5 never opens such a
// file in the calling process, so a crash, hang or heap corruption of libhdf5 on a damaged file
// becomes an IoError or stays in the child.
ResultsFile read_results(const std::string& path);

namespace testing {
// Test hook: called by write_results at named stages ("created", "scenario:<name>", "closed") with
// the temporary file's path; a hook that throws simulates a failure at that point. Pass nullptr to
// remove it. Not for production use (process-wide, not synchronised with running writers).
using ResultsWriteHook = std::function<void(const std::string& stage, const std::string& tmp_path)>;
void set_results_write_hook(ResultsWriteHook hook);

// Test counters of read_results since the process started: files opened with libhdf5 in this
// process (verified ones) and files read in a child process instead (not verified).
struct ResultsReadCounts {
    std::uint64_t in_process = 0;
    std::uint64_t in_child = 0;
};
ResultsReadCounts results_read_counts();
}  // namespace testing

}  // namespace crsim
