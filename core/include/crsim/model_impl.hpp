// crsim: ModelImpl<D> adapts a model type with a templated right-hand side to the Model interface.
// Jacobians and sensitivities come from forward-mode automatic differentiation (Eigen's
// AutoDiffScalar) of the same D::rhs used for plain doubles: fixed-size derivative vectors for the
// state Jacobian (no heap traffic on the hot path), forward-over-forward along one direction for the
// coupling of the sensitivity equations to the state.
#pragma once

#include <Eigen/Core>
#include <unsupported/Eigen/AutoDiff>

#include <algorithm>
#include <functional>
#include <type_traits>
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
// A zero derivative vector for m directions (fixed-size vectors keep their size, padded).
template <class V>
V zeros(int m) {
    if constexpr (V::SizeAtCompileTime == Eigen::Dynamic)
        return V::Zero(m);
    else
        return V::Zero();
}
// D::kMixedScalars = true: D's rhs and observables are templates over the state scalar T and the
// parameter scalar P separately (generated models), so a Jacobian keeps the parameters as doubles.
template <class D, class = void>
struct mixed_scalars : std::false_type {};
template <class D>
struct mixed_scalars<D, std::void_t<decltype(D::kMixedScalars)>>
    : std::integral_constant<bool, D::kMixedScalars> {};
// D::jacobian_nnz, D::jacobian_rows[], D::jacobian_cols[]: the Jacobian's sparsity pattern
// (generated models).
template <class D, class = void>
struct has_jacobian_pattern : std::false_type {};
template <class D>
struct has_jacobian_pattern<D, std::void_t<decltype(D::jacobian_nnz), decltype(D::jacobian_rows[0]),
                                           decltype(D::jacobian_cols[0])>> : std::true_type {};

// D::n_prepared, D::prepare and D::rhs_prepared: a "prepare" stage (generated models, mixed scalars):
// the right-hand side's parameter-only quantities, computed once per parameter vector.
template <class D, class = void>
struct has_prepare : std::false_type {};
template <class D>
struct has_prepare<D, std::void_t<decltype(D::n_prepared)>> : std::integral_constant<bool, mixed_scalars<D>::value> {};
// ... and D::observables_prepared(t, x, p, q, y) (generated models since generator version 3): the
// observables from the same prepared vector.
template <class D, class = void>
struct has_observables_prepared : std::false_type {};
template <class D>
struct has_observables_prepared<
    D, std::void_t<decltype(D::template observables_prepared<double, double>(
           0.0, static_cast<const double*>(nullptr), static_cast<const double*>(nullptr),
           static_cast<const double*>(nullptr), static_cast<double*>(nullptr)))>>
    : has_prepare<D> {};

// Column colouring of a Jacobian sparsity pattern (Curtis, Powell & Reid 1974): columns that share no
// row get the same colour, so one forward-mode direction per colour (the sum of their unit vectors)
// recovers all of them: df_i/dx_j is the derivative of f_i along colour(j), the only column of that
// colour in row i. Greedy in column order; computed at compile time from D's static pattern.
template <int N>
struct ColumnColouring {
    int n_colours = 0;
    int colour[N > 0 ? N : 1] = {};
};

template <class D>
constexpr ColumnColouring<D::n_states> colour_columns() {
    constexpr int N = D::n_states;
    constexpr int NNZ = D::jacobian_nnz;
    ColumnColouring<N> c{};
    // entries grouped by row and by column (counting sort)
    int row_ptr[N + 1] = {}, col_ptr[N + 1] = {};
    int by_row[NNZ > 0 ? NNZ : 1] = {}, by_col[NNZ > 0 ? NNZ : 1] = {};
    for (int e = 0; e < NNZ; ++e) {
        ++row_ptr[D::jacobian_rows[e] + 1];
        ++col_ptr[D::jacobian_cols[e] + 1];
    }
    for (int i = 0; i < N; ++i) {
        row_ptr[i + 1] += row_ptr[i];
        col_ptr[i + 1] += col_ptr[i];
    }
    int rfill[N + 1] = {}, cfill[N + 1] = {};
    for (int i = 0; i <= N; ++i) {
        rfill[i] = row_ptr[i];
        cfill[i] = col_ptr[i];
    }
    for (int e = 0; e < NNZ; ++e) {
        by_row[rfill[D::jacobian_rows[e]]++] = D::jacobian_cols[e];
        by_col[cfill[D::jacobian_cols[e]]++] = D::jacobian_rows[e];
    }
    for (int j = 0; j < N; ++j) {
        bool taken[N + 1] = {};
        for (int a = col_ptr[j]; a < col_ptr[j + 1]; ++a) {
            const int r = by_col[a];
            for (int b = row_ptr[r]; b < row_ptr[r + 1]; ++b)
                if (by_row[b] < j) taken[c.colour[by_row[b]]] = true;
        }
        int k = 0;
        while (taken[k]) ++k;
        c.colour[j] = k;
        if (k + 1 > c.n_colours) c.n_colours = k + 1;
    }
    return c;
}
}  // namespace detail

// Outputs computed from a model's own observables on plain values after each evaluation (e.g. a
// clinical grade, a step function of vital signs): appended to the observables, derivative 0.
struct DerivedOutputs {
    std::vector<ObservableInfo> info;
    // (t, the model's observables, the derived outputs to fill)
    std::function<void(double, const double*, double*)> eval;
};

namespace detail {
inline ModelInfo with_derived(ModelInfo info, const DerivedOutputs& d) {
    info.observables.insert(info.observables.end(), d.info.begin(), d.info.end());
    return info;
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

    static constexpr bool kMixed = detail::mixed_scalars<D>::value;
    explicit ModelImpl(DerivedOutputs derived = {})
        : Model(detail::with_derived(D::info(), derived)), derived_(std::move(derived)),
          own_observables_(n_observables() - static_cast<int>(derived_.info.size())) {}

    void initial(const double* p, double* x0) const override { D::initial(p, x0); }

    // The sensitivity members (initial_sensitivity, sensitivity_rhs_as, sensitivity_coupling_as,
    // observables_sensitivity) are defined below the class: not inline, so that a model can compile
    // them in translation units of their own (the CRSIM_MODEL_SENSITIVITY_* macros at the end of
    // this file).
    void initial_sensitivity(const double* p, const int* pidx, int m, double* dx0) const override;

    void rhs(double t, const double* x, const double* p, double* dxdt) const override {
        D::rhs(t, x, p, dxdt);
    }

    void jacobian(double t, const double* x, const double* p, double* J, double* dfdt) const override {
        if constexpr (detail::has_jacobian_pattern<D>::value)
            coloured_jacobian(t, x, p, nullptr, J, dfdt);
        else
            dense_jacobian(t, x, p, nullptr, J, dfdt);
    }

    static constexpr bool kPrepare = detail::has_prepare<D>::value;

    int n_prepared() const override {
        if constexpr (kPrepare) return D::n_prepared;
        else return 0;
    }
    void prepare(const double* p, double* q) const override {
        if constexpr (kPrepare) D::prepare(p, q);
        else { (void)p; (void)q; }
    }
    void rhs_prepared(double t, const double* x, const double* p, const double* q, double* dxdt) const override {
        if constexpr (kPrepare) D::rhs_prepared(t, x, p, q, dxdt);
        else { (void)q; D::rhs(t, x, p, dxdt); }
    }
    void jacobian_prepared(double t, const double* x, const double* p, const double* q, double* J,
                           double* dfdt) const override {
        if constexpr (detail::has_jacobian_pattern<D>::value)
            coloured_jacobian(t, x, p, q, J, dfdt);
        else
            dense_jacobian(t, x, p, q, J, dfdt);
    }

    // D's right-hand side on jets with plain-double parameters: prepared when q is given.
    template <class J>
    static void rhs_mixed(const J& t, const J* x, const double* p, const double* q, J* f) {
        if constexpr (kPrepare) {
            if (q) {
                D::rhs_prepared(t, x, p, q, f);
                return;
            }
        }
        (void)q;
        D::rhs(t, x, p, f);
    }

    // Models with a declared pattern: forward AD along one direction per colour of the pattern's
    // columns (detail::colour_columns, at compile time) and one for t, instead of one per state
    // (CRS: 10 + 1 directions instead of 32 + 1). Entries outside the pattern are 0 by
    // construction, so the pattern must hold every nonzero (tests/cpp/test_block_lu.cpp checks the
    // built-in models against finite differences).
    void coloured_jacobian(double t, const double* x, const double* p, const double* q, double* J,
                           double* dfdt) const {
        static constexpr detail::ColumnColouring<N> C = detail::colour_columns<D>();
        constexpr int K = C.n_colours;
        using CJet = Eigen::AutoDiffScalar<Eigen::Matrix<double, K + 1, 1>>;
        CJet xs[N], fs[N];
        for (int i = 0; i < N; ++i) xs[i] = CJet(x[i], K + 1, C.colour[i]);
        const CJet ts(t, K + 1, K);
        if constexpr (kMixed) {
            rhs_mixed(ts, xs, p, q, fs);
        } else {
            (void)q;
            const int np = n_parameters();
            std::vector<CJet> ps(static_cast<std::size_t>(np));
            for (int j = 0; j < np; ++j) ps[static_cast<std::size_t>(j)] = CJet(p[j], Eigen::Matrix<double, K + 1, 1>::Zero());
            D::rhs(ts, xs, ps.data(), fs);
        }
        std::fill(J, J + N * N, 0.0);
        for (int e = 0; e < D::jacobian_nnz; ++e) {
            const int r = D::jacobian_rows[e], c = D::jacobian_cols[e];
            J[r * N + c] = detail::deriv(fs[r], C.colour[c]);
        }
        for (int i = 0; i < N; ++i) dfdt[i] = detail::deriv(fs[i], K);
    }

    // One AD direction per state (and t).
    void dense_jacobian(double t, const double* x, const double* p, const double* q, double* J,
                        double* dfdt) const {
        Jet xs[N], fs[N];
        for (int i = 0; i < N; ++i) xs[i] = Jet(x[i], N + 1, i);
        const Jet ts(t, N + 1, N);
        if constexpr (kMixed) {
            rhs_mixed(ts, xs, p, q, fs);  // parameters stay plain doubles
        } else {
            (void)q;
            const int np = n_parameters();
            std::vector<Jet> ps(np);
            for (int j = 0; j < np; ++j) ps[j] = Jet(p[j], Eigen::Matrix<double, N + 1, 1>::Zero());
            D::rhs(ts, xs, ps.data(), fs);
        }
        for (int i = 0; i < N; ++i) {
            for (int j = 0; j < N; ++j) J[i * N + j] = detail::deriv(fs[i], j);
            dfdt[i] = detail::deriv(fs[i], N);
        }
    }

    std::vector<std::pair<int, int>> jacobian_pattern() const override {
        if constexpr (detail::has_jacobian_pattern<D>::value) {
            std::vector<std::pair<int, int>> out;
            out.reserve(static_cast<std::size_t>(D::jacobian_nnz));
            for (int k = 0; k < D::jacobian_nnz; ++k) out.emplace_back(D::jacobian_rows[k], D::jacobian_cols[k]);
            return out;
        } else {
            return Model::jacobian_pattern();
        }
    }

    void observables(double t, const double* x, const double* p, double* y) const override {
        D::observables(t, x, p, y);
        if (derived_.eval) derived_.eval(t, y, y + own_observables_);
    }
    void observables_prepared(double t, const double* x, const double* p, const double* q,
                              double* y) const override {
        if constexpr (detail::has_observables_prepared<D>::value) D::observables_prepared(t, x, p, q, y);
        else { (void)q; D::observables(t, x, p, y); }
        if (derived_.eval) derived_.eval(t, y, y + own_observables_);
    }

    // Up to kMaxDirections sensitivity directions use fixed-size derivative vectors of 4 or 8
    // entries (padded with zeros): they live on the stack and are copied without a runtime-sized
    // memcpy, which dominated the cost of the sensitivity right-hand side with runtime-sized
    // vectors. More directions fall back to heap vectors.
    static constexpr int kMaxDirections = 8;
    using Sens4 = Eigen::AutoDiffScalar<Eigen::Matrix<double, 4, 1>>;
    using Sens8 = Eigen::AutoDiffScalar<Eigen::Matrix<double, 8, 1>>;
    using SensX = Dir<double>;

    void sensitivity_rhs(double t, const double* x, const double* S, const double* p,
                         const int* pidx, int m, double* f, double* dS) const override {
        if (m <= 4)
            sensitivity_rhs_as<Sens4>(t, x, S, p, pidx, m, f, dS);
        else if (m <= kMaxDirections)
            sensitivity_rhs_as<Sens8>(t, x, S, p, pidx, m, f, dS);
        else
            sensitivity_rhs_as<SensX>(t, x, S, p, pidx, m, f, dS);
    }

    template <class A>
    void sensitivity_rhs_as(double t, const double* x, const double* S, const double* p,
                            const int* pidx, int m, double* f, double* dS) const;

    // One outer direction e (x + e v, t + e vt) over the inner sensitivity directions: the outer
    // derivative of inner direction k is d(J s_k + df/dp_k)/de.
    using Eps = Eigen::AutoDiffScalar<Eigen::Matrix<double, 1, 1>>;
    using Coupling4 = Eigen::Matrix<Eps, 4, 1>;
    using Coupling8 = Eigen::Matrix<Eps, 8, 1>;
    using CouplingX = Eigen::Matrix<Eps, Eigen::Dynamic, 1>;

    void sensitivity_coupling(double t, const double* z, const double* p, const int* pidx, int m,
                              const double* v, double vt, double* out) const override {
        if (m <= 4)
            sensitivity_coupling_as<Coupling4>(t, z, p, pidx, m, v, vt, out);
        else if (m <= kMaxDirections)
            sensitivity_coupling_as<Coupling8>(t, z, p, pidx, m, v, vt, out);
        else
            sensitivity_coupling_as<CouplingX>(t, z, p, pidx, m, v, vt, out);
    }

    template <class InnerVec>
    void sensitivity_coupling_as(double t, const double* z, const double* p, const int* pidx, int m,
                                 const double* v, double vt, double* out) const;

    void observables_sensitivity(double t, const double* x, const double* S, const double* p,
                                 const int* pidx, int m, double* y, double* dy) const override;

private:
    DerivedOutputs derived_;
    int own_observables_;

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

template <class D>
void ModelImpl<D>::initial_sensitivity(const double* p, const int* pidx, int m, double* dx0) const {
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

template <class D>
template <class A>
void ModelImpl<D>::sensitivity_rhs_as(double t, const double* x, const double* S, const double* p,
                                      const int* pidx, int m, double* f, double* dS) const {
    using V = typename A::DerType;
    const V zero = detail::zeros<V>(m);
    A xa[N], fa[N];
    std::vector<A> pa(static_cast<std::size_t>(n_parameters()), A(0.0, zero));
    for (int i = 0; i < N; ++i) {
        xa[i] = A(x[i], zero);
        for (int k = 0; k < m; ++k) xa[i].derivatives()(k) = S[i * m + k];
    }
    for (int j = 0; j < n_parameters(); ++j) pa[static_cast<std::size_t>(j)].value() = p[j];
    for (int k = 0; k < m; ++k)
        if (pidx[k] >= 0) pa[static_cast<std::size_t>(pidx[k])].derivatives()(k) = 1.0;
    D::rhs(A(t, zero), xa, pa.data(), fa);
    for (int i = 0; i < N; ++i) {
        f[i] = fa[i].value();
        for (int k = 0; k < m; ++k) dS[i * m + k] = detail::deriv(fa[i], k);
    }
}

template <class D>
template <class InnerVec>
void ModelImpl<D>::sensitivity_coupling_as(double t, const double* z, const double* p, const int* pidx,
                                           int m, const double* v, double vt, double* out) const {
    using A = Eigen::AutoDiffScalar<InnerVec>;
    using E1 = Eigen::Matrix<double, 1, 1>;
    const E1 zero = E1::Zero();
    const int np = n_parameters();
    const double* S = z + N;
    InnerVec d0 = detail::zeros<InnerVec>(m);
    for (int k = 0; k < d0.size(); ++k) d0(k) = Eps(0.0, zero);
    A xa[N], fa[N];
    std::vector<A> pa(static_cast<std::size_t>(np), A(Eps(0.0, zero), d0));
    for (int i = 0; i < N; ++i) {
        InnerVec d = d0;
        for (int k = 0; k < m; ++k) d(k) = Eps(S[i * m + k], zero);
        xa[i] = A(Eps(z[i], E1::Constant(v[i])), d);
    }
    for (int j = 0; j < np; ++j) pa[static_cast<std::size_t>(j)].value() = Eps(p[j], zero);
    for (int k = 0; k < m; ++k)
        if (pidx[k] >= 0) pa[static_cast<std::size_t>(pidx[k])].derivatives()(k) = Eps(1.0, zero);
    const A ta(Eps(t, E1::Constant(vt)), d0);
    D::rhs(ta, xa, pa.data(), fa);
    for (int i = 0; i < N; ++i)
        for (int k = 0; k < m; ++k)
            out[i * m + k] = fa[i].derivatives().size() > k ? fa[i].derivatives()(k).derivatives()(0) : 0.0;
}

template <class D>
void ModelImpl<D>::observables_sensitivity(double t, const double* x, const double* S, const double* p,
                                           const int* pidx, int m, double* y, double* dy) const {
    using A = Dir<double>;
    const int no = own_observables_;
    std::vector<A> xa(N), pa(n_parameters()), ya(no);
    seed_directions(x, S, p, pidx, m, xa, pa);
    D::observables(A(t, Eigen::VectorXd::Zero(m)), xa.data(), pa.data(), ya.data());
    for (int i = 0; i < no; ++i) {
        y[i] = ya[i].value();
        for (int k = 0; k < m; ++k) dy[i * m + k] = detail::deriv(ya[i], k);
    }
    if (derived_.eval) {
        derived_.eval(t, y, y + no);
        for (int i = no; i < n_observables(); ++i)
            for (int k = 0; k < m; ++k) dy[i * m + k] = 0.0;
    }
}

}  // namespace crsim

// Explicit instantiations of ModelImpl<D>'s sensitivity members, by group, for a model compiled in
// several translation units (the built-in models: <model>.cpp and its sensitivity units,
// sensitivity_units in models/codegen/cpp.py). The unit that instantiates ModelImpl<D> names every
// group with EXT = extern (an explicit instantiation declaration: the members are not compiled
// there, only called); each group's own unit names it with EXT empty (the definition). D is the
// model type, fully qualified; the macros are used at global scope. A model compiled in one unit
// (users' models) needs none of them.
#define CRSIM_MODEL_SENSITIVITY_RHS(EXT, D, A)                                                    \
    EXT template void ::crsim::ModelImpl<D>::sensitivity_rhs_as<::crsim::ModelImpl<D>::A>(       \
        double, const double*, const double*, const double*, const int*, int, double*, double*) const;
#define CRSIM_MODEL_SENSITIVITY_COUPLING(EXT, D, V)                                               \
    EXT template void ::crsim::ModelImpl<D>::sensitivity_coupling_as<::crsim::ModelImpl<D>::V>(  \
        double, const double*, const double*, const int*, int, const double*, double, double*) const;
#define CRSIM_MODEL_SENSITIVITY_INITIAL_OBSERVABLES(EXT, D)                                       \
    EXT template void ::crsim::ModelImpl<D>::initial_sensitivity(const double*, const int*, int,   \
                                                                 double*) const;                   \
    EXT template void ::crsim::ModelImpl<D>::observables_sensitivity(                              \
        double, const double*, const double*, const double*, const int*, int, double*, double*) const;
