// Forward sensitivities take an allocation-free path for up to 8 directions and a heap path beyond:
// both give the same numbers (10 directions at once = two runs of 5).
#include <cmath>
#include <string>
#include <vector>

#include "catch.hpp"
#include "crsim/models/builtin.hpp"
#include "crsim/simulate.hpp"

using namespace crsim;

TEST_CASE("sensitivities agree between the stack (<= 8) and heap (> 8) direction paths", "[sensitivities]") {
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
        for (int half = 0; half < 2; ++half) {
            pr.sensitivities.assign(all.begin() + 5 * half, all.begin() + 5 * half + 5);
            const auto small = simulate(m, pr);
            const std::size_t n = 4, T = pr.times.size();
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t i = 0; i < n; ++i)
                    for (std::size_t k = 0; k < 5; ++k) {
                        const double a = big.state_sensitivities[(t * n + i) * 10 + 5 * half + k];
                        const double b = small.state_sensitivities[(t * n + i) * 5 + k];
                        CHECK(std::abs(a - b) <= 1e-6 * (std::abs(a) + 1e-3));
                    }
        }
    }
}
