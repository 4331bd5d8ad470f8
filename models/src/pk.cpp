// Metadata of the PK model library: states, parameters (unit, default, bounds, source), observables.
#include "crsim/models/pk.hpp"

#include <limits>

namespace crsim::models {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kTiny = 1e-12;

const char* kFrey2010 =
    "Frey N et al. 2010, J Clin Pharmacol 50:754 (tocilizumab popPK, Tables II-III, typical male); "
    "values per hour as tabulated in shared/science/drugs.md sec. 1.3a";
const char* kTsuei1979 =
    "Tsuei SE et al., J Pharmacokinet Biopharm (doi 10.1007/BF01060016): dexamethasone total plasma "
    "clearance about 247 mL/min after 8 mg IV";

StateInfo dosed(const char* name, const char* desc) { return {name, "mg", desc, "mg"}; }
StateInfo amount(const char* name, const char* desc) { return {name, "mg", desc, ""}; }

ParameterInfo cl(double v, const char* src) {
    return {"CL", "L/h", v, 0.0, kInf, "linear clearance from the central compartment", src};
}
ParameterInfo vol(const char* name, double v, const char* desc, const char* src) {
    return {name, "L", v, kTiny, kInf, desc, src};
}
ParameterInfo ka(double v, const char* src) {
    return {"ka", "1/h", v, 0.0, kInf, "first-order absorption rate constant", src};
}
ParameterInfo q(double v, const char* src) {
    return {"Q", "L/h", v, 0.0, kInf, "inter-compartmental clearance", src};
}
ObservableInfo conc() { return {"C", "mg/L", "concentration in the central compartment (= ug/mL)"}; }
}  // namespace

ModelInfo Pk1::info() {
    ModelInfo m;
    m.name = "pk1";
    m.description = "one-compartment PK, IV bolus or infusion; defaults: dexamethasone (adult)";
    m.states = {dosed("central", "amount in the central compartment")};
    m.parameters = {cl(14.7, kTsuei1979),
                    vol("V", 64.0, "volume of distribution",
                        "computed from CL and a terminal half-life of 3 h (shared/science/drugs.md sec. 4)")};
    m.observables = {conc()};
    m.sources = {kTsuei1979};
    return m;
}

ModelInfo Pk1Oral::info() {
    ModelInfo m;
    m.name = "pk1_oral";
    m.description = "one-compartment PK with first-order absorption; defaults: oral dexamethasone (adult)";
    m.states = {dosed("depot", "amount at the absorption site"),
                dosed("central", "amount in the central compartment")};
    m.parameters = {ka(1.5, "modelling choice: no source value read; gives tmax of about 1.5 h for oral "
                            "dexamethasone"),
                    cl(14.7, kTsuei1979),
                    vol("V", 64.0, "volume of distribution",
                        "computed from CL and a terminal half-life of 3 h (shared/science/drugs.md sec. 4)")};
    m.observables = {conc()};
    m.sources = {kTsuei1979};
    return m;
}

ModelInfo Pk2::info() {
    ModelInfo m;
    m.name = "pk2";
    m.description = "two-compartment PK, IV bolus or infusion; defaults: tocilizumab linear part (Frey 2010)";
    m.states = {dosed("central", "amount in the central compartment"),
                dosed("peripheral", "amount in the peripheral compartment")};
    m.parameters = {cl(0.0125, kFrey2010), vol("V1", 3.5, "central volume", kFrey2010),
                    q(0.00833, kFrey2010), vol("V2", 2.9, "peripheral volume", kFrey2010)};
    m.observables = {conc()};
    m.sources = {kFrey2010};
    return m;
}

ModelInfo Pk2Oral::info() {
    ModelInfo m;
    m.name = "pk2_oral";
    m.description = "two-compartment PK with first-order absorption; defaults: tocilizumab (Frey 2010), "
                    "absorption a modelling choice";
    m.states = {dosed("depot", "amount at the absorption site"),
                dosed("central", "amount in the central compartment"),
                dosed("peripheral", "amount in the peripheral compartment")};
    m.parameters = {ka(0.02, "modelling choice: gives tmax of 2-3 d as reported for SC tocilizumab "
                             "(Zhang 2013, shared/science/drugs.md sec. 1.3c)"),
                    cl(0.0125, kFrey2010), vol("V1", 3.5, "central volume", kFrey2010),
                    q(0.00833, kFrey2010), vol("V2", 2.9, "peripheral volume", kFrey2010)};
    m.observables = {conc()};
    m.sources = {kFrey2010};
    return m;
}

ModelInfo Pk2MM::info() {
    ModelInfo m;
    m.name = "pk2_mm";
    m.description = "two-compartment PK with parallel linear and Michaelis-Menten elimination "
                    "(monoclonal antibody structure); defaults: tocilizumab, Frey 2010";
    m.states = {dosed("central", "amount in the central compartment"),
                dosed("peripheral", "amount in the peripheral compartment"),
                amount("eliminated_linear", "cumulative amount eliminated by linear clearance"),
                amount("eliminated_mm", "cumulative amount eliminated by the saturable route")};
    m.parameters = {cl(0.0125, kFrey2010), vol("V1", 3.5, "central volume", kFrey2010),
                    q(0.00833, kFrey2010), vol("V2", 2.9, "peripheral volume", kFrey2010),
                    {"Vmax", "mg/h", 0.3125, 0.0, kInf, "maximal rate of saturable elimination", kFrey2010},
                    {"Km", "mg/L", 2.7, kTiny, kInf, "concentration at half-maximal saturable elimination",
                     kFrey2010}};
    m.observables = {conc(), {"total_amount", "mg", "drug in the body plus drug eliminated (mass balance)"}};
    m.sources = {kFrey2010};
    return m;
}

ModelInfo Robertson::info() {
    const char* src = "Robertson HH 1966, in: Numerical Analysis, Academic Press, 178-182; reference "
                      "solution: Hairer E & Wanner G, Solving ODEs II, sec. IV.1";
    ModelInfo m;
    m.name = "robertson";
    m.description = "Robertson's stiff chemical kinetics (solver reference problem, not pharmacology)";
    m.states = {{"y1", "1", "species 1 (mass fraction)", ""},
                {"y2", "1", "species 2 (mass fraction)", ""},
                {"y3", "1", "species 3 (mass fraction)", ""}};
    m.parameters = {{"k1", "1/h", 0.04, 0.0, kInf, "rate constant of y1 -> y2", src},
                    {"k2", "1/h", 3e7, 0.0, kInf, "rate constant of 2 y2 -> y2 + y3", src},
                    {"k3", "1/h", 1e4, 0.0, kInf, "rate constant of y2 + y3 -> y1 + y3", src}};
    m.observables = {{"total", "1", "y1 + y2 + y3 (conserved, = 1)"}};
    m.sources = {src};
    return m;
}

}  // namespace crsim::models
