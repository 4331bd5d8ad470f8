"""The import contract of the Python package: a stack of layers, imports only run down it.

    crsim._core, crsim.modelgen          the engine (C++) and the model compiler
    crsim.base                           errors, conversions, units, problem lists, progress
    crsim.spec                           doses, text regimens, policy conditions, strategies: data + syntax
    crsim.model                          Model, parameter sets, user models, extensions, SBML, drug targets
    crsim.scenario                       Scenario (checked against its model), NONMEM tables, resolution
    crsim.results                        Result, readouts, HDF5 files, plots of a result
    crsim.run                            simulate, scan, population, the demo
    crsim.fitting | crsim.viz            fitting; the explorer (siblings: neither imports the other)
    crsim.cli                            the command line
    crsim.extensions.*                   per-model extensions (plug-ins: found through entry points)
    crsim (the package's __init__), crsim.__main__

The test parses every module (no import is executed) and fails on an import that runs up the stack,
an import between siblings, a cycle between modules, or a crsim import inside a function (allowed
only for ``crsim.modelgen``, which needs the optional compiler dependencies antimony and libsbml).
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set, Tuple

#: The package's source in this checkout (what CI checks), not an installed copy.
PACKAGE = Path(__file__).resolve().parents[2] / "bindings" / "python" / "crsim"
LAYERS = {
    "crsim._core": 0, "crsim.modelgen": 0,
    "crsim.base": 1, "crsim.spec": 2, "crsim.model": 3, "crsim.scenario": 4, "crsim.results": 5,
    "crsim.run": 6, "crsim.fitting": 7, "crsim.viz": 7, "crsim.cli": 8, "crsim.extensions": 9,
    "crsim.__main__": 10, "crsim": 10,
}
#: crsim modules that may be imported inside a function (optional dependencies behind them).
LAZY_ALLOWED = ("crsim.modelgen",)


def _layer(module: str) -> Tuple[str, int]:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return key, LAYERS[key]
    raise AssertionError(f"module {module} is in no layer of the import contract")


def _modules() -> Dict[str, Path]:
    out = {}
    for p in PACKAGE.rglob("*.py"):
        rel = p.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _targets(module: str, is_pkg: bool, node: ast.ImportFrom, known: Set[str]) -> List[str]:
    """The crsim modules an ``import from`` statement reads: ``from M import a`` reads M.a when that
    is a module, else M."""
    if node.level == 0:
        base = node.module or ""
    else:
        pkg = module.split(".") if is_pkg else module.split(".")[:-1]
        pkg = pkg[: len(pkg) - (node.level - 1)]
        base = ".".join(pkg + ([node.module] if node.module else []))
    if not base.startswith("crsim"):
        return []
    return sorted({f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names})


def _imports(module: str, path: Path, known: Set[str]) -> List[Tuple[str, int, bool]]:
    """(imported crsim module, line, inside a function) of one module; TYPE_CHECKING blocks skipped."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    found: List[Tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names
                             if a.name.startswith("crsim"))
            elif isinstance(child, ast.ImportFrom):
                found.extend((t, child.lineno, in_function)
                             for t in _targets(module, is_pkg, child, known))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                            ast.Lambda)))

    visit(tree, False)
    seen: Set[Tuple[str, bool]] = set()
    out = []
    for target, line, lazy in found:
        if target != module and (target, lazy) not in seen:
            seen.add((target, lazy))
            out.append((target, line, lazy))
    return out


def _graph() -> Dict[str, List[Tuple[str, int, bool]]]:
    mods = _modules()
    known = set(mods) | {"crsim._core", "crsim.modelgen"}
    return {m: _imports(m, p, known) for m, p in mods.items()}


def test_every_module_is_in_a_layer():
    for m in _modules():
        _layer(m)


def test_imports_run_down_the_stack():
    problems = []
    for m, imports in _graph().items():
        mk, ml = _layer(m)
        for target, line, lazy in imports:
            tk, tl = _layer(target)
            if tl > ml:
                problems.append(f"{m}:{line} imports {target} (layer {tk} above {mk})")
            elif tl == ml and tk != mk:
                problems.append(f"{m}:{line} imports {target} (sibling layer {tk} of {mk})")
            if lazy and not target.startswith(LAZY_ALLOWED):
                problems.append(f"{m}:{line} imports {target} inside a function (only optional "
                                f"dependencies may be: {LAZY_ALLOWED})")
    assert not problems, "\n".join(problems)


def test_no_import_cycles():
    graph = {m: sorted({t for t, _, _ in imps}) for m, imps in _graph().items()}
    state: Dict[str, int] = {}
    stack: List[str] = []
    cycles: List[str] = []

    def dfs(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in graph.get(m, []):
            if state.get(t) == 1:
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                dfs(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            dfs(m)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_contract_sees_a_violation(tmp_path):
    """The checker itself: an upward import in a module is found."""
    bad = tmp_path / "crsim" / "base"
    bad.mkdir(parents=True)
    (bad / "x.py").write_text("from crsim.run.simulate import simulate\n")
    imps = _imports("crsim.base.x", bad / "x.py", {"crsim.run.simulate", "crsim.base.x"})
    assert imps == [("crsim.run.simulate", 1, False)]
    assert _layer("crsim.run.simulate")[1] > _layer("crsim.base.x")[1]
