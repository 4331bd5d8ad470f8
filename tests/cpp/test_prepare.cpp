// The "prepare" stage of generated models (Model::prepare, rhs_prepared, jacobian_prepared,
// observables_prepared): the parameter-only quantities computed once per parameter vector must give
// exactly (bit for bit) what the plain right-hand side, Jacobian and observables give, for any state,
// time and parameter vector, and a simulation using them must equal one that does not.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"
#include "crs_fixture.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/registry.hpp"
#include "crsim/simulate.hpp"

using namespace crsim;

namespace {

// The same model without a prepare stage: every call forwards to the plain interface.
class WithoutPrepare final : public Model {
public:
    explicit WithoutPrepare(const Model& m) : Model(m.info()), m_(m) {}
    void initial(const double* p, double* x0) const override { m_.initial(p, x0); }
    void initial_sensitivity(const double* p, const int* pidx, int m, double* dx0) const override {
        m_.initial_sensitivity(p, pidx, m, dx0);
    }
    void rhs(double t, const double* x, const double* p, double* dxdt) const override { m_.rhs(t, x, p, dxdt); }
    void jacobian(double t, const double* x, const double* p, double* J, double* dfdt) const override {
        m_.jacobian(t, x, p, J, dfdt);
    }
    std::vector<std::pair<int, int>> jacobian_pattern() const override { return m_.jacobian_pattern(); }
    void observables(double t, const double* x, const double* p, double* y) const override {
        m_.observables(t, x, p, y);
    }
    void sensitivity_rhs(double t, const double* x, const double* S, const double* p, const int* pidx, int m,
                         double* f, double* dS) const override {
        m_.sensitivity_rhs(t, x, S, p, pidx, m, f, dS);
    }
    void sensitivity_coupling(double t, const double* z, const double* p, const int* pidx, int m, const double* v,
                              double vt, double* out) const override {
        m_.sensitivity_coupling(t, z, p, pidx, m, v, vt, out);
    }
    void observables_sensitivity(double t, const double* x, const double* S, const double* p, const int* pidx,
                                 int m, double* y, double* dy) const override {
        m_.observables_sensitivity(t, x, S, p, pidx, m, y, dy);
    }

private:
    const Model& m_;
};

}  // namespace

TEST_CASE("Prepared right-hand sides and Jacobians of the built-in models equal the plain ones bit for bit",
          "[prepare][models]") {
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> u(0.5, 2.0), up(0.8, 1.25);
    for (const std::string& name : models::builtin_registry().names()) {
        INFO("model " << name);
        const Model& m = *models::builtin_registry().get(name);
        const int n = m.n_states();
        if (name == "crs") CHECK(m.n_prepared() > 0);  // CRS has parameter-only baselines and weight scalings
        std::vector<double> p0 = m.default_parameters(), x0(static_cast<std::size_t>(n)), xs;
        if (!m.info().default_parameter_set.empty())  // values in data/parameters: the default set
            p0 = parameters_from(m, crs_test::load_set(m.info().default_parameter_set));
        if (name == "crs") {  // parameters from the default set, the state at day 3 of the default course
            crs_test::Scenario sc;
            sc.days = 3.0;
            const crs_test::Run run = crs_test::run(sc);
            p0 = run.p;
            xs.assign(run.tr.states.end() - n, run.tr.states.end());
        }
        for (int trial = 0; trial < 20; ++trial) {
            std::vector<double> p = p0;
            if (trial > 0)  // other parameter vectors: a stale q would show
                for (std::size_t j = 0; j < p.size(); ++j) {
                    const auto& pi = m.info().parameters[j];
                    const double v = p[j] * up(rng);
                    if (v >= pi.lower && v <= pi.upper) p[j] = v;
                }
            std::vector<double> q(static_cast<std::size_t>(m.n_prepared()));
            m.prepare(p.data(), q.data());
            m.initial(p.data(), x0.data());
            std::vector<double> x = xs.empty() ? x0 : xs;
            for (auto& v : x) v = (v == 0.0 ? 1.0 : std::abs(v)) * u(rng);
            const double t = 7.0 * trial;
            std::vector<double> f(static_cast<std::size_t>(n)), fq(f), J(static_cast<std::size_t>(n * n)), Jq(J),
                d(f), dq(f);
            m.rhs(t, x.data(), p.data(), f.data());
            m.rhs_prepared(t, x.data(), p.data(), q.data(), fq.data());
            m.jacobian(t, x.data(), p.data(), J.data(), d.data());
            m.jacobian_prepared(t, x.data(), p.data(), q.data(), Jq.data(), dq.data());
            for (int i = 0; i < n; ++i) {
                INFO("state " << m.info().states[static_cast<std::size_t>(i)].name << ", trial " << trial);
                CHECK(std::isfinite(f[static_cast<std::size_t>(i)]));
                CHECK(fq[static_cast<std::size_t>(i)] == f[static_cast<std::size_t>(i)]);
                CHECK(dq[static_cast<std::size_t>(i)] == d[static_cast<std::size_t>(i)]);
            }
            for (std::size_t k = 0; k < J.size(); ++k) CHECK(Jq[k] == J[k]);
            std::vector<double> y(static_cast<std::size_t>(m.n_observables())), yq(y);
            m.observables(t, x.data(), p.data(), y.data());
            m.observables_prepared(t, x.data(), p.data(), q.data(), yq.data());
            for (std::size_t k = 0; k < y.size(); ++k) {
                INFO("observable " << m.info().observables[k].name << ", trial " << trial);
                CHECK(((yq[k] == y[k]) || (std::isnan(yq[k]) && std::isnan(y[k]))));
            }
        }
    }
}

TEST_CASE("A CRS course with the prepare stage equals the same course without it, for every method",
          "[prepare][crs]") {
    const Model& m = crs_test::crs_model();
    const WithoutPrepare plain(m);
    REQUIRE(plain.n_prepared() == 0);
    const crsim::ParameterSet ps = crs_test::load_set("crs_tisagenlecleucel_ball");
    Problem pr;
    pr.parameters = crsim::parameters_from(m, ps, {});
    pr.weight_kg = pr.parameters[static_cast<std::size_t>(m.parameter_index("body_weight"))];
    Dose car;
    car.target = "car_t_effector";
    car.amount = ps.regimen.at("car_t_dose").value;
    car.per_kg = true;
    pr.doses = {car, crs_test::tocilizumab(72.0, pr.weight_kg)};
    for (double t = 0.0; t <= 14 * 24.0; t += 6.0) pr.times.push_back(t);
    pr.readouts.record = true;  // the readout trajectory evaluates observables at every step and crossing
    pr.readouts.watch = models::crs_readout_watch();
    for (Method method : {Method::Dopri5, Method::Rosenbrock4, Method::Auto}) {
        INFO("method " << to_string(method));
        pr.options.method = method;
        const Trajectory a = simulate(m, pr), b = simulate(plain, pr);
        CHECK(a.stats.steps == b.stats.steps);
        CHECK(a.stats.rhs_evaluations == b.stats.rhs_evaluations);
        REQUIRE(a.states.size() == b.states.size());
        for (std::size_t k = 0; k < a.states.size(); ++k) CHECK(a.states[k] == b.states[k]);
        CHECK(a.observables == b.observables);
        CHECK(a.readout.times == b.readout.times);
        CHECK(a.readout.observables == b.readout.observables);
        CHECK(a.readout.times.size() > a.times.size());
    }
}
