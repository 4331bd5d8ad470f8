"""Populations, scans and global sensitivity analyses on Dask (a LocalCluster of two worker
processes): the same rows, bit for bit, as on the local threads whatever the chunking; a failing
patient keeps its message and the others their readouts; a killed worker's chunk runs again;
rows stream to an HDF5 file that can be read while incomplete; bad clients are named; progress
bars on request."""
import os
import re

import numpy as np
import pytest

import crsim
from crsim.model.parameter_sets import data_dir
from crsim.run.popfile import PartsWriter, parts_dir

distributed = pytest.importorskip("distributed")

TOCI = crsim.Scenario("pk2_mm", name="toci", patient={"weight_kg": 70},
                      regimen=["8 mg/kg iv over 1h max 800mg"], horizon_days=28)
CRS = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        yield c


def _same_values(a, b):
    """Equal tables up to dtype (a file stores every readout as float64): every number bit for
    bit (NaN where NaN), the same errors, the same columns in the same order."""
    assert list(a.columns) == list(b.columns)
    assert list(a.index) == list(b.index)
    for c in a.columns:
        if c == "error":
            assert list(a[c]) == list(b[c])
        else:
            np.testing.assert_array_equal(a[c].to_numpy(dtype=float), b[c].to_numpy(dtype=float), err_msg=c)


def test_a_population_on_dask_is_the_local_one_for_any_chunking(client):
    var = {"rho": 0.3, "tumor_burden": 1.0}
    ref = crsim.population(CRS, 40, var, seed=9)
    assert ref.max_grade.notna().all()
    for chunk_size in (None, 1, 7, 40):
        tab = crsim.population(CRS, 40, var, seed=9, client=client, chunk_size=chunk_size)
        assert tab.equals(ref), chunk_size
        assert tab.attrs["units"] == ref.attrs["units"] and tab.attrs["seed"] == 9


def test_failing_patients_keep_their_messages_on_dask(client):
    # a step budget near what the typical patient needs: some runs fail, the others are kept
    sc = TOCI.replace(solver=crsim.Solver(max_steps=265))
    ref = crsim.population(sc, 40, {"Km": 2.0, "Vmax": 1.0}, seed=1)
    tab = crsim.population(sc, 40, {"Km": 2.0, "Vmax": 1.0}, seed=1, client=client, chunk_size=6)
    failed = tab["error"] != ""
    assert 0 < failed.sum() < len(tab)
    assert tab.loc[failed, "error"].str.contains("max_steps = 265").all()
    assert tab.loc[failed, "C.max"].isna().all() and tab.loc[~failed, "C.max"].notna().all()
    assert tab.equals(ref)
    # a sampled value outside the bounds: that patient's message, the others run
    out = crsim.population(CRS, 12, {"rho": 2.0}, seed=4, client=client, chunk_size=5)
    assert out.equals(crsim.population(CRS, 12, {"rho": 2.0}, seed=4))
    assert out.error.str.contains("outside its bounds").sum() == (out.rho > 0.1).sum() > 0


def test_rows_stream_to_a_file_that_reads_while_incomplete(client, tmp_path):
    ref = crsim.population(CRS, 40, {"rho": 2.0}, seed=4)       # with refused patients
    path = tmp_path / "pop.h5"
    done = crsim.population(CRS, 40, {"rho": 2.0}, seed=4, client=client, chunk_size=6, output=path,
                            progress=False)
    assert done == crsim.PopulationFile(str(path), 40, int((ref.error != "").sum()), 4, "crs")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pop.h5"]      # parts merged and removed
    back = crsim.load_population(path)
    _same_values(back, ref)
    assert back.attrs["units"] == ref.attrs["units"] and back.attrs["omega"] == ref.attrs["omega"]
    _same_values(done.table(["rho", "max_grade"]), ref[["rho", "max_grade"]])
    # the same file from the local threads
    crsim.population(CRS, 40, {"rho": 2.0}, seed=4, output=tmp_path / "local.h5")
    _same_values(crsim.load_population(tmp_path / "local.h5"), ref)

    # while a run is under way: the finished parts only, through load_population(partial=True)
    meta = dict(ref.attrs, n=10, names=["rho"], wanted=["max_grade"], model="crs", scenario_json="")
    w = PartsWriter(tmp_path / "run.h5", meta)
    w.write(6, 10, ref[["rho"]].to_numpy()[6:10], ref[["max_grade"]].iloc[6:10], list(ref.error[6:10]),
            {"max_grade": "1"})
    with pytest.raises(crsim.InputError, match="partial=True"):
        crsim.load_population(tmp_path / "run.h5")
    part = crsim.load_population(tmp_path / "run.h5", partial=True)
    assert list(part.index) == [6, 7, 8, 9] and part.attrs["complete"] is False and part.attrs["n"] == 10
    _same_values(part[["rho", "max_grade"]], ref[["rho", "max_grade"]].iloc[6:10])
    w.write(0, 6, ref[["rho"]].to_numpy()[:6], ref[["max_grade"]].iloc[:6], list(ref.error[:6]),
            {"max_grade": "1"})
    assert list(crsim.load_population(tmp_path / "run.h5", partial=True).index) == list(range(10))
    w.finish()
    assert not os.path.exists(parts_dir(tmp_path / "run.h5"))
    _same_values(crsim.load_population(tmp_path / "run.h5"), ref[["rho", "max_grade", "error"]].iloc[:10])


def test_scan_and_gsa_on_dask_match_the_local_runs(client):
    grid = {"policy.trigger_grade": [1, 2], "policy.delay_h": [0, 12]}
    ref = crsim.scan(TOCI.replace(horizon_days=7), {"parameters.CL": [0.1, 0.2, 0.4]})
    tab = crsim.scan(TOCI.replace(horizon_days=7), {"parameters.CL": [0.1, 0.2, 0.4]}, client=client,
                     chunk_size=2)
    assert tab.equals(ref) and tab.attrs["units"] == ref.attrs["units"]
    sc = CRS.replace(horizon_days=7)
    ref = crsim.scan(sc, grid, base_policy="tocilizumab_grade2")
    assert crsim.scan(sc, grid, base_policy="tocilizumab_grade2", client=client, chunk_size=3).equals(ref)
    with pytest.raises(crsim.InputError, match="keep_results = True is not allowed"):
        crsim.scan(sc, grid, base_policy="tocilizumab_grade2", client=client, keep_results=True)
    # a user model (compiled here, loaded by the workers from the shared cache) in a GSA
    model = crsim.Model.from_antimony("""
    model dask_gsa_toy()
      y = 0; y' = 0
      a = 1; b = 1
      //@ a bounds=[0, 10]
      //@ b bounds=[0, 10]
      f := a + 2*b*b
    end""")
    toy = crsim.Scenario(model.name, name="toy", horizon_h=1, outputs={"step_h": 1})
    ranges = {"a": (0.0, 1.0), "b": (0.0, 1.0)}
    local = crsim.gsa(toy, ranges, outputs=["f.last"], method="sobol", n=16, seed=2)
    remote = crsim.gsa(toy, ranges, outputs=["f.last"], method="sobol", n=16, seed=2, client=client,
                       chunk_size=9)
    assert remote.design.equals(local.design) and remote.table.equals(local.table)


def test_bad_readouts_fail_at_once_on_dask(client):
    with pytest.raises(crsim.InputError, match=r"readouts = 'nope'"):
        crsim.population(TOCI, 30, {"CL": 0.3}, readouts=["nope"], client=client)


class _KillOnce(distributed.WorkerPlugin):
    """Kills the worker process that starts a chunk task (once: a marker file says it happened;
    after ``skip`` chunk tasks); the nanny starts a new worker."""

    def __init__(self, marker, skip=0):
        self.marker, self.skip = marker, skip

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and "_run_task" in str(key) and not os.path.exists(self.marker):
            seen = self.marker + ".seen"
            if os.path.exists(seen) and os.path.getsize(seen) >= self.skip or self.skip == 0:
                with open(self.marker, "w"):
                    pass
                os._exit(1)
            with open(seen, "a") as f:
                f.write("x")


def test_a_killed_worker_s_chunk_runs_again(tmp_path):
    marker = tmp_path / "killed"
    ref = crsim.population(TOCI, 24, {"CL": 0.3, "Vmax": 0.4}, seed=3)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        c.register_plugin(_KillOnce(str(marker)))
        tab = crsim.population(TOCI, 24, {"CL": 0.3, "Vmax": 0.4}, seed=3, client=c, chunk_size=5,
                               retries=1)
    assert marker.exists()                 # a worker did die during the run
    assert tab.equals(ref) and "error" not in tab


def test_a_chunk_lost_for_good_fails_its_rows_only(tmp_path):
    """With no allowance for lost workers and no retries, the killed chunks' patients get the
    task's error (KilledWorker) and every other patient its readouts."""
    import dask

    marker = tmp_path / "killed"
    ref = crsim.population(TOCI, 24, {"CL": 0.3, "Vmax": 0.4}, seed=3)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                      dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
            c.register_plugin(_KillOnce(str(marker), skip=1))   # not the first chunk (one patient)
            tab = crsim.population(TOCI, 24, {"CL": 0.3, "Vmax": 0.4}, seed=3, client=c, chunk_size=5,
                                   retries=0)
    failed = tab["error"] != ""
    # the chunks that were on the killed worker (running or queued there): whole chunks of five
    assert marker.exists() and failed.sum() in (5, 10) and failed.iloc[0] == False  # noqa: E712
    for start in range(1, 24, 5):
        assert failed.iloc[start:start + 5].nunique() == 1
    assert tab.loc[failed, "error"].str.contains(r"Dask task failed for rows \d+-\d+: KilledWorker").all()
    assert tab.loc[failed, "C.max"].isna().all()
    ok = ~failed
    assert tab.loc[ok, ["CL", "Vmax", "C.max", "C.auc"]].equals(ref.loc[ok, ["CL", "Vmax", "C.max", "C.auc"]])


def test_bad_clients_are_named():
    for bad in ("nope", "local:0", "local:x", "http//host", 3):
        with pytest.raises(crsim.InputError, match=r"client = .* is not allowed: a dask.distributed "
                           r"Client|'local:N' with N in \[1, 1024\]"):
            crsim.population(TOCI, 4, {"CL": 0.3}, client=bad)
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(crsim.InputError, match=r"client = 'tcp://127.0.0.1:9' is not allowed: the "
                           "address of a running Dask scheduler"):
            crsim.population(TOCI, 4, {"CL": 0.3}, client="tcp://127.0.0.1:9")
    for field, kwargs, words in (("chunk_size", {"chunk_size": 0}, "rows per task >= 1"),
                                 ("retries", {"retries": -1}, "in [0, 100]"),
                                 ("output", {"output": 3}, "an HDF5 file path")):
        with pytest.raises(crsim.InputError, match=f"{field} = .* is not allowed: .*{re.escape(words)}"):
            crsim.population(TOCI, 4, {"CL": 0.3}, **kwargs)


def test_progress_bars_on_request(capsys):
    crsim.population(TOCI, 12, {"CL": 0.3}, seed=1, progress=True)
    err = capsys.readouterr().err
    assert "crsim: population" in err and "12/12" in err and "patient" in err
    crsim.population(TOCI, 12, {"CL": 0.3}, seed=1)           # not a terminal: quiet
    crsim.scan(TOCI.replace(horizon_days=2), {"parameters.CL": [0.1, 0.2]}, progress=False)
    assert capsys.readouterr().err == ""
    crsim.scan(TOCI.replace(horizon_days=2), {"parameters.CL": [0.1, 0.2]}, progress=True)
    assert "crsim: scan" in capsys.readouterr().err
    pytest.importorskip("SALib")
    crsim.gsa(TOCI.replace(horizon_days=2), {"CL": (0.1, 0.3)}, outputs=["C.max"], method="morris", n=4,
              progress=True)
    assert "crsim: gsa (morris)" in capsys.readouterr().err
    data = crsim.read_data(crsim.example("pk1_oral_three_subjects"))
    crsim.fit("pk1_oral", data[data.ID == 1], estimate=["ka", "CL", "V"], starts=2, progress=True)
    err = capsys.readouterr().err
    assert "crsim: fit starts" in err and "2/2" in err
    crsim.fit("pk1_oral", data, estimate=["CL"], by="id", progress=True)
    err = capsys.readouterr().err
    assert "crsim: fit by subject" in err and "3/3" in err


def test_the_command_line_runs_a_population_on_a_local_cluster(tmp_path):
    import subprocess
    import sys

    scenario = str(data_dir() / "scenarios" / "default.yaml")
    args = [sys.executable, "-m", "crsim", "population", scenario, "-n", "20", "--vary", "rho=0.3",
            "--vary", "tumor_burden=1.0", "--seed", "2"]
    env = dict(os.environ, MPLBACKEND="Agg")
    p = subprocess.run(args + ["--scheduler", "local:2", "--chunk-size", "3", "-o", "pop.h5", "--progress"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    assert "crsim: population" in p.stderr and "20/20" in p.stderr
    assert "population of 20 patients" in p.stdout and "maximal ASTCT grade" in p.stdout
    _same_values(crsim.load_population(tmp_path / "pop.h5"),
                 crsim.population(CRS, 20, {"rho": 0.3, "tumor_burden": 1.0}, seed=2))
    bad = subprocess.run(args + ["--scheduler", "nowhere", "-o", "x.h5"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env=env)
    assert bad.returncode == 2 and "--scheduler = 'nowhere' is not allowed" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "x.h5").exists()
