// crsim: parameter sets as data. A JSON file in data/parameters/ names the model it is for, the
// sources it draws on, the patient defaults it assumes and, for every model parameter, its value,
// unit and source (a citation, "calibrated: <to what>" or "modelling choice: <reason>").
// A set may be built from layers: shared pieces (a drug's PK/PD, physiology, the clinical layer) in
// subdirectories of data/parameters/ (drugs/, physiology/, cells/) that the set "extends".
//
// File format (JSON object):
//   {
//     "model": "crs",                         // ModelInfo::name the set is for (a layer has none)
//     "description": "...",
//     "extends": ["drugs/tocilizumab", ...],  // optional: layers, applied in this order
//     "sources": ["citation", ...],           // the papers the values come from
//     "patient": {"<parameter>": ENTRY, ...}, // patient covariates (e.g. body weight, tumor burden):
//                                             // model parameters too, listed apart so a user sees
//                                             // what patient the set assumes
//     "regimen": {"<name>": ENTRY, ...},      // optional: the default regimen the calibration used
//                                             // (not model parameters, e.g. a CAR-T dose per kg)
//     "parameters": {"<parameter>": ENTRY, ...},
//     "variability": {"<parameter>": VAR, ...},  // optional: published between-patient variability,
//                                             // the default of crsim.population
//     "correlations": [CORR, ...]             // optional: correlations of those random effects
//   }
//   ENTRY = {"value": <number>, "unit": "<unit>", "source": "<text>", "note": "<optional text>"}
//   VAR = {"omega": <SD of the log-normal random effect>, "source": "<text>"}
//         or {"cv": <coefficient of variation>, "source": ...} (omega = sqrt(ln(1 + cv^2)));
//         omega 0 with a source that says why declares a parameter deliberately not varied (e.g. no
//         published distribution), so that a population can say so.
//   CORR = {"between": ["<parameter>", "<parameter>"], "r": <in (-1, 1)>, "source": "<text>"}
// Keys starting with "_" (comments) are ignored everywhere.
//
// Layers. A layer file has the same format without "model" (it may have "extends" itself). An
// "extends" name is a path without ".json", relative to the parameter-set directory: for a file
// that names a model (the set being loaded, or a complete set it extends), its own directory; for a
// layer, the directory its extending set resolves against (so "drugs/tocilizumab" means
// data/parameters/drugs/tocilizumab.json wherever it is named); absolute paths are allowed.
// Resolution is depth-first: a file's layers in the order listed (each resolved the same way), then
// the file's own entries; later entries override earlier ones (value, unit, source and note
// together; a variability entry likewise, a correlation by its unordered pair). A file reached twice (two layers extending the same one) is applied once, where first
// reached. Within one file a name may appear once (in patient or parameters); across files a name
// keeps its section (patient or parameters). The resolved "sources" are the file's own, then its
// layers' in order, each citation once; "description" and "regimen" entries override likewise; all
// files that name a model must name the same one. A layer alone is not a set (loading one is an
// InputError): crsim lists only the *.json files directly in data/parameters/, so layers live in
// subdirectories. To write a new product set, extend the shared layers and give the rest:
//   {"model": "crs", "description": "...", "sources": [...],
//    "extends": ["cells/cd19_car_t", "physiology/cytokines", "physiology/il6_receptor",
//                "physiology/clinical", "drugs/tocilizumab", "drugs/siltuximab",
//                "drugs/dexamethasone"],
//    "patient": {...}, "regimen": {...}, "parameters": {<the product's own values>}}
#pragma once

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "crsim/model.hpp"

namespace crsim {

struct ParameterEntry {
    double value = 0.0;
    std::string unit;
    std::string source;
    std::string note;
    std::string origin;  // the file that gave the entry (the set itself or one of its layers)
};

// Between-patient variability of one parameter (log-normal: theta_i = theta * exp(eta_i),
// eta_i ~ N(0, omega^2)).
struct VariabilityEntry {
    double omega = 0.0;
    double cv = std::numeric_limits<double>::quiet_NaN();  // as given in the file (NaN: omega given)
    std::string source;
    std::string origin;
};

struct CorrelationEntry {
    std::string a, b;  // two different parameters with variability entries
    double r = 0.0;
    std::string source;
    std::string origin;
};

struct ParameterSet {
    std::string path;         // the file it was read from (its layers are resolved into it)
    std::string name;         // file stem, e.g. "crs_tisagenlecleucel_ball"
    std::string model;        // the model it is for
    std::string description;
    std::vector<std::string> sources;
    // Every model parameter, the patient covariates included.
    std::map<std::string, ParameterEntry> parameters;
    std::vector<std::string> patient;  // names (in `parameters`) that are patient covariates
    std::map<std::string, ParameterEntry> regimen;
    std::map<std::string, VariabilityEntry> variability;
    std::vector<CorrelationEntry> correlations;
};

// Reads and validates a parameter-set file and resolves its layers. Errors (unreadable file,
// malformed JSON, missing or mistyped fields, a name listed twice in one file or in two sections, a
// missing layer, a cycle of layers, two models) throw InputError naming "<file>: <field>" (e.g.
// "<set>.json: extends[2]").
ParameterSet load_parameter_set(const std::string& path);

// The parameter vector of `model` from `set`, with `overrides` (name -> value, in the model's unit)
// applied. Checks that the set is for this model, that it gives every model parameter and no
// unknown one, that each unit string equals the model's unit, and that every value (overrides
// included) lies within the model's bounds. Errors throw InputError naming
// "<file>: parameters.<name>[.unit]" (the file that gave the entry: the set or one of its layers;
// or "overrides.<name>"), the value and what is allowed.
std::vector<double> parameters_from(const Model& model, const ParameterSet& set,
                                    const std::map<std::string, double>& overrides = {});

}  // namespace crsim
