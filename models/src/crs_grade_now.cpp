// The CRS model's derived output `crs_grade_now`: the instantaneous ASTCT grade (astct_grade_now,
// crs_grade.hpp) from the model's own observables at one time point. A step function of vital
// signs, not ODE content, so it lives here (the model's C++ extension) rather than in the model
// source: computed on plain values after each evaluation of the observables, derivative 0. It is
// what triggered policies such as "grade >= 2 for 2 h" watch.
#include "crsim/models/crs_grade.hpp"

#include <string>

#include "crsim/errors.hpp"
#include "crsim/model_impl.hpp"

namespace crsim::models {

DerivedOutputs crs_grade_now_output(const ModelInfo& info) {
    auto index = [&info](const char* name) {
        for (std::size_t i = 0; i < info.observables.size(); ++i)
            if (info.observables[i].name == name) return static_cast<int>(i);
        throw InputError("observable", std::string("'") + name + "'",
                         "an observable of the CRS model (needed by crs_grade_now)");
    };
    // drugs a model may lack (the TCE model has neither emapalumab nor anakinra): -1 = absent
    auto optional = [&info](const char* name) {
        for (std::size_t i = 0; i < info.observables.size(); ++i)
            if (info.observables[i].name == name) return static_cast<int>(i);
        return -1;
    };
    const int temp = index("temperature"), map = index("map"), sbp = index("sbp"),
              fio2 = index("fio2_required"), toc = index("tocilizumab"), silt = index("siltuximab"),
              dex = index("dexamethasone_effect_fraction"), emap = optional("emapalumab"),
              ana = optional("anakinra_il1_blockade");
    DerivedOutputs d;
    d.info.push_back({"crs_grade_now", "1",
                      "instantaneous ASTCT CRS grade from the current state (0-4; for triggers: fever "
                      "waived while tocilizumab, siltuximab or emapalumab >= 1 ug/mL, the glucocorticoid "
                      "effect >= 0.05 or anakinra's IL-1 blockade >= 0.5; a step function, its "
                      "sensitivities are 0)"});
    d.eval = [=](double, const double* y, double* out) {
        GraderInputs in;
        in.temperature = y[temp];
        in.map = y[map];
        in.sbp = y[sbp];
        in.fio2_required = y[fio2];
        const GradingPolicy pol;
        const bool active = y[toc] >= pol.anticytokine_antibody_ugml ||
                            y[silt] >= pol.anticytokine_antibody_ugml ||
                            (emap >= 0 && y[emap] >= pol.anticytokine_antibody_ugml) ||
                            y[dex] >= pol.anticytokine_dex_effect ||
                            (ana >= 0 && y[ana] >= pol.anticytokine_il1_blockade);
        out[0] = static_cast<double>(astct_grade_now(in, active, pol));
    };
    return d;
}

}  // namespace crsim::models
