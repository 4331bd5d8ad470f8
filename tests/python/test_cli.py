"""The command line, run as a subprocess: `python -m crsim` and the installed `crsim` script."""
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args, cwd=None):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "crsim", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_models():
    p = run("models")
    assert p.returncode == 0, p.stderr
    assert "pk2_mm" in p.stdout and "robertson" in p.stdout


def test_params_shows_units_and_sources():
    p = run("params", "pk2_mm")
    assert p.returncode == 0, p.stderr
    assert "Vmax" in p.stdout and "mg/h" in p.stdout and "Frey" in p.stdout
    assert "central (mg)" in p.stdout and "C (mg/L)" in p.stdout


def test_demo_writes_a_plot_and_a_summary(tmp_path):
    p = run("demo", "--plot", "crs.png", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "crs.png").stat().st_size > 1000
    assert (tmp_path / "results.h5").exists()
    assert "car_t_effector  1.05e+08 cells" in p.stdout  # 3e6 cells/kg x 35 kg (the set's patient)
    for words in ("CRS onset day", "maximal ASTCT grade", "IL-6", "pg/mL", "CRP", "ferritin",
                  "CAR-T in blood", "max_grade", "hours_grade_ge2"):
        assert words in p.stdout


def test_demo_default_plot_name(tmp_path):
    p = run("demo", "--days", "3", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "demo.png").exists()


@pytest.mark.parametrize("args, words", [
    (("params", "nope"), "model = 'nope'"),
    (("demo", "--weight", "-3", "--plot", ""), "weight = -3"),
    (("demo", "--plot", "/nonexistent-dir/x.png", "--days", "1"), "--plot"),
    (("frobnicate",), "invalid choice"),
    ((), "COMMAND"),
])
def test_user_errors_exit_2_without_traceback(args, words):
    p = run(*args)
    assert p.returncode == 2
    assert words in p.stderr
    assert "Traceback" not in p.stderr + p.stdout


def test_installed_entry_point():
    script = Path(sys.executable).with_name("crsim")
    if not script.exists():
        pytest.skip("the crsim script is not installed next to this interpreter")
    p = subprocess.run([str(script), "models"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "pk1" in p.stdout


def test_population_writes_a_table_and_a_summary(tmp_path):
    import pandas as pd

    scenario = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "default.yaml"
    p = run("population", str(scenario), "-n", "12", "--vary", "rho=0.3", "--vary", "tumor_burden=cv:1.2",
            "--seed", "4", "-o", "pop.csv", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    table = pd.read_csv(tmp_path / "pop.csv", index_col="patient")
    assert len(table) == 12 and "il6_peak [pg/mL]" in table.columns and "rho" in table.columns
    assert not (tmp_path / "pop.csv.part").exists()
    for words in ("population of 12 patients", "omega 0.3", "maximal ASTCT grade", "median [5th, 95th"):
        assert words in p.stdout
    # the same patients as the Python API
    import crsim

    ref = crsim.population(crsim.Scenario.from_file(scenario), 12, {"rho": 0.3, "tumor_burden": {"cv": 1.2}}, seed=4)
    assert table["il6_peak [pg/mL]"].to_numpy() == pytest.approx(ref["il6_peak"].to_numpy(), rel=1e-9)
    h5 = run("population", str(scenario), "-n", "12", "--vary", "rho=0.3", "--vary", "tumor_burden=cv:1.2",
             "--seed", "4", "-o", "pop.h5", cwd=tmp_path)
    assert h5.returncode == 0, h5.stderr
    back = crsim.load_population(tmp_path / "pop.h5")
    assert back["il6_peak"].to_numpy() == pytest.approx(ref["il6_peak"].to_numpy(), rel=1e-12)
    bad = run("population", str(scenario), "-n", "3", "--vary", "nope=0.3", "-o", "x.csv", cwd=tmp_path)
    assert bad.returncode == 2 and "variability['nope']" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.csv").exists()
