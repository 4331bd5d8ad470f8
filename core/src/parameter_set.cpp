#include "crsim/parameter_set.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "crsim/errors.hpp"

namespace crsim {

namespace {
using json = nlohmann::json;

std::string stem_of(const std::string& path) {
    const auto slash = path.find_last_of("/\\");
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    const auto dot = base.rfind('.');
    return dot == std::string::npos ? base : base.substr(0, dot);
}

std::string type_of(const json& j) { return j.type_name(); }

std::string get_string(const json& obj, const std::string& key, const std::string& field,
                       bool required) {
    if (!obj.contains(key)) {
        if (required) throw InputError(field + "." + key, "missing", "a string");
        return {};
    }
    const json& v = obj.at(key);
    if (!v.is_string()) throw InputError(field + "." + key, type_of(v), "a string");
    return v.get<std::string>();
}

ParameterEntry read_entry(const json& j, const std::string& field) {
    if (!j.is_object())
        throw InputError(field, type_of(j), "an object {\"value\": number, \"unit\": string, "
                                            "\"source\": string}");
    ParameterEntry e;
    if (!j.contains("value")) throw InputError(field + ".value", "missing", "a finite number");
    const json& v = j.at("value");
    if (!v.is_number()) throw InputError(field + ".value", v.dump(), "a finite number");
    e.value = v.get<double>();
    if (!std::isfinite(e.value)) throw InputError(field + ".value", fmt(e.value), "a finite number");
    e.unit = get_string(j, "unit", field, true);
    e.source = get_string(j, "source", field, true);
    if (e.source.empty())
        throw InputError(field + ".source", "\"\"",
                         "a citation, \"calibrated: <target>\" or \"modelling choice: <reason>\"");
    e.note = get_string(j, "note", field, false);
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        if (k.empty() || k[0] == '_') continue;
        if (k != "value" && k != "unit" && k != "source" && k != "note")
            throw InputError(field + "." + k, "present", "only value, unit, source, note");
    }
    return e;
}

void read_section(const json& root, const std::string& key, const std::string& file,
                  std::map<std::string, ParameterEntry>& out, std::vector<std::string>* names) {
    if (!root.contains(key)) return;
    const json& sec = root.at(key);
    if (!sec.is_object()) throw InputError(file + ": " + key, type_of(sec), "an object");
    for (auto it = sec.begin(); it != sec.end(); ++it) {
        if (!it.key().empty() && it.key()[0] == '_') continue;
        const std::string field = file + ": " + key + "." + it.key();
        if (out.count(it.key()))
            throw InputError(field, "listed twice", "each parameter once (in patient or parameters)");
        out[it.key()] = read_entry(it.value(), field);
        if (names) names->push_back(it.key());
    }
}
}  // namespace

ParameterSet load_parameter_set(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw InputError("parameter_set", "'" + path + "'", "a readable JSON file");
    json root;
    try {
        root = json::parse(in, nullptr, true, /*ignore_comments=*/false);
    } catch (const json::parse_error& e) {
        throw InputError(path, "malformed JSON", std::string("valid JSON (") + e.what() + ")");
    }
    if (!root.is_object()) throw InputError(path, type_of(root), "a JSON object");
    ParameterSet s;
    s.path = path;
    s.name = stem_of(path);
    s.model = get_string(root, "model", path + ": ", true);
    if (s.model.empty()) throw InputError(path + ": model", "\"\"", "a model name");
    s.description = get_string(root, "description", path + ": ", false);
    if (root.contains("sources")) {
        const json& src = root.at("sources");
        if (!src.is_array()) throw InputError(path + ": sources", type_of(src), "an array of strings");
        for (std::size_t i = 0; i < src.size(); ++i) {
            if (!src[i].is_string())
                throw InputError(path + ": sources[" + std::to_string(i) + "]", type_of(src[i]),
                                 "a string (a citation)");
            s.sources.push_back(src[i].get<std::string>());
        }
    }
    read_section(root, "patient", path, s.parameters, &s.patient);
    read_section(root, "parameters", path, s.parameters, nullptr);
    read_section(root, "regimen", path, s.regimen, nullptr);
    for (auto it = root.begin(); it != root.end(); ++it) {
        const std::string& k = it.key();
        if (k.empty() || k[0] == '_') continue;
        if (k != "model" && k != "description" && k != "sources" && k != "patient" &&
            k != "parameters" && k != "regimen")
            throw InputError(path + ": " + k, "present",
                             "only model, description, sources, patient, regimen, parameters");
    }
    return s;
}

std::vector<double> parameters_from(const Model& model, const ParameterSet& set,
                                    const std::map<std::string, double>& overrides) {
    const std::string& file = set.path.empty() ? set.name : set.path;
    if (set.model != model.name())
        throw InputError(file + ": model", "'" + set.model + "'", "'" + model.name() + "' (the model it is used with)");
    const auto& infos = model.info().parameters;
    for (const auto& kv : set.parameters) {
        bool known = false;
        for (const auto& pi : infos) known = known || pi.name == kv.first;
        if (!known) {
            std::string names;
            for (const auto& pi : infos) names += (names.empty() ? "" : ", ") + pi.name;
            throw InputError(file + ": parameters." + kv.first, "unknown parameter",
                             "a parameter of model " + model.name() + ": one of {" + names + "}");
        }
    }
    std::vector<double> p(infos.size());
    for (std::size_t i = 0; i < infos.size(); ++i) {
        const ParameterInfo& pi = infos[i];
        const auto it = set.parameters.find(pi.name);
        if (it == set.parameters.end())
            throw InputError(file + ": parameters." + pi.name, "missing",
                             "every parameter of model " + model.name() + " (" + pi.unit + ")");
        if (it->second.unit != pi.unit)
            throw InputError(file + ": parameters." + pi.name + ".unit", "'" + it->second.unit + "'",
                             "'" + pi.unit + "' (the model's unit)");
        const double v = it->second.value;
        if (!(v >= pi.lower && v <= pi.upper))
            throw InputError(file + ": parameters." + pi.name, fmt(v),
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
