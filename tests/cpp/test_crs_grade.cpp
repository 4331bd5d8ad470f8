// ASTCT grading (docs/model.md sec. 7; Lee DW et al. 2019), the parameter-set loader and its errors.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "catch.hpp"
#include "crs_fixture.hpp"
#include "crsim/errors.hpp"

using namespace crsim::models;
using crsim::InputError;

TEST_CASE("supportive-care policy and per-time-point ASTCT grade follow clinical.md 7a", "[crs][grade]") {
    const GradingPolicy pol;
    // {T, MAP, SBP, FiO2} -> expected grade (in an episode, fever not waived)
    struct Row { GraderInputs in; int grade; const char* why; };
    const Row rows[] = {
        {{38.5, 85, 120, 0.21}, 1, "fever only"},
        {{37.5, 85, 120, 0.21}, 0, "afebrile, untreated: not CRS"},
        {{38.0, 85, 120, 0.21}, 1, "38.0 degC is fever (>=)"},
        {{38.5, 60, 100, 0.21}, 2, "MAP 60: fluids bring it to 70 >= 65"},
        {{38.5, 80, 85, 0.21}, 2, "SBP < 90 with MAP >= 65: hypotension, fluid-responsive"},
        {{38.5, 50, 80, 0.21}, 3, "deficit 5 mmHg after fluids: one vasopressor"},
        {{38.5, 35, 60, 0.21}, 3, "deficit 20: norepinephrine + vasopressin, still grade 3"},
        {{38.5, 25, 45, 0.21}, 4, "deficit 30 > D2: second catecholamine"},
        {{38.5, 85, 120, 0.30}, 2, "FiO2 0.30: low-flow cannula"},
        {{38.5, 85, 120, 0.40}, 2, "FiO2 0.40: still low flow (<= 6 L/min)"},
        {{38.5, 85, 120, 0.50}, 3, "FiO2 0.50: high-flow / facemask"},
        {{38.5, 85, 120, 0.70}, 4, "FiO2 0.70: positive pressure"},
        {{38.5, 50, 80, 0.30}, 3, "most severe component wins"},
    };
    for (const Row& r : rows) {
        INFO(r.why);
        CHECK(astct_grade(r.in, true, false, false, pol) == r.grade);
    }
    CHECK(astct_grade({37.0, 50, 80, 0.21}, true, true, false, pol) == 3);  // fever waived after tocilizumab
    CHECK(astct_grade({37.0, 50, 80, 0.21}, false, true, false, pol) == 0); // outside an episode
    CHECK(astct_grade({38.5, 85, 120, 0.21}, true, false, true, pol) == 5); // death within an episode
    const Support s = supportive_care({38.5, 35, 60, 0.21}, pol);
    CHECK(s.n_vaso_nonavp == 1);
    CHECK(s.avp_on);
    CHECK_FALSE(s.fluid_responsive);
}

TEST_CASE("grade course: episodes latch from fever to 24 h of quiet; fever waived per episode", "[crs][grade]") {
    std::vector<double> t;
    std::vector<GraderInputs> in;
    auto add = [&](double from, double to, GraderInputs x) {
        for (double h = from; h < to; h += 1.0) { t.push_back(h); in.push_back(x); }
    };
    const GraderInputs calm{37.0, 85, 120, 0.21}, fever{39.0, 85, 120, 0.21}, shock{37.2, 50, 80, 0.21};
    add(0, 10, calm);
    add(10, 20, fever);     // episode 1 onset at 10 h
    add(20, 30, shock);     // afebrile hypotension: grade 0 before any anti-cytokine drug...
    add(30, 40, calm);
    add(40, 70, calm);      // quiet from 30 h: resolved at 30 h once 24 h held (54 h)
    add(70, 80, fever);     // episode 2 at 70 h
    add(80, 90, shock);     // ...but grade 3 after tocilizumab at 75 h (waived within episode 2)
    add(90, 130, calm);
    const GradeCourse gc = astct_grade_course(t, in, {75.0});
    REQUIRE(gc.episodes.size() == 2);
    CHECK(gc.episodes[0].onset_h == 10.0);
    CHECK(gc.episodes[0].resolution_h == 30.0);
    CHECK(gc.episodes[0].max_grade == 1);
    CHECK(gc.episodes[1].onset_h == 70.0);
    CHECK(gc.episodes[1].max_grade == 3);
    CHECK(gc.grade[25] == 0);   // t = 25 h, afebrile hypotension, no anti-cytokine in episode 1
    CHECK(gc.grade[85] == 3);   // t = 85 h
    CHECK(gc.grade[5] == 0);
    CHECK(gc.grade[15] == 1);
}

TEST_CASE("parameter sets load and give the crs model every parameter with its unit", "[crs][parameters]") {
    const auto& m = crs_test::crs_model();
    CHECK(m.info().default_parameter_set == "crs_tisagenlecleucel_ball");
    for (const auto& stem : crs_test::kSets) {
        const auto ps = crs_test::load_set(stem);
        CHECK(ps.name == stem);
        CHECK(ps.model == "crs");
        CHECK_FALSE(ps.sources.empty());
        CHECK(ps.patient.size() == 3);
        const auto p = crsim::parameters_from(m, ps);
        REQUIRE(p.size() == m.info().parameters.size());
        for (const auto& kv : ps.parameters) CHECK_FALSE(kv.second.source.empty());
    }
    // Defaults are NaN: nothing runs without a parameter set.
    crsim::Problem pr;
    pr.times = {0.0, 1.0};
    CHECK_THROWS_AS(crsim::simulate(m, pr), InputError);
}

namespace {
// A copy of data/parameters (the sets and their layers) in /tmp/crsim_test_<name>/ with one
// substitution in `file` (relative to it); returns the path of the copied LBCL set.
std::string write_variant(const std::string& name, const std::string& from, const std::string& to,
                          const std::string& file = "crs_axicabtagene_lbcl.json") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path("/tmp") / ("crsim_test_" + name);
    fs::remove_all(dir);
    fs::copy(fs::path(CRSIM_DATA_DIR) / "parameters", dir, fs::copy_options::recursive);
    std::ifstream in(dir / file);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    const auto pos = s.find(from);
    REQUIRE(pos != std::string::npos);
    s.replace(pos, from.size(), to);
    std::ofstream(dir / file) << s;
    return (dir / "crs_axicabtagene_lbcl.json").string();
}
std::string error_of(const std::string& path, const std::map<std::string, double>& ov = {}) {
    try {
        crsim::parameters_from(crs_test::crs_model(), crsim::load_parameter_set(path), ov);
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST_CASE("parameter-set errors name the file, the field, the value and what is allowed", "[crs][parameters]") {
    using Catch::Matchers::Contains;
    const std::string unit = write_variant("unit", "\"unit\": \"1/h\"", "\"unit\": \"1/d\"");
    const std::string e1 = error_of(unit);
    CHECK_THAT(e1, Contains(unit + ": parameters.") && Contains(".unit") && Contains("'1/d'") && Contains("'1/h'"));
    const std::string e2 = error_of(write_variant("unknown", "\"theta\":", "\"thetaX\":", "cells/cd19_car_t.json"));
    CHECK_THAT(e2, Contains("parameters.thetaX") && Contains("unknown parameter"));
    const std::string e3 = error_of(write_variant("model", "\"model\": \"crs\"", "\"model\": \"pk1\""));
    CHECK_THAT(e3, Contains(": model") && Contains("'pk1'") && Contains("'crs'"));
    const std::string e4 = error_of(write_variant("bad", "\"model\": \"crs\",", "\"model\": \"crs\""));
    CHECK_THAT(e4, Contains("malformed JSON"));
    const std::string e5 = error_of(write_variant("nosrc", "\"source\": \"", "\"sourcex\": \""));
    CHECK_THAT(e5, Contains(".source") && Contains("missing"));
    const std::string e6 = error_of(write_variant("range", "\"value\": 0.939", "\"value\": 1.5", "drugs/tocilizumab.json"));
    CHECK_THAT(e6, Contains("drugs/tocilizumab.json: parameters.sil6r_Imax") && Contains("1.5") && Contains("[0, 1]"));
    const std::string path = std::string(CRSIM_DATA_DIR) + "/parameters/crs_axicabtagene_lbcl.json";
    CHECK_THAT(error_of(path, {{"nope", 1.0}}), Contains("overrides") && Contains("'nope'"));
    CHECK_THAT(error_of(path, {{"f_blood", 2.0}}), Contains("overrides.f_blood") && Contains("2"));
    CHECK_THAT(error_of("/nonexistent/x.json"), Contains("parameter_set") && Contains("readable JSON file"));
    // missing parameter
    const std::string e7 = error_of(write_variant("missing", "\"theta\":", "\"_theta\":", "cells/cd19_car_t.json"));
    CHECK_THAT(e7, Contains("parameters.theta") && Contains("missing"));
}
