// crsim: ModelImpl<D> adapts a model type with a templated right-hand side to the Model interface.
// Jacobians and sensitivities come from forward-mode automatic differentiation (Eigen's
// AutoDiffScalar) of the same D::rhs used for plain doubles: fixed-size derivative vectors for the
// state Jacobian (no heap traffic on the hot path), forward-over-forward for the Jacobian of the
// coupled sensitivity system.
#pragma once

#include <Eigen/Core>
#include <unsupported/Eigen/AutoDiff>

#include <vector>

#include "crsim/model.hpp"

namespace crsim {

namespace detail {
// Derivative entry k of an AutoDiffScalar whose derivative vector may be empty (a constant).
template <class AD>
auto deriv(const AD& a, int k) -> typename AD::DerType::Scalar {
    using S = typename AD::DerType::Scalar;
    return a.derivatives().size() > k ? S(a.derivatives()(k)) : S(0.0);
}
}  // namespace detail

template <class D>
class ModelImpl final : public Model {
public:
    static constexpr int N = D::n_states;
    // Jet over (x_0..x_{N-1}, t): fixed size, lives on the stack.
    using Jet = Eigen::AutoDiffScalar<Eigen::Matrix<double, N + 1, 1>>;
    // Directional derivatives along m sensitivity directions, scalar U underneath.
    template <class U>
    using Dir = Eigen::AutoDiffScalar<Eigen::Matrix<U, Eigen::Dynamic, 1>>;

    ModelImpl() : Model(D::info()) {}

    void initial(const double* p, double* x0) const override { D::initial(p, x0); }

    void initial_sensitivity(const double* p, const int* pidx, int m, double* dx0) const override {
        using A = Dir<double>;
        const int np = n_parameters();
        std::vector<A> pa(np), xa(N);
        for (int j = 0; j < np; ++j) pa[j] = A(p[j], Eigen::VectorXd::Zero(m));
        for (int k = 0; k < m; ++k)
            if (pidx[k] >= 0) pa[pidx[k]].derivatives()(k) = 1.0;
        D::initial(pa.data(), xa.data());
        for (int i = 0; i < N; ++i)
            for (int k = 0; k < m; ++k) dx0[i * m + k] = detail::deriv(xa[i], k);
    }

    void rhs(double t, const double* x, const double* p, double* dxdt) const override {
        D::rhs(t, x, p, dxdt);
    }

    void jacobian(double t, const double* x, const double* p, double* J, double* dfdt) const override {
        const int np = n_parameters();
        Jet xs[N], fs[N];
        std::vector<Jet> ps(np);
        for (int i = 0; i < N; ++i) xs[i] = Jet(x[i], N + 1, i);
        for (int j = 0; j < np; ++j) ps[j] = Jet(p[j], Eigen::Matrix<double, N + 1, 1>::Zero());
        const Jet ts(t, N + 1, N);
        D::rhs(ts, xs, ps.data(), fs);
        for (int i = 0; i < N; ++i) {
            for (int j = 0; j < N; ++j) J[i * N + j] = detail::deriv(fs[i], j);
            dfdt[i] = detail::deriv(fs[i], N);
        }
    }

    void observables(double t, const double* x, const double* p, double* y) const override {
        D::observables(t, x, p, y);
    }

    // Up to kMaxDirections sensitivity directions live in stack storage (no heap allocation per
    // arithmetic operation on the right-hand side's hot path); more fall back to heap vectors.
    static constexpr int kMaxDirections = 8;

    void sensitivity_rhs(double t, const double* x, const double* S, const double* p,
                         const int* pidx, int m, double* f, double* dS) const override {
        if (m <= kMaxDirections)
            sensitivity_rhs_as<Eigen::AutoDiffScalar<
                Eigen::Matrix<double, Eigen::Dynamic, 1, 0, kMaxDirections, 1>>>(t, x, S, p, pidx, m, f, dS);
        else
            sensitivity_rhs_as<Dir<double>>(t, x, S, p, pidx, m, f, dS);
    }

    template <class A>
    void sensitivity_rhs_as(double t, const double* x, const double* S, const double* p,
                            const int* pidx, int m, double* f, double* dS) const {
        using V = typename A::DerType;
        std::vector<A> xa(N), pa(n_parameters()), fa(N);
        for (int i = 0; i < N; ++i) xa[i] = A(x[i], Eigen::Map<const Eigen::VectorXd>(S + i * m, m));
        for (int j = 0; j < n_parameters(); ++j) pa[j] = A(p[j], V::Zero(m));
        for (int k = 0; k < m; ++k)
            if (pidx[k] >= 0) pa[pidx[k]].derivatives()(k) = 1.0;
        D::rhs(A(t, V::Zero(m)), xa.data(), pa.data(), fa.data());
        for (int i = 0; i < N; ++i) {
            f[i] = fa[i].value();
            for (int k = 0; k < m; ++k) dS[i * m + k] = detail::deriv(fa[i], k);
        }
    }

    void sensitivity_jacobian(double t, const double* z, const double* p, const int* pidx, int m,
                              double* J, double* B, double* dzdt) const override {
        if (m <= kMaxDirections)
            sensitivity_jacobian_as<Eigen::Matrix<Jet, Eigen::Dynamic, 1, 0, kMaxDirections, 1>>(
                t, z, p, pidx, m, J, B, dzdt);
        else
            sensitivity_jacobian_as<Eigen::Matrix<Jet, Eigen::Dynamic, 1>>(t, z, p, pidx, m, J, B, dzdt);
    }

    template <class InnerVec>
    void sensitivity_jacobian_as(double t, const double* z, const double* p, const int* pidx, int m,
                                 double* J, double* B, double* dzdt) const {
        // Inner directions (sensitivities) over an outer Jet (d/dx, d/dt): the outer derivative of
        // the inner value is J; the outer derivative of inner direction k is d(J S + df/dp)_k/dx.
        using JetVec = Eigen::Matrix<double, N + 1, 1>;
        using A = Eigen::AutoDiffScalar<InnerVec>;
        const int np = n_parameters();
        const double* S = z + N;
        std::vector<A> xa(N), pa(np), fa(N);
        for (int i = 0; i < N; ++i) {
            InnerVec d(m);
            for (int k = 0; k < m; ++k) d(k) = Jet(S[i * m + k], JetVec::Zero());
            xa[i] = A(Jet(z[i], N + 1, i), d);
        }
        for (int j = 0; j < np; ++j) {
            InnerVec d(m);
            for (int k = 0; k < m; ++k) d(k) = Jet(0.0, JetVec::Zero());
            pa[j] = A(Jet(p[j], JetVec::Zero()), d);
        }
        for (int k = 0; k < m; ++k)
            if (pidx[k] >= 0) pa[pidx[k]].derivatives()(k) = Jet(1.0, JetVec::Zero());
        InnerVec dt0(m);
        for (int k = 0; k < m; ++k) dt0(k) = Jet(0.0, JetVec::Zero());
        const A ta(Jet(t, N + 1, N), dt0);
        D::rhs(ta, xa.data(), pa.data(), fa.data());

        for (int i = 0; i < N; ++i) {
            const Jet& v = fa[i].value();
            for (int j = 0; j < N; ++j) J[i * N + j] = detail::deriv(v, j);
            dzdt[i] = detail::deriv(v, N);
            for (int k = 0; k < m; ++k) {
                const Jet dk = fa[i].derivatives().size() > k ? Jet(fa[i].derivatives()(k))
                                                              : Jet(0.0, JetVec::Zero());
                const int row = i * m + k;
                for (int j = 0; j < N; ++j) B[row * N + j] = detail::deriv(dk, j);
                dzdt[N + row] = detail::deriv(dk, N);
            }
        }
    }

    void observables_sensitivity(double t, const double* x, const double* S, const double* p,
                                 const int* pidx, int m, double* y, double* dy) const override {
        using A = Dir<double>;
        const int no = n_observables();
        std::vector<A> xa(N), pa(n_parameters()), ya(no);
        seed_directions(x, S, p, pidx, m, xa, pa);
        D::observables(A(t, Eigen::VectorXd::Zero(m)), xa.data(), pa.data(), ya.data());
        for (int i = 0; i < no; ++i) {
            y[i] = ya[i].value();
            for (int k = 0; k < m; ++k) dy[i * m + k] = detail::deriv(ya[i], k);
        }
    }

private:
    template <class A>
    void seed_directions(const double* x, const double* S, const double* p, const int* pidx, int m,
                         std::vector<A>& xa, std::vector<A>& pa) const {
        for (int i = 0; i < N; ++i)
            xa[i] = A(x[i], Eigen::Map<const Eigen::VectorXd>(S + i * m, m));
        for (int j = 0; j < n_parameters(); ++j) pa[j] = A(p[j], Eigen::VectorXd::Zero(m));
        for (int k = 0; k < m; ++k)
            if (pidx[k] >= 0) pa[pidx[k]].derivatives()(k) = 1.0;
    }
};

}  // namespace crsim
