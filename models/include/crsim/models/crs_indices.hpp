// crsim CRS model: state and parameter indices. The equations are in docs/model.md; the parameter
// values (with units and sources) in data/parameters/crs_*.json.
#pragma once

namespace crsim::models::crs {

// States (units in crs_info.cpp and docs/model.md).
enum S : int {
    // CAR-T cells and their targets (whole-body cell numbers)
    S_EFF, S_MEM, S_EXH, S_DYSF, S_TUMOR, S_BCELL,
    // cytokine network (serum, pg/mL; "induced" = above the pre-infusion baseline)
    S_IFNG, S_MACT, S_IL1, S_IL6, S_IL10, S_MCP1, S_ENDO,
    // tocilizumab (mg) and total soluble IL-6 receptor (ng/mL)
    S_TOC_C, S_TOC_P, S_SIL6R,
    // siltuximab (mg)
    S_SILT_C, S_SILT_P,
    // dexamethasone: oral depot (mg), central (mg), effect site (ng/mL)
    S_DEX_DEPOT, S_DEX_C, S_DEX_E,
    // clinical layer
    S_CRP_T1, S_CRP_T2, S_CRP, S_PGE, S_TEMP, S_FERRITIN, S_FIBRINOGEN, S_ANC, S_PLT, S_HB,
    S_LEAK,
    S_COUNT
};

// Parameters, grouped by concept. Patient covariates first.
enum P : int {
    // patient
    P_WEIGHT, P_TUMOR0, P_BCELL0,
    // CAR-T kinetics
    P_RHO, P_KA, P_THETA, P_DELTA_E, P_K_EM, P_K_ME, P_DELTA_M, P_K_EX, P_DELTA_X, P_K_DYSF, P_K_DYSF_REC, P_RHO_H, P_TAU_H, P_F_BLOOD,
    P_BLOOD_VOL,
    // targets
    P_K_KILL, P_G_TUMOR, P_TUMOR_CAP, P_DELTA_B,
    // cytokines
    P_P_IFNG, P_K_IFNG, P_IFNG_BASE, P_KH_IFNG, P_KH_ENG, P_KH_IL1,
    P_K_MACT_ON, P_K_MACT_OFF, P_W_ENG_MACT, P_W_IL1_MACT, P_A_MCP1_RECRUIT, P_KH_MCP1,
    P_P_IL1, P_K_IL1, P_IL1_BASE,
    P_IL6_BASE, P_P_IL6_M, P_A_IL1_IL6, P_P_IL6_ENDO, P_K_IL6, P_K_IL6_CPLX, P_K_IL6_R, P_KM_IL6_R,
    P_KD_IL6_SR,
    P_K_ENDO_ON, P_K_ENDO_OFF, P_EC50_ENDO_TRANS, P_W_IL1_ENDO, P_W_IFNG_ENDO,
    P_P_IL10_M, P_P_IL10_T, P_K_IL10, P_IL10_BASE, P_KI_IL10,
    P_P_MCP1, P_A_MCP1_ENDO, P_K_MCP1, P_MCP1_BASE,
    // IL-6 receptor system and tocilizumab
    P_TOC_CL, P_TOC_V1, P_TOC_Q, P_TOC_V2, P_TOC_VMAX, P_TOC_KM, P_TOC_MW, P_TOC_KD,
    P_SR_KSYN, P_SR_KDEG, P_SR_IMAX, P_SR_KSS, P_SR_MW,
    // siltuximab
    P_SILT_CL, P_SILT_V1, P_SILT_Q, P_SILT_V2, P_SILT_MW, P_SILT_KD, P_SILT_K_CPLX,
    // dexamethasone
    P_DEX_KA, P_DEX_CL, P_DEX_V, P_DEX_KE0, P_DEX_IC50, P_DEX_IMAX_CYT, P_DEX_IMAX_T, P_DEX_K_APOP,
    // clinical layer
    P_CRP_KTR, P_CRP_KSYN, P_CRP_KEL, P_CRP_EC50,
    P_FEVER_EC50_IL6, P_FEVER_W_IL1, P_PGE_TAU, P_PGE_EC50, P_T_BASE, P_T_DMAX, P_T_TAU,
    P_FER_BASE, P_FER_K, P_FER_A_IFNG, P_FER_KEL,
    P_FIB_BASE, P_FIB_KEL, P_FIB_A_AP, P_FIB_K_CONS,
    P_K_SUPP_IFNG, P_ANC_BASE, P_ANC_K, P_ANC_K_CONS, P_PLT_BASE, P_PLT_K, P_PLT_K_CONS,
    P_HB_BASE, P_HB_K, P_HB_K_CONS,
    P_LEAK_ON, P_LEAK_OFF, P_MAP_BASE, P_MAP_DROP, P_SBP_BASE, P_PF_BASE, P_LUNG_B, P_PAO2_TARGET,
    P_COUNT
};

// Observables.
enum O : int {
    O_CART_BLOOD, O_CART_TOTAL, O_CART_EFF, O_CART_MEM, O_CART_EXH, O_TUMOR, O_TUMOR_FRACTION,
    O_BCELL_FRACTION,
    O_IFNG, O_IL1, O_IL6_TOTAL, O_IL6_FREE, O_IL10, O_MCP1, O_MACT, O_ENDO,
    O_SIL6R_TOTAL, O_SIL6R_FREE, O_TOC, O_MIL6R_FREE, O_IL6_SIGNAL,
    O_SILT, O_IL6_SILT,
    O_DEX, O_DEX_EFFECT,
    O_CRP, O_FERRITIN, O_FIBRINOGEN, O_ANC, O_PLT, O_HB, O_TEMP, O_MAP, O_SBP, O_FIO2, O_LEAK,
    O_GRADE_NOW,  // instantaneous ASTCT grade (a step function of the state; crs_grade.hpp)
    O_COUNT
};

}  // namespace crsim::models::crs
