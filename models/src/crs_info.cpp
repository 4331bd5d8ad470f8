// Metadata of the CRS model: states, parameters (units, admissible bounds, meaning) and observables.
// Parameter values and their sources are data: data/parameters/crs_*.json (docs/model.md).
#include <limits>

#include "crsim/models/crs.hpp"

namespace crsim::models {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kTiny = 1e-12;
const char* kFromSet = "value from the parameter set (data/parameters/crs_*.json), which names its source";

ParameterInfo par(const char* name, const char* unit, double lo, double hi, const char* desc) {
    return {name, unit, kNaN, lo, hi, desc, kFromSet};
}
ParameterInfo pos(const char* name, const char* unit, const char* desc) {  // > 0
    return par(name, unit, kTiny, kInf, desc);
}
ParameterInfo nonneg(const char* name, const char* unit, const char* desc) {  // >= 0
    return par(name, unit, 0.0, kInf, desc);
}
ParameterInfo frac(const char* name, const char* desc) { return par(name, "1", 0.0, 1.0, desc); }
}  // namespace

ModelInfo Crs::info() {
    ModelInfo m;
    m.name = "crs";
    m.description =
        "CAR-T cellular kinetics, CD19+ tumor and B cells, cytokine network (IFN-gamma, myeloid "
        "activation, IL-1, IL-6, IL-10, MCP-1, endothelium), IL-6 receptor system with tocilizumab, "
        "dexamethasone, and a clinical layer (CRP, ferritin, fibrinogen, counts, temperature, MAP, "
        "FiO2 need) for the ASTCT CRS grade. Parameter values come from a parameter set "
        "(data/parameters/crs_*.json); equations in docs/model.md.";
    m.version = "1";
    m.default_parameter_set = "crs_tisagenlecleucel_ball";
    m.states = {
        {"car_t_effector", "cells", "effector CAR-T cells (whole body)", "cells"},
        {"car_t_memory", "cells", "memory CAR-T cells (whole body)", ""},
        {"car_t_exhausted", "cells", "exhausted CAR-T cells (whole body)", ""},
        {"dysfunction", "1", "dysfunction of the CAR-T population from chronic antigen stimulation", ""},
        {"tumor", "cells", "CD19+ tumor cells reachable by CAR-T cells", ""},
        {"b_cells", "cells", "normal CD19+ B cells (whole body)", ""},
        {"ifng", "pg/mL", "serum IFN-gamma above the pre-infusion baseline", ""},
        {"myeloid_activation", "1", "activated monocytes/macrophages relative to the resting pool (exceeds 1 with recruitment)", ""},
        {"il1", "pg/mL", "serum IL-1 above the pre-infusion baseline", ""},
        {"il6", "pg/mL", "total serum IL-6 (free plus bound to sIL-6R or siltuximab)", ""},
        {"il10", "pg/mL", "serum IL-10 above the pre-infusion baseline", ""},
        {"mcp1", "pg/mL", "serum MCP-1 (CCL2) above the pre-infusion baseline", ""},
        {"endothelial_activation", "1", "fraction of endothelium activated (Ang-2 release)", ""},
        {"tocilizumab_central", "mg", "tocilizumab in the central compartment", "mg"},
        {"tocilizumab_peripheral", "mg", "tocilizumab in the peripheral compartment", ""},
        {"sil6r", "ng/mL", "total soluble IL-6 receptor (free plus tocilizumab-bound)", ""},
        {"siltuximab_central", "mg", "siltuximab in the central compartment", "mg"},
        {"siltuximab_peripheral", "mg", "siltuximab in the peripheral compartment", ""},
        {"dexamethasone_depot", "mg", "dexamethasone at the oral absorption site", "mg"},
        {"dexamethasone_central", "mg", "dexamethasone in the body (central compartment)", "mg"},
        {"dexamethasone_effect", "ng/mL", "dexamethasone effect-site concentration", ""},
        {"crp_transit1", "1", "hepatocyte IL-6 signal, first transit compartment", ""},
        {"crp_transit2", "1", "hepatocyte IL-6 signal, second transit compartment", ""},
        {"crp", "mg/L", "serum C-reactive protein", ""},
        {"pyrogen", "1", "lagged pyrogenic drive (PGE2 in the preoptic area)", ""},
        {"temperature", "degC", "core temperature", ""},
        {"ferritin", "ng/mL", "serum ferritin", ""},
        {"fibrinogen", "mg/dL", "plasma fibrinogen", ""},
        {"anc", "1e9/L", "absolute neutrophil count", ""},
        {"platelets", "1e9/L", "platelet count", ""},
        {"hemoglobin", "g/dL", "haemoglobin", ""},
        {"capillary_leak", "1", "capillary leak index (plasma volume lost to the interstitium)", ""},
    };
    m.parameters = {
        // patient
        pos("body_weight", "kg", "body weight (blood volume, drug PK scaling)"),
        nonneg("tumor_burden", "cells", "CD19+ tumor cells reachable by CAR-T cells at infusion"),
        pos("b_cells0", "cells", "normal CD19+ B cells at infusion (after lymphodepletion)"),
        // CAR-T
        par("rho", "1/h", 0.0, 0.1, "maximal antigen-driven proliferation rate of effector CAR-T cells (T cells divide at most every ~7 h)"),
        pos("K_A", "cells", "targets giving half-maximal engagement of an effector"),
        nonneg("theta", "1", "effector crowding: effectors competing for targets (Beddington-DeAngelis)"),
        nonneg("delta_E", "1/h", "death rate of effector CAR-T cells"),
        nonneg("k_EM", "1/h", "differentiation rate of effectors into memory cells"),
        nonneg("k_ME", "1/h", "maximal re-activation rate of memory cells by antigen"),
        nonneg("delta_M", "1/h", "death rate of memory CAR-T cells"),
        nonneg("k_EX", "1/h", "maximal exhaustion rate of effectors under antigen"),
        nonneg("delta_X", "1/h", "death rate of exhausted CAR-T cells"),
        nonneg("k_dysfunction", "1/h", "rate at which chronic antigen engagement makes CAR-T cells dysfunctional"),
        nonneg("k_dysfunction_recovery", "1/h", "recovery rate from CAR-T dysfunction"),
        par("rho_h", "1/h", 0.0, 0.1, "antigen-independent (homeostatic, IL-7/IL-15) proliferation rate at infusion, after lymphodepletion"),
        par("tau_h", "h", kTiny, 500.0, "decay time of homeostatic proliferation as lymphocytes and cytokine sinks recover"),
        par("f_blood", "1", kTiny, 1.0, "fraction of CAR-T cells circulating in blood"),
        pos("blood_volume", "mL/kg", "blood volume per kg body weight"),
        // targets
        nonneg("k_kill", "1/h", "maximal target cells killed per engaged effector per hour"),
        nonneg("g_tumor", "1/h", "tumor growth rate (logistic, at low burden)"),
        pos("tumor_capacity", "cells", "tumor carrying capacity"),
        nonneg("delta_B", "1/h", "turnover rate of normal B cells (recovery towards b_cells0)"),
        // cytokines
        nonneg("p_ifng", "pg/mL/h", "IFN-gamma secretion per 1e9 engaged CAR-T cells"),
        pos("k_ifng", "1/h", "IFN-gamma elimination rate"),
        nonneg("ifng_base", "pg/mL", "pre-infusion serum IFN-gamma"),
        pos("K_ifng", "pg/mL", "IFN-gamma giving half-maximal response (myeloid, endothelium, ferritin)"),
        pos("K_engaged", "1", "engaged CAR-T cells (in 1e9 cells) giving half-maximal myeloid contact activation"),
        pos("K_il1", "pg/mL", "IL-1 giving half-maximal response (myeloid, IL-6 amplification, endothelium, fever)"),
        nonneg("k_mact_on", "1/h", "activation rate of the resting monocyte/macrophage pool per unit drive"),
        pos("k_mact_off", "1/h", "de-activation rate of monocytes/macrophages"),
        nonneg("w_engaged_mact", "1", "weight of direct CAR-T contact (CD40L/GM-CSF) in myeloid activation"),
        nonneg("w_il1_mact", "1", "weight of autocrine IL-1 in myeloid activation"),
        nonneg("a_mcp1_recruit", "1", "maximal MCP-1-driven recruitment of monocytes (fold increase of the activatable pool minus 1)"),
        pos("K_mcp1", "pg/mL", "induced MCP-1 giving half-maximal monocyte recruitment"),
        nonneg("p_il1", "pg/mL/h", "IL-1 secretion at full myeloid activation"),
        pos("k_il1", "1/h", "IL-1 elimination rate"),
        nonneg("il1_base", "pg/mL", "pre-infusion serum IL-1"),
        pos("il6_base", "pg/mL", "pre-infusion total serum IL-6"),
        nonneg("p_il6_myeloid", "pg/mL/h", "IL-6 secretion at full myeloid activation"),
        nonneg("a_il1_il6", "1", "maximal IL-1 amplification of myeloid IL-6 secretion (fold minus 1)"),
        nonneg("p_il6_endo", "pg/mL/h", "IL-6 secretion at full endothelial activation"),
        nonneg("k_il6", "1/h", "nonspecific (renal) elimination rate of free IL-6"),
        nonneg("k_il6_complex", "1/h", "elimination rate of IL-6 bound to sIL-6R"),
        nonneg("k_il6_receptor", "1/h", "membrane IL-6R-mediated IL-6 internalisation rate (low IL-6)"),
        pos("Km_il6_receptor", "pg/mL", "free IL-6 half-saturating membrane IL-6R internalisation"),
        pos("KD_il6_sil6r", "nM", "dissociation constant of IL-6 with sIL-6R"),
        nonneg("k_endo_on", "1/h", "maximal endothelial activation rate"),
        pos("k_endo_off", "1/h", "endothelial de-activation rate"),
        pos("EC50_endo_trans", "pg/mL", "IL-6:sIL-6R complex giving half-maximal endothelial trans-signalling (Hill 2)"),
        nonneg("w_il1_endo", "1", "weight of IL-1 in endothelial activation"),
        nonneg("w_ifng_endo", "1", "weight of IFN-gamma (and TNF, which it stands for) in endothelial activation"),
        nonneg("p_il10_myeloid", "pg/mL/h", "IL-10 secretion at full myeloid activation"),
        nonneg("p_il10_t", "pg/mL/h", "IL-10 secretion per 1e9 engaged CAR-T cells"),
        pos("k_il10", "1/h", "IL-10 elimination rate"),
        nonneg("il10_base", "pg/mL", "pre-infusion serum IL-10"),
        pos("Ki_il10", "pg/mL", "IL-10 halving myeloid activation and secretion"),
        nonneg("p_mcp1", "pg/mL/h", "MCP-1 secretion at full myeloid activation"),
        nonneg("a_mcp1_endo", "1", "endothelial MCP-1 secretion relative to myeloid"),
        pos("k_mcp1", "1/h", "MCP-1 elimination rate"),
        nonneg("mcp1_base", "pg/mL", "pre-infusion serum MCP-1"),
        // tocilizumab and sIL-6R
        nonneg("toc_CL", "L/h", "tocilizumab linear clearance (70 kg)"),
        pos("toc_V1", "L", "tocilizumab central volume (70 kg)"),
        nonneg("toc_Q", "L/h", "tocilizumab inter-compartmental clearance (70 kg)"),
        pos("toc_V2", "L", "tocilizumab peripheral volume (70 kg)"),
        nonneg("toc_Vmax", "mg/h", "tocilizumab maximal target-mediated elimination rate (70 kg)"),
        pos("toc_Km", "ug/mL", "tocilizumab concentration at half-maximal target-mediated elimination"),
        pos("toc_MW", "kDa", "tocilizumab molecular weight"),
        pos("toc_KD", "nM", "tocilizumab:membrane IL-6R dissociation constant (blockade)"),
        nonneg("sil6r_ksyn", "ng/mL/h", "sIL-6R production rate"),
        pos("sil6r_kdeg", "1/h", "elimination rate of free sIL-6R"),
        frac("sil6r_Imax", "reduction of sIL-6R elimination when bound to tocilizumab"),
        pos("sil6r_Kss", "ug/mL", "tocilizumab:sIL-6R quasi-steady-state constant"),
        pos("sil6r_MW", "kDa", "sIL-6R molecular weight"),
        // siltuximab
        nonneg("silt_CL", "L/h", "siltuximab linear clearance (70 kg)"),
        pos("silt_V1", "L", "siltuximab central volume (70 kg)"),
        nonneg("silt_Q", "L/h", "siltuximab inter-compartmental clearance (70 kg)"),
        pos("silt_V2", "L", "siltuximab peripheral volume (70 kg)"),
        pos("silt_MW", "kDa", "siltuximab molecular weight"),
        pos("silt_KD", "nM", "siltuximab:IL-6 dissociation constant"),
        nonneg("silt_k_cplx", "1/h", "elimination rate of IL-6 bound to siltuximab"),
        // dexamethasone
        nonneg("dex_ka", "1/h", "dexamethasone oral absorption rate"),
        nonneg("dex_CL", "L/h", "dexamethasone clearance (70 kg)"),
        pos("dex_V", "L", "dexamethasone volume of distribution (70 kg)"),
        nonneg("dex_ke0", "1/h", "dexamethasone effect-site equilibration rate"),
        pos("dex_IC50", "ng/mL", "dexamethasone effect-site concentration for half-maximal effect"),
        frac("dex_Imax_cytokine", "maximal inhibition of cytokine production and myeloid activation"),
        frac("dex_Imax_cart", "maximal inhibition of CAR-T proliferation"),
        nonneg("dex_k_apoptosis", "1/h", "extra death rate of effector CAR-T cells at full dexamethasone effect"),
        // clinical layer
        pos("crp_ktr", "1/h", "transit rate of the hepatocyte IL-6 signal (CRP synthesis lag)"),
        nonneg("crp_ksyn", "mg/L/h", "CRP synthesis at full hepatocyte IL-6 signalling"),
        pos("crp_kel", "1/h", "CRP elimination rate"),
        pos("crp_EC50", "pg/mL", "signalling IL-6 giving half-maximal hepatocyte signalling"),
        pos("fever_EC50_il6", "pg/mL", "signalling IL-6 giving half the IL-6 pyrogenic drive"),
        frac("fever_w_il1", "maximal pyrogenic drive from IL-1"),
        pos("pge_tau", "h", "time constant of the pyrogenic (PGE2) drive"),
        pos("pge_EC50", "1", "pyrogenic drive giving half the maximal set-point rise (Hill 2)"),
        par("temp_base", "degC", 30.0, 40.0, "afebrile set point"),
        par("temp_dmax", "degC", 0.0, 6.0, "maximal set-point rise"),
        pos("temp_tau", "h", "time constant of body temperature following the set point"),
        nonneg("ferritin_base", "ng/mL", "pre-infusion serum ferritin"),
        nonneg("ferritin_k", "ng/mL/h", "ferritin secretion at full macrophage activation"),
        nonneg("ferritin_a_ifng", "1", "IFN-gamma amplification of macrophage ferritin secretion"),
        pos("ferritin_kel", "1/h", "ferritin elimination rate"),
        pos("fibrinogen_base", "mg/dL", "pre-infusion fibrinogen"),
        pos("fibrinogen_kel", "1/h", "fibrinogen turnover rate"),
        nonneg("fibrinogen_a_acute", "1", "acute-phase rise of fibrinogen synthesis at full hepatocyte signalling"),
        nonneg("fibrinogen_k_cons", "1/h", "fibrinogen consumption at full macrophage activation"),
        pos("K_supp_ifng", "pg/mL", "induced IFN-gamma halving marrow output"),
        nonneg("anc_base", "1e9/L", "absolute neutrophil count at infusion"),
        pos("anc_k", "1/h", "neutrophil turnover rate"),
        nonneg("anc_k_cons", "1/h", "neutrophil consumption at full macrophage activation"),
        nonneg("platelets_base", "1e9/L", "platelet count at infusion"),
        pos("platelets_k", "1/h", "platelet turnover rate"),
        nonneg("platelets_k_cons", "1/h", "platelet consumption at full macrophage activation"),
        nonneg("hemoglobin_base", "g/dL", "haemoglobin at infusion"),
        pos("hemoglobin_k", "1/h", "red-cell turnover rate"),
        nonneg("hemoglobin_k_cons", "1/h", "red-cell consumption (haemophagocytosis) at full macrophage activation"),
        nonneg("leak_on", "1/h", "capillary leak rate at full endothelial activation"),
        pos("leak_off", "1/h", "resolution rate of capillary leak"),
        par("map_base", "mmHg", 40.0, 150.0, "baseline mean arterial pressure"),
        par("map_drop", "mmHg", 0.0, 100.0, "fall of intrinsic MAP at full capillary leak"),
        par("sbp_base", "mmHg", 60.0, 220.0, "baseline systolic pressure (SBP scales with MAP)"),
        par("pf_base", "mmHg", 100.0, 700.0, "baseline PaO2/FiO2 ratio"),
        nonneg("lung_b", "1", "log-fold rise of the FiO2 need at full capillary leak"),
        par("pao2_target", "mmHg", 30.0, 200.0, "arterial PO2 the clinician targets (SpO2 about 92 %)"),
    };
    m.observables = {
        {"car_t_blood", "cells/uL", "CAR-T cells in blood (all phenotypes)"},
        {"car_t_total", "cells", "CAR-T cells in the body"},
        {"car_t_effector_blood", "cells/uL", "effector CAR-T cells in blood"},
        {"car_t_memory_blood", "cells/uL", "memory CAR-T cells in blood"},
        {"car_t_exhausted_blood", "cells/uL", "exhausted CAR-T cells in blood"},
        {"tumor_cells", "cells", "CD19+ tumor cells"},
        {"tumor_fraction", "1", "tumor relative to the burden at infusion"},
        {"b_cell_fraction", "1", "normal B cells relative to their level at infusion (B-cell aplasia < 0.01)"},
        {"ifng", "pg/mL", "serum IFN-gamma"},
        {"il1", "pg/mL", "serum IL-1"},
        {"il6", "pg/mL", "total serum IL-6 (what an immunoassay measures)"},
        {"il6_free", "pg/mL", "free serum IL-6 (not bound to sIL-6R or siltuximab)"},
        {"il10", "pg/mL", "serum IL-10"},
        {"mcp1", "pg/mL", "serum MCP-1"},
        {"myeloid_activation", "1", "activated monocytes/macrophages relative to the resting pool"},
        {"endothelial_activation", "1", "fraction of endothelium activated"},
        {"sil6r", "ng/mL", "total serum sIL-6R"},
        {"sil6r_free", "ng/mL", "free sIL-6R (not bound to tocilizumab)"},
        {"tocilizumab", "ug/mL", "serum tocilizumab"},
        {"mil6r_free_fraction", "1", "fraction of membrane IL-6R not blocked by tocilizumab"},
        {"il6_signalling", "1", "hepatocyte IL-6 signalling (fraction of maximal)"},
        {"siltuximab", "ug/mL", "serum siltuximab"},
        {"il6_bound_siltuximab", "pg/mL", "IL-6 bound to siltuximab (part of total IL-6)"},
        {"dexamethasone", "ng/mL", "plasma dexamethasone"},
        {"dexamethasone_effect_fraction", "1", "dexamethasone effect (fraction of maximal; the state dexamethasone_effect is the effect-site concentration)"},
        {"crp", "mg/L", "serum C-reactive protein"},
        {"ferritin", "ng/mL", "serum ferritin"},
        {"fibrinogen", "mg/dL", "plasma fibrinogen"},
        {"anc", "1e9/L", "absolute neutrophil count"},
        {"platelets", "1e9/L", "platelet count"},
        {"hemoglobin", "g/dL", "haemoglobin"},
        {"temperature", "degC", "core temperature (grader input T)"},
        {"map", "mmHg", "intrinsic mean arterial pressure, without fluids or vasopressors (grader input)"},
        {"sbp", "mmHg", "intrinsic systolic pressure (grader input)"},
        {"fio2_required", "1", "FiO2 needed to reach the target PaO2 (grader input; <= 0.21: room air)"},
        {"capillary_leak", "1", "capillary leak index"},
        {"crs_grade_now", "1", "instantaneous ASTCT CRS grade from the current state (0-4; for triggers: fever "
                               "waived while tocilizumab or siltuximab >= 1 ug/mL or dexamethasone effect >= 0.05; a step "
                               "function, its sensitivities are 0)"},
    };
    m.sources = {"see the parameter set's sources (data/parameters/crs_*.json) and docs/model.md"};
    return m;
}

}  // namespace crsim::models
