#include "crsim/models/builtin.hpp"

#include "crsim/models/crs.hpp"
#include "crsim/models/pk.hpp"

namespace crsim::models {

void register_builtin(Registry& registry) {
    registry.add<Pk1>();
    registry.add<Pk1Oral>();
    registry.add<Pk2>();
    registry.add<Pk2Oral>();
    registry.add<Pk2MM>();
    registry.add<Robertson>();
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
