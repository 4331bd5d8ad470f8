#include "crsim/models/builtin.hpp"

#include "crsim/models/crs.hpp"
#include "crsim/models/generated/models.hpp"

namespace crsim::models {

void register_builtin(Registry& registry) {
    for (const auto& g : generated::kModels) {
        auto make = g.make;
        registry.add(g.name, [make] { return make(DerivedOutputs{}); });
    }
    registry.add<Crs>();
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
