"""The regimen text grammar: each form parses into the Dose the engine would take, and a bad token
raises InputError pointing at it."""
import numpy as np
import pytest

import crsim
from crsim.spec.regimen import parse_regimen


def one(text, **kw):
    doses = parse_regimen(text, **kw)
    assert len(doses) == 1
    return doses[0]


def test_tocilizumab_label_dose():
    d = one("8 mg/kg iv over 1h max 800mg")
    assert (d.target, d.amount, d.unit, d.duration, d.cap) == ("central", 8.0, "mg/kg", 1.0, 800.0)
    assert d.additional == 0


def test_repeats_units_and_start():
    d = one("tocilizumab 8 mg/kg IV over 60 min q8h x3 max 800 mg day 2", targets={"tocilizumab": "central"})
    assert d.duration == pytest.approx(1.0)
    assert (d.interval, d.additional, d.time) == (8.0, 2, 48.0)
    d = one("10 mg iv every 6 h 4 doses at 12h")
    assert (d.interval, d.additional, d.time) == (6.0, 3, 12.0)
    d = one("100 mg iv q4w x2")
    assert d.interval == 24 * 28 and d.additional == 1


def test_amount_units_convert_to_mg_and_cells():
    assert one("0.5 g iv").amount == pytest.approx(500.0)
    assert one("250 mcg iv").amount == pytest.approx(0.25)
    d = one("2e6 cells/kg iv", target="car_t")
    assert (d.amount, d.unit, d.target) == (2e6, "cells/kg", "car_t")


def test_rate_lag_bioavailability_route():
    d = one("500 mg po lag 0.5h F 0.8")
    assert (d.target, d.lag, d.bioavailability) == ("depot", 0.5, 0.8)
    d = one("560 mg iv at 280 mg/h")
    assert d.rate == 280.0 and d.duration is None


@pytest.mark.parametrize("text, token", [
    ("8 mg/kg iv over 1h maximum", "maximum"),
    ("8 mg/kg iv banana", "banana"),
    ("8 mg/kg iv q8h", None),            # interval without count
    ("8 mg/kg iv x3", None),             # count without interval
    ("8 mg/kg iv max 800 cells", None),  # cap in the wrong unit
    ("iv over 1h", None),                # no amount
    ("8 mg/kg iv iv", "iv"),             # route twice
    ("8 mg/kg", None),                   # no route, no target
    ("", None),
])
def test_bad_regimens_point_at_the_problem(text, token):
    with pytest.raises(crsim.InputError) as err:
        parse_regimen(text)
    assert "regimen" in str(err.value)
    if token:
        assert token in str(err.value)


def test_parsed_regimen_simulates_like_the_objects():
    text_doses = parse_regimen("8 mg/kg iv over 1h q4w x2 max 800mg")
    obj = crsim.Dose("central", 8, unit="mg/kg", duration=1, additional=1, interval=672, cap=800)
    times = np.linspace(0, 24 * 60, 61)
    a = crsim.simulate("pk2", doses=text_doses, weight=120, times=times)
    b = crsim.simulate("pk2", doses=[obj], weight=120, times=times)
    np.testing.assert_array_equal(a.states, b.states)
    assert a.observables[1:, 0].max() == pytest.approx(b.observables[1:, 0].max())
