// crsim CRS model, part 1: CAR-T cellular kinetics and the CD19+ targets (docs/model.md sec. 2).
//
// Effector CAR-T cells E proliferate while engaged with antigen (tumor and normal B cells), the
// engaged fraction saturating in targets and shared among effectors (Beddington-DeAngelis form);
// effectors die, differentiate into long-lived memory cells M (which antigen re-activates) and,
// under antigen, into exhausted cells X; chronic engagement also makes the population dysfunctional
// (D: less proliferation, killing and cytokine secretion per engaged cell). Tumor grows logistically; normal B cells turn over towards
// their pre-infusion level; effectors kill both (B-cell aplasia).
#pragma once

#include "crsim/models/crs_aux.hpp"

namespace crsim::models::crs {

template <class T>
void cart_rhs(const T& t, const T* x, const T* p, const Aux<T>& a, T* dx) {
    using std::exp;
    const T e = x[S_EFF], m = x[S_MEM], ex = x[S_EXH];
    // antigen-driven proliferation plus homeostatic proliferation after lymphodepletion (t = 0 is
    // the infusion), waning as the lymphocyte compartment refills
    const T prolif = (p[P_RHO] * a.phi * a.function + p[P_RHO_H] * exp(-t / p[P_TAU_H])) * a.inh_t * e;
    const T to_mem = p[P_K_EM] * e;
    const T to_exh = p[P_K_EX] * a.phi * e;
    const T reactivation = p[P_K_ME] * a.phi * a.function * m;
    const T steroid_death = p[P_DEX_K_APOP] * a.dex_effect * e;  // glucocorticoid T-cell apoptosis
    dx[S_EFF] = prolif - p[P_DELTA_E] * e - to_mem - to_exh + reactivation - steroid_death;
    dx[S_MEM] = to_mem - p[P_DELTA_M] * m - reactivation;
    dx[S_EXH] = to_exh - p[P_DELTA_X] * ex;
    // population dysfunction under chronic antigen (bounded in [0, 1]); recovers slowly without it
    dx[S_DYSF] = p[P_K_DYSF] * a.phi * (1.0 - x[S_DYSF]) - p[P_K_DYSF_REC] * x[S_DYSF];
}

template <class T>
void targets_rhs(const T* x, const T* p, const Aux<T>& a, T* dx) {
    const T tu = x[S_TUMOR];
    dx[S_TUMOR] = p[P_G_TUMOR] * tu * (1.0 - tu / p[P_TUMOR_CAP]) - a.kill_tumor;
    dx[S_BCELL] = p[P_DELTA_B] * (p[P_BCELL0] - x[S_BCELL]) - a.kill_bcell;
}

}  // namespace crsim::models::crs
