// Forward sensitivities take fixed-size (stack) derivative vectors of 4 entries for up to 4
// directions, of 8 for up to 8, and heap vectors beyond: all give the same numbers (10 directions at
// once = runs of 5 + 5 = runs of 3 + 3 + 4), with either method.
#include <cmath>
#include <utility>
#include <string>
#include <vector>

#include "catch.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/simulate.hpp"

using namespace crsim;

TEST_CASE("sensitivities agree between the 4-wide, 8-wide and heap direction paths", "[sensitivities]") {
    const Model& m = *models::builtin_registry().get("pk2_mm");
    const std::vector<std::string> all = {"CL", "V1", "Q", "V2", "Vmax", "Km",
                                          "init:central", "init:peripheral", "init:eliminated_linear",
                                          "init:eliminated_mm"};
    for (Method method : {Method::Dopri5, Method::Rosenbrock4}) {
        Problem pr;
        pr.options.method = method;
        Dose d;
        d.target = "central";
        d.amount = 560.0;
        d.duration = 1.0;
        pr.doses = {d};
        for (int k = 0; k <= 28; ++k) pr.times.push_back(24.0 * k);
        pr.sensitivities = all;
        const auto big = simulate(m, pr);
        const std::vector<std::pair<std::size_t, std::size_t>> chunks = {{0, 5}, {5, 10}, {0, 3}, {3, 6}, {6, 10}};
        for (const auto& [lo, hi] : chunks) {
            pr.sensitivities.assign(all.begin() + static_cast<long>(lo), all.begin() + static_cast<long>(hi));
            const auto small = simulate(m, pr);
            const std::size_t n = 4, T = pr.times.size(), w = hi - lo;
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t i = 0; i < n; ++i)
                    for (std::size_t k = 0; k < w; ++k) {
                        const double a = big.state_sensitivities[(t * n + i) * 10 + lo + k];
                        const double b = small.state_sensitivities[(t * n + i) * w + k];
                        CHECK(std::abs(a - b) <= 1e-6 * (std::abs(a) + 1e-3));
                    }
        }
    }
}
