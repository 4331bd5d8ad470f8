"""Published between-patient variability as the population default (issue 15, item 3): parameter
sets declare ω and correlations with their sources (``"variability"``, ``"correlations"``),
``crsim.Model(...).variability`` lists them, ``crsim.population`` without ``variability`` draws from
them and says in its output where each ω came from and what it leaves unvaried."""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import crsim
from crsim.model.parameter_sets import data_dir

SCENARIO = data_dir() / "scenarios" / "default.yaml"
TISA = data_dir() / "parameters" / "crs_tisagenlecleucel_ball.json"


def test_the_crs_sets_declare_frey_urien_and_stein_variability_with_sources():
    var = crsim.Model("crs").variability.set_index("name")
    # Frey 2010: CVs as published, omega = sqrt(ln(1 + cv^2))
    for name, cv in (("toc_CL", 0.39), ("toc_V1", 0.37), ("toc_V2", 0.66), ("toc_Vmax", 0.54)):
        assert var.loc[name, "cv"] == cv
        assert var.loc[name, "omega"] == pytest.approx(math.sqrt(math.log1p(cv * cv)), rel=1e-12)
        assert "Frey N et al. 2010" in var.loc[name, "source"]
        assert var.loc[name, "origin"].endswith("drugs/tocilizumab.json")
    assert var.loc["ana_CL", "omega"] == 0.28 and "Urien" in var.loc["ana_CL", "source"]
    for name in ("rho", "delta_E", "delta_M", "k_EM"):
        assert var.loc[name, "omega"] > 0 and "Stein AM et al. 2019" in var.loc[name, "source"]
    # declared unvaried, with the reason
    for name in ("tumor_burden", "p_il6_myeloid", "toc_Q", "toc_Km"):
        assert var.loc[name, "omega"] == 0 and var.loc[name, "source"].strip()
    corr = crsim.Model("crs").correlations
    pairs = {frozenset((r.a, r.b)): r.r for r in corr.itertuples()}
    assert pairs[frozenset(("toc_CL", "toc_V1"))] == 0.6 and pairs[frozenset(("toc_CL", "toc_Vmax"))] == -0.5
    assert len(pairs) == 6
    # the T-cell-engager sets: Hosseini 2020's spread of first-dose IL-6 on kIL6prod
    tce = crsim.Model("tce", "tce_mosunetuzumab_nhl").variability.set_index("name")
    assert tce.loc["kIL6prod", "omega"] == 1.8 and "Hosseini" in tce.loc["kIL6prod", "source"]
    # a model without a parameter set declares none; pk2_mm's Frey 2010 set declares Frey's
    assert crsim.Model("pk2_mm").variability.empty
    toci = crsim.Model("pk2_mm", "pk2_mm_tocilizumab")
    assert toci.parameter_values == crsim.Model("pk2_mm").parameter_values  # the model's own defaults
    pvar = toci.variability.set_index("name")
    assert {k: pvar.loc[k, "cv"] for k in ("CL", "V1", "V2", "Vmax")} == \
        {k: var.loc[f"toc_{k}", "cv"] for k in ("CL", "V1", "V2", "Vmax")}
    assert len(toci.correlations) == 6


def test_a_default_population_draws_the_published_variability():
    sc = crsim.Scenario.from_file(SCENARIO)
    draws = crsim.sample_parameters(sc, 4000, seed=3)
    var = crsim.Model("crs", sc.parameter_set).variability.set_index("name")
    varied = sorted(var.index[var.omega > 0])
    assert sorted(draws.columns) == varied
    typical = crsim.Model("crs", sc.parameter_set).parameter_values
    eta = np.log(draws / np.array([typical[c] for c in draws.columns]))
    for name in varied:  # SD of eta within sampling error (4000 draws: about 1.1 %)
        assert eta[name].std() == pytest.approx(var.loc[name, "omega"], rel=0.05), name
    r = np.corrcoef(eta["toc_CL"], eta["toc_V1"])[0, 1]
    assert r == pytest.approx(0.6, abs=0.04)
    assert np.corrcoef(eta["toc_CL"], eta["toc_Vmax"])[0, 1] == pytest.approx(-0.5, abs=0.04)
    assert abs(np.corrcoef(eta["rho"], eta["toc_CL"])[0, 1]) < 0.05  # no correlation declared
    info = draws.attrs["variability"]
    assert info["default"] is True and info["parameter_set"] == "crs_tisagenlecleucel_ball"
    assert set(info["sources"]) == set(varied) and "Frey" in info["sources"]["toc_CL"]
    assert "tumor_burden" in info["not_varied"] and "no published" in info["not_varied"]["tumor_burden"]
    assert "every other parameter" in info["others"]
    # the same seed gives the same patients as an explicit dict of the same omegas and correlations
    explicit = crsim.sample_parameters(
        sc, 50, {k: float(var.loc[k, "omega"]) for k in draws.columns},
        correlation={(r.a, r.b): r.r for r in crsim.Model("crs", sc.parameter_set).correlations.itertuples()},
        seed=3)
    assert np.array_equal(explicit.to_numpy(), draws.iloc[:50][list(explicit.columns)].to_numpy())
    assert explicit.attrs["variability"]["default"] is False


def test_a_caller_correlation_replaces_the_published_one():
    sc = crsim.Scenario.from_file(SCENARIO)
    draws = crsim.sample_parameters(sc, 3000, correlation={("rho", "delta_E"): 0.8}, seed=4)
    eta = np.log(draws)
    assert np.corrcoef(eta["rho"], eta["delta_E"])[0, 1] == pytest.approx(0.8, abs=0.04)
    assert abs(np.corrcoef(eta["toc_CL"], eta["toc_V1"])[0, 1]) < 0.06
    assert draws.attrs["variability"]["correlation_sources"] == {"*": "given by the caller"}


def test_a_set_without_published_variability_asks_for_it():
    toci = crsim.Scenario("pk2_mm", name="toci", patient={"weight_kg": 70},
                          regimen=["8 mg/kg iv over 1h"], horizon_days=2)
    with pytest.raises(crsim.InputError, match=r"^variability = None.*declares no published"):
        crsim.population(toci, 3)
    # with the Frey 2010 set, the label dose in 2000 patients: CL drawn with CV 39 %, and the
    # peak concentration falls with the central volume (Cmax about dose / V1 after a 1-h infusion)
    pop = crsim.population(toci.replace(parameter_set="pk2_mm_tocilizumab", horizon_days=28), 2000, seed=2)
    assert sorted(pop.attrs["omega"]) == ["CL", "V1", "V2", "Vmax"]
    cv = math.sqrt(math.expm1(np.log(pop["CL"]).var()))
    assert cv == pytest.approx(0.39, rel=0.08)
    assert np.corrcoef(np.log(pop["V1"]), np.log(pop["C.max"]))[0, 1] < -0.8


def test_population_output_says_where_the_variability_came_from(tmp_path):
    sc = crsim.Scenario.from_file(SCENARIO).replace(horizon_days=2)
    tab = crsim.population(sc, 6, seed=1, readouts=["max_grade"])
    assert tab.attrs["variability"]["default"] is True
    crsim.save_population(tab, tmp_path / "p.h5", sc)
    back = crsim.load_population(tmp_path / "p.h5")
    assert back.attrs["variability"] == json.loads(json.dumps(tab.attrs["variability"]))
    streamed = crsim.population(sc, 6, seed=1, readouts=["max_grade"], output=tmp_path / "s.h5")
    assert streamed.table().attrs["variability"]["sources"] == tab.attrs["variability"]["sources"]


def test_cli_population_uses_the_published_default_and_names_it(tmp_path):
    sc = tmp_path / "short.yaml"
    sc.write_text(SCENARIO.read_text().replace("horizon_days: 28", "horizon_days: 2"))
    assert "horizon_days: 2" in sc.read_text()
    out = tmp_path / "pop.csv"
    run = subprocess.run([sys.executable, "-m", "crsim", "population", str(sc), "-n", "4", "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "published, as declared in parameter set 'crs_tisagenlecleucel_ball'" in run.stdout
    assert "toc_CL: typical 0.0125, omega 0.376 (Frey N et al. 2010" in run.stdout
    assert "not varied: tumor_burden (not varied by default: no published distribution" in run.stdout
    assert "every other parameter is at the scenario's value" in run.stdout


def _user_set(tmp_path: Path, extra: dict) -> str:
    path = tmp_path / "my_set.json"
    path.write_text(json.dumps({"model": "crs", "description": "test", "extends": [str(TISA)], **extra}))
    return str(path)


@pytest.mark.parametrize("extra, message", [
    ({"variability": {"rho": {"omega": -0.1, "source": "x"}}}, r"variability\.rho\.omega = -0\.1 .*omega >= 0"),
    ({"variability": {"rho": {"omega": 0.1, "cv": 0.1, "source": "x"}}}, r"variability\.rho = omega and cv"),
    ({"variability": {"rho": {"omega": 0.1}}}, r"variability\.rho\.source = missing"),
    ({"variability": {"rho": {"omega": 9.0, "source": "x"}}}, r"variability\.rho = 9 \(omega\) .*omega <= 5"),
    ({"variability": {"nope": {"omega": 0.1, "source": "x"}}}, r"variability\.nope = unknown parameter"),
    ({"correlations": [{"between": ["rho", "rho"], "r": 0.1, "source": "x"}]}, r"correlations\[0\]\.between"),
    ({"correlations": [{"between": ["rho", "delta_E"], "r": 1.0, "source": "x"}]}, r"correlations\[0\]\.r = 1 .*\(-1, 1\)"),
    ({"correlations": [{"between": ["rho", "K_A"], "r": 0.5, "source": "x"}]},
     r"correlations \(rho, K_A\) = 'K_A' .*variability entry"),
])
def test_bad_variability_in_a_set_file_is_named(tmp_path, extra, message):
    with pytest.raises(crsim.InputError, match=message):
        crsim.Model("crs", _user_set(tmp_path, extra))


def test_a_set_overrides_the_variability_of_its_layers(tmp_path):
    path = _user_set(tmp_path, {"variability": {"rho": {"omega": 0.0, "source": "held fixed here"}},
                                "correlations": [{"between": ["toc_V1", "toc_CL"], "r": 0.3, "source": "y"}]})
    m = crsim.Model("crs", path)
    var = m.variability.set_index("name")
    assert var.loc["rho", "omega"] == 0.0 and var.loc["rho", "origin"] == path
    assert var.loc["delta_E", "omega"] > 0  # the layer's entry stays
    pairs = {frozenset((r.a, r.b)): r.r for r in m.correlations.itertuples()}
    assert pairs[frozenset(("toc_CL", "toc_V1"))] == 0.3 and len(pairs) == 6


def test_every_failure_of_a_default_population_is_a_refusal_at_the_bounds():
    """Stein's spreads on the CAR-T death rates put a few patients outside the model's bounds
    (docs/populations.md): those, and only those, are refused, naming the parameter."""
    sc = crsim.Scenario.from_file(SCENARIO).replace(horizon_days=2)
    tab = crsim.population(sc, 300, seed=5, readouts=["max_grade"])
    bounds = crsim.Model("crs", sc.parameter_set).parameters.set_index("name")
    outside = np.zeros(len(tab), dtype=bool)
    for name in tab.attrs["omega"]:
        outside |= (tab[name] < bounds.loc[name, "lower"]).to_numpy() | (tab[name] > bounds.loc[name, "upper"]).to_numpy()
    failed = tab["error"].fillna("").to_numpy() != "" if "error" in tab else np.zeros(len(tab), dtype=bool)
    assert np.array_equal(failed, outside) and 0 < failed.sum() < 0.1 * len(tab)
    assert all("(sampled) is outside its bounds" in e for e in tab.loc[failed, "error"])
    assert tab.loc[~failed, "max_grade"].notna().all()


def test_docs_list_every_declared_omega():
    """docs/model.md section 9c shows each declared omega (3 significant digits) and docs/populations.md
    names each layer that declares one."""
    model_md = (Path(__file__).resolve().parents[2] / "docs" / "model.md").read_text(encoding="utf-8")
    section = model_md[model_md.index("## 9c."):model_md.index("## 10.")]
    for model, pset in (("crs", "crs_tisagenlecleucel_ball"), ("tce", "tce_mosunetuzumab_nhl")):
        for r in crsim.Model(model, pset).variability.itertuples():
            row = next(line for line in section.splitlines() if line.startswith("| ") and f"`{r.name}`" in line.split("|")[1])
            assert f"| {r.omega:.3g} |" in row, (r.name, r.omega, row)


def test_cli_population_without_published_variability_asks_for_vary(tmp_path):
    sc = tmp_path / "toci.yaml"
    sc.write_text("name: toci\nmodel: pk2_mm\npatient:\n  weight_kg: 70\nregimen:\n"
                  "  - 8 mg/kg iv over 1h max 800mg\nhorizon_days: 2\n")
    run = subprocess.run([sys.executable, "-m", "crsim", "population", str(sc), "-n", "3", "-o",
                          str(tmp_path / "p.csv")], capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "--vary is required for this scenario: the model pk2_mm (it has no parameter set) declares " \
           "no published between-patient variability" in run.stderr
    assert "--vary CL=0.3" in run.stderr and not (tmp_path / "p.csv").exists()
    # with Frey 2010's set the default applies
    sc.write_text(sc.read_text() + "parameter_set: pk2_mm_tocilizumab\n")
    run = subprocess.run([sys.executable, "-m", "crsim", "population", str(sc), "-n", "3", "-o",
                          str(tmp_path / "p.csv")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "CL: typical 0.0125, omega 0.376 (Frey N et al. 2010" in run.stdout
