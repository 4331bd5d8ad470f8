// The structured LU of the Rosenbrock stage matrix (core/src/block_lu.hpp) against Eigen's dense
// LU, the block triangular form it finds, the declared Jacobian patterns of the built-in models
// against their AD Jacobians, and the fallback when a Jacobian leaves its declared pattern.
#include <Eigen/Dense>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "block_lu.hpp"
#include "catch.hpp"
#include "crs_fixture.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/registry.hpp"
#include "test_support.hpp"

using namespace crsim;
using detail::BlockLU;

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// W = c I - D J D^-1, as BlockLU factors it, densely.
Eigen::MatrixXd stage_matrix(const RowMatrix& J, const Eigen::VectorXd& s, double c) {
    Eigen::MatrixXd W = -(s.asDiagonal() * J * s.cwiseInverse().asDiagonal());
    W.diagonal().array() += c;
    return W;
}

// max |x - y| / max |y|
double rel(const Eigen::VectorXd& x, const Eigen::VectorXd& y) {
    return (x - y).cwiseAbs().maxCoeff() / std::max(y.cwiseAbs().maxCoeff(), 1e-300);
}

// A random matrix on a pattern, entries of mixed sign spanning a few orders of magnitude.
RowMatrix random_on(int n, const BlockLU::Pattern& pattern, std::mt19937& rng) {
    std::uniform_real_distribution<double> u(-1.0, 1.0), e(-3.0, 3.0);
    RowMatrix J = RowMatrix::Zero(n, n);
    for (const auto& p : pattern) J(p.first, p.second) = u(rng) * std::pow(10.0, e(rng));
    return J;
}

// The CRS model at day 3 of the default course (a real state on the trajectory).
struct CrsPoint {
    std::vector<double> p, x;
    double t = 72.0;
};
CrsPoint crs_point() {
    const Model& m = crs_test::crs_model();
    crs_test::Scenario sc;
    sc.days = 3.0;
    const crs_test::Run run = crs_test::run(sc);
    CrsPoint pt;
    pt.p = run.p;
    const std::size_t n = static_cast<std::size_t>(m.n_states());
    pt.x.assign(run.tr.states.end() - static_cast<long>(n), run.tr.states.end());
    return pt;
}

}  // namespace

TEST_CASE("block LU solves like a dense LU on random patterns", "[block_lu]") {
    std::mt19937 rng(20261129);
    for (int trial = 0; trial < 200; ++trial) {
        const int n = 1 + static_cast<int>(rng() % 40);
        const double density = 0.02 + 0.3 * (rng() % 100) / 100.0;
        std::uniform_real_distribution<double> u(0.0, 1.0);
        BlockLU::Pattern pattern;
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j)
                if (u(rng) < density) pattern.emplace_back(i, j);
        const RowMatrix J = random_on(n, pattern, rng);
        Eigen::VectorXd s(n), b = Eigen::VectorXd::Random(n);
        for (int i = 0; i < n; ++i) s(i) = std::pow(10.0, 4.0 * u(rng) - 2.0);
        const double c = std::pow(10.0, 4.0 * u(rng) - 2.0);
        BlockLU lu(n, pattern);
        REQUIRE(lu.factor(J.data(), s.data(), c));
        Eigen::VectorXd x = b;
        lu.solve(x.data());
        const Eigen::MatrixXd W = stage_matrix(J, s, c);
        const Eigen::VectorXd ref = W.fullPivLu().solve(b);
        const double cond = W.norm() * W.inverse().norm();  // Frobenius: >= the 2-norm condition
        INFO("trial " << trial << ", n " << n << ", density " << density << ", blocks " << lu.blocks()
                      << ", condition ~" << cond);
        // backward error of the solve (what partial pivoting guarantees, whatever the condition) ...
        CHECK((W * x - b).cwiseAbs().maxCoeff() <= 1e-13 * (W.cwiseAbs() * x.cwiseAbs() + b.cwiseAbs()).maxCoeff());
        // ... and agreement with a full-pivoting dense LU to within the condition number (random
        // sparse triangular chains can be numerically singular; those compare nothing)
        if (cond < 1e12) CHECK(rel(x, ref) <= 1e-15 * cond + 1e-13);
        // the permutation makes W block lower triangular
        const auto& perm = lu.perm();
        const auto& start = lu.block_starts();
        std::vector<int> block(static_cast<std::size_t>(n));
        for (int b2 = 0; b2 < lu.blocks(); ++b2)
            for (int k = start[static_cast<std::size_t>(b2)]; k < start[static_cast<std::size_t>(b2) + 1]; ++k)
                block[static_cast<std::size_t>(k)] = b2;
        std::vector<int> pos(static_cast<std::size_t>(n));
        for (int k = 0; k < n; ++k) pos[static_cast<std::size_t>(perm[static_cast<std::size_t>(k)])] = k;
        for (const auto& e : pattern)
            CHECK(block[static_cast<std::size_t>(pos[static_cast<std::size_t>(e.second)])] <=
                  block[static_cast<std::size_t>(pos[static_cast<std::size_t>(e.first)])]);
    }
}

// 11: myeloid activation, IL-1, IL-6, IL-10, MCP-1, endothelium, IFN-gamma with emapalumab (binding,
// and a clearance rising with IFN-gamma) and the hyperinflammation loop (hyperactivated
// macrophages, IL-18: they feed IL-1 and IFN-gamma, which feed them); 5: effector and memory CAR-T
// cells, dysfunction, tumor, B cells; 2, 2: tocilizumab, siltuximab; the depots, effect sites and
// the rest are singletons.
TEST_CASE("block LU: the CRS Jacobian splits into blocks of 11, 5, 2, 2 and singletons", "[block_lu][crs]") {
    const Model& m = crs_test::crs_model();
    const int n = m.n_states();
    const auto pattern = m.jacobian_pattern();
    CHECK(pattern.size() == 200u);
    BlockLU lu(n, pattern);
    std::vector<int> sizes;
    for (int b = 0; b < lu.blocks(); ++b) sizes.push_back(lu.block_size(b));
    std::sort(sizes.rbegin(), sizes.rend());
    std::vector<int> expected = {11, 5, 2, 2};
    expected.resize(expected.size() + 24, 1);
    CHECK(sizes == expected);

    // On the real stage matrix of day 3 (equilibrated as the stepper does), against Eigen's LU.
    const CrsPoint pt = crs_point();
    RowMatrix J(n, n);
    Eigen::VectorXd dfdt(n), s(n);
    m.jacobian(pt.t, pt.x.data(), pt.p.data(), J.data(), dfdt.data());
    for (int i = 0; i < n; ++i) s(i) = 1.0 / (std::abs(pt.x[static_cast<std::size_t>(i)]) + 1e-2);
    for (double h : {1e-3, 0.1, 10.0}) {
        const double c = 1.0 / (0.25 * h);
        REQUIRE(lu.factor(J.data(), s.data(), c));
        const Eigen::MatrixXd W = stage_matrix(J, s, c);
        const Eigen::VectorXd b = Eigen::VectorXd::Random(n);
        Eigen::VectorXd x = b;
        lu.solve(x.data());
        INFO("h = " << h);
        CHECK(rel(x, W.fullPivLu().solve(b)) <= 1e-12);
    }

    // What it costs (reported, never failed on): factor + 6 solves, as in one Rosenbrock step.
    Eigen::PartialPivLU<Eigen::MatrixXd> eig(n);
    const Eigen::MatrixXd W = stage_matrix(J, s, 40.0);
    Eigen::VectorXd b = Eigen::VectorXd::Random(n), y(n);
    const int reps = 2000;
    auto time = [&](auto&& f) {
        double best = 1e300;
        for (int r = 0; r < 5; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            for (int k = 0; k < reps; ++k) f();
            best = std::min(best, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / reps);
        }
        return best;
    };
    Eigen::MatrixXd Wk(n, n);
    const double t_eigen = time([&] {  // what the stepper did before block_lu.hpp
        Wk = -(s.asDiagonal() * J * s.cwiseInverse().asDiagonal());
        Wk.diagonal().array() += 40.0;
        eig.compute(Wk);
        for (int k = 0; k < 6; ++k) y.noalias() = eig.solve(b);
    });
    const double t_factor = time([&] { lu.factor(J.data(), s.data(), 40.0); });
    const double t_solve = time([&] {
        y = b;
        lu.solve(y.data());
    });
    const double t_block = time([&] {
        lu.factor(J.data(), s.data(), 40.0);
        for (int k = 0; k < 6; ++k) {
            y = b;
            lu.solve(y.data());
        }
    });
    BlockLU one(n, BlockLU::dense_pattern(n));
    const double t_dense = time([&] {
        one.factor(J.data(), s.data(), 40.0);
        for (int k = 0; k < 6; ++k) {
            y = b;
            one.solve(y.data());
        }
    });
    WARN("CRS stage matrix, equilibrate + factor + 6 solves: Eigen PartialPivLU " << t_eigen << " us, unblocked dense LU "
         << t_dense << " us, block triangular LU " << t_block << " us (factor " << t_factor << " us, one solve "
         << t_solve << " us)");
}

TEST_CASE("Jacobians of the built-in models agree with finite differences, entries outside the pattern included",
          "[block_lu][models]") {
    // Generated models compute df/dx along one AD direction per colour of their declared pattern's
    // columns (ModelImpl::coloured_jacobian), so an entry missing from the pattern or a wrong
    // colouring would give wrong entries, not an error: every entry of every built-in model's
    // Jacobian is compared with central differences of the right-hand side at perturbed points
    // (and, for CRS, day 3 of the default course). Entry (i, j) is compared as J_ij x_j against the
    // row's scale max_k |J_ik x_k| + |f_i|: central differences with h = 1e-6 |x_j| err by ~1e-10 of
    // it; a misplaced or missing entry by O(1).
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> u(0.5, 2.0);
    for (const std::string& name : models::builtin_registry().names()) {
        const Model& m = *models::builtin_registry().get(name);
        const int n = m.n_states();
        const auto pattern = m.jacobian_pattern();
        for (const auto& e : pattern) {
            CHECK(e.first >= 0);
            CHECK(e.first < n);
            CHECK(e.second >= 0);
            CHECK(e.second < n);
        }
        std::vector<double> p = m.default_parameters();
        std::vector<double> x(static_cast<std::size_t>(n));
        if (name == "crs") {
            const CrsPoint pt = crs_point();
            p = pt.p;
            x = pt.x;
        } else {
            m.initial(p.data(), x.data());
        }
        std::vector<double> J(static_cast<std::size_t>(n * n)), dfdt(static_cast<std::size_t>(n)), f(static_cast<std::size_t>(n)),
            fp(static_cast<std::size_t>(n)), fm(static_cast<std::size_t>(n));
        double worst = 0.0;
        std::string where;
        for (int trial = 0; trial < 10; ++trial) {
            std::vector<double> xt = x;
            for (auto& v : xt) v = (v == 0.0 ? 1.0 : std::abs(v)) * (trial == 0 ? 1.0 : u(rng));
            const double t = 3.0 * trial;
            m.jacobian(t, xt.data(), p.data(), J.data(), dfdt.data());
            m.rhs(t, xt.data(), p.data(), f.data());
            std::vector<double> row(static_cast<std::size_t>(n), 0.0);
            for (int i = 0; i < n; ++i) {
                row[static_cast<std::size_t>(i)] = std::abs(f[static_cast<std::size_t>(i)]);
                for (int k = 0; k < n; ++k)
                    row[static_cast<std::size_t>(i)] = std::max(row[static_cast<std::size_t>(i)],
                                                                std::abs(J[static_cast<std::size_t>(i * n + k)] * xt[static_cast<std::size_t>(k)]));
            }
            for (int j = 0; j < n; ++j) {
                const double h = 1e-6 * xt[static_cast<std::size_t>(j)];
                std::vector<double> xp = xt, xm = xt;
                xp[static_cast<std::size_t>(j)] += h;
                xm[static_cast<std::size_t>(j)] -= h;
                m.rhs(t, xp.data(), p.data(), fp.data());
                m.rhs(t, xm.data(), p.data(), fm.data());
                for (int i = 0; i < n; ++i) {
                    const double fd = (fp[static_cast<std::size_t>(i)] - fm[static_cast<std::size_t>(i)]) / (2.0 * h);
                    const double err = std::abs((J[static_cast<std::size_t>(i * n + j)] - fd) * xt[static_cast<std::size_t>(j)]) /
                                       std::max(row[static_cast<std::size_t>(i)], 1e-300);
                    if (err > worst) {
                        worst = err;
                        where = "d f_" + m.info().states[static_cast<std::size_t>(i)].name + " / d " +
                                m.info().states[static_cast<std::size_t>(j)].name + " at trial " + std::to_string(trial);
                    }
                }
            }
        }
        INFO(name << ": " << pattern.size() << " declared nonzeros of " << n * n << "; worst " << worst << " (" << where << ")");
        CHECK(worst <= 1e-6);
    }
}

namespace {
// Two coupled states whose Jacobian is full (test only) ...
struct TwoStates {
    static constexpr int n_states = 2;
    static ModelInfo info() {
        ModelInfo m;
        m.name = "test_two_states";
        m.description = "two coupled states (test only)";
        m.states = {{"a", "1", "a", ""}, {"b", "1", "b", ""}};
        m.parameters = {{"k", "1/h", 50.0, 0.0, 1e9, "rate", "test value"}};
        m.observables = {{"a", "1", "a"}};
        return m;
    }
    template <class T> static void initial(const T*, T* x0) {
        x0[0] = T(1.0);
        x0[1] = T(0.0);
    }
    template <class T> static void rhs(const T&, const T* x, const T* p, T* dx) {
        dx[0] = -p[0] * x[0] + 0.5 * p[0] * x[1];
        dx[1] = p[0] * x[0] - p[0] * x[1];
    }
    template <class T> static void observables(const T&, const T* x, const T*, T* y) { y[0] = x[0]; }
};

// ... behind a Model that declares a pattern without J(0, 1) but computes the full Jacobian.
class WrongPattern final : public Model {
public:
    WrongPattern() : Model(TwoStates::info()) {}
    std::vector<std::pair<int, int>> jacobian_pattern() const override { return {{0, 0}, {1, 0}, {1, 1}}; }
    void initial(const double* p, double* x0) const override { inner_.initial(p, x0); }
    void initial_sensitivity(const double* p, const int* pidx, int m, double* dx0) const override {
        inner_.initial_sensitivity(p, pidx, m, dx0);
    }
    void rhs(double t, const double* x, const double* p, double* dxdt) const override { inner_.rhs(t, x, p, dxdt); }
    void jacobian(double t, const double* x, const double* p, double* J, double* dfdt) const override {
        inner_.jacobian(t, x, p, J, dfdt);
    }
    void observables(double t, const double* x, const double* p, double* y) const override {
        inner_.observables(t, x, p, y);
    }
    void sensitivity_rhs(double t, const double* x, const double* S, const double* p, const int* pidx, int m,
                         double* f, double* dS) const override {
        inner_.sensitivity_rhs(t, x, S, p, pidx, m, f, dS);
    }
    void sensitivity_coupling(double t, const double* z, const double* p, const int* pidx, int m, const double* v,
                              double vt, double* out) const override {
        inner_.sensitivity_coupling(t, z, p, pidx, m, v, vt, out);
    }
    void observables_sensitivity(double t, const double* x, const double* S, const double* p, const int* pidx,
                                 int m, double* y, double* dy) const override {
        inner_.observables_sensitivity(t, x, S, p, pidx, m, y, dy);
    }

private:
    ModelImpl<TwoStates> inner_;
};
}  // namespace

TEST_CASE("a Jacobian outside its declared pattern falls back to the dense LU", "[block_lu]") {
    // (A model with a declared pattern computes only the pattern's entries, by coloured AD: the
    // fallback is for a Model whose jacobian() fills entries its jacobian_pattern() leaves out.)
    const WrongPattern m;
    REQUIRE(m.jacobian_pattern().size() == 3u);
    Problem pr = testsupport::tight(Method::Rosenbrock4, 1e-10, 1e-12);
    pr.times = testsupport::grid(0.0, 1.0, 11);
    const Trajectory tr = simulate(m, pr);
    // exact: eigenvalues of k [[-1, 0.5], [1, -1]] are k (-1 +- sqrt(0.5))
    const double k = 50.0, r = std::sqrt(0.5), l1 = k * (-1.0 + r), l2 = k * (-1.0 - r);
    for (std::size_t i = 0; i < tr.times.size(); ++i) {
        const double t = tr.times[i];
        const double a = 0.5 * (std::exp(l1 * t) + std::exp(l2 * t));
        INFO("t = " << t);
        CHECK(std::abs(tr.states[2 * i] - a) <= 1e-8);
    }
}
