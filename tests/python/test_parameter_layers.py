"""Parameter sets in layers (data/parameters/{cells,physiology,drugs}/ extended by the product sets):
each resolved set equals the snapshot taken before the sets were split (tests/reference/
parameter_sets_v1.json) value for value, unit for unit; sources cite publications (the snapshot's
sources still named the research digests, which users do not have); only complete sets are listed;
layers are disjoint."""
import json
from pathlib import Path

import pytest

import crsim
from crsim import _core
from crsim.model.parameter_sets import data_dir

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = json.loads((ROOT / "tests" / "reference" / "parameter_sets_v1.json").read_text())["sets"]
SOURCE_DIR = ROOT / "data" / "parameters"
SETS = sorted(SNAPSHOT)
# Sets added after the snapshot (the T-cell-engager model, docs/tce-model.md); their values are
# checked by tests/cpp/test_tce.cpp.
NEW_SETS = ["tce_blinatumomab_nhl", "tce_mosunetuzumab_nhl", "tce_teclistamab_mm"]
# CD19 CAR-T product sets that extend a calibrated product set (issue 15 item 6; docs/model.md
# "Product sets"); their values are checked by tests/python/test_product_sets.py.
PRODUCT_SETS = {"crs_tisagenlecleucel_lbcl": "crs_tisagenlecleucel_ball",
                "crs_lisocabtagene_lbcl": "crs_tisagenlecleucel_lbcl",
                "crs_brexucabtagene_mcl": "crs_axicabtagene_lbcl"}
NEW_SETS += sorted(PRODUCT_SETS)
# The tocilizumab model's own values with Frey 2010's between-patient variability (issue 15 item 3,
# docs/populations.md); checked by tests/python/test_population_variability.py.
NEW_SETS += ["pk2_mm_tocilizumab"]
ALL_SETS = sorted(SETS + NEW_SETS)
# Layers added to the crs sets after the snapshot (issue 14: methylprednisolone, anakinra,
# emapalumab, and the hyperinflammation arm): their parameters are compared with the layer files
# instead; the drugs' PK with the publications by tests/python/test_crs_drugs.py, the arm's
# behaviour by tests/python/test_crs_hyperinflammation.py.
NEW_LAYERS = ["drugs/methylprednisolone", "drugs/anakinra", "drugs/emapalumab",
              "physiology/hyperinflammation"]
NEW_PARAMETERS = {name: layer for layer in NEW_LAYERS
                  for name in json.loads((SOURCE_DIR / f"{layer}.json").read_text())["parameters"]}
# Parameters added to an existing layer after the snapshot (issue 15: tocilizumab's body-size
# covariates from Frey 2010); compared with the layer file like the new layers' parameters.
NEW_PARAMETERS.update({"toc_CL_wexp": "drugs/tocilizumab", "toc_V_wexp": "drugs/tocilizumab"})
# Values changed on purpose since the snapshot (issue 15, steroids anchored to sources): the crs sets
# give dexamethasone no effect on CAR-T expansion (Stein 2019, Fster 1.0) in their own entries,
# overriding the shared drugs/dexamethasone layer (which the T-cell-engager sets still use); compared
# with the set files instead.
CHANGED_SINCE_SNAPSHOT = {"dex_Imax_cart", "dex_k_apoptosis"}


def _resolved(directory: Path, stem: str) -> dict:
    return _core.load_parameter_set(str(directory / f"{stem}.json"))


@pytest.mark.parametrize("directory", [SOURCE_DIR, None], ids=["source tree", "installed"])
@pytest.mark.parametrize("stem", SETS)
def test_resolved_set_equals_snapshot(stem, directory):
    s = _resolved(directory or data_dir() / "parameters", stem)
    ref = SNAPSHOT[stem]
    assert s["model"] == ref["model"]
    assert s["description"] == ref["description"]
    assert sorted(s["patient"]) == sorted(ref["patient"])
    for section in ("parameters", "regimen"):
        got, want = s[section], ref[section]
        if section == "parameters" and ref["model"] == "crs":
            got = {k: v for k, v in got.items() if k not in NEW_PARAMETERS}
        assert sorted(got) == sorted(want), section
        for name, e in want.items():
            if section == "parameters" and ref["model"] == "crs" and name in CHANGED_SINCE_SNAPSHOT:
                own = json.loads((SOURCE_DIR / f"{stem}.json").read_text())["parameters"][name]
                assert (got[name]["value"], got[name]["unit"]) == (own["value"], own["unit"]), name
                assert got[name]["value"] != e["value"], f"{name}: no longer changed, drop the exception"
                continue
            assert got[name]["value"] == e["value"], f"{section}.{name}"  # exactly
            assert got[name]["unit"] == e["unit"], f"{section}.{name}.unit"
            assert got[name]["note"] == e.get("note", ""), f"{section}.{name}.note"
            assert got[name]["source"].strip(), f"{section}.{name}.source"
    # Sources changed on purpose since the snapshot: they cite publications, not research notes.


@pytest.mark.parametrize("stem", [s for s in SETS if SNAPSHOT[s]["model"] == "crs"])
def test_new_drug_layers_reach_every_crs_set(stem):
    s = _resolved(SOURCE_DIR, stem)
    assert set(NEW_PARAMETERS) <= set(s["parameters"])
    for name, layer in NEW_PARAMETERS.items():
        e = json.loads((SOURCE_DIR / f"{layer}.json").read_text())["parameters"][name]
        got = s["parameters"][name]
        assert (got["value"], got["unit"], got["source"]) == (e["value"], e["unit"], e["source"]), \
            name


DIGEST_WORDS = ("shared/science", "clinical.md", "drugs.md", "models.md", "digest")


@pytest.mark.parametrize("stem", ALL_SETS)
def test_sources_cite_publications_not_the_digests(stem):
    s = _resolved(SOURCE_DIR, stem)
    texts = list(s["sources"]) + [e["source"] for sec in ("parameters", "regimen", "variability")
                                  for e in s[sec].values()] + [c["source"] for c in s["correlations"]]
    assert s["sources"] and all(t.strip() for t in texts)
    for t in texts:
        assert not any(w in t for w in DIGEST_WORDS), t


def test_only_complete_sets_are_listed():
    listed = crsim.parameter_sets()
    assert sorted(listed["name"]) == ALL_SETS
    assert set(listed["model"]) == {"crs", "tce", "pk2_mm"}


def _layer_files():
    return sorted(p for p in SOURCE_DIR.rglob("*.json") if p.parent != SOURCE_DIR)


def test_layers_are_disjoint_and_not_sets():
    files = _layer_files()
    assert {p.parent.name for p in files} >= {"drugs", "physiology"}
    owner = {}
    for f in files:
        d = json.loads(f.read_text())
        assert "model" not in d, f
        for section in ("patient", "parameters", "regimen"):
            for name in d.get(section, {}):
                if name.startswith("_"):
                    continue
                assert name not in owner, f"{name} in {f} and {owner.get(name)}"
                owner[name] = f
        with pytest.raises(ValueError, match="model"):
            _core.load_parameter_set(str(f))
    # Every layer is used by a shipped set, and the sets of one model share all of theirs (a product
    # set that extends another set shares that set's layers and names no layer itself).
    used, by_model = set(), {}
    for stem in ALL_SETS:
        d = json.loads((SOURCE_DIR / f"{stem}.json").read_text())
        while stem in PRODUCT_SETS:
            assert d["extends"] == [PRODUCT_SETS[stem]], stem
            stem = PRODUCT_SETS[stem]
            d = json.loads((SOURCE_DIR / f"{stem}.json").read_text())
        ext = sorted(SOURCE_DIR / f"{e}.json" for e in d.get("extends", []))
        used.update(ext)
        assert by_model.setdefault(d["model"], ext) == ext, stem
    assert sorted(used) == files


def test_layer_errors_reach_python(tmp_path):
    (tmp_path / "l").mkdir()
    (tmp_path / "l" / "a.json").write_text('{"extends": ["l/b"]}')
    (tmp_path / "l" / "b.json").write_text('{"extends": ["l/a"]}')
    (tmp_path / "cyc.json").write_text('{"model": "crs", "extends": ["l/a"]}')
    with pytest.raises(crsim.InputError, match=r"b\.json: extends\[0\].*cycle"):
        _core.load_parameter_set(str(tmp_path / "cyc.json"))
    (tmp_path / "miss.json").write_text('{"model": "crs", "extends": ["drugs/nope"]}')
    with pytest.raises(crsim.InputError, match=r"miss\.json: extends\[0\].*'drugs/nope'"):
        _core.load_parameter_set(str(tmp_path / "miss.json"))


def test_a_user_set_extends_a_shipped_product_set(tmp_path):
    base = SOURCE_DIR / "crs_axicabtagene_lbcl.json"
    (tmp_path / "heavy.json").write_text(json.dumps({
        "description": "LBCL patient of 120 kg",
        "extends": [str(base.with_suffix(""))],
        "patient": {"body_weight": {"value": 120.0, "unit": "kg", "source": "modelling choice: a heavy adult"}},
    }))
    m = crsim.Model("crs", parameter_set=str(tmp_path / "heavy.json"))
    p = m.parameters.set_index("name")
    assert p.loc["body_weight", "value"] == 120.0
    assert p.loc["toc_CL", "value"] == SNAPSHOT["crs_axicabtagene_lbcl"]["parameters"]["toc_CL"]["value"]
    assert p.loc["rho", "value"] == SNAPSHOT["crs_axicabtagene_lbcl"]["parameters"]["rho"]["value"]


def test_docs_parameter_table_shows_the_resolved_sources():
    """docs/model.md sec. 10 is generated from the sets: each row's source column equals the resolved
    source (one text when both sets agree, else "B-ALL: ...<br>LBCL: ...")."""
    a, b = (_resolved(SOURCE_DIR, stem)["parameters"]
            for stem in ("crs_tisagenlecleucel_ball", "crs_axicabtagene_lbcl"))
    text = (ROOT / "docs" / "model.md").read_text()
    rows = [line for line in text[text.index("## 10. Parameters"):].splitlines() if line.startswith("| `")]
    assert {r.split(" | ")[0][3:-1] for r in rows} == set(a)
    for row in rows:
        cells = row.split(" | ")
        name, shown = cells[0][3:-1], cells[-1].rstrip(" |")
        sa, sb = a[name]["source"], b[name]["source"]
        assert shown == (sa if sa == sb else f"B-ALL: {sa}<br>LBCL: {sb}"), name


def test_a_layer_beside_the_sets_is_not_listed(tmp_path, monkeypatch):
    import shutil
    shutil.copytree(SOURCE_DIR, tmp_path / "parameters")
    (tmp_path / "parameters" / "shared_extra.json").write_text('{"parameters": {}}')
    monkeypatch.setenv("CRSIM_DATA_DIR", str(tmp_path))
    assert sorted(crsim.parameter_sets()["name"]) == ALL_SETS
