// Catch2 v2 / v3 compatibility: include this instead of a Catch2 header.
#pragma once
#if defined(CRSIM_CATCH_V3)
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <string>
using Catch::Approx;
// v2's string matcher Contains is ContainsSubstring in v3.
namespace Catch {
namespace Matchers {
inline auto Contains(const std::string& s) { return ContainsSubstring(s); }
}  // namespace Matchers
}  // namespace Catch
#else
#include <catch2/catch.hpp>
#endif
