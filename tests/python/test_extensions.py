"""Per-model extensions (issue #11 item 5): a model's readouts, strategies, plot defaults, explorer
controls and drug names live in its extension (crsim/extensions/<model>/), registered through the
entry-point group crsim.models; generic modules never name a model; a model without an extension
(a user's model) gets the empty one and everything still works."""
import ast
import io
import re
import tokenize
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crsim
from crsim.model import extension as _extension
from crsim.model.extension import EMPTY, ModelExtension, extension

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "bindings" / "python" / "crsim"
EXTENSIONS = PKG / "extensions"


def _model_packages():
    return sorted(p.name for p in EXTENSIONS.iterdir() if (p / "__init__.py").is_file())


def _generic_files():
    """Every Python file of the package except the per-model extension subpackages."""
    own = [EXTENSIONS / name for name in _model_packages()]
    return sorted(f for f in PKG.rglob("*.py") if "__pycache__" not in f.parts
                  and not any(d in f.parents for d in own))


def _without_docstrings(text: str) -> str:
    """The source with docstrings blanked (usage examples in docstrings may name any model)."""
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                spans.append((body[0].lineno, body[0].end_lineno))
    for first, last in spans:
        for i in range(first - 1, last):
            lines[i] = "\n"
    return "".join(lines)


def test_the_extension_packages_are_the_registered_ones():
    assert _model_packages() == ["crs", "tce"]
    assert sorted(_extension.extensions()) == ["crs", "tce"]


def test_generic_modules_never_name_a_model():
    """grep: no quoted model name ("crs" / 'crs', or of any model with an extension package) in the
    code of the generic modules (docstrings, which show usage, excepted)."""
    assert len(_generic_files()) > 30
    names = _model_packages()
    pattern = re.compile(r"""(["'])(%s)\1""" % "|".join(map(re.escape, names)))
    hits = []
    for f in _generic_files():
        code = _without_docstrings(f.read_text(encoding="utf-8"))
        for no, line in enumerate(code.splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{f.relative_to(PKG.parent)}:{no}: {line.strip()}")
    assert not hits, "model names in generic modules:\n" + "\n".join(hits)


def test_the_grep_sees_model_names_in_code():
    """The grep finds what it is meant to find (and skips docstrings only)."""
    src = ('"""Docs: crsim.Model("crs")."""\nCRS = ("crs",)\n\n\n'
           'def f(m):\n    """"crs"."""\n    return m == \'crs\'\n')
    code = _without_docstrings(src)
    assert re.findall(r"""(["'])crs\1""", code) == ['"', "'"]


def test_the_entry_point_is_registered_by_the_installed_package():
    """pip install registers crs = crsim.extensions.crs:EXTENSION in the group crsim.models."""
    eps = metadata.entry_points()
    group = eps.select(group="crsim.models") if hasattr(eps, "select") else eps.get("crsim.models", [])
    found = {ep.name: ep.value for ep in group}
    assert found.get("crs") == "crsim.extensions.crs:EXTENSION"
    assert 'crs = "crsim.extensions.crs:EXTENSION"' in (ROOT / "pyproject.toml").read_text()
    from crsim.extensions.crs import EXTENSION

    assert extension("crs") is EXTENSION


def test_an_install_without_the_entry_point_still_finds_the_bundled_extension(monkeypatch):
    """Package files copied over an older install (no crsim.models entry points): the extensions
    shipped in crsim/extensions/ are found by their subpackage."""
    from crsim.extensions.crs import EXTENSION

    monkeypatch.setattr(_extension, "_points", {})
    monkeypatch.setattr(_extension, "_loaded", {})
    assert extension("crs") is EXTENSION
    assert extension("pk1") is EMPTY
    assert list(_extension.extensions()) == ["crs", "tce"]


def test_crs_extension_content():
    ext = extension("crs")
    assert ext.grade_observable == "crs_grade_now"
    assert ext.drug_targets["dexamethasone po"] == "dexamethasone_depot"
    assert ext.variable_aliases["il-6"] == "il6"
    assert list(ext.standard_strategies())[:2] == ["none", "tocilizumab_grade2"]
    # every model's strategies: the CRS model's first (a name two models share is the first's)
    assert list(crsim.strategies()["name"])[:len(ext.standard_strategies())] == list(ext.standard_strategies())
    assert list(crsim.strategies("crs")["name"]) == list(ext.standard_strategies())
    assert crsim.strategy("astct_escalation") is crsim.strategy("astct_escalation", "crs")


def test_models_without_extension_get_the_empty_one():
    for name in ("pk1", "pk2_mm", "no_such_model"):
        assert extension(name) is EMPTY
    assert EMPTY.standard_strategies() == {}
    assert crsim.strategies("pk1").empty
    with pytest.raises(crsim.InputError, match=r"strategy = 'tocilizumab_grade2' is not allowed: a "
                       r"standard strategy of model pk1, one of \{\}"):
        crsim.strategy("tocilizumab_grade2", "pk1")


def test_a_model_without_extension_works_everywhere(tmp_path):
    """pk2_mm has no extension: simulate, readouts, plot, scan, population, fit, scenario checks."""
    import matplotlib

    matplotlib.use("Agg")
    dose = crsim.Dose("central", 8, unit="mg/kg", duration=1, cap=800)
    res = crsim.simulate("pk2_mm", doses=[dose], weight=70, days=7)
    assert "C.max" in res.readouts
    assert res.default_plot_variables == res.observable_names
    res.plot()
    table = crsim.scan("pk2_mm", {"parameters.CL": [0.1, 0.2]})
    assert len(table) == 2 and "policy_firings" in table.columns
    # standard strategies belong to a model: not offered for this one
    sc = crsim.Scenario("pk2_mm", regimen=[dose], patient={"weight_kg": 70}, horizon_days=7)
    with pytest.raises(crsim.InputError, match="standard strategy: model pk2_mm has none"):
        sc.replace(policies=["tocilizumab_grade2"])
    with pytest.raises(crsim.InputError, match="standard strategy of model pk2_mm"):
        crsim.simulate("pk2_mm", doses=[dose], weight=70, days=7, policies=["tocilizumab_grade2"])
    with pytest.raises(crsim.InputError, match="a model with a grade observable \\(crs, tce\\); model "
                       "pk2_mm has none"):
        crsim.scan(sc.replace(policies=[crsim.Policy("p", when="C >= 100", give="1 mg iv")]),
                   {"policy.trigger_grade": [1, 2]})
    from crsim.run.demo import report

    assert any("readouts:" in line for line in report(res))
    assert not any("clinical summary" in line for line in report(res))


def test_a_registered_extension_is_used_by_generic_code():
    """Registering an extension for a model without one changes readouts, plots, aliases, drug
    targets, strategies and the summary, all through the extension."""
    sc_policy = crsim.Policy("rescue", when="conc >= 1 mg/L", give="antidote 5 mg iv", max_doses=1)
    ext = ModelExtension(
        drug_targets={"antidote iv": "central"},
        variable_aliases={"conc": "C"},
        readouts=lambda r: ({"cmax": float(np.max(r["C"]))}, {"cmax": "mg/L"}),
        plot_variables=("C",),
        summary=lambda r: ["a one-line summary"],
        strategies=lambda: [crsim.Strategy("rescue_at_1", "antidote at 1 mg/L", "test", (sc_policy,))],
    )
    _extension.register("pk2_mm", ext)
    try:
        assert extension("pk2_mm") is ext
        res = crsim.simulate("pk2_mm", doses=[crsim.Dose("central", 100)], days=2, policies=["rescue_at_1"])
        assert set(res.readouts) == {"cmax", "policy_firings", "policy_firings_json"}
        assert res.readouts["policy_firings"] == 1
        assert res.default_plot_variables == ["C"]
        assert list(crsim.strategies("pk2_mm")["name"]) == ["rescue_at_1"]
        from crsim.run.demo import report

        assert "    a one-line summary" in report(res)
    finally:
        _extension.register("pk2_mm", None)
    assert extension("pk2_mm") is EMPTY


def test_register_refuses_other_objects():
    with pytest.raises(TypeError, match="ModelExtension"):
        _extension.register("pk1", {"readouts": None})


def test_a_broken_entry_point_says_which(monkeypatch):
    class Broken:
        name, value = "broken_model", "no_such_module:EXTENSION"

        def load(self):
            raise ModuleNotFoundError("No module named 'no_such_module'")

    monkeypatch.setitem(_extension._entry_points(), "broken_model", Broken())
    with pytest.raises(RuntimeError, match=r"extension of model broken_model could not be loaded from "
                       r"entry point broken_model = no_such_module:EXTENSION.*no_such_module"):
        extension("broken_model")
    monkeypatch.delitem(_extension._loaded, "broken_model", raising=False)


def test_crs_readouts_and_summary_come_from_the_extension():
    res = crsim.simulate(crsim.Scenario.from_file(crsim.example("default")))
    assert res.readouts["max_grade"] >= 1
    assert res.default_plot_variables[:2] == ["car_t_blood", "tumor_cells"]
    grade = crsim.crs_grade(res)
    assert isinstance(grade, pd.Series) and grade.max() == res.readouts["max_grade"]
    from crsim.run.demo import report

    text = "\n".join(report(res))
    assert "clinical summary:" in text and "CRS onset day" in text
