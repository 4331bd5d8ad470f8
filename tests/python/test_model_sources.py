"""The built-in models exist only as their sources (models/<group>/<name>.ant) and the code generated
from them: the committed C++ must be exactly what the generator makes of the sources, and the
sources must carry what crsim needs (units, descriptions, bounds, sources)."""
import subprocess
import sys
from pathlib import Path

import pytest

import crsim
from crsim import modelgen

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_is_current():
    """Regenerating the built-in models from their sources gives the committed files byte for byte."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_models.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("name", crsim._core.builtin_models())
def test_every_element_has_unit_and_description(name):
    m = crsim.Model(name)
    for table in (m.states, m.parameters, m.observables):
        assert (table["unit"].str.len() > 0).all(), table[table["unit"].str.len() == 0]
        assert (table["description"].str.len() > 0).all(), table[table["description"].str.len() == 0]
    assert (m.parameters["source"].str.len() > 0).all()


def test_sources_are_installed_with_the_package():
    src = Path(crsim.__file__).parent / "data" / "models"
    names = {p.stem for p in src.glob("*/*.ant") if p.parent.name != "blocks"}
    assert names == set(crsim._core.builtin_models())


def test_metadata_errors_name_the_line():
    text = "model m()\n  x = 1\n  x' = -k*x\n  k = 2\n  //@ k bounds=[3, 1]\nend\n"
    with pytest.raises(modelgen.ModelSourceError, match=r":5: k.bounds = '\[3, 1\]'") as err:
        modelgen.generate(text)
    assert err.value.line == 5


def test_antimony_syntax_error_names_the_line():
    with pytest.raises(modelgen.ModelSourceError) as err:
        modelgen.generate("model m()\n  x = 1\n  x' = -k*\nend\n")
    assert err.value.line == 3


def test_metadata_for_an_unknown_element_is_refused():
    with pytest.raises(modelgen.ModelSourceError, match="kk"):
        modelgen.generate("model m()\n  x = 1\n  x' = -k*x\n  k = 2\n  //@ kk bounds=[0, 1]\nend\n")


def test_intermediates_are_typed_by_what_they_depend_on():
    ir = modelgen.generate("model m()\n  x = 1\n  a := 2*k\n  b := a*x\n  x' = -b\n  k = 2\nend\n")
    assert ir.intermediates["a"].klass == 1   # parameters only
    assert ir.intermediates["b"].klass == 2   # state
    assert ir.jacobian_pattern() == [(0, 0)]


def _section(text, start, end):
    return text[text.index(start):text.index(end)]


def test_model_md_tables_agree_with_the_source():
    """docs/model.md's state table (sec. 1) and parameter table (sec. 10) name every state and
    parameter of the CRS model in the source's order, with the source's units."""
    import re
    text = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    m = crsim.Model("crs")
    states = re.findall(r"^\| \d+ \| `([a-z0-9_]+)`[^|]*\| ([^|]+) \|", _section(text, "## 1. States", "## 2."), re.M)
    assert [s for s, _ in states] == list(m.states["name"])
    assert [u.strip() for _, u in states] == list(m.states["unit"])
    params = re.findall(r"^\| `([A-Za-z0-9_]+)` \| ([^|]+) \|", _section(text, "## 10. Parameters", "\n## ")
                        if "\n## " in text[text.index("## 10. Parameters"):] else text[text.index("## 10. Parameters"):], re.M)
    assert [p for p, _ in params] == list(m.parameters["name"])
    assert [u.strip() for _, u in params] == list(m.parameters["unit"])


def test_pk_models_md_lists_the_source_names():
    import re
    text = (ROOT / "docs" / "pk-models.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \| ([^|]+) \|", text, re.M)
    assert {r[0] for r in rows} == {n for n in crsim._core.builtin_models() if n not in ("crs", "tce")}
    for name, _, params in rows:
        assert [p.strip() for p in params.split(",")] == list(crsim.Model(name).parameters["name"]), name
