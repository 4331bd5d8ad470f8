// Forward sensitivities (AD of the model, integrated with the states) against central finite
// differences of the solution, for the PK library and Robertson (pk1, pk1_oral, pk2, pk2_oral,
// pk2_mm, robertson) with boluses, infusions and repeats, every parameter and initial values
// ("init:<state>"), state and observable sensitivities, both methods (dopri5 skipped for the stiff
// Robertson problem). Two test-only models cover what the built-in ones do not: a parameter in the
// dose conversion factor (mg -> nmol through the molecular weight) and a parameter-dependent
// initial state (turnover at baseline). Requesting sensitivities must not change the states (1e-9
// relative to each state's peak).
//
// Finite differences: the fourth-order central stencil on theta +- h, theta +- 2h with
// h = 1e-3 * theta_scale (theta_scale = |theta| for a parameter, the peak of the state over the run
// for an initial value) and solver rtol 1e-12, so the difference quotient carries ~1e-12 truncation
// and ~1e-9 solver noise relative to the sensitivity's size. Robertson, whose tight-tolerance runs
// are slow (measured with atol 1e-20: rosenbrock4 takes ~8.5e4 steps to t = 100 at rtol 1e-12
// against ~9e3 at rtol 1e-10, most of them on 1 < t < 100, where the step count grows like
// rtol^-1/2, an effective order of about 2), uses rtol 1e-10 and
// h = 1e-2 * theta_scale instead (~1e-8 truncation, ~1e-8 noise).
//
// Acceptance: at every output time, state i and direction k,
//     |S_ad - S_fd| <= 1e-5 * max(|S_fd|, scale_ik),
//     scale_ik = max(peak over time of |S_fd(., i, k)|, 1e-3 * peak|x_i| / theta_scale_k),
// i.e. 1e-5 relative to the size of that sensitivity over the run; the floor covers sensitivities
// that are identically zero (e.g. the depot with respect to CL), which are then checked to 1e-8 in
// normalised units (theta/x * dx/dtheta). The same rule with y for the observables.
#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "catch.hpp"
#include "crsim/registry.hpp"
#include "test_support.hpp"

using namespace crsim;
using namespace testsupport;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInfinity = std::numeric_limits<double>::infinity();

struct Case {
    std::string model;
    std::vector<Dose> doses;
    std::vector<double> times;
    std::vector<std::string> inits;  // states whose initial value is a sensitivity direction
    double weight_kg = kNaN;
    double atol = 1e-12;
    double rtol = 1e-12;
    double fd_step = 1e-3;  // relative to theta_scale
};

Problem problem(const Case& c, Method method) {
    Problem pr = tight(method, c.rtol, c.atol);
    pr.doses = c.doses;
    pr.times = c.times;
    pr.weight_kg = c.weight_kg;
    return pr;
}

// Peak |a(t, i)| over t for each i of a T x w array.
std::vector<double> peaks(const std::vector<double>& a, std::size_t w) {
    std::vector<double> p(w, 0.0);
    for (std::size_t r = 0; r * w < a.size(); ++r)
        for (std::size_t i = 0; i < w; ++i) p[i] = std::max(p[i], std::abs(a[r * w + i]));
    return p;
}

// Compares one direction k of an AD sensitivity array (T x w x m) with its finite-difference
// counterpart fd (T x w); returns the worst |diff| / max(|fd|, scale) and describes where.
double compare(const std::vector<double>& ad, std::size_t m, std::size_t k,
               const std::vector<double>& fd, std::size_t w, const std::vector<double>& value_peaks,
               double theta_scale, const std::vector<double>& times,
               const std::vector<std::string>& labels, std::string& where) {
    const std::vector<double> fd_peaks = peaks(fd, w);
    double worst = 0.0;
    for (std::size_t t = 0; t < times.size(); ++t)
        for (std::size_t i = 0; i < w; ++i) {
            const double a = ad[(t * w + i) * m + k], f = fd[t * w + i];
            const double scale = std::max(fd_peaks[i], 1e-3 * value_peaks[i] / theta_scale);
            const double e = scale == 0.0 ? std::abs(a - f) : std::abs(a - f) / std::max(std::abs(f), scale);
            if (e > worst || std::isnan(e)) {
                worst = std::isnan(e) ? std::numeric_limits<double>::infinity() : e;
                std::ostringstream os;
                os << labels[i] << " at t = " << times[t] << ": AD " << a << ", FD " << f
                   << ", scale " << scale;
                where = os.str();
            }
        }
    return worst;
}

// Runs the full check for one case and one method.
void check_case(const Model& m, const Case& c, Method method) {
    const std::size_t n = static_cast<std::size_t>(m.n_states());
    const std::size_t no = static_cast<std::size_t>(m.n_observables());
    std::vector<std::string> names;
    for (const auto& pi : m.info().parameters) names.push_back(pi.name);
    for (const auto& s : c.inits) names.push_back("init:" + s);
    const std::size_t nm = names.size();
    std::vector<std::string> state_labels, obs_labels;
    for (const auto& s : m.info().states) state_labels.push_back("state " + s.name);
    for (const auto& o : m.info().observables) obs_labels.push_back("observable " + o.name);

    // Plain run, then the run with every sensitivity.
    const Problem base = problem(c, method);
    const Trajectory plain = simulate(m, base);
    Problem with = base;
    with.sensitivities = names;
    const Trajectory ad = simulate(m, with);
    REQUIRE(ad.sensitivity_names == names);
    REQUIRE(ad.state_sensitivities.size() == c.times.size() * n * nm);
    REQUIRE(ad.observable_sensitivities.size() == c.times.size() * no * nm);

    // Requesting sensitivities leaves the states alone (to 1e-9 of each state's peak).
    const std::vector<double> xpk = peaks(plain.states, n), ypk = peaks(plain.observables, no);
    {
        double worst = 0.0;
        for (std::size_t t = 0; t < c.times.size(); ++t)
            for (std::size_t i = 0; i < n; ++i)
                worst = std::max(worst, rel_diff(ad.states[t * n + i], plain.states[t * n + i], xpk[i]));
        INFO("states with vs without sensitivities: worst relative difference " << worst);
        CHECK(worst <= 1e-9);
    }

    const std::vector<double> p0 = m.default_parameters();
    for (std::size_t k = 0; k < nm; ++k) {
        const bool is_init = names[k].rfind("init:", 0) == 0;
        // theta +- h, theta +- 2h
        double theta_scale, theta0;
        std::string state;
        if (is_init) {
            state = names[k].substr(5);
            const std::size_t si = static_cast<std::size_t>(m.state_index(state));
            std::vector<double> x0(n);
            m.initial(p0.data(), x0.data());
            theta0 = x0[si];
            theta_scale = std::max(xpk[si], std::abs(x0[si]));
        } else {
            theta0 = p0[k];
            theta_scale = std::abs(p0[k]);
        }
        REQUIRE(theta_scale > 0.0);
        const double h = c.fd_step * theta_scale;
        std::vector<Trajectory> runs;
        for (double j : {-2.0, -1.0, 1.0, 2.0}) {
            Problem pj = base;
            if (is_init) {
                pj.initial[state] = theta0 + j * h;
            } else {
                pj.parameters = p0;
                pj.parameters[k] = theta0 + j * h;
            }
            runs.push_back(simulate(m, pj));
        }
        // Fourth-order central difference: (f(-2h) - 8 f(-h) + 8 f(h) - f(2h)) / (12 h).
        auto stencil = [&](const std::vector<double> Trajectory::*field) {
            std::vector<double> d((runs[0].*field).size());
            for (std::size_t r = 0; r < d.size(); ++r)
                d[r] = ((runs[0].*field)[r] - 8.0 * (runs[1].*field)[r] + 8.0 * (runs[2].*field)[r] -
                        (runs[3].*field)[r]) / (12.0 * h);
            return d;
        };
        const std::vector<double> fdx = stencil(&Trajectory::states);
        const std::vector<double> fdy = stencil(&Trajectory::observables);

        std::string where;
        const double ex = compare(ad.state_sensitivities, nm, k, fdx, n, xpk, theta_scale, c.times,
                                  state_labels, where);
        INFO(c.model << " / " << to_string(method) << ": d/d" << names[k] << ", worst " << ex
                     << " at " << where);
        CHECK(ex <= 1e-5);
        const double ey = compare(ad.observable_sensitivities, nm, k, fdy, no, ypk, theta_scale,
                                  c.times, obs_labels, where);
        INFO(c.model << " / " << to_string(method) << ": d/d" << names[k] << " (observables), worst "
                     << ey << " at " << where);
        CHECK(ey <= 1e-5);
    }
}

Dose repeated(Dose d, int additional, double interval) {
    d.additional = additional;
    d.interval = interval;
    return d;
}

}  // namespace

TEST_CASE("sensitivities match finite differences: one-compartment models", "[sensitivities]") {
    Case pk1{"pk1",
             {bolus("central", 0.0, 10.0), infusion_duration("central", 6.0, 20.0, 2.0),
              repeated(bolus("central", 12.0, 5.0), 2, 8.0)},
             grid(0.25, 36.0, 72),
             {"central"}};
    Dose oral = repeated(bolus("depot", 0.0, 8.0), 2, 6.0);
    oral.lag = 0.5;
    oral.bioavailability = 0.8;
    Case pk1_oral{"pk1_oral", {oral, infusion_rate("central", 3.0, 5.0, 5.0)}, grid(0.25, 24.0, 96),
                  {"depot", "central"}};
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) {
        check_case(model("pk1"), pk1, method);
        check_case(model("pk1_oral"), pk1_oral, method);
    }
}

TEST_CASE("sensitivities match finite differences: two-compartment models", "[sensitivities]") {
    Case pk2{"pk2",
             {repeated(infusion_rate("central", 0.0, 560.0, 560.0), 1, 336.0),
              bolus("central", 100.0, 100.0)},
             grid(0.5, 672.0, 90),
             {"peripheral"}};
    Case pk2_oral{"pk2_oral",
                  {repeated(bolus("depot", 0.0, 162.0), 2, 168.0),
                   infusion_duration("central", 50.0, 100.0, 1.0)},
                  grid(1.0, 504.0, 80),
                  {"depot"}};
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) {
        check_case(model("pk2"), pk2, method);
        check_case(model("pk2_oral"), pk2_oral, method);
    }
}

TEST_CASE("sensitivities match finite differences: Michaelis-Menten elimination", "[sensitivities]") {
    // 8 mg/kg (cap 800 mg) 1-h infusions q2w at 70 kg: C ~ 160 mg/L >> Km = 2.7 mg/L early on (the
    // saturable route saturated), then the concentration falls through Km; a small bolus late.
    Dose toci = repeated(infusion_duration("central", 0.0, 8.0, 1.0), 1, 336.0);
    toci.per_kg = true;
    toci.cap = 800.0;
    Case pk2_mm{"pk2_mm", {toci, bolus("central", 600.0, 10.0)}, grid(0.5, 1000.0, 100),
                {"central", "peripheral"}, 70.0};
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) check_case(model("pk2_mm"), pk2_mm, method);
}

TEST_CASE("sensitivities match finite differences: Robertson (stiff)", "[sensitivities][stiff]") {
    // rosenbrock4 only: the problem is stiff (eigenvalues down to -1e4), so dopri5 would need
    // stability-limited steps (see test_errors.cpp) and is not meant for it.
    std::vector<double> times;
    for (int e = -4; e <= 3; ++e)
        for (double mant : {1.0, 3.0}) times.push_back(mant * std::pow(10.0, e));
    Case rob{"robertson", {}, times, {"y1", "y2"}};
    rob.atol = 1e-20;
    rob.rtol = 1e-10;
    rob.fd_step = 1e-2;
    check_case(model("robertson"), rob, Method::Rosenbrock4);
}

// A test-only model whose dose conversion depends on a parameter: an antibody dosed in mg, tracked
// in nmol; 1 mg = 1e-3 g / MW (g/mol) = 1e6 / MW nmol, i.e. dose_scale 1e6, power -1 on MW.
struct MolarOneCmt {
    static constexpr int n_states = 1;
    enum P { CL, V, MW };
    static ModelInfo info() {
        ModelInfo m;
        m.name = "test_molar_1cmt";
        m.description = "one compartment in nmol, dosed in mg through the molecular weight (test only)";
        m.states = {{"central", "nmol", "amount in the central compartment", "mg", 1e6, MW, -1.0}};
        m.parameters = {{"CL", "L/h", 0.5, 0.0, kInfinity, "clearance", "test value"},
                        {"V", "L", 5.0, 1e-12, kInfinity, "volume", "test value"},
                        {"MW", "g/mol", 1.48e5, 1.0, kInfinity, "molecular weight (IgG ~148 kDa)",
                         "test value"}};
        m.observables = {{"C", "nmol/L", "concentration"}};
        return m;
    }
    template <class T> static void initial(const T*, T* x0) { x0[0] = T(0.0); }
    template <class T> static void rhs(const T&, const T* x, const T* p, T* dx) {
        dx[0] = -p[CL] / p[V] * x[0];
    }
    template <class T> static void observables(const T&, const T* x, const T* p, T* y) {
        y[0] = x[0] / p[V];
    }
};

TEST_CASE("sensitivity to a parameter in the dose conversion factor", "[sensitivities][dose-scale]") {
    Registry registry;
    registry.add<MolarOneCmt>();
    const Model& m = *registry.get("test_molar_1cmt");
    const double MW = 1.48e5, k = 0.5 / 5.0;
    Case c{"test_molar_1cmt",
           {bolus("central", 0.0, 100.0), infusion_duration("central", 5.0, 50.0, 2.0),
            repeated(bolus("central", 10.0, 20.0), 1, 6.0)},
           grid(0.0, 30.0, 61),
           {"central"}};
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) {
        INFO("method " << to_string(method));
        check_case(m, c, method);

        // Exactly: every administration scales with 1/MW, so x = (1/MW) g(t) and dx/dMW = -x/MW.
        Problem pr = problem(c, method);
        pr.sensitivities = {"MW", "CL"};
        const Trajectory tr = simulate(m, pr);
        // Before the infusion: x = 100 mg * 1e6 / MW * exp(-k t) nmol.
        for (std::size_t i = 0; i < tr.times.size() && tr.times[i] < 5.0; ++i)
            CHECK(rel_diff(tr.states[i], 100.0 * 1e6 / MW * std::exp(-k * tr.times[i])) <= 1e-9);
        double worst = 0.0, worst_y = 0.0;
        for (std::size_t i = 0; i < tr.times.size(); ++i) {
            worst = std::max(worst, rel_diff(tr.state_sensitivities[2 * i], -tr.states[i] / MW));
            worst_y = std::max(worst_y, rel_diff(tr.observable_sensitivities[2 * i], -tr.observables[i] / MW));
        }
        INFO("worst relative error of dx/dMW = -x/MW: " << worst << ", of dC/dMW: " << worst_y);
        CHECK(worst <= 1e-9);
        CHECK(worst_y <= 1e-9);
    }
}

// A test-only model whose initial state depends on the parameters (a turnover response at baseline,
// R(0) = kin/kout, stimulated by a drug amount A): exercises the AD of the initialiser (dx0/dp).
//   dA/dt = -ke A ;  dR/dt = kin (1 + S A) - kout R ;  observable R.
struct Turnover {
    static constexpr int n_states = 2;
    enum P { KE, KIN, KOUT, S };
    static ModelInfo info() {
        ModelInfo m;
        m.name = "test_turnover";
        m.description = "stimulated turnover at baseline (test only)";
        m.states = {{"A", "mg", "drug amount", "mg"}, {"R", "pg/mL", "response", ""}};
        m.parameters = {{"ke", "1/h", 0.2, 0.0, kInfinity, "drug elimination", "test value"},
                        {"kin", "pg/mL/h", 3.0, 0.0, kInfinity, "zero-order production", "test value"},
                        {"kout", "1/h", 0.5, 1e-12, kInfinity, "first-order loss", "test value"},
                        {"S", "1/mg", 0.05, 0.0, kInfinity, "stimulation per mg", "test value"}};
        m.observables = {{"R", "pg/mL", "response"}};
        return m;
    }
    template <class T> static void initial(const T* p, T* x0) {
        x0[0] = T(0.0);
        x0[1] = p[KIN] / p[KOUT];
    }
    template <class T> static void rhs(const T&, const T* x, const T* p, T* dx) {
        dx[0] = -p[KE] * x[0];
        dx[1] = p[KIN] * (1.0 + p[S] * x[0]) - p[KOUT] * x[1];
    }
    template <class T> static void observables(const T&, const T* x, const T*, T* y) { y[0] = x[1]; }
};

TEST_CASE("sensitivities of a parameter-dependent initial state", "[sensitivities][initial]") {
    Registry registry;
    registry.add<Turnover>();
    const Model& m = *registry.get("test_turnover");
    Case c{"test_turnover",
           {bolus("A", 2.0, 20.0), infusion_rate("A", 10.0, 10.0, 5.0)},
           grid(0.0, 48.0, 97),
           {"A", "R"}};
    for (Method method : {Method::Rosenbrock4, Method::Dopri5}) {
        INFO("method " << to_string(method));
        check_case(m, c, method);
        // Before the first dose R stays at kin/kout, so dR/dkin = 1/kout and dR/dkout = -kin/kout^2.
        Problem pr = problem(c, method);
        pr.sensitivities = {"kin", "kout", "init:R"};
        const Trajectory tr = simulate(m, pr);
        for (std::size_t i = 0; i < tr.times.size() && tr.times[i] < 2.0; ++i) {
            CHECK(tr.states[2 * i + 1] == Approx(6.0).epsilon(1e-12));
            CHECK(tr.state_sensitivities[(2 * i + 1) * 3 + 0] == Approx(2.0).epsilon(1e-10));
            CHECK(tr.state_sensitivities[(2 * i + 1) * 3 + 1] == Approx(-12.0).epsilon(1e-10));
            CHECK(tr.state_sensitivities[(2 * i + 1) * 3 + 2] == Approx(std::exp(-0.5 * tr.times[i])).epsilon(1e-9));
        }
        // An initial value given by the caller no longer depends on the parameters: with R(0) = 10,
        // R(t) = kin/kout + (10 - kin/kout) e^{-kout t} and dR/dkin = (1 - e^{-kout t}) / kout.
        pr.initial = {{"R", 10.0}};
        const Trajectory to = simulate(m, pr);
        for (std::size_t i = 0; i < to.times.size() && to.times[i] < 2.0; ++i) {
            const double e = std::exp(-0.5 * to.times[i]);
            CHECK(to.states[2 * i + 1] == Approx(6.0 + 4.0 * e).epsilon(1e-9));
            CHECK(to.state_sensitivities[(2 * i + 1) * 3 + 0] == Approx((1.0 - e) / 0.5).margin(1e-9));
        }
    }
}
