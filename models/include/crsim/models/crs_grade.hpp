// crsim: the ASTCT CRS grade (Lee DW et al. 2019, Biol Blood Marrow Transplant 25:625) and the
// per-patient clinical readouts of a CRS trajectory (docs/model.md sec. 7): a standard supportive-care
// policy (a modelling choice, docs/model.md sec. 7) turns the model's intrinsic physiology
// (temperature, MAP, SBP, FiO2 need) into the interventions the ASTCT grade is defined by, the grade
// follows per output time, and the readouts summarise a run (CAR-T exposure, biomarker peaks, onset,
// duration, time at grade, episodes, IEC-HS flags after Hines MR et al. 2023, Transplant Cell Ther
// 29:438, carHLH after Neelapu SS et al. 2018, Nat Rev Clin Oncol 15:47, HLH-2004 and partial HScore).
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "crsim/model.hpp"
#include "crsim/model_impl.hpp"
#include "crsim/simulate.hpp"

namespace crsim::models {

// Thresholds of the grader and the hyperinflammation flags (docs/model.md secs. 7 and 7b): modelling
// choices anchored on the ASTCT and CARTOX tables unless noted.
struct GradingPolicy {
    double fever_c = 38.0;            // ASTCT fever, degC [read]
    double sbp_hypotension = 90.0;    // mmHg [read: ASTCT-adapted, CARTOX]
    double map_target = 65.0;         // mmHg
    double fluid_map_gain = 10.0;     // mmHg that up to 2 boluses of 500-1000 mL restore [design]
    double ne_restorable = 15.0;      // D1: MAP deficit norepinephrine up to NE_escalate restores
    double ne_avp_restorable = 25.0;  // D2: deficit NE + vasopressin restore; beyond: 2nd catecholamine
    double fio2_room_air = 0.21;
    double fio2_low_flow_max = 0.40;  // <= 6 L/min nasal cannula
    double fio2_positive_pressure = 0.60;  // FiO2_PP
    double resolution_h = 24.0;       // afebrile, normotensive, no O2 for this long = resolved
    double ferritin_uln = 300.0;      // ng/mL
    double ast_uln = 40.0;            // U/L
    // IEC-HS (Hines MR et al. 2023, read as docs/model.md sec. 7b says) [design]: the CRS counts
    // as resolving once IL-6 has fallen to this fraction of its peak so far, or this long after
    // CRS onset ...
    double iec_resolving_il6_fraction = 0.5;
    double iec_resolving_after_onset_h = 7.0 * 24.0;
    // ... and ferritin is "worsening" once it has risen this many-fold over its value then.
    double iec_ferritin_rise = 1.5;
    // An IEC-HS episode ends when its criteria have been off for this long.
    double iec_resolution_h = 48.0;
    // Instantaneous grade (astct_grade_now): an anti-cytokine drug counts as active (fever waived)
    // while an anti-cytokine antibody (tocilizumab, siltuximab, emapalumab) >= this (ug/mL; membrane IL-6R
    // then mostly blocked, or > 99 % of IL-6 captured) [design] ...
    double anticytokine_antibody_ugml = 1.0;
    // ... or while the dexamethasone effect >= this fraction of its maximum [design].
    double anticytokine_dex_effect = 0.05;
    // ... or while anakinra blocks at least this fraction of IL-1 signalling [design].
    double anticytokine_il1_blockade = 0.5;
};

// B-cell aplasia: B cells below this fraction of their level at infusion (b_cell_aplasia_h).
inline constexpr double kBCellAplasiaFraction = 0.01;
// The early window of the Hay 2017 tree inputs mcp1_peak_36h and temp_max_36h, h after t = 0; the
// readout trajectory watches the time crossing it (crs_readout_watch), so a point lies within the
// bisection tolerance before its end whatever the step sizes.
inline constexpr double kEarlyWindowH = 36.0;

// States whose doses count as anti-cytokine therapy in the grade course (name prefixes).
// (ASTCT: fever no longer needed for the grade once anti-cytokine therapy or corticosteroids were
// given; anakinra and emapalumab are anti-cytokine therapy too.)
inline constexpr const char* kAnticytokineStates[] = {"tocilizumab", "siltuximab", "dexamethasone",
                                                      "methylprednisolone", "anakinra", "emapalumab"};
// States whose doses are IEC-HS-directed therapy (the IEC-HS grade is >= 2 once one is given after
// IEC-HS onset; Hines 2023).
inline constexpr const char* kIecHsTherapyStates[] = {"anakinra", "emapalumab", "dexamethasone",
                                                      "methylprednisolone"};

enum class O2Device { None = 0, LowFlow = 1, HighFlow = 2, PositivePressure = 3 };

// Grader inputs of one time point (docs/model.md sec. 7), intrinsic physiology.
struct GraderInputs {
    double temperature = 37.0;  // degC
    double map = 90.0;          // mmHg, without fluids or vasopressors
    double sbp = 120.0;         // mmHg, without fluids or vasopressors
    double fio2_required = 0.21;
};

// What the standard clinician of 7a.2 gives at this time point.
struct Support {
    bool hypotension = false;
    bool fluid_responsive = false;
    int n_vaso_nonavp = 0;
    bool avp_on = false;
    O2Device o2 = O2Device::None;
};

Support supportive_care(const GraderInputs& in, const GradingPolicy& policy = {});
int hypotension_level(const Support& s);  // 0, 2, 3 or 4
int oxygen_level(const Support& s);       // 0, 2, 3 or 4

// ASTCT grade at one time point (docs/model.md sec. 7): 5 if dead within an episode; 0 outside an
// episode or when afebrile and fever is not waived; otherwise max(1, hypotension, oxygen).
int astct_grade(const GraderInputs& in, bool in_crs_episode, bool fever_waived, bool dead = false,
                const GradingPolicy& policy = {});

// Instantaneous ASTCT grade from the state at one time point alone (the "crs" model's observable
// `crs_grade_now`, meant for triggered policies such as "grade >= 2 for 2 h"). Without the episode
// history of astct_grade_course it differs in two ways: fever is waived while an anti-cytokine drug
// is active (`anticytokine_active`, see GradingPolicy) rather than from the first dose within the
// episode, and a waived, afebrile patient without hypotension or O2 need is grade 0 (not 1), so
// the grade then follows hypotension and oxygen alone (ASTCT: once treated, they drive the grade).
// Febrile: max(1, hypotension level, oxygen level); afebrile and waived: max(hypotension level,
// oxygen level); afebrile, not waived: 0.
int astct_grade_now(const GraderInputs& in, bool anticytokine_active, const GradingPolicy& policy = {});

struct Episode {
    double onset_h = 0.0;
    double resolution_h = std::numeric_limits<double>::quiet_NaN();  // NaN: not resolved in the run
    int max_grade = 0;
};

// Grades over a time course: episodes latch from the first fever to resolution (24 h afebrile,
// normotensive, without O2); fever is waived from the first anti-cytokine dose given within an
// episode (times in anticytokine_h). Output times should be at most a few hours apart.
struct GradeCourse {
    std::vector<int> grade;
    std::vector<Episode> episodes;
};
GradeCourse astct_grade_course(const std::vector<double>& times, const std::vector<GraderInputs>& in,
                               const std::vector<double>& anticytokine_h,
                               const GradingPolicy& policy = {});

// The CRS model's derived output crs_grade_now (astct_grade_now from the observables temperature,
// map, sbp, fio2_required, tocilizumab, siltuximab, dexamethasone_effect_fraction), appended to the
// generated model's observables (crs_grade_now.cpp).
DerivedOutputs crs_grade_now_output(const ModelInfo& info);

// The thresholds the readout trajectory of a "crs" run watches (ReadoutOptions::watch), all from
// `policy`: fever (temperature), hypotension (SBP, MAP target), the MAP deficits at which fluids no
// longer suffice and one or two vasopressors are needed, the FiO2 of the oxygen devices, and
// B-cell aplasia. Between two recorded points none of them changes side (unless it crosses and
// crosses back within one solver step), so the grade course is located to the bisection tolerance.
std::vector<ReadoutWatch> crs_readout_watch(const GradingPolicy& policy = {});

// Per-patient summary of a run of the "crs" model.
struct CrsReadouts {
    double cart_cmax = 0.0;       // cells/uL
    double cart_tmax_h = 0.0;     // h
    double cart_auc28 = 0.0;      // cells/uL * d, 0-28 d (trapezoid over the output times)
    double cart_last = 0.0;       // cells/uL at the last output time (persistence)
    double il6_peak = 0.0, crp_peak = 0.0, ferritin_peak = 0.0, ifng_peak = 0.0;  // pg/mL, mg/L, ng/mL
    double mcp1_peak_36h = 0.0;   // pg/mL within 36 h of t = 0 (Hay 2017 tree input)
    double temp_max = 0.0, temp_max_36h = 0.0;  // degC
    double map_min = 0.0;         // mmHg (intrinsic)
    double fio2_max = 0.0;
    double onset_h = std::numeric_limits<double>::quiet_NaN();
    double duration_h = std::numeric_limits<double>::quiet_NaN();  // first episode
    int max_grade = 0;
    double hours_grade_ge2 = 0.0, hours_grade_ge3 = 0.0;
    int episodes = 0;
    double b_cell_aplasia_h = 0.0;  // time with B cells < 1 % of their level at infusion
    // Hyperinflammation flags (docs/model.md sec. 7b; every criterion in `criteria`).
    bool iec_hs = false;            // IEC-HS identified (Hines 2023, as read in sec. 7b)
    double iec_hs_onset_h = std::numeric_limits<double>::quiet_NaN();
    double iec_hs_duration_h = std::numeric_limits<double>::quiet_NaN();  // NaN: not resolved
    int iec_hs_grade_max = 0;       // 0 = no IEC-HS; 1-4
    bool carhlh = false;            // Neelapu 2018: ferritin > 10,000 in CRS + >= 2 organ toxicities
    int carhlh_organ_toxicities = 0;  // of the two the model evaluates (hepatic, pulmonary)
    int hlh2004_max = 0;            // evaluable HLH-2004 criteria met at once (of 4; 5 of 8 diagnose)
    int hscore_partial_max = 0;     // partial HScore (evaluable items, at most 182 of 337)
    std::vector<int> grade;         // ASTCT grade per output time
    std::vector<int> iec_hs_grade;  // IEC-HS grade per output time (0 outside an episode)
    // Each criterion of each definition: whether the model evaluates it, whether and when it was
    // first met, and its worst value.
    struct Criterion {
        std::string definition;   // "IEC-HS", "carHLH", "HLH-2004", "HScore"
        std::string key;          // short name within the definition ("ferritin", "timing", ...)
        std::string criterion;    // in words, with its threshold
        bool evaluable = true;    // false: the model has no such quantity (never assumed met)
        bool met = false;
        double first_h = std::numeric_limits<double>::quiet_NaN();
        double value = std::numeric_limits<double>::quiet_NaN();  // worst value (HScore: points)
        std::string unit;
    };
    std::vector<Criterion> criteria;
};

// Readouts of a trajectory of the "crs" model (observables by name); anti-cytokine times are the
// doses into the tocilizumab and dexamethasone states found in trajectory.doses.
// With a readout trajectory (trajectory.readout, recorded with the watches of crs_readout_watch)
// every readout comes from its points alone, so none depends on the output grid: onset, duration,
// time at grade, B-cell aplasia time are exact to the bisection tolerance (1e-6 h by default) plus
// the rare crossing and crossing back within one solver step; peaks, minima, Tmax, AUC and the
// HLH / IEC-HS criteria are evaluated at the solver's step points (its own resolution; the dense
// output between them is not searched). `grade` is then the grade course read at the output times
// (piecewise constant between recorded points, episodes closing 24 h after their last quiet start).
// Without one (an empty trajectory.readout) the readouts come from the output grid, as before.
CrsReadouts crs_readouts(const Model& model, const Trajectory& trajectory,
                         const GradingPolicy& policy = {});

}  // namespace crsim::models
