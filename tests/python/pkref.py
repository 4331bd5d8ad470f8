"""Closed-form solutions of linear compartmental models (Gibaldi & Perrier, Pharmacokinetics, 2nd
ed., ch. 1-3) as unit-impulse responses, so bolus, infusion and repeated doses follow by
superposition. Concentrations per unit amount (1/L), times in h. Same formulas as
tests/cpp/pk_reference.hpp, written independently of the engine."""
import numpy as np


class OneCmt:
    def __init__(self, CL, V):
        self.k, self.V = CL / V, V

    def bolus(self, t):
        t = np.asarray(t, float)
        return np.where(t < 0, 0.0, np.exp(-self.k * np.maximum(t, 0)) / self.V)

    def infusion(self, t):  # unit rate from t = 0
        t = np.maximum(np.asarray(t, float), 0.0)
        return (1 - np.exp(-self.k * t)) / (self.k * self.V)

    def oral(self, t, ka):
        t = np.asarray(t, float)
        tp = np.maximum(t, 0.0)
        c = ka / (self.V * (ka - self.k)) * (np.exp(-self.k * tp) - np.exp(-ka * tp))
        return np.where(t < 0, 0.0, c)


class TwoCmt:
    def __init__(self, CL, V1, Q, V2):
        self.V1 = V1
        self.k10, self.k12, self.k21 = CL / V1, Q / V1, Q / V2
        s = self.k10 + self.k12 + self.k21
        d = np.sqrt(s * s - 4 * self.k10 * self.k21)
        self.alpha, self.beta = 0.5 * (s + d), 0.5 * (s - d)

    def bolus(self, t):
        t = np.asarray(t, float)
        tp = np.maximum(t, 0.0)
        a, b, k21 = self.alpha, self.beta, self.k21
        c = ((a - k21) * np.exp(-a * tp) + (k21 - b) * np.exp(-b * tp)) / ((a - b) * self.V1)
        return np.where(t < 0, 0.0, c)

    def infusion(self, t):
        tp = np.maximum(np.asarray(t, float), 0.0)
        a, b, k21 = self.alpha, self.beta, self.k21
        return ((a - k21) / a * (1 - np.exp(-a * tp)) + (k21 - b) / b * (1 - np.exp(-b * tp))) / (
            (a - b) * self.V1)

    def oral(self, t, ka):
        t = np.asarray(t, float)
        tp = np.maximum(t, 0.0)
        a, b, k21 = self.alpha, self.beta, self.k21
        c = ka / self.V1 * ((k21 - a) / ((ka - a) * (b - a)) * np.exp(-a * tp)
                            + (k21 - b) / ((ka - b) * (a - b)) * np.exp(-b * tp)
                            + (k21 - ka) / ((a - ka) * (b - ka)) * np.exp(-ka * tp))
        return np.where(t < 0, 0.0, c)


def max_rel_err(sim, ref):
    sim, ref = np.asarray(sim), np.asarray(ref)
    return float(np.max(np.abs(sim - ref) / np.abs(ref)))
