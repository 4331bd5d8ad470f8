#include "crsim/parameter_set.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "crsim/errors.hpp"

namespace crsim {

namespace {
using json = nlohmann::json;
namespace fs = std::filesystem;

std::string stem_of(const std::string& path) {
    const auto slash = path.find_last_of("/\\");
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    const auto dot = base.rfind('.');
    return dot == std::string::npos ? base : base.substr(0, dot);
}

std::string type_of(const json& j) { return j.type_name(); }

std::string get_string(const json& obj, const std::string& key, const std::string& file,
                       bool required) {
    if (!obj.contains(key)) {
        if (required) throw InputError(file + ": " + key, "missing", "a string");
        return {};
    }
    const json& v = obj.at(key);
    if (!v.is_string()) throw InputError(file + ": " + key, type_of(v), "a string");
    return v.get<std::string>();
}

std::string entry_string(const json& obj, const std::string& key, const std::string& field,
                         bool required) {
    if (!obj.contains(key)) {
        if (required) throw InputError(field + "." + key, "missing", "a string");
        return {};
    }
    const json& v = obj.at(key);
    if (!v.is_string()) throw InputError(field + "." + key, type_of(v), "a string");
    return v.get<std::string>();
}

double finite_number(const json& j, const std::string& key, const std::string& field, const std::string& allowed) {
    const json& v = j.at(key);
    if (!v.is_number()) throw InputError(field + "." + key, v.dump(), allowed);
    const double x = v.get<double>();
    if (!std::isfinite(x)) throw InputError(field + "." + key, fmt(x), allowed);
    return x;
}

std::string source_of(const json& j, const std::string& field) {
    const std::string s = entry_string(j, "source", field, true);
    if (s.empty())
        throw InputError(field + ".source", "\"\"",
                         "a citation, \"calibrated: <target>\" or \"modelling choice: <reason>\"");
    return s;
}

void only_keys(const json& j, const std::string& field, std::initializer_list<const char*> keys) {
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        if (k.empty() || k[0] == '_') continue;
        bool ok = false;
        std::string list;
        for (const char* key : keys) {
            ok = ok || k == key;
            list += (list.empty() ? "" : ", ") + std::string(key);
        }
        if (!ok) throw InputError(field + "." + k, "present", "only " + list);
    }
}

ParameterEntry read_entry(const json& j, const std::string& field) {
    if (!j.is_object())
        throw InputError(field, type_of(j), "an object {\"value\": number, \"unit\": string, "
                                            "\"source\": string}");
    ParameterEntry e;
    if (!j.contains("value")) throw InputError(field + ".value", "missing", "a finite number");
    e.value = finite_number(j, "value", field, "a finite number");
    e.unit = entry_string(j, "unit", field, true);
    e.source = source_of(j, field);
    e.note = entry_string(j, "note", field, false);
    only_keys(j, field, {"value", "unit", "source", "note"});
    return e;
}

// One section ("patient", "parameters" or "regimen") of one file, in file order.
std::vector<std::pair<std::string, ParameterEntry>> read_section(const json& root, const std::string& key,
                                                                 const std::string& file) {
    std::vector<std::pair<std::string, ParameterEntry>> out;
    if (!root.contains(key)) return out;
    const json& sec = root.at(key);
    if (!sec.is_object()) throw InputError(file + ": " + key, type_of(sec), "an object");
    for (auto it = sec.begin(); it != sec.end(); ++it) {
        if (!it.key().empty() && it.key()[0] == '_') continue;
        ParameterEntry e = read_entry(it.value(), file + ": " + key + "." + it.key());
        e.origin = file;
        out.emplace_back(it.key(), std::move(e));
    }
    return out;
}

// "variability": {"<parameter>": {"omega" | "cv": number, "source": text}, ...}, in file order.
std::vector<std::pair<std::string, VariabilityEntry>> read_variability(const json& root, const std::string& file) {
    std::vector<std::pair<std::string, VariabilityEntry>> out;
    if (!root.contains("variability")) return out;
    const json& sec = root.at("variability");
    if (!sec.is_object()) throw InputError(file + ": variability", type_of(sec), "an object");
    for (auto it = sec.begin(); it != sec.end(); ++it) {
        if (!it.key().empty() && it.key()[0] == '_') continue;
        const std::string field = file + ": variability." + it.key();
        const json& j = it.value();
        if (!j.is_object())
            throw InputError(field, type_of(j), "an object {\"omega\": number, \"source\": string} or "
                                                "{\"cv\": number, \"source\": string}");
        only_keys(j, field, {"omega", "cv", "source"});
        VariabilityEntry e;
        if (j.contains("omega") == j.contains("cv"))
            throw InputError(field, j.contains("omega") ? "omega and cv" : "neither omega nor cv",
                             "one of omega (SD of the log-normal random effect) or cv");
        if (j.contains("omega")) {
            e.omega = finite_number(j, "omega", field, "a finite omega >= 0 (SD on the log scale)");
            if (e.omega < 0.0) throw InputError(field + ".omega", fmt(e.omega), "a finite omega >= 0 (SD on the log scale)");
        } else {
            e.cv = finite_number(j, "cv", field, "a finite coefficient of variation >= 0");
            if (e.cv < 0.0) throw InputError(field + ".cv", fmt(e.cv), "a finite coefficient of variation >= 0");
            e.omega = std::sqrt(std::log1p(e.cv * e.cv));
        }
        if (e.omega > 5.0)
            throw InputError(field, fmt(e.omega) + " (omega)",
                             "omega <= 5 (a 150-fold SD on the log scale; larger is not a variability "
                             "a population can sample within bounds)");
        e.source = source_of(j, field);
        e.origin = file;
        out.emplace_back(it.key(), std::move(e));
    }
    return out;
}

// "correlations": [{"between": [a, b], "r": number, "source": text}, ...].
std::vector<CorrelationEntry> read_correlations(const json& root, const std::string& file) {
    std::vector<CorrelationEntry> out;
    if (!root.contains("correlations")) return out;
    const json& sec = root.at("correlations");
    if (!sec.is_array()) throw InputError(file + ": correlations", type_of(sec), "an array");
    for (std::size_t i = 0; i < sec.size(); ++i) {
        const std::string field = file + ": correlations[" + std::to_string(i) + "]";
        const json& j = sec[i];
        if (!j.is_object())
            throw InputError(field, type_of(j), "an object {\"between\": [a, b], \"r\": number, \"source\": string}");
        only_keys(j, field, {"between", "r", "source"});
        if (!j.contains("between")) throw InputError(field + ".between", "missing", "[a, b]: two parameter names");
        const json& b = j.at("between");
        if (!b.is_array() || b.size() != 2 || !b[0].is_string() || !b[1].is_string() ||
            b[0].get<std::string>() == b[1].get<std::string>())
            throw InputError(field + ".between", b.dump(), "[a, b]: two different parameter names");
        CorrelationEntry c;
        c.a = b[0].get<std::string>();
        c.b = b[1].get<std::string>();
        if (!j.contains("r")) throw InputError(field + ".r", "missing", "a correlation in (-1, 1)");
        c.r = finite_number(j, "r", field, "a correlation in (-1, 1)");
        if (!(c.r > -1.0 && c.r < 1.0)) throw InputError(field + ".r", fmt(c.r), "a correlation in (-1, 1)");
        c.source = source_of(j, field);
        c.origin = file;
        out.push_back(std::move(c));
    }
    return out;
}

json read_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw InputError("parameter_set", "'" + path + "'", "a readable JSON file");
    json root;
    try {
        root = json::parse(in, nullptr, true, /*ignore_comments=*/false);
    } catch (const json::parse_error& e) {
        throw InputError(path, "malformed JSON", std::string("valid JSON (") + e.what() + ")");
    }
    if (!root.is_object()) throw InputError(path, type_of(root), "a JSON object");
    return root;
}

std::string canonical_of(const std::string& path) {
    std::error_code ec;
    const fs::path c = fs::weakly_canonical(fs::path(path), ec);
    return ec ? fs::path(path).lexically_normal().string() : c.string();
}

// Resolves a set file and its layers depth-first into one ParameterSet: each file's layers are
// applied in the order listed, then the file's own entries, each overriding what came before.
class Resolver {
public:
    explicit Resolver(ParameterSet& out) : out_(out) {}

    // `dir`: the directory the file's relative "extends" names resolve against when the file is a
    // layer (no "model"); a file that names a model resolves them against its own directory.
    void resolve(const std::string& path, const std::string& dir, bool top) {
        const json root = read_json(path);
        for (auto it = root.begin(); it != root.end(); ++it) {
            const std::string& k = it.key();
            if (k.empty() || k[0] == '_') continue;
            if (k != "model" && k != "description" && k != "sources" && k != "extends" &&
                k != "patient" && k != "parameters" && k != "regimen" && k != "variability" &&
                k != "correlations")
                throw InputError(path + ": " + k, "present",
                                 "only model, description, sources, extends, patient, regimen, parameters, "
                                 "variability, correlations");
        }
        const std::string model = get_string(root, "model", path, false);
        if (root.contains("model") && model.empty())
            throw InputError(path + ": model", "\"\"", "a model name");
        const std::string own_dir =
            top || !model.empty() ? fs::path(path).parent_path().string() : dir;

        // Sources: the file's own first, then its layers' (each citation once).
        if (root.contains("sources")) {
            const json& src = root.at("sources");
            if (!src.is_array()) throw InputError(path + ": sources", type_of(src), "an array of strings");
            for (std::size_t i = 0; i < src.size(); ++i) {
                if (!src[i].is_string())
                    throw InputError(path + ": sources[" + std::to_string(i) + "]", type_of(src[i]),
                                     "a string (a citation)");
                add_source(src[i].get<std::string>());
            }
        }

        // Layers, depth-first in the order listed.
        stack_.push_back(canonical_of(path));
        names_.push_back(path);
        if (root.contains("extends")) {
            const json& ext = root.at("extends");
            if (!ext.is_array())
                throw InputError(path + ": extends", type_of(ext),
                                 "an array of layer names (paths relative to the parameter-set "
                                 "directory, without .json)");
            for (std::size_t i = 0; i < ext.size(); ++i) {
                const std::string field = path + ": extends[" + std::to_string(i) + "]";
                if (!ext[i].is_string() || ext[i].get<std::string>().empty())
                    throw InputError(field, ext[i].dump(), "a layer name such as \"drugs/tocilizumab\"");
                const std::string name = ext[i].get<std::string>();
                const std::string layer = layer_path(own_dir, name);
                std::error_code ec;
                if (!fs::is_regular_file(fs::path(layer), ec))
                    throw InputError(field, "'" + name + "'",
                                     "the name of an existing layer file: '" + layer +
                                         "' does not exist (names are paths relative to '" +
                                         (own_dir.empty() ? std::string(".") : own_dir) +
                                         "', without .json)");
                const std::string key = canonical_of(layer);
                for (std::size_t s = 0; s < stack_.size(); ++s) {
                    if (stack_[s] != key) continue;
                    std::string chain;
                    for (std::size_t t = s; t < names_.size(); ++t) chain += names_[t] + " -> ";
                    throw InputError(field, "'" + name + "'",
                                     "a layer that does not extend itself (cycle: " + chain + layer + ")");
                }
                if (applied_.count(key)) continue;  // reached twice (a diamond): applied once, first
                resolve(layer, own_dir, false);
            }
        }
        stack_.pop_back();
        names_.pop_back();
        applied_.insert(canonical_of(path));

        // The file's own entries override its layers'.
        if (!model.empty()) {
            if (!out_.model.empty() && out_.model != model)
                throw InputError(path + ": model", "'" + model + "'",
                                 "'" + out_.model + "', the model of " + model_file_ + " it extends");
            out_.model = model;
            model_file_ = path;
        }
        if (root.contains("description")) out_.description = get_string(root, "description", path, false);
        const auto patient = read_section(root, "patient", path);
        const auto params = read_section(root, "parameters", path);
        const auto regimen = read_section(root, "regimen", path);
        std::set<std::string> seen;
        for (const auto& kv : patient) merge(path, "patient", kv, seen);
        for (const auto& kv : params) merge(path, "parameters", kv, seen);
        for (const auto& kv : regimen) out_.regimen[kv.first] = kv.second;
        for (auto& kv : read_variability(root, path)) out_.variability[kv.first] = std::move(kv.second);
        for (auto& c : read_correlations(root, path)) {
            bool replaced = false;
            for (auto& d : out_.correlations) {
                if ((d.a == c.a && d.b == c.b) || (d.a == c.b && d.b == c.a)) {
                    d = c;
                    replaced = true;
                }
            }
            if (!replaced) out_.correlations.push_back(std::move(c));
        }
    }

private:
    void add_source(const std::string& s) {
        for (const auto& t : out_.sources)
            if (t == s) return;
        out_.sources.push_back(s);
    }

    static std::string layer_path(const std::string& dir, const std::string& name) {
        const std::string file = name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0
                                     ? name
                                     : name + ".json";
        const fs::path p(file);
        return (p.is_absolute() || dir.empty() ? p : fs::path(dir) / p).lexically_normal().string();
    }

    void merge(const std::string& file, const std::string& section,
               const std::pair<std::string, ParameterEntry>& kv, std::set<std::string>& seen) {
        const std::string& name = kv.first;
        const std::string field = file + ": " + section + "." + name;
        if (!seen.insert(name).second)
            throw InputError(field, "listed twice", "each parameter once (in patient or parameters)");
        const bool is_patient = section == "patient";
        const auto prev = out_.parameters.find(name);
        if (prev != out_.parameters.end()) {
            bool was_patient = false;
            for (const auto& p : out_.patient) was_patient = was_patient || p == name;
            if (was_patient != is_patient)
                throw InputError(field, "listed in " + section,
                                 std::string("the section it has in ") + prev->second.origin + " (" +
                                     (was_patient ? "patient" : "parameters") + ")");
        } else if (is_patient) {
            out_.patient.push_back(name);
        }
        out_.parameters[name] = kv.second;
    }

    ParameterSet& out_;
    std::vector<std::string> stack_;  // canonical paths of the files being resolved (cycles)
    std::vector<std::string> names_;  // the same files as named (for the message)
    std::set<std::string> applied_;   // canonical paths already applied
    std::string model_file_;
};
}  // namespace

ParameterSet load_parameter_set(const std::string& path) {
    ParameterSet s;
    s.path = path;
    s.name = stem_of(path);
    Resolver(s).resolve(path, fs::path(path).parent_path().string(), true);
    if (s.model.empty())
        throw InputError(path + ": model", "missing",
                         "a model name (a layer without \"model\" is not a parameter set: it is used "
                         "through the \"extends\" of a set that names one)");
    return s;
}

std::vector<double> parameters_from(const Model& model, const ParameterSet& set,
                                    const std::map<std::string, double>& overrides) {
    const std::string& file = set.path.empty() ? set.name : set.path;
    // An entry's errors name the file (the set or one of its layers) that gave it.
    const auto where = [&file](const ParameterEntry& e) -> const std::string& {
        return e.origin.empty() ? file : e.origin;
    };
    if (set.model != model.name())
        throw InputError(file + ": model", "'" + set.model + "'", "'" + model.name() + "' (the model it is used with)");
    const auto& infos = model.info().parameters;
    const auto known = [&infos](const std::string& name) {
        for (const auto& pi : infos)
            if (pi.name == name) return true;
        return false;
    };
    // an unknown name in "parameters" or "variability": the same error, naming the section
    const auto unknown = [&](const std::string& origin, const char* section, const std::string& name) {
        std::string names;
        for (const auto& pi : infos) names += (names.empty() ? "" : ", ") + pi.name;
        return InputError(origin + ": " + section + "." + name, "unknown parameter",
                          "a parameter of model " + model.name() + ": one of {" + names + "}");
    };
    for (const auto& kv : set.parameters)
        if (!known(kv.first)) throw unknown(where(kv.second), "parameters", kv.first);
    for (const auto& kv : set.variability)
        if (!known(kv.first)) throw unknown(kv.second.origin, "variability", kv.first);
    for (const auto& c : set.correlations)
        for (const std::string* name : {&c.a, &c.b})
            if (!set.variability.count(*name))
                throw InputError(c.origin + ": correlations (" + c.a + ", " + c.b + ")", "'" + *name + "'",
                                 "a parameter with a variability entry in the set or its layers");
    std::vector<double> p(infos.size());
    for (std::size_t i = 0; i < infos.size(); ++i) {
        const ParameterInfo& pi = infos[i];
        const auto it = set.parameters.find(pi.name);
        if (it == set.parameters.end())
            throw InputError(file + ": parameters." + pi.name, "missing",
                             "every parameter of model " + model.name() + " (" + pi.unit + ")");
        if (it->second.unit != pi.unit)
            throw InputError(where(it->second) + ": parameters." + pi.name + ".unit", "'" + it->second.unit + "'",
                             "'" + pi.unit + "' (the model's unit)");
        const double v = it->second.value;
        if (!(v >= pi.lower && v <= pi.upper))
            throw InputError(where(it->second) + ": parameters." + pi.name, fmt(v),
                             "a value in [" + fmt(pi.lower) + ", " + fmt(pi.upper) + "] " + pi.unit);
        p[i] = v;
    }
    for (const auto& kv : overrides) {
        const int i = model.parameter_index(kv.first, "overrides");
        const ParameterInfo& pi = infos[static_cast<std::size_t>(i)];
        if (!std::isfinite(kv.second) || kv.second < pi.lower || kv.second > pi.upper)
            throw InputError("overrides." + kv.first, fmt(kv.second),
                             "a finite value in [" + fmt(pi.lower) + ", " + fmt(pi.upper) + "] " + pi.unit);
        p[static_cast<std::size_t>(i)] = kv.second;
    }
    return p;
}

}  // namespace crsim
