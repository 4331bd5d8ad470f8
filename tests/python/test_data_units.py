"""Observed data for fitting: unit conversion, the CSV loader, censoring rules and dose records."""
import math

import numpy as np
import pandas as pd
import pytest

import crsim
from crsim.fitting.data import prepare_data
from crsim.base.units import conversion_factor, convert_unit, unit_family


@pytest.mark.parametrize("src, dst, factor", [
    ("mg/L", "ug/mL", 1.0),            # 1 mg/L = 1 µg/mL
    ("ng/mL", "mg/L", 1e-3),
    ("µg/mL", "ng/mL", 1e3),           # micro sign
    ("μg/mL", "ng/mL", 1e3),           # Greek mu
    ("mcg/mL", "mg/L", 1.0),
    ("pg/mL", "ng/L", 1.0),
    ("ng/L", "pg/mL", 1.0),
    ("pg/mL", "ng/mL", 1e-3),
    ("mg/dL", "mg/L", 10.0),
    ("g/dL", "mg/L", 1e4),
    ("cells/uL", "cells/µL", 1.0),
    ("cells/mm3", "cells/uL", 1.0),
    ("cells/mL", "cells/uL", 1e-3),
    ("1e9/L", "cells/uL", 1e3),        # 1e9 cells per 1e6 uL
    ("x10^9/L", "1e9/L", 1.0),
    ("d", "h", 24.0),
    ("min", "h", 1 / 60),
    ("%", "1", 0.01),
])
def test_conversion_factors(src, dst, factor):
    assert conversion_factor(src, dst) == pytest.approx(factor, rel=1e-12)
    assert conversion_factor(dst, src) == pytest.approx(1 / factor, rel=1e-12)


def test_convert_arrays_and_families():
    np.testing.assert_allclose(convert_unit(np.array([1.0, 2.5]), "ng/mL", "pg/mL"), [1000.0, 2500.0])
    assert unit_family("pg/mL") == "mass concentration"
    assert unit_family("cells/uL") == "cell count per volume"
    assert unit_family("furlongs") is None
    # identical spellings convert even when not in the table
    assert conversion_factor("kDa", "kDa") == 1.0


@pytest.mark.parametrize("src, dst", [("ng/mL", "cells/uL"), ("nM", "ng/mL"), ("mg", "mg/L"),
                                      ("degF", "degC"), ("cells", "cells/uL")])
def test_unconvertible_units_name_the_allowed_ones(src, dst):
    with pytest.raises(crsim.InputError) as ex:
        conversion_factor(src, dst, "data.loc[3, 'unit']")
    msg = str(ex.value)
    assert msg.startswith(f"data.loc[3, 'unit'] = {src!r} is not allowed")
    assert dst in msg


def _pk_table(**extra):
    df = pd.DataFrame({"id": [1, 1, 1], "time_h": [1.0, 2.0, 4.0], "observable": "C",
                       "value": [1500.0, 1200.0, 800.0], "unit": "ng/mL"})
    for k, v in extra.items():
        df[k] = v
    return df


def test_values_converted_to_model_units():
    tab = crsim.check_data(_pk_table(lloq=[100.0, 100.0, 100.0]), "pk1")
    np.testing.assert_allclose(tab["value"], [1.5, 1.2, 0.8])          # mg/L
    np.testing.assert_allclose(tab["lloq"], [0.1, 0.1, 0.1])
    assert (tab["unit"] == "mg/L").all() and (tab["unit_data"] == "ng/mL").all()
    np.testing.assert_allclose(tab["value_data"], [1500.0, 1200.0, 800.0])
    assert not tab["censored"].any()


def test_time_columns():
    a = crsim.check_data(_pk_table(), "pk1")
    b = _pk_table().drop(columns="time_h")
    b["time_d"] = [1 / 24, 2 / 24, 4 / 24]
    c = _pk_table().drop(columns="time_h")
    c["time"] = [60.0, 2.0, 4.0]
    c["time_unit"] = ["min", "h", "hours"]
    for other in (b, c):
        np.testing.assert_allclose(crsim.check_data(other, "pk1")["time_h"], a["time_h"], rtol=1e-12)


def test_censoring_rules():
    df = pd.DataFrame({"time_h": [1.0, 2.0, 3.0, 4.0, 5.0], "observable": "C",
                       "value": [0.5, 0.05, np.nan, 0.2, 0.3], "unit": "mg/L",
                       "lloq": [0.1, 0.1, 0.1, np.nan, np.nan],
                       "censored": [0, 0, 1, 1, "no"]})
    tab = crsim.check_data(df, "pk1")
    # row 1: below its lloq -> censored at the lloq; row 2: missing value, flagged, with lloq;
    # row 3: flagged without lloq -> the value is the limit (NONMEM DV = LLOQ).
    assert list(tab["censored"]) == [False, True, True, True, False]
    np.testing.assert_allclose(tab["limit"].to_numpy()[1:4], [0.1, 0.1, 0.2])
    assert math.isnan(tab["limit"].iloc[0])


def test_csv_loader_indexes_by_line(tmp_path):
    p = tmp_path / "obs.csv"
    p.write_text("ID,TIME_H,OBSERVABLE,DV,UNIT\n1,1,C,1.0,mg/L\n1,2,C,0.8,mg/L\n1,4,C,0.5,furlong\n")
    df = crsim.read_data(p)
    assert list(df.index) == [2, 3, 4]
    with pytest.raises(crsim.InputError, match=r"data\.loc\[4, 'UNIT'\] \(line 4 of .*obs\.csv'\) = "
                                               r"'furlong' is not allowed: a unit convertible to mg/L"):
        crsim.check_data(df, "pk1")
    with pytest.raises(crsim.InputError, match="path"):
        crsim.read_data(tmp_path / "missing.csv")


def test_concatenated_tables_are_named_by_position():
    df = pd.concat([_pk_table(), _pk_table(id=2).assign(unit=["ng/mL", "mg/L", "parsec"])])
    with pytest.raises(crsim.InputError, match=r"data\.iloc\[5\]\['unit'\] = 'parsec'"):
        crsim.check_data(df, "pk1")


def test_dose_records_in_the_data():
    df = pd.DataFrame({
        "id": [1, 1, 1, 2, 2, 2],
        "time_d": [0, 1, 2, 0, 1, 2],
        "evid": [1, 0, 0, 1, 0, 0],
        "amt": [100, ".", ".", 3, ".", "."],
        "cmt": ["depot", ".", ".", 1, ".", "."],
        "amt_unit": ["mg", "", "", "mg/kg", "", ""],
        "ii": [0.5, np.nan, np.nan, 0, np.nan, np.nan],   # days, like the time column
        "addl": [1, 0, 0, 0, 0, 0],
        "observable": [np.nan, "C", "C", np.nan, "C", "C"],
        "value": [np.nan, 0.5, 0.2, np.nan, 0.4, 0.1],
        "unit": [np.nan, "mg/L", "mg/L", np.nan, "mg/L", "mg/L"],
        "weight_kg": [70, 70, 70, 60, 60, np.nan],
    })
    fd = prepare_data(df, crsim.Model("pk1_oral"))
    assert fd.ids == [1, 2] and len(fd.table) == 4
    d1, d2 = fd.doses[1], fd.doses[2]
    assert len(d1) == 1 and d1[0].target == "depot" and d1[0].amount == 100
    assert d1[0].additional == 1 and d1[0].interval == pytest.approx(12.0)
    assert d2[0].unit == "mg/kg" and d2[0].amount == 3
    assert fd.weights == {1: 70.0, 2: 60.0}
    np.testing.assert_allclose(fd.table["time_h"], [24.0, 48.0, 24.0, 48.0])
