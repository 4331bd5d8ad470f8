"""Results files from Python: scenario -> YAML -> run -> HDF5 -> load gives identical arrays and an
equal scenario; the file has the documented layout in plain h5py (docs/hdf5-schema.md); several
scenarios per file; foreign and newer files fail clearly; a write killed with SIGKILL leaves no file
under the final name and an existing file untouched."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import h5py
import numpy as np
import pytest

import crsim
from crsim import _core


@pytest.fixture(scope="module")
def toci_result(tmp_path_factory):
    d = tmp_path_factory.mktemp("toci")
    sc = crsim.Scenario("pk2_mm", name="toci", description="label dose",
                        patient={"weight_kg": 70, "height_cm": 175},
                        regimen=["8 mg/kg iv over 1h q3w x2 max 800mg"], horizon_days=42,
                        outputs={"step_h": 1}, sensitivities=["CL", "Vmax"])
    sc.to_file(d / "toci.yaml")
    return crsim.simulate(crsim.Scenario.from_file(d / "toci.yaml"))


def assert_same_result(a, b):
    for field in ("times", "states", "observables"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))  # bit-identical
    assert a._sens_names == b._sens_names
    if a._sens_names:
        np.testing.assert_array_equal(a.sensitivities().values, b.sensitivities().values)
    assert a.parameters == b.parameters and a.parameter_units == b.parameter_units
    assert (a.state_names, a.state_units, a.observable_names, a.observable_units) == \
        (b.state_names, b.state_units, b.observable_names, b.observable_units)
    assert a.doses.equals(b.doses)
    assert a.solver == b.solver
    keys = ("steps", "rhs_evaluations", "jacobian_evaluations", "restarts", "rejected_steps")
    assert {k: a.stats[k] for k in keys} == {k: b.stats[k] for k in keys}
    assert a.readouts == b.readouts and a.readout_units == b.readout_units
    assert a.weight == b.weight


def test_round_trip(toci_result, tmp_path):
    path = tmp_path / "results.h5"
    toci_result.save(path)
    back = crsim.load(path)
    assert isinstance(back, crsim.Result)
    assert_same_result(toci_result, back)
    assert back.scenario == toci_result.scenario
    assert back.scenario.patient == crsim.Patient(weight_kg=70, height_cm=175)
    # a loaded result saves again to an equivalent file
    back.save(tmp_path / "again.h5")
    assert_same_result(back, crsim.load(tmp_path / "again.h5"))


def test_layout_in_plain_h5py(toci_result, tmp_path):
    path = tmp_path / "results.h5"
    toci_result.save(path)
    r = toci_result
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "crsim-results"
        assert f.attrs["schema_version"] == 1
        assert f.attrs["crsim_version"] == crsim.__version__
        assert list(f["scenarios"]) == ["toci"]
        g = f["scenarios/toci"]
        assert g.attrs["model_name"] == "pk2_mm" and g.attrs["model_version"] == r.model.version
        assert json.loads(g.attrs["scenario_json"]) == r.scenario.to_dict()
        assert g["time"].attrs["unit"] == "h"
        np.testing.assert_array_equal(g["time"][:], r.times)
        np.testing.assert_array_equal(g["states"][:], r.states)
        assert list(g["states"].attrs["names"]) == r.state_names
        assert list(g["states"].attrs["units"]) == r.state_units
        assert list(g["states"].attrs["dose_units"]) == r.state_dose_units
        np.testing.assert_array_equal(g["observables"][:], r.observables)
        assert list(g["observables"].attrs["units"]) == ["mg/L", "mg"]
        assert dict(zip(g["parameters"].attrs["names"], g["parameters"][:])) == r.parameters
        assert list(g["parameters"].attrs["units"]) == [r.parameter_units[k] for k in r.parameters]
        assert g["states"].chunks is not None and g["states"].compression == "gzip"
        assert dict(g["solver"].attrs) == pytest.approx({"method": "auto", "rtol": 1e-8,
                                                         "atol": 1e-10, "max_steps": 500000,
                                                         "max_step": 0.0, "initial_step": 0.0,
                                                         "sensitivity_error_control": 1})
        assert g["statistics"].attrs["steps"] == r.stats["steps"] > 0
        assert g["statistics"].attrs["rhs_evaluations"] == r.stats["rhs_evaluations"]
        assert g["statistics"].attrs["rejected_steps"] == r.stats["rejected_steps"] >= 0
        # method "auto" on this non-stiff model: dopri5 throughout
        assert g["statistics"].attrs["method_used"] == r.stats["method_used"] == "dopri5"
        assert g["statistics"].attrs["dopri5_steps"] == r.stats["steps"]
        assert g["statistics"].attrs["rosenbrock4_steps"] == 0
        assert len(g["statistics"].attrs["switch_times"]) == len(g["statistics"].attrs["switch_to"]) == 0
        doses = g["doses"][:]
        assert len(doses) == 2 and list(doses["amount"]) == [560.0, 560.0]
        assert list(doses["time"]) == [0.0, 504.0] and list(doses["end"]) == [1.0, 505.0]
        assert list(g["sensitivities"].attrs["names"]) == ["CL", "Vmax"]
        assert g["sensitivities/states"].shape == (len(r.times), 4, 2)
        readouts = dict(g["readouts"].attrs)
        assert readouts == pytest.approx(r.readouts)
        assert g["readouts/units"].attrs["C.max"] == "mg/L"
        assert g["readouts/units"].attrs["C.auc"] == "h*mg/L"
    # the numbers mean what they say: Cmax at the end of the first 1 h infusion
    assert r.readouts["C.t_max"] in (1.0, 505.0)
    assert r.readouts["C.max"] == pytest.approx(r["C"].max())


def test_several_scenarios_in_one_file(toci_result, tmp_path):
    other = crsim.simulate(crsim.Scenario("pk1", name="pk1 bolus", regimen=["100 mg iv"],
                                          horizon_h=24))
    plain = crsim.simulate("pk2", doses=[crsim.Dose("central", 50)], times=[0, 1, 2])
    path = tmp_path / "many.h5"
    crsim.save([toci_result, other, plain], path)
    back = crsim.load(path)
    assert list(back) == ["toci", "pk1 bolus", "pk2"]
    assert_same_result(back["pk1 bolus"], other)
    assert back["pk2"].scenario == plain.scenario
    assert crsim.load(path, name="toci").scenario == toci_result.scenario
    with pytest.raises(crsim.InputError, match="name = 'nope'.*one of"):
        crsim.load(path, name="nope")
    with pytest.raises(crsim.InputError, match="unique scenario name"):
        crsim.save([other, other], tmp_path / "dup.h5")
    crsim.save({"a": other, "b": other}, tmp_path / "named.h5")
    assert list(crsim.load(tmp_path / "named.h5")) == ["a", "b"]
    assert not (tmp_path / "dup.h5").exists()


def test_save_errors(toci_result, tmp_path):
    with pytest.raises(crsim.InputError, match="does not exist"):
        toci_result.save(tmp_path / "no_dir" / "r.h5")
    with pytest.raises(crsim.InputError, match="results"):
        crsim.save([], tmp_path / "r.h5")
    with pytest.raises(crsim.InputError, match="Result"):
        crsim.save([1], tmp_path / "r.h5")


def test_foreign_and_newer_files_fail_clearly(toci_result, tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(crsim.IoError, match="not a crsim results file \\(not an HDF5 file\\)") as err:
        crsim.load(text)
    assert isinstance(err.value, OSError) and err.value.path == str(text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(crsim.IoError, match="no format attribute"):
        crsim.load(other)
    newer = tmp_path / "newer.h5"
    toci_result.save(newer)
    with h5py.File(newer, "r+") as f:
        f.attrs["schema_version"] = np.int64(7)
    with pytest.raises(crsim.IoError, match="schema version 7 is newer than this crsim \\(reads 1\\); "
                                            "upgrade crsim"):
        crsim.load(newer)
    with pytest.raises(crsim.InputError, match="no such file"):
        crsim.load(tmp_path / "missing.h5")


def test_writing_releases_the_gil(tmp_path):
    """A Python thread keeps running while the C++ writer works (the writer sleeps 0.5 s via the
    test hook; the GIL is not held meanwhile)."""
    res = crsim.simulate("pk1", doses=[crsim.Dose("central", 1)], times=np.linspace(0, 10, 11))
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    _core._testing_set_write_delay("closed", 0.5)
    t = threading.Thread(target=count)
    try:
        t0 = time.monotonic()
        t.start()
        res.save(tmp_path / "r.h5")
        t1 = time.monotonic()
    finally:
        _core._testing_set_write_delay("", 0)
        stop.set()
        t.join()
    assert t1 - t0 >= 0.5
    assert sum(t0 + 0.1 < x < t1 - 0.1 for x in ticks) >= 10


WRITER = textwrap.dedent("""
    import sys
    import crsim
    from crsim import _core
    stage, target = sys.argv[1], sys.argv[2]
    res = crsim.simulate(crsim.Scenario("pk2_mm", name="big", patient={"weight_kg": 70},
                         regimen=["8 mg/kg iv over 1h max 800mg"], horizon_days=56,
                         outputs={"step_h": 0.05}))
    _core._testing_set_write_delay(stage, 60.0)
    res.save(target)
    print("finished", flush=True)
""")


@pytest.mark.parametrize("stage", ["created", "scenario:", "closed"])
@pytest.mark.parametrize("existing", [False, True])
def test_killed_write_leaves_no_partial_file(tmp_path, stage, existing):
    """The writer process is killed with SIGKILL while it sleeps at a stage of the write (after
    creating the temporary file, after writing the scenario's datasets, after closing it but
    before the rename): nothing appears under the final name, and an existing file keeps its
    bytes."""
    target = tmp_path / "results.h5"
    if existing:
        crsim.simulate("pk1", doses=[crsim.Dose("central", 1)], times=[0, 1]).save(target)
        before = target.read_bytes()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen([sys.executable, str(script), stage, str(target)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        tmp_files = []
        while time.monotonic() < deadline and proc.poll() is None and not tmp_files:
            tmp_files = list(tmp_path.glob("results.h5.tmp-*"))
            time.sleep(0.02)
        assert tmp_files, ("the writer never created its temporary file", proc.communicate())
        # Writing the datasets takes milliseconds: one second later the writer sleeps at `stage`.
        time.sleep(1.0)
        assert proc.poll() is None, proc.communicate()
        if stage == "closed":  # the temporary file is complete; only the rename is missing
            with h5py.File(tmp_files[0], "r") as f:
                assert f["scenarios/big/states"].shape == (26881, 4)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    if existing:
        assert target.read_bytes() == before
        assert crsim.load(target).times.tolist() == [0, 1]
    else:
        assert not target.exists()
    # only the stale temporary file is left behind (documented; safe to delete)
    assert [p.name.startswith("results.h5.tmp-") for p in tmp_path.glob("results.h5*")
            if p.name != "results.h5"] == [True]


def test_files_without_the_newer_optional_attributes_still_load(toci_result, tmp_path):
    # solver/@sensitivity_error_control and statistics/@rejected_steps were added within schema 1;
    # files written before them load with the defaults (on, 0)
    path = tmp_path / "old.h5"
    toci_result.save(path)
    with h5py.File(path, "r+") as f:
        g = f["scenarios"][list(f["scenarios"])[0]]
        del g["solver"].attrs["sensitivity_error_control"]
        del g["statistics"].attrs["rejected_steps"]
    back = crsim.load(path)
    assert back.solver["sensitivity_error_control"] is True
    assert back.stats["rejected_steps"] == 0
    assert back.stats["steps"] == toci_result.stats["steps"]


def test_file_with_covariates_from_before_they_were_refused_loads_with_its_scenario(toci_result, tmp_path):
    """Files written while free covariates were accepted (and changed nothing) still load with
    their scenario; the stored text keeps them."""
    data = toci_result.scenario.to_dict()
    data["patient"]["covariates"] = {"age_group": "adult"}
    toci_result.scenario, scenario = None, toci_result.scenario
    toci_result._scenario_json = json.dumps(data)
    try:
        toci_result.save(tmp_path / "old.h5")
    finally:
        toci_result.scenario = scenario
    back = crsim.load(tmp_path / "old.h5")
    assert back.scenario == scenario
    assert json.loads(back._scenario_json)["patient"]["covariates"] == {"age_group": "adult"}
