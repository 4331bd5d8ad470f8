// crsim: the Rosenbrock stepper of the engine, with a linear solve that knows the structure of the
// coupled state + forward-sensitivity system.
//
// Method: the 4th-order, L-stable Rosenbrock method with an embedded 3rd-order error estimate and a
// 3rd-order continuous extension (Shampine, ACM TOMS 8 (1982) 93-113; Hairer & Wanner, Solving
// ODEs II, 2nd ed., Springer 1996, Sec. IV.7), with Boost.Odeint's coefficient table
// (boost::numeric::odeint::default_rosenbrock_coefficients), step-size controller
// (rosenbrock4_controller) and dense-output driver (rosenbrock4_dense_output). What differs from
// odeint::rosenbrock4 is how the stage equations W g = r, W = I / (gamma h) - dF/dz, are solved
// (block by block, below, with W equilibrated by the states' magnitudes before its LU, which uses
// the block triangular structure of the model's Jacobian: block_lu.hpp), and one
// coefficient: the weight d4 of dF/dt in stage 4 is -0.0362 here, +0.0362 in Odeint's table
// (Boost 1.74 and 1.83). With +0.0362 a step is only first-order accurate for right-hand sides that
// depend on t explicitly (measured on the CRS model, whose homeostatic expansion term decays with t:
// local error O(h^2) instead of O(h^5), global error 2e-3 at rtol 1e-8); with -0.0362 the local
// error is O(h^5) again (tests/cpp/test_block_rosenbrock.cpp). Autonomous problems never see d_i.
//
// For z = [x; vec(S)] (n states, m sensitivity columns s_k, S row-major n x m) the Jacobian of the
// coupled right-hand side F = [f(x); J s_k + df/dp_k] is block lower triangular,
//
//           | J    0   ...  0 |      J   = df/dx                          (n x n)
//   dF/dz = | B_1  J   ...  0 |      B_k = d(J s_k + df/dp_k)/dx         (n x n)
//           | ...             |
//           | B_m  0   ...  J |
//
// so W has the n x n block A = I / (gamma h) - J on its diagonal. One LU of A serves every block
// (block_lu.hpp: A permuted to the block triangular form of J's sparsity pattern, only its diagonal
// blocks factored): A g_x = r_x, then A g_k = r_k + B_k g_x, where the products B_k g_x come from one
// directional derivative of the sensitivity right-hand side (Model::sensitivity_coupling) and the
// B_k are never formed. A dense LU of the whole n(1+m) system costs (1+m)^3 times more (CRS model,
// 4 sensitivities: 125x). The solve is exact, so the method and its order are those of the
// unstructured Rosenbrock step. With m = 0 this is the plain stepper.
//
// Reuse: a step the controller rejects is retried from the same state and time with a shorter step,
// so F(z, t), dF/dz and dF/dt are those of the rejected attempt: the retry reuses them (and the
// equilibration) and only refactors W, whose diagonal 1 / (gamma h) changed. A Rosenbrock method
// needs the exact Jacobian at the step's start for its order (it is not a W-method), so nothing is
// carried over between accepted steps.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <Eigen/Dense>
#include <boost/numeric/odeint.hpp>

#include "block_lu.hpp"

namespace crsim {
namespace detail {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The part of dF/dz the stepper stores, filled by the system's Jacobian function.
struct BlockJacobian {
    RowMatrix J;           // n x n: df/dx
    Eigen::VectorXd dfdt;  // n (1 + m): dF/dt
};

class BlockRosenbrock4 {
public:
    using value_type = double;
    using time_type = double;
    using state_type = boost::numeric::ublas::vector<double>;
    using deriv_type = state_type;
    using wrapped_state_type = boost::numeric::odeint::state_wrapper<state_type>;
    using wrapped_deriv_type = boost::numeric::odeint::state_wrapper<deriv_type>;
    using resizer_type = boost::numeric::odeint::initially_resizer;
    using stepper_category = boost::numeric::odeint::stepper_tag;
    using order_type = unsigned short;
    static const order_type stepper_order = 4;
    static const order_type error_order = 3;

    BlockRosenbrock4() = default;
    // scale_floor (state units): the |x| below which a state's scale stops shrinking in the
    // equilibration of the stage matrix (the engine passes atol / rtol). pattern: the (row, col)
    // entries of df/dx that may be nonzero (Model::jacobian_pattern); null = dense.
    BlockRosenbrock4(int n, int m, bool sensitivity_error_control = true, double scale_floor = 1e-2,
                     const BlockLU::Pattern* pattern = nullptr)
        : n_(n), m_(m), sensitivity_error_control_(sensitivity_error_control), scale_floor_(scale_floor),
          lu_(n, pattern ? *pattern : BlockLU::dense_pattern(n)) {
        const int N = n * (1 + m);
        jac_.J.resize(n, n);
        jac_.dfdt.resize(N);
        for (auto& g : g_) g.resize(N);
        cont3_.resize(N);
        cont4_.resize(N);
        sx_.resize(n);
        rS_.resize(n, m);
        scale_.resize(n);
        bv_.resize(n * m);
        f_.resize(static_cast<std::size_t>(N));
        xtmp_.resize(static_cast<std::size_t>(N));
    }

    order_type order() const { return stepper_order; }

    // When set, every step writes an estimate of the spectral radius of df/dx at its start to
    // *out (-1 when the Jacobian is not finite): two power iterations on the equilibrated Jacobian
    // D J D^-1 (same eigenvalues), whose vector carries over from step to step so that the
    // estimate converges as the run goes on. Method "auto" uses it to hand back to dopri5
    // (stiffness.hpp). Cost: two n x n matrix-vector products per step.
    void estimate_spectral_radius(double* out) { rho_out_ = out; }

    // When set, every step attempt (accepted or rejected) adds 1 to *out: the rejected steps are
    // attempts - accepted steps (Jacobian evaluations no longer count attempts: a retry reuses one).
    void count_attempts(long* out) { attempts_out_ = out; }

    // When set, every step attempt writes to *out the component whose error estimate is the
    // largest relative to its tolerance, |err_i| / (atol + rtol max(|x_i|, |xout_i|)) (the
    // controller's weights, with scale_floor = atol / rtol): the engine names its state when the
    // step size control fails.
    void watch_error(int* out) { worst_out_ = out; }

    // System: pair (deriv(z, dzdt, t) on state_type, jac) where jac(z, BlockJacobian&, t) fills J
    // and dF/dt, and jac.coupling(z, t, v, out) sets out (n m) to [B_1 v; ...; B_m v] in the layout
    // of vec(S).
    template <class System>
    void do_step(System system, const state_type& x, time_type t, state_type& xout, time_type dt,
                 state_type& xerr) {
        auto& deriv = system.first;
        auto& jac = system.second;
        const double* x0 = &x[0];
        const auto& c = coef_;

        if (attempts_out_) ++*attempts_out_;
        const std::size_t N = x.size();
        const bool retry = have_start_ && t == t_start_ && std::equal(x0, x0 + N, z_start_.data());
        if (retry) {
            std::copy(f_start_.begin(), f_start_.end(), f_.begin());
        } else {
            deriv(x, f_, t);
            jac(x, jac_, t);
            z_start_.assign(x0, x0 + N);
            f_start_.assign(f_.begin(), f_.end());
            t_start_ = t;
            have_start_ = true;
        }
        // Equilibrated LU: W~ = D W D^-1 with D = diag(1 / (|x_i| + floor)). The states span many
        // orders of magnitude in their units (cells, pg/mL, mg, fractions), and unscaled partial
        // pivoting lost up to 7 digits on the CRS model (tests/cpp/test_block_rosenbrock.cpp).
        for (int i = 0; i < n_; ++i) scale_(i) = 1.0 / (std::abs(x0[i]) + scale_floor_);
        if (!lu_.factor(jac_.J.data(), scale_.data(), 1.0 / (c.gamma * dt))) {
            // df/dx has a nonzero outside the model's declared pattern: use the dense one from now on
            lu_ = BlockLU(n_, BlockLU::dense_pattern(n_));
            lu_.factor(jac_.J.data(), scale_.data(), 1.0 / (c.gamma * dt));
        }
        if (rho_out_) *rho_out_ = spectral_radius();

        const auto f = map(f_);
        const auto& dfdt = jac_.dfdt;
        auto& g1 = g_[0];
        auto& g2 = g_[1];
        auto& g3 = g_[2];
        auto& g4 = g_[3];
        auto& g5 = g_[4];
        auto& ge = g_[5];
        const Eigen::Map<const Eigen::VectorXd> z(x0, f.size());
        auto xt = map(xtmp_);

        g1 = f + (dt * c.d1) * dfdt;
        solve(g1, jac, x, t);

        xt = z + c.a21 * g1;
        deriv(xtmp_, f_, t + c.c2 * dt);
        g2 = f + (dt * c.d2) * dfdt + (c.c21 / dt) * g1;
        solve(g2, jac, x, t);

        xt = z + c.a31 * g1 + c.a32 * g2;
        deriv(xtmp_, f_, t + c.c3 * dt);
        g3 = f + (dt * c.d3) * dfdt + (1.0 / dt) * (c.c31 * g1 + c.c32 * g2);
        solve(g3, jac, x, t);

        xt = z + c.a41 * g1 + c.a42 * g2 + c.a43 * g3;
        deriv(xtmp_, f_, t + c.c4 * dt);
        g4 = f + (dt * kD4) * dfdt + (1.0 / dt) * (c.c41 * g1 + c.c42 * g2 + c.c43 * g3);
        solve(g4, jac, x, t);

        xt = z + c.a51 * g1 + c.a52 * g2 + c.a53 * g3 + c.a54 * g4;
        deriv(xtmp_, f_, t + dt);
        g5 = f + (1.0 / dt) * (c.c51 * g1 + c.c52 * g2 + c.c53 * g3 + c.c54 * g4);
        solve(g5, jac, x, t);

        xt += g5;
        deriv(xtmp_, f_, t + dt);
        ge = f + (1.0 / dt) * (c.c61 * g1 + c.c62 * g2 + c.c63 * g3 + c.c64 * g4 + c.c65 * g5);
        solve(ge, jac, x, t);

        map(xout) = xt + ge;
        map(xerr) = ge;
        if (m_ > 0 && !sensitivity_error_control_) {
            // The controller's norm is the RMS over all n (1 + m) components: scale the states'
            // part so that it equals the RMS over the n states alone.
            auto e = map(xerr);
            e.head(n_) *= std::sqrt(static_cast<double>(1 + m_));
            e.tail(static_cast<Eigen::Index>(n_) * m_).setZero();
        }
        if (worst_out_) {
            double worst = -1.0;
            for (std::size_t i = 0; i < N; ++i) {
                const double w = std::abs(xerr[i]) /
                                 (scale_floor_ + std::max(std::abs(x0[i]), std::abs(xout[i])));
                if (w > worst || !(w == w)) {  // a NaN estimate is the worst
                    worst = w == w ? w : std::numeric_limits<double>::infinity();
                    *worst_out_ = static_cast<int>(i);
                }
            }
        }
    }

    void prepare_dense_output() {
        const auto& c = coef_;
        cont3_ = c.d21 * g_[0] + c.d22 * g_[1] + c.d23 * g_[2] + c.d24 * g_[3] + c.d25 * g_[4];
        cont4_ = c.d31 * g_[0] + c.d32 * g_[1] + c.d33 * g_[2] + c.d34 * g_[3] + c.d35 * g_[4];
    }

    // Continuous extension on [t_old, t_new] (3rd order).
    void calc_state(time_type t, state_type& x, const state_type& x_old, time_type t_old,
                    const state_type& x_new, time_type t_new) const {
        const double s = (t - t_old) / (t_new - t_old);
        const double s1 = 1.0 - s;
        map(x) = s1 * cmap(x_old) + s * (cmap(x_new) + s1 * (cont3_ + s * cont4_));
    }

    template <class StateType>
    void adjust_size(const StateType&) {}

private:
    static Eigen::Map<Eigen::VectorXd> map(state_type& v) {
        return Eigen::Map<Eigen::VectorXd>(&v[0], static_cast<Eigen::Index>(v.size()));
    }
    static Eigen::Map<const Eigen::VectorXd> cmap(const state_type& v) {
        return Eigen::Map<const Eigen::VectorXd>(&v[0], static_cast<Eigen::Index>(v.size()));
    }

    // Two power iterations on D J D^-1 from the vector of the previous step. A little of the
    // all-ones vector is mixed in before each product: a block-triangular J leaves the subspace of
    // its downstream blocks invariant, and a vector that converged there would otherwise never see
    // an upstream block whose eigenvalue becomes dominant later in the run.
    double spectral_radius() {
        const double mix = 1e-2 / std::sqrt(static_cast<double>(n_));
        if (pv_.size() != n_) pv_ = Eigen::VectorXd::Constant(n_, 1.0 / std::sqrt(static_cast<double>(n_)));
        double rho = 0.0;
        for (int it = 0; it < 2; ++it) {
            const double nv0 = pv_.norm();
            if (nv0 > 0.0) pv_ /= nv0;
            pv_.array() += mix;
            const double nv = pv_.norm();
            pw_.noalias() = jac_.J * pv_.cwiseQuotient(scale_);
            pw_.array() *= scale_.array();
            const double nw = pw_.norm();
            if (!std::isfinite(nw)) {
                pv_.resize(0);
                return -1.0;
            }
            rho = nw / nv;
            if (nw == 0.0) {
                pv_.resize(0);
                return 0.0;
            }
            pv_.swap(pw_);
        }
        return rho;
    }

    // g <- W^{-1} g by block forward substitution; jac.coupling gives [B_1 v; ...; B_m v] at (x, t).
    template <class Jac>
    void solve(Eigen::VectorXd& g, Jac& jac, const state_type& x, double t) {
        sx_ = scale_.cwiseProduct(g.head(n_));
        lu_.solve(sx_.data());
        sx_.array() /= scale_.array();
        g.head(n_) = sx_;
        if (m_ == 0) return;
        jac.coupling(x, t, sx_.data(), bv_.data());
        g.tail(bv_.size()) += bv_;
        Eigen::Map<RowMatrix> G(g.data() + n_, n_, m_);
        rS_ = scale_.asDiagonal() * G;  // column-major: each column contiguous
        for (int k = 0; k < m_; ++k) lu_.solve(rS_.col(k).data());
        G = scale_.cwiseInverse().asDiagonal() * rS_;
    }

    int n_ = 0;
    int m_ = 0;
    bool sensitivity_error_control_ = true;
    double scale_floor_ = 1e-2;
    BlockLU lu_;
    BlockJacobian jac_;
    Eigen::VectorXd g_[6];
    Eigen::VectorXd cont3_, cont4_, sx_, bv_;
    Eigen::MatrixXd rS_;
    Eigen::VectorXd scale_;  // equilibration: W~ = diag(scale) W diag(scale)^-1
    state_type f_, xtmp_;
    double* rho_out_ = nullptr;
    long* attempts_out_ = nullptr;
    int* worst_out_ = nullptr;
    // the start of the last attempt (z, F(z, t), t): a rejected step's retry starts there again
    std::vector<double> z_start_, f_start_;
    double t_start_ = 0.0;
    bool have_start_ = false;
    Eigen::VectorXd pv_, pw_;  // power iteration (spectral_radius)
    boost::numeric::odeint::default_rosenbrock_coefficients<double> coef_;
    static constexpr double kD4 = -0.3620000000000023e-01;  // see the header comment
};

}  // namespace detail
}  // namespace crsim
