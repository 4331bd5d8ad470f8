"""The T-cell-engager model from Python (models/tce/tce.ant, docs/tce-model.md): it loads with its
product sets, simulates a label schedule given as dose mappings, conserves the engager's mass, and
docs/tce-model.md's parameter table shows the resolved sets. The mechanistic signatures, PK and
calibration checks are in tests/cpp/test_tce.cpp."""
import math
from pathlib import Path

import numpy as np
import pytest

import crsim
from crsim import _core

ROOT = Path(__file__).resolve().parents[2]
SETS = ("tce_mosunetuzumab_nhl", "tce_blinatumomab_nhl", "tce_teclistamab_mm")


def _mosunetuzumab_cycle1():
    """Lunsumio label, cycle 1: 1 mg D1, 2 mg D8, 60 mg D15, each over 4 h."""
    return [{"target": "tce_central", "amount": a, "unit": "mg", "time_days": d, "duration": 4}
            for a, d in ((1, 0), (2, 7), (60, 14))]


@pytest.mark.parametrize("name", SETS)
def test_sets_load_and_name_their_sources(name):
    m = crsim.Model("tce", parameter_set=name)
    p = m.parameters.set_index("name")
    assert not p["value"].isna().any()
    assert (p["source"].str.len() > 0).all()
    assert any("Hosseini" in s for s in m.sources)


def test_default_set_is_mosunetuzumab():
    assert crsim.Model("tce").parameter_values == crsim.Model("tce", "tce_mosunetuzumab_nhl").parameter_values


def test_label_cycle_simulates_and_depletes_targets():
    t = np.arange(0.0, 21 * 24 + 0.5, 0.5)
    res = crsim.simulate("tce", times=t, doses=_mosunetuzumab_cycle1())
    il6 = res["il6"]
    assert np.isfinite(res.states).all() and (res.states > -1e-6).all()
    first = il6[t < 7 * 24].max()
    assert first > 2 * il6[0]                                    # the first dose releases IL-6
    assert res["b_cell_fraction_blood"][t == 7 * 24][0] < 0.01
    assert il6[(t >= 7 * 24) & (t < 14 * 24)].max() < first     # the 2 mg step finds few targets
    assert res["crs_grade_now"].max() >= 1                       # fever after C1D1


def test_engager_mass_balance():
    """IV bolus of 60 mg: the amount in the body plus CL x AUC equals the dose (linear PK)."""
    t = np.arange(0.0, 28 * 24 + 0.01, 0.05)
    res = crsim.simulate("tce", times=t, doses=[{"target": "tce_central", "amount": 60, "unit": "mg"}])
    p = crsim.Model("tce").parameter_values
    c = res["tce"]                                  # ug/mL = mg/L
    auc = float(np.sum(0.5 * (c[1:] + c[:-1]) * np.diff(t)))
    body = float(res["tce_central"][-1] + res["tce_peripheral"][-1])
    assert body + p["tce_CL"] * auc == pytest.approx(60.0, rel=1e-4)


def _table_rows(text):
    sec = text[text.index("## 5. Parameters"):text.index("## 6.")]
    return [line for line in sec.splitlines() if line.startswith("| `")]


def test_docs_parameter_table_shows_the_resolved_sets():
    """docs/tce-model.md section 5 (written by scripts/tce_parameter_table.py): one row per model
    parameter, in order, with each product set's resolved value, unit and source."""
    titles = ("mosunetuzumab", "blinatumomab", "teclistamab")
    flat = [_core.load_parameter_set(str(ROOT / "data" / "parameters" / f"{s}.json"))["parameters"]
            for s in SETS]  # patient entries included
    model = crsim.Model("tce")
    rows = _table_rows((ROOT / "docs" / "tce-model.md").read_text(encoding="utf-8"))
    assert [r.split(" | ")[0][3:-1] for r in rows] == list(model.parameters["name"])
    for row in rows:
        cells = [c.strip() for c in row.strip("| ").split(" | ")]
        name = cells[0].strip("`")
        entries = [f[name] for f in flat]
        assert cells[1] == entries[0]["unit"], name
        for k, e in enumerate(entries):
            assert math.isclose(float(cells[3 + k]), e["value"], rel_tol=1e-5), (name, SETS[k])
        sources = [e["source"] for e in entries]
        distinct = list(dict.fromkeys(sources))
        want = sources[0] if len(distinct) == 1 else "<br>".join(
            ", ".join(t for t, s in zip(titles, sources) if s == d) + ": " + d for d in distinct)
        assert cells[3 + len(SETS)] == want, name


def test_shipped_scenarios_run():
    """data/scenarios/tce_*.yaml: the mosunetuzumab label schedule with premedication and the
    blinatumomab NHL step-up run; the first dose gives the largest IL-6 release (target depletion)."""
    scen = ROOT / "data" / "scenarios"
    mosun = crsim.simulate(crsim.Scenario.from_file(scen / "tce_mosunetuzumab_label.yaml"))
    t, il6 = mosun.times, mosun["il6"]
    assert il6[t < 7 * 24].max() > il6[(t >= 7 * 24) & (t < 14 * 24)].max()
    assert mosun["dexamethasone_effect_fraction"].max() > 0.5
    blin = crsim.simulate(crsim.Scenario.from_file(scen / "tce_blinatumomab_nhl_step_up.yaml"))
    t, il6 = blin.times, blin["il6"]
    week = [il6[(t >= 168 * k) & (t < 168 * (k + 1))].max() for k in range(3)]
    assert week[0] > week[1] and week[0] > week[2]
    # 9.5 ug/day over the first week: steady state near 9.5/24 ug/h / CL (Hosseini 2020 PK)
    cl = crsim.Model("tce", "tce_blinatumomab_nhl").parameter_values["tce_CL"]
    assert blin["tce_ngml"][t == 6 * 24][0] == pytest.approx(9.5 / 24 / cl, rel=0.02)
