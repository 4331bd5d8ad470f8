// crsim (private): watches the conditions of triggered policies along an integration.
//
// Each policy is a small state machine: `active` while its condition holds, `true_since` the
// located time it started to hold. It fires at max(true_since + sustained, earliest time its limits
// allow) if the condition still holds then and the time lies in its window. Crossings inside a step
// are located by bisection on the stepper's dense output (evaluator `z_at`, crossing.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "crossing.hpp"
#include "crsim/errors.hpp"
#include "crsim/model.hpp"
#include "crsim/policy.hpp"

namespace crsim::detail {

class PolicyMonitor {
public:
    using Evaluator = std::function<void(double t, double* z)>;

    // p: the run's parameters; q: its prepared values (Model::prepare).
    PolicyMonitor(const Model& model, const std::vector<Policy>& policies, const double* p, const double* q)
        : model_(model), policies_(policies), p_(p), q_(q), y_(static_cast<std::size_t>(model.n_observables())) {
        for (std::size_t i = 0; i < policies.size(); ++i) watch_.push_back(check(i));
        hist_.resize(policies.size());
    }

    bool empty() const noexcept { return policies_.empty(); }

    // Condition of policy i at (t, z).
    bool holds(std::size_t i, double t, const double* z) const {
        const Watch& w = watch_[i];
        double v;
        if (w.state >= 0) {
            v = z[w.state];
        } else {
            model_.observables_prepared(t, z, p_, q_, y_.data());
            v = y_[static_cast<std::size_t>(w.observable)];
        }
        const Condition& c = policies_[i].condition;
        if (c.window > 0.0) {  // trend: fold change over the window
            const double past = past_value(i, t - c.window);
            if (!(past > 0.0) || !std::isfinite(past)) return false;
            v /= past;
        }
        return c.comparison == Comparison::GreaterEqual ? v >= c.threshold : v <= c.threshold;
    }

    // The watched variable of trend policy i at an earlier time s: linear interpolation in the
    // recorded history (accepted step ends and jump points; right-continuous at jumps), the dense
    // output for times inside the step being scanned, the first value before the start.
    double past_value(std::size_t i, double s) const {
        const History& h = hist_[i];
        if (h.t.empty()) return std::numeric_limits<double>::quiet_NaN();
        if (s <= h.t.front()) return h.v.front();
        if (s > h.t.back()) {
            if (dense_ == nullptr) return h.v.back();
            hbuf_.resize(static_cast<std::size_t>(nz_));
            (*dense_)(s, hbuf_.data());
            return value(i, s, hbuf_.data());
        }
        const std::size_t k =
            static_cast<std::size_t>(std::upper_bound(h.t.begin(), h.t.end(), s) - h.t.begin()) - 1;
        if (k + 1 >= h.t.size() || h.t[k + 1] <= h.t[k]) return h.v[k];
        const double a = (s - h.t[k]) / (h.t[k + 1] - h.t[k]);
        return (1.0 - a) * h.v[k] + a * h.v[k + 1];
    }

    // Appends (t, value) to the history of every trend policy.
    void record(double t, const double* z) {
        for (std::size_t i = 0; i < hist_.size(); ++i)
            if (policies_[i].condition.window > 0.0) {
                hist_[i].t.push_back(t);
                hist_[i].v.push_back(value(i, t, z));
            }
    }

    double value(std::size_t i, double t, const double* z) const {
        const Watch& w = watch_[i];
        if (w.state >= 0) return z[w.state];
        model_.observables_prepared(t, z, p_, q_, y_.data());
        return y_[static_cast<std::size_t>(w.observable)];
    }

    // Updates the state machines at a point where the state may have jumped (start, after doses).
    void observe_point(double t, const double* z) {
        record(t, z);
        for (std::size_t i = 0; i < watch_.size(); ++i) {
            const bool h = holds(i, t, z);
            if (h && !watch_[i].active) watch_[i].true_since = t;
            watch_[i].active = h;
        }
    }

    // The policy due to fire at or before time t (given its state machine), or -1.
    int due(double t) const {
        int best = -1;
        double best_t = std::numeric_limits<double>::infinity();
        for (std::size_t i = 0; i < watch_.size(); ++i) {
            const double f = fire_time(i);
            if (f <= t && f < best_t) best = static_cast<int>(i), best_t = f;
        }
        return best;
    }

    double fire_time(std::size_t i) const {
        const Watch& w = watch_[i];
        const Policy& pol = policies_[i];
        if (!w.active) return std::numeric_limits<double>::infinity();
        double t = std::max(w.true_since + pol.condition.sustained, pol.window_start);
        const std::size_t n = w.firings.size();
        if (static_cast<long>(n) >= pol.max_firings) return std::numeric_limits<double>::infinity();
        if (n > 0) t = std::max(t, w.firings.back() + pol.min_interval);
        if (static_cast<long>(n) >= pol.max_per_period)
            t = std::max(t, w.firings[n - static_cast<std::size_t>(pol.max_per_period)] + pol.period);
        return t > pol.window_end ? std::numeric_limits<double>::infinity() : t;
    }

    // Scans the accepted step (t0, t1] (state z1 at t1). Updates the state machines for crossings
    // in the step in time order and returns the time of the first firing in the step, or NaN when
    // none fires; `fired` then holds the policy index.
    double scan_step(double t0, double t1, const double* z1, const Evaluator& z_at, int& fired) {
        std::vector<double>& z = zbuf_;
        z.resize(static_cast<std::size_t>(nz_));
        struct DenseScope {  // trend look-backs inside this step read the dense output
            const Evaluator*& slot;
            ~DenseScope() { slot = nullptr; }
        } scope{dense_};
        dense_ = &z_at;
        double lo = t0;
        for (;;) {
            double first = std::numeric_limits<double>::infinity();
            int who = -1;
            for (std::size_t i = 0; i < watch_.size(); ++i) {
                const double f = fire_time(i);
                if (watch_[i].active && f >= lo && f <= t1 && f < first) first = f, who = static_cast<int>(i);
                if (holds(i, t1, z1) != watch_[i].active) {
                    const double tc = locate(i, lo, t1, z_at, z);
                    if (tc < first) first = tc, who = static_cast<int>(i) + kCrossing;
                }
            }
            if (who < 0) {
                record(t1, z1);
                return std::numeric_limits<double>::quiet_NaN();
            }
            if (who < kCrossing) {  // a firing, and the condition held up to it
                fired = who;
                z_at(first, z.data());
                record(first, z.data());  // the integration stops here
                return first;
            }
            Watch& w = watch_[static_cast<std::size_t>(who - kCrossing)];
            w.active = !w.active;
            if (w.active) w.true_since = first;
            lo = first;
        }
    }

    // Records a firing of policy i at t (state z) and returns its doses with absolute times.
    std::vector<Dose> fire(std::size_t i, double t, const double* z, std::vector<PolicyFiring>& log) {
        Watch& w = watch_[i];
        const Policy& pol = policies_[i];
        const std::string field = "policies[" + std::to_string(i) + "].max_firings";
        const std::string limit =
            pol.max_firings == std::numeric_limits<int>::max() ? "unlimited" : std::to_string(pol.max_firings);
        w.same_instant = !w.firings.empty() && w.firings.back() == t ? w.same_instant + 1 : 1;
        if (w.same_instant > kMaxFiringsPerInstant)
            throw InputError(field, limit,
                             "policy '" + pol.name + "' fired " + std::to_string(kMaxFiringsPerInstant) +
                                 " times at t = " + fmt(t) + " h and its condition on " +
                                 pol.condition.variable + " still holds after its doses; a policy fires at most " +
                                 std::to_string(kMaxFiringsPerInstant) +
                                 " times at one instant (give min_interval > 0, a max_firings limit, or "
                                 "check the condition)");
        if (w.firings.size() >= static_cast<std::size_t>(kMaxFiringsPerRun))
            throw InputError(field, limit,
                             "policy '" + pol.name + "' reached " + std::to_string(kMaxFiringsPerRun) +
                                 " firings at t = " + fmt(t) + " h, the most one policy may fire in a run "
                                 "(give a larger min_interval or a max_firings limit)");
        w.firings.push_back(t);
        PolicyFiring f;
        f.policy = pol.name;
        f.condition_met = w.true_since;
        f.detected = t;
        f.administered = t + pol.delay;
        f.value = value(i, t, z);
        const bool ge = pol.condition.comparison == Comparison::GreaterEqual;
        f.reason = pol.condition.window > 0.0
                       ? pol.condition.variable + " fold change over " + fmt(pol.condition.window) +
                             " h" + (ge ? " >= " : " <= ") + fmt(pol.condition.threshold) + " (now " +
                             fmt(f.value / past_value(i, t - pol.condition.window)) + ") since t = " +
                             fmt(w.true_since) + " h (sustained "
                       : pol.condition.variable + (ge ? " >= " : " <= ") + fmt(pol.condition.threshold) +
                             " since t = " + fmt(w.true_since) + " h (sustained ";
        f.reason = f.reason +
                   fmt(pol.condition.sustained) + " h required), firing " +
                   std::to_string(w.firings.size()) + " of at most " + std::to_string(pol.max_firings);
        log.push_back(f);
        std::vector<Dose> doses = pol.action;
        for (Dose& d : doses) d.time += t + pol.delay;
        return doses;
    }

    void set_state_size(int nz) { nz_ = nz; }

private:
    static constexpr int kCrossing = 1 << 20;

    struct History {  // the watched variable along the run (trend policies only)
        std::vector<double> t, v;
    };

    struct Watch {
        int state = -1;
        int observable = -1;
        bool active = false;
        double true_since = 0.0;
        std::vector<double> firings;
        int same_instant = 0;  // consecutive firings at the time of the last one
    };

    // First time in (lo, hi] at which the condition of policy i differs from its value at lo.
    double locate(std::size_t i, double lo, double hi, const Evaluator& z_at, std::vector<double>& z) const {
        const bool at_lo = watch_[i].active;
        return bisect_change(lo, hi, policies_[i].time_tolerance, [&](double t) {
                   z_at(t, z.data());
                   return holds(i, t, z.data()) != at_lo;
               }).hi;
    }

    Watch check(std::size_t i) const {
        const Policy& pol = policies_[i];
        const std::string f = "policies[" + std::to_string(i) + "].";
        Watch w;
        const auto& info = model_.info();
        for (std::size_t k = 0; k < info.observables.size(); ++k)
            if (info.observables[k].name == pol.condition.variable) w.observable = static_cast<int>(k);
        if (w.observable < 0) {
            for (std::size_t k = 0; k < info.states.size(); ++k)
                if (info.states[k].name == pol.condition.variable) w.state = static_cast<int>(k);
        }
        if (w.observable < 0 && w.state < 0)
            throw InputError(f + "condition.variable", "'" + pol.condition.variable + "'",
                             "an observable or state of model " + model_.name());
        auto require = [&](bool ok, const std::string& field, double v, const std::string& allowed) {
            if (!ok) throw InputError(f + field, fmt(v), allowed);
        };
        require(std::isfinite(pol.condition.threshold), "condition.threshold", pol.condition.threshold,
                "a finite threshold");
        require(std::isfinite(pol.condition.window) && pol.condition.window >= 0, "condition.window",
                pol.condition.window, "a finite look-back >= 0 h (0: a level condition)");
        require(pol.condition.window == 0.0 || pol.condition.threshold > 0, "condition.threshold",
                pol.condition.threshold, "a fold change > 0 for a trend condition");
        require(std::isfinite(pol.condition.sustained) && pol.condition.sustained >= 0,
                "condition.sustained", pol.condition.sustained, "a finite duration >= 0 h");
        require(std::isfinite(pol.delay) && pol.delay >= 0, "delay", pol.delay, "a finite delay >= 0 h");
        require(pol.max_firings >= 0, "max_firings", pol.max_firings, "a count >= 0");
        require(std::isfinite(pol.min_interval) && pol.min_interval >= 0, "min_interval",
                pol.min_interval, "a finite interval >= 0 h");
        require(pol.max_per_period >= 1, "max_per_period", pol.max_per_period, "a count >= 1");
        require(std::isfinite(pol.period) && pol.period > 0, "period", pol.period, "a period > 0 h");
        require(!std::isnan(pol.window_start) && !std::isnan(pol.window_end) &&
                    pol.window_end >= pol.window_start,
                "window_end", pol.window_end, "a window end >= window_start");
        require(std::isfinite(pol.time_tolerance) && pol.time_tolerance > 0, "time_tolerance",
                pol.time_tolerance, "a tolerance > 0 h");
        if (pol.action.empty()) throw InputError(f + "action", "[]", "at least one dose");
        for (std::size_t k = 0; k < pol.action.size(); ++k)
            require(std::isfinite(pol.action[k].time) && pol.action[k].time >= 0,
                    "action[" + std::to_string(k) + "].time", pol.action[k].time,
                    "an offset >= 0 h from the administration time");
        return w;
    }

    const Model& model_;
    const std::vector<Policy>& policies_;
    const double* p_;
    const double* q_;
    mutable std::vector<double> y_;
    std::vector<Watch> watch_;
    std::vector<History> hist_;
    mutable const Evaluator* dense_ = nullptr;  // set while a step is scanned
    mutable std::vector<double> hbuf_;          // look-back workspace
    std::vector<double> zbuf_;  // bisection workspace, reused across steps
    int nz_ = 0;
};

}  // namespace crsim::detail
