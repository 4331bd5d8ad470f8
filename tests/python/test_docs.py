"""Documentation that runs: every Python block and shell command in README.md and docs/*.md is
executed, in document order, in a fresh working directory per file (with `data` linked to the
checkout's data/, as for a user in the checkout). A block that cannot run is preceded by
`<!-- not run: <reason> -->` and the reason must be given; a block preceded by
`<!-- file: NAME -->` is a file the text shows (a model source, a scenario): it is written to NAME
in the working directory for the blocks that follow. The generated docs/reference pages hold no
code blocks."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"<!--\s*not run:(.*?)-->")
FILE = re.compile(r"<!--\s*file:\s*(\S+)\s*-->")


def blocks(path: Path):
    """(language, first line number, text, skip reason or None) of each fenced block; a block
    shown as a file has the language "file:<name>"."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1).lower(), i + 1
        j = start
        while j < len(lines) and not FENCE.match(lines[j]):
            j += 1
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        skip = SKIP.search(lines[k]) if k >= 0 else None
        as_file = FILE.search(lines[k]) if k >= 0 else None
        if as_file:
            lang = "file:" + as_file.group(1)
        out.append((lang, start + 1, "\n".join(lines[start:j]), skip.group(1).strip() if skip else None))
        i = j + 1
    return out


def _runnable(path):
    return [b for b in blocks(path) if b[0] in ("python", "sh", "bash") or b[0].startswith("file:")]


@pytest.mark.parametrize("path", [p for p in DOCS if any(not b[0].startswith("file:")
                                                          for b in _runnable(p))],
                         ids=lambda p: p.name)
def test_doc_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").symlink_to(ROOT / "data")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    namespace = {"__name__": "__doc__"}
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
               MPLBACKEND="Agg")
    for lang, line, text, skip in _runnable(path):
        where = f"{path.relative_to(ROOT)}:{line}"
        if skip is not None:
            assert skip, f"{where}: a block marked 'not run' must say why"
            continue
        if lang.startswith("file:"):
            (tmp_path / lang[5:]).write_text(text + "\n", encoding="utf-8")
        elif lang == "python":
            try:
                exec(compile(text, where, "exec"), namespace)
            finally:
                plt.close("all")
        else:
            out = subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=tmp_path, env=env,
                                 capture_output=True, text=True, timeout=600)
            assert out.returncode == 0, f"{where}: exit {out.returncode}\n{out.stdout}\n{out.stderr}"


def test_every_skip_marker_gives_a_reason():
    for path in DOCS:
        for lang, line, _, skip in blocks(path):
            if skip is not None:
                assert skip, f"{path.name}:{line}: 'not run' without a reason"


def test_examples_are_reachable_without_the_checkout():
    import crsim
    table = crsim.examples()
    assert {"default", "tocilizumab_q4w", "pk1_oral_three_subjects"} <= set(table["name"])
    assert Path(crsim.example("default")).is_file()
    sc = crsim.Scenario.from_file(crsim.example("default"))
    assert sc.name == "default"
    with pytest.raises(crsim.InputError, match="example = 'nope'"):
        crsim.example("nope")
