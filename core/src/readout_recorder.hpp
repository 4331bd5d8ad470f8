// crsim (private): records the readout trajectory of a run (ReadoutOptions in simulate.hpp): the
// state and observables at every accepted step end and at both sides of every discontinuity, and
// two points bracketing each crossing of a watched threshold inside a step, located by bisection on
// the stepper's dense output (crossing.hpp). It only reads the dense output: the steps taken and
// the output at the requested times do not change when it records.
#pragma once

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "crossing.hpp"
#include "crsim/errors.hpp"
#include "crsim/model.hpp"
#include "crsim/simulate.hpp"

namespace crsim::detail {

class ReadoutRecorder {
public:
    static constexpr const char* kTimeVariable = "time";

    using Evaluator = std::function<void(double t, double* z)>;

    // Resolves the watched variables (InputError naming readouts.watch[i]); p: the run's
    // parameters, q: their prepared values (Model::prepare).
    ReadoutRecorder(const Model& model, const ReadoutOptions& opt, const double* p, const double* q,
                    ReadoutTrajectory& out)
        : model_(model), opt_(opt), p_(p), q_(q), n_(model.n_states()),
          y_(static_cast<std::size_t>(model.n_observables())), out_(out) {
        if (!opt.record) return;
        if (!(std::isfinite(opt.time_tolerance) && opt.time_tolerance > 0.0))
            throw InputError("readouts.time_tolerance", fmt(opt.time_tolerance),
                             "a tolerance > 0 h");
        for (std::size_t i = 0; i < opt.watch.size(); ++i) {
            const ReadoutWatch& w = opt.watch[i];
            const std::string f = "readouts.watch[" + std::to_string(i) + "]";
            if (!std::isfinite(w.threshold))
                throw InputError(f + ".threshold", fmt(w.threshold), "a finite threshold");
            Var v;
            const auto& info = model.info();
            for (std::size_t k = 0; k < info.observables.size() && v.observable < 0; ++k)
                if (info.observables[k].name == w.variable) v.observable = static_cast<int>(k);
            for (std::size_t k = 0; k < info.states.size() && v.observable < 0 && v.state < 0; ++k)
                if (info.states[k].name == w.variable) v.state = static_cast<int>(k);
            // "time" (unless the model names a variable so): the run's time, h, so that a readout
            // over a fixed window (e.g. "within 36 h") gets points bracketing its end
            v.time = v.observable < 0 && v.state < 0 && w.variable == kTimeVariable;
            if (v.observable < 0 && v.state < 0 && !v.time)
                throw InputError(f + ".variable", "'" + w.variable + "'",
                                 "an observable or state of model " + model.name() + ", or '" +
                                     std::string(kTimeVariable) + "'");
            vars_.push_back(v);
        }
        side_.assign(vars_.size(), 0);
        end_side_.assign(vars_.size(), 0);
    }

    bool enabled() const noexcept { return opt_.record; }

    void set_state_size(int nz) { zb_.resize(static_cast<std::size_t>(nz)); }

    // A point where the state may jump (the start, a discontinuity after its doses): recorded
    // unless it repeats the last point (same time, same state).
    void point(double t, const double* z) {
        if (!enabled()) return;
        const std::size_t R = out_.times.size(), n = static_cast<std::size_t>(n_);
        if (R > 0 && out_.times.back() == t) {
            const double* last = out_.states.data() + (R - 1) * n;
            bool same = true;
            for (std::size_t i = 0; i < n && same; ++i) same = last[i] == z[i];
            if (same) return;
        }
        append(t, z);
    }

    // The accepted step (t0, t1] (the integration goes on from t1; z1: the state at t1, or null to
    // read it from the dense output): bracketing points at the watched crossings inside it, in time
    // order, then the step end.
    void step(double t0, double t1, const double* z1, const Evaluator& z_at) {
        if (!enabled()) return;
        if (z1 == nullptr) {
            z_at(t1, zb_.data());
            z1 = zb_.data();
        }
        end_.assign(z1, z1 + n_);  // z1 may be zb_, which the bisection reuses
        observe(t1, end_.data(), end_side_);
        y_end_ = y_;               // the step end's observables, recorded last
        double lo = t0;
        while (!vars_.empty() && end_side_ != side_) {
            Bracket first{lo, std::numeric_limits<double>::infinity()};
            for (std::size_t i = 0; i < vars_.size(); ++i) {
                if (end_side_[i] == side_[i]) continue;
                const char before = side_[i];
                const Bracket b = bisect_change(lo, t1, opt_.time_tolerance, [&](double t) {
                    z_at(t, zb_.data());
                    return holds(i, t, zb_.data()) != before;
                });
                if (b.hi < first.hi) first = b;
            }
            if (first.lo > lo) {
                z_at(first.lo, zb_.data());
                append(first.lo, zb_.data());
            }
            if (!(first.hi < t1)) break;  // the crossing ends at the step end, recorded below
            z_at(first.hi, zb_.data());
            append(first.hi, zb_.data());
            lo = first.hi;
        }
        side_ = end_side_;  // the observables at t1 were evaluated above: not again
        push(t1, end_.data(), y_end_.data());
    }

private:
    struct Var {
        int observable = -1;
        int state = -1;
        bool time = false;
    };

    // Whether watch i holds at (t, z) (evaluates the observables).
    char holds(std::size_t i, double t, const double* z) const {
        double v;
        if (vars_[i].time) {
            v = t;
        } else if (vars_[i].observable >= 0) {
            model_.observables_prepared(t, z, p_, q_, y_.data());
            v = y_[static_cast<std::size_t>(vars_[i].observable)];
        } else {
            v = z[vars_[i].state];
        }
        return side_of(i, v);
    }

    char side_of(std::size_t i, double v) const {
        const ReadoutWatch& w = opt_.watch[i];
        return w.comparison == Comparison::GreaterEqual ? v >= w.threshold : v <= w.threshold;
    }

    // The observables at (t, z) into y_ and every watch's side into `sides`.
    void observe(double t, const double* z, std::vector<char>& sides) const {
        model_.observables_prepared(t, z, p_, q_, y_.data());
        for (std::size_t i = 0; i < vars_.size(); ++i)
            sides[i] = side_of(i, vars_[i].time ? t
                                  : vars_[i].observable >= 0
                                      ? y_[static_cast<std::size_t>(vars_[i].observable)]
                                      : z[vars_[i].state]);
    }

    void append(double t, const double* z) {
        observe(t, z, side_);
        push(t, z, y_.data());
    }

    void push(double t, const double* z, const double* y) {
        out_.times.push_back(t);
        out_.states.insert(out_.states.end(), z, z + n_);
        out_.observables.insert(out_.observables.end(), y, y + y_.size());
    }

    const Model& model_;
    const ReadoutOptions& opt_;
    const double* p_;
    const double* q_;
    int n_;
    mutable std::vector<double> y_;
    ReadoutTrajectory& out_;
    std::vector<Var> vars_;
    std::vector<char> side_;      // per watch: holds at the last recorded point
    std::vector<char> end_side_;  // per watch: holds at the end of the step being scanned
    std::vector<double> zb_, end_, y_end_;
};

}  // namespace crsim::detail
