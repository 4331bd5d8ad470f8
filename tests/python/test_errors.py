"""Every documented bad input raises crsim.InputError (a ValueError) naming the field, the value and
what is allowed; integration failures raise crsim.SolverError (a RuntimeError) naming the time."""
import math

import numpy as np
import pytest

import crsim

T = np.linspace(0.5, 24, 10)


def dose(**kw):
    return crsim.Dose(**{"target": "central", "amount": 10.0, **kw})


CASES = {
    "unknown model": (dict(model="pk9"), "model", ["'pk9'", "pk2_mm"]),
    "model of wrong type": (dict(model=3), "model", ["3", "pk1"]),
    "unknown parameter": (dict(parameters={"CLX": 1.0}), "parameters", ["'CLX'", "CL, V"]),
    "parameter out of bounds": (dict(parameters={"CL": -1.0}), "parameters.CL", ["-1", "[0, 2000]", "L/h"]),
    "parameter NaN": (dict(parameters={"V": math.nan}), "parameters.V", ["nan", "finite"]),
    "parameter not a number": (dict(parameters={"V": "big"}), "parameters.V", ["'big'", "a number"]),
    "negative dose": (dict(doses=[dose(amount=-1.0)]), "doses[0].amount", ["-1", ">= 0 mg"]),
    "NaN dose": (dict(doses=[dose(), dose(amount=math.nan)]), "doses[1].amount", ["nan", ">= 0"]),
    "dose amount a string": (dict(doses=[dose(amount="ten")]), "doses[0].amount", ["'ten'"]),
    "dose before t_start": (dict(doses=[dose(time=-1.0)]), "doses[0].time", ["-1", ">= the simulation start"]),
    "dose rate and duration": (dict(doses=[dose(rate=1.0, duration=2.0)]), "doses[0].rate", ["not both"]),
    "repeats without interval": (dict(doses=[dose(additional=2)]), "doses[0].interval", ["interval > 0"]),
    "non-dosable state": (dict(model="pk2_mm", doses=[dose(target="eliminated_mm")]), "doses[0].target",
                          ["'eliminated_mm'", "takes doses", "central"]),
    "unknown dose target": (dict(doses=[dose(target="liver")]), "doses[0].target", ["'liver'", "central"]),
    "wrong dose unit": (dict(doses=[dose(unit="g")]), "doses[0].unit", ["'g'", "'mg', 'mg/kg' or 'mg/m2'"]),
    "cells into a mg state": (dict(doses=[dose(unit="cells/kg")]), "doses[0].unit", ["'cells/kg'", "'mg/kg'"]),
    "per-kg dose without weight": (dict(doses=[dose(unit="mg/kg")]), "weight", ["None", "per-kg dose doses[0]"]),
    "zero cap": (dict(doses=[dose(cap=0)]), "doses[0].cap", ["0", "cap > 0"]),
    "not a dose": (dict(doses=[42]), "doses[0]", ["42", "crsim.Dose"]),
    "negative weight": (dict(weight=-70), "weight", ["-70", "> 0 kg"]),
    "non-increasing times": (dict(times=[1.0, 2.0, 2.0, 3.0]), "times[2]", ["2", "strictly increasing"]),
    "NaN time": (dict(times=[1.0, math.nan]), "times[1]", ["nan", "finite time"]),
    "time before t_start": (dict(times=[0.0, 1.0], t_start=0.5), "times[0]", ["0", ">= t_start"]),
    "empty times": (dict(times=[]), "times", ["at least one output time"]),
    "2-D times": (dict(times=[[1.0, 2.0]]), "times", ["1-D"]),
    "text times": (dict(times="0:24"), "times", ["'0:24'", "1-D"]),
    "times and days": (dict(times=[1.0], days=2), "days", ["2", "None when times are given"]),
    "days zero": (dict(times=None, days=0), "days", ["0", "> 0"]),
    "rtol too large": (dict(rtol=1.5), "rtol", ["1.5", "[1e-14, 1)"]),
    "rtol too small": (dict(rtol=1e-20), "rtol", ["1e-20", "[1e-14, 1)"]),
    "atol zero": (dict(atol=0.0), "atol", ["0", "> 0"]),
    "max_steps zero": (dict(max_steps=0), "max_steps", ["0", "> 0"]),
    "max_steps fractional": (dict(max_steps=2.5), "max_steps", ["2.5", "integer"]),
    "unknown method": (dict(method="euler"), "method", ["'euler'", "rosenbrock4, dopri5"]),
    "unknown initial state": (dict(initial={"gut": 1.0}), "initial", ["'gut'", "central"]),
    "NaN initial value": (dict(initial={"central": math.nan}), "initial.central", ["nan", "finite"]),
    "unknown sensitivity": (dict(sensitivities=["Vmax"]), "sensitivities[0]", ["'Vmax'", "CL, V"]),
    "t_start NaN": (dict(t_start=math.nan), "t_start", ["nan", "finite"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_raises_input_error_naming_the_field(name):
    kwargs, field, fragments = CASES[name]
    kwargs = {"model": "pk1", "times": T, "doses": [dose()], **kwargs}
    with pytest.raises(crsim.InputError) as err:
        crsim.simulate(**kwargs)
    assert isinstance(err.value, ValueError)
    msg = str(err.value)
    assert msg.startswith(field + " = ") or f"{field} = " in msg, msg
    assert "is not allowed" in msg
    for f in fragments:
        assert f in msg, (f, msg)


def test_input_error_has_field_attribute_from_cpp_and_python():
    with pytest.raises(crsim.InputError) as err:
        crsim.simulate("pk1", times=[1.0, 0.5])
    assert err.value.field == "times[1]"
    with pytest.raises(crsim.InputError) as err:
        crsim.simulate("pk1", times=T, doses=[dose(unit="g")])
    assert err.value.field == "doses[0].unit"


def test_model_lookup_errors():
    with pytest.raises(crsim.InputError, match="model = 'nope'"):
        crsim.Model("nope")
    with pytest.raises(ValueError):
        crsim.Model("nope")


def test_exception_classes():
    assert issubclass(crsim.InputError, ValueError)
    assert issubclass(crsim.SolverError, RuntimeError)
    assert crsim.InputError is crsim._core.InputError
    assert crsim.SolverError is crsim._core.SolverError


def test_max_steps_exhaustion_raises_solver_error_naming_the_time():
    with pytest.raises(crsim.SolverError) as err:
        crsim.simulate("pk2_mm", times=np.linspace(0, 24 * 56, 57),
                       doses=[crsim.Dose("central", 560, duration=1)], max_steps=20)
    assert isinstance(err.value, RuntimeError)
    msg = str(err.value)
    assert "max_steps = 20" in msg and "solver failed at t = " in msg
    t = err.value.time_reached
    assert 0 < t < 24 * 56
    assert f"t = {t:.10g} h" in msg


def test_nonstiff_method_on_a_stiff_problem_fails_with_solver_error():
    with pytest.raises(crsim.SolverError, match="at t = "):
        crsim.simulate("robertson", times=[1.0, 40.0], method="dopri5", max_steps=2000,
                       rtol=1e-6, atol=1e-10)
