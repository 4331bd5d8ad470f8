// crsim CRS model, part 4: dexamethasone (docs/model.md sec. 5). One compartment with first-order
// absorption from an oral depot and an effect compartment for the delay of transcriptional effects;
// the effect (make_aux) inhibits cytokine production, myeloid activation and CAR-T proliferation.
#pragma once

#include "crsim/models/crs_aux.hpp"

namespace crsim::models::crs {

template <class T>
void dex_rhs(const T* x, const T* p, const Aux<T>& a, T* dx) {
    const T absorbed = p[P_DEX_KA] * x[S_DEX_DEPOT];
    dx[S_DEX_DEPOT] = -absorbed;
    dx[S_DEX_C] = absorbed - p[P_DEX_CL] * a.w_cl / (p[P_DEX_V] * a.w_v) * x[S_DEX_C];
    dx[S_DEX_E] = p[P_DEX_KE0] * (a.dex_plasma - x[S_DEX_E]);
}

}  // namespace crsim::models::crs
