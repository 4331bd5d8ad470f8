"""Virtual populations: the sampled parameters follow the stated log-normal variability and
correlation, every row is the run of that patient, results do not depend on the thread count, the
population shows the CAR-T dose-response, and bad input is named."""
import math

import numpy as np
import pandas as pd
import pytest

import crsim
from crsim.model.parameter_sets import data_dir

TOCI = crsim.Scenario("pk2_mm", name="toci", patient={"weight_kg": 70},
                      regimen=["8 mg/kg iv over 1h max 800mg"], horizon_days=28)


def test_sampled_parameters_follow_the_variability():
    n = 4000
    tab = crsim.sample_parameters(TOCI, n, {"CL": 0.3, "V1": {"cv": 0.2}, "Vmax": 0.5},
                                  correlation={("CL", "V1"): 0.6}, seed=11)
    typ = crsim.Model("pk2_mm").parameter_values
    eta = np.log(tab / np.array([typ["CL"], typ["V1"], typ["Vmax"]]))
    omega = {"CL": 0.3, "V1": math.sqrt(math.log1p(0.04)), "Vmax": 0.5}
    for k, w in omega.items():
        # SD of a normal sample: relative standard error 1/sqrt(2n) = 1.1 %; allow 4 %
        assert eta[k].std() == pytest.approx(w, rel=0.04)
        assert abs(eta[k].mean()) < 4 * w / math.sqrt(n)
    r = np.corrcoef(eta["CL"], eta["V1"])[0, 1]
    assert r == pytest.approx(0.6, abs=0.04)        # SE of r about (1 - r^2)/sqrt(n) = 0.01
    assert abs(np.corrcoef(eta["CL"], eta["Vmax"])[0, 1]) < 0.05
    again = crsim.sample_parameters(TOCI, n, {"CL": 0.3, "V1": {"cv": 0.2}, "Vmax": 0.5},
                                    correlation={("CL", "V1"): 0.6}, seed=11)
    assert again.equals(tab)


def test_each_row_is_that_patients_run_whatever_the_threads():
    tab1 = crsim.population(TOCI, 40, {"CL": 0.3, "Vmax": 0.4}, seed=5, threads=1)
    tab2 = crsim.population(TOCI, 40, {"CL": 0.3, "Vmax": 0.4}, seed=5, threads=2)
    assert tab1.equals(tab2)
    i = 17
    one = crsim.simulate(TOCI.replace(parameters={"CL": tab1.CL[i], "Vmax": tab1.Vmax[i]}))
    s = one.summary()
    assert tab1["C.max"][i] == pytest.approx(s["C"]["max"], rel=1e-12)
    assert tab1["C.auc"][i] == pytest.approx(s["C"]["auc"], rel=1e-12)
    assert tab1.attrs["units"]["C.max"] == "mg/L"
    # exposure falls as clearance rises (rank correlation across patients)
    assert np.corrcoef(np.argsort(np.argsort(tab1.CL)), np.argsort(np.argsort(tab1["C.auc"])))[0, 1] < -0.5


def test_chunked_pipelined_runs_give_the_same_table_for_any_threads_and_chunk_size(monkeypatch):
    # population() runs chunks of BATCH patients, the next chunk integrating while the readouts of
    # the previous are computed: the table must not depend on the chunking or the thread count
    from crsim.run import population as pop
    sc = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")
    var = {"rho": 0.3, "tumor_burden": 1.0}
    ref = crsim.population(sc, 23, var, seed=9, threads=1)         # 2 chunks: 1 + 22
    monkeypatch.setattr(pop, "BATCH", 4)
    for threads in (1, 2, 3, None):                                # 7 chunks: 1 + 4 + ... + 2
        tab = crsim.population(sc, 23, var, seed=9, threads=threads)
        assert tab.equals(ref), threads
    assert ref.max_grade.notna().all() and "error" not in ref
    i = 13
    one = crsim.simulate(sc.replace(parameters={"rho": ref.rho[i], "tumor_burden": ref.tumor_burden[i]}))
    assert ref.il6_peak[i] == one.readouts["il6_peak"]
    assert ref.max_grade[i] == one.readouts["max_grade"]


def test_a_sampled_value_outside_the_bounds_fails_that_patient_only():
    # rho is bounded to [0, 0.1] 1/h; with omega = 2 many draws fall outside: those patients get an
    # error naming the parameter and NaN readouts, the others their own run
    sc = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")
    tab = crsim.population(sc, 12, {"rho": 2.0}, seed=4)
    hi = tab.rho > 0.1
    assert 0 < hi.sum() < len(tab)
    assert tab.error[hi].str.contains("parameters.rho = ").all()
    assert tab.error[hi].str.contains(r"outside its bounds \[0, 0.1\] 1/h", regex=True).all()
    assert tab.max_grade[hi].isna().all() and (tab.error[~hi] == "").all()
    i = int(np.flatnonzero(~hi.to_numpy())[-1])
    one = crsim.simulate(sc.replace(parameters={"rho": tab.rho[i]}))
    assert tab.il6_peak[i] == one.readouts["il6_peak"]


def test_a_crs_population_shows_the_car_t_dose_response():
    sc = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")
    var = {"rho": 0.3, "tumor_burden": 1.0}
    low = crsim.population(sc.replace(regimen=["tisagenlecleucel 3e5 cells/kg iv"]), 60, var, seed=2)
    high = crsim.population(sc, 60, var, seed=2)           # same patients, 10x the dose
    assert (high.max_grade >= low.max_grade).mean() > 0.9
    assert (high.max_grade >= 3).mean() > (low.max_grade >= 3).mean()
    assert high.onset_h.median() < low.onset_h.median()
    # and the tumor-burden effect inside one population
    big = high.tumor_burden > high.tumor_burden.median()
    assert high.il6_peak[big].median() > high.il6_peak[~big].median()


def test_bad_population_input_is_named():
    with pytest.raises(crsim.InputError, match=r"variability\['nope'\]"):
        crsim.population(TOCI, 5, {"nope": 0.3})
    with pytest.raises(crsim.InputError, match=r"variability\['CL'\].*omega >= 0"):
        crsim.population(TOCI, 5, {"CL": -0.3})
    with pytest.raises(crsim.InputError, match=r"^n = 0"):
        crsim.population(TOCI, 0, {"CL": 0.3})
    with pytest.raises(crsim.InputError, match="positive definite"):
        crsim.sample_parameters(TOCI, 5, {"CL": 0.3, "V1": 0.3, "Q": 0.3},
                                correlation={("CL", "V1"): 0.9, ("CL", "Q"): 0.9, ("V1", "Q"): -0.9})
    with pytest.raises(crsim.InputError, match=r"correlation\[\('CL', 'Km'\)\]"):
        crsim.population(TOCI, 5, {"CL": 0.3}, correlation={("CL", "Km"): 0.5})
    sc = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")
    with pytest.raises(crsim.InputError, match=r"variability\['body_weight'\].*body weight"):
        crsim.population(sc, 5, {"body_weight": 0.2})
    with pytest.raises(crsim.InputError, match=r"readouts = 'nope'"):
        crsim.population(TOCI, 2, {"CL": 0.3}, readouts=["nope"])


def test_population_files_round_trip_and_read_with_h5py(tmp_path):
    import h5py

    tab = crsim.population(TOCI, 30, {"CL": {"cv": 0.39}, "Vmax": {"cv": 0.54}},
                           correlation={("CL", "Vmax"): -0.5}, seed=9)
    path = tmp_path / "pop.h5"
    crsim.save_population(tab, path, TOCI)
    back = crsim.load_population(path)
    assert back.equals(tab)
    assert back.attrs["units"] == tab.attrs["units"] and back.attrs["seed"] == 9
    assert back.attrs["omega"] == pytest.approx(tab.attrs["omega"])
    np.testing.assert_array_equal(back.attrs["correlation"], tab.attrs["correlation"])
    with h5py.File(path, "r") as f:                       # plain h5py, no crsim
        assert f.attrs["format"] == "crsim-population" and f.attrs["schema_version"] == 1
        g = f["population"]
        np.testing.assert_array_equal(g["columns/C.auc"][()], tab["C.auc"].to_numpy())
        assert g["columns/C.auc"].attrs["unit"] == "h*mg/L" and g["columns/CL"].attrs["unit"] == "L/h"
        assert "pk2_mm" in g.attrs["scenario_json"]
    assert [p.name for p in tmp_path.iterdir()] == ["pop.h5"]   # no temporary left behind
    with pytest.raises(crsim.InputError, match="crsim population file"):
        crsim.save(crsim.simulate(TOCI), tmp_path / "result.h5")
        crsim.load_population(tmp_path / "result.h5")
    with pytest.raises(crsim.InputError, match="existing directory"):
        crsim.save_population(tab, tmp_path / "nope" / "pop.h5")


def test_failed_patients_keep_their_message_and_the_others_their_readouts():
    # a step budget near what the typical patient needs: some patients exceed it, some do not
    tab = crsim.population(TOCI.replace(solver=crsim.Solver(max_steps=265)), 40, {"Km": 2.0, "Vmax": 1.0}, seed=1)
    failed = tab["error"] != ""
    assert 0 < failed.sum() < len(tab)
    assert tab.loc[failed, "C.max"].isna().all() and tab.loc[~failed, "C.max"].notna().all()
    assert tab.loc[failed, "error"].str.contains("max_steps = 265").all()
    # the survivors are exactly the runs with the full budget
    full = crsim.population(TOCI, 40, {"Km": 2.0, "Vmax": 1.0}, seed=1)
    assert tab.loc[~failed, "C.auc"].to_numpy() == pytest.approx(full.loc[~failed, "C.auc"].to_numpy(), rel=1e-12)


def test_readouts_computed_in_the_engine_equal_those_of_each_patients_result(monkeypatch):
    # When every readout asked for is one the engine computes itself (ModelExtension.native_readouts,
    # dose counts, policy_firings), a population's runs are reduced to their readouts in the C++
    # threads and no trajectory reaches Python; the table must be the one the Results give, bit for
    # bit: every CRS readout, tumor at day 28, dose counts and firings of a triggered strategy, a
    # patient refused for a parameter outside its bounds
    from crsim.extensions.crs.readouts import NATIVE_READOUTS
    from crsim.run import batches
    sc = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")
    sc = sc.replace(policies=["astct_escalation"])
    wanted = list(NATIVE_READOUTS) + ["tocilizumab_doses", "dexamethasone_doses", "policy_firings"]
    assert batches.native_spec("crs", wanted) is not None
    var = {"rho": 0.9, "tumor_burden": 1.0}
    fast = crsim.population(sc, 14, var, seed=2, readouts=wanted)
    monkeypatch.setattr(batches, "native_spec", lambda model, wanted: None)
    slow = crsim.population(sc, 14, var, seed=2, readouts=wanted)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert fast.attrs["units"] == slow.attrs["units"]
    refused = fast.rho > 0.1
    assert 0 < refused.sum() < len(fast) and fast.max_grade[refused].isna().all()
    assert fast.tocilizumab_doses.max() >= 1 and fast.policy_firings.max() >= 1
    # a readout the engine does not compute (a Python summary) keeps the Result path
    assert batches.native_spec("crs", ["max_grade", "il6.max"]) is None
    assert batches.native_spec("pk2_mm", ["C.max"]) is None


def test_readouts_only_batch_checks_its_spec():
    from crsim import _core
    sc = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")
    from crsim.scenario.resolve import resolve_scenario
    core = resolve_scenario(sc).core
    for spec, field in (([("crs", "no_such")], r"spec\[0\]\[1\]"), ([("value_at", "nothing", 1.0)], r"spec\[0\]\[1\]"),
                        ([("dose_count", ["il6"])], None), ([("bogus",)], r"spec\[0\]")):
        if field is None:   # il6 is a state: a valid (empty) count
            values, status, _ = _core.simulate_batch_readouts("crs", [core], 1, spec)
            assert status == ["ok"] and values[0, 0] == 0.0
            continue
        with pytest.raises(crsim.InputError, match=field):
            _core.simulate_batch_readouts("crs", [core], 1, spec)
    with pytest.raises(crsim.InputError, match="only for the crs model"):
        _core.simulate_batch_readouts("pk2_mm", [], 1, [("crs", "max_grade")])


def test_a_streamed_population_merges_its_parts_block_by_block(tmp_path, monkeypatch):
    # The merge gathers whole blocks of rows from the parts (memory bounded by a block, not by n);
    # with blocks of 7 rows, parts of 5 and failed patients on both sides of block boundaries the
    # merged file must equal the table of the same population run in memory
    from crsim.run import popfile
    monkeypatch.setattr(popfile, "MERGE_BLOCK", 7)
    sc = crsim.Scenario.from_file(data_dir() / "scenarios" / "default.yaml")
    var = {"rho": 0.9, "tumor_burden": 1.0}
    table = crsim.population(sc, 23, var, seed=2, readouts=["max_grade", "il6_peak"], threads=1)
    assert 2 <= (table.error != "").sum() < 23          # rho outside its bounds for a few patients
    done = crsim.population(sc, 23, var, seed=2, readouts=["max_grade", "il6_peak"], threads=1,
                            output=tmp_path / "pop.h5", chunk_size=5)
    back = done.table()
    pd.testing.assert_frame_equal(back[table.columns], table, check_exact=True, check_dtype=False)
    import h5py
    with h5py.File(tmp_path / "pop.h5", "r") as f:
        assert f["population/columns/il6_peak"].chunks == (7,)
