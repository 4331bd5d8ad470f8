// Closed-form solutions of linear compartmental models (Gibaldi & Perrier, Pharmacokinetics, 2nd ed.,
// ch. 1-3), written as unit-impulse responses so that bolus, infusion and repeated doses follow by
// superposition. Concentrations per unit amount (1/L); times in h.
#pragma once

#include <cmath>

namespace pkref {

struct TwoCmt {
    double k10, k12, k21, V1, alpha, beta;
    TwoCmt(double CL, double V1_, double Q, double V2) : V1(V1_) {
        k10 = CL / V1_;
        k12 = Q / V1_;
        k21 = Q / V2;
        const double s = k10 + k12 + k21, d = std::sqrt(s * s - 4.0 * k10 * k21);
        alpha = 0.5 * (s + d);
        beta = 0.5 * (s - d);
    }
    // Central concentration after a unit bolus at t = 0.
    double bolus(double t) const {
        if (t < 0) return 0.0;
        return ((alpha - k21) * std::exp(-alpha * t) + (k21 - beta) * std::exp(-beta * t)) /
               ((alpha - beta) * V1);
    }
    // Central concentration under a unit-rate infusion started at t = 0 (integral of bolus()).
    double infusion(double t) const {
        if (t < 0) return 0.0;
        return ((alpha - k21) / alpha * (1.0 - std::exp(-alpha * t)) +
                (k21 - beta) / beta * (1.0 - std::exp(-beta * t))) /
               ((alpha - beta) * V1);
    }
    // Central concentration after a unit oral dose (first-order absorption ka, F = 1).
    double oral(double t, double ka) const {
        if (t < 0) return 0.0;
        const double a = alpha, b = beta;
        return ka / V1 *
               ((k21 - a) / ((ka - a) * (b - a)) * std::exp(-a * t) +
                (k21 - b) / ((ka - b) * (a - b)) * std::exp(-b * t) +
                (k21 - ka) / ((a - ka) * (b - ka)) * std::exp(-ka * t));
    }
};

struct OneCmt {
    double k, V;
    OneCmt(double CL, double V_) : k(CL / V_), V(V_) {}
    double bolus(double t) const { return t < 0 ? 0.0 : std::exp(-k * t) / V; }
    double infusion(double t) const { return t < 0 ? 0.0 : (1.0 - std::exp(-k * t)) / (k * V); }
    double oral(double t, double ka) const {
        return t < 0 ? 0.0 : ka / (V * (ka - k)) * (std::exp(-k * t) - std::exp(-ka * t));
    }
};

}  // namespace pkref
