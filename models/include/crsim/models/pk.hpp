// crsim: the PK model library. Small compartmental models used to test the engine against closed
// forms and to serve users: one- and two-compartment models with IV bolus / infusion and first-order
// absorption, and a two-compartment model with parallel linear and Michaelis-Menten elimination (the
// structure used for monoclonal antibodies such as tocilizumab). Amounts in mg, volumes in L, time
// in h, concentrations in mg/L (= ug/mL). Equations: docs/pk-models.md.
#pragma once

#include "crsim/model.hpp"

namespace crsim::models {

// One compartment, IV (bolus or infusion into `central`).
//   dA/dt = -CL/V * A ;  C = A/V
struct Pk1 {
    static constexpr int n_states = 1;
    enum P { CL, V };
    static ModelInfo info();
    template <class T> static void initial(const T*, T* x0) { x0[0] = T(0.0); }
    template <class T> static void rhs(const T&, const T* x, const T* p, T* dx) {
        dx[0] = -p[CL] / p[V] * x[0];
    }
    template <class T> static void observables(const T&, const T* x, const T* p, T* y) {
        y[0] = x[0] / p[V];
    }
};

// One compartment with first-order absorption from `depot`.
//   dAd/dt = -ka Ad ;  dA/dt = ka Ad - CL/V A
struct Pk1Oral {
    static constexpr int n_states = 2;
    enum P { KA, CL, V };
    static ModelInfo info();
    template <class T> static void initial(const T*, T* x0) { x0[0] = T(0.0); x0[1] = T(0.0); }
    template <class T> static void rhs(const T&, const T* x, const T* p, T* dx) {
        dx[0] = -p[KA] * x[0];
        dx[1] = p[KA] * x[0] - p[CL] / p[V] * x[1];
    }
    template <class T> static void observables(const T&, const T* x, const T* p, T* y) {
        y[0] = x[1] / p[V];
    }
};

// Two compartments, IV.
//   dA1/dt = -CL/V1 A1 - Q (A1/V1 - A2/V2) ;  dA2/dt = Q (A1/V1 - A2/V2)
struct Pk2 {
    static constexpr int n_states = 2;
    enum P { CL, V1, Q, V2 };
    static ModelInfo info();
    template <class T> static void initial(const T*, T* x0) { x0[0] = T(0.0); x0[1] = T(0.0); }
    template <class T> static void rhs(const T&, const T* x, const T* p, T* dx) {
        const T flow = p[Q] * (x[0] / p[V1] - x[1] / p[V2]);
        dx[0] = -p[CL] / p[V1] * x[0] - flow;
        dx[1] = flow;
    }
    template <class T> static void observables(const T&, const T* x, const T* p, T* y) {
        y[0] = x[0] / p[V1];
    }
};

// Two compartments with first-order absorption.
struct Pk2Oral {
    static constexpr int n_states = 3;
    enum P { KA, CL, V1, Q, V2 };
    static ModelInfo info();
    template <class T> static void initial(const T*, T* x0) {
        for (int i = 0; i < 3; ++i) x0[i] = T(0.0);
    }
    template <class T> static void rhs(const T&, const T* x, const T* p, T* dx) {
        const T flow = p[Q] * (x[1] / p[V1] - x[2] / p[V2]);
        dx[0] = -p[KA] * x[0];
        dx[1] = p[KA] * x[0] - p[CL] / p[V1] * x[1] - flow;
        dx[2] = flow;
    }
    template <class T> static void observables(const T&, const T* x, const T* p, T* y) {
        y[0] = x[1] / p[V1];
    }
};

// Two compartments, parallel linear and Michaelis-Menten elimination from the central compartment,
// with the cumulative amounts eliminated by each route as states (so mass balance can be checked):
//   C = A1/V1
//   dA1/dt = -CL C - Vmax C/(Km + C) - Q (C - A2/V2)
//   dA2/dt =  Q (C - A2/V2)
//   dEl/dt =  CL C ;  dEmm/dt = Vmax C/(Km + C)
struct Pk2MM {
    static constexpr int n_states = 4;
    enum P { CL, V1, Q, V2, VMAX, KM };
    static ModelInfo info();
    template <class T> static void initial(const T*, T* x0) {
        for (int i = 0; i < 4; ++i) x0[i] = T(0.0);
    }
    template <class T> static void rhs(const T&, const T* x, const T* p, T* dx) {
        const T c = x[0] / p[V1];
        const T lin = p[CL] * c;
        const T mm = p[VMAX] * c / (p[KM] + c);
        const T flow = p[Q] * (c - x[1] / p[V2]);
        dx[0] = -lin - mm - flow;
        dx[1] = flow;
        dx[2] = lin;
        dx[3] = mm;
    }
    template <class T> static void observables(const T&, const T* x, const T* p, T* y) {
        y[0] = x[0] / p[V1];
        y[1] = x[0] + x[1] + x[2] + x[3];
    }
};

// Robertson's chemical kinetics: the classic stiff test problem (Robertson 1966; Hairer & Wanner,
// Solving ODEs II, sec. IV.1). Not a PK model; kept as the stiff reference for the solvers.
struct Robertson {
    static constexpr int n_states = 3;
    enum P { K1, K2, K3 };
    static ModelInfo info();
    template <class T> static void initial(const T*, T* x0) {
        x0[0] = T(1.0); x0[1] = T(0.0); x0[2] = T(0.0);
    }
    template <class T> static void rhs(const T&, const T* x, const T* p, T* dx) {
        dx[0] = -p[K1] * x[0] + p[K3] * x[1] * x[2];
        dx[1] = p[K1] * x[0] - p[K3] * x[1] * x[2] - p[K2] * x[1] * x[1];
        dx[2] = p[K2] * x[1] * x[1];
    }
    template <class T> static void observables(const T&, const T* x, const T*, T* y) {
        y[0] = x[0] + x[1] + x[2];
    }
};

}  // namespace crsim::models
