"""SBML export and conformance with libRoadRunner (issue #10 item 8).

* every built-in model exported by ``crsim.to_sbml`` is valid SBML (libSBML's consistency checks,
  units included: no errors, and no unit warnings other than "cannot be fully checked");
* export -> import (crsim.modelgen.load_sbml) -> C++ gives the same generated code as the Antimony
  source, and compiled (``crsim.Model.from_sbml``) simulates like the built-in model to 1e-9;
* the exported models simulated by libRoadRunner (CVODE, rtol 1e-12, atol 1e-14) agree with crsim
  to 1e-6 relative: each PK model after two bolus doses (the first as the initial amount, the
  second set between two simulate() calls), the CRS model's default course and a tocilizumab-treated
  course (the infusion as a rate parameter added to roadrunner's copy of the model);
* SBML written by other tools (tests/data/sbml, README there) is read by crsim's model compiler as
  libRoadRunner reads it: initial values and right-hand sides evaluated in Python from the IR
  (tests/python/sbml_eval.py) against roadrunner's rates, and full simulations of the compiled
  models.

The compiled models (about 10 s each on one core, the CRS model longer) are built once for the
module in parallel, into a temporary cache.
"""
import os
import re
import shlex
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import libsbml
import numpy as np
import pytest
import roadrunner

import crsim
from crsim import cli, modelgen
from crsim.model import usermodels as _usermodels
from crsim.modelgen import cpp, sbml

from sbml_eval import Evaluator, initial_state

ROOT = Path(__file__).resolve().parents[2]
FOREIGN = sorted((ROOT / "tests" / "data" / "sbml").glob("*.xml"))
PK = ["pk1", "pk1_oral", "pk2", "pk2_mm", "pk2_oral", "robertson"]
BUILTIN = PK + ["crs", "tce"]
DOSED = {"pk1": "central", "pk1_oral": "depot", "pk2": "central", "pk2_mm": "central",
         "pk2_oral": "depot", "robertson": None}
# unit-check warnings that say "cannot be fully checked" (a literal number without units, or a
# quantity whose units are undeclared), as opposed to units found inconsistent
UNDECLARED_UNITS = {99505, 99508, 20702, 80701}
# rosenbrock4: the 1e-6 bound on the smallest values (floor 1e-6 of a variable's peak) is about atol;
# rosenbrock4 stays 5x below it, dopri5 (and so the default "auto" in Robertson's transient) reaches
# 2.5e-12 there
TIGHT = dict(rtol=1e-10, atol=1e-12, max_steps=5_000_000, method="rosenbrock4")
CRS_SET = "crs_tisagenlecleucel_ball"
CRS_COMPARED = ["car_t_blood", "car_t_total", "il6", "ifng", "crp", "ferritin", "temperature",
                "map", "tocilizumab"]


def source_path(model):
    return next(p for p in (ROOT / "models").glob(f"*/{model}.ant") if p.parent.name != "blocks")


def ir_of(text_or_path):
    doc, meta = modelgen.load(str(text_or_path))
    return modelgen.build(doc, meta)


def runner(sbml):
    rr = roadrunner.RoadRunner(sbml)
    rr.integrator.relative_tolerance = 1e-12
    rr.integrator.absolute_tolerance = 1e-14
    rr.integrator.maximum_num_steps = 1_000_000
    return rr


def rel_diff(x, y):
    """Largest |x - y| relative to |y|, values below 1e-6 of the trajectory's largest compared on
    that scale, and below 1e-12 on 1e-12 (a drug that is never given is exactly 0 in crsim and
    round-off, 1e-23, in roadrunner)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    floor = max(1e-6 * np.max(np.abs(y)), 1e-12)
    return float(np.max(np.abs(x - y) / np.maximum(np.abs(y), floor)))


def report(title, diffs):
    print(f"\n{title}: max relative difference " +
          ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))


# --- compiled models, once for the module ------------------------------------------------------------

def _foreign_name(path):
    return "sbml_" + path.stem


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """The exported CRS and pk2_mm models (the latter under the name docs/models.md gives it)
    and the foreign files compiled as user models."""
    d = tmp_path_factory.mktemp("crsim-cache")
    old = os.environ.get("CRSIM_CACHE_DIR")
    os.environ["CRSIM_CACHE_DIR"] = str(d)
    jobs = [(crsim.to_sbml("crs"), "crs_from_sbml"), (crsim.to_sbml("pk2_mm"), "pk2_mm_sbml")]
    jobs += [(str(p), _foreign_name(p)) for p in FOREIGN]
    try:
        with ThreadPoolExecutor(2) as pool:
            names = list(pool.map(lambda job: crsim.Model.from_sbml(job[0], name=job[1]).name, jobs))
        yield names
    finally:
        if old is None:
            os.environ.pop("CRSIM_CACHE_DIR", None)
        else:
            os.environ["CRSIM_CACHE_DIR"] = old


# --- the exported file -----------------------------------------------------------------------------

@pytest.mark.parametrize("model", BUILTIN)
def test_export_is_consistent_sbml_with_units(model):
    text = crsim.to_sbml(model)
    doc = libsbml.readSBMLFromString(text)
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, True)
    n = doc.checkConsistency()
    issues = [doc.getError(i) for i in range(n)]
    errors = [e.getMessage() for e in issues if e.getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    assert errors == []
    warnings = sorted({e.getErrorId() for e in issues})
    print(f"\n{model}: {n} warnings, ids {warnings}")
    assert set(warnings) <= UNDECLARED_UNITS, [e.getMessage() for e in issues
                                               if e.getErrorId() not in UNDECLARED_UNITS]
    if model in ("pk1", "pk1_oral", "pk2", "pk2_oral", "pk2_mm"):
        assert n == 0  # every quantity has its unit, declared or derived
    m = doc.getModel()
    assert m.getTimeUnits() == "h"
    hour = libsbml.UnitDefinition.convertToSI(m.getUnitDefinition("h"))
    assert hour.getNumUnits() == 1 and hour.getUnit(0).isSecond()
    assert hour.getUnit(0).getMultiplier() * 10 ** hour.getUnit(0).getScale() == pytest.approx(3600)


def test_export_carries_values_units_names_and_metadata():
    text = crsim.to_sbml("crs", parameter_set="crs_axicabtagene_lbcl")
    m = libsbml.readSBMLFromString(text).getModel()
    model = crsim.Model("crs", "crs_axicabtagene_lbcl")
    assert m.getParameter("rho").getValue() == model.parameter_values["rho"]
    assert m.getParameter("rho").getUnits() == "per_h"
    assert m.getParameter("tocilizumab_central").getName() == "tocilizumab in the central compartment"
    assert m.getRateRule("il6") is not None and m.getAssignmentRule("obs_il6") is not None
    assert m.getInitialAssignment("il6") is not None  # x(0) = il6_base, an expression
    assert m.getNumReactions() == 0 and m.getNumSpecies() == 0 and m.getNumEvents() == 0
    assert "crs_grade_now" not in text  # a derived output of the C++ extension, not ODE content
    assert "crs_axicabtagene_lbcl" in text  # the parameter set named among the model's sources
    meta = m.getParameter("rho").getAnnotation().getChild(0)
    assert meta.getURI() == modelgen.source.META_NS
    assert meta.getAttrValue("lower") == "0.0" and meta.getAttrValue("upper") == "0.1"
    assert "source" in [meta.getAttrName(i) for i in range(meta.getAttributesLength())]


@pytest.mark.parametrize("model", BUILTIN)
def test_export_round_trips_to_the_same_generated_code(model):
    """export -> import -> ModelIR -> C++: the same initial values, right-hand side, observables
    and Jacobian pattern as the Antimony source; for the PK models (values in the source) also the
    same names, units, bounds, sources and dose units (ModelInfo)."""
    original = ir_of(source_path(model))
    back = ir_of(crsim.to_sbml(model))
    kw = dict(origin=f"models/{model}.ant", source_text="")
    assert cpp.emit_header(back, **kw) == cpp.emit_header(original, **kw)
    if model in PK:
        kw = dict(header="h.hpp", factory="make")
        assert cpp.emit_source(back, **kw) == cpp.emit_source(original, **kw)
    else:  # the parameter set's values and sources travel; everything else as in the source
        m = crsim.Model(model)
        assert back.sources == m.sources + [
            f"parameter values: crsim parameter set '{m.parameter_set}'"]
        table = m.parameters.set_index("name")
        assert [p.name for p in back.parameters] == [p.name for p in original.parameters]
        for p, q in zip(back.parameters, original.parameters):
            assert (p.unit, p.lower, p.upper, p.description) == (q.unit, q.lower, q.upper,
                                                                  q.description)
            assert p.value == pytest.approx(table.loc[p.name, "value"], rel=1e-14)
            assert p.source == table.loc[p.name, "source"]
        assert [(s.name, s.unit, s.dose_unit) for s in back.states] == [
            (s.name, s.unit, s.dose_unit) for s in original.states]
        assert [(o.name, o.unit) for o in back.observables] == [
            (o.name, o.unit) for o in original.observables]


def test_a_parameter_without_a_value_is_named():
    ir = ir_of(source_path("crs"))  # values live in parameter sets: NaN in the source
    with pytest.raises(modelgen.ModelSourceError, match="parameter body_weight"):
        sbml.export(ir)
    with pytest.raises(modelgen.ModelSourceError, match="parameter = 'nope'"):
        sbml.export(ir_of(source_path("pk1")), {"nope": 1.0})
    with pytest.raises(crsim.InputError, match="model"):
        crsim.to_sbml("no_such_model")


def test_to_sbml_writes_the_file(tmp_path):
    path = tmp_path / "pk2_mm.xml"
    text = crsim.to_sbml(crsim.Model("pk2_mm"), path=path)
    assert path.read_text(encoding="utf-8") == text
    assert [p.name for p in tmp_path.iterdir()] == ["pk2_mm.xml"]  # no temporary file left
    with pytest.raises(crsim.InputError, match="existing directory"):
        crsim.to_sbml("pk1", path=tmp_path / "missing" / "pk1.xml")


def test_cli_export(tmp_path, capsys):
    out = tmp_path / "crs.xml"
    assert cli.main(["export", "crs", "--parameter-set", "crs_axicabtagene_lbcl", "-o",
                     str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == crsim.to_sbml("crs", "crs_axicabtagene_lbcl")
    for argv, message in [(["export", "nope", "-o", str(tmp_path / "x.xml")], "model"),
                          (["export", "pk1", "-o", str(tmp_path / "no" / "x.xml")], "directory"),
                          (["export", "pk1", "-o", str(tmp_path / "x.h5")], ".xml"),
                          (["export", "crs", "--parameter-set", "nope", "-o",
                            str(tmp_path / "x.xml")], "nope")]:
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("crsim: error:") and message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crs.xml"]


# --- libRoadRunner: the PK library and the CRS model ---------------------------------------------------

@pytest.mark.parametrize("model", PK)
def test_pk_model_agrees_with_roadrunner(model):
    m = crsim.Model(model)
    rr = runner(crsim.to_sbml(model))
    target = DOSED[model]
    names = m.state_names + m.observable_names
    if target is None:  # Robertson: no doses, 1e5 h on a log grid
        times = np.concatenate([[0.0], np.logspace(-5, 5, 81)])
        ref = rr.simulate(times=times, selections=["time"] + names)
        res = crsim.simulate(model, times=times, **TIGHT)
    else:  # 100 mg at 0 h (the initial amount), 50 mg at 24 h (set between two simulate calls)
        times = np.arange(0.0, 72.5, 0.5)
        rr.reset()
        rr[target] = 100.0
        first = rr.simulate(times=times[times <= 24], selections=["time"] + names)
        rr[target] = rr[target] + 50.0
        rest = rr.simulate(times=times[times >= 24], selections=["time"] + names)
        ref = np.vstack([first[:-1], rest])  # outputs at 24 h after the dose, as crsim's
        res = crsim.simulate(model, times=times, doses=[crsim.Dose(target, 100),
                                                        crsim.Dose(target, 50, time=24)], **TIGHT)
    assert np.allclose(ref[:, 0], times)
    diffs = {n: rel_diff(res[n], ref[:, k]) for k, n in enumerate(names, start=1)}
    report(model, diffs)
    assert max(diffs.values()) < 1e-6, diffs


def _crs_variables():
    """(label, SBML id) of every observable ('il6') and state ('state il6') of the exported CRS
    model: observables and states may share a name, SBML ids may not."""
    ir = ir_of(crsim.to_sbml("crs"))
    return ([(o.name, o.id) for o in ir.observables]
            + [("state " + s.name, s.id) for s in ir.states])


def _values(res, label):
    if label.startswith("state "):
        return res.states[:, res.state_names.index(label[6:])]
    return res.observables[:, res.observable_names.index(label)]


def _crs_in_roadrunner(tocilizumab_mg_per_h=None):
    """The CRS course in libRoadRunner: the CAR-T dose (3e6 cells/kg, the parameter set's 35 kg
    patient) as the initial effector count; tocilizumab 8 mg/kg over 1 h at 72 h as a zero-order
    rate added to tocilizumab_central's rate rule in roadrunner's copy of the model (a parameter
    toc_infusion, 0 outside [72, 73] h), simulated in three segments."""
    doc = libsbml.readSBMLFromString(crsim.to_sbml("crs"))
    model = doc.getModel()
    p = model.createParameter()
    p.setId("toc_infusion")
    p.setConstant(False)
    p.setValue(0.0)
    p.setUnits("mg_per_h")
    rule = model.getRateRule("tocilizumab_central")
    rule.setMath(libsbml.parseL3Formula(f"({libsbml.formulaToL3String(rule.getMath())}) + "
                                        "toc_infusion"))
    rr = runner(libsbml.writeSBMLToString(doc))
    variables = _crs_variables()
    sel = ["time"] + [sid for _, sid in variables]
    rr.reset()
    weight = crsim.Model("crs").patient["body_weight"]
    rr["car_t_effector"] = 3e6 * weight
    if tocilizumab_mg_per_h is None:
        out = rr.simulate(0, 672, 673, selections=sel)
    else:
        a = rr.simulate(0, 72, 73, selections=sel)
        rr["toc_infusion"] = tocilizumab_mg_per_h
        b = rr.simulate(72, 73, 2, selections=sel)
        rr["toc_infusion"] = 0.0
        c = rr.simulate(73, 672, 600, selections=sel)
        out = np.vstack([a, b[1:], c[1:]])
    assert np.allclose(out[:, 0], np.arange(673.0))
    return {label: out[:, k] for k, (label, _) in enumerate(variables, start=1)}


@pytest.mark.parametrize("treated", [False, True], ids=["default", "tocilizumab"])
def test_crs_course_agrees_with_roadrunner(treated):
    regimen = ["tisagenlecleucel 3e6 cells/kg iv"]
    if treated:
        regimen.append("tocilizumab 8 mg/kg iv over 1h max 800mg day 3")
    sc = crsim.Scenario("crs", parameter_set=CRS_SET, regimen=regimen, horizon_days=28,
                        outputs={"step_h": 1}, solver=TIGHT)
    res = crsim.simulate(sc)
    weight = crsim.Model("crs").patient["body_weight"]
    assert res["car_t_effector"][0] == pytest.approx(3e6 * weight, rel=1e-15)
    ref = _crs_in_roadrunner(8 * weight if treated else None)
    diffs = {label: rel_diff(_values(res, label), y) for label, y in ref.items()}
    report("crs " + ("tocilizumab" if treated else "default"),
           {n: diffs[n] for n in CRS_COMPARED})
    worst = max(diffs, key=diffs.get)
    print(f"all {len(diffs)} states and observables: worst {worst} {diffs[worst]:.1e}")
    assert max(diffs[n] for n in CRS_COMPARED) < 1e-6
    assert diffs[worst] < 1e-6, worst
    if treated:
        assert np.max(res["tocilizumab"]) > 50  # the infusion happened (ug/mL)


# --- round trip through the compiler --------------------------------------------------------------------

def test_round_trip_simulates_like_the_builtin_model(compiled):
    times = np.arange(0.0, 673.0, 2.0)
    doses = [crsim.Dose("car_t_effector", 3e6, unit="cells/kg"),
             crsim.Dose("tocilizumab_central", 8, unit="mg/kg", duration=1, cap=800, time=72)]
    weight = crsim.Model("crs").patient["body_weight"]
    a = crsim.simulate("crs", times=times, doses=doses, weight=weight, **TIGHT)
    b = crsim.simulate("crs_from_sbml", times=times, doses=doses, weight=weight, **TIGHT)
    m = crsim.Model("crs_from_sbml")
    assert m.state_names == a.model.state_names
    assert m.observable_names == a.model.observable_names[:len(m.observable_names)]
    labels = m.observable_names + ["state " + n for n in m.state_names]
    diffs = {label: rel_diff(_values(b, label), _values(a, label)) for label in labels}
    report("crs round trip", {n: diffs[n] for n in CRS_COMPARED})
    assert max(diffs.values()) < 1e-9, max(diffs, key=diffs.get)
    pk_doses = [crsim.Dose("central", 8, unit="mg/kg", duration=1, cap=800)]
    a = crsim.simulate("pk2_mm", doses=pk_doses, weight=70, days=56, **TIGHT)
    b = crsim.simulate("pk2_mm_sbml", doses=pk_doses, weight=70, days=56, **TIGHT)
    assert max(rel_diff(b[n], a[n]) for n in a.model.state_names + ["C"]) < 1e-9


# --- SBML written by other tools ------------------------------------------------------------------------

def _foreign(path):
    ir = ir_of(path)
    return ir, ir.doc.getModel()


def _rr_key(model, sid, rate=False):
    """roadrunner's selection of state ``sid`` as crsim's IR has it: a species' concentration
    unless it has only substance units (then its amount); its rate as an amount rate."""
    sp = model.getSpecies(sid)
    conc = sp is not None and not sp.getHasOnlySubstanceUnits()
    if rate:
        return f"{sid}'"
    return f"[{sid}]" if conc else sid


@pytest.mark.parametrize("path", FOREIGN, ids=[p.stem for p in FOREIGN])
def test_foreign_sbml_initial_values_and_rates_match_roadrunner(path):
    ir, model = _foreign(path)
    rr = runner(str(path))
    x0 = initial_state(ir)
    for s in ir.states:
        assert x0[s.id] == pytest.approx(rr[_rr_key(model, s.id)], rel=1e-14, abs=1e-300), s.id
    rng = np.random.default_rng(7)
    worst = 0.0
    for _ in range(4):
        x = {k: (v if v != 0 else 1.0) * rng.uniform(0.5, 1.5) for k, v in x0.items()}
        rr.reset()
        for s in ir.states:
            rr[_rr_key(model, s.id)] = x[s.id]
        ev = Evaluator(ir, 0.0, x)
        mine, theirs = [], []
        for s in ir.states:
            sp = model.getSpecies(s.id)
            if sp is not None and sp.getBoundaryCondition():  # no rate: constant in both
                assert s.rate is None
                continue
            # species in concentration: d(amount)/dt = compartment size x d(concentration)/dt
            size = (ev.name(sp.getCompartment()) if sp is not None
                    and not sp.getHasOnlySubstanceUnits() else 1.0)
            mine.append(ev.eval(s.rate) * size)
            theirs.append(rr[_rr_key(model, s.id, rate=True)])
        mine, theirs = np.array(mine), np.array(theirs)
        scale = max(np.max(np.abs(theirs)), 1e-300)
        worst = max(worst, float(np.max(np.abs(mine - theirs) / np.maximum(np.abs(theirs),
                                                                             1e-12 * scale))))
    print(f"\n{path.stem}: {len(ir.states)} states, rates max relative difference {worst:.1e}")
    assert worst < 1e-12


def _antimony_sbml(text):
    import antimony

    with _usermodels._lock:  # libAntimony keeps global state
        antimony.clearPreviousLoads()
        assert antimony.loadAntimonyString(text) >= 0, antimony.getLastError()
        return antimony.getSBMLString(antimony.getMainModuleName())


def test_reaction_ids_in_formulas_and_constant_compartments():
    """A reaction's id in a formula is its rate; a compartment marked constant="false" that
    nothing changes, or sized by an assignment rule of parameters, is constant; one whose size
    changes in time is refused, naming it."""
    sbml = _antimony_sbml("""model flux()
  compartment cell; var cell; cell := 2*k0
  species A in cell, B in cell; A = 3; B = 0
  J1: A -> B; k*A*cell
  flux_J1 := J1/cell
  k = 0.4; k0 = 1.5
end""")
    ir = ir_of(sbml)
    rr = runner(sbml)
    ev = Evaluator(ir, 0.0, initial_state(ir))
    assert ev.name("flux_J1") == pytest.approx(rr["flux_J1"], rel=1e-15)
    assert ev.eval(ir.states[0].rate) * ev.name("cell") == pytest.approx(rr["A'"], rel=1e-15)
    for body, where in [("cell' = 0.1", "compartment cell"),
                        ("cell := 1 + x; x = 0; x' = 1", "compartment cell")]:
        bad = _antimony_sbml(f"model grows()\n  compartment cell = 1; var cell; {body}\n"
                             "  species A in cell; A = 1\n  J: A -> ; A\nend")
        with pytest.raises(modelgen.ModelSourceError, match=f"{where} = non-constant"):
            ir_of(bad)


def _start(ir, model):
    """Initial state of a simulation: the model's own, with zero entries set to 1 so that every
    model moves (the Koenig models start empty)."""
    x0 = initial_state(ir)
    return {k: (v if v != 0 or (model.getSpecies(k) is not None
                                and model.getSpecies(k).getBoundaryCondition()) else 1.0)
            for k, v in x0.items()}


@pytest.mark.parametrize("path", FOREIGN, ids=[p.stem for p in FOREIGN])
def test_foreign_sbml_simulation_matches_roadrunner(path, compiled):
    ir, model = _foreign(path)
    start = _start(ir, model)
    times = np.linspace(0.0, 200.0, 101)
    name = _foreign_name(path)
    states = [s.id for s in ir.states]
    res = crsim.simulate(name, times=times, initial=start, **TIGHT)
    rr = runner(str(path))
    rr.reset()
    for sid in states:
        rr[_rr_key(model, sid)] = start[sid]
    ref = rr.simulate(times=times, selections=["time"] + [_rr_key(model, sid) for sid in states])
    diffs = {sid: rel_diff(res[sid], ref[:, k]) for k, sid in enumerate(states, start=1)}
    report(path.stem, diffs)
    assert max(diffs.values()) < 1e-6, diffs


def test_a_user_model_exports_as_roadrunner_reads_its_source(compiled):
    """A model with reactions and species in concentrations (Koenig's demo, compartments of 1e-6
    m3) exported by crsim (species become rate rules in concentration) simulates in roadrunner as
    the original file does."""
    path = ROOT / "tests" / "data" / "sbml" / "koenig_demo_v15.xml"
    ir, model = _foreign(path)
    start = _start(ir, model)
    times = np.linspace(0.0, 200.0, 51)
    states = [s.id for s in ir.states]
    original, exported = runner(str(path)), runner(crsim.to_sbml(_foreign_name(path)))
    for rr, conc in ((original, True), (exported, False)):
        rr.reset()
        for sid in states:
            rr[f"[{sid}]" if conc else sid] = start[sid]
    a = original.simulate(times=times, selections=["time"] + [f"[{s}]" for s in states])
    b = exported.simulate(times=times, selections=["time"] + states)
    assert max(rel_diff(b[:, k], a[:, k]) for k in range(1, len(states) + 1)) < 1e-8


# --- docs/models.md, "Exporting to SBML" -----------------------------------------------------------------

def doc_blocks():
    doc = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    section = doc.split("## Exporting to SBML", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"```(\w+)\n(.*?)```", section, re.S))


def test_the_documented_example_runs(compiled, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = doc_blocks()
    n0 = _usermodels.compiles
    exec(compile(blocks["python"], "docs/models.md", "exec"), {})
    assert "peak IL-6" in capsys.readouterr().out
    assert _usermodels.compiles == n0  # the fixture compiled the same model: a cache hit
    assert crsim.Model("pk2_mm_sbml").parameter_values == crsim.Model("pk2_mm").parameter_values
    for line in blocks["sh"].strip().splitlines():
        argv = shlex.split(line)
        assert argv[0] == "crsim" and cli.main(argv[1:]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crs.xml", "crs_axicel.xml",
                                                          "pk2_mm.xml"]
