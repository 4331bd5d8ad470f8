// crsim results files: the schema (docs/hdf5-schema.md), atomic writing and checked reading.
#include "crsim/hdf5.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "crsim/errors.hpp"
#include "hdf5_io.hpp"
#include "hdf5_schema.hpp"

#ifndef CRSIM_VERSION
#error "CRSIM_VERSION must be defined by the build (CMake project version)"
#endif

namespace fs = std::filesystem;

namespace crsim {

std::string version() { return CRSIM_VERSION; }

namespace testing {
namespace {
ResultsWriteHook& hook() {
    static ResultsWriteHook h;
    return h;
}
}  // namespace
void set_results_write_hook(ResultsWriteHook h) { hook() = std::move(h); }
}  // namespace testing

std::pair<h5::Handle, h5::Handle> h5::dose_types() {
    Handle mem(H5Tcreate(H5T_COMPOUND, sizeof(DoseRow)), H5Tclose);
    Handle file(H5Tcreate(H5T_COMPOUND, 4 + 4 * 8), H5Tclose);
    const char* names[] = {"time", "amount", "rate", "end"};
    const std::size_t offsets[] = {HOFFSET(DoseRow, time), HOFFSET(DoseRow, amount),
                                   HOFFSET(DoseRow, rate), HOFFSET(DoseRow, end)};
    bool ok = mem.get() >= 0 && file.get() >= 0 &&
              H5Tinsert(mem.get(), "state", HOFFSET(DoseRow, state), H5T_NATIVE_INT32) >= 0 &&
              H5Tinsert(file.get(), "state", 0, H5T_STD_I32LE) >= 0;
    for (int i = 0; i < 4 && ok; ++i)
        ok = H5Tinsert(mem.get(), names[i], offsets[i], H5T_NATIVE_DOUBLE) >= 0 &&
             H5Tinsert(file.get(), names[i], 4 + 8 * static_cast<std::size_t>(i), H5T_IEEE_F64LE) >= 0;
    if (!ok) throw IoError("", "cannot create the HDF5 type of the dose table");
    return {std::move(file), std::move(mem)};
}

namespace {

std::string now_utc_iso() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string squote(const std::string& s) { return "'" + s + "'"; }

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

// --- validation ------------------------------------------------------------------------------------

void check_name(const std::string& field, const std::string& name, const char* what) {
    if (name.empty() || has_nul(name))
        throw InputError(field, squote(name), std::string("a non-empty ") + what + " without NUL");
}

void check_size(const std::string& field, std::size_t got, std::size_t want, const std::string& why) {
    if (got != want)
        throw InputError(field, std::to_string(got) + " elements", std::to_string(want) + " (" + why + ")");
}

void validate_record(const ResultRecord& r, const std::string& f) {
    const std::string& name = r.name;
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
        has_nul(name))
        throw InputError(f + ".name", squote(name),
                         "a non-empty HDF5 group name without '/' or NUL, not '.' or '..'");
    check_name(f + ".model_name", r.model_name, "model name");
    if (r.scenario_json.empty() || has_nul(r.scenario_json))
        throw InputError(f + ".scenario_json", "''", "the scenario as JSON text (at least \"{}\")");
    const std::size_t n = r.state_names.size(), n_obs = r.observable_names.size();
    const std::size_t T = r.trajectory.times.size(), m = r.trajectory.sensitivity_names.size();
    if (n == 0) throw InputError(f + ".state_names", "(empty)", "at least one state");
    check_size(f + ".state_units", r.state_units.size(), n, "one per state");
    check_size(f + ".state_dose_units", r.state_dose_units.size(), n, "one per state");
    check_size(f + ".observable_units", r.observable_units.size(), n_obs, "one per observable");
    check_size(f + ".parameter_units", r.parameter_units.size(), r.parameter_names.size(),
               "one per parameter");
    check_size(f + ".parameter_values", r.parameter_values.size(), r.parameter_names.size(),
               "one per parameter");
    for (std::size_t i = 0; i < n; ++i)
        check_name(f + ".state_names[" + std::to_string(i) + "]", r.state_names[i], "name");
    for (std::size_t i = 0; i < n_obs; ++i)
        check_name(f + ".observable_names[" + std::to_string(i) + "]", r.observable_names[i], "name");
    for (std::size_t i = 0; i < r.parameter_names.size(); ++i)
        check_name(f + ".parameter_names[" + std::to_string(i) + "]", r.parameter_names[i], "name");
    const Trajectory& tr = r.trajectory;
    for (std::size_t i = 0; i < T; ++i)
        if (!std::isfinite(tr.times[i]) || (i > 0 && tr.times[i] < tr.times[i - 1]))
            throw InputError(f + ".trajectory.times[" + std::to_string(i) + "]", fmt(tr.times[i]),
                             "finite, non-decreasing times (h)");
    check_size(f + ".trajectory.states", tr.states.size(), T * n, "times x states");
    check_size(f + ".trajectory.observables", tr.observables.size(), T * n_obs, "times x observables");
    check_size(f + ".trajectory.state_sensitivities", tr.state_sensitivities.size(), T * n * m,
               "times x states x sensitivity_names");
    check_size(f + ".trajectory.observable_sensitivities", tr.observable_sensitivities.size(),
               T * n_obs * m, "times x observables x sensitivity_names");
    for (std::size_t k = 0; k < m; ++k)
        check_name(f + ".trajectory.sensitivity_names[" + std::to_string(k) + "]",
                   tr.sensitivity_names[k], "name");
    for (std::size_t i = 0; i < tr.doses.size(); ++i) {
        const DoseEvent& d = tr.doses[i];
        if (d.state < 0 || static_cast<std::size_t>(d.state) >= n)
            throw InputError(f + ".trajectory.doses[" + std::to_string(i) + "].state",
                             std::to_string(d.state), "a state index in [0, " + std::to_string(n) + ")");
    }
    for (const auto& kv : r.readouts) check_name(f + ".readouts", kv.first, "readout name");
    for (const auto& kv : r.readout_labels) {
        check_name(f + ".readout_labels", kv.first, "readout name");
        if (r.readouts.count(kv.first))
            throw InputError(f + ".readout_labels", squote(kv.first),
                             "a name not also used in readouts");
        if (has_nul(kv.second)) throw InputError(f + ".readout_labels." + kv.first, "(contains NUL)", "text");
    }
    for (const auto& kv : r.readout_units)
        if (!r.readouts.count(kv.first))
            throw InputError(f + ".readout_units", squote(kv.first), "the name of a numeric readout");
}

}  // namespace

void validate_results(const std::vector<ResultRecord>& scenarios, const FileMetadata& meta) {
    if (scenarios.empty()) throw InputError("scenarios", "(empty)", "at least one scenario");
    static const std::regex iso(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)");
    if (!meta.created.empty() && !std::regex_match(meta.created, iso))
        throw InputError("meta.created", squote(meta.created),
                         "empty (= now) or UTC ISO 8601 'YYYY-MM-DDTHH:MM:SSZ'");
    for (const auto& kv : meta.attributes) {
        check_name("meta.attributes", kv.first, "attribute name");
        for (const char* r : h5::kReservedRoot)
            if (kv.first == r)
                throw InputError("meta.attributes", squote(kv.first),
                                 "a name other than format, schema_version, crsim_version, created");
    }
    std::map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < scenarios.size(); ++i) {
        const std::string f = "scenarios[" + std::to_string(i) + "]";
        validate_record(scenarios[i], f);
        const auto ins = seen.emplace(scenarios[i].name, i);
        if (!ins.second)
            throw InputError(f + ".name", squote(scenarios[i].name),
                             "a unique name (already used by scenarios[" +
                                 std::to_string(ins.first->second) + "])");
    }
}

ResultRecord make_result_record(const std::string& name, const Model& model, const Problem& problem,
                                Trajectory trajectory, const std::string& scenario_json) {
    const ModelInfo& info = model.info();
    ResultRecord r;
    r.name = name;
    r.model_name = info.name;
    r.model_version = info.version;
    r.scenario_json = scenario_json;
    for (const auto& s : info.states) {
        r.state_names.push_back(s.name);
        r.state_units.push_back(s.unit);
        r.state_dose_units.push_back(s.dose_unit);
    }
    for (const auto& o : info.observables) {
        r.observable_names.push_back(o.name);
        r.observable_units.push_back(o.unit);
    }
    r.parameter_values = problem.parameters.empty() ? model.default_parameters() : problem.parameters;
    for (const auto& p : info.parameters) {
        r.parameter_names.push_back(p.name);
        r.parameter_units.push_back(p.unit);
    }
    r.solver = problem.options;
    r.trajectory = std::move(trajectory);
    return r;
}

// --- writing ---------------------------------------------------------------------------------------

namespace {

void write_scenario(const h5::File& f, hid_t scenarios, const ResultRecord& r) {
    const std::string gp = "/scenarios/" + r.name;
    h5::Handle g = f.create_group(scenarios, r.name, gp);
    const hid_t gid = g.get();
    f.attr_i64(gid, "schema_version", kResultsSchemaVersion);
    f.attr(gid, "crsim_version", version());
    f.attr(gid, "model_name", r.model_name);
    f.attr(gid, "model_version", r.model_version);
    f.attr(gid, "scenario_json", r.scenario_json);
    if (r.seed) f.attr_u64(gid, "seed", *r.seed);

    const Trajectory& tr = r.trajectory;
    const hsize_t T = tr.times.size(), n = r.state_names.size(), n_obs = r.observable_names.size();
    const hsize_t m = tr.sensitivity_names.size();
    {
        h5::Handle d = f.dataset(gid, "time", gp + "/time", tr.times.data(), {T});
        f.attr(d.get(), "unit", std::string("h"));
    }
    {
        h5::Handle d = f.dataset(gid, "states", gp + "/states", tr.states.data(), {T, n});
        f.attr(d.get(), "names", r.state_names);
        f.attr(d.get(), "units", r.state_units);
        f.attr(d.get(), "dose_units", r.state_dose_units);
    }
    {
        h5::Handle d = f.dataset(gid, "observables", gp + "/observables", tr.observables.data(), {T, n_obs});
        f.attr(d.get(), "names", r.observable_names);
        f.attr(d.get(), "units", r.observable_units);
    }
    {
        const hsize_t np = r.parameter_values.size();
        h5::Handle d = f.dataset(gid, "parameters", gp + "/parameters", r.parameter_values.data(), {np});
        f.attr(d.get(), "names", r.parameter_names);
        f.attr(d.get(), "units", r.parameter_units);
    }
    {
        h5::Handle s = f.create_group(gid, "solver", gp + "/solver");
        f.attr(s.get(), "method", to_string(r.solver.method));
        f.attr(s.get(), "rtol", r.solver.rtol);
        f.attr(s.get(), "atol", r.solver.atol);
        f.attr_i64(s.get(), "max_steps", r.solver.max_steps);
        f.attr(s.get(), "max_step", r.solver.max_step);
        f.attr(s.get(), "initial_step", r.solver.initial_step);
        f.attr_i64(s.get(), "sensitivity_error_control", r.solver.sensitivity_error_control ? 1 : 0);
    }
    {
        h5::Handle s = f.create_group(gid, "statistics", gp + "/statistics");
        f.attr_i64(s.get(), "steps", tr.stats.steps);
        f.attr_i64(s.get(), "rhs_evaluations", tr.stats.rhs_evaluations);
        f.attr_i64(s.get(), "jacobian_evaluations", tr.stats.jacobian_evaluations);
        f.attr_i64(s.get(), "rejected_steps", tr.stats.rejected_steps);
        f.attr_i64(s.get(), "restarts", tr.stats.restarts);
        f.attr(s.get(), "method_used", method_used(r.solver.method, tr.stats));
        f.attr_i64(s.get(), "dopri5_steps", tr.stats.dopri5_steps);
        f.attr_i64(s.get(), "rosenbrock4_steps", tr.stats.rosenbrock4_steps);
        std::vector<double> times;
        std::vector<std::string> to;
        for (const MethodSwitch& w : tr.stats.switches) {
            times.push_back(w.time);
            to.push_back(to_string(w.to));
        }
        f.attr(s.get(), "switch_times", times);
        f.attr(s.get(), "switch_to", to);
    }
    {
        std::vector<h5::DoseRow> rows;
        for (const DoseEvent& e : tr.doses)
            rows.push_back({static_cast<std::int32_t>(e.state), e.time, e.amount, e.rate, e.end});
        auto types = h5::dose_types();
        h5::Handle d = f.compound_dataset(gid, "doses", gp + "/doses", types.first.get(),
                                          types.second.get(), rows.data(), rows.size());
        f.attr(d.get(), "time_unit", std::string("h"));
        f.attr(d.get(), "end_unit", std::string("h"));
        f.attr(d.get(), "amount_unit", std::string("dose unit of the state (states.attrs['dose_units'])"));
        f.attr(d.get(), "rate_unit", std::string("dose unit of the state per h (0 = bolus)"));
    }
    if (m > 0) {
        h5::Handle s = f.create_group(gid, "sensitivities", gp + "/sensitivities");
        f.attr(s.get(), "names", tr.sensitivity_names);
        f.dataset(s.get(), "states", gp + "/sensitivities/states", tr.state_sensitivities.data(),
                  {T, n, m});
        f.dataset(s.get(), "observables", gp + "/sensitivities/observables",
                  tr.observable_sensitivities.data(), {T, n_obs, m});
    }
    {
        h5::Handle s = f.create_group(gid, "readouts", gp + "/readouts");
        for (const auto& kv : r.readouts) f.attr(s.get(), kv.first, kv.second);
        for (const auto& kv : r.readout_labels) f.attr(s.get(), kv.first, kv.second);
        h5::Handle u = f.create_group(s.get(), "units", gp + "/readouts/units");
        for (const auto& kv : r.readout_units) f.attr(u.get(), kv.first, kv.second);
    }
}

// The temporary file: created exclusively, removed unless released.
struct TempFile {
    std::string path;
    int fd = -1;
    bool keep = false;
    ~TempFile() {
        if (fd >= 0) ::close(fd);
        if (!keep) std::remove(path.c_str());
    }
};

std::string temp_name(const std::string& path) {
    std::random_device rd;
    std::ostringstream os;
    os << path << ".tmp-" << ::getpid() << "-" << std::hex << rd() << rd();
    return os.str();
}

// Flushes a directory to stable storage; returns false on failure.
bool sync_path(const std::string& path, bool directory) {
    const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

void check_output_path(const std::string& path) {
    if (path.empty()) throw InputError("path", "''", "the path of the results file to write");
    const fs::path p(path);
    const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw InputError("path", squote(path),
                         "a file in an existing directory (directory " + squote(dir.string()) +
                             " does not exist)");
    if (fs::is_directory(p, ec))
        throw InputError("path", squote(path), "a file name (this is an existing directory)");
}

}  // namespace

namespace {

// Writes all of `data` to fd (partial writes and EINTR retried); false with errno set on failure.
bool write_all(int fd, const unsigned char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t w = ::write(fd, data, size);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += w;
        size -= static_cast<std::size_t>(w);
    }
    return true;
}

// Removes "<path>.tmp-<pid>-<hex>" files left by writers that were killed: the pid is not a live
// process and the file is older than 10 minutes (so that a writer on another host sharing the
// directory is not disturbed while it works). Best effort: failures are ignored.
void remove_stale_temporaries(const std::string& path) {
    const fs::path p(path);
    const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    const std::string prefix = p.filename().string() + ".tmp-";
    std::error_code ec;
    const auto now = fs::file_time_type::clock::now();
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.compare(0, prefix.size(), prefix) != 0) continue;
        const std::string rest = name.substr(prefix.size());
        const std::size_t dash = rest.find('-');
        if (dash == 0 || dash == std::string::npos ||
            rest.find_first_not_of("0123456789") != dash ||
            rest.find_first_not_of("0123456789abcdef", dash + 1) != std::string::npos)
            continue;
        const long pid = std::strtol(rest.substr(0, dash).c_str(), nullptr, 10);
        if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
        std::error_code e2;
        const auto mtime = fs::last_write_time(it->path(), e2);
        if (e2 || now - mtime < std::chrono::minutes(10)) continue;
        fs::remove(it->path(), e2);
    }
}

}  // namespace

void h5::stamp_user_block(std::vector<unsigned char>& image) {
    const uLong crc = ::crc32(::crc32(0L, Z_NULL, 0), image.data() + kUserBlockSize,
                                   static_cast<uInt>(image.size() - kUserBlockSize));
    char head[kUserBlockSize] = {};
    std::snprintf(head, sizeof head, "%s\ncrc32 %08lx size %llu\n", kUserBlockMagic,
                  static_cast<unsigned long>(crc), static_cast<unsigned long long>(image.size()));
    std::copy(head, head + kUserBlockSize, image.begin());
}

// The file is built in memory (HDF5 core driver, no backing store) and written to the temporary
// file with plain write(2) calls: a full disk or a file-size limit fails in crsim's own code, never
// inside libhdf5, whose state (open ids, cached metadata) therefore never refers to a file that
// is gone (it used to crash at exit after a failed close). The first 512 bytes, HDF5's user block,
// hold a CRC-32 of the rest (docs/hdf5-schema.md), which the reader checks before libhdf5 sees it.
void write_results(const std::string& path, const std::vector<ResultRecord>& scenarios,
                   const FileMetadata& meta) {
    check_output_path(path);
    validate_results(scenarios, meta);
    std::lock_guard<std::mutex> lock(h5::mutex());
    h5::ErrorSilencer silence;
    const auto& hook = testing::hook();

    remove_stale_temporaries(path);
    TempFile tmp{temp_name(path)};
    tmp.fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (tmp.fd < 0)
        throw IoError(path, path + ": cannot create the temporary file " + squote(tmp.path) + ": " +
                                std::strerror(errno));
    if (hook) hook("created", tmp.path);
    std::vector<unsigned char> image;
    {
        h5::File f{path, {}};
        h5::Handle fapl(f.check(H5Pcreate(H5P_FILE_ACCESS), "cannot create a property list"), H5Pclose);
        // SEMI: closing fails if an object is still open, so a successful close means all written.
        f.check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_SEMI), "cannot set close degree of", path);
        // HDF5 1.8 object format (objects track their attributes' creation order, hdf5_io.cpp):
        // dense attribute storage, so attributes (e.g. the names of thousands of states) may
        // exceed the 64 KiB object-header limit; readable by HDF5 >= 1.8. The superblock stays
        // version 0: libhdf5 1.10 clears a status flag of the in-memory image without updating
        // the checksum of a version 2 superblock, which then no longer opens.
        f.check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_EARLIEST, H5F_LIBVER_V18),
                "cannot set the file format version of", path);
        f.check(H5Pset_fapl_core(fapl.get(), 1 << 20, 0), "cannot set the in-memory driver for", path);
        h5::Handle fcpl(f.check(H5Pcreate(H5P_FILE_CREATE), "cannot create a property list"), H5Pclose);
        f.check(H5Pset_userblock(fcpl.get(), h5::kUserBlockSize), "cannot set the user block of", path);
        f.check(H5Pset_attr_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED), "cannot set attribute order of", path);
        f.handle = h5::Handle(H5Fcreate(tmp.path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), H5Fclose);
        if (f.id() < 0) f.fail("cannot create the file in memory");
        const hid_t root = f.id();
        f.attr(root, "format", std::string(kResultsFormat));
        f.attr_i64(root, "schema_version", kResultsSchemaVersion);
        f.attr(root, "crsim_version", version());
        f.attr(root, "created", meta.created.empty() ? now_utc_iso() : meta.created);
        for (const auto& kv : meta.attributes) f.attr(root, kv.first, kv.second);
        {
            h5::Handle g = f.create_group(root, "scenarios", "/scenarios", true);
            for (const auto& r : scenarios) {
                write_scenario(f, g.get(), r);
                if (hook) hook("scenario:" + r.name, tmp.path);
            }
        }
        f.check(H5Fflush(root, H5F_SCOPE_LOCAL), "cannot flush", path);
        // The image starts at the superblock (which records the user block's size as its base
        // address); the user block goes in front of it.
        const ssize_t size = H5Fget_file_image(root, nullptr, 0);
        if (size <= 0) f.fail("cannot get the file image");
        image.resize(h5::kUserBlockSize + static_cast<std::size_t>(size));
        if (H5Fget_file_image(root, image.data() + h5::kUserBlockSize, static_cast<std::size_t>(size)) != size)
            f.fail("cannot get the file image");
        if (f.handle.close() < 0) f.fail("cannot close the file in memory");
    }
    h5::stamp_user_block(image);
    if (!write_all(tmp.fd, image.data(), image.size()))
        throw IoError(path, path + ": cannot write the temporary file " + squote(tmp.path) + ": " +
                                std::strerror(errno));
    if (::fsync(tmp.fd) != 0)
        throw IoError(path, path + ": cannot flush the temporary file " + squote(tmp.path) +
                                " to disk: " + std::strerror(errno));
    const int fd = tmp.fd;
    tmp.fd = -1;
    if (::close(fd) != 0)
        throw IoError(path, path + ": cannot close the temporary file " + squote(tmp.path) + ": " +
                                std::strerror(errno));
    if (hook) hook("closed", tmp.path);
    std::error_code ec;
    fs::rename(tmp.path, path, ec);
    if (ec)
        throw IoError(path, path + ": cannot rename the temporary file " + squote(tmp.path) +
                                " to the final name: " + ec.message());
    tmp.keep = true;
    const fs::path p(path);
    sync_path(p.has_parent_path() ? p.parent_path().string() : ".", true);  // best effort
}

}  // namespace crsim
