// crsim results files: reading and checking (schema in docs/hdf5-schema.md).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "crsim/errors.hpp"
#include "crsim/hdf5.hpp"
#include "hdf5_io.hpp"
#include "hdf5_schema.hpp"
#include "results_wire.hpp"

namespace fs = std::filesystem;

namespace crsim {

namespace {

std::string squote(const std::string& s) { return "'" + s + "'"; }

// True when the file starts with the HDF5 signature at offset 0, 512, 1024, ... (user block).
bool has_hdf5_signature(const std::string& path) {
    static const char sig[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
    std::ifstream in(path, std::ios::binary);
    char buf[8];
    for (std::streamoff off = 0; in; off = (off == 0 ? 512 : 2 * off)) {
        in.seekg(off);
        if (!in.read(buf, 8)) return false;
        if (std::memcmp(buf, sig, 8) == 0) return true;
    }
    return false;
}

std::string shape_str(const std::vector<hsize_t>& d) {
    std::string s;
    for (hsize_t x : d) s += (s.empty() ? "" : " x ") + std::to_string(x);
    return "(" + s + ")";
}

void check_schema_version(const h5::File& f, hid_t obj, const std::string& obj_path) {
    if (!f.has_attr(obj, "schema_version"))
        f.bad(squote(obj_path) + " has no schema_version attribute");
    const std::int64_t v = f.read_i64(obj, "schema_version", obj_path);
    if (v > kResultsSchemaVersion)
        f.bad("schema version " + std::to_string(v) + " is newer than this crsim (reads " +
              std::to_string(kResultsSchemaVersion) + "); upgrade crsim to read this file");
    if (v < 1)
        f.bad("schema version " + std::to_string(v) +
              " is not a valid crsim schema version (this crsim reads " +
              std::to_string(kResultsSchemaVersion) + ")");
}

// Reads a numeric dataset and checks its shape against `want`.
std::vector<double> read_array(const h5::File& f, hid_t loc, const std::string& name,
                               const std::string& obj_path, const std::vector<hsize_t>& want) {
    h5::Handle d = f.open_dataset(loc, name, obj_path);
    const auto got = f.dims(d.get(), obj_path);
    if (got != want)
        f.bad("dataset " + squote(obj_path) + " has shape " + shape_str(got) + ", expected " +
              shape_str(want) + " from the time grid and its names attribute");
    return f.read_doubles(d.get(), obj_path);
}

// The length of a 1-D dataset.
hsize_t length(const h5::File& f, hid_t loc, const std::string& name, const std::string& obj_path) {
    h5::Handle d = f.open_dataset(loc, name, obj_path);
    const auto dims = f.dims(d.get(), obj_path);
    if (dims.size() != 1) f.bad("dataset " + squote(obj_path) + " is not one-dimensional");
    return dims[0];
}

// The names/units attributes of a dataset (units must match names in length).
void read_columns(const h5::File& f, hid_t loc, const std::string& name, const std::string& obj_path,
                  std::vector<std::string>& names, std::vector<std::string>& units,
                  std::vector<std::string>* dose_units = nullptr) {
    h5::Handle d = f.open_dataset(loc, name, obj_path);
    names = f.read_strings(d.get(), "names", obj_path);
    units = f.read_strings(d.get(), "units", obj_path);
    if (units.size() != names.size())
        f.bad("attribute 'units' of " + squote(obj_path) + " has " + std::to_string(units.size()) +
              " entries for " + std::to_string(names.size()) + " names");
    if (dose_units) {
        *dose_units = f.read_strings(d.get(), "dose_units", obj_path);
        if (dose_units->size() != names.size())
            f.bad("attribute 'dose_units' of " + squote(obj_path) + " has " +
                  std::to_string(dose_units->size()) + " entries for " +
                  std::to_string(names.size()) + " names");
    }
}

// The doses table must be crsim's compound: state (integer), time, amount, rate, end (floats).
// A compound of other fields would otherwise read as zeros (HDF5 converts members by name).
void check_dose_type(const h5::File& f, hid_t dset, const std::string& dp) {
    h5::Handle t(f.check(H5Dget_type(dset), "cannot query dataset '" + dp + "'"), H5Tclose);
    const std::string want = "a compound of state (integer), time, amount, rate, end (floats)";
    if (H5Tget_class(t.get()) != H5T_COMPOUND) f.bad("dataset " + squote(dp) + " is not " + want);
    const char* names[] = {"state", "time", "amount", "rate", "end"};
    if (H5Tget_nmembers(t.get()) != 5) f.bad("dataset " + squote(dp) + " is not " + want);
    for (unsigned i = 0; i < 5; ++i) {
        char* name = H5Tget_member_name(t.get(), i);
        const bool same = name && std::strcmp(name, names[i]) == 0;
        if (name) H5free_memory(name);
        const H5T_class_t cls = H5Tget_member_class(t.get(), i);
        if (!same || cls != (i == 0 ? H5T_INTEGER : H5T_FLOAT))
            f.bad("dataset " + squote(dp) + " is not " + want + " (member " + std::to_string(i) + " differs)");
    }
}

ResultRecord read_scenario(const h5::File& f, hid_t scenarios, const std::string& name) {
    const std::string gp = "/scenarios/" + name;
    h5::Handle g = f.open_group(scenarios, name, gp);
    const hid_t gid = g.get();
    check_schema_version(f, gid, gp);
    ResultRecord r;
    r.name = name;
    r.model_name = f.read_string(gid, "model_name", gp);
    r.model_version = f.read_string(gid, "model_version", gp);
    r.scenario_json = f.read_string(gid, "scenario_json", gp);
    if (f.has_attr(gid, "seed")) r.seed = f.read_u64(gid, "seed", gp);

    Trajectory& tr = r.trajectory;
    read_columns(f, gid, "states", gp + "/states", r.state_names, r.state_units, &r.state_dose_units);
    read_columns(f, gid, "observables", gp + "/observables", r.observable_names, r.observable_units);
    read_columns(f, gid, "parameters", gp + "/parameters", r.parameter_names, r.parameter_units);
    const hsize_t T = length(f, gid, "time", gp + "/time");
    const hsize_t n = r.state_names.size(), n_obs = r.observable_names.size();
    tr.times = read_array(f, gid, "time", gp + "/time", {T});
    for (std::size_t i = 0; i < tr.times.size(); ++i)
        if (!std::isfinite(tr.times[i]) || (i > 0 && tr.times[i] < tr.times[i - 1]))
            f.bad("dataset " + squote(gp + "/time") + " row " + std::to_string(i) + " is " + fmt(tr.times[i]) +
                  ": output times are finite and non-decreasing (h)");
    tr.states = read_array(f, gid, "states", gp + "/states", {T, n});
    tr.observables = read_array(f, gid, "observables", gp + "/observables", {T, n_obs});
    r.parameter_values = read_array(f, gid, "parameters", gp + "/parameters", {r.parameter_names.size()});

    {
        const std::string sp = gp + "/solver";
        h5::Handle s = f.open_group(gid, "solver", sp);
        const std::string method = f.read_string(s.get(), "method", sp);
        try {
            r.solver.method = method_from_string(method);
        } catch (const InputError&) {
            f.bad("unknown solver method " + squote(method) + " in " + squote(sp));
        }
        r.solver.rtol = f.read_double(s.get(), "rtol", sp);
        r.solver.atol = f.read_double(s.get(), "atol", sp);
        r.solver.max_steps = static_cast<long>(f.read_i64(s.get(), "max_steps", sp));
        r.solver.max_step = f.read_double(s.get(), "max_step", sp);
        r.solver.initial_step = f.read_double(s.get(), "initial_step", sp);
        // added within schema 1 (optional: files written before it used the default, on)
        if (f.has_attr(s.get(), "sensitivity_error_control"))
            r.solver.sensitivity_error_control = f.read_i64(s.get(), "sensitivity_error_control", sp) != 0;
    }
    {
        const std::string sp = gp + "/statistics";
        h5::Handle s = f.open_group(gid, "statistics", sp);
        tr.stats.steps = static_cast<long>(f.read_i64(s.get(), "steps", sp));
        tr.stats.rhs_evaluations = static_cast<long>(f.read_i64(s.get(), "rhs_evaluations", sp));
        tr.stats.jacobian_evaluations = static_cast<long>(f.read_i64(s.get(), "jacobian_evaluations", sp));
        if (f.has_attr(s.get(), "rejected_steps"))  // added within schema 1 (optional)
            tr.stats.rejected_steps = static_cast<long>(f.read_i64(s.get(), "rejected_steps", sp));
        tr.stats.restarts = static_cast<long>(f.read_i64(s.get(), "restarts", sp));
        // Steps per method and the switches of method "auto" were added within schema 1
        // (optional): files written before them took every step with their one method.
        if (f.has_attr(s.get(), "dopri5_steps") && f.has_attr(s.get(), "rosenbrock4_steps")) {
            tr.stats.dopri5_steps = static_cast<long>(f.read_i64(s.get(), "dopri5_steps", sp));
            tr.stats.rosenbrock4_steps = static_cast<long>(f.read_i64(s.get(), "rosenbrock4_steps", sp));
        } else if (r.solver.method == Method::Rosenbrock4) {
            tr.stats.rosenbrock4_steps = tr.stats.steps;
        } else {
            tr.stats.dopri5_steps = tr.stats.steps;
        }
        if (f.has_attr(s.get(), "switch_times") && f.has_attr(s.get(), "switch_to")) {
            const std::vector<double> times = f.read_doubles_attr(s.get(), "switch_times", sp);
            const std::vector<std::string> to = f.read_strings(s.get(), "switch_to", sp);
            if (to.size() != times.size())
                f.bad("attributes 'switch_times' and 'switch_to' of " + squote(sp) + " differ in length (" +
                      std::to_string(times.size()) + " and " + std::to_string(to.size()) + ")");
            for (std::size_t i = 0; i < times.size(); ++i) {
                MethodSwitch w;
                w.time = times[i];
                if (to[i] == "rosenbrock4")
                    w.to = Method::Rosenbrock4;
                else if (to[i] == "dopri5")
                    w.to = Method::Dopri5;
                else
                    f.bad("attribute 'switch_to' of " + squote(sp) + " entry " + std::to_string(i) + " is " +
                          squote(to[i]) + ", not 'rosenbrock4' or 'dopri5'");
                tr.stats.switches.push_back(w);
            }
        }
    }
    {
        const std::string dp = gp + "/doses";
        h5::Handle d = f.open_dataset(gid, "doses", dp);
        const auto dims = f.dims(d.get(), dp);
        if (dims.size() != 1) f.bad("dataset " + squote(dp) + " is not one-dimensional");
        check_dose_type(f, d.get(), dp);
        f.check_elements(dims[0] * 5, dp);
        std::vector<h5::DoseRow> rows(static_cast<std::size_t>(dims[0]));
        auto types = h5::dose_types();
        if (!rows.empty()) f.read_compound(d.get(), types.second.get(), rows.data(), dp);
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const auto& row = rows[i];
            if (row.state < 0 || static_cast<hsize_t>(row.state) >= n)
                f.bad(squote(dp) + " row " + std::to_string(i) + " names state " +
                      std::to_string(row.state) + ", outside [0, " + std::to_string(n) + ")");
            if (!std::isfinite(row.time) || !std::isfinite(row.amount) || !std::isfinite(row.rate) ||
                !std::isfinite(row.end))
                f.bad(squote(dp) + " row " + std::to_string(i) +
                      " has a non-finite time, amount, rate or end (all are finite numbers)");
            DoseEvent e;
            e.state = row.state;
            e.time = row.time;
            e.amount = row.amount;
            e.rate = row.rate;
            e.end = row.end;
            tr.doses.push_back(e);
        }
    }
    if (f.has_link(gid, "sensitivities")) {
        const std::string sp = gp + "/sensitivities";
        h5::Handle s = f.open_group(gid, "sensitivities", sp);
        tr.sensitivity_names = f.read_strings(s.get(), "names", sp);
        const hsize_t m = tr.sensitivity_names.size();
        tr.state_sensitivities = read_array(f, s.get(), "states", sp + "/states", {T, n, m});
        tr.observable_sensitivities =
            read_array(f, s.get(), "observables", sp + "/observables", {T, n_obs, m});
    }
    {
        const std::string rp = gp + "/readouts";
        h5::Handle s = f.open_group(gid, "readouts", rp);
        for (const auto& a : f.attr_names(s.get(), rp)) {
            const H5T_class_t cls = f.attr_class(s.get(), a, rp);
            if (cls == H5T_STRING)
                r.readout_labels[a] = f.read_string(s.get(), a, rp);
            else if (cls == H5T_FLOAT || cls == H5T_INTEGER)
                r.readouts[a] = f.read_double(s.get(), a, rp);
            else
                f.bad("readout " + squote(a) + " of " + squote(rp) + " is neither a number nor text");
        }
        if (f.has_link(s.get(), "units")) {
            const std::string up = rp + "/units";
            h5::Handle u = f.open_group(s.get(), "units", up);
            for (const auto& a : f.attr_names(u.get(), up))
                r.readout_units[a] = f.read_string(u.get(), a, up);
        }
    }
    return r;
}


// read_checked calls in this process, and files read in a child process instead (testing::).
std::atomic<std::uint64_t> g_reads_in_process{0}, g_reads_in_child{0};

// What the user block says about the file: written by crsim and unchanged since (checksum
// verified), or not known to be (no user block: a file written before the check existed; a
// mismatch: changed or damaged after writing).
struct Integrity {
    bool verified = false;
    std::string why;  // when not verified
};

Integrity check_integrity(const std::string& path, std::uintmax_t size) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> head(h5::kUserBlockSize + 1, '\0');
    if (!in.read(head.data(), static_cast<std::streamsize>(h5::kUserBlockSize)))
        return {false, "it has no crsim checksum"};
    const std::string magic = std::string(h5::kUserBlockMagic) + "\n";
    if (std::strncmp(head.data(), magic.c_str(), magic.size()) != 0) return {false, "it has no crsim checksum"};
    const std::size_t used = std::strlen(head.data());  // the rest of the user block is NUL
    for (std::size_t i = used; i < h5::kUserBlockSize; ++i)
        if (head[i] != '\0') return {false, "its user block was changed"};
    unsigned long crc_stored = 0;
    unsigned long long size_stored = 0;
    if (std::sscanf(head.data() + magic.size(), "crc32 %8lx size %llu", &crc_stored, &size_stored) != 2)
        return {false, "its crsim checksum is unreadable"};
    if (size_stored != size)
        return {false, "its size (" + std::to_string(size) + " bytes) differs from the size written (" +
                           std::to_string(size_stored) + ")"};
    uLong crc = ::crc32(0L, Z_NULL, 0);
    std::vector<char> buf(1 << 16);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        crc = ::crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(in.gcount()));
    }
    if (crc != crc_stored) {
        char msg[96];
        std::snprintf(msg, sizeof msg, "its CRC-32 is %08lx, not %08lx as written", static_cast<unsigned long>(crc),
                      crc_stored);
        return {false, msg};
    }
    return {true, ""};
}

ResultsFile read_checked(const std::string& path, std::uintmax_t size) {
    ++g_reads_in_process;  // in a child, the child's own copy
    h5::File f{path, {}};
    // Never more elements than the file could hold: deflate expands at most 1032-fold (zlib
    // technical details), so a 42 KB file declaring 2^40 rows is refused before any allocation.
    f.max_elements = std::min<std::uintmax_t>((size * 1100 + (1u << 20)) / 8, h5::kMaxReadElements);
    h5::Handle fapl(f.check(H5Pcreate(H5P_FILE_ACCESS), "cannot create a property list"), H5Pclose);
    // STRONG: closing the file closes whatever a failed read left open inside it.
    f.check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "cannot set close degree of", path);
    f.handle = h5::Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
    if (f.id() < 0) {
        if (!has_hdf5_signature(path)) {
            H5Eclear2(H5E_DEFAULT);
            throw IoError(path, path + " is not a crsim results file (not an HDF5 file)");
        }
        f.fail("cannot open the file");
    }
    const hid_t root = f.id();
    if (!f.has_attr(root, "format"))
        throw IoError(path, path + " is not a crsim results file (no format attribute)");
    if (f.attr_class(root, "format", "/") != H5T_STRING ||
        f.read_string(root, "format", "/") != kResultsFormat)
        throw IoError(path, path + " is not a crsim results file (format attribute is not '" +
                                std::string(kResultsFormat) + "')");
    check_schema_version(f, root, "/");

    ResultsFile out;
    out.meta.schema_version = static_cast<int>(f.read_i64(root, "schema_version", "/"));
    out.meta.crsim_version = f.read_string(root, "crsim_version", "/");
    out.meta.created = f.read_string(root, "created", "/");
    const std::set<std::string> reserved(std::begin(h5::kReservedRoot), std::end(h5::kReservedRoot));
    for (const auto& a : f.attr_names(root, "/"))
        if (!reserved.count(a) && f.attr_class(root, a, "/") == H5T_STRING)
            out.meta.attributes[a] = f.read_string(root, a, "/");

    h5::Handle sc = f.open_group(root, "scenarios", "/scenarios");
    for (const auto& name : f.link_names(sc.get(), "/scenarios"))
        out.scenarios.push_back(read_scenario(f, sc.get(), name));
    return out;
}

// Writes all of `data` to `fd` (a pipe); false when the reader went away.
bool write_all(int fd, const char* data, std::size_t n) {
    for (std::size_t off = 0; off < n;) {
        const ssize_t w = ::write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        off += static_cast<std::size_t>(w);
    }
    return true;
}

// A file not known to be intact is read only in a child process: libhdf5 1.10 can crash on a
// damaged file (variable-length strings live in its unchecksummed global heap), can corrupt the heap
// without crashing at once (a later, unrelated allocation aborts), and leaks on its error paths;
// none of that may reach the caller. The child sends back either its reading, serialised
// (results_wire.hpp), or a clean error's message; the parent never opens the file with libhdf5.
// Called with h5::mutex() held (the child inherits it, held).
ResultsFile read_in_child(const std::string& path, std::uintmax_t size, const std::string& why) {
    const std::string damaged = path + " is damaged or not a crsim results file: " + why;
    int fds[2];
    // close-on-exec: a program another thread starts meanwhile must not hold the pipe open
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw IoError(path, damaged + ", and crsim could not start the separate process that reads such files (" +
                                std::strerror(errno) + "); crsim does not read it");
    const pid_t child = ::fork();
    if (child < 0) {
        const int err = errno;
        ::close(fds[0]);
        ::close(fds[1]);
        throw IoError(path, damaged + ", and crsim could not start the separate process that reads such files (" +
                                std::strerror(err) + "); crsim does not read it");
    }
    if (child == 0) {
        for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) ::signal(sig, SIG_DFL);  // die plainly
        ::signal(SIGPIPE, SIG_DFL);  // the parent gave up: end quietly
        ::close(fds[0]);
        int code = 0;
        std::string answer;
        try {
            ResultsFile out = read_checked(path, size);
            out.meta.integrity = "unverified: " + why;
            answer = "R" + wire::encode(out);
        } catch (const std::exception& e) {
            code = 1;
            answer = std::string("E") + e.what();
        } catch (...) {
            code = 1;
            answer = "E" + path + ": cannot read the file (unknown error)";
        }
        if (!write_all(fds[1], answer.data(), answer.size())) code = 2;
        ::_exit(code);
    }
    ::close(fds[1]);
    ++g_reads_in_child;
    const double limit_s = 30.0 + static_cast<double>(size) / 20e6;  // 20 MB/s at the least
    const auto t0 = std::chrono::steady_clock::now();
    std::string answer;
    std::vector<char> buf(1 << 16);
    bool timed_out = false;
    for (;;) {
        pollfd p{fds[0], POLLIN, 0};
        const int r = ::poll(&p, 1, 50);
        if (r > 0) {
            const ssize_t n = ::read(fds[0], buf.data(), buf.size());
            if (n > 0) {
                answer.append(buf.data(), static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0 || errno != EINTR) break;  // EOF: the child is done
        } else if (r < 0 && errno != EINTR) {
            break;
        }
        if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > limit_s) {
            ::kill(child, SIGKILL);
            timed_out = true;
            break;
        }
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out)
        throw IoError(path, damaged + ", and reading it did not finish within " + fmt(limit_s) + " s");
    if (WIFSIGNALED(status))
        throw IoError(path, path + " is damaged: " + why + ", and reading it crashed the HDF5 library (signal " +
                                std::to_string(WTERMSIG(status)) +
                                " in a separate test process); crsim does not read it");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !answer.empty() && answer[0] == 'R')
        return wire::decode(answer.substr(1), path);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 1 && answer.size() > 1 && answer[0] == 'E')
        throw IoError(path, answer.substr(1));
    // e.g. a sanitizer's report in the child
    throw IoError(path, path + " is damaged: " + why + ", and reading it failed in a separate test process (exit status " +
                            std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "); crsim does not read it");
}

}  // namespace

ResultsFile read_results(const std::string& path) {
    if (path.empty()) throw InputError("path", "''", "the path of a crsim results file");
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw InputError("path", squote(path), "an existing crsim results file (no such file)");
    if (fs::is_directory(path, ec))
        throw InputError("path", squote(path), "a crsim results file (this is a directory)");
    if (!fs::is_regular_file(path, ec))
        throw InputError("path", squote(path),
                         "a crsim results file (this is not a regular file but a device, pipe or socket)");
    const std::uintmax_t size = fs::file_size(path, ec);
    if (ec) throw IoError(path, path + ": cannot read the file size: " + ec.message());

    std::lock_guard<std::mutex> lock(h5::mutex());
    h5::ErrorSilencer silence;
    const Integrity integrity = check_integrity(path, size);
    if (!integrity.verified) return read_in_child(path, size, integrity.why);
    ResultsFile out = read_checked(path, size);
    out.meta.integrity = "verified";
    return out;
}

namespace testing {
ResultsReadCounts results_read_counts() { return {g_reads_in_process.load(), g_reads_in_child.load()}; }
}  // namespace testing

}  // namespace crsim
