// Parameter sets in layers: "extends" resolution (depth-first, later files override earlier ones),
// the errors it adds (missing layer, cycle, a layer loaded as a set, two models, a name moving between
// patient and parameters), and the shipped CRS sets built from the shared layers.
#include <filesystem>
#include <fstream>
#include <string>

#include "catch.hpp"
#include "crs_fixture.hpp"
#include "crsim/errors.hpp"
#include "crsim/parameter_set.hpp"

using crsim::InputError;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test case (test cases may run in parallel).
fs::path fresh_dir(const std::string& name) {
    const fs::path d = fs::temp_directory_path() / ("crsim_layers_" + name);
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

void write(const fs::path& file, const std::string& text) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
}

std::string entry(double value, const std::string& unit, const std::string& source) {
    return "{\"value\": " + std::to_string(value) + ", \"unit\": \"" + unit + "\", \"source\": \"" +
           source + "\"}";
}

std::string error_of(const std::string& path) {
    try {
        crsim::load_parameter_set(path);
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("a set extends layers depth-first, later files overriding earlier ones", "[parameters][layers]") {
    const fs::path d = fresh_dir("extends");
    write(d / "physiology" / "base.json",
          R"({"description": "base layer", "sources": ["Paper B", "Paper shared"],
              "parameters": {"a": )" + entry(1, "1/h", "base a") + ", \"b\": " + entry(2, "h", "base b") +
              ", \"c\": " + entry(3, "1", "base c") + "}}");
    // A layer that extends another layer: names resolve against the set's directory, not its own.
    write(d / "drugs" / "drug.json",
          R"({"extends": ["physiology/base"], "sources": ["Paper D", "Paper shared"],
              "parameters": {"b": )" + entry(20, "h", "drug b") + ", \"d\": " + entry(4, "mg", "drug d") + "}}");
    write(d / "product.json",
          R"({"model": "toy", "description": "a product", "extends": ["drugs/drug"],
              "sources": ["Paper P"],
              "patient": {"w": )" + entry(70, "kg", "product w") + R"(},
              "regimen": {"dose": )" + entry(5, "mg", "product dose") + R"(},
              "parameters": {"c": )" + entry(30, "1", "product c") + "}}");
    const crsim::ParameterSet s = crsim::load_parameter_set((d / "product.json").string());
    CHECK(s.name == "product");
    CHECK(s.model == "toy");
    CHECK(s.description == "a product");
    REQUIRE(s.parameters.size() == 5);
    CHECK(s.parameters.at("a").value == 1.0);
    CHECK(s.parameters.at("a").source == "base a");
    CHECK(s.parameters.at("b").value == 20.0);    // drug overrides base
    CHECK(s.parameters.at("b").source == "drug b");
    CHECK(s.parameters.at("c").value == 30.0);    // the set overrides its layers
    CHECK(s.parameters.at("c").source == "product c");
    CHECK(s.parameters.at("d").unit == "mg");
    CHECK(s.parameters.at("w").value == 70.0);
    CHECK(s.patient == std::vector<std::string>{"w"});
    CHECK(s.regimen.at("dose").value == 5.0);
    // Each entry remembers the file that gave it.
    CHECK(fs::path(s.parameters.at("a").origin).filename() == "base.json");
    CHECK(fs::path(s.parameters.at("b").origin).filename() == "drug.json");
    CHECK(s.parameters.at("c").origin == (d / "product.json").string());
    // Sources: the set's own, then its layers' depth-first, each once.
    CHECK(s.sources == std::vector<std::string>{"Paper P", "Paper D", "Paper shared", "Paper B"});
}

TEST_CASE("a layer reached twice is applied once, and a complete set can be extended", "[parameters][layers]") {
    const fs::path d = fresh_dir("diamond");
    write(d / "l" / "common.json", R"({"parameters": {"a": )" + entry(1, "1", "common") + "}}");
    write(d / "l" / "left.json",
          R"({"extends": ["l/common"], "parameters": {"a": )" + entry(2, "1", "left") + "}}");
    write(d / "l" / "right.json", R"({"extends": ["l/common"], "parameters": {"b": )" + entry(3, "1", "right") + "}}");
    write(d / "base.json", R"({"model": "toy", "description": "base set", "extends": ["l/left", "l/right"],
                               "patient": {"w": )" + entry(70, "kg", "base w") + "}}");
    const crsim::ParameterSet base = crsim::load_parameter_set((d / "base.json").string());
    // common is applied before left and not again after it: left's override stands.
    CHECK(base.parameters.at("a").value == 2.0);
    CHECK(base.parameters.at("b").value == 3.0);
    // A population set elsewhere extends the product set by a relative path; the product's own
    // layers still resolve against the product's directory.
    write(d / "populations" / "heavy.json",
          R"({"extends": ["../base"], "patient": {"w": )" + entry(120, "kg", "heavy w") + "}}");
    const crsim::ParameterSet heavy = crsim::load_parameter_set((d / "populations" / "heavy.json").string());
    CHECK(heavy.name == "heavy");
    CHECK(heavy.model == "toy");
    CHECK(heavy.description == "base set");
    CHECK(heavy.parameters.at("w").value == 120.0);
    CHECK(heavy.parameters.at("a").value == 2.0);
    CHECK(heavy.patient == std::vector<std::string>{"w"});
}

TEST_CASE("a cycle of layers is an InputError naming the file and the field", "[parameters][layers]") {
    const fs::path d = fresh_dir("cycle");
    write(d / "l" / "a.json", R"({"extends": ["l/b"], "parameters": {}})");
    write(d / "l" / "b.json", R"({"extends": ["l/c", "l/a"], "parameters": {}})");
    write(d / "l" / "c.json", R"({"parameters": {}})");
    write(d / "set.json", R"({"model": "toy", "extends": ["l/a"]})");
    const std::string e = error_of((d / "set.json").string());
    INFO(e);
    CHECK_THAT(e, Catch::Matchers::Contains((d / "l" / "b.json").string() + ": extends[1]"));
    CHECK_THAT(e, Catch::Matchers::Contains("'l/a'"));
    CHECK_THAT(e, Catch::Matchers::Contains("cycle"));
    // A set that extends itself.
    write(d / "self.json", R"({"model": "toy", "extends": ["self"]})");
    CHECK_THAT(error_of((d / "self.json").string()),
               Catch::Matchers::Contains("self.json: extends[0]") && Catch::Matchers::Contains("cycle"));
}

TEST_CASE("a missing layer is an InputError naming the file, the field and the path tried", "[parameters][layers]") {
    const fs::path d = fresh_dir("missing");
    write(d / "l" / "a.json", R"({"extends": ["drugs/nope"], "parameters": {}})");
    write(d / "set.json", R"({"model": "toy", "extends": ["l/a"]})");
    const std::string e = error_of((d / "set.json").string());
    INFO(e);
    CHECK_THAT(e, Catch::Matchers::Contains((d / "l" / "a.json").string() + ": extends[0]"));
    CHECK_THAT(e, Catch::Matchers::Contains("'drugs/nope'"));
    CHECK_THAT(e, Catch::Matchers::Contains((d / "drugs" / "nope.json").string()));
    write(d / "bad.json", R"({"model": "toy", "extends": "l/a"})");
    CHECK_THAT(error_of((d / "bad.json").string()),
               Catch::Matchers::Contains("bad.json: extends") && Catch::Matchers::Contains("array"));
}

TEST_CASE("layer errors: loaded alone, two models, a name listed twice or in two sections", "[parameters][layers]") {
    using Catch::Matchers::Contains;
    const fs::path d = fresh_dir("errors");
    write(d / "l" / "a.json", R"({"parameters": {"a": )" + entry(1, "1", "a") + "}}");
    // A layer has no model: it is not a parameter set.
    CHECK_THAT(error_of((d / "l" / "a.json").string()), Contains("a.json: model") && Contains("missing"));
    // All files that name a model name the same one.
    write(d / "m.json", R"({"model": "other", "parameters": {}})");
    write(d / "two.json", R"({"model": "toy", "extends": ["m"]})");
    CHECK_THAT(error_of((d / "two.json").string()), Contains("two.json: model") && Contains("'toy'") && Contains("'other'"));
    // Within one file, a name appears once (patient or parameters), as before layers.
    write(d / "twice.json", R"({"model": "toy", "patient": {"a": )" + entry(1, "1", "x") +
                                R"(}, "parameters": {"a": )" + entry(1, "1", "x") + "}}");
    CHECK_THAT(error_of((d / "twice.json").string()), Contains("twice.json: parameters.a") && Contains("listed twice"));
    // Across files, overriding is allowed but a name keeps its section.
    write(d / "moved.json", R"({"model": "toy", "extends": ["l/a"], "patient": {"a": )" + entry(2, "1", "x") + "}}");
    CHECK_THAT(error_of((d / "moved.json").string()), Contains("moved.json: patient.a") && Contains("(parameters)"));
    // Unknown top-level keys are still refused.
    write(d / "key.json", R"({"model": "toy", "extend": ["l/a"]})");
    CHECK_THAT(error_of((d / "key.json").string()), Contains("key.json: extend") && Contains("extends"));
}

TEST_CASE("the shipped CRS sets resolve from the shared layers", "[parameters][layers][crs]") {
    const crsim::Model& m = crs_test::crs_model();
    const crsim::ParameterSet a = crs_test::load_set("crs_tisagenlecleucel_ball");
    const crsim::ParameterSet b = crs_test::load_set("crs_axicabtagene_lbcl");
    REQUIRE(crsim::parameters_from(m, a).size() == m.info().parameters.size());
    REQUIRE(crsim::parameters_from(m, b).size() == m.info().parameters.size());
    // Shared entries come from the same layer file, product entries from the product file.
    for (const char* name : {"toc_CL", "sil6r_Kss", "silt_KD", "dex_CL", "crp_kel", "k_il6", "theta"}) {
        INFO(name);
        CHECK(fs::path(a.parameters.at(name).origin).parent_path().filename() != "parameters");
        CHECK(a.parameters.at(name).value == b.parameters.at(name).value);
        CHECK(a.parameters.at(name).origin == b.parameters.at(name).origin);
    }
    CHECK(fs::path(a.parameters.at("toc_CL").origin).filename() == "tocilizumab.json");
    CHECK(a.parameters.at("rho").origin == a.path);
    CHECK(a.parameters.at("rho").value != b.parameters.at("rho").value);
    CHECK(a.patient == b.patient);
    CHECK(a.patient.size() == 3);
    // A layer of the shipped data is not a set.
    const std::string e = error_of(std::string(CRSIM_DATA_DIR) + "/parameters/drugs/tocilizumab.json");
    CHECK_THAT(e, Catch::Matchers::Contains("tocilizumab.json: model"));
}
