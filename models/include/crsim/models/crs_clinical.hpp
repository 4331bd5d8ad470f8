// crsim CRS model, part 5: the clinical layer (docs/model.md sec. 6): CRP synthesised under
// hepatocyte IL-6 signalling through two transit compartments, temperature following a set point
// raised by a lagged pyrogenic (PGE2-like) drive from IL-6 signalling and IL-1, ferritin from
// activated macrophages (IFN-gamma amplified), fibrinogen (acute-phase synthesis, consumption by
// macrophage activation), blood counts (IFN-gamma marrow suppression, consumption), and capillary
// leak from endothelial activation, which lowers the intrinsic MAP and raises the FiO2 needed.
#pragma once

#include "crsim/models/crs_aux.hpp"

namespace crsim::models::crs {

template <class T>
void clinical_rhs(const T* x, const T* p, const Aux<T>& a, const Baseline<T>& b, T* dx) {
    const T mact = x[S_MACT];
    // CRP
    const T s_hep = sat2(a.il6_signal, p[P_CRP_EC50]);
    dx[S_CRP_T1] = p[P_CRP_KTR] * (s_hep - x[S_CRP_T1]);
    dx[S_CRP_T2] = p[P_CRP_KTR] * (x[S_CRP_T1] - x[S_CRP_T2]);
    dx[S_CRP] = p[P_CRP_KSYN] * x[S_CRP_T2] - p[P_CRP_KEL] * x[S_CRP];
    // fever
    const T pyro = 1.0 - (1.0 - sat(a.il6_signal, p[P_FEVER_EC50_IL6])) *
                             (1.0 - p[P_FEVER_W_IL1] * sat(x[S_IL1], p[P_KH_IL1]));
    dx[S_PGE] = (pyro - x[S_PGE]) / p[P_PGE_TAU];
    const T t_set = p[P_T_BASE] + p[P_T_DMAX] * sat2(x[S_PGE], p[P_PGE_EC50]);
    dx[S_TEMP] = (t_set - x[S_TEMP]) / p[P_T_TAU];
    // ferritin
    dx[S_FERRITIN] = p[P_FER_KEL] * (p[P_FER_BASE] - x[S_FERRITIN]) +
                     p[P_FER_K] * mact * (1.0 + p[P_FER_A_IFNG] * sat(x[S_IFNG], p[P_KH_IFNG]));
    // fibrinogen: acute-phase synthesis follows hepatocyte signalling (the CRP transit signal)
    const T acute = (1.0 + p[P_FIB_A_AP] * x[S_CRP_T2]) / (1.0 + p[P_FIB_A_AP] * b.s_hep);
    dx[S_FIBRINOGEN] = p[P_FIB_KEL] * (p[P_FIB_BASE] * acute - x[S_FIBRINOGEN]) -
                       p[P_FIB_K_CONS] * mact * x[S_FIBRINOGEN];
    // blood counts: production suppressed by IFN-gamma, consumption by activated macrophages
    const T supp = p[P_K_SUPP_IFNG] / (p[P_K_SUPP_IFNG] + x[S_IFNG]);
    dx[S_ANC] = p[P_ANC_K] * (p[P_ANC_BASE] * supp - x[S_ANC]) - p[P_ANC_K_CONS] * mact * x[S_ANC];
    dx[S_PLT] = p[P_PLT_K] * (p[P_PLT_BASE] * supp - x[S_PLT]) - p[P_PLT_K_CONS] * mact * x[S_PLT];
    dx[S_HB] = p[P_HB_K] * (p[P_HB_BASE] * supp - x[S_HB]) - p[P_HB_K_CONS] * mact * x[S_HB];
    // capillary leak
    dx[S_LEAK] = p[P_LEAK_ON] * x[S_ENDO] * (1.0 - x[S_LEAK]) - p[P_LEAK_OFF] * x[S_LEAK];
}

}  // namespace crsim::models::crs
