#include "crsim/models/builtin.hpp"

#include <string>

#include "crsim/models/crs_grade.hpp"
#include "crsim/models/generated/crs.hpp"
#include "crsim/models/generated/tce.hpp"
#include "crsim/models/generated/models.hpp"

namespace crsim::models {

void register_builtin(Registry& registry) {
    for (const auto& g : generated::kModels) {
        auto make = g.make;
        // The instantaneous ASTCT grade is computed in C++ from the observables of the models that
        // share the clinical layer: the CRS model and the T-cell-engager model.
        const std::string name = g.name;
        registry.add(g.name, [make, name] {
            if (name == "crs") return make(crs_grade_now_output(generated::Crs::info()));
            if (name == "tce") return make(crs_grade_now_output(generated::Tce::info()));
            return make(DerivedOutputs{});
        });
    }
}

Registry& builtin_registry() {
    static Registry* registry = [] {
        auto* r = new Registry();
        register_builtin(*r);
        return r;
    }();
    return *registry;
}

}  // namespace crsim::models
