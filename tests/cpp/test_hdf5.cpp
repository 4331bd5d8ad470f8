// Results files: round trip of a simulated pk2_mm trajectory (bitwise), several scenarios per file,
// rejection of foreign files and other schema versions with the documented messages, argument
// errors, and atomic writing (a failing write leaves no file under the final name, an existing file
// untouched and no temporary file behind).
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"
#include "crsim/errors.hpp"
#include "crsim/hdf5.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/simulate.hpp"

using namespace crsim;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temporary directory, removed with its contents.
struct TempDir {
    fs::path path;
    TempDir() {
        std::random_device rd;
        path = fs::temp_directory_path() / ("crsim-test-hdf5-" + std::to_string(rd()) + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
    std::vector<std::string> entries() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }
};

// Clears the test hook at the end of a test even when it fails.
struct HookGuard {
    ~HookGuard() { testing::set_results_write_hook(nullptr); }
};

bool bitwise_equal(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() &&
           (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(no exception)";
}

// pk2_mm (tocilizumab-like defaults): 8 mg/kg IV over 1 h capped at 800 mg for a 70 kg patient,
// then (optionally) a 162 mg bolus at 72 h; outputs every 0.5 h over 2 weeks; sensitivities to Vmax
// and to the initial central amount. vmax > 0 overrides the default Vmax (mg/h).
ResultRecord simulated_record(const std::string& name, Method method = Method::Rosenbrock4,
                              double vmax = 0.0, bool second_dose = true) {
    const Model& m = *models::builtin_registry().get("pk2_mm");
    Problem pr;
    if (vmax > 0.0) pr.parameters = m.parameters_with({{"Vmax", vmax}});
    pr.weight_kg = 70.0;
    Dose iv;
    iv.target = "central";
    iv.amount = 8.0;
    iv.per_kg = true;
    iv.cap = 800.0;
    iv.duration = 1.0;
    Dose sc;
    sc.target = "central";
    sc.time = 72.0;
    sc.amount = 162.0;
    pr.doses = {iv};
    if (second_dose) pr.doses.push_back(sc);
    for (int i = 0; i <= 672; ++i) pr.times.push_back(0.5 * i);
    pr.options.method = method;
    pr.sensitivities = {"Vmax", "init:central"};
    Trajectory tr = simulate(m, pr);
    ResultRecord r = make_result_record(name, m, pr, std::move(tr),
                                        R"({"model": "pk2_mm", "weight_kg": 70, "note": "Ünïcödé ≥ 2"})");
    r.seed = 20240917ULL;
    r.readouts = {{"peak_concentration", 0.0}, {"time_of_peak", 0.0},
                  {"crs_onset", std::numeric_limits<double>::quiet_NaN()}};
    r.readout_units = {{"peak_concentration", "mg/L"}, {"time_of_peak", "h"}, {"crs_onset", "h"}};
    r.readout_labels = {{"max_crs_grade", "none"}, {"comment", "no CRS model in pk2_mm"}};
    // Peak of the concentration observable, as a readout computed by "the caller".
    const auto& obs = r.trajectory.observables;
    const std::size_t n_obs = r.observable_names.size();
    for (std::size_t i = 0; i < r.trajectory.times.size(); ++i)
        if (obs[i * n_obs] > r.readouts["peak_concentration"]) {
            r.readouts["peak_concentration"] = obs[i * n_obs];
            r.readouts["time_of_peak"] = r.trajectory.times[i];
        }
    return r;
}

void require_equal(const ResultRecord& a, const ResultRecord& b) {
    CHECK(a.name == b.name);
    CHECK(a.model_name == b.model_name);
    CHECK(a.model_version == b.model_version);
    CHECK(a.scenario_json == b.scenario_json);
    CHECK(a.seed == b.seed);
    CHECK(a.state_names == b.state_names);
    CHECK(a.state_units == b.state_units);
    CHECK(a.state_dose_units == b.state_dose_units);
    CHECK(a.observable_names == b.observable_names);
    CHECK(a.observable_units == b.observable_units);
    CHECK(a.parameter_names == b.parameter_names);
    CHECK(a.parameter_units == b.parameter_units);
    CHECK(bitwise_equal(a.parameter_values, b.parameter_values));
    CHECK(a.solver.method == b.solver.method);
    CHECK(a.solver.rtol == b.solver.rtol);
    CHECK(a.solver.atol == b.solver.atol);
    CHECK(a.solver.max_steps == b.solver.max_steps);
    CHECK(a.solver.max_step == b.solver.max_step);
    CHECK(a.solver.initial_step == b.solver.initial_step);
    const Trajectory &x = a.trajectory, &y = b.trajectory;
    CHECK(bitwise_equal(x.times, y.times));
    CHECK(bitwise_equal(x.states, y.states));
    CHECK(bitwise_equal(x.observables, y.observables));
    CHECK(x.sensitivity_names == y.sensitivity_names);
    CHECK(bitwise_equal(x.state_sensitivities, y.state_sensitivities));
    CHECK(bitwise_equal(x.observable_sensitivities, y.observable_sensitivities));
    REQUIRE(x.doses.size() == y.doses.size());
    for (std::size_t i = 0; i < x.doses.size(); ++i) {
        CHECK(x.doses[i].state == y.doses[i].state);
        CHECK(x.doses[i].time == y.doses[i].time);
        CHECK(x.doses[i].amount == y.doses[i].amount);
        CHECK(x.doses[i].rate == y.doses[i].rate);
        CHECK(x.doses[i].end == y.doses[i].end);
    }
    CHECK(x.stats.steps == y.stats.steps);
    CHECK(x.stats.rhs_evaluations == y.stats.rhs_evaluations);
    CHECK(x.stats.jacobian_evaluations == y.stats.jacobian_evaluations);
    CHECK(x.stats.restarts == y.stats.restarts);
    REQUIRE(a.readouts.size() == b.readouts.size());
    for (const auto& kv : a.readouts) {
        REQUIRE(b.readouts.count(kv.first) == 1);
        const double v = b.readouts.at(kv.first);
        CHECK(std::memcmp(&kv.second, &v, sizeof v) == 0);  // NaN included
    }
    CHECK(a.readout_units == b.readout_units);
    CHECK(a.readout_labels == b.readout_labels);
}

// Rewrites (or adds) an integer attribute of the root group with the HDF5 C API.
void set_root_int_attr(const std::string& path, const char* name, long long value) {
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(f >= 0);
    if (H5Aexists(f, name) > 0) REQUIRE(H5Adelete(f, name) >= 0);
    const hid_t s = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(f, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(a >= 0);
    REQUIRE(H5Awrite(a, H5T_NATIVE_LLONG, &value) >= 0);
    H5Aclose(a);
    H5Sclose(s);
    REQUIRE(H5Fclose(f) >= 0);
}

}  // namespace

TEST_CASE("results round trip: simulated pk2_mm, arrays bitwise identical", "[hdf5]") {
    TempDir dir;
    const std::string path = dir.file("run.h5");
    const ResultRecord rec = simulated_record("tocilizumab_8mgkg");
    // The simulation is the one we think it is: 800 mg capped infusion over 1 h, then the bolus.
    REQUIRE(rec.trajectory.doses.size() == 2);
    CHECK(rec.trajectory.doses[0].amount == Approx(560.0));  // 8 mg/kg x 70 kg < 800 mg cap
    CHECK(rec.trajectory.doses[0].rate == Approx(560.0));
    REQUIRE(rec.trajectory.times.size() == 673);
    REQUIRE(rec.trajectory.state_sensitivities.size() == 673u * 4u * 2u);
    CHECK(rec.readouts.at("peak_concentration") > 100.0);  // ~560 mg / 3.5 L at the end of infusion

    FileMetadata meta;
    meta.attributes = {{"command", "crsim run demo.yaml -o run.h5"}};
    write_results(path, {rec}, meta);
    CHECK(dir.entries() == std::vector<std::string>{"run.h5"});  // no temporary file left

    const ResultsFile back = read_results(path);
    CHECK(back.meta.schema_version == kResultsSchemaVersion);
    CHECK(back.meta.crsim_version == version());
    CHECK(back.meta.attributes == meta.attributes);
    // created: UTC ISO 8601 with a 'Z'
    REQUIRE(back.meta.created.size() == 20);
    CHECK(back.meta.created[10] == 'T');
    CHECK(back.meta.created.back() == 'Z');
    REQUIRE(back.scenarios.size() == 1);
    require_equal(rec, back.scenarios[0]);
    CHECK(std::isnan(back.scenarios[0].readouts.at("crs_onset")));

    SECTION("a second write replaces the file atomically and a pinned time is kept") {
        ResultRecord other = simulated_record("dopri", Method::Dopri5);
        other.seed.reset();
        other.readouts.clear();
        other.readout_units.clear();
        other.readout_labels.clear();
        FileMetadata pinned;
        pinned.created = "2024-01-02T03:04:05Z";
        write_results(path, {other}, pinned);
        const ResultsFile again = read_results(path);
        CHECK(again.meta.created == "2024-01-02T03:04:05Z");
        REQUIRE(again.scenarios.size() == 1);
        require_equal(other, again.scenarios[0]);
        CHECK(!again.scenarios[0].seed.has_value());
        CHECK(dir.entries() == std::vector<std::string>{"run.h5"});
    }
}

TEST_CASE("several scenarios in one file keep their order and contents", "[hdf5]") {
    TempDir dir;
    const std::string path = dir.file("many.h5");
    std::vector<ResultRecord> recs = {simulated_record("zeta"),
                                      simulated_record("alpha", Method::Dopri5, 0.5),
                                      simulated_record("grade ≥2 – tocilizumab", Method::Rosenbrock4,
                                                       0.0, false)};
    REQUIRE(recs[1].parameter_values[4] == 0.5);  // Vmax
    REQUIRE(recs[2].trajectory.doses.size() == 1);
    write_results(path, recs);
    const ResultsFile back = read_results(path);
    REQUIRE(back.scenarios.size() == 3);
    for (std::size_t i = 0; i < recs.size(); ++i) {
        INFO("scenario " << recs[i].name);
        require_equal(recs[i], back.scenarios[i]);
    }
    // For checking the layout with h5py by hand: CRSIM_TEST_H5_OUT=/some/file.h5 keeps a copy.
    if (const char* keep = std::getenv("CRSIM_TEST_H5_OUT")) {
        FileMetadata meta;
        meta.attributes = {{"command", "crsim_tests [hdf5]"}};
        write_results(keep, recs, meta);
    }
}

TEST_CASE("files that are not crsim results are rejected with a clear message", "[hdf5]") {
    TempDir dir;
    SECTION("a plain HDF5 file without a format attribute") {
        const std::string path = dir.file("plain.h5");
        const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        REQUIRE(f >= 0);
        const hid_t g = H5Gcreate2(f, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Gclose(g);
        H5Fclose(f);
        const std::string msg = message_of([&] { read_results(path); });
        CHECK(msg == path + " is not a crsim results file (no format attribute)");
        CHECK_THROWS_AS(read_results(path), IoError);
    }
    SECTION("a text file") {
        const std::string path = dir.file("notes.h5");
        std::ofstream(path) << "hello, this is not HDF5\n";
        CHECK(message_of([&] { read_results(path); }) ==
              path + " is not a crsim results file (not an HDF5 file)");
    }
    SECTION("a newer schema version") {
        const std::string path = dir.file("future.h5");
        write_results(path, {simulated_record("a")});
        set_root_int_attr(path, "schema_version", 7);
        const std::string msg = message_of([&] { read_results(path); });
        CHECK(msg.find(path) != std::string::npos);
        CHECK(msg.find("schema version 7 is newer than this crsim (reads 1)") != std::string::npos);
        CHECK_THROWS_AS(read_results(path), IoError);
    }
    SECTION("an invalid schema version") {
        const std::string path = dir.file("zero.h5");
        write_results(path, {simulated_record("a")});
        set_root_int_attr(path, "schema_version", 0);
        CHECK(message_of([&] { read_results(path); }).find("schema version 0 is not a valid") !=
              std::string::npos);
    }
    SECTION("a missing file") {
        const std::string path = dir.file("absent.h5");
        CHECK_THROWS_AS(read_results(path), InputError);
        CHECK(message_of([&] { read_results(path); }).find(path) != std::string::npos);
    }
}

TEST_CASE("bad arguments give InputError naming the field and value; nothing is written", "[hdf5]") {
    TempDir dir;
    const ResultRecord rec = simulated_record("a");
    SECTION("a directory that does not exist") {
        const std::string path = (dir.path / "no" / "such" / "dir" / "out.h5").string();
        try {
            write_results(path, {rec});
            FAIL("no exception");
        } catch (const InputError& e) {
            CHECK(e.field() == "path");
            CHECK(std::string(e.what()).find(path) != std::string::npos);
            CHECK(std::string(e.what()).find("does not exist") != std::string::npos);
        }
    }
    SECTION("the path is a directory") {
        CHECK_THROWS_AS(write_results(dir.path.string(), {rec}), InputError);
    }
    const std::string path = dir.file("out.h5");
    auto field_of = [&](std::vector<ResultRecord> recs) -> std::string {
        try {
            write_results(path, recs);
        } catch (const InputError& e) {
            return e.field();
        }
        return "(no InputError)";
    };
    SECTION("names HDF5 would reject or misread, and duplicates") {
        ResultRecord r = rec;
        r.name = "";
        CHECK(field_of({r}) == "scenarios[0].name");
        r.name = "a/b";
        CHECK(field_of({r}) == "scenarios[0].name");
        r.name = ".";
        CHECK(field_of({r}) == "scenarios[0].name");
        r.name = "a";
        CHECK(field_of({rec, r}) == "scenarios[1].name");
        CHECK(message_of([&] { write_results(path, {rec, r}); }).find("already used by scenarios[0]") !=
              std::string::npos);
        CHECK(field_of({}) == "scenarios");
    }
    SECTION("inconsistent sizes") {
        ResultRecord r = rec;
        r.trajectory.states.pop_back();
        CHECK(field_of({r}) == "scenarios[0].trajectory.states");
        r = rec;
        r.state_units.pop_back();
        CHECK(field_of({r}) == "scenarios[0].state_units");
        r = rec;
        r.trajectory.doses[1].state = 9;
        CHECK(field_of({r}) == "scenarios[0].trajectory.doses[1].state");
        r = rec;
        r.readout_units["unknown"] = "h";
        CHECK(field_of({r}) == "scenarios[0].readout_units");
        r = rec;
        r.readout_labels["time_of_peak"] = "twice";
        CHECK(field_of({r}) == "scenarios[0].readout_labels");
    }
    SECTION("reserved or malformed file metadata") {
        FileMetadata meta;
        meta.attributes["format"] = "mine";
        CHECK_THROWS_AS(write_results(path, {rec}, meta), InputError);
        FileMetadata when;
        when.created = "yesterday";
        CHECK_THROWS_AS(write_results(path, {rec}, when), InputError);
    }
    CHECK(dir.entries().empty());
}

TEST_CASE("a failing write leaves no partial file and an existing file untouched", "[hdf5]") {
    TempDir dir;
    HookGuard guard;
    const std::string path = dir.file("out.h5");
    const std::vector<ResultRecord> recs = {simulated_record("a"), simulated_record("b")};
    std::string seen_tmp;
    auto fail_at = [&](const std::string& stage) {
        testing::set_results_write_hook([&, stage](const std::string& s, const std::string& tmp) {
            seen_tmp = tmp;
            if (s == stage) throw IoError(tmp, "simulated failure at " + s);
        });
    };

    SECTION("no file under the final name") {
        for (const char* stage : {"created", "scenario:a", "scenario:b", "closed"}) {
            INFO("failure at " << stage);
            fail_at(stage);
            CHECK_THROWS_AS(write_results(path, recs), IoError);
            // The temporary file was in the same directory, named <path>.tmp-<pid>-<random>.
            CHECK(seen_tmp.rfind(path + ".tmp-", 0) == 0);
            CHECK(dir.entries().empty());
        }
    }
    SECTION("an existing file stays byte-for-byte the same") {
        write_results(path, {simulated_record("old")});
        const std::string before = slurp(path);
        for (const char* stage : {"created", "scenario:b", "closed"}) {
            INFO("failure at " << stage);
            fail_at(stage);
            CHECK_THROWS_AS(write_results(path, recs), IoError);
            CHECK(dir.entries() == std::vector<std::string>{"out.h5"});
            CHECK(slurp(path) == before);
        }
        testing::set_results_write_hook(nullptr);
        REQUIRE(read_results(path).scenarios.at(0).name == "old");
    }
    SECTION("a real rename failure (final name became a non-empty directory) is an IoError") {
        testing::set_results_write_hook([&](const std::string& s, const std::string&) {
            if (s == "closed") {
                fs::create_directories(fs::path(path) / "blocker");
            }
        });
        const std::string msg = message_of([&] { write_results(path, recs); });
        CHECK(msg.find(path + ": cannot rename the temporary file") != std::string::npos);
        CHECK(dir.entries() == std::vector<std::string>{"out.h5"});  // the directory only
        CHECK(fs::is_directory(path));
    }
    SECTION("the temporary file vanishing mid-write is an IoError naming the path") {
        testing::set_results_write_hook([&](const std::string& s, const std::string& tmp) {
            if (s == "scenario:a") fs::remove(tmp);
        });
        try {
            write_results(path, recs);
            FAIL("no exception");
        } catch (const IoError& e) {
            CHECK(e.path() == path);
            CHECK(std::string(e.what()).find(path) != std::string::npos);
        }
        CHECK(dir.entries().empty());
    }
}

TEST_CASE("a process killed mid-write leaves the final name untouched", "[hdf5]") {
    TempDir dir;
    const std::string path = dir.file("out.h5");
    write_results(path, {simulated_record("old")});
    const std::string before = slurp(path);
    const std::vector<ResultRecord> recs = {simulated_record("a"), simulated_record("b")};
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // the child dies by SIGKILL half-way through the file (no cleanup can run)
        testing::set_results_write_hook([](const std::string& s, const std::string&) {
            if (s == "scenario:a") ::kill(::getpid(), SIGKILL);
        });
        try {
            write_results(path, recs);
        } catch (...) {
        }
        ::_exit(3);  // not reached
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    CHECK(slurp(path) == before);
    CHECK(read_results(path).scenarios.at(0).name == "old");
    // What remains is the stale temporary file of the killed process, next to the target.
    const auto entries = dir.entries();
    REQUIRE(entries.size() == 2);
    CHECK(entries[0] == "out.h5");
    CHECK(entries[1].rfind("out.h5.tmp-" + std::to_string(child) + "-", 0) == 0);
}

TEST_CASE("large metadata: thousands of state names and readouts, a 200 kB scenario", "[hdf5]") {
    // Beyond HDF5's 64 KiB compact attribute storage: needs the dense storage of the 1.8 format.
    TempDir dir;
    ResultRecord r;
    r.name = "wide";
    r.model_name = "synthetic";
    r.model_version = "1";
    r.scenario_json = "{\"pad\": \"" + std::string(200000, 'x') + "\"}";
    const std::size_t n = 5000;
    for (std::size_t i = 0; i < n; ++i) {
        r.state_names.push_back("a_state_with_a_longish_name_" + std::to_string(i));
        r.state_units.push_back("cells/uL");
        r.state_dose_units.push_back(i == 0 ? "cells" : "");
    }
    r.trajectory.times = {0.0, 24.0, 48.0};
    for (std::size_t i = 0; i < 3 * n; ++i) r.trajectory.states.push_back(std::sqrt(double(i)));
    for (int i = 0; i < 3000; ++i) r.readouts["readout_" + std::to_string(i)] = 0.1 * i;
    const std::string path = dir.file("wide.h5");
    write_results(path, {r});
    const ResultsFile back = read_results(path);
    REQUIRE(back.scenarios.size() == 1);
    require_equal(r, back.scenarios[0]);
}
