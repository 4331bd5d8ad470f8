// crsim: the integration driver. Integrates piecewise between the known discontinuities (bolus
// times, infusion starts and stops), restarting the stepper exactly at each one, and reads the
// requested output times from the stepper's dense output.
#include "crsim/simulate.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <queue>
#include <sstream>
#include <string>
#include <utility>

#include <boost/numeric/odeint.hpp>

#include "block_rosenbrock.hpp"
#include "crsim/errors.hpp"
#include "crsim/interrupt.hpp"
#include "policy_monitor.hpp"
#include "readout_recorder.hpp"
#include "stiffness.hpp"

namespace crsim {

namespace odeint = boost::numeric::odeint;

Method method_from_string(const std::string& name) {
    if (name == "auto") return Method::Auto;
    if (name == "rosenbrock4") return Method::Rosenbrock4;
    if (name == "dopri5") return Method::Dopri5;
    throw InputError("method", "'" + name + "'", "one of {auto, rosenbrock4, dopri5}");
}

std::string to_string(Method m) {
    switch (m) {
        case Method::Rosenbrock4: return "rosenbrock4";
        case Method::Dopri5: return "dopri5";
        case Method::Auto: break;
    }
    return "auto";
}

std::string method_used(Method requested, const SolverStats& s) {
    if (s.dopri5_steps > 0 && s.rosenbrock4_steps > 0) return "dopri5+rosenbrock4";
    if (s.rosenbrock4_steps > 0) return "rosenbrock4";
    if (s.dopri5_steps > 0) return "dopri5";
    return requested == Method::Rosenbrock4 ? "rosenbrock4" : "dopri5";
}

namespace {

using UVec = boost::numeric::ublas::vector<double>;

// The system integrated within one segment: model (or model + sensitivities) plus the infusion
// rates active in that segment.
struct System {
    const Model& model;
    const double* p;
    int n = 0;
    int m = 0;
    const int* pidx = nullptr;
    std::vector<double> rate;       // n, state units / h
    std::vector<double> rate_sens;  // n x m
    SolverStats* stats = nullptr;
    const double* q = nullptr;      // the model's prepared parameter-only values (Model::prepare)

    void f(const double* z, double* dz, double t) const {
        ++stats->rhs_evaluations;
        if (m == 0)
            model.rhs_prepared(t, z, p, q, dz);
        else
            model.sensitivity_rhs(t, z, z + n, p, pidx, m, dz, dz + n);
        for (int i = 0; i < n; ++i) dz[i] += rate[static_cast<std::size_t>(i)];
        for (std::size_t k = 0; k < rate_sens.size(); ++k) dz[n + static_cast<int>(k)] += rate_sens[k];
    }
    void jac(const double* z, detail::BlockJacobian& jb, double t) const {
        ++stats->jacobian_evaluations;
        model.jacobian_prepared(t, z, p, q, jb.J.data(), jb.dfdt.data());
        if (m > 0) {
            zero_.assign(static_cast<std::size_t>(n), 0.0);
            model.sensitivity_coupling(t, z, p, pidx, m, zero_.data(), 1.0, jb.dfdt.data() + n);
        }
    }
    // [B_1 v; ...; B_m v] of the coupled Jacobian's off-diagonal blocks.
    void coupling(const double* z, double t, const double* v, double* out) const {
        model.sensitivity_coupling(t, z, p, pidx, m, v, 0.0, out);
    }
    mutable std::vector<double> zero_;
};

// Odeint adaptors.
struct UDeriv {
    const System* sys;
    void operator()(const UVec& x, UVec& dxdt, double t) const { sys->f(&x(0), &dxdt(0), t); }
};
struct UJac {
    const System* sys;
    void operator()(const UVec& x, detail::BlockJacobian& jb, double t) const { sys->jac(&x(0), jb, t); }
    void coupling(const UVec& x, double t, const double* v, double* out) const {
        sys->coupling(&x(0), t, v, out);
    }
};
struct VDeriv {
    const System* sys;
    void operator()(const std::vector<double>& x, std::vector<double>& dxdt, double t) const {
        sys->f(x.data(), dxdt.data(), t);
    }
};

// The arguments and results of the last two right-hand-side evaluations (pointers into the
// stepper's own buffers, valid until its next step). After an accepted Dormand-Prince step these
// are stage 6 (at y6) and stage 7 (at y7 = the new state, FSAL), both at the step's end: what
// Hairer's stiffness detection needs (stiffness.hpp), without copying anything.
struct StageLog {
    const double* x[2] = {nullptr, nullptr};
    const double* f[2] = {nullptr, nullptr};
    double t[2] = {0.0, 0.0};
    int last = 0;
    void note(const double* xi, const double* fi, double ti) {
        last ^= 1;
        x[last] = xi;
        f[last] = fi;
        t[last] = ti;
    }
};
struct VDerivLogged {
    const System* sys;
    StageLog* log;  // odeint copies the system functor: the log lives with the driver
    void operator()(const std::vector<double>& x, std::vector<double>& dxdt, double t) const {
        sys->f(x.data(), dxdt.data(), t);
        log->note(x.data(), dxdt.data(), t);
    }
};

// Never ends a segment early (methods rosenbrock4 and dopri5).
struct NoHandOver {
    template <class Stepper>
    bool operator()(const Stepper&) const { return false; }
};

template <class Vec>
double* raw(Vec& v) { return &v[0]; }

// Odeint's error checker (max norm of the scaled error) restricted to the first `controlled`
// components: the states alone when sensitivities are left out of the step-size control.
class StateErrorChecker
    : public odeint::default_error_checker<double, odeint::range_algebra, odeint::default_operations> {
public:
    using Base = odeint::default_error_checker<double, odeint::range_algebra, odeint::default_operations>;
    // worst (may be null): set at every attempt to the component whose error is the largest
    // relative to its tolerance (Odeint's weights: atol + rtol (|x_i| + dt |dxdt_i|)).
    StateErrorChecker(double atol, double rtol, std::size_t controlled, long* attempts, int* worst = nullptr)
        : Base(atol, rtol), atol_(atol), rtol_(rtol), controlled_(controlled), attempts_(attempts),
          worst_(worst) {}
    template <class State, class Deriv, class Err, class Time>
    double error(const State& x_old, const Deriv& dxdt_old, Err& x_err, Time dt) const {
        odeint::range_algebra algebra;
        return error(algebra, x_old, dxdt_old, x_err, dt);
    }
    template <class State, class Deriv, class Err, class Time>
    double error(odeint::range_algebra& algebra, const State& x_old, const Deriv& dxdt_old, Err& x_err,
                 Time dt) const {
        ++*attempts_;
        if (controlled_ < x_err.size())
            std::fill(x_err.begin() + static_cast<long>(controlled_), x_err.end(), 0.0);
        // Odeint's default check in one pass (its weights, atol + rtol (|x_i| + |dt| |dxdt_i|), and
        // its max norm, so the value returned is the same to the bit), which also finds the
        // component with the largest error for the messages of a failed step-size control. A
        // non-finite error estimate (a stage overflowed on a far too long step, e.g. the automatic
        // first step of a run to 1e11 h) could pass Odeint's "err > 1" test, whose max norm skips
        // NaN: the attempt is rejected instead, so that the step shrinks (by 5, the most).
        const double adt = std::abs(static_cast<double>(dt));
        double largest = 0.0;
        int at = 0;
        for (std::size_t i = 0; i < x_err.size(); ++i) {
            if (!std::isfinite(x_err[i])) {
                if (worst_) *worst_ = static_cast<int>(i);
                return std::numeric_limits<double>::infinity();
            }
            const double w = std::abs(x_err[i]) / (atol_ + rtol_ * (std::abs(x_old[i]) + adt * std::abs(dxdt_old[i])));
            if (w > largest) {
                largest = w;
                at = static_cast<int>(i);
            }
        }
        if (worst_) *worst_ = at;
        (void)algebra;
        return largest;
    }

private:
    double atol_, rtol_;
    std::size_t controlled_;
    long* attempts_;  // every error estimate is one step attempt
    int* worst_;
};

void check_options(const SolverOptions& o) {
    if (!(o.rtol >= 1e-14 && o.rtol < 1.0))
        throw InputError("options.rtol", fmt(o.rtol), "a relative tolerance in [1e-14, 1)");
    if (!(std::isfinite(o.atol) && o.atol > 0.0))
        throw InputError("options.atol", fmt(o.atol), "a finite absolute tolerance > 0");
    if (o.max_steps <= 0)
        throw InputError("options.max_steps", std::to_string(o.max_steps), "a step count > 0");
    if (!(std::isfinite(o.max_step) && o.max_step >= 0.0))
        throw InputError("options.max_step", fmt(o.max_step), "a finite step in h >= 0 (0 = unlimited)");
    if (!(std::isfinite(o.initial_step) && o.initial_step >= 0.0))
        throw InputError("options.initial_step", fmt(o.initial_step),
                         "a finite step in h >= 0 (0 = automatic)");
}

void check_times(const std::vector<double>& times, double t_start) {
    if (!std::isfinite(t_start))
        throw InputError("t_start", fmt(t_start), "a finite time in h");
    if (times.empty()) throw InputError("times", "[]", "at least one output time (h)");
    for (std::size_t i = 0; i < times.size(); ++i) {
        const std::string f = "times[" + std::to_string(i) + "]";
        if (!std::isfinite(times[i]) || times[i] < t_start)
            throw InputError(f, fmt(times[i]), "a finite time >= t_start = " + fmt(t_start) + " h");
        if (i > 0 && !(times[i] > times[i - 1]))
            throw InputError(f, fmt(times[i]),
                             "strictly increasing output times (previous is " + fmt(times[i - 1]) + ")");
    }
}

// Everything the driver carries from segment to segment.
class Driver {
public:
    Driver(const Model& model, const Problem& pr, const InterruptToken& interrupt)
        : model_(model), pr_(pr), n_(model.n_states()), opt_(pr.options), interrupt_(interrupt) {}
    // Into the buffers of `reuse`: every field emptied, the vectors' capacity kept.
    Driver(const Model& model, const Problem& pr, const InterruptToken& interrupt, Trajectory&& reuse)
        : Driver(model, pr, interrupt) {
        out_ = std::move(reuse);
        out_.clear();
    }

    Trajectory run();

private:
    void setup_sensitivities();
    void apply_events_at(double t, std::vector<double>& z);
    void add_events(const std::vector<DoseEvent>& events);
    void change_rate(const DoseEvent& e, int sign);
    void fire_policy(std::size_t policy, double t, const double* z);
    void record(double t, const double* z);
    std::string diagnosis(const double* z) const;
    // The smallest meaningful time difference near t: `rel` times the time since the start (at
    // least 1 h), and never less than 4 ulps of t (a run at t_start = 1e9 h resolves 5e-7 h).
    double time_resolution(double t, double rel) const {
        const double a = std::abs(t);
        return std::max(rel * std::max(1.0, std::abs(t - pr_.t_start)),
                        4.0 * (std::nextafter(a, std::numeric_limits<double>::infinity()) - a));
    }
    template <class Stepper, class State, class Deriv, class HandOver>
    double integrate(Stepper& stepper, const Deriv& deriv, State& z, double a, double b, double h0,
                     HandOver&& hand_over, bool& handed_over);
    template <class Segment>
    void integrate_all(Segment&& segment, std::vector<double>& z);
    void run_auto(std::vector<double>& z, long& attempts);

    const Model& model_;
    const Problem& pr_;
    int n_;
    int m_ = 0;
    SolverOptions opt_;
    const InterruptToken& interrupt_;
    std::vector<double> p_;
    std::vector<double> q_;  // model_.prepare(p_): parameters do not change within a run
    std::vector<int> pidx_;
    std::vector<int> init_state_;  // per sensitivity column: state index for "init:" or -1
    std::vector<DoseEvent> events_;  // administrations up to t_end, in the order they were added
    // The timeline: boluses, infusion starts and infusion ends still to come within [t_start,
    // t_end], earliest first (ties in the order added), so that each event costs O(log n) once.
    struct Pending {
        double time;
        std::size_t seq;
        std::size_t event;
        int kind;  // 0 bolus, 1 infusion start, 2 infusion end
        bool operator>(const Pending& o) const { return time > o.time || (time == o.time && seq > o.seq); }
    };
    std::priority_queue<Pending, std::vector<Pending>, std::greater<Pending>> pending_;
    std::size_t seq_ = 0;
    std::vector<int> infusing_;      // per state: infusions running
    std::unique_ptr<detail::PolicyMonitor> policies_;
    std::unique_ptr<detail::ReadoutRecorder> readouts_;  // the readout trajectory (when asked for)
    std::size_t next_out_ = 0;
    double last_dt_ = 0.0;
    int worst_ = -1;  // the component with the largest weighted error in the last step attempt
    System sys_{model_, nullptr, 0, 0, nullptr, {}, {}, nullptr};
    Trajectory out_;
    std::vector<double> ybuf_, dybuf_;
};

void Driver::setup_sensitivities() {
    for (std::size_t k = 0; k < pr_.sensitivities.size(); ++k) {
        const std::string& name = pr_.sensitivities[k];
        const std::string field = "sensitivities[" + std::to_string(k) + "]";
        if (name.rfind("init:", 0) == 0) {
            pidx_.push_back(-1);
            init_state_.push_back(model_.state_index(name.substr(5), field));
        } else {
            pidx_.push_back(model_.parameter_index(name, field));
            init_state_.push_back(-1);
        }
        for (std::size_t j = 0; j < k; ++j)
            if (pr_.sensitivities[j] == name)
                throw InputError(field, "'" + name + "'", "each sensitivity requested once");
    }
    m_ = static_cast<int>(pidx_.size());
    out_.sensitivity_names = pr_.sensitivities;
}

// Boluses due at t and the infusion rates from t on (infusions with start <= t < end).
void Driver::apply_events_at(double t, std::vector<double>& z) {
    while (!pending_.empty() && pending_.top().time <= t) {
        const Pending q = pending_.top();
        pending_.pop();
        const DoseEvent& e = events_[q.event];
        if (q.kind != 0) {
            change_rate(e, q.kind == 1 ? 1 : -1);
            continue;
        }
        const double fac = model_.dose_factor(e.state, p_.data());
        z[static_cast<std::size_t>(e.state)] += e.amount * fac;
        const int sp = model_.info().states[static_cast<std::size_t>(e.state)].dose_scale_param;
        for (int k = 0; k < m_; ++k)
            if (sp >= 0 && pidx_[static_cast<std::size_t>(k)] == sp)
                z[static_cast<std::size_t>(n_ + e.state * m_ + k)] +=
                    e.amount * model_.dose_factor_derivative(e.state, p_.data());
    }
}

// Schedules administrations (expanded up to t_end, so every time here is <= t_end).
void Driver::add_events(const std::vector<DoseEvent>& events) {
    const double t_end = pr_.times.back();
    for (const DoseEvent& e : events) {
        const std::size_t j = events_.size();
        events_.push_back(e);
        pending_.push({e.time, seq_++, j, e.is_infusion() ? 1 : 0});
        if (e.is_infusion() && e.end <= t_end) pending_.push({e.end, seq_++, j, 2});
    }
}

// An infusion starts (sign 1) or ends (-1). The rate of a state with no infusion left is exactly 0.
void Driver::change_rate(const DoseEvent& e, int sign) {
    const std::size_t s = static_cast<std::size_t>(e.state);
    infusing_[s] += sign;
    const int sp = model_.info().states[s].dose_scale_param;
    if (infusing_[s] == 0) {
        sys_.rate[s] = 0.0;
        for (int k = 0; k < m_; ++k) sys_.rate_sens[s * static_cast<std::size_t>(m_) + static_cast<std::size_t>(k)] = 0.0;
        return;
    }
    sys_.rate[s] += sign * e.rate * model_.dose_factor(e.state, p_.data());
    for (int k = 0; k < m_; ++k)
        if (sp >= 0 && pidx_[static_cast<std::size_t>(k)] == sp)
            sys_.rate_sens[s * static_cast<std::size_t>(m_) + static_cast<std::size_t>(k)] +=
                sign * e.rate * model_.dose_factor_derivative(e.state, p_.data());
}

// Policy `policy` fires at t (state z): its doses join the timeline.
void Driver::fire_policy(std::size_t policy, double t, const double* z) {
    const auto doses = policies_->fire(policy, t, z, out_.firings);
    try {
        add_events(expand_doses(model_, doses, pr_.weight_kg, pr_.t_start, pr_.times.back(),
                                static_cast<long>(events_.size())));
    } catch (const InputError& e) {
        throw InputError::nested("policies[" + std::to_string(policy) + "].action.", e);
    }
}

// What the engine can say about the input behind a failed step size control (appended to the
// SolverError): the state whose error estimate was the largest relative to its tolerance in the
// last step attempt, with its value and, when atol rather than rtol sets its tolerance there, that
// a looser atol may help; and the parameters at extreme values, the cause of most such failures
// within the bounds (docs/reliability.md): at or within 1 % of a nonzero bound, nearest first
// (no value of a shipped parameter set is; a fraction at 0 or 1 of bounds [0, 1] is an ordinary
// value and not listed).
std::string Driver::diagnosis(const double* z) const {
    const auto short_fmt = [](double v) {
        std::ostringstream os;
        os.precision(6);
        os << v;
        return os.str();
    };
    std::string s;
    const auto& states = model_.info().states;
    if (worst_ >= 0 && worst_ < n_ * (1 + m_)) {
        const bool sens = worst_ >= n_;
        const std::size_t i = static_cast<std::size_t>(sens ? (worst_ - n_) / std::max(m_, 1) : worst_);
        const double x = z[worst_];
        const std::string& unit = states[i].unit;
        s += std::string("; the last step's error estimate was largest in ") +
             (sens ? "the sensitivity of state '" + states[i].name + "'"
                   : "state '" + states[i].name + "' = " + short_fmt(x) +
                         (unit.empty() || unit == "1" ? "" : " " + unit));
        if (!sens && std::abs(x) * opt_.rtol < opt_.atol)
            s += " (its tolerance there is atol = " + short_fmt(opt_.atol) +
                 ": a looser atol may help if such values are negligible)";
    }
    const auto& params = model_.info().parameters;
    std::vector<std::pair<double, std::string>> extreme;  // (factor from the bound, text)
    for (std::size_t k = 0; k < params.size() && k < p_.size(); ++k) {
        const double v = p_[k];
        const auto& info = params[k];
        if (info.unit == "1" && info.lower == 0.0 && info.upper == 1.0) continue;
        for (const bool up : {true, false}) {
            const double b = up ? info.upper : info.lower;
            if (!(std::isfinite(b) && b > 0.0)) continue;
            const double f = up ? b / v : v / b;  // >= 1 within the bounds
            if (f <= 1.01)
                extreme.emplace_back(f, params[k].name + " = " + short_fmt(v) + " (" +
                                            (up ? "upper" : "lower") + " bound " + short_fmt(b) + ")");
        }
    }
    std::stable_sort(extreme.begin(), extreme.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    if (!extreme.empty()) {
        s += "; parameters at or within 1 % of a bound: ";
        for (std::size_t k = 0; k < extreme.size() && k < 6; ++k) s += (k ? ", " : "") + extreme[k].second;
        if (extreme.size() > 6) s += " and " + std::to_string(extreme.size() - 6) + " more";
    }
    return s;
}

void Driver::record(double t, const double* z) {
    const int no = model_.n_observables();
    out_.times.push_back(t);
    out_.states.insert(out_.states.end(), z, z + n_);
    ybuf_.resize(static_cast<std::size_t>(no));
    if (m_ == 0) {
        model_.observables_prepared(t, z, p_.data(), q_.data(), ybuf_.data());
    } else {
        dybuf_.resize(static_cast<std::size_t>(no * m_));
        model_.observables_sensitivity(t, z, z + n_, p_.data(), pidx_.data(), m_, ybuf_.data(),
                                       dybuf_.data());
        out_.state_sensitivities.insert(out_.state_sensitivities.end(), z + n_, z + n_ + n_ * m_);
        out_.observable_sensitivities.insert(out_.observable_sensitivities.end(), dybuf_.begin(),
                                             dybuf_.end());
    }
    out_.observables.insert(out_.observables.end(), ybuf_.begin(), ybuf_.end());
    for (int i = 0; i < no; ++i)
        if (!std::isfinite(ybuf_[static_cast<std::size_t>(i)]))
            throw SolverError(t, last_dt_,
                              "observable '" + model_.info().observables[static_cast<std::size_t>(i)].name +
                                  "' is not finite (" + fmt(ybuf_[static_cast<std::size_t>(i)]) +
                                  "); check parameter values and states");
}

// Integrates from a to b (a < b) with a dense-output stepper, recording output times in (a, b).
// The last step is shortened to land exactly on b, the next discontinuity. Returns b, or the
// earlier time at which a policy fired (z then holds the state there), or the end of the accepted
// step after which hand_over(stepper) returned true (handed_over is then set; method "auto").
// h0 > 0: the first step to try (a hand-over continues with the step size reached).
template <class Stepper, class State, class Deriv, class HandOver>
double Driver::integrate(Stepper& stepper, const Deriv& deriv, State& z, double a, double b, double h0,
                         HandOver&& hand_over, bool& handed_over) {
    const auto& times = pr_.times;
    handed_over = false;
    double h = opt_.initial_step > 0.0 ? opt_.initial_step : 1e-4 * (b - a);
    if (last_dt_ > 0.0 && opt_.initial_step <= 0.0) h = std::min(h * 10.0, last_dt_);
    if (h0 > 0.0) h = h0;
    if (opt_.max_step > 0.0) h = std::min(h, opt_.max_step);
    h = std::min(h, b - a);
    stepper.initialize(z, a, h);
    const double eps = time_resolution(b, 1e-13);
    State tmp = z;
    bool stepped = false;
    const detail::PolicyMonitor::Evaluator z_at = [&](double t, double* out) {
        stepper.calc_state(t, tmp);
        std::copy(raw(tmp), raw(tmp) + z.size(), out);
    };
    while (b - stepper.current_time() > eps) {
        const double t = stepper.current_time();
        if (t + stepper.current_time_step() > b) stepper.initialize(stepper.current_state(), t, b - t);
        try {
            stepper.do_step(deriv);
        } catch (const SolverError&) {
            throw;
        } catch (const std::exception& ex) {
            throw SolverError(stepper.current_time(), stepper.current_time_step(),
                              std::string("step size adjustment failed (") + ex.what() +
                                  "); the problem may be too stiff for this method or the "
                                  "right-hand side may be discontinuous" +
                                  diagnosis(raw(const_cast<State&>(stepper.current_state()))));
        }
        last_dt_ = stepper.current_time() - stepper.previous_time();
        stepped = true;
        if (interrupt_.requested()) throw Interrupted("at t = " + fmt(stepper.current_time()) + " h");
        if (++out_.stats.steps > opt_.max_steps)
            throw SolverError(stepper.current_time(), last_dt_,
                              "too much work: more than options.max_steps = " +
                                  std::to_string(opt_.max_steps) +
                                  " steps; raise max_steps, loosen tolerances or use a stiff method" +
                                  diagnosis(raw(const_cast<State&>(stepper.current_state()))));
        const auto& x = stepper.current_state();
        for (std::size_t i = 0; i < z.size(); ++i)
            if (!std::isfinite(x[i])) {
                const int s = static_cast<int>(i) < n_ ? static_cast<int>(i) : (static_cast<int>(i) - n_) / std::max(m_, 1);
                throw SolverError(stepper.current_time(), last_dt_,
                                  std::string(static_cast<int>(i) < n_ ? "state '" : "sensitivity of state '") +
                                      model_.info().states[static_cast<std::size_t>(s)].name +
                                      "' became non-finite; the right-hand side produced NaN or Inf "
                                      "(check parameter values)");
            }
        if (last_dt_ < time_resolution(stepper.current_time(), 1e-14))
            throw SolverError(stepper.current_time(), last_dt_,
                              "step size underflow; the problem is too stiff for this method or "
                              "the right-hand side is discontinuous" +
                                  diagnosis(raw(const_cast<State&>(stepper.current_state()))));
        double stop = b;
        const double t_prev = stepper.previous_time();
        if (!policies_->empty()) {
            int fired = -1;
            const double tf = policies_->scan_step(stepper.previous_time(), stepper.current_time(),
                                                   raw(const_cast<State&>(x)), z_at, fired);
            if (!std::isnan(tf)) {
                z_at(tf, raw(tmp));
                fire_policy(static_cast<std::size_t>(fired), tf, raw(tmp));
                stop = tf;
            }
        }
        // The readout trajectory: the step as the run keeps it, up to where a policy fired.
        if (readouts_->enabled())
            readouts_->step(t_prev, stop < b ? stop : stepper.current_time(),
                            stop < b ? nullptr : raw(const_cast<State&>(x)), z_at);
        while (next_out_ < times.size() && times[next_out_] < stop &&
               times[next_out_] <= stepper.current_time()) {
            stepper.calc_state(times[next_out_], tmp);
            record(times[next_out_], raw(tmp));
            ++next_out_;
        }
        if (stop < b) {
            stepper.calc_state(stop, tmp);
            z = tmp;
            return stop;
        }
        if (hand_over(stepper)) {
            handed_over = true;
            z = stepper.current_state();
            return stepper.current_time();
        }
    }
    // Output times within eps before b (closer to b than a step can be): the state there is the
    // state reached, never dropped.
    for (; next_out_ < times.size() && times[next_out_] < b; ++next_out_) {
        if (stepped) stepper.calc_state(times[next_out_], tmp);
        record(times[next_out_], stepped ? raw(tmp) : raw(z));
    }
    z = stepper.current_state();
    return b;
}

// segment(z, a, b) integrates from a towards b as integrate() does and returns the time reached
// (b, or where a policy fired), z holding the state there.
template <class Segment>
void Driver::integrate_all(Segment&& segment, std::vector<double>& zv) {
    const double t_end = pr_.times.back();
    double t = pr_.t_start;
    readouts_->point(t, zv.data());  // the initial state, before doses at t_start
    for (;;) {
        if (interrupt_.requested()) throw Interrupted("at t = " + fmt(t) + " h");
        // At a discontinuity (or where a policy fired): doses, then policies that are due here
        // (their doses may fall here too), then outputs (post-dose).
        apply_events_at(t, zv);
        policies_->observe_point(t, zv.data());
        for (int f = policies_->due(t); f >= 0; f = policies_->due(t)) {
            fire_policy(static_cast<std::size_t>(f), t, zv.data());
            apply_events_at(t, zv);
            policies_->observe_point(t, zv.data());
        }
        readouts_->point(t, zv.data());  // after the doses (the state before: the last step's end)
        while (next_out_ < pr_.times.size() && pr_.times[next_out_] == t) {
            record(t, zv.data());
            ++next_out_;
        }
        if (t >= t_end) break;
        const double next = pending_.empty() ? t_end : std::min(pending_.top().time, t_end);
        ++out_.stats.restarts;
        t = segment(zv, t, next);
    }
}

using RosenbrockCtrl = odeint::rosenbrock4_controller<detail::BlockRosenbrock4>;
using RosenbrockDense = odeint::rosenbrock4_dense_output<RosenbrockCtrl>;
using Dopri = odeint::runge_kutta_dopri5<std::vector<double>>;
using DopriCtrl = odeint::controlled_runge_kutta<Dopri, StateErrorChecker, odeint::default_step_adjuster<double, double>,
                                                 odeint::initially_resizer, odeint::explicit_error_stepper_fsal_tag>;
using DopriDense = odeint::dense_output_runge_kutta<DopriCtrl, odeint::explicit_controlled_stepper_fsal_tag>;

RosenbrockDense make_rosenbrock(const Model& model, int m, const SolverOptions& o, long* attempts,
                                int* worst, double* rho = nullptr) {
    const auto pattern = model.jacobian_pattern();
    detail::BlockRosenbrock4 st(model.n_states(), m, o.sensitivity_error_control, o.atol / o.rtol, &pattern);
    st.estimate_spectral_radius(rho);
    st.count_attempts(attempts);
    st.watch_error(worst);
    return RosenbrockDense(RosenbrockCtrl(o.atol, o.rtol, o.max_step, st));
}

DopriDense make_dopri5(int n, std::size_t N, const SolverOptions& o, long* attempts, int* worst) {
    const std::size_t controlled = o.sensitivity_error_control ? N : static_cast<std::size_t>(n);
    return DopriDense(DopriCtrl(StateErrorChecker(o.atol, o.rtol, controlled, attempts, worst),
                                odeint::default_step_adjuster<double, double>(o.max_step), Dopri()));
}

// Method "auto": dopri5 (the same stepper as method "dopri5", so that a run that never finds
// stiffness is the dopri5 run) until Hairer's test finds the problem stiff, then rosenbrock4 until
// its spectral-radius estimate shows dopri5 would be stable again (stiffness.hpp). A hand-over
// happens at the end of an accepted step: the other stepper starts there from the same state with
// the step size reached, within the same segment between discontinuities.
void Driver::run_auto(std::vector<double>& z, long& attempts) {
    const std::size_t N = z.size();
    long dopri_attempts = 0;
    DopriDense dopri = make_dopri5(n_, N, opt_, &dopri_attempts, &worst_);
    StageLog log;
    const VDerivLogged dderiv{&sys_, &log};
    double rho = -1.0;
    long ros_attempts = 0;
    RosenbrockDense ros = make_rosenbrock(model_, m_, opt_, &ros_attempts, &worst_, &rho);
    const auto rderiv = std::make_pair(UDeriv{&sys_}, UJac{&sys_});
    UVec zr(N);

    detail::StiffnessSwitch rule;
    bool stiff = false;
    const std::size_t n = static_cast<std::size_t>(n_);
    const double atol = opt_.atol, rtol = opt_.rtol;
    const auto dopri_watch = [&](const DopriDense& st) {
        const double t1 = st.current_time();
        const double tol = 1e-12 * std::max(1.0, std::abs(t1));
        const int l = log.last, p = l ^ 1;
        // stages 6 and 7 of the accepted step, both evaluated at its end
        if (!log.x[p] || std::abs(log.t[l] - t1) > tol || std::abs(log.t[p] - t1) > tol)
            return rule.explicit_step(-1.0);
        const double ratio = detail::dopri5_stiffness_ratio(n, log.x[l], log.x[p], log.f[l], log.f[p], atol, rtol);
        return rule.explicit_step(ratio < 0.0 ? -1.0 : (t1 - st.previous_time()) * ratio);
    };
    const auto ros_watch = [&](const RosenbrockDense& st) {
        // the step the controller proposes next, once it grows by less than 2x a step (not while
        // it climbs back from a restart or a hand-over, where short steps say nothing)
        const double h = st.current_time() - st.previous_time(), h_next = st.current_time_step();
        return rule.implicit_step(rho < 0.0 || h_next > 2.0 * h ? -1.0 : h_next * rho);
    };
    integrate_all(
        [&](std::vector<double>& zv, double a, double b) {
            double t = a, h0 = 0.0;
            const double eps = time_resolution(b, 1e-13);
            for (;;) {
                bool handed = false;
                const long before = out_.stats.steps;
                if (stiff) {
                    std::copy(zv.begin(), zv.end(), raw(zr));
                    t = integrate(ros, rderiv, zr, t, b, h0, ros_watch, handed);
                    std::copy(raw(zr), raw(zr) + N, zv.begin());
                    out_.stats.rosenbrock4_steps += out_.stats.steps - before;
                } else {
                    t = integrate(dopri, dderiv, zv, t, b, h0, dopri_watch, handed);
                    out_.stats.dopri5_steps += out_.stats.steps - before;
                }
                if (!handed) return t;  // b, or where a policy fired
                stiff = !stiff;
                out_.stats.switches.push_back({t, stiff ? Method::Rosenbrock4 : Method::Dopri5});
                h0 = last_dt_;
                if (b - t <= eps) return b;
            }
        },
        z);
    attempts = dopri_attempts + ros_attempts;
}

Trajectory Driver::run() {
    check_options(opt_);
    check_times(pr_.times, pr_.t_start);
    p_ = pr_.parameters.empty() ? model_.default_parameters() : pr_.parameters;
    model_.check_parameters(p_);
    setup_sensitivities();
    const double t_end = pr_.times.back();
    add_events(expand_doses(model_, pr_.doses, pr_.weight_kg, pr_.t_start, t_end));
    q_.resize(static_cast<std::size_t>(model_.n_prepared()));  // parameters do not change in a run
    model_.prepare(p_.data(), q_.data());
    policies_ = std::make_unique<detail::PolicyMonitor>(model_, pr_.policies, p_.data(), q_.data());
    for (std::size_t i = 0; i < pr_.policies.size(); ++i) {  // check each action's doses up front
        try {
            expand_doses(model_, pr_.policies[i].action, pr_.weight_kg, 0.0, t_end - pr_.t_start);
        } catch (const InputError& e) {
            throw InputError::nested("policies[" + std::to_string(i) + "].action.", e);
        }
    }

    // Initial state and initial sensitivities.
    const std::size_t N = static_cast<std::size_t>(n_ * (1 + m_));
    std::vector<double> z(N, 0.0);
    model_.initial(p_.data(), z.data());
    if (m_ > 0) model_.initial_sensitivity(p_.data(), pidx_.data(), m_, z.data() + n_);
    for (const auto& kv : pr_.initial) {
        const int i = model_.state_index(kv.first, "initial");
        if (!std::isfinite(kv.second))
            throw InputError("initial." + kv.first, fmt(kv.second), "a finite initial value");
        z[static_cast<std::size_t>(i)] = kv.second;
        for (int k = 0; k < m_; ++k) z[static_cast<std::size_t>(n_ + i * m_ + k)] = 0.0;
    }
    for (int k = 0; k < m_; ++k)
        if (init_state_[static_cast<std::size_t>(k)] >= 0)
            z[static_cast<std::size_t>(n_ + init_state_[static_cast<std::size_t>(k)] * m_ + k)] = 1.0;
    for (int i = 0; i < n_; ++i)
        if (!std::isfinite(z[static_cast<std::size_t>(i)]))
            throw InputError("initial." + model_.info().states[static_cast<std::size_t>(i)].name,
                             fmt(z[static_cast<std::size_t>(i)]),
                             "a finite initial value (check the parameters it is computed from)");

    policies_->set_state_size(static_cast<int>(N));
    readouts_ = std::make_unique<detail::ReadoutRecorder>(model_, pr_.readouts, p_.data(), q_.data(),
                                                          out_.readout);
    readouts_->set_state_size(static_cast<int>(N));

    sys_.p = p_.data();
    sys_.q = q_.data();
    sys_.n = n_;
    sys_.m = m_;
    sys_.pidx = pidx_.data();
    sys_.rate.assign(static_cast<std::size_t>(n_), 0.0);
    sys_.rate_sens.assign(static_cast<std::size_t>(n_ * m_), 0.0);
    infusing_.assign(static_cast<std::size_t>(n_), 0);
    sys_.stats = &out_.stats;
    // The output buffers at their final size up front: growing them by doubling copied each one
    // about twice and, above the allocator's mmap threshold, touched fresh pages at every growth.
    const std::size_t n_out = pr_.times.size();
    out_.times.reserve(n_out);
    out_.states.reserve(n_out * static_cast<std::size_t>(n_));
    out_.observables.reserve(n_out * static_cast<std::size_t>(model_.n_observables()));
    out_.state_sensitivities.reserve(n_out * static_cast<std::size_t>(n_ * m_));
    out_.observable_sensitivities.reserve(n_out * static_cast<std::size_t>(model_.n_observables() * m_));
    if (readouts_->enabled()) {  // about one point per step; a CRS course takes ~1.5 steps per output
        const std::size_t r = std::max<std::size_t>(2 * n_out, 256);
        out_.readout.times.reserve(r);
        out_.readout.states.reserve(r * static_cast<std::size_t>(n_));
        out_.readout.observables.reserve(r * static_cast<std::size_t>(model_.n_observables()));
    }

    long attempts = 0;  // step attempts (accepted or rejected)
    bool handed_over = false;
    if (opt_.method == Method::Rosenbrock4) {
        auto stepper = make_rosenbrock(model_, m_, opt_, &attempts, &worst_);
        const auto deriv = std::make_pair(UDeriv{&sys_}, UJac{&sys_});
        UVec zr(N);
        integrate_all(
            [&](std::vector<double>& zv, double a, double b) {
                std::copy(zv.begin(), zv.end(), raw(zr));
                const double t = integrate(stepper, deriv, zr, a, b, 0.0, NoHandOver{}, handed_over);
                std::copy(raw(zr), raw(zr) + N, zv.begin());
                return t;
            },
            z);
        out_.stats.rosenbrock4_steps = out_.stats.steps;
    } else if (opt_.method == Method::Dopri5) {
        auto stepper = make_dopri5(n_, N, opt_, &attempts, &worst_);
        const VDeriv deriv{&sys_};
        integrate_all(
            [&](std::vector<double>& zv, double a, double b) {
                return integrate(stepper, deriv, zv, a, b, 0.0, NoHandOver{}, handed_over);
            },
            z);
        out_.stats.dopri5_steps = out_.stats.steps;
    } else {
        run_auto(z, attempts);
    }
    out_.stats.rejected_steps = std::max(0L, attempts - out_.stats.steps);
    out_.doses = events_;
    std::stable_sort(out_.doses.begin(), out_.doses.end(),
                     [](const DoseEvent& a, const DoseEvent& b) { return a.time < b.time; });
    return std::move(out_);
}

}  // namespace

Trajectory simulate(const Model& model, const Problem& problem, const InterruptToken& interrupt) {
    Driver driver(model, problem, interrupt);
    return driver.run();
}

Trajectory simulate(const Model& model, const Problem& problem, const InterruptToken& interrupt,
                    Trajectory&& reuse) {
    Driver driver(model, problem, interrupt, std::move(reuse));
    return driver.run();
}

Trajectory simulate(const Model& model, const Problem& problem) {
    return simulate(model, problem, InterruptToken());
}

}  // namespace crsim
