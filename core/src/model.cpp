#include "crsim/model.hpp"

#include <cmath>
#include <utility>

#include "crsim/errors.hpp"

namespace crsim {

namespace {
template <class Info>
std::string list_names(const std::vector<Info>& items) {
    std::string s;
    for (const auto& it : items) s += (s.empty() ? "" : ", ") + it.name;
    return "one of {" + s + "}";
}
template <class Info>
int find_index(const std::vector<Info>& items, const std::string& name, const std::string& field) {
    for (std::size_t i = 0; i < items.size(); ++i)
        if (items[i].name == name) return static_cast<int>(i);
    throw InputError(field, "'" + name + "'", list_names(items));
}
}  // namespace

Model::Model(ModelInfo info) : info_(std::move(info)) {}

std::vector<std::pair<int, int>> Model::jacobian_pattern() const {
    const int n = n_states();
    std::vector<std::pair<int, int>> all;
    all.reserve(static_cast<std::size_t>(n) * static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) all.emplace_back(i, j);
    return all;
}

int Model::state_index(const std::string& name, const std::string& field) const {
    return find_index(info_.states, name, field);
}
int Model::parameter_index(const std::string& name, const std::string& field) const {
    return find_index(info_.parameters, name, field);
}
int Model::observable_index(const std::string& name, const std::string& field) const {
    return find_index(info_.observables, name, field);
}

std::vector<double> Model::default_parameters() const {
    std::vector<double> p;
    p.reserve(info_.parameters.size());
    for (const auto& pi : info_.parameters) p.push_back(pi.value);
    return p;
}

std::vector<double> Model::parameters_with(const std::map<std::string, double>& overrides) const {
    std::vector<double> p = default_parameters();
    for (const auto& kv : overrides) p[parameter_index(kv.first, "parameters")] = kv.second;
    check_parameters(p);
    return p;
}

void Model::check_parameters(const std::vector<double>& p) const {
    if (p.size() != info_.parameters.size())
        throw InputError("parameters", std::to_string(p.size()) + " values",
                         std::to_string(info_.parameters.size()) + " values for model " + name());
    for (std::size_t i = 0; i < p.size(); ++i) {
        const auto& pi = info_.parameters[i];
        if (!std::isfinite(p[i]) || p[i] < pi.lower || p[i] > pi.upper)
            throw InputError("parameters." + pi.name, fmt(p[i]),
                             "a finite value in [" + fmt(pi.lower) + ", " + fmt(pi.upper) + "] " +
                                 pi.unit);
    }
}

double Model::dose_factor(int state, const double* p) const {
    const StateInfo& s = info_.states.at(static_cast<std::size_t>(state));
    if (s.dose_scale_param < 0) return s.dose_scale;
    return s.dose_scale * std::pow(p[s.dose_scale_param], s.dose_scale_power);
}

double Model::dose_factor_derivative(int state, const double* p) const {
    const StateInfo& s = info_.states.at(static_cast<std::size_t>(state));
    if (s.dose_scale_param < 0) return 0.0;
    const double q = p[s.dose_scale_param];
    return s.dose_scale * s.dose_scale_power * std::pow(q, s.dose_scale_power - 1.0);
}

}  // namespace crsim
