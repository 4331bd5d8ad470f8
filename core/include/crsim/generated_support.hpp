// crsim: helpers for model code generated from model sources (models/codegen). The generated
// right-hand sides are templates over the state scalar T and the parameter scalar P (double or an
// Eigen AutoDiffScalar, possibly nested); these helpers give the few operations whose meaning must be
// the same for every scalar type: the plain value for comparisons, a typed branch for piecewise
// expressions, small integer powers as products, and pow with a non-constant exponent.
#pragma once

#include <cmath>
#include <type_traits>

namespace crsim::gen {

// The plain value of a double or of an automatic-differentiation scalar (nested or not).
inline double val(double v) { return v; }
inline double val(float v) { return v; }
inline double val(int v) { return v; }
inline double val(bool v) { return v ? 1.0 : 0.0; }
template <class A>
double val(const A& v) { return val(v.value()); }

// piecewise: a branch on plain values; the result is converted to the context's scalar type R, so
// derivatives follow the branch taken (a step's derivative is 0, as for any AD tool).
template <class R, class A, class B>
R select(bool condition, const A& a, const B& b) {
    return condition ? R(a) : R(b);
}

template <int N, class R>
R ipow(const R& x) {
    static_assert(N >= 1 && N <= 4, "small integer powers only");
    if constexpr (N == 1) return x;
    else if constexpr (N == 2) return R(x * x);
    else if constexpr (N == 3) return R(x * x * x);
    else { const R x2 = x * x; return R(x2 * x2); }
}

// pow for AD scalars (also nested ones, which Eigen's pow does not take) and exponents that may
// carry derivatives: exp(b log a), with 0^b = 0 for b > 0 (a Hill term x^h at x = 0; exp(b log 0)
// would give a NaN derivative there).
template <class R, class A, class B>
R pow_(const A& a, const B& b) {
    using std::exp;
    using std::log;
    using std::pow;
    if constexpr (std::is_arithmetic_v<R>) {
        return pow(double(a), double(b));
    } else {
        if (val(a) == 0.0 && val(b) > 0.0) return R(0.0);
        return R(exp(R(b) * log(R(a))));
    }
}

template <class R, class A>
R abs_(const A& a) { return val(a) < 0.0 ? R(-R(a)) : R(a); }
template <class R, class A, class B>
R min_(const A& a, const B& b) { return val(a) <= val(b) ? R(a) : R(b); }
template <class R, class A, class B>
R max_(const A& a, const B& b) { return val(a) >= val(b) ? R(a) : R(b); }
template <class A>
double floor_(const A& a) { return std::floor(val(a)); }
template <class A>
double ceil_(const A& a) { return std::ceil(val(a)); }

// Elementary functions: std:: for doubles, found by argument-dependent lookup (Eigen) for AD scalars.
namespace math {
using std::acos;
using std::asin;
using std::atan;
using std::cos;
using std::cosh;
using std::exp;
using std::log;
using std::pow;
using std::sin;
using std::sinh;
using std::sqrt;
using std::tan;
using std::tanh;
}  // namespace math

}  // namespace crsim::gen
