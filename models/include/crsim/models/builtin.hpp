// crsim: the registry of built-in models.
#pragma once

#include "crsim/registry.hpp"

namespace crsim::models {

// Adds every built-in model to `registry`.
void register_builtin(Registry& registry);

// A process-wide registry holding the built-in models.
Registry& builtin_registry();

}  // namespace crsim::models
