// crsim CRS model, part 2: the cytokine network (docs/model.md sec. 3).
//
// Engaged CAR-T cells secrete IFN-gamma; IFN-gamma, direct CAR-T contact (CD40L/GM-CSF) and IL-1
// activate monocytes/macrophages; activated myeloid cells secrete IL-1, IL-6, IL-10 and MCP-1;
// IL-1 amplifies myeloid IL-6; IL-6:sIL-6R complexes (trans-signalling), IL-1 and IFN-gamma activate
// the endothelium, which secretes IL-6 in turn (the trans-signalling loop); IL-10 damps myeloid
// activation and secretion; dexamethasone inhibits cytokine production. IFN-gamma, IL-1, IL-10 and
// MCP-1 are states above their pre-infusion baseline; IL-6 is total serum IL-6 (free plus bound to
// sIL-6R) because its receptor-mediated clearance and the tocilizumab response need the whole pool.
#pragma once

#include "crsim/models/crs_aux.hpp"

namespace crsim::models::crs {

template <class T>
void cytokine_rhs(const T* x, const T* p, const Aux<T>& a, const Baseline<T>& b, T* dx) {
    const T ifng = x[S_IFNG], mact = x[S_MACT], il1 = x[S_IL1], endo = x[S_ENDO];
    const T h_ifng = sat2(ifng, p[P_KH_IFNG]);
    const T h_il1 = sat(il1, p[P_KH_IL1]);
    const T h_eng = sat2(a.engaged9, p[P_KH_ENG]);
    const T myeloid_inh = a.inh_cyt * a.inh_il10;

    dx[S_IFNG] = p[P_P_IFNG] * a.engaged9 * a.inh_cyt - p[P_K_IFNG] * ifng;

    const T drive_m = h_ifng + p[P_W_ENG_MACT] * h_eng + p[P_W_IL1_MACT] * h_il1;
    // The resting pool (1) is activated at a rate set by the drive; MCP-1 recruits monocytes that
    // enlarge the activatable pool (bounded: at most 1 + a_mcp1_recruit).
    const T pool = 1.0 + p[P_A_MCP1_RECRUIT] * sat(x[S_MCP1], p[P_KH_MCP1]);
    dx[S_MACT] = p[P_K_MACT_ON] * drive_m * myeloid_inh * pool - p[P_K_MACT_OFF] * mact;

    dx[S_IL1] = p[P_P_IL1] * mact * myeloid_inh - p[P_K_IL1] * il1;

    const T prod6 = b.il6_prod + p[P_P_IL6_M] * mact * (1.0 + p[P_A_IL1_IL6] * h_il1) * myeloid_inh +
                    p[P_P_IL6_ENDO] * endo * a.inh_cyt;
    dx[S_IL6] = prod6 - a.il6_clear;

    const T drive_e = sat2(a.il6_cplx, p[P_EC50_ENDO_TRANS]) + p[P_W_IL1_ENDO] * h_il1 +
                      p[P_W_IFNG_ENDO] * h_ifng;
    dx[S_ENDO] = p[P_K_ENDO_ON] * drive_e * (1.0 - endo) - p[P_K_ENDO_OFF] * endo;

    dx[S_IL10] = p[P_P_IL10_M] * mact + p[P_P_IL10_T] * a.engaged9 - p[P_K_IL10] * x[S_IL10];

    dx[S_MCP1] = p[P_P_MCP1] * (mact + p[P_A_MCP1_ENDO] * endo) * a.inh_cyt -
                 p[P_K_MCP1] * x[S_MCP1];
}

}  // namespace crsim::models::crs
