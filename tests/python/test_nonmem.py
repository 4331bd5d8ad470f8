"""NONMEM-style event tables: conversion to Dose objects (ADDL/II, RATE, DUR, CMT by number or
name, observation rows), equivalence with Dose objects in simulation, and rejected rows."""
import numpy as np
import pandas as pd
import pytest

import crsim
from pkref import TwoCmt, max_rel_err

TIGHT = dict(rtol=1e-10, atol=1e-12)
REF2 = TwoCmt(0.0125, 3.5, 0.00833, 2.9)


def table():
    return pd.DataFrame({
        "ID":   [1, 1, 1, 1, 1],
        "TIME": [0.0, 0.0, 24.0, 48.0, 500.0],
        "AMT":  [0.0, 200.0, 100.0, 50.0, 0.0],
        "CMT":  [1, 1, "central", 2, 1],
        "EVID": [0, 1, 1, 1, 0],
        "RATE": [0.0, 100.0, 0.0, np.nan, 0.0],
        "DUR":  [0.0, 0.0, 0.0, 5.0, 0.0],
        "II":   [0.0, 0.0, 168.0, 0.0, 0.0],
        "ADDL": [0, 0, 2, 0, 0],
        "SS":   [0, 0, 0, 0, 0],
        "DV":   [0.0, np.nan, np.nan, np.nan, 1.3],
    })


EXPECTED = [
    crsim.Dose("central", 200, time=0, rate=100),
    crsim.Dose("central", 100, time=24, additional=2, interval=168),
    crsim.Dose("peripheral", 50, time=48, duration=5),
]


def test_table_converts_to_doses_and_observation_times():
    doses, obs = crsim.doses_from_nonmem(table(), "pk2", return_observation_times=True)
    assert doses == EXPECTED
    np.testing.assert_array_equal(obs, [0.0, 500.0])


def test_column_names_are_case_insensitive():
    df = table().rename(columns=str.lower)
    assert crsim.doses_from_nonmem(df, crsim.Model("pk2")) == EXPECTED


def test_table_and_dose_objects_simulate_identically():
    t = np.linspace(0.5, 24 * 30, 100)
    a = crsim.simulate("pk2", times=t, doses=table(), **TIGHT)
    b = crsim.simulate("pk2", times=t, doses=EXPECTED, **TIGHT)
    np.testing.assert_array_equal(a.states, b.states)
    assert len(a.doses) == 5  # 1 + 3 (ADDL 2) + 1


def test_table_against_closed_form():
    # ADDL/II and RATE: 100 mg over 2 h (RATE 50) daily x3, central compartment.
    df = pd.DataFrame({"TIME": [0.0], "AMT": [100.0], "CMT": [1], "EVID": [1], "RATE": [50.0],
                       "II": [24.0], "ADDL": [2]})
    t = np.linspace(0.25, 24 * 10, 80)
    r = crsim.simulate("pk2", times=t, doses=df, **TIGHT)
    expected = sum(50 * (REF2.infusion(t - s) - REF2.infusion(t - s - 2)) for s in (0, 24, 48))
    assert max_rel_err(r["C"], expected) < 1e-6


def test_unit_applies_to_every_row():
    doses = crsim.doses_from_nonmem(table(), "pk2", unit="mg/kg")
    assert {d.unit for d in doses} == {"mg/kg"}


def bad(**changes):
    df = pd.DataFrame({"TIME": [0.0, 12.0], "AMT": [0.0, 100.0], "CMT": [1, 1], "EVID": [0, 1],
                       "RATE": [0.0, 0.0], "DUR": [0.0, 0.0], "II": [0.0, 0.0], "ADDL": [0, 0],
                       "SS": [0, 0]}, index=[10, 11])
    for col, value in changes.items():
        df[col] = df[col].astype(object)
        df.loc[11, col] = value
    return df


@pytest.mark.parametrize("changes, column, words", [
    (dict(EVID=4), "EVID", "reset"),
    (dict(EVID=3), "EVID", "reset"),
    (dict(SS=1), "SS", "steady-state"),
    (dict(RATE=-1), "RATE", "-1/-2"),
    (dict(RATE=-2), "RATE", "-1/-2"),
    (dict(RATE=-5), "RATE", ">= 0"),
    (dict(RATE=10, DUR=2), "RATE", "not both"),
    (dict(DUR=-1), "DUR", ">= 0"),
    (dict(CMT=3), "CMT", "1..2"),
    (dict(CMT="liver"), "CMT", "central"),
    (dict(AMT=np.nan), "AMT", "finite amount"),
    (dict(AMT=-3), "AMT", ">= 0"),
    (dict(ADDL=2), "II", "interval > 0"),
    (dict(ADDL=1.5), "ADDL", "integer"),
    (dict(TIME=np.nan), "TIME", "finite time"),
])
def test_bad_rows_name_the_cell(changes, column, words):
    with pytest.raises(crsim.InputError) as err:
        crsim.doses_from_nonmem(bad(**changes), "pk2")
    assert isinstance(err.value, ValueError)
    msg = str(err.value)
    # the row by position and index label, the column as spelled in the table; no pandas syntax
    assert f"table row 2 (index 11), column '{column}'" in msg and words in msg
    assert err.value.field == f"table row 2 (index 11), column '{column}'"
    assert ".loc" not in msg


def test_non_dosable_cmt_rejected():
    df = pd.DataFrame({"TIME": [0.0], "AMT": [1.0], "CMT": [3], "EVID": [1]})
    with pytest.raises(crsim.InputError, match=r"table row 1 \(index 0\), column 'CMT'.*eliminated_linear"):
        crsim.doses_from_nonmem(df, "pk2_mm")


def test_missing_columns_and_several_subjects_rejected():
    with pytest.raises(crsim.InputError, match="missing: EVID"):
        crsim.doses_from_nonmem(pd.DataFrame({"TIME": [0], "AMT": [1], "CMT": [1]}), "pk2")
    df = table()
    df.loc[4, "ID"] = 2
    with pytest.raises(crsim.InputError, match="single subject"):
        crsim.doses_from_nonmem(df, "pk2")
    with pytest.raises(crsim.InputError, match="DataFrame"):
        crsim.doses_from_nonmem([{"TIME": 0}], "pk2")


def test_bad_table_passed_to_simulate_names_the_doses_argument():
    """Through simulate(doses=...) the message names the user's argument `doses`, the row, the
    column as the user spelled it, the value and what is allowed (issue 18)."""
    df = bad(AMT=-3).rename(columns={"AMT": "Amt"})
    with pytest.raises(crsim.InputError) as err:
        crsim.simulate("pk2", times=[1.0, 2.0], doses=df)
    assert str(err.value) == ("doses row 2 (index 11), column 'Amt' = -3 is not allowed: "
                              "a finite amount >= 0 mg")
    assert err.value.field == "doses row 2 (index 11), column 'Amt'"
    with pytest.raises(crsim.InputError, match=r"^doses row 2 \(index 11\), column 'EVID' = 4 is not "
                       r"allowed: 0 \(observation\), 1 \(dose\) or 2 .*reset"):
        crsim.simulate("pk2", times=[1.0, 2.0], doses=bad(EVID=4))


def test_table_from_a_file_names_the_file(tmp_path):
    path = tmp_path / "doses.csv"
    bad(CMT="liver").to_csv(path, index=False)
    df = pd.read_csv(path)
    df.attrs["source"] = str(path)
    with pytest.raises(crsim.InputError) as err:
        crsim.simulate("pk2", times=[1.0, 2.0], doses=df)
    assert str(err.value).startswith(f"doses row 2 (index 1) of file '{path}', column 'CMT' = 'liver' "
                                     "is not allowed: a state number 1..2 or a state name of model pk2")
    with pytest.raises(crsim.InputError, match=r"^doses of file .*doses.csv' columns = .* missing: EVID"):
        crsim.simulate("pk2", times=[1.0], doses=df.drop(columns="EVID"))


def test_fit_dose_table_rows_named_in_the_whole_table():
    """A fit's per-subject dose table names a bad row by its position in the table given, not in
    the subject's subset."""
    data = pd.DataFrame({"id": [1, 2], "time_h": [1.0, 1.0], "observable": ["C", "C"],
                         "value": [1.0, 1.0], "unit": ["mg/L", "mg/L"]})
    doses = pd.DataFrame({"ID": [1, 2, 2], "TIME": [0.0, 0.0, 5.0], "AMT": [100.0, 100.0, -1.0],
                          "CMT": [1, 1, 1], "EVID": [1, 1, 1]})
    with pytest.raises(crsim.InputError, match=r"^doses row 3 \(index 2\), column 'AMT' = -1 is not allowed"):
        crsim.fit("pk1", data, estimate=["CL"], doses=doses, pooled=True)


def test_dose_records_in_a_data_file_name_the_file_line_and_column(tmp_path):
    """Dose records inside observed data are named like every other cell of the data: the column as
    spelled in the file and the file's line (they named 'AMT', a column the file does not have)."""
    path = tmp_path / "obs.csv"
    path.write_text("id,time_h,observable,value,unit,evid,Amt,cmt\n"
                    "1,0,,,,1,-1,central\n"
                    "1,1,C,1.0,mg/L,0,,\n")
    with pytest.raises(crsim.InputError) as err:
        crsim.check_data(crsim.read_data(path), "pk1")
    assert str(err.value) == (f"data.loc[2, 'Amt'] (line 2 of '{path}') = -1 is not allowed: "
                              "a finite amount >= 0 mg")
