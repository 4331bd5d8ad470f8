"""Table-driven: every malformed scenario file in data/bad_scenarios/ makes `crsim run` exit with
status 2, print a message on stderr naming each offending path (the `# expect:` lines at the top of
the file list substrings the message must contain; the "(line N)" after each path is checked
only where an expectation names it), with no traceback and no output file (not even
a temporary one)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BAD = Path(__file__).parent / "data" / "bad_scenarios"
FILES = sorted(BAD.glob("*.yaml"))


def expectations(path):
    return [line.split(":", 1)[1].strip() for line in path.read_text().splitlines()
            if line.startswith("# expect:")]


def test_the_table_is_large_and_every_file_says_what_it_expects():
    assert len(FILES) >= 20
    for f in FILES:
        assert expectations(f), f"{f.name} has no '# expect:' line"


def run_cli(*args, cwd):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "crsim", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_bad_scenario_exits_2_naming_the_path(path, tmp_path):
    p = run_cli("run", str(path), "-o", "out.h5", "--plot", "out.png", "--csv", "out.csv",
                cwd=tmp_path)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr + p.stdout
    assert p.stderr.startswith("crsim: error: ")
    without_lines = re.sub(r" \(line \d+\)", "", p.stderr)  # "path (line 4) = v" -> "path = v"
    for text in expectations(path):
        assert text in (p.stderr if "(line" in text else without_lines), f"{text!r} not in:\n{p.stderr}"
    assert p.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no results file, temporary file, plot or table


def test_all_problems_of_all_files_are_reported_together(tmp_path):
    files = [BAD / "weight_negative.yaml", BAD / "solver_rtol_out_of_range.yaml"]
    p = run_cli("run", *map(str, files), "-o", "out.h5", cwd=tmp_path)
    assert p.returncode == 2
    assert "patient.weight_kg" in p.stderr and "solver.rtol" in p.stderr
    assert "weight_negative.yaml" in p.stderr and "solver_rtol_out_of_range.yaml" in p.stderr
    assert list(tmp_path.iterdir()) == []
