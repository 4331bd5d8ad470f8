"""The command line end to end (as subprocesses): `crsim run` writes the results file, a plot and a
CSV and prints a summary; `crsim demo` in an empty directory writes results.h5 and a PNG and prints
the readouts; `crsim show` summarises a results file; errors exit 2 without a traceback."""
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

import crsim
from crsim.base import progress

DATA = Path(__file__).resolve().parents[2] / "data" / "scenarios"


def run(*args, cwd=None, env=None):
    full_env = {**os.environ, "MPLBACKEND": "Agg", **(env or {})}
    return subprocess.run([sys.executable, "-m", "crsim", *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=300)


def test_run_writes_results_plot_and_csv(tmp_path):
    sc = tmp_path / "toci.yaml"
    crsim.Scenario("pk2_mm", name="toci", patient={"weight_kg": 120},
                   regimen=["8 mg/kg iv over 1h max 800mg"], horizon_days=14,
                   outputs={"step_h": 2}).to_file(sc)
    p = run("run", str(sc), "-o", "out.h5", "--plot", "fig.png", "--csv", "out.csv", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "scenario 'toci'" in p.stdout and "central  800 mg" in p.stdout  # capped: 960 -> 800 mg
    assert "C.max" in p.stdout and "wrote out.h5, fig.png, out.csv" in p.stdout
    assert p.stderr == ""  # no progress when stderr is not a terminal
    res = crsim.load(tmp_path / "out.h5")
    assert res.scenario == crsim.Scenario.from_file(sc)
    direct = crsim.simulate(crsim.Scenario.from_file(sc))
    np.testing.assert_array_equal(res.states, direct.states)
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert f.attrs["command"].startswith("crsim run ")
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(tmp_path / "out.csv")
    assert list(table.columns[:4]) == ["scenario", "time_h", "central [mg]", "peripheral [mg]"]
    assert "C [mg/L]" in table.columns
    np.testing.assert_allclose(table["C [mg/L]"], direct["C"], rtol=1e-12)


def test_run_several_files_into_one_results_file(tmp_path):
    files = [DATA / "default.yaml", DATA / "dose_fields_example.yaml"]
    p = run("run", *map(str, files), "-o", "both.h5", "--plot", "both.png", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    both = crsim.load(tmp_path / "both.h5")
    assert list(both) == ["default", "dose_fields_example"]
    assert both["dose_fields_example"].sensitivities().parameters == ["CL"]
    assert (tmp_path / "both.png").stat().st_size > 1000


def test_same_name_twice_is_refused_before_running(tmp_path):
    p = run("run", str(DATA / "default.yaml"), str(DATA / "default.yaml"), "-o", "x.h5", cwd=tmp_path)
    assert p.returncode == 2 and "name = 'default'" in p.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, words", [
    (("-o", "missing_dir/x.h5"), "directory 'missing_dir' does not exist"),
    (("-o", "x.txt"), ".h5, .hdf5"),
    (("-o", "."), "-o = '.' is not allowed: a file path (this is a directory)"),
    (("-o", "x.h5", "--plot", "fig.xyz"), "--plot = 'fig.xyz'"),
    (("-o", "x.h5", "--csv", "nodir/t.csv"), "--csv"),
])
def test_bad_output_paths_exit_2_before_running(tmp_path, args, words):
    p = run("run", str(DATA / "default.yaml"), *args, cwd=tmp_path)
    assert p.returncode == 2, p.stdout
    assert words in p.stderr and "Traceback" not in p.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_scenario_file(tmp_path):
    p = run("run", "nope.yaml", "-o", "x.h5", cwd=tmp_path)
    assert p.returncode == 2 and "scenario file = 'nope.yaml'" in p.stderr and "no such file" in p.stderr


def test_solver_failure_exits_1(tmp_path):
    sc = tmp_path / "s.yaml"
    sc.write_text("model: pk2_mm\nregimen: ['100 mg iv']\nhorizon_days: 30\nsolver: {max_steps: 3}\n")
    p = run("run", str(sc), "-o", "x.h5", cwd=tmp_path)
    assert p.returncode == 1
    assert "solver error" in p.stderr and "Traceback" not in p.stderr
    assert list(tmp_path.iterdir()) == [sc]


def test_demo_in_an_empty_directory_then_show(tmp_path):
    p = run("demo", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["demo.png", "results.h5"]
    assert (tmp_path / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = p.stdout
    assert "scenario 'default'" in out and "tisagenlecleucel" in out
    res = crsim.load(tmp_path / "results.h5")
    for name, value in res.readouts.items():  # every readout printed with its unit
        assert name in out
    assert f"{res.readouts['il6_peak']:.4g} pg/mL" in out
    assert f"maximal ASTCT grade {int(res.readouts['max_grade'])}" in out
    assert res.scenario == crsim.Scenario.from_file(DATA / "default.yaml")

    s = run("show", "results.h5", cwd=tmp_path)
    assert s.returncode == 0, s.stderr
    text = s.stdout
    assert "crsim results file, schema version 1" in text and "command: crsim demo" in text
    assert "scenario 'default': model crs" in text
    assert f"times: {len(res.times)} (0-672 h)" in text
    assert "car_t_effector [cells]" in text and "il6 [pg/mL]" in text
    assert "regimen[0]: tisagenlecleucel 3e6 cells/kg iv" in text
    assert "il6_peak" in text and "pg/mL" in text


def test_demo_options(tmp_path):
    p = run("demo", "--weight", "120", "--days", "3", "-o", "d.h5", "--plot", "", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["d.h5"]
    res = crsim.load(tmp_path / "d.h5")
    assert res.weight == 120 and res.times[-1] == 72
    assert res.doses["amount"].iloc[0] == pytest.approx(3e6 * 120)  # cells/kg x weight


@pytest.mark.parametrize("content, words", [
    (b"plain text", "not a crsim results file (not an HDF5 file)"),
    (None, "no such file"),
])
def test_show_bad_files_exit_2(tmp_path, content, words):
    if content is not None:
        (tmp_path / "r.h5").write_bytes(content)
    p = run("show", "r.h5", cwd=tmp_path)
    assert p.returncode == 2 and words in p.stderr and "Traceback" not in p.stderr


def test_progress_after_a_second_only():
    """A step shows nothing when it ends within its delay; a longer one shows its elapsed time
    (tqdm, refreshed while the engine works) and "done"; nothing when disabled."""
    buf = io.StringIO()
    with progress.step("quick", True, stream=buf, delay=0.5):
        time.sleep(0.1)
    assert buf.getvalue() == ""
    buf = io.StringIO()
    with progress.step("slow step", True, stream=buf, delay=0.2, interval=0.2):
        time.sleep(0.7)
    shown = [x for x in buf.getvalue().replace("\r", "\n").splitlines() if x]
    assert shown[0].startswith("crsim: slow step: 00:00") and shown[-1] == "crsim: slow step: 00:00, done"
    assert len(shown) >= 3
    buf = io.StringIO()
    with pytest.raises(ZeroDivisionError):
        with progress.step("failing step", True, stream=buf, delay=0.0, interval=0.1):
            time.sleep(0.2)
            1 / 0
    assert buf.getvalue().rstrip().endswith("crsim: failing step: 00:00, failed")
    buf = io.StringIO()
    with progress.step("off", False, stream=buf, delay=0.0):
        time.sleep(0.2)
    assert buf.getvalue() == ""
    # None: only on a terminal (a StringIO is not one)
    with progress.step("auto", None, stream=buf, delay=0.0):
        time.sleep(0.2)
    assert buf.getvalue() == ""
    with pytest.raises(crsim.InputError, match="progress = 'yes' is not allowed"):
        progress.enabled("yes")


def test_progress_flag_shows_progress_on_a_long_run(tmp_path):
    """--progress forces progress lines on a pipe for a run longer than a second (here the
    writer is held 1.5 s by the test hook, set from a sitecustomize on the path)."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import crsim._core as c\nc._testing_set_write_delay('closed', 1.5)\n")
    p = run("run", str(DATA / "dose_fields_example.yaml"), "-o", "x.h5", "--progress", cwd=tmp_path,
            env={"PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")]))})
    assert p.returncode == 0, p.stderr
    assert "crsim: writing x.h5: 00:01" in p.stderr
    assert "crsim: writing x.h5: 00:01, done" in p.stderr


def test_show_prints_the_patient_height_of_per_m2_dosing(tmp_path):
    """Blinatumomab dosed per m²: `crsim show` names weight and height (the body surface area's
    inputs), so the file says what the doses were computed for."""
    p = run("run", str(DATA / "tce_blinatumomab_nhl_step_up.yaml"), "-o", "b.h5", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    s = run("show", "b.h5", cwd=tmp_path)
    assert s.returncode == 0, s.stderr
    assert "patient: 70.0 kg, 185.65714 cm" in s.stdout


def test_output_piped_into_head_ends_quietly():
    """`crsim params crs | head -3`: the command stops without a BrokenPipeError traceback."""
    cmd = f"{sys.executable} -m crsim params crs | head -3"
    p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert len(p.stdout.splitlines()) == 3
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr
