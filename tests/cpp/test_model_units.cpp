// The built-in models are compiled in several translation units each (models/codegen/cpp.py,
// sensitivity_units: <model>.cpp instantiates ModelImpl<D> with its sensitivity members only
// declared, <model>_sens.cpp and <model>_coupling.cpp, or one unit per derivative width for a large
// model, define them by explicit instantiation). The
// split must not change a single bit: each sensitivity member of the split built-in model equals the
// same member of the same model type instantiated whole in this translation unit (a type derived
// from the generated one, so that its ModelImpl is a separate, implicitly instantiated class), for
// every derivative width (fixed 4 and 8, runtime-sized).
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"
#include "crsim/model_impl.hpp"
#include "crsim/models/generated/models.hpp"
#include "crsim/models/generated/pk2_mm.hpp"
#include "crsim/models/generated/robertson.hpp"

using namespace crsim;

namespace {

struct RobertsonWhole : models::generated::Robertson {};
struct Pk2MmWhole : models::generated::Pk2Mm {};

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// Every sensitivity member of `split` and `whole` on the same random arguments, m directions.
void check_same(const Model& split, const Model& whole, int m, std::mt19937& rng) {
    const int n = split.n_states(), np = split.n_parameters(), no = split.n_observables();
    REQUIRE(whole.n_states() == n);
    REQUIRE(whole.n_parameters() == np);
    std::uniform_real_distribution<double> u(0.1, 2.0);
    std::vector<double> p(static_cast<std::size_t>(np)), x(static_cast<std::size_t>(n));
    std::vector<double> z(static_cast<std::size_t>(n * (1 + m))), v(static_cast<std::size_t>(n));
    for (int j = 0; j < np; ++j) p[static_cast<std::size_t>(j)] = split.info().parameters[static_cast<std::size_t>(j)].value * u(rng);
    for (auto& e : x) e = u(rng);
    for (auto& e : z) e = u(rng) - 1.0;
    for (auto& e : v) e = u(rng) - 1.0;
    const double* S = z.data() + n;
    // parameter directions, and -1 (an initial-value direction: no parameter) every third one
    std::vector<int> pidx(static_cast<std::size_t>(m));
    for (int k = 0; k < m; ++k) pidx[static_cast<std::size_t>(k)] = k % 3 == 2 ? -1 : k % np;
    const double t = u(rng);

    const auto sz = [](int k) { return static_cast<std::size_t>(k); };
    std::vector<double> a1(sz(n * m)), b1(sz(n * m));
    split.initial_sensitivity(p.data(), pidx.data(), m, a1.data());
    whole.initial_sensitivity(p.data(), pidx.data(), m, b1.data());
    CHECK(same_bits(a1, b1));

    std::vector<double> fa(sz(n)), fb(sz(n)), dSa(sz(n * m)), dSb(sz(n * m));
    split.sensitivity_rhs(t, x.data(), S, p.data(), pidx.data(), m, fa.data(), dSa.data());
    whole.sensitivity_rhs(t, x.data(), S, p.data(), pidx.data(), m, fb.data(), dSb.data());
    CHECK(same_bits(fa, fb));
    CHECK(same_bits(dSa, dSb));

    std::vector<double> ca(sz(n * m)), cb(sz(n * m));
    split.sensitivity_coupling(t, z.data(), p.data(), pidx.data(), m, v.data(), 0.5, ca.data());
    whole.sensitivity_coupling(t, z.data(), p.data(), pidx.data(), m, v.data(), 0.5, cb.data());
    CHECK(same_bits(ca, cb));

    std::vector<double> ya(sz(no)), yb(sz(no)), dya(sz(no * m)), dyb(sz(no * m));
    split.observables_sensitivity(t, x.data(), S, p.data(), pidx.data(), m, ya.data(), dya.data());
    whole.observables_sensitivity(t, x.data(), S, p.data(), pidx.data(), m, yb.data(), dyb.data());
    CHECK(same_bits(ya, yb));
    CHECK(same_bits(dya, dyb));

    // and the results are not all zero (the comparison compares something)
    bool any = false;
    for (double d : dSa) any = any || d != 0.0;
    CHECK(any);
}

}  // namespace

TEST_CASE("Built-in models compiled in several units equal the same models compiled whole, bit for bit",
          "[generated][units]") {
    std::mt19937 rng(20261129);
    const std::unique_ptr<Model> robertson = models::generated::make_robertson();
    const std::unique_ptr<Model> pk2_mm = models::generated::make_pk2_mm();
    const ModelImpl<RobertsonWhole> robertson_whole;
    const ModelImpl<Pk2MmWhole> pk2_mm_whole;
    for (int m : {1, 3, 4, 5, 8, 9, 13}) {  // widths 4 (m <= 4), 8 (m <= 8) and runtime-sized
        INFO("directions: " << m);
        for (int rep = 0; rep < 5; ++rep) {
            check_same(*robertson, robertson_whole, m, rng);
            check_same(*pk2_mm, pk2_mm_whole, m, rng);
        }
    }
}
