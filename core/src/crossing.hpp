// crsim (private): locating where a condition changes inside an accepted step, by bisection on the
// stepper's dense output. Shared by the policy monitor (policy_monitor.hpp: where a trigger's
// condition starts or stops holding) and the readout recorder (readout_recorder.hpp: where a
// watched observable crosses a threshold).
#pragma once

namespace crsim::detail {

// An interval [lo, hi] of width <= the tolerance (or two adjacent doubles) such that the condition
// is unchanged at lo and changed at hi.
struct Bracket {
    double lo;
    double hi;
};

// Bisects (lo, hi], where changed(lo) is false and changed(hi) true, down to `tol` h; `changed(t)`
// evaluates the dense output at t. When lo and hi are adjacent doubles (a tolerance below the
// spacing of doubles near t) the interval cannot shrink further and is returned as it is.
template <class Changed>
Bracket bisect_change(double lo, double hi, double tol, Changed&& changed) {
    while (hi - lo > tol) {
        const double mid = 0.5 * (lo + hi);
        if (!(mid > lo && mid < hi)) break;
        if (changed(mid))
            hi = mid;
        else
            lo = mid;
    }
    return {lo, hi};
}

}  // namespace crsim::detail
