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


# --- several administrations, per-m² amounts, continuous infusions as a daily rate (issue 13) ----

def test_parts_separated_by_semicolons_inherit_drug_route_and_unit():
    table = {"mosunetuzumab iv": "tce_central", "dexamethasone po": "dex_depot", "iv": "central"}
    a, b, c = parse_regimen("mosunetuzumab 1 mg iv over 4h day 1; 2 mg day 8; 60 mg over 2h day 15",
                            targets=table)
    assert [(d.target, d.amount, d.unit, d.time) for d in (a, b, c)] == [
        ("tce_central", 1.0, "mg", 24.0), ("tce_central", 2.0, "mg", 192.0),
        ("tce_central", 60.0, "mg", 360.0)]
    # infusion duration, repeats and start belong to the part that writes them
    assert (a.duration, b.duration, c.duration) == (4.0, None, 2.0)
    # a later part naming its own drug and route; a bare number takes the first part's unit
    d1, d2, d3 = parse_regimen("mosunetuzumab 0.02 mg/kg iv; dexamethasone 10 mg po day 2; 0.04 day 7",
                               targets=table)
    assert (d2.target, d2.unit, d2.amount, d2.time) == ("dex_depot", "mg", 10.0, 48.0)
    assert (d3.target, d3.unit, d3.amount, d3.time) == ("tce_central", "mg/kg", 0.04, 168.0)
    # an explicit target serves every part; repeats inside one part
    doses = parse_regimen("10 mg iv q6h x4; 5 mg q12h x2 day 1", target="x")
    assert [(d.target, d.additional, d.interval) for d in doses] == [("x", 3, 6.0), ("x", 1, 12.0)]


def test_day_d_is_d_times_24_h_from_t0():
    assert [d.time for d in parse_regimen("1 mg iv day 0; 1 mg day 1; 1 mg day 7.5")] == [0.0, 24.0, 180.0]
    assert parse_regimen("1 mg iv")[0].time == 0.0


def test_per_m2_amounts_and_daily_rates():
    d = one("375 mg/m2 iv over 4h")
    assert (d.amount, d.unit, d.duration) == (375.0, "mg/m2", 4.0) and d.per_m2 and not d.per_kg
    assert one("375 mg/m² iv").unit == "mg/m2"
    # a continuous infusion: rate x duration over the duration (9 ug/day x 7 d = 63 ug over 168 h)
    d = one("blinatumomab 9 ug/day iv for 7 d", targets={"blinatumomab": "central"})
    assert (d.target, d.unit, d.duration, d.rate) == ("central", "mg", 168.0, None)
    assert d.amount == pytest.approx(0.063, rel=1e-12)
    d = one("15 ug/m2/day iv over 21 d max 28 ug/day")
    assert (d.unit, d.duration) == ("mg/m2", 504.0)
    assert d.amount == pytest.approx(0.015 * 21, rel=1e-12)
    assert d.cap == pytest.approx(0.028 * 21, rel=1e-12)     # a daily-rate cap over the 21 days
    d = one("0.5 mg/h iv for 90 min")
    assert (d.amount, d.duration) == (pytest.approx(0.75), 1.5)
    # several infusions of a step-up, the unit inherited by bare numbers
    doses = parse_regimen("5 ug/m2/day iv for 7 d; 15 for 7 d day 7; 60 for 14 d day 14")
    assert [d.unit for d in doses] == ["mg/m2"] * 3
    assert [d.amount for d in doses] == pytest.approx([0.035, 0.105, 0.84], rel=1e-12)
    assert [(d.time, d.duration) for d in doses] == [(0.0, 168.0), (168.0, 168.0), (336.0, 336.0)]


@pytest.mark.parametrize("text, token, what", [
    ("1 mg iv; 2 mg banana", "banana", "unexpected token"),
    ("1 mg iv;; 2 mg", None, "empty part"),
    ("1 mg iv; day 8", None, "no amount"),
    ("9 ug/day iv", None, "how long it runs"),
    ("1 mg iv for 4h", "for 4h", "only after a rate"),
    ("9 ug/day iv for 7 d at 1 mg/h", "at 1 mg/h", "already given as a rate"),
    ("15 ug/m2/day iv for 7 d max 1 mg", "max 1 mg", "cap as a rate"),
    ("375 mg/m2 iv max 800 mg/m2", "max 800 mg/m2", "a cap in mg"),
    ("1 mg iv over 0 h", "over 0 h", "duration > 0"),
    ("1 mg iv q0h x3", "q0h", "interval > 0"),
])
def test_bad_parts_name_the_field_and_point_into_the_whole_text(text, token, what):
    with pytest.raises(crsim.InputError) as err:
        parse_regimen(text, field="regimen[4]")
    msg = str(err.value)
    assert msg.startswith(f"regimen[4] = '{text}' is not allowed") and what in msg
    assert err.value.field == "regimen[4]"
    if token:  # the caret points at the token's position in the whole text
        pos = text.index(token)
        assert f"at position {pos}\n" in msg
        assert msg.splitlines()[2] == "    " + " " * pos + "^"


def test_natural_phrasings_of_the_start_and_small_units():
    """`at day 3`, `on day 3` and `from day 3` are `day 3`; ng and g are amounts like mg."""
    ref = parse_regimen("tocilizumab 8 mg/kg iv day 3")[0]
    for words in ("at day 3", "on day 3", "from day 3"):
        d = parse_regimen(f"tocilizumab 8 mg/kg iv {words}")[0]
        assert (d.time, d.amount, d.unit) == (ref.time, ref.amount, ref.unit) == (72.0, 8.0, "mg/kg")
    assert parse_regimen("blinatumomab 28000 ng/day iv for 7 d", target="c")[0].amount == \
        pytest.approx(parse_regimen("blinatumomab 28 ug/day iv for 7 d", target="c")[0].amount)
    assert parse_regimen("tocilizumab 0.56 g iv")[0].amount == pytest.approx(560.0)
    assert parse_regimen("10 ng iv", target="c")[0].amount == pytest.approx(1e-5)


def test_multi_word_drug_names():
    """A drug named in several words is looked up by all of them; a word too many is an error
    naming the whole name, not silently dropped."""
    table = {"axicabtagene ciloleucel": "car_t_effector", "tocilizumab": "tocilizumab_central"}
    d = parse_regimen("axicabtagene ciloleucel 2e6 cells/kg iv", targets=table)[0]
    assert (d.target, d.amount, d.unit) == ("car_t_effector", 2e6, "cells/kg")
    with pytest.raises(crsim.InputError, match="tocilizumab bogus"):
        parse_regimen("tocilizumab bogus 8 mg/kg iv", targets=table)
    # with the model's names: a CAR-T product in cells is a CAR-T dose whatever its name
    sc = crsim.Scenario("crs", name="axi", parameter_set="crs_axicabtagene_lbcl",
                        patient={"weight_kg": 70}, regimen=["axicabtagene ciloleucel 2e6 cells/kg iv"])
    assert sc is not None
