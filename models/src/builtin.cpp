#include "crsim/models/builtin.hpp"

#include <string>

#include "crsim/models/crs_grade.hpp"
#include "crsim/models/generated/crs.hpp"
#include "crsim/models/generated/models.hpp"

namespace crsim::models {

void register_builtin(Registry& registry) {
    for (const auto& g : generated::kModels) {
        auto make = g.make;
        // The CRS model's instantaneous ASTCT grade is computed in C++ from its observables.
        const bool crs = std::string(g.name) == "crs";
        registry.add(g.name, [make, crs] {
            return make(crs ? crs_grade_now_output(generated::Crs::info()) : DerivedOutputs{});
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
