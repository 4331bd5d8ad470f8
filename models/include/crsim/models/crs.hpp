// crsim: the CRS model. One patient from CAR-T infusion to months later: CAR-T cellular kinetics
// and CD19+ targets, the cytokine network, the IL-6 receptor system with tocilizumab and siltuximab,
// dexamethasone, and a clinical layer (CRP, ferritin, fibrinogen, counts, temperature, intrinsic MAP,
// FiO2 need) from which the ASTCT grade is computed (crs_grade.hpp). Equations, units and sources:
// docs/model.md. Parameter values live in data/parameters/crs_*.json: ParameterInfo::value is NaN,
// so a run needs a parameter set (crsim::load_parameter_set + crsim::parameters_from).
#pragma once

#include "crsim/model.hpp"
#include "crsim/models/crs_aux.hpp"
#include "crsim/models/crs_cart.hpp"
#include "crsim/models/crs_clinical.hpp"
#include "crsim/models/crs_cytokines.hpp"
#include "crsim/models/crs_dex.hpp"
#include "crsim/models/crs_grade.hpp"
#include "crsim/models/crs_il6r.hpp"
#include "crsim/models/crs_indices.hpp"

namespace crsim::models {

struct Crs {
    static constexpr int n_states = crs::S_COUNT;
    static ModelInfo info();

    template <class T>
    static void initial(const T* p, T* x0) {
        using namespace crs;
        for (int i = 0; i < n_states; ++i) x0[i] = T(0.0);
        const Baseline<T> b = make_baseline(p);
        x0[S_TUMOR] = p[P_TUMOR0];
        x0[S_BCELL] = p[P_BCELL0];
        x0[S_IL6] = p[P_IL6_BASE];
        x0[S_ENDO] = b.endo;
        x0[S_SIL6R] = b.sr;
        x0[S_CRP_T1] = b.s_hep;
        x0[S_CRP_T2] = b.s_hep;
        x0[S_CRP] = b.crp;
        x0[S_PGE] = b.pge;
        x0[S_TEMP] = b.temp;
        x0[S_FERRITIN] = p[P_FER_BASE];
        x0[S_FIBRINOGEN] = p[P_FIB_BASE];
        x0[S_ANC] = p[P_ANC_BASE];
        x0[S_PLT] = p[P_PLT_BASE];
        x0[S_HB] = p[P_HB_BASE];
        x0[S_LEAK] = b.leak;
    }

    template <class T>
    static void rhs(const T& t, const T* x, const T* p, T* dx) {
        using namespace crs;
        const Aux<T> a = make_aux(x, p);
        const Baseline<T> b = make_baseline(p);
        cart_rhs(t, x, p, a, dx);
        targets_rhs(x, p, a, dx);
        cytokine_rhs(x, p, a, b, dx);
        il6r_rhs(x, p, a, dx);
        dex_rhs(x, p, a, dx);
        clinical_rhs(x, p, a, b, dx);
    }

    template <class T>
    static void observables(const T&, const T* x, const T* p, T* y) {
        using namespace crs;
        using std::exp;
        const Aux<T> a = make_aux(x, p);
        const T cart = x[S_EFF] + x[S_MEM] + x[S_EXH];
        const T blood_ul = p[P_BLOOD_VOL] * p[P_WEIGHT] * 1000.0;  // mL/kg * kg * uL/mL
        const T per_ul = p[P_F_BLOOD] / blood_ul;
        y[O_CART_BLOOD] = cart * per_ul;
        y[O_CART_TOTAL] = cart;
        y[O_CART_EFF] = x[S_EFF] * per_ul;
        y[O_CART_MEM] = x[S_MEM] * per_ul;
        y[O_CART_EXH] = x[S_EXH] * per_ul;
        y[O_TUMOR] = x[S_TUMOR];
        y[O_TUMOR_FRACTION] = x[S_TUMOR] / p[P_TUMOR0];
        y[O_BCELL_FRACTION] = x[S_BCELL] / p[P_BCELL0];
        y[O_IFNG] = p[P_IFNG_BASE] + x[S_IFNG];
        y[O_IL1] = p[P_IL1_BASE] + x[S_IL1];
        y[O_IL6_TOTAL] = x[S_IL6];
        y[O_IL6_FREE] = a.il6_free;
        y[O_IL10] = p[P_IL10_BASE] + x[S_IL10];
        y[O_MCP1] = p[P_MCP1_BASE] + x[S_MCP1];
        y[O_MACT] = x[S_MACT];
        y[O_ENDO] = x[S_ENDO];
        y[O_SIL6R_TOTAL] = x[S_SIL6R];
        y[O_SIL6R_FREE] = a.sr_free;
        y[O_TOC] = a.toc;
        y[O_MIL6R_FREE] = a.mr_free;
        y[O_IL6_SIGNAL] = sat2(a.il6_signal, p[P_CRP_EC50]);
        y[O_SILT] = a.silt;
        y[O_IL6_SILT] = a.il6_silt;
        y[O_DEX] = a.dex_plasma;
        y[O_DEX_EFFECT] = a.dex_effect;
        y[O_CRP] = x[S_CRP];
        y[O_FERRITIN] = x[S_FERRITIN];
        y[O_FIBRINOGEN] = x[S_FIBRINOGEN];
        y[O_ANC] = x[S_ANC];
        y[O_PLT] = x[S_PLT];
        y[O_HB] = x[S_HB];
        y[O_TEMP] = x[S_TEMP];
        y[O_MAP] = p[P_MAP_BASE] - p[P_MAP_DROP] * x[S_LEAK];
        y[O_SBP] = y[O_MAP] * p[P_SBP_BASE] / p[P_MAP_BASE];
        y[O_FIO2] = p[P_PAO2_TARGET] / p[P_PF_BASE] * exp(p[P_LUNG_B] * x[S_LEAK]);
        y[O_LEAK] = x[S_LEAK];
        // A step function of the state: computed on plain values, constant for AD (derivative 0).
        GraderInputs in;
        in.temperature = plain(y[O_TEMP]);
        in.map = plain(y[O_MAP]);
        in.sbp = plain(y[O_SBP]);
        in.fio2_required = plain(y[O_FIO2]);
        const GradingPolicy pol;
        const bool active = plain(a.toc) >= pol.anticytokine_antibody_ugml ||
                            plain(a.silt) >= pol.anticytokine_antibody_ugml ||
                            plain(a.dex_effect) >= pol.anticytokine_dex_effect;
        y[O_GRADE_NOW] = T(static_cast<double>(astct_grade_now(in, active, pol)));
    }

private:
    // The value of a plain double or of an automatic-differentiation scalar (nested or not).
    static double plain(double v) { return v; }
    template <class A>
    static double plain(const A& v) { return plain(v.value()); }
};

}  // namespace crsim::models
