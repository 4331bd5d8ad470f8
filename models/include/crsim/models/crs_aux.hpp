// crsim CRS model: quantities derived from the state at one instant (engagement of CAR-T cells with
// their targets, drug concentrations and effects, the IL-6 receptor equilibria), shared by the
// right-hand side and the observables. Everything is a smooth function of the state (no branches on
// state values: the Jacobian comes from automatic differentiation).
#pragma once

#include <cmath>

#include "crsim/models/crs_indices.hpp"

namespace crsim::models::crs {

// x/(x + K): saturating response of a non-negative quantity.
template <class T, class U>
T sat(const T& x, const U& k) { return x / (x + k); }
// x^2/(x^2 + K^2): sigmoid response (Hill coefficient 2).
template <class T, class U>
T sat2(const T& x, const U& k) { return x * x / (x * x + k * k); }

constexpr double kRefWeight = 70.0;   // kg: weight the drug PK parameters refer to
constexpr double kCellScale = 1e-9;   // cytokine production per 1e9 engaged CAR-T cells
constexpr double kClearanceExponent = 0.75;  // allometric exponent of clearances

template <class T>
struct Aux {
    // CAR-T engagement
    T targets;       // tumor + normal B cells (cells)
    T engage_den;    // K_A + targets + theta*E (cells)
    T phi;           // fraction of an effector's time engaged with a target (1)
    T engaged9;      // engaged functional effectors (1e9 cells)
    T function;      // 1 - dysfunction (1)
    T kill_tumor;    // tumor cells killed (cells/h)
    T kill_bcell;    // normal B cells killed (cells/h)
    // dexamethasone
    T dex_plasma;    // ng/mL
    T dex_effect;    // fraction of maximal effect (1)
    T inh_cyt;       // multiplier on cytokine production and myeloid activation (1)
    T inh_t;         // multiplier on CAR-T proliferation (1)
    // IL-10 counter-regulation
    T inh_il10;      // multiplier on myeloid cytokine production (1)
    // tocilizumab and the IL-6 receptor system
    T toc;           // ug/mL
    T toc_nm;        // nM
    T mr_free;       // fraction of membrane IL-6R not blocked by tocilizumab (1)
    T sr_free;       // free sIL-6R (ng/mL)
    T il6_free;      // free IL-6 (pg/mL)
    T il6_cplx;      // IL-6 bound to free sIL-6R (pg/mL)
    T silt;          // siltuximab (ug/mL)
    T il6_silt;      // IL-6 bound to siltuximab (pg/mL)
    T il6_signal;    // IL-6 able to signal: on free mIL-6R (classic) or as IL-6:sIL-6R (pg/mL)
    T il6_clear;     // total IL-6 elimination (pg/mL/h)
    // weight scaling
    T w_cl;          // (W/70)^0.75
    T w_v;           // W/70
};

// IL-6 elimination (pg/mL/h) for total IL-6 `il6`, given the fraction of IL-6 complexed with
// sIL-6R and the fraction of membrane IL-6R left free by tocilizumab: nonspecific clearance of
// free IL-6 and of the complex, plus saturable internalisation through membrane IL-6R.
template <class T, class U>
T il6_elimination(const T& il6_free, const T& il6_cplx, const T& mr_free, const U* p) {
    return p[P_K_IL6] * il6_free + p[P_K_IL6_CPLX] * il6_cplx +
           p[P_K_IL6_R] * mr_free * il6_free * p[P_KM_IL6_R] / (p[P_KM_IL6_R] + il6_free);
}

template <class T>
Aux<T> make_aux(const T* x, const T* p) {
    using std::exp;
    using std::log;
    Aux<T> a;
    a.w_v = p[P_WEIGHT] / kRefWeight;
    a.w_cl = exp(kClearanceExponent * log(a.w_v));

    a.targets = x[S_TUMOR] + x[S_BCELL];
    a.engage_den = p[P_KA] + a.targets + p[P_THETA] * x[S_EFF];
    a.phi = a.targets / a.engage_den;
    a.function = 1.0 - x[S_DYSF];
    a.engaged9 = kCellScale * x[S_EFF] * a.phi * a.function;
    a.kill_tumor = p[P_K_KILL] * a.function * x[S_EFF] * x[S_TUMOR] / a.engage_den;
    a.kill_bcell = p[P_K_KILL] * a.function * x[S_EFF] * x[S_BCELL] / a.engage_den;

    a.dex_plasma = 1000.0 * x[S_DEX_C] / (p[P_DEX_V] * a.w_v);  // mg/L -> ng/mL
    a.dex_effect = x[S_DEX_E] / (x[S_DEX_E] + p[P_DEX_IC50]);
    a.inh_cyt = 1.0 - p[P_DEX_IMAX_CYT] * a.dex_effect;
    a.inh_t = 1.0 - p[P_DEX_IMAX_T] * a.dex_effect;
    a.inh_il10 = p[P_KI_IL10] / (p[P_KI_IL10] + p[P_IL10_BASE] + x[S_IL10]);

    a.toc = x[S_TOC_C] / (p[P_TOC_V1] * a.w_v);
    a.toc_nm = 1000.0 * a.toc / p[P_TOC_MW];
    a.mr_free = p[P_TOC_KD] / (p[P_TOC_KD] + a.toc_nm);
    a.sr_free = x[S_SIL6R] * p[P_SR_KSS] / (p[P_SR_KSS] + a.toc);
    const T sr_nm = a.sr_free / p[P_SR_MW];
    // IL-6 partitions (quasi-equilibrium) between free, sIL-6R-bound and siltuximab-bound; both
    // binders are in large molar excess over IL-6, so their free concentrations are their totals.
    a.silt = x[S_SILT_C] / (p[P_SILT_V1] * a.w_v);
    const T b_sr = sr_nm / p[P_KD_IL6_SR];
    const T b_silt = 1000.0 * a.silt / p[P_SILT_MW] / p[P_SILT_KD];
    const T den = 1.0 + b_sr + b_silt;
    a.il6_free = x[S_IL6] / den;
    a.il6_cplx = a.il6_free * b_sr;
    a.il6_silt = a.il6_free * b_silt;
    a.il6_signal = a.mr_free * a.il6_free + a.il6_cplx;
    a.il6_clear = il6_elimination(a.il6_free, a.il6_cplx, a.mr_free, p) + p[P_SILT_K_CPLX] * a.il6_silt;
    return a;
}

// The pre-infusion baseline that initial() starts from and that the basal production rates keep
// steady (no CAR-T cells, no drugs, induced cytokines zero).
template <class T>
struct Baseline {
    T sr;          // total sIL-6R (ng/mL)
    T il6_free, il6_cplx, il6_signal;  // pg/mL
    T il6_prod;    // basal IL-6 production (pg/mL/h) balancing elimination
    T endo;        // endothelial activation (1)
    T leak;        // capillary leak (1)
    T s_hep;       // hepatocyte IL-6 signalling (1)
    T crp;         // mg/L
    T pge;         // pyrogenic drive (1)
    T temp;        // degC
};

template <class T>
Baseline<T> make_baseline(const T* p) {
    Baseline<T> b;
    b.sr = p[P_SR_KSYN] / p[P_SR_KDEG];
    const T sr_nm = b.sr / p[P_SR_MW];
    const T f_cplx = sr_nm / (sr_nm + p[P_KD_IL6_SR]);
    b.il6_cplx = p[P_IL6_BASE] * f_cplx;
    b.il6_free = p[P_IL6_BASE] - b.il6_cplx;
    b.il6_signal = b.il6_free + b.il6_cplx;
    const T drive = p[P_K_ENDO_ON] * sat2(b.il6_cplx, p[P_EC50_ENDO_TRANS]);
    b.endo = drive / (drive + p[P_K_ENDO_OFF]);
    const T leak_on = p[P_LEAK_ON] * b.endo;
    b.leak = leak_on / (leak_on + p[P_LEAK_OFF]);
    // Basal production keeps IL-6 at its baseline; the (tiny) endothelial share is part of it.
    // If the endothelial share alone exceeds the baseline turnover (extreme parameters), the basal
    // production is zero and IL-6 settles above il6_base (a branch on parameters, not on states).
    b.il6_prod = il6_elimination(b.il6_free, b.il6_cplx, T(1.0), p) - p[P_P_IL6_ENDO] * b.endo;
    if (b.il6_prod < 0.0) b.il6_prod = T(0.0);
    b.s_hep = sat2(b.il6_signal, p[P_CRP_EC50]);
    b.crp = p[P_CRP_KSYN] * b.s_hep / p[P_CRP_KEL];
    b.pge = sat(b.il6_signal, p[P_FEVER_EC50_IL6]);
    b.temp = p[P_T_BASE] + p[P_T_DMAX] * sat2(b.pge, p[P_PGE_EC50]);
    return b;
}

}  // namespace crsim::models::crs
