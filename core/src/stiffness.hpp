// crsim: the rule by which method "auto" switches between dopri5 and rosenbrock4.
//
// To stiff (on dopri5): Hairer's stiffness detection for the Dormand-Prince pair (Hairer, Norsett &
// Wanner, Solving ODEs I, 2nd ed., Springer 1993, sec. IV.2 / II.10, and the code DOPRI5, lines
// "STIFFNESS DETECTION"). Stages 6 and 7 of a Dormand-Prince step are both evaluated at t + h, at
// y6 (the argument of stage 6) and y7 = y_{n+1} (FSAL), so
//
//     h*lambda = h * ||f(y7) - f(y6)|| / ||y7 - y6||
//
// estimates h times the dominant eigenvalue of the Jacobian along the direction the step's error
// lives in. The explicit method's stability region ends near h*lambda = 3.3 on the negative real
// axis; a step-size sequence held at that boundary by stability rather than accuracy is the mark
// of stiffness. As in DOPRI5: a step with h*lambda > 3.25 counts one, 6 consecutive steps at or
// below 3.25 reset the count, and the 15th count declares the problem stiff. One difference from
// DOPRI5 (which tests every 1000th step until suspicious and uses the Euclidean norm): every
// accepted step is tested, and the norms are weighted with the error weights 1 / (atol + rtol |y|)
// of the step-size control, because the states of a mechanistic model span many orders of
// magnitude in their units (cells, pg/mL, fractions) and an unweighted norm would only see the
// largest of them. Weighting by a diagonal D changes the estimate of the same eigenvalues
// (D J D^-1 is similar to J). Only the states enter (not forward sensitivities).
//
// Back to non-stiff (on rosenbrock4): the Rosenbrock stepper estimates the spectral radius rho of
// the (equilibrated) Jacobian of every step by two power iterations that carry their vector over
// from step to step (BlockRosenbrock4::spectral_radius). dopri5 would be stable at the Rosenbrock
// step h when h*rho is well inside its stability boundary; its accuracy-limited steps are up to
// ~2.5 times longer than rosenbrock4's at the same tolerance (order 5 vs 4), so the rule is
// h*rho <= 1 on 5 consecutive accepted steps. The hysteresis between 1 and 3.25 (and 15 vs 5
// steps) keeps the two methods from handing over back and forth on a mildly stiff problem.
//
// The decision carries over discontinuities (a dose restarts the stepper that is in use, not the
// choice) and forward sensitivities follow the states: the hand-over happens at the end of an
// accepted step, where both steppers start from the same coupled state [x; S].
#pragma once

#include <cmath>
#include <cstddef>

namespace crsim {
namespace detail {

class StiffnessSwitch {
public:
    static constexpr double kStiffLimit = 3.25;    // h*lambda of a stability-limited dopri5 step
    static constexpr int kStiffCount = 15;         // counts that declare stiffness
    static constexpr int kResetCount = 6;          // consecutive non-stiff steps that reset them
    static constexpr double kNonStiffLimit = 1.0;  // h*rho of a Rosenbrock step dopri5 could take
    static constexpr int kNonStiffCount = 5;       // consecutive such steps that hand back

    // After an accepted dopri5 step with estimate h*lambda (negative: no estimate). True: stiff,
    // hand over to rosenbrock4 (the counters start afresh).
    bool explicit_step(double h_lambda) {
        if (h_lambda < 0.0) return false;
        if (h_lambda > kStiffLimit) {
            nonstiff_ = 0;
            if (++stiff_ >= kStiffCount) {
                reset();
                return true;
            }
        } else if (++nonstiff_ >= kResetCount) {
            stiff_ = 0;
            nonstiff_ = 0;
        }
        return false;
    }

    // After an accepted Rosenbrock step with estimate h*rho (negative: no estimate). True: no
    // longer stiff, hand back to dopri5 (the counters start afresh).
    bool implicit_step(double h_rho) {
        if (h_rho >= 0.0 && h_rho <= kNonStiffLimit) {
            if (++nonstiff_ >= kNonStiffCount) {
                reset();
                return true;
            }
        } else {
            nonstiff_ = 0;
        }
        return false;
    }

    void reset() { stiff_ = nonstiff_ = 0; }

private:
    int stiff_ = 0;
    int nonstiff_ = 0;
};

// ||f7 - f6|| / ||y7 - y6|| in the norm weighted by 1 / (atol + rtol |y7|) over n components;
// -1 when y7 = y6 (no estimate).
inline double dopri5_stiffness_ratio(std::size_t n, const double* y7, const double* y6, const double* f7,
                                     const double* f6, double atol, double rtol) {
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double w = 1.0 / (atol + rtol * std::abs(y7[i]));
        const double df = w * (f7[i] - f6[i]);
        const double dy = w * (y7[i] - y6[i]);
        num += df * df;
        den += dy * dy;
    }
    if (!(den > 0.0) || !std::isfinite(num)) return -1.0;
    return std::sqrt(num / den);
}

}  // namespace detail
}  // namespace crsim
