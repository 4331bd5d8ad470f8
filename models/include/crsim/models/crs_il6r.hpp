// crsim CRS model, part 3: tocilizumab and the soluble IL-6 receptor (docs/model.md sec. 4).
//
// Tocilizumab: two compartments with parallel linear and Michaelis-Menten (target-mediated)
// elimination from the central compartment (Frey 2010). Total sIL-6R: quasi-steady-state binding
// of tocilizumab, free receptor degraded fast, drug-bound receptor slowly (Gibiansky & Frey 2012).
// Siltuximab: two compartments, linear elimination; it binds IL-6 itself (make_aux()).
// The binding of IL-6 to sIL-6R and the blockade of membrane IL-6R are equilibria in make_aux().
#pragma once

#include "crsim/models/crs_aux.hpp"

namespace crsim::models::crs {

template <class T>
void il6r_rhs(const T* x, const T* p, const Aux<T>& a, T* dx) {
    const T c = a.toc;                                   // ug/mL = mg/L
    const T v2 = p[P_TOC_V2] * a.w_v;
    const T linear = p[P_TOC_CL] * a.w_cl * c;           // mg/h
    const T saturable = p[P_TOC_VMAX] * a.w_cl * c / (p[P_TOC_KM] + c);
    const T flow = p[P_TOC_Q] * a.w_cl * (c - x[S_TOC_P] / v2);
    dx[S_TOC_C] = -linear - saturable - flow;
    dx[S_TOC_P] = flow;

    // siltuximab: two compartments, linear elimination (Puchalski 2013 via drugs.md sec. 3); the
    // drug bound in IL-6 complexes is a negligible fraction of the dose (molar excess)
    const T cs = a.silt;
    const T flow_s = p[P_SILT_Q] * a.w_cl * (cs - x[S_SILT_P] / (p[P_SILT_V2] * a.w_v));
    dx[S_SILT_C] = -p[P_SILT_CL] * a.w_cl * cs - flow_s;
    dx[S_SILT_P] = flow_s;

    const T bound_frac = c / (p[P_SR_KSS] + c);
    const T k_int = (1.0 - p[P_SR_IMAX]) * p[P_SR_KDEG];
    dx[S_SIL6R] = p[P_SR_KSYN] - p[P_SR_KDEG] * x[S_SIL6R] * (1.0 - bound_frac) -
                  k_int * x[S_SIL6R] * bound_frac;
}

}  // namespace crsim::models::crs
