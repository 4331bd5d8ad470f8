// crsim results files: reading and checking (schema in docs/hdf5-schema.md).
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "crsim/errors.hpp"
#include "crsim/hdf5.hpp"
#include "hdf5_io.hpp"
#include "hdf5_schema.hpp"

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
        std::vector<h5::DoseRow> rows(static_cast<std::size_t>(dims[0]));
        auto types = h5::dose_types();
        if (!rows.empty()) f.read_compound(d.get(), types.second.get(), rows.data(), dp);
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const auto& row = rows[i];
            if (row.state < 0 || static_cast<hsize_t>(row.state) >= n)
                f.bad(squote(dp) + " row " + std::to_string(i) + " names state " +
                      std::to_string(row.state) + ", outside [0, " + std::to_string(n) + ")");
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

}  // namespace

ResultsFile read_results(const std::string& path) {
    if (path.empty()) throw InputError("path", "''", "the path of a crsim results file");
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw InputError("path", squote(path), "an existing crsim results file (no such file)");
    if (fs::is_directory(path, ec))
        throw InputError("path", squote(path), "a crsim results file (this is a directory)");

    std::lock_guard<std::mutex> lock(h5::mutex());
    h5::ErrorSilencer silence;
    h5::File f{path, {}};
    f.handle = h5::Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
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

}  // namespace crsim
