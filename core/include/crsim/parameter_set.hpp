// crsim: parameter sets as data. One JSON file per set in data/parameters/ names the model it is
// for, the sources it draws on, the patient defaults it assumes and, for every model parameter, its
// value, unit and source (a citation, "calibrated: <to what>" or "modelling choice: <reason>").
//
// File format (JSON object):
//   {
//     "model": "crs",                         // ModelInfo::name the set is for
//     "description": "...",
//     "sources": ["citation", ...],           // the papers the values come from
//     "patient": {"<parameter>": ENTRY, ...}, // patient covariates (e.g. body weight, tumor burden):
//                                             // model parameters too, listed apart so a user sees
//                                             // what patient the set assumes
//     "regimen": {"<name>": ENTRY, ...},      // optional: the default regimen the calibration used
//                                             // (not model parameters, e.g. a CAR-T dose per kg)
//     "parameters": {"<parameter>": ENTRY, ...}
//   }
//   ENTRY = {"value": <number>, "unit": "<unit>", "source": "<text>", "note": "<optional text>"}
// Keys starting with "_" (comments) are ignored everywhere.
#pragma once

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
};

struct ParameterSet {
    std::string path;         // the file it was read from
    std::string name;         // file stem, e.g. "crs_tisagenlecleucel_ball"
    std::string model;        // the model it is for
    std::string description;
    std::vector<std::string> sources;
    // Every model parameter, the patient covariates included.
    std::map<std::string, ParameterEntry> parameters;
    std::vector<std::string> patient;  // names (in `parameters`) that are patient covariates
    std::map<std::string, ParameterEntry> regimen;
};

// Reads and validates a parameter-set file. Errors (unreadable file, malformed JSON, missing or
// mistyped fields, a name listed twice) throw InputError naming "<file>: <field>".
ParameterSet load_parameter_set(const std::string& path);

// The parameter vector of `model` from `set`, with `overrides` (name -> value, in the model's unit)
// applied. Checks that the set is for this model, that it gives every model parameter and no
// unknown one, that each unit string equals the model's unit, and that every value (overrides
// included) lies within the model's bounds. Errors throw InputError naming
// "<file>: parameters.<name>[.unit]" (or "overrides.<name>"), the value and what is allowed.
std::vector<double> parameters_from(const Model& model, const ParameterSet& set,
                                    const std::map<std::string, double>& overrides = {});

}  // namespace crsim
