"""Users' own models: Antimony/SBML compiled at run time (crsim/_usermodels.py), then used by name
everywhere as a built-in model is: simulate (closed form, solve_ivp), text regimens, policies,
sensitivities, fit, scan, population, results files, scenario files naming the model file, the
CLI; the cache (compile once, then load) and the errors of model sources.

Four models (three here, one of docs/models.md) are compiled once for the module, in parallel, into
a temporary cache (about 8 s each on one core).
"""
import os
import re
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crsim
from crsim import _core
from crsim.model import usermodels as um

# A two-compartment PK with an effect compartment (Emax effect), units and metadata.
PKPD = """\
// two-compartment PK with an effect compartment
//@ model description="2-compartment PK, effect compartment, Emax effect (test model)"
model pkpd_effect()
  unit h = 3600 second; h is "h"
  unit mg = 1e-3 gram; mg is "mg"
  unit L = litre; L is "L"
  unit per_h = 1 / h; per_h is "1/h"
  unit L_per_h = litre / h; L_per_h is "L/h"
  unit mg_per_L = 1e-3 gram / litre; mg_per_L is "mg/L"
  time_unit = h
  central = 0 mg; central is "amount in the central compartment"
  //@ central dose=mg
  peripheral = 0 mg; peripheral is "amount in the peripheral compartment"
  Ce = 0 mg_per_L; Ce is "effect-site concentration"
  CL = 2 L_per_h; CL is "clearance"
  //@ CL bounds=[0, inf] source="test value"
  V1 = 10 L
  //@ V1 bounds=[1e-6, inf]
  Q = 1.5 L_per_h
  V2 = 30 L
  //@ V2 bounds=[1e-6, inf]
  ke0 = 0.7 per_h
  Emax = 100 dimensionless
  EC50 = 1.5 mg_per_L
  //@ EC50 bounds=[1e-9, inf]
  C := central/V1; C has mg_per_L; C is "plasma concentration"
  //@ C observable
  E := Emax*Ce/(EC50 + Ce); E has dimensionless; E is "effect"
  //@ E observable
  central' = -CL*C - Q*(C - peripheral/V2)
  peripheral' = Q*(C - peripheral/V2)
  Ce' = ke0*(C - Ce)
end
"""

# A small nonlinear model: saturable loss plus a first-order loss whose rate switches when x
# falls below a threshold (piecewise).
SWITCH = """\
model switchy()
  x = 2; y = 0
  Vm = 1.0; Km = 0.5; k_hi = 0.4; k_lo = 0.1; thr = 1; kel = 0.05
  kout := piecewise(k_hi, x > thr, k_lo)
  x' = -Vm*x/(Km + x) - kout*x
  y' = Vm*x/(Km + x) - kel*y
  total := x + y
end
"""

# Species and reactions in a compartment (SBML import: rates from stoichiometry, concentrations):
# a drug binding its receptor, both cleared.
BINDING = """\
model binding()
  compartment V = 2
  species D in V, R in V, DR in V
  D = 10; R = 5; DR = 0
  kon = 0.5; koff = 0.1; kel = 0.2; kdeg = 0.05
  bind: D + R -> DR; V*kon*D*R
  unbind: DR -> D + R; V*koff*DR
  elim: D -> ; V*kel*D
  deg: DR -> ; V*kdeg*DR
end
"""

TIGHT = dict(rtol=1e-10, atol=1e-12)
ROOT = Path(__file__).resolve().parents[2]


def _sbml(antimony_text):
    """SBML of an Antimony text (libAntimony keeps global state: under crsim's generation lock)."""
    import antimony

    with um._lock:
        antimony.clearPreviousLoads()
        assert antimony.loadAntimonyString(antimony_text) >= 0, antimony.getLastError()
        return antimony.getSBMLString(antimony.getMainModuleName())


def doc_blocks():
    """The code blocks of docs/models.md, section "Your own models", by language."""
    doc = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    section = doc.split("\n## Your own models\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"```(\w+)\n(.*?)```", section, re.S))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private model cache for this module, with the test models and the documentation's
    example compiled once (in parallel threads)."""
    d = tmp_path_factory.mktemp("crsim-cache")
    old = os.environ.get("CRSIM_CACHE_DIR")
    os.environ["CRSIM_CACHE_DIR"] = str(d)
    n0 = um.compiles
    sbml = d / "binding.xml"
    sbml.write_text(_sbml(BINDING))
    loads = [(crsim.Model.from_antimony, PKPD), (crsim.Model.from_antimony, SWITCH),
             (crsim.Model.from_antimony, doc_blocks()["antimony"]), (crsim.Model.from_sbml, str(sbml))]
    with ThreadPoolExecutor(len(loads)) as pool:
        models = list(pool.map(lambda job: job[0](job[1]), loads))
    assert [m.name for m in models] == ["pkpd_effect", "switchy", "my_pkpd", "binding"]
    assert um.compiles == n0 + len(loads)
    yield d
    if old is None:
        os.environ.pop("CRSIM_CACHE_DIR", None)
    else:
        os.environ["CRSIM_CACHE_DIR"] = old


def library(cache, name):
    (entry,) = [p for p in cache.iterdir() if p.is_dir() and p.name.startswith(name + "-")]
    return entry / "model.so"


def pkpd_closed_form(t, dose, p):
    """C and Ce after a bolus ``dose`` (mg) into central at t = 0 (t may be negative: 0)."""
    CL, V1, Q, V2, ke0 = p["CL"], p["V1"], p["Q"], p["V2"], p["ke0"]
    A = np.array([[-(CL + Q) / V1, Q / V2], [Q / V1, -Q / V2]])
    lam, vec = np.linalg.eig(A)
    coef = np.linalg.solve(vec, [dose, 0.0])
    c_i = vec[0] * coef / V1                       # C(t) = sum c_i exp(lam_i t)
    tt = np.maximum(np.asarray(t, float), 0.0)[:, None]
    C = (c_i * np.exp(lam * tt)).sum(axis=1)
    Ce = (ke0 * c_i * (np.exp(lam * tt) - np.exp(-ke0 * tt)) / (lam + ke0)).sum(axis=1)
    return C, Ce


# --- the model and its metadata ------------------------------------------------------------------

def test_model_tables_come_from_the_source(cache):
    m = crsim.Model("pkpd_effect")
    assert m.parameter_set is None and m.description.startswith("2-compartment")
    assert m.state_names == ["central", "peripheral", "Ce"]
    assert m.state_units == ["mg", "mg", "mg/L"]
    assert m.state_dose_units == ["mg", "", ""]
    assert m.observable_names == ["C", "E"] and m.observable_units == ["mg/L", "1"]
    assert m.parameter_values == dict(CL=2.0, V1=10.0, Q=1.5, V2=30.0, ke0=0.7, Emax=100.0, EC50=1.5)
    par = m.parameters.set_index("name")
    assert par.loc["CL", "unit"] == "L/h" and par.loc["CL", "source"] == "test value"
    assert par.loc["V1", "lower"] == 1e-6
    assert "pkpd_effect" in crsim.models() and "switchy" in crsim.models()
    assert "pkpd_effect" not in _core.builtin_models()


def test_library_is_self_contained(cache):
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm not installed")
    lib = library(cache, "pkpd_effect")
    undefined = subprocess.run([nm, "-D", "-C", "--undefined-only", str(lib)], capture_output=True,
                               text=True, check=True).stdout
    assert "crsim" not in undefined
    exported = subprocess.run([nm, "-D", "--defined-only", str(lib)], capture_output=True, text=True,
                              check=True).stdout.split()
    assert "crsim_create_model" in exported and "crsim_model_abi" in exported
    assert not any("crsim" in s and s not in ("crsim_create_model", "crsim_model_abi") for s in exported)


# --- simulation against independent solutions ------------------------------------------------------

def test_pkpd_matches_the_closed_form(cache):
    t = np.linspace(0, 48, 97)
    doses = [crsim.Dose("central", 100), crsim.Dose("central", 50, time=12)]
    res = crsim.simulate("pkpd_effect", times=t, doses=doses, **TIGHT)
    p = crsim.Model("pkpd_effect").parameter_values
    C1, Ce1 = pkpd_closed_form(t, 100, p)
    C2, Ce2 = pkpd_closed_form(t - 12, 50, p)
    late = t >= 12
    C = C1 + np.where(late, C2, 0.0)
    Ce = Ce1 + np.where(late, Ce2, 0.0)
    np.testing.assert_allclose(res["C"], C, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(res["Ce"], Ce, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(res["E"], 100 * Ce / (1.5 + Ce), rtol=1e-7, atol=1e-9)


def test_nonlinear_piecewise_matches_solve_ivp(cache):
    from scipy.integrate import solve_ivp

    m = crsim.Model("switchy")
    p = m.parameter_values

    def rhs(k):
        def f(_t, z):
            x, y = z
            sat = p["Vm"] * x / (p["Km"] + x)
            return [-sat - k * x, sat - p["kel"] * y]
        return f

    cross = lambda _t, z: z[0] - p["thr"]  # noqa: E731
    cross.terminal = True
    t = np.linspace(0, 30, 61)
    first = solve_ivp(rhs(p["k_hi"]), (0, 30), [2.0, 0.0], method="DOP853", rtol=1e-12, atol=1e-14,
                      events=cross, dense_output=True)
    ts = first.t_events[0][0]
    second = solve_ivp(rhs(p["k_lo"]), (ts, 30), first.sol(ts), method="DOP853", rtol=1e-12,
                       atol=1e-14, dense_output=True)
    ref = np.where(t <= ts, first.sol(np.minimum(t, ts)), second.sol(np.maximum(t, ts)))
    res = crsim.simulate("switchy", times=t, **TIGHT)
    np.testing.assert_allclose(res["x"], ref[0], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(res["y"], ref[1], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(res["total"], ref[0] + ref[1], rtol=1e-7, atol=1e-9)


def test_sbml_reactions_match_solve_ivp(cache):
    from scipy.integrate import solve_ivp

    m = crsim.Model("binding")
    assert m.state_names == ["D", "R", "DR"]
    p = m.parameter_values
    assert p["V"] == 2.0

    def f(_t, z):
        d, r, dr = z
        net = p["kon"] * d * r - p["koff"] * dr
        return [-net - p["kel"] * d, -net, net - p["kdeg"] * dr]

    t = np.linspace(0, 24, 49)
    ref = solve_ivp(f, (0, 24), [10.0, 5.0, 0.0], method="DOP853", rtol=1e-12, atol=1e-14,
                    t_eval=t).y
    res = crsim.simulate("binding", times=t, **TIGHT)
    for i, name in enumerate(m.state_names):
        np.testing.assert_allclose(res[name], ref[i], rtol=1e-7, atol=1e-10, err_msg=name)


# --- doses, text regimens, policies, sensitivities ----------------------------------------------------

def test_text_regimens_name_its_states_and_routes(cache):
    by_route = crsim.simulate(crsim.Scenario("pkpd_effect", regimen=["100 mg iv over 2h"],
                                             horizon_h=24, outputs={"step_h": 1}))
    by_state = crsim.simulate(crsim.Scenario("pkpd_effect", regimen=["central 100 mg over 2 h"],
                                             horizon_h=24, outputs={"step_h": 1}))
    explicit = crsim.simulate("pkpd_effect", times=by_route.times,
                              doses=[crsim.Dose("central", 100, duration=2)])
    np.testing.assert_allclose(by_route["C"], explicit["C"], rtol=1e-12)
    np.testing.assert_allclose(by_state["C"], explicit["C"], rtol=1e-12)
    with pytest.raises(crsim.InputError, match="regimen"):
        crsim.Scenario("pkpd_effect", regimen=["100 cells iv"], horizon_h=24)


def test_policy_redoses_when_the_concentration_falls(cache):
    pol = crsim.Policy("redose", when="C <= 1 mg/L", give="50 mg iv", max_doses=2,
                       window_h=(1, None))
    res = crsim.simulate("pkpd_effect", doses=[crsim.Dose("central", 100)], days=3, policies=[pol],
                         **TIGHT)
    f = res.firings
    assert len(f) == 2
    t1 = f["administered_h"].iloc[0]
    # before the first firing C fell to 1 mg/L exactly there (closed form of the first bolus)
    C1, _ = pkpd_closed_form(np.array([t1]), 100, crsim.Model("pkpd_effect").parameter_values)
    assert C1[0] == pytest.approx(1.0, rel=1e-6)
    assert list(res.doses["amount"]) == [100.0, 50.0, 50.0]


def test_sensitivities_match_finite_differences(cache):
    names = ["CL", "ke0", "EC50"]
    t = np.linspace(0, 24, 25)
    dose = [crsim.Dose("central", 100, duration=1)]
    res = crsim.simulate("pkpd_effect", times=t, doses=dose, sensitivities=names, **TIGHT)
    sens = res.sensitivities(["C", "Ce", "E"])
    base = crsim.Model("pkpd_effect").parameter_values
    for k in names:
        h = 1e-5 * base[k]
        hi = crsim.simulate("pkpd_effect", times=t, doses=dose, parameters={k: base[k] + h}, **TIGHT)
        lo = crsim.simulate("pkpd_effect", times=t, doses=dose, parameters={k: base[k] - h}, **TIGHT)
        for out in ("C", "Ce", "E"):
            fd = (hi[out] - lo[out]) / (2 * h)
            scale = np.abs(hi[out]).max() / base[k]  # output per parameter unit
            np.testing.assert_allclose(sens[out, k], fd, rtol=1e-5, atol=1e-7 * scale,
                                       err_msg=f"d{out}/d{k}")


# --- fit, scan, population ------------------------------------------------------------------------------

def test_fit_recovers_parameters(cache):
    truth = dict(CL=2.0, V1=10.0, ke0=0.7)
    t = np.array([0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 16, 24.0])
    dose = [crsim.Dose("central", 100)]
    sim = crsim.simulate("pkpd_effect", times=t, doses=dose, parameters=truth, **TIGHT)
    data = pd.concat([
        pd.DataFrame({"time_h": t, "observable": "C", "value": sim["C"], "unit": "mg/L"}),
        pd.DataFrame({"time_h": t, "observable": "E", "value": sim["E"], "unit": "1"}),
    ])
    fit = crsim.fit("pkpd_effect", data, estimate=list(truth), doses=dose,
                    start=dict(CL=3.5, V1=6.0, ke0=0.3),
                    error_model=crsim.ErrorModel("proportional", b=0.01, estimate=False))
    for k, v in truth.items():
        assert fit.estimates.loc[k, "estimate"] == pytest.approx(v, rel=1e-3), k


def test_scan_over_clearance(cache):
    sc = crsim.Scenario("pkpd_effect", regimen=["100 mg iv"], horizon_h=72, outputs={"step_h": 0.5})
    table = crsim.scan(sc, {"parameters.CL": [1.0, 2.0, 4.0]})
    auc = table["C.auc"].to_numpy()
    assert np.all(np.diff(auc) < 0)


def test_population_of_fifty(cache):
    sc = crsim.Scenario("pkpd_effect", regimen=["100 mg iv"], horizon_h=24, outputs={"step_h": 0.5})
    pop = crsim.population(sc, 50, {"CL": 0.3, "ke0": {"cv": 0.2}}, seed=3, threads=2)
    assert len(pop) == 50 and "error" not in pop.columns
    assert np.isfinite(pop["E.max"]).all() and pop["CL"].std() > 0
    # patient 7 is exactly the simulation with its sampled parameters
    row = pop.iloc[7]
    one = crsim.simulate(sc.replace(parameters={"CL": row["CL"], "ke0": row["ke0"]}))
    assert one.readouts["E.max"] == pytest.approx(row["E.max"], rel=1e-9)


# --- files, scenarios, CLI -------------------------------------------------------------------------------

def _run(args, cache, cwd):
    env = dict(os.environ, CRSIM_CACHE_DIR=str(cache))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_results_file_round_trip(cache, tmp_path):
    res = crsim.simulate("pkpd_effect", doses=[crsim.Dose("central", 100)], days=1,
                         sensitivities=["CL"])
    path = tmp_path / "user.h5"
    res.save(path)
    back = crsim.load(path)
    assert back.model.name == "pkpd_effect"
    np.testing.assert_array_equal(back["E"], res["E"])
    np.testing.assert_array_equal(back.sensitivities(["C"]).values, res.sensitivities(["C"]).values)
    # a process that has not loaded the model is told what to do
    empty = tmp_path / "empty-cache"
    out = _run(["-c", f"import crsim; crsim.load({str(path)!r})"], empty, tmp_path)
    assert out.returncode != 0
    assert "pkpd_effect" in out.stderr and "from_antimony" in out.stderr


def test_scenario_file_names_the_model_file_and_the_cli_runs_it(cache, tmp_path):
    lib = library(cache, "pkpd_effect")
    mtime = lib.stat().st_mtime_ns
    entries = sorted(p.name for p in cache.iterdir())
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "my.ant").write_text(PKPD)
    (tmp_path / "scen.yaml").write_text(textwrap.dedent("""\
        model: models/my.ant
        regimen: ["100 mg iv over 1h"]
        horizon_h: 24
        outputs: {step_h: 1}
        """))
    n0 = um.compiles
    sc = crsim.Scenario.from_file(tmp_path / "scen.yaml")
    assert sc.model == "pkpd_effect"
    assert um.compiles == n0  # same model text: the cache entry of the string serves the file
    res = crsim.simulate(sc)
    # the CLI in another process (another working directory): loads from the cache, no compile
    out = _run(["-m", "crsim", "run", str(tmp_path / "scen.yaml"), "-o", str(tmp_path / "out.h5")],
               cache, "/")
    assert out.returncode == 0, out.stderr
    back = crsim.load(tmp_path / "out.h5")
    np.testing.assert_allclose(back["C"], res["C"], rtol=1e-12)
    assert lib.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in cache.iterdir()) == entries
    # a bad model file is reported under 'model'
    (tmp_path / "models" / "bad.ant").write_text("model bad()\n  x = 1\n  x' = -k*x +\nend\n")
    (tmp_path / "bad.yaml").write_text("model: models/bad.ant\nhorizon_h: 1\n")
    with pytest.raises(crsim.InputError, match=r"model: .*bad.ant:3: .*valid Antimony"):
        crsim.Scenario.from_file(tmp_path / "bad.yaml")


def test_a_model_file_path_serves_as_a_model_name(cache, tmp_path):
    (tmp_path / "switch.ant").write_text(SWITCH)
    n0 = um.compiles
    assert crsim.Model(str(tmp_path / "switch.ant")).name == "switchy"
    assert crsim.simulate(str(tmp_path / "switch.ant"), times=[0, 1]).model.name == "switchy"
    assert um.compiles == n0
    with pytest.raises(crsim.InputError, match="for from_antimony"):
        crsim.Model.from_sbml(str(tmp_path / "switch.ant"))
    with pytest.raises(crsim.InputError, match="an existing Antimony file"):
        crsim.Model.from_antimony(str(tmp_path / "missing.ant"))


# --- the cache -------------------------------------------------------------------------------------------

def test_second_load_does_not_compile(cache):
    lib = library(cache, "pkpd_effect")
    mtime = lib.stat().st_mtime_ns
    n0 = um.compiles
    m = crsim.Model.from_antimony(PKPD)
    um._memo.clear()  # also without this process's memo: generate, hash, find the library
    m2 = crsim.Model.from_antimony(PKPD)
    assert m == m2 and m.name == "pkpd_effect"
    assert um.compiles == n0
    assert lib.stat().st_mtime_ns == mtime
    assert _core.user_models()["pkpd_effect"] == str(lib)


FAKE_CXX = """\
#!/bin/sh
# a stand-in compiler: --version, else sleep (so that the two processes overlap) and "compile" by
# copying a library built before
if [ "$1" = "--version" ]; then echo "fake-c++ 1.0"; exit 0; fi
while [ $# -gt 0 ]; do [ "$1" = "-o" ] && out="$2"; shift; done
sleep 2
cp "$CRSIM_TEST_LIBRARY" "$out"
"""


def test_two_processes_compiling_the_same_model_compile_once(cache, tmp_path):
    """Two processes load the same new model at once: one compiles, the other waits for it and
    loads the library (the compiler is a stand-in that takes 2 s and copies switchy's library)."""
    fake = tmp_path / "fake-cxx"
    fake.write_text(FAKE_CXX)
    fake.chmod(0o755)
    shared = tmp_path / "shared-cache"
    code = ("import sys, crsim, crsim.model.usermodels as um; "
            "m = crsim.Model.from_antimony(sys.argv[1]); "
            "r = crsim.simulate(m, times=[0, 1]); print(um.compiles, r['x'][-1])")
    env = dict(os.environ, CRSIM_CACHE_DIR=str(shared), CXX=str(fake),
               CRSIM_TEST_LIBRARY=str(library(cache, "switchy")))
    procs = [subprocess.Popen([sys.executable, "-c", code, SWITCH], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert sorted(int(o[0].split()[0]) for o in outs) == [0, 1]
    x1 = crsim.simulate("switchy", times=[0, 1])["x"][-1]
    assert all(float(o[0].split()[1]) == pytest.approx(x1, rel=1e-12) for o in outs)
    dirs = [p.name for p in shared.iterdir() if p.is_dir()]
    assert len(dirs) == 1 and dirs[0].startswith("switchy-")  # no temporary build left


def test_stale_cache_entry_is_refused_and_rebuilt(cache, tmp_path, monkeypatch):
    good = library(cache, "switchy")
    data = good.read_bytes()
    assert data.count(_core.MODEL_ABI.encode()) == 1
    version = crsim.__version__
    stale_abi = _core.MODEL_ABI.replace(f"crsim {version};", "crsim " + "9" * len(version) + ";")
    assert len(stale_abi) == len(_core.MODEL_ABI) and stale_abi != _core.MODEL_ABI
    stale = tmp_path / "stale.so"
    stale.write_bytes(data.replace(_core.MODEL_ABI.encode(), stale_abi.encode()))
    with pytest.raises(crsim.InputError, match="another crsim version") as ex:
        _core.load_model_library(str(stale))
    assert ex.value.field == "model library ABI"
    # the same stale library in the cache: removed and compiled again
    other = tmp_path / "cache2"
    monkeypatch.setenv("CRSIM_CACHE_DIR", str(other))
    monkeypatch.setattr(um, "_memo", {})
    entry = other / good.parent.name
    entry.mkdir(parents=True)
    shutil.copy(stale, entry / "model.so")
    built = []

    def fake_compile(name, files, final, cxx):  # the compiler's work: the good library
        built.append(name)
        tmp = final.parent / (final.name + ".tmp")
        tmp.mkdir()
        shutil.copy(good, tmp / "model.so")
        os.rename(tmp, final)

    monkeypatch.setattr(um, "_compile", fake_compile)
    assert crsim.Model.from_antimony(SWITCH).name == "switchy"
    assert built == ["switchy"]
    assert (entry / "model.so").read_bytes() == data


def test_a_compiler_failure_is_reported_as_a_bug_with_its_log(tmp_path, monkeypatch):
    broken = tmp_path / "broken-cxx"
    broken.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "broken-c++ 1"; exit 0; fi\n'
                      'echo "build.cpp:1:1: error: something the generator got wrong" >&2\nexit 1\n')
    broken.chmod(0o755)
    monkeypatch.setenv("CRSIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(um, "_memo", {})
    monkeypatch.setenv("CXX", str(broken))
    with pytest.raises(um.UserModelCompileError, match=r"bug of crsim's model compiler, not of your "
                       r"model.*compile\.log\n.*something the generator got wrong") as ex:
        crsim.Model.from_antimony(SWITCH)
    assert isinstance(ex.value, RuntimeError)
    assert "something the generator got wrong" in Path(ex.value.log).read_text()
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    with pytest.raises(RuntimeError, match="no C\\+\\+ compiler .*install one"):
        crsim.Model.from_antimony(SWITCH)


# --- errors in model sources ------------------------------------------------------------------------------

def test_antimony_syntax_error_names_the_line():
    text = "model broken()\n  x = 1; k = 2\n  x' = -k*x +\nend\n"
    with pytest.raises(crsim.InputError, match=r"<string>:3: .*valid Antimony") as ex:
        crsim.Model.from_antimony(text)
    assert ex.value.line == 3


def test_sbml_event_names_the_event(tmp_path):
    path = tmp_path / "event.xml"
    path.write_text(_sbml("model withevent()\n  x = 1; k = 0.1\n  x' = -k*x\n"
                          "  E_redose: at (time > 5): x = x + 1\nend\n"))
    with pytest.raises(crsim.InputError, match=r"event E_redose.*no events"):
        crsim.Model.from_sbml(str(path))
    with pytest.raises(crsim.InputError, match=r"event E_redose"):
        crsim.Model.from_sbml(path.read_text())


@pytest.mark.parametrize("body, message", [
    ("  x = 1; y = 0\n  x' = -x\n  0 = x + y - 1\n", r"algebraic rule = x \+ y - 1 .*rate rules only"),
    ("  x = 1\n  x' = -delay(x, 1)\n", r"rule for x = delay\(\.\.\.\) .*no delays"),
])
def test_unsupported_constructs_are_named(body, message):
    with pytest.raises(crsim.InputError, match=message):
        crsim.Model.from_antimony("model unsupported()\n" + body + "end\n")
    with pytest.raises(crsim.InputError, match=message):
        crsim.Model.from_sbml(_sbml("model unsupported()\n" + body + "end\n"))


def test_names_of_builtin_models_are_refused():
    n0 = um.compiles
    with pytest.raises(crsim.InputError, match=r"model name = 'crs' .*built-in"):
        crsim.Model.from_antimony("model crs()\n  x = 1\n  x' = -x\nend\n")
    with pytest.raises(crsim.InputError, match=r"model name = 'pk1' .*built-in"):
        crsim.Model.from_antimony("model mine()\n  x = 1\n  x' = -x\nend\n", name="pk1")
    with pytest.raises(crsim.InputError, match=r"model name .*model my_model\(\)"):
        crsim.Model.from_antimony("x = 1\nx' = -x\n")
    assert um.compiles == n0


# --- the documentation -----------------------------------------------------------------------------------

def test_the_documented_example_runs(cache, tmp_path, monkeypatch):
    """docs/models.md, "Your own models": the model file, the notebook cell, the scenario file and
    the command line, as written there."""
    import matplotlib.pyplot as plt

    blocks = doc_blocks()
    assert set(blocks) == {"antimony", "python", "yaml", "sh"}
    (tmp_path / "my_pkpd.ant").write_text(blocks["antimony"])
    monkeypatch.chdir(tmp_path)
    n0 = um.compiles
    ns = {}
    exec(compile(blocks["python"], "docs/models.md", "exec"), ns)
    assert um.compiles == n0  # compiled by the fixture: the file hits the cache entry of the text
    plt.close("all")
    assert ns["model"].name == "my_pkpd"
    assert len(ns["res"].firings) == 2
    est = ns["fit"].estimates["estimate"]
    assert est["CL"] == pytest.approx(4.0, rel=0.01) and est["IC50"] == pytest.approx(0.8, rel=0.01)
    assert len(ns["pop"]) == 200 and "error" not in ns["pop"].columns
    assert crsim.load("my_pkpd.h5").model.name == "my_pkpd"
    (tmp_path / "redose_study.yaml").write_text(blocks["yaml"])
    command = blocks["sh"].split()
    assert command[:2] == ["crsim", "run"]
    from crsim.cli import main

    assert main(command[1:]) == 0
    plt.close("all")
    back = crsim.load("redose.h5")
    assert back.model.name == "my_pkpd" and list(back.doses["time_h"]) == [0.0, 24.0]
    assert (tmp_path / "redose.png").is_file()
