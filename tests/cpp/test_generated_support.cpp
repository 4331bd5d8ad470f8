// The helpers of generated model code (crsim/generated_support.hpp) on every scalar type the engine
// uses: doubles, AD jets, nested AD (the sensitivity coupling).
#include <cmath>

#include <Eigen/Core>
#include <unsupported/Eigen/AutoDiff>

#include "catch.hpp"
#include "crsim/generated_support.hpp"

namespace {
using Jet = Eigen::AutoDiffScalar<Eigen::Matrix<double, 2, 1>>;
using Eps = Eigen::AutoDiffScalar<Eigen::Matrix<double, 1, 1>>;
using Nested = Eigen::AutoDiffScalar<Eigen::Matrix<Eps, 2, 1>>;
}  // namespace

TEST_CASE("pow_ gives a^b and its derivatives for doubles and AD scalars") {
    using crsim::gen::pow_;
    CHECK(pow_<double>(2.0, 0.75) == std::pow(2.0, 0.75));
    const Jet a(2.0, 2, 0), b(0.75, 2, 1);
    const Jet y = pow_<Jet>(a, b);
    CHECK(std::abs(y.value() - std::pow(2.0, 0.75)) < 1e-15);
    CHECK(std::abs(y.derivatives()(0) - 0.75 * std::pow(2.0, -0.25)) < 1e-14);            // d/da
    CHECK(std::abs(y.derivatives()(1) - std::pow(2.0, 0.75) * std::log(2.0)) < 1e-14);    // d/db
    const Jet yc = pow_<Jet>(a, 3.5);
    CHECK(std::abs(yc.derivatives()(0) - 3.5 * std::pow(2.0, 2.5)) < 1e-12);
    Nested n(Eps(2.0, Eigen::Matrix<double, 1, 1>::Constant(1.0)), Eigen::Matrix<Eps, 2, 1>::Zero());
    n.derivatives()(0) = Eps(1.0, Eigen::Matrix<double, 1, 1>::Zero());
    const Nested yn = pow_<Nested>(n, 0.75);
    CHECK(std::abs(yn.value().value() - std::pow(2.0, 0.75)) < 1e-15);
    CHECK(std::abs(yn.derivatives()(0).value() - 0.75 * std::pow(2.0, -0.25)) < 1e-14);
}

TEST_CASE("pow_ of a zero base with a positive exponent is 0 with finite derivatives (Hill terms)") {
    using crsim::gen::pow_;
    const Jet zero(0.0, 2, 0), h(2.5, 2, 1);
    const Jet y = pow_<Jet>(zero, h);
    CHECK(y.value() == 0.0);
    CHECK(std::isfinite(y.derivatives()(0)));
    CHECK(std::isfinite(y.derivatives()(1)));
}

TEST_CASE("select and the comparisons branch on plain values") {
    using crsim::gen::select;
    using crsim::gen::val;
    const Jet x(3.0, 2, 0);
    const Jet up = select<Jet>(val(x) > 1.0, Jet(x * 2.0), 0.0);
    CHECK(up.value() == 6.0);
    CHECK(up.derivatives()(0) == 2.0);
    const Jet down = select<Jet>(val(x) > 5.0, Jet(x * 2.0), 0.0);
    CHECK(down.value() == 0.0);
    CHECK(crsim::gen::ipow<3, Jet>(x).derivatives()(0) == 27.0);
}
