// The instantaneous ASTCT grade (`crs_grade_now`, crs_grade.hpp astct_grade_now) and a triggered
// policy on it: the rules of the header on synthetic inputs, the observable against the grade course
// of the default B-ALL patient, its zero sensitivities, and "grade >= 2 for 2 h" firing where the
// grade first reaches 2 (located on the dense output, not on the output grid).
#include <algorithm>
#include <cmath>
#include <string>

#include "catch.hpp"
#include "crs_fixture.hpp"

using namespace crsim::models;
using namespace crs_test;

TEST_CASE("astct_grade_now: fever, waiver while an anti-cytokine drug is active", "[crs][grade][policy]") {
    const GradingPolicy pol;
    struct Row { GraderInputs in; bool active; int grade; const char* why; };
    const Row rows[] = {
        {{38.5, 85, 120, 0.21}, false, 1, "fever only"},
        {{37.5, 60, 100, 0.21}, false, 0, "afebrile hypotension, untreated: not (yet) CRS"},
        {{38.5, 60, 100, 0.21}, false, 2, "fever + fluid-responsive hypotension"},
        {{38.5, 50, 80, 0.50}, false, 3, "fever + vasopressor + high flow"},
        {{37.5, 60, 100, 0.21}, true, 2, "afebrile after tocilizumab: hypotension drives the grade"},
        {{37.5, 85, 120, 0.30}, true, 2, "afebrile after tocilizumab: low-flow O2"},
        {{37.5, 25, 45, 0.21}, true, 4, "afebrile after tocilizumab: two catecholamines"},
        {{37.5, 85, 120, 0.21}, true, 0, "afebrile, treated, no hypotension or O2: 0 (not 1)"},
        {{38.5, 85, 120, 0.21}, true, 1, "febrile and treated: 1"},
    };
    for (const Row& r : rows) {
        INFO(r.why);
        CHECK(astct_grade_now(r.in, r.active, pol) == r.grade);
        // Febrile and untreated, it is the per-time-point grade of an episode.
        if (r.in.temperature >= pol.fever_c && !r.active)
            CHECK(astct_grade_now(r.in, false, pol) == astct_grade(r.in, true, false, false, pol));
    }
}

TEST_CASE("crs_grade_now follows the grade course of the untreated default patient", "[crs][grade][policy]") {
    const auto& m = crs_model();
    Scenario sc;
    sc.step_h = 0.5;
    const Run r = run(sc);
    const auto course_max = r.r.max_grade;
    int now_max = 0, agree_febrile = 0, febrile = 0;
    for (std::size_t k = 0; k < r.tr.times.size(); ++k) {
        const double g = r.obs(k, "crs_grade_now");
        REQUIRE(g == std::floor(g));
        now_max = std::max(now_max, static_cast<int>(g));
        if (r.obs(k, "temperature") >= 38.0) {  // febrile, no drug: both graders agree exactly
            ++febrile;
            agree_febrile += static_cast<int>(g) == r.r.grade[k];
        } else {
            CHECK(g == 0.0);  // afebrile and untreated
        }
    }
    INFO("max grade: course " << course_max << ", instantaneous " << now_max << "; febrile points "
                              << febrile << ", agreeing " << agree_febrile);
    CHECK(febrile > 100);
    CHECK(agree_febrile == febrile);
    CHECK(now_max == course_max);
    CHECK(m.info().observables.back().name == "crs_grade_now");
}

TEST_CASE("crs_grade_now waives fever while tocilizumab or siltuximab is active; its sensitivities are zero",
          "[crs][grade][policy]") {
    const auto& m = crs_model();
    Scenario sc;
    sc.step_h = 1.0;
    sc.days = 14;
    const double w = load_set(sc.set).parameters.at("body_weight").value;
    const GradingPolicy pol;
    for (const crsim::Dose& drug : {tocilizumab(111.0, w), siltuximab(111.0)}) {
        sc.extra_doses = {drug};
        const Run r = run(sc);
        int waived_points = 0;
        for (std::size_t k = 0; k < r.tr.times.size(); ++k) {
            GraderInputs in{r.obs(k, "temperature"), r.obs(k, "map"), r.obs(k, "sbp"), r.obs(k, "fio2_required")};
            const bool active = r.obs(k, "tocilizumab") >= pol.anticytokine_antibody_ugml ||
                                r.obs(k, "siltuximab") >= pol.anticytokine_antibody_ugml ||
                                r.obs(k, "dexamethasone_effect_fraction") >= pol.anticytokine_dex_effect;
            CHECK(r.obs(k, "crs_grade_now") == astct_grade_now(in, active, pol));
            if (active && in.temperature < pol.fever_c) {
                ++waived_points;
                const Support s = supportive_care(in, pol);
                CHECK(r.obs(k, "crs_grade_now") == std::max(hypotension_level(s), oxygen_level(s)));
            }
        }
        INFO(drug.target << ": " << waived_points << " afebrile points with the drug active");
        CHECK(r.obs(r.at(110.0), "tocilizumab") + r.obs(r.at(110.0), "siltuximab") == 0.0);
        CHECK(waived_points > 48);  // afebrile within hours of the dose, drug above 1 ug/mL for weeks
    }

    crsim::Problem pr;
    const auto ps = load_set(sc.set);
    pr.parameters = crsim::parameters_from(m, ps, {});
    pr.weight_kg = w;
    crsim::Dose car;
    car.target = "car_t_effector";
    car.amount = 3e6;
    car.per_kg = true;
    pr.doses = {car};
    pr.times = {0.0, 120.0, 140.0};
    pr.sensitivities = {"rho", "map_drop"};
    const auto tr = crsim::simulate(m, pr);
    const std::size_t no = static_cast<std::size_t>(m.n_observables());
    const std::size_t j = static_cast<std::size_t>(m.observable_index("crs_grade_now"));
    for (std::size_t k = 0; k < tr.times.size(); ++k)
        for (std::size_t s = 0; s < 2; ++s) CHECK(tr.observable_sensitivities[(k * no + j) * 2 + s] == 0.0);
    CHECK(tr.observables[2 * no + j] >= 2.0);  // the run is in CRS at 140 h
}

TEST_CASE("a policy on grade >= 2 sustained 2 h fires where the grade first reaches 2, on any grid",
          "[crs][grade][policy]") {
    const auto& m = crs_model();
    const auto ps = load_set("crs_tisagenlecleucel_ball");
    const double w = ps.parameters.at("body_weight").value;
    auto problem = [&](double step) {
        crsim::Problem pr;
        pr.parameters = crsim::parameters_from(m, ps, {});
        pr.weight_kg = w;
        crsim::Dose car;
        car.target = "car_t_effector";
        car.amount = 3e6;
        car.per_kg = true;
        pr.doses = {car};
        for (double t = 0.0; t <= 240.0 + 1e-9; t += step) pr.times.push_back(t);
        pr.options.rtol = 1e-8;
        pr.options.atol = 1e-10;
        return pr;
    };
    // Where the untreated grade first reaches 2, on a 0.001 h grid around the hourly estimate.
    const auto plain = crsim::simulate(m, problem(1.0));
    const std::size_t no = static_cast<std::size_t>(m.n_observables());
    const std::size_t j = static_cast<std::size_t>(m.observable_index("crs_grade_now"));
    std::size_t k = 0;
    while (plain.observables[k * no + j] < 2.0) ++k;
    crsim::Problem fine = problem(1.0);
    fine.times.clear();
    for (double t = plain.times[k] - 1.0; t <= plain.times[k] + 1e-9; t += 0.001) fine.times.push_back(t);
    fine.t_start = 0.0;
    fine.times.insert(fine.times.begin(), 0.0);
    const auto ft = crsim::simulate(m, fine);
    std::size_t q = 0;
    while (ft.observables[q * no + j] < 2.0) ++q;
    const double t2 = ft.times[q];  // first fine grid point at grade >= 2

    crsim::Policy p;
    p.name = "tocilizumab at grade 2";
    p.condition.variable = "crs_grade_now";
    p.condition.threshold = 2.0;
    p.condition.sustained = 2.0;
    p.action = {tocilizumab(0.0, w)};
    p.max_firings = 1;
    double detected[2];
    int i = 0;
    for (double step : {24.0, 0.25}) {
        crsim::Problem pr = problem(step);
        pr.policies = {p};
        const auto tr = crsim::simulate(m, pr);
        REQUIRE(tr.firings.size() == 1);
        INFO("grid " << step << " h: condition met at " << tr.firings[0].condition_met << " h, fine-grid "
                     << t2 << " h, detected " << tr.firings[0].detected << " h");
        CHECK(tr.firings[0].condition_met <= t2 + 1e-6);
        CHECK(tr.firings[0].condition_met > t2 - 0.001 - 1e-6);
        CHECK(tr.firings[0].detected == Approx(tr.firings[0].condition_met + 2.0).margin(1e-9));
        CHECK(tr.firings[0].value >= 2.0);
        detected[i++] = tr.firings[0].detected;
    }
    CHECK(std::abs(detected[0] - detected[1]) <= 1e-6);
}
