// Small helpers shared by the engine tests: model lookup, output grids, dose records, tight solver
// options and exception-message capture.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "crsim/errors.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/simulate.hpp"

namespace testsupport {

inline const crsim::Model& model(const std::string& name) {
    return *crsim::models::builtin_registry().get(name);
}

// n equally spaced times from t0 to t1 inclusive (h).
inline std::vector<double> grid(double t0, double t1, int n) {
    std::vector<double> t;
    for (int i = 0; i < n; ++i) t.push_back(t0 + (t1 - t0) * i / (n - 1));
    return t;
}

inline crsim::Problem tight(crsim::Method method, double rtol = 1e-10, double atol = 1e-12) {
    crsim::Problem pr;
    pr.options.method = method;
    pr.options.rtol = rtol;
    pr.options.atol = atol;
    return pr;
}

inline crsim::Dose bolus(const std::string& target, double t, double amount) {
    crsim::Dose d;
    d.target = target;
    d.time = t;
    d.amount = amount;
    return d;
}

inline crsim::Dose infusion_rate(const std::string& target, double t, double amount, double rate) {
    crsim::Dose d = bolus(target, t, amount);
    d.rate = rate;
    return d;
}

inline crsim::Dose infusion_duration(const std::string& target, double t, double amount,
                                     double duration) {
    crsim::Dose d = bolus(target, t, amount);
    d.duration = duration;
    return d;
}

// Element (row, col) of a row-major T x width array.
inline double at(const std::vector<double>& a, std::size_t width, std::size_t row, std::size_t col) {
    return a[row * width + col];
}

inline double rel_diff(double a, double b, double floor = 0.0) {
    const double s = std::max({std::abs(a), std::abs(b), floor});
    return s == 0.0 ? 0.0 : std::abs(a - b) / s;
}

// Largest relative difference between two arrays (elementwise, against max(|a|,|b|,floor)).
inline double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b,
                           double floor = 0.0) {
    double w = 0.0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        w = std::max(w, rel_diff(a[i], b[i], floor));
    return a.size() == b.size() ? w : std::numeric_limits<double>::infinity();
}

// Runs f, expects an exception of type E and returns its what(); "<no exception>" otherwise
// (a different exception type propagates and fails the test case).
template <class E, class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "<no exception>";
}

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace testsupport
