"""Bad data and bad fit arguments raise crsim.InputError naming the field, the value and what is
allowed, before any optimisation."""
import numpy as np
import pandas as pd
import pytest

import crsim

DOSE = [crsim.Dose("depot", 100)]


def table(**changes):
    df = pd.DataFrame({"id": 1, "time_h": [0.5, 1.0, 2.0, 4.0, 8.0], "observable": "C",
                       "value": [1.0, 1.6, 1.8, 1.4, 0.9], "unit": "mg/L"})
    for k, v in changes.items():
        df[k] = v
    return df


def fit(df, **kw):
    args = dict(estimate=["ka", "CL", "V"], doses=DOSE)
    args.update(kw)
    return crsim.fit("pk1_oral", df, **args)


@pytest.mark.parametrize("df, pattern", [
    (table(observable=["C", "C", "Cp", "C", "C"]),
     r"data\.loc\[2, 'observable'\] = 'Cp' is not allowed: an observable \(or state\) of model pk1_oral"),
    (table(unit=["mg/L", "mg/L", "mg/L", "nmol/L", "mg/L"]),
     r"data\.loc\[3, 'unit'\] = 'nmol/L' is not allowed: a unit convertible to mg/L .*ng/mL"),
    (table(value=[1.0, np.nan, 1.8, 1.4, 0.9]),
     r"data\.loc\[1, 'value'\] = nan is not allowed: a number \(a missing value is allowed only on a censored"),
    (table(value=[1.0, "high", 1.8, 1.4, 0.9]),
     r"data\.loc\[1, 'value'\] = 'high' is not allowed: a number"),
    (table(time_h=[0.5, -1.0, 2.0, 4.0, 8.0]),
     r"data\.loc\[1, 'time_h'\] = -1 is not allowed: a finite time >= 0"),
    (table(time_h=[0.5, np.nan, 2.0, 4.0, 8.0]),
     r"data\.loc\[1, 'time_h'\] = nan is not allowed: a finite time >= 0"),
    (table(value=[1.0, 1.6, np.inf, 1.4, 0.9]),
     r"data\.loc\[2, 'value'\] = inf is not allowed: a finite number"),
    (table(lloq=[0.1, -0.1, 0.1, 0.1, 0.1]),
     r"data\.loc\[1, 'lloq'\] = -0.1 is not allowed"),
    (table(censored=[0, 0, "maybe", 0, 0]),
     r"data\.loc\[2, 'censored'\] = 'maybe' is not allowed: a flag"),
    (table().drop(columns="unit"), r"data\.columns = .* missing: unit"),
    (table().rename(columns={"time_h": "time"}), r"data\.columns = .*time_unit"),
    (table(time_d=1.0), r"data\.columns = .*exactly one time column"),
    (table(time=1.0, time_unit="fortnight").drop(columns="time_h"),
     r"data\.loc\[0, 'time_unit'\] = 'fortnight' is not allowed: a time unit"),
    (table(id=[1, 1, 2, 2, 2]), r"data\['id'\] = 2 subjects is not allowed: one subject, or by='id'"),
    (table(weight_kg=[70, 70, 71, 70, 70]), r"data\.loc\[2, 'weight_kg'\] = 71 is not allowed: one body weight"),
    (pd.DataFrame(), r"data = an empty table is not allowed"),
])
def test_bad_data(df, pattern):
    with pytest.raises(crsim.InputError, match=pattern):
        fit(df)


@pytest.mark.parametrize("kw, pattern", [
    (dict(estimate=["ka", "CLx"]), r"estimate\[1\] = 'CLx' is not allowed: a parameter of model pk1_oral "
                                  r"\(did you mean 'CL'\?\)"),
    (dict(estimate=["ka", "CL"], fixed={"CL": 2.0}),
     r"estimate\[1\] = 'CL' is not allowed: a parameter that is not fixed \(fixed\['CL'\] = 2.0\)"),
    (dict(fixed={"Vc": 2.0}), r"fixed\['Vc'\] = 2 is not allowed: a parameter of model pk1_oral"),
    (dict(estimate=["CL", "CL"]), r"estimate\[1\] = 'CL' is not allowed: each name once"),
    (dict(estimate=[]), r"estimate = \[\] is not allowed: at least one"),
    (dict(estimate=["C.b"]), r"estimate\[0\] = 'C.b' is not allowed: .*crsim.ErrorModel"),
    (dict(error_model="poisson"), r"error_model = 'poisson' is not allowed: one of \{additive, proportional"),
    (dict(error_model={"Cx": "additive"}), r"error_model = \['Cx'\] is not allowed: an error model for every "),
    (dict(method="nelder-mead"), r"method = 'nelder-mead' is not allowed: one of \{L-BFGS-B"),
    (dict(gradient="adjoint"), r"gradient = 'adjoint' is not allowed: one of \{sensitivities, fd\}"),
    (dict(bounds={"CL": (5.0, 1.0)}), r"bounds\['CL'\] = \(5.0, 1.0\) is not allowed: lower < upper"),
    (dict(bounds={"V1": (1.0, 5.0)}), r"bounds\['V1'\] = .* is not allowed: bounds of an estimated"),
    (dict(start={"CL": 50.0}, bounds={"CL": (0.1, 10.0)}),
     r"start\['CL'\] = 50 is not allowed: a starting value within the bounds \[0.1, 10\]"),
    (dict(start={"CL": -1.0}), r"start\['CL'\] = -1 is not allowed: a starting value > 0 for CL on the log"),
    (dict(starts=0), r"starts = 0 is not allowed"),
    (dict(solver={"rtoll": 1e-6}), r"solver\.rtoll = 1e-06 is not allowed"),
    (dict(method="least_squares"), r"method = 'least_squares' is not allowed: .*proportional"),
    (dict(by="subject"), r"by = 'subject' is not allowed: 'id'"),
])
def test_bad_arguments(kw, pattern):
    with pytest.raises(crsim.InputError, match=pattern):
        fit(table(), **kw)


def test_error_model_objects():
    with pytest.raises(crsim.InputError, match=r"ErrorModel\.b = 0.1 is not allowed: not a parameter of the "
                                               r"additive error model \(its parameters: a\)"):
        crsim.ErrorModel("additive", b=0.1)
    with pytest.raises(crsim.InputError, match=r"ErrorModel\.a = -1 is not allowed: a finite value > 0"):
        crsim.ErrorModel("combined", a=-1, b=0.1)
    with pytest.raises(crsim.InputError, match=r"ErrorModel\.a = None is not allowed: a value > 0 for the fixed"):
        crsim.ErrorModel("additive", estimate=False)
    with pytest.raises(crsim.InputError, match=r"ErrorModel\.estimate\[0\] = 'sigma' is not allowed"):
        crsim.ErrorModel("combined", estimate=["sigma"])


def test_lognormal_needs_positive_values():
    with pytest.raises(crsim.InputError, match=r"data\.loc\[3, 'value'\] = 0 is not allowed: a value > 0 "
                                               r"for the log-normal error model of C"):
        fit(table(value=[1.0, 1.6, 1.8, 0.0, 0.9]), error_model="lognormal")


def test_dose_sources_are_exclusive_and_doses_are_checked():
    with pytest.raises(crsim.InputError, match=r"doses\[0\]\.target = 'gut' is not allowed"):
        fit(table(), doses=[crsim.Dose("gut", 100)])
    with pytest.raises(crsim.InputError, match=r"weight = None is not allowed: a body weight > 0 kg, needed by "
                                               r"the per-kg dose"):
        fit(table(), doses=[crsim.Dose("depot", 1, unit="mg/kg")])
    recs = table(evid=0)
    recs = pd.concat([pd.DataFrame({"id": [1], "time_h": [0.0], "evid": [1], "amt": [100], "cmt": [1]}), recs],
                     ignore_index=True)
    with pytest.raises(crsim.InputError, match=r"doses = .* is not allowed: one source of doses; given: dose "
                                               r"records in the data and doses="):
        fit(recs)


def test_by_id_reports_bad_input_not_as_a_failed_subject():
    df = pd.concat([table(), table(id=2, unit=["mg/L"] * 4 + ["inch"])], ignore_index=True)
    with pytest.raises(crsim.InputError, match=r"data\.loc\[9, 'unit'\] = 'inch'"):
        fit(df, by="id")
