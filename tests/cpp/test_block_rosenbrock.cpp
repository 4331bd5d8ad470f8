// The Rosenbrock stepper's structured solve (core/src/block_rosenbrock.hpp) against independent
// references: the coupling term of the sensitivity equations against central finite differences of
// the sensitivity right-hand side, and whole steps against Boost.Odeint's rosenbrock4, which solves
// the same stage equations with a dense LU of the full coupled Jacobian (in scaled variables).
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <boost/numeric/odeint.hpp>

#include "block_rosenbrock.hpp"
#include "catch.hpp"
#include "crs_fixture.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/simulate.hpp"

using namespace crsim;

namespace {

using UVec = boost::numeric::ublas::vector<double>;
using UMat = boost::numeric::ublas::matrix<double>;

struct Point {
    std::vector<double> p;
    std::vector<int> pidx;
    std::vector<double> z;  // n (1 + m)
    double t = 0.0;
};

// A state on a real trajectory (CRS: day 3 of expansion, pk2_mm: 6 h after a dose) with
// pseudo-random sensitivity columns of mixed sign and magnitude.
Point make_point(const Model& model, const std::vector<double>& p, const std::vector<std::string>& names,
                 const std::vector<Dose>& doses, double t, unsigned seed) {
    Problem pr;
    pr.parameters = p;
    pr.doses = doses;
    pr.weight_kg = 70.0;
    pr.times = {t};
    const Trajectory tr = simulate(model, pr);
    Point pt;
    pt.p = p;
    pt.t = t;
    const int n = model.n_states(), m = static_cast<int>(names.size());
    for (const auto& s : names) pt.pidx.push_back(model.parameter_index(s));
    pt.z.assign(tr.states.begin(), tr.states.end());
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (int i = 0; i < n * m; ++i) {
        const int s = i / m;
        pt.z.push_back(u(rng) * (std::abs(pt.z[static_cast<std::size_t>(s)]) + 1.0));
    }
    return pt;
}

// d/de of the sensitivity part of the coupled right-hand side along (v, vt), by central differences.
std::vector<double> coupling_fd(const Model& model, const Point& pt, const std::vector<double>& v, double vt,
                                double h) {
    const int n = model.n_states(), m = static_cast<int>(pt.pidx.size());
    std::vector<double> xp(pt.z.begin(), pt.z.begin() + n), xm = xp, f(n), up(n * m), dn(n * m);
    for (int i = 0; i < n; ++i) {
        xp[i] += h * v[static_cast<std::size_t>(i)];
        xm[i] -= h * v[static_cast<std::size_t>(i)];
    }
    model.sensitivity_rhs(pt.t + h * vt, xp.data(), pt.z.data() + n, pt.p.data(), pt.pidx.data(), m, f.data(),
                          up.data());
    model.sensitivity_rhs(pt.t - h * vt, xm.data(), pt.z.data() + n, pt.p.data(), pt.pidx.data(), m, f.data(),
                          dn.data());
    std::vector<double> out(static_cast<std::size_t>(n * m));
    for (int r = 0; r < n * m; ++r) out[static_cast<std::size_t>(r)] = (up[r] - dn[r]) / (2 * h);
    return out;
}

double rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
    double num = 0.0, scale = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        num = std::max(num, std::abs(a[i] - b[i]));
        scale = std::max(scale, std::abs(b[i]));
    }
    return num / std::max(scale, 1e-300);
}

// The coupled system for both steppers, from the Model interface.
struct Coupled {
    const Model* model;
    Point pt;
    int n, m;
    void rhs(const UVec& z, UVec& dz, double t) const {
        model->sensitivity_rhs(t, &z(0), &z(0) + n, pt.p.data(), pt.pidx.data(), m, &dz(0), &dz(0) + n);
    }
    void block(const UVec& z, detail::BlockJacobian& jb, double t) const {
        model->jacobian(t, &z(0), pt.p.data(), jb.J.data(), jb.dfdt.data());
        std::vector<double> zero(static_cast<std::size_t>(n), 0.0);
        model->sensitivity_coupling(t, &z(0), pt.p.data(), pt.pidx.data(), m, zero.data(), 1.0,
                                    jb.dfdt.data() + n);
    }
    void coupling(const UVec& z, double t, const double* v, double* out) const {
        model->sensitivity_coupling(t, &z(0), pt.p.data(), pt.pidx.data(), m, v, 0.0, out);
    }
    // Full N x N Jacobian: [J 0; B J] with the columns of B from the coupling applied to unit vectors.
    void dense(const UVec& z, UMat& Jz, double t, UVec& dzdt) const {
        const int N = n * (1 + m);
        detail::BlockJacobian jb;
        jb.J.resize(n, n);
        jb.dfdt.resize(N);
        block(z, jb, t);
        Jz = UMat(N, N, 0.0);
        std::vector<double> e(static_cast<std::size_t>(n), 0.0), col(static_cast<std::size_t>(n * m));
        for (int j = 0; j < n; ++j) {
            e[static_cast<std::size_t>(j)] = 1.0;
            coupling(z, t, e.data(), col.data());
            e[static_cast<std::size_t>(j)] = 0.0;
            for (int r = 0; r < n * m; ++r) Jz(n + r, j) = col[static_cast<std::size_t>(r)];
        }
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j) {
                Jz(i, j) = jb.J(i, j);
                for (int k = 0; k < m; ++k) Jz(n + i * m + k, n + j * m + k) = jb.J(i, j);
            }
        for (int r = 0; r < N; ++r) dzdt(r) = jb.dfdt(r);
    }
};

// Odeint's coefficient table with the sign of d4 that the engine uses (see block_rosenbrock.hpp).
struct Coefficients : boost::numeric::odeint::default_rosenbrock_coefficients<double> {
    const double d4 = -0.3620000000000023e-01;
};

// The default CAR-T infusion of the tisagenlecleucel set: 3e6 cells/kg at t = 0.
Dose tisa_cel_dose() {
    Dose car;
    car.target = "car_t_effector";
    car.amount = 3e6;
    car.per_kg = true;
    return car;
}

struct BDeriv {
    const Coupled* c;
    void operator()(const UVec& z, UVec& dz, double t) const { c->rhs(z, dz, t); }
};
struct BJac {
    const Coupled* c;
    void operator()(const UVec& z, detail::BlockJacobian& jb, double t) const { c->block(z, jb, t); }
    void coupling(const UVec& z, double t, const double* v, double* out) const { c->coupling(z, t, v, out); }
};
// The dense reference integrates y = D z with D = diag(1 / (|z0| + 1e-3)): Rosenbrock steps are
// invariant under a constant linear change of variables, and the scaling keeps the dense LU of the
// coupled matrix (whose blocks span many orders of magnitude in the CRS model's units) accurate.
struct SDeriv {
    const Coupled* c;
    const std::vector<double>* d;
    void operator()(const UVec& y, UVec& dy, double t) const {
        UVec z(y.size());
        for (std::size_t i = 0; i < y.size(); ++i) z(i) = y(i) / (*d)[i];
        c->rhs(z, dy, t);
        for (std::size_t i = 0; i < y.size(); ++i) dy(i) *= (*d)[i];
    }
};
struct SJac {
    const Coupled* c;
    const std::vector<double>* d;
    void operator()(const UVec& y, UMat& J, const double& t, UVec& dydt) const {
        UVec z(y.size());
        for (std::size_t i = 0; i < y.size(); ++i) z(i) = y(i) / (*d)[i];
        c->dense(z, J, t, dydt);
        for (std::size_t i = 0; i < y.size(); ++i) {
            dydt(i) *= (*d)[i];
            for (std::size_t j = 0; j < y.size(); ++j) J(i, j) *= (*d)[i] / (*d)[j];
        }
    }
};

// CAR-T, tumor, cytokine, drug, CRP, ferritin and fever parameters.
const std::vector<std::string> kCrsNames = {"rho", "delta_E", "p_il6_myeloid", "k_mact_on", "k_kill",
                                            "toc_Vmax", "crp_ksyn", "k_il6", "ferritin_k", "fever_EC50_il6"};

}  // namespace

TEST_CASE("the sensitivity coupling term equals finite differences of the sensitivity rhs",
          "[sensitivities][rosenbrock]") {
    const Model& crs = crs_test::crs_model();
    const auto set = crs_test::load_set("crs_tisagenlecleucel_ball");
    const std::vector<double> p = parameters_from(crs, set, {});
    const Dose car = tisa_cel_dose();
    const auto& names_all = kCrsNames;
    // 3 directions (4-wide stack path), 6 (8-wide) and all (heap path when > 8).
    for (std::size_t m : {std::size_t(3), std::size_t(6), names_all.size()}) {
        const std::vector<std::string> names(names_all.begin(), names_all.begin() + static_cast<long>(m));
        const Point pt = make_point(crs, p, names, {car}, 72.0, 7u + static_cast<unsigned>(m));
        const int n = crs.n_states();
        std::mt19937 rng(11);
        std::uniform_real_distribution<double> u(-1.0, 1.0);
        std::vector<double> v(static_cast<std::size_t>(n)), zero(static_cast<std::size_t>(n), 0.0);
        for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = u(rng) * 1e-2 * (std::abs(pt.z[i]) + 1e-3);
        std::vector<double> ad(static_cast<std::size_t>(n) * m), adt(ad.size());
        crs.sensitivity_coupling(pt.t, pt.z.data(), p.data(), pt.pidx.data(), static_cast<int>(m), v.data(),
                                 0.0, ad.data());
        crs.sensitivity_coupling(pt.t, pt.z.data(), p.data(), pt.pidx.data(), static_cast<int>(m), zero.data(),
                                 1.0, adt.data());
        // Central differences: truncation ~h^2, rounding ~1e-16/h; h = 1e-5 along v (already scaled
        // to 1 % of each state) leaves about 1e-8 of the largest entry.
        const double e_x = rel_diff(ad, coupling_fd(crs, pt, v, 0.0, 1e-5));
        const double e_t = rel_diff(adt, coupling_fd(crs, pt, zero, 1.0, 1e-4));
        INFO(m << " directions: d/dx relative difference " << e_x << ", d/dt " << e_t);
        CHECK(e_x < 1e-6);
        CHECK(e_t < 1e-6);
    }
}

TEST_CASE("a Rosenbrock step with the block solve equals odeint's rosenbrock4 with a dense LU",
          "[sensitivities][rosenbrock]") {
    const Model& crs = crs_test::crs_model();
    const auto set = crs_test::load_set("crs_tisagenlecleucel_ball");
    const Dose car = tisa_cel_dose();
    const Model& mm = *models::builtin_registry().get("pk2_mm");
    Dose mab;
    mab.target = "central";
    mab.amount = 560.0;
    mab.duration = 1.0;
    struct Case {
        const Model* model;
        std::vector<double> p;
        std::vector<std::string> names;
        Dose dose;
        double t, dt;
    };
    const std::vector<Case> cases = {
        {&crs, parameters_from(crs, set, {}), {}, car, 72.0, 0.5},
        {&crs, parameters_from(crs, set, {}), kCrsNames, car, 72.0, 0.5},
        {&crs, parameters_from(crs, set, {}), {"rho", "delta_E", "p_il6_myeloid"}, car, 200.0, 2.0},
        {&mm, mm.default_parameters(), {"CL", "V1", "Vmax", "Km"}, mab, 6.0, 4.0},
    };
    for (const Case& c : cases) {
        Coupled sys{c.model, make_point(*c.model, c.p, c.names, {c.dose}, c.t, 3u), c.model->n_states(),
                    static_cast<int>(c.names.size())};
        const std::size_t N = sys.pt.z.size();
        UVec z(N), out_b(N), err_b(N), out_d(N), err_d(N);
        std::copy(sys.pt.z.begin(), sys.pt.z.end(), z.begin());
        detail::BlockRosenbrock4 block(sys.n, sys.m);
        block.do_step(std::make_pair(BDeriv{&sys}, BJac{&sys}), z, c.t, out_b, c.dt, err_b);
        std::vector<double> d(N);
        UVec y(N);
        for (std::size_t i = 0; i < N; ++i) {
            d[i] = 1.0 / (std::abs(z(i)) + 1e-3);
            y(i) = d[i] * z(i);
        }
        boost::numeric::odeint::rosenbrock4<double, Coefficients> dense;
        dense.do_step(std::make_pair(SDeriv{&sys, &d}, SJac{&sys, &d}), y, c.t, out_d, c.dt, err_d);
        for (std::size_t i = 0; i < N; ++i) {
            out_d(i) /= d[i];
            err_d(i) /= d[i];
        }
        double e_out = 0.0, e_err = 0.0, s_err = 0.0;
        for (std::size_t i = 0; i < N; ++i) {
            e_out = std::max(e_out, std::abs(out_b(i) - out_d(i)) / (std::abs(out_d(i)) + std::abs(z(i)) + 1e-12));
            e_err = std::max(e_err, std::abs(err_b(i) - err_d(i)));
            s_err = std::max(s_err, std::abs(err_d(i)));
        }
        INFO(c.model->name() << ", " << c.names.size() << " sensitivities, dt = " << c.dt << " h: step "
                             << e_out << ", error estimate " << e_err << " of " << s_err);
        // Two LU factorisations of the same equations (pivoting differs): agreement to rounding.
        // The error estimate is a difference of nearly equal stage sums, amplified further by the
        // 11-state coupled block of the CRS model: 1e-5 of its size (measured: 1.05e-7; 1.5e-6
        // since the CD19 sets give the glucocorticoid no effect on CAR-T cells, which zeroes two
        // Jacobian entries and changes the pivoting; the step itself agrees to 6e-14 either way).
        CHECK(e_out < 1e-9);
        CHECK(e_err <= 1e-5 * s_err + 1e-14);
        // Dense output between the two points: the continuous extension of both.
        block.prepare_dense_output();
        dense.prepare_dense_output();
        UVec xb(N), xd(N);
        block.calc_state(c.t + 0.3 * c.dt, xb, z, c.t, out_b, c.t + c.dt);
        UVec out_y(N);
        for (std::size_t i = 0; i < N; ++i) out_y(i) = d[i] * out_d(i);
        dense.calc_state(c.t + 0.3 * c.dt, xd, y, c.t, out_y, c.t + c.dt);
        for (std::size_t i = 0; i < N; ++i) xd(i) /= d[i];
        double e_mid = 0.0;
        for (std::size_t i = 0; i < N; ++i)
            e_mid = std::max(e_mid, std::abs(xb(i) - xd(i)) / (std::abs(xd(i)) + std::abs(z(i)) + 1e-12));
        CHECK(e_mid < 1e-9);
    }
}

TEST_CASE("the CRS Jacobian and dF/dt equal finite differences of the right-hand side",
          "[crs][rosenbrock]") {
    const Model& crs = crs_test::crs_model();
    const auto set = crs_test::load_set("crs_tisagenlecleucel_ball");
    const std::vector<double> p = parameters_from(crs, set, {});
    const Dose car = tisa_cel_dose();
    const int n = crs.n_states();
    for (double t : {0.5, 24.0, 72.0, 200.0, 600.0}) {
        const Point pt = make_point(crs, p, {}, {car}, t, 1u);
        std::vector<double> J(static_cast<std::size_t>(n * n)), dfdt(static_cast<std::size_t>(n));
        crs.jacobian(t, pt.z.data(), p.data(), J.data(), dfdt.data());
        // scale of each row: its largest term |J_ij| (|x_j| + 1) and its rate of change
        std::vector<double> row(static_cast<std::size_t>(n), 0.0);
        std::vector<double> f0(static_cast<std::size_t>(n));
        crs.rhs(t, pt.z.data(), p.data(), f0.data());
        for (int i = 0; i < n; ++i) {
            row[static_cast<std::size_t>(i)] = std::abs(f0[static_cast<std::size_t>(i)]);
            for (int j = 0; j < n; ++j)
                row[static_cast<std::size_t>(i)] = std::max(row[static_cast<std::size_t>(i)],
                    std::abs(J[static_cast<std::size_t>(i * n + j)]) * (std::abs(pt.z[j]) + 1.0));
        }
        double worst = 0.0;
        std::string where;
        for (int j = 0; j < n; ++j) {
            const double h = 1e-6 * (std::abs(pt.z[j]) + 1.0);
            std::vector<double> xp(pt.z), xm(pt.z), fp(n), fm(n);
            xp[j] += h;
            xm[j] -= h;
            crs.rhs(t, xp.data(), p.data(), fp.data());
            crs.rhs(t, xm.data(), p.data(), fm.data());
            for (int i = 0; i < n; ++i) {
                const double fd = (fp[i] - fm[i]) / (2 * h);
                const double ad = J[static_cast<std::size_t>(i * n + j)];
                // the term's error (J_ij times the size of x_j) relative to the row's scale
                const double e = std::abs(ad - fd) * (std::abs(pt.z[j]) + 1.0) /
                                 (row[static_cast<std::size_t>(i)] + 1e-12);
                if (e > worst) {
                    worst = e;
                    where = crs.info().states[i].name + " / " + crs.info().states[j].name + ": AD " +
                            std::to_string(ad) + ", FD " + std::to_string(fd);
                }
            }
        }
        std::vector<double> fp(n), fm(n);
        const double ht = 1e-4;
        crs.rhs(t + ht, pt.z.data(), p.data(), fp.data());
        crs.rhs(t - ht, pt.z.data(), p.data(), fm.data());
        double worst_t = 0.0;
        for (int i = 0; i < n; ++i)
            worst_t = std::max(worst_t, std::abs((fp[i] - fm[i]) / (2 * ht) - dfdt[i]) / (std::abs(fp[i]) + 1e-12));
        INFO("t = " << t << " h: worst " << worst << " at d(" << where << "); dF/dt: " << worst_t);
        CHECK(worst < 1e-5);
        CHECK(worst_t < 1e-6);
    }
}
TEST_CASE("Rosenbrock steps keep their order on a right-hand side that depends on time",
          "[rosenbrock][stiff]") {
    // The CRS model depends on t explicitly (homeostatic expansion rho_h exp(-t / tau_h)). The
    // local error of one step (against dopri5 at 1e-14) must shrink like h^5 (order 4); with a
    // wrong dF/dt weight it shrank like h^2. Halving h three times from 0.4 h: each halving must cut
    // the error at least 16-fold (h^4), about 30-fold expected.
    const Model& crs = crs_test::crs_model();
    const auto set = crs_test::load_set("crs_tisagenlecleucel_ball");
    const std::vector<double> p = parameters_from(crs, set, {});
    const Dose car = tisa_cel_dose();
    for (double t0 : {6.0, 72.0}) {
        Coupled sys{&crs, make_point(crs, p, {}, {car}, t0, 1u), crs.n_states(), 0};
        const int n = sys.n;
        std::vector<double> errors;
        for (double h : {0.4, 0.2, 0.1, 0.05}) {
            UVec z(n), out(n), err(n);
            std::copy(sys.pt.z.begin(), sys.pt.z.end(), z.begin());
            detail::BlockRosenbrock4 st(n, 0);
            st.do_step(std::make_pair(BDeriv{&sys}, BJac{&sys}), z, t0, out, h, err);
            std::vector<double> y(sys.pt.z);
            auto f = [&](const std::vector<double>& x, std::vector<double>& dx, double t) {
                crs.rhs(t, x.data(), p.data(), dx.data());
            };
            namespace oi = boost::numeric::odeint;
            oi::integrate_adaptive(oi::make_controlled(1e-14, 1e-14, oi::runge_kutta_dopri5<std::vector<double>>()),
                                   f, y, t0, t0 + h, h / 100);
            double worst = 0.0;
            for (int i = 0; i < n; ++i)
                worst = std::max(worst, std::abs(out(i) - y[static_cast<std::size_t>(i)]) /
                                            (std::abs(y[static_cast<std::size_t>(i)]) + 1e-6));
            errors.push_back(worst);
        }
        for (std::size_t k = 1; k < errors.size(); ++k) {
            INFO("t0 = " << t0 << " h: local error " << errors[k - 1] << " -> " << errors[k]
                         << " when the step halves");
            CHECK(errors[k - 1] > 16.0 * errors[k]);
        }
    }
}

TEST_CASE("rosenbrock4 on the CRS model: global error follows the tolerance", "[crs][rosenbrock]") {
    // 28 days of the default patient against dopri5 at rtol 1e-13: the relative error of every
    // state (floor 1e-6 in its unit) stays within 100 x rtol (it was 2e-3 at rtol 1e-8 with the
    // first-order time term).
    const Model& crs = crs_test::crs_model();
    const auto set = crs_test::load_set("crs_tisagenlecleucel_ball");
    Problem pr;
    pr.parameters = parameters_from(crs, set, {});
    pr.weight_kg = 35.0;
    const Dose car = tisa_cel_dose();
    pr.doses = {car};
    pr.times = {24.0, 96.0, 300.0, 672.0};
    pr.options.method = Method::Dopri5;
    pr.options.rtol = 1e-13;
    pr.options.atol = 1e-16;
    const Trajectory ref = simulate(crs, pr);
    for (double rtol : {1e-6, 1e-8}) {
        pr.options.method = Method::Rosenbrock4;
        pr.options.rtol = rtol;
        pr.options.atol = 1e-2 * rtol;
        const Trajectory tr = simulate(crs, pr);
        double worst = 0.0;
        for (std::size_t i = 0; i < ref.states.size(); ++i)
            worst = std::max(worst, std::abs(tr.states[i] - ref.states[i]) / (std::abs(ref.states[i]) + 1e-6));
        INFO("rtol " << rtol << ": worst relative error " << worst << " (" << tr.stats.steps << " steps)");
        CHECK(worst < 100.0 * rtol);
    }
}

TEST_CASE("sensitivities left out of the step-size control: the states' steps, FD-accurate sensitivities",
          "[sensitivities][rosenbrock]") {
    const Model& crs = crs_test::crs_model();
    const auto set = crs_test::load_set("crs_tisagenlecleucel_ball");
    const std::vector<std::string> names = {"rho", "delta_E", "p_il6_myeloid", "k_mact_on"};
    auto problem = [&](const std::map<std::string, double>& ov, Method method) {
        Problem pr;
        pr.parameters = parameters_from(crs, set, ov);
        pr.weight_kg = 35.0;
        Dose car;
        car.target = "car_t_effector";
        car.amount = 3e6;
        car.per_kg = true;
        pr.doses = {car};
        for (double d = 1; d <= 28; ++d) pr.times.push_back(24.0 * d);
        pr.options.method = method;
        pr.options.rtol = 1e-9;
        pr.options.atol = 1e-10;
        return pr;
    };
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) {
        const Trajectory plain = simulate(crs, problem({}, method));
        Problem pr = problem({}, method);
        pr.sensitivities = names;
        const Trajectory controlled = simulate(crs, pr);
        pr.options.sensitivity_error_control = false;
        const Trajectory free = simulate(crs, pr);
        INFO(to_string(method) << ": steps plain " << plain.stats.steps << ", with sensitivities controlled "
                               << controlled.stats.steps << ", not controlled " << free.stats.steps);
        // Same step sequence as the states alone (the error norm sees the same numbers).
        CHECK(free.stats.steps == plain.stats.steps);
        CHECK(controlled.stats.steps > plain.stats.steps);
        for (std::size_t i = 0; i < plain.states.size(); ++i)
            CHECK(std::abs(free.states[i] - plain.states[i]) <= 1e-10 * (std::abs(plain.states[i]) + 1e-6));
        // Sensitivities against central differences (h = 1e-4 theta): relative to the largest
        // derivative of each state (at least 1e-3 of its peak per unit theta), within 1e-3.
        const std::size_t n = static_cast<std::size_t>(crs.n_states()), T = plain.times.size(), m = names.size();
        const auto ps = set.parameters;
        for (std::size_t k = 0; k < m; ++k) {
            const double th = ps.at(names[k]).value, h = 1e-4 * th;
            const Trajectory up = simulate(crs, problem({{names[k], th + h}}, method));
            const Trajectory dn = simulate(crs, problem({{names[k], th - h}}, method));
            double worst = 0.0;
            std::string where;
            for (std::size_t i = 0; i < n; ++i) {
                double scale = 1e-12;
                for (std::size_t t = 0; t < T; ++t)
                    scale = std::max(scale, std::abs(up.states[t * n + i] - dn.states[t * n + i]) / (2 * h));
                double peak = 0.0;
                for (std::size_t t = 0; t < T; ++t) peak = std::max(peak, std::abs(plain.states[t * n + i]));
                scale = std::max(scale, 1e-3 * peak / th);  // FD noise at rtol 1e-9, h = 1e-4 theta: ~5e-5 of it
                for (std::size_t t = 0; t < T; ++t) {
                    const double fd = (up.states[t * n + i] - dn.states[t * n + i]) / (2 * h);
                    const double e = std::abs(free.state_sensitivities[(t * n + i) * m + k] - fd) / scale;
                    if (e > worst) {
                        worst = e;
                        where = crs.info().states[i].name + " at day " + std::to_string(t + 1) + ": AD " +
                                std::to_string(free.state_sensitivities[(t * n + i) * m + k]) + ", FD " +
                                std::to_string(fd);
                    }
                }
            }
            INFO("d/d " << names[k] << ": worst " << worst << " (" << where << ")");
            CHECK(worst < 1e-3);
        }
    }
}

TEST_CASE("rejected step attempts are counted", "[solver][statistics]") {
    // A first step of 200 h on a 1-compartment bolus (half-life about 9 h) cannot pass the error
    // control: both methods must reject and retry; started with a tiny step, the same run rejects
    // fewer. The counts are consistent with the evaluations each attempt costs (rosenbrock4: a
    // retry reuses the rejected attempt's Jacobian and derivative, core/src/block_rosenbrock.hpp).
    const Model& m = *models::builtin_registry().get("pk1");
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) {
        Problem pr;
        Dose d;
        d.target = "central";
        d.amount = 100.0;
        pr.doses = {d};
        pr.times = {240.0};
        pr.options.method = method;
        pr.options.initial_step = 200.0;
        const Trajectory big = simulate(m, pr);
        pr.options.initial_step = 1e-3;
        const Trajectory small = simulate(m, pr);
        INFO(to_string(method) << ": rejected " << big.stats.rejected_steps << " (first step 200 h), "
                               << small.stats.rejected_steps << " (1e-3 h); steps " << big.stats.steps
                               << ", " << small.stats.steps);
        CHECK(big.stats.rejected_steps >= 1);
        CHECK(small.stats.rejected_steps < big.stats.rejected_steps);
        for (const Trajectory* tr : {&big, &small}) {
            const long attempts = tr->stats.steps + tr->stats.rejected_steps;
            if (method == Method::Rosenbrock4) {
                // one Jacobian and one derivative per accepted step's start; a rejected step's
                // retry starts from the same point and reuses them, costing 5 stage derivatives
                CHECK(tr->stats.jacobian_evaluations == tr->stats.steps);
                CHECK(tr->stats.rhs_evaluations == 6 * tr->stats.steps + 5 * tr->stats.rejected_steps);
            } else {  // dopri5 (FSAL): 6 new stages per attempt, plus one derivative per (re)start
                CHECK(tr->stats.rhs_evaluations >= 6 * attempts);
                CHECK(tr->stats.rhs_evaluations <= 6 * attempts + 4);
            }
        }
    }
}
