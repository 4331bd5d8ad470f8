"""Fuzz suite (issue 18): crsim on input it did not write.

Seven kinds of input: scenario files, regimen text, NONMEM-style dose tables, observed-data files,
policies, parameter vectors within the models' bounds (one target each for the pk, crs and tce
models) and damaged results files. The property for every input: a finite result (no NaN, no
negative state: every state of the built-in models is an amount, count, concentration or fraction)
or a crsim.InputError / crsim.SolverError (for results files crsim.IoError) with a message; never
another exception, a hang (each example has a deadline: the engine is stopped through
crsim._core.request_interrupt, Python code through SIGALRM) or a crash (the process would die and
the test run with it).

Deterministic: hypothesis with ``derandomize=True`` and no example database, so every run tries
the same inputs. The CI run is a few hundred examples per target (about a minute on 2 cores);
the long run is one command (docs/reliability.md, "Fuzz suite")::

    CRSIM_FUZZ_EXAMPLES=10000 CRSIM_FUZZ_REPORT=fuzz.json python -m pytest tests/python/test_fuzz.py

``CRSIM_FUZZ_REPORT`` records, per target, the inputs tried, results, clean errors and failures by
kind in a JSON file; with ``CRSIM_FUZZ_COLLECT=1`` failures are counted there instead of stopping
the test at the first one.
"""
from __future__ import annotations

import collections
import contextlib
import json
import math
import os
import signal
import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import crsim  # noqa: E402
from crsim import _core  # noqa: E402

EXAMPLES = int(os.environ.get("CRSIM_FUZZ_EXAMPLES", "0"))
REPORT = os.environ.get("CRSIM_FUZZ_REPORT")
COLLECT = os.environ.get("CRSIM_FUZZ_COLLECT") == "1"
#: seconds one example may take before it counts as a hang
DEADLINE_S = float(os.environ.get("CRSIM_FUZZ_DEADLINE", "20"))
#: parameter vectors also at the models' bounds (one value in seven); on by default since the models
#: have physiological bounds (issue 18), ``CRSIM_FUZZ_BOUNDS=0`` leaves them out
AT_BOUNDS = os.environ.get("CRSIM_FUZZ_BOUNDS", "1") == "1"


def _settings(ci_examples: int):
    return settings(max_examples=EXAMPLES or ci_examples, derandomize=True, database=None,
                    deadline=None, print_blob=False,
                    suppress_health_check=list(HealthCheck))


# --- the property -------------------------------------------------------------------------------
class Hang(Exception):
    """An example ran past DEADLINE_S."""


_STATS: dict = collections.defaultdict(lambda: collections.Counter())
_FAILURES: dict = collections.defaultdict(lambda: collections.Counter())
_EXAMPLES: dict = collections.defaultdict(list)  # the first failures of each target, for the report
_ERRORS: dict = collections.defaultdict(lambda: collections.defaultdict(list))  # SolverErrors by kind


def _solver_error_kind(message: str) -> str:
    """The kind of a SolverError for the report: what failed and whether at the start of the run
    (t < 1e-6 h) or later."""
    for key in ("step size underflow", "too much work", "step size adjustment failed",
                "became non-finite", "is not finite"):
        if key in message:
            break
    else:
        key = "other"
    try:
        t = float(message.split("failed at t = ", 1)[1].split(" ", 1)[0])
        where = "at the start" if t < 1e-6 else "later"
    except (IndexError, ValueError):
        where = "time unknown"
    return f"{key}, {where}"


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Stops the example after ``seconds``: a C++ run through the engine's interrupt flag (the run
    ends in KeyboardInterrupt), Python code through SIGALRM."""
    fired = threading.Event()

    def stop_engine():
        fired.set()
        _core.request_interrupt()

    def alarm(signum, frame):
        fired.set()
        raise Hang(f"no answer within {seconds:g} s")

    timer = threading.Timer(seconds, stop_engine)
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds + 1.0)
    timer.start()
    try:
        yield
    except KeyboardInterrupt:
        if fired.is_set():
            raise Hang(f"no answer within {seconds:g} s (engine stopped)") from None
        raise
    finally:
        timer.cancel()
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, old)


def _check_arrays(name: str, values: np.ndarray, nonnegative: bool) -> None:
    v = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(v)):
        raise AssertionError(f"{name}: non-finite values without an error")
    if nonnegative and v.size:
        # solvers undershoot zero by rounding and tolerance: allow 1e-6 of the column's scale
        scale = np.max(np.abs(v), axis=0) if v.ndim > 1 else np.max(np.abs(v))
        if np.any(v < -(1e-6 * scale + 1e-9)):
            raise AssertionError(f"{name}: negative values without an error (min {v.min():.3g})")


def _check_result(r) -> None:
    _check_arrays("times", r.times, False)
    _check_arrays("states", r.states, True)
    obs = np.asarray(r.observables, dtype=float)
    if not np.all(np.isfinite(obs)):
        raise AssertionError("observables: non-finite values without an error")


def run_target(target: str, fn, check=_check_result, allowed=(crsim.InputError, crsim.SolverError)):
    """Runs ``fn`` under the deadline and checks the property; counts the outcome for the report."""
    stats = _STATS[target]
    stats["inputs"] += 1
    if REPORT and stats["inputs"] % 250 == 0:  # a crash keeps the figures up to here
        _write_report()
    try:
        with _time_limit(DEADLINE_S):
            try:
                out = fn()
            except allowed as e:
                if not str(e).strip():
                    raise AssertionError(f"{type(e).__name__} without a message") from None
                stats["clean errors"] += 1
                stats["error: " + type(e).__name__] += 1
                if isinstance(e, crsim.SolverError):
                    kind = _solver_error_kind(str(e))
                    stats["SolverError: " + kind] += 1
                    if len(_ERRORS[target][kind]) < 3:
                        _ERRORS[target][kind].append(
                            str(e)[:200] + f" [input: {getattr(fn, 'describe', '')}]")
                return
            if check is not None:
                check(out)
            stats["results"] += 1
    except Exception as e:  # noqa: BLE001 - every other exception is a failure of the property
        kind = "hang" if isinstance(e, Hang) else (
            "wrong result" if isinstance(e, AssertionError) else "traceback " + type(e).__name__)
        _FAILURES[target][kind] += 1
        stats["failures"] += 1
        if len(_EXAMPLES[target]) < 5:
            what = getattr(fn, "describe", "")
            _EXAMPLES[target].append(f"{kind}: {e}"[:300] + f" [input: {what}]")
        if not COLLECT:
            raise


def _write_report() -> None:
    out = {t: {"counts": dict(_STATS[t]), "failures": dict(_FAILURES[t]),
               "examples": list(_EXAMPLES[t]), "solver errors": dict(_ERRORS[t])} for t in _STATS}
    old = {}
    if Path(REPORT).exists():
        try:
            old = json.loads(Path(REPORT).read_text())
        except ValueError:
            old = {}
    old.update(out)
    Path(REPORT).write_text(json.dumps(old, indent=1, sort_keys=True))


@pytest.fixture(autouse=True)
def _report():
    yield  # written after every test, so that a stopped long run keeps its finished targets
    if REPORT:
        _write_report()


_TMP = Path(tempfile.mkdtemp(prefix="crsim-fuzz-"))

# --- building blocks ----------------------------------------------------------------------------
JUNK = st.one_of(st.none(), st.booleans(), st.text(max_size=8), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
NUMBERS = st.one_of(
    st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=1e4),
    st.sampled_from([0, 1, -1, 0.5, 1e-300, 1e300, -1e300, 1e20, 1e21, 1e-12, 2 ** 31, 2 ** 63,
                     math.inf, -math.inf, math.nan, 1000.0, 1000.0001]),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10 ** 6))


def maybe(valid, bad_rate: int = 20):
    """``valid`` but for one draw in ``bad_rate``: then a number of any size or junk (so that an
    input with ten fields is still whole in about half of the examples)."""
    return st.integers(0, bad_rate - 1).flatmap(
        lambda k: st.one_of(NUMBERS, JUNK) if k == 0 else valid)


def short_times(horizon: float):
    return st.one_of(
        st.none(),
        st.lists(st.floats(0, horizon), min_size=1, max_size=30).map(sorted),
        st.builds(lambda s, n: [k * s for k in range(n)], st.floats(0.05, horizon / 2 + 0.05),
                  st.integers(1, 40)),
        st.builds(lambda s, n: np.cumsum([0.0] + [s] * n).tolist(),  # t += step (drift)
                  st.sampled_from([0.1, 0.3, 1 / 3, 0.7]), st.integers(1, 60)),
        st.lists(NUMBERS, min_size=0, max_size=4))


MODELS_PK = ["pk1", "pk2", "pk1_oral", "pk2_mm", "pk2_oral"]
DRUG_LINES = ["tocilizumab 8 mg/kg iv over 1h max 800mg", "dexamethasone 10 mg iv q6h x 3",
              "siltuximab 11 mg/kg iv over 1h", "tisagenlecleucel 3e6 cells/kg iv"]

# --- (a) scenario files -------------------------------------------------------------------------
REGIMEN_WORDS = ["100 mg iv", "10 mg/kg iv over 1h", "5 mg po q12h x 3", "50 mg iv over 0.3h",
                 "100 mg iv day 2", "100 mg iv at 5h lag 0.5h F 0.8", "1e300 mg iv",
                 "100 mg iv F 1e300", "-5 mg iv", "100 mg iv q1h x1000000000", "mg iv", "",
                 "100 mg/m2 iv", "100 mg iv over 0h", "100 mg iv rate 1e300 mg/h"]


@st.composite
def scenario_dicts(draw):
    model = draw(st.sampled_from(["pk1", "pk2", "pk1_oral", "crs", "tce", "nope"]))
    d: dict = {}
    if draw(st.booleans()):
        d["name"] = draw(maybe(st.text(min_size=1, max_size=12)))
    d["model"] = draw(maybe(st.just(model), 40))
    if model in ("crs", "tce") and draw(st.booleans()):
        d["parameter_set"] = draw(maybe(st.just(
            "crs_tisagenlecleucel_ball" if model == "crs" else "nope")))
    if draw(st.booleans()):
        d["patient"] = draw(maybe(st.fixed_dictionaries({}, optional={
            "weight_kg": maybe(st.floats(1, 200)), "height_cm": maybe(st.floats(40, 220)),
            "covariates": maybe(st.dictionaries(st.text(max_size=5), st.floats(), max_size=2))})))
    target = {"pk1": "central", "pk2": "central", "pk1_oral": "depot"}.get(model,
                                                                           "tocilizumab_central")
    dose_dict = st.fixed_dictionaries(
        {"target": maybe(st.just(target), 10), "amount": maybe(st.floats(0, 1000))},
        optional={"unit": maybe(st.sampled_from(["mg", "mg/kg", "mg/m2"])),
                  "time": maybe(st.floats(0, 48)), "duration": maybe(st.floats(0.01, 5)),
                  "rate": maybe(st.floats(0.01, 500)), "additional": maybe(st.integers(0, 5)),
                  "interval": maybe(st.floats(0.5, 24)),
                  "bioavailability": maybe(st.floats(0, 1)), "cap": maybe(st.floats(1, 1000))})
    if draw(st.integers(0, 3)):
        lines = st.sampled_from(DRUG_LINES if model in ("crs", "tce") else REGIMEN_WORDS)
        d["regimen"] = draw(maybe(st.lists(st.one_of(lines, dose_dict), max_size=3)))
    d["horizon_days"] = draw(maybe(st.floats(0.01, 2 if model in ("crs", "tce") else 5)))
    if draw(st.booleans()):
        d["outputs"] = draw(maybe(st.fixed_dictionaries(
            {"step_h": maybe(st.floats(0.05, 12))}, optional={"times_h": maybe(short_times(48))})))
    if draw(st.integers(0, 3)) == 0:
        d["initial"] = draw(maybe(st.dictionaries(st.sampled_from([target, "central", "il6", "x"]),
                                                  NUMBERS, max_size=2)))
    if draw(st.integers(0, 3)) == 0:
        names = st.sampled_from(["CL", "V", "ka", "weight_kg", "q", "x"])
        d["parameters"] = draw(maybe(st.dictionaries(names, NUMBERS, max_size=2)))
    if draw(st.integers(0, 4)) == 0:
        d["t_start_h"] = draw(NUMBERS)
    if draw(st.integers(0, 3)) == 0:
        d["solver"] = draw(maybe(st.fixed_dictionaries({}, optional={
            "method": maybe(st.sampled_from(["auto", "dopri5", "rosenbrock4"])),
            "rtol": maybe(st.floats(1e-10, 1e-3)), "atol": maybe(st.floats(1e-14, 1e-3)),
            "max_steps": maybe(st.integers(1, 100000))})))
    if draw(st.integers(0, 15)) == 0:
        d[draw(st.text(min_size=1, max_size=6))] = draw(JUNK)
    return d


@st.composite
def scenario_texts(draw):
    text = yaml.safe_dump(draw(scenario_dicts()), allow_unicode=True)
    edits = draw(st.integers(1, 3)) if draw(st.integers(0, 7)) == 0 else 0
    for _ in range(edits):  # damaged text: a character deleted, replaced or inserted
        i = draw(st.integers(0, max(len(text) - 1, 0)))
        c = draw(st.sampled_from([":", "-", " ", "\n", "[", "{", "&a", "*a", "!!", "'", "\t", "1"]))
        text = draw(st.sampled_from([text[:i] + text[i + 1:], text[:i] + c + text[i + 1:],
                                     text[:i] + c + text[i:]]))
    return text


@_settings(400)
@given(scenario_texts())
def test_fuzz_scenario_files(text):
    path = _TMP / "scenario.yaml"
    path.write_text(text)

    def run():
        return crsim.simulate(crsim.Scenario.from_file(path))

    run_target("scenario files", run)


# --- (b) regimen text ---------------------------------------------------------------------------
TOKENS = ["100", "0", "-1", "1e300", "1e20", "1e21", "nan", "inf", "0.3", "mg", "mg/kg", "mg/m2",
          "ug", "g", "cells/kg", "iv", "po", "sc", "over", "1h", "0.3h", "30min", "0h", "q12h",
          "q1h", "x", "3", "x3", "1000000000", "doses", "max", "800mg", "800", "day", "2",
          "at", "5h", "lag", "0.5h", "F", "0.8", "F=2", "rate", "10", "mg/h", ";", ",", "then",
          "tocilizumab", "dexamethasone", "continuous", "per", "day", "for", "7", "d", "µg/m²",
          "tisagenlecleucel", "3e6", "/", "(", "h", "week", "-"]


@st.composite
def regimen_lines(draw):
    """The regimen grammar (docs/regimens.md) with numbers of any size and, now and then, a token
    out of place."""
    num = st.one_of(st.floats(0, 1000).map(lambda v: f"{v:g}"),
                    st.sampled_from(["0", "1e300", "1e20", "1e21", "-1", "nan", "1e-300", "0.3"]))
    parts = [draw(st.sampled_from(["", "", "tocilizumab ", "dexamethasone "])) + draw(num) + " " +
             draw(st.sampled_from(["mg", "mg/kg", "mg/m2", "ug", "g", "cells/kg"])) + " " +
             draw(st.sampled_from(["iv", "po", "sc", "iv", ""]))]
    for key, value in (("over", st.sampled_from(["1h", "0.3h", "30min", "0h", "2 d"])),
                       ("q", st.sampled_from(["12h", "1h", "24h", "0h"])),
                       ("max", st.sampled_from(["800mg", "1e300 mg", "0 mg"])),
                       ("at", st.sampled_from(["5h", "0h", "1e300h"])),
                       ("lag", st.sampled_from(["0.5h", "-1h"])), ("F", num)):
        if draw(st.integers(0, 3)) == 0:
            parts.append(f"{key} {draw(value)}" if key != "q" else
                         f"q{draw(value)} x {draw(st.sampled_from(['3', '1', '1000000000']))}")
    if draw(st.integers(0, 9)) == 0:
        parts.insert(draw(st.integers(0, len(parts))), draw(st.sampled_from(TOKENS)))
    return " ".join(parts)


@_settings(600)
@given(st.sampled_from(["pk1", "pk1_oral", "pk2", "crs"]),
       st.one_of(regimen_lines(), regimen_lines(), regimen_lines(),
                 st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14).map(" ".join),
                 st.sampled_from(REGIMEN_WORDS + DRUG_LINES), st.text(max_size=30)),
       st.sampled_from([None, 70.0]))
def test_fuzz_regimen_text(model, text, weight):
    target = "depot" if model == "pk1_oral" else ("central" if model != "crs" else None)

    def run():
        doses = crsim.parse_regimen(text, target=target)
        return crsim.simulate(model, doses=doses, weight=weight, height=170.0,
                              days=1.0 if model == "crs" else 3.0)

    run_target("regimen text", run)


# --- (c) NONMEM-style dose tables ---------------------------------------------------------------
CELL = st.one_of(st.floats(0, 100), st.integers(0, 5), NUMBERS, st.just("."), st.just(""),
                 st.text(max_size=4), st.none())


@st.composite
def nonmem_tables(draw):
    n = draw(st.integers(0, 6))
    cols = ["TIME", "AMT", "CMT", "EVID"] + draw(st.lists(
        st.sampled_from(["RATE", "DUR", "II", "ADDL", "SS", "MDV", "ID", "time", "amt", "XX"]),
        max_size=4, unique=True))
    if draw(st.integers(0, 5)) == 0:
        cols = draw(st.permutations(cols))[: draw(st.integers(0, len(cols)))]
    rows = []
    for _ in range(n):
        row = {}
        for c in cols:
            good = {"TIME": st.floats(0, 48), "AMT": st.floats(0, 500), "CMT": st.sampled_from(
                [1, 2, "central", "depot", "peripheral"]), "EVID": st.sampled_from([0, 1, 2, 3, 4]),
                "RATE": st.sampled_from([0, -1, -2, 10.0, 1e300]), "DUR": st.floats(0, 5),
                "II": st.floats(0, 24), "ADDL": st.integers(0, 5), "SS": st.sampled_from([0, 1])
            }.get(c.upper(), CELL)
            row[c] = draw(maybe(good, 12))
        rows.append(row)
    return pd.DataFrame(rows, columns=list(dict.fromkeys(cols)))


@_settings(500)
@given(st.sampled_from(["pk1", "pk2", "pk1_oral", "pk2_oral"]), nonmem_tables())
def test_fuzz_nonmem_dose_tables(model, table):
    def run():
        return crsim.simulate(model, doses=table, days=3.0, weight=70.0)

    run_target("NONMEM tables", run)


# --- (d) observed-data files --------------------------------------------------------------------
@st.composite
def data_csv(draw):
    if draw(st.integers(0, 5)):  # mostly a usable header
        time = draw(st.sampled_from([["TIME_H"], ["time", "time_unit"], ["time_d"]]))
        cols = ["ID"] + time + ["observable", draw(st.sampled_from(["value", "DV"])), "unit"]
        cols += draw(st.lists(st.sampled_from(["lloq", "censored", "weight", "evid", "amt", "cmt",
                                               "mdv"]), max_size=4, unique=True))
    else:
        cols = draw(st.lists(st.sampled_from(
            ["ID", "TIME_H", "time", "time_unit", "TIME_D", "observable", "value", "DV", "unit",
             "lloq", "censored", "BLQ", "evid", "amt", "cmt", "weight", "mdv"]), min_size=1,
            max_size=9, unique=True))
    n = draw(st.integers(0, 8))
    # half of the files have no damaged cell; the others one in 12
    rate = 10 ** 9 if draw(st.booleans()) else 12
    good = {"id": st.sampled_from([1, 1, 2, "a"]), "time_h": st.floats(0, 48),
            "time": st.floats(0, 48), "time_unit": st.sampled_from(["h", "d", "min", "week"]),
            "time_d": st.floats(0, 2), "observable": st.sampled_from(["C", "C", "C", "central"]),
            "value": st.floats(0, 10), "dv": st.floats(0, 10),
            "unit": st.sampled_from(["mg/L", "ug/mL", "ng/mL", "mg/mL"]),
            "lloq": st.floats(0, 1), "censored": st.sampled_from([0, 1, "yes", "no", ""]),
            "blq": st.sampled_from([0, 1]), "evid": st.sampled_from([0, 0, 0, 1, 2]),
            "amt": st.floats(0, 500), "cmt": st.sampled_from([1, "central"]),
            "weight": st.sampled_from([70]), "mdv": st.sampled_from([0, 0, 1])}
    bad = st.sampled_from(["yr", "x", "il6", "nmol/L", "%", "mg", -1, 0, 1e300, -1e-300, "nan",
                           "inf", "-0.5", "."])
    lines = [",".join(cols)]
    for _ in range(n):
        cells = []
        for c in cols:
            k = draw(st.integers(0, rate - 1))
            v = draw(good[c.lower()] if k else st.one_of(bad, CELL))
            s = "" if v is None else str(v)
            cells.append(s.replace(",", ";").replace("\n", " ").replace("\r", " "))
        lines.append(",".join(cells))
    text = "\n".join(lines) + "\n"
    if draw(st.integers(0, 6)) == 0:
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(['"', ",", "\n", "\x00", "é", ",,,"])) + text[i:]
    return text


def _check_data_table(tab: pd.DataFrame) -> None:
    plain = ~tab["censored"].to_numpy(dtype=bool)
    values = tab["value"].to_numpy(dtype=float)
    lloq = tab["lloq"].to_numpy(dtype=float)
    if not np.all(np.isfinite(values[plain])):
        raise AssertionError("an uncensored observation that is NaN or infinite")
    if np.any(plain & (values < 0) & ~np.isnan(lloq)):
        raise AssertionError("an uncensored negative observation next to an lloq")
    limits = tab["limit"].to_numpy(dtype=float)[~plain]
    if not (np.all(np.isfinite(limits)) and np.all(limits >= 0)):
        raise AssertionError("a censored observation without a finite limit >= 0")
    if not np.all(np.isfinite(tab["time_h"].to_numpy(dtype=float))):
        raise AssertionError("a non-finite observation time")


@_settings(500)
@given(data_csv())
def test_fuzz_data_files(text):
    path = _TMP / "obs.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))

    def run():
        return crsim.check_data(crsim.read_data(path), "pk1")

    run_target("data files", run, check=_check_data_table)


# --- (e) policies -------------------------------------------------------------------------------
WHEN = ["grade >= 2", "il6 >= 500", "il6 >= 500 pg/mL", "temperature >= 38.5 for 2h", "il6 > 5",
        "ferritin rises 2x in 48 h", "crp falls 2x in 24 h", "il6 >= nan", "il6 >= 1e300",
        "il6 >= -1", "grade >= 0", "nope >= 1", "il6 rises 1x in 1 h", "il6 rises 2x in 0 h",
        "temperature <= 50", "", "grade >= 2 for -1h", "il6 >= 500 mg/L"]
GIVE = DRUG_LINES + ["tocilizumab 1e300 mg iv", "dexamethasone 10 mg iv q1h x 1000000000",
                     "tocilizumab 8 mg/kg iv over 1h F 1e300", "nothing", "", "-1 mg iv"]


POLICY_FIELDS = st.lists(st.builds(
    dict, name=maybe(st.sampled_from(["p", "q"]), 40),
    when=maybe(st.sampled_from(WHEN), 10),
    give=maybe(st.one_of(st.sampled_from(GIVE), st.lists(st.sampled_from(GIVE), min_size=1,
                                                          max_size=2)), 20),
    max_doses=maybe(st.one_of(st.none(), st.integers(0, 5))),
    min_interval_h=maybe(st.floats(0, 24)), delay_h=maybe(st.floats(0, 5)),
    sustained_h=maybe(st.floats(0, 5)), max_per_24h=maybe(st.one_of(st.none(), st.integers(1, 4))),
    tolerance_h=maybe(st.floats(1e-9, 1))), min_size=1, max_size=2)


@_settings(300)
@given(POLICY_FIELDS)
def test_fuzz_policies(fields):
    sc = _crs_base()

    def run():
        pols = [crsim.Policy(**f) for f in fields]
        return crsim.simulate(sc.replace(policies=pols))

    run_target("policies", run)


_BASE = {}


def _crs_base():
    if "crs" not in _BASE:
        sc = crsim.Scenario.from_file(crsim.example("default"))
        _BASE["crs"] = sc.replace(horizon_days=3.0)
    return _BASE["crs"]


# --- (f) parameter vectors within bounds --------------------------------------------------------
_MODELS = {}


def _model_table(name):
    if name not in _MODELS:
        m = crsim.Model(name)
        p = m.parameters
        _MODELS[name] = (m, p)
    return _MODELS[name]


PARAMETER_RUNS = {"pk1": dict(doses=[crsim.Dose("central", 100.0)], days=2.0),
                  "pk1_oral": dict(doses=[crsim.Dose("depot", 100.0)], days=2.0),
                  "pk2": dict(doses=[crsim.Dose("central", 100.0)], days=2.0),
                  "pk2_oral": dict(doses=[crsim.Dose("depot", 100.0)], days=2.0),
                  "pk2_mm": dict(doses=[crsim.Dose("central", 100.0, duration=0.5)], days=2.0),
                  "crs": dict(scenario=True, days=2.0),
                  # mosunetuzumab (the default set) 1 mg over 4 h, then 60 mg over 4 h at 24 h
                  "tce": dict(doses=[crsim.Dose("tce_central", 1.0, duration=4.0),
                                     crsim.Dose("tce_central", 60.0, time=24.0, duration=4.0)],
                              days=3.0)}
#: one target per group of models (the long run tries CRSIM_FUZZ_EXAMPLES vectors for each) and the
#: CI run's number of vectors
PARAMETER_GROUPS = {"pk": (["pk1", "pk1_oral", "pk2", "pk2_oral", "pk2_mm"], 300),
                    "crs": (["crs"], 200), "tce": (["tce"], 150)}


@st.composite
def parameter_vectors(draw, models):
    name = draw(st.sampled_from(models))
    m, p = _model_table(name)
    values = {}
    for _, row in p.iterrows():
        if row["name"] == "weight_kg" or not draw(st.integers(0, 2)):
            continue
        lo, hi = float(row["lower"]), float(row["upper"])
        v0 = float(row["value"])
        # decades around the default, clipped to the bounds (the issue spread 2-8 decades)
        spread = draw(st.sampled_from([1, 2, 4, 8]))
        if v0 > 0:
            v = v0 * 10.0 ** draw(st.floats(-spread / 2, spread / 2))
        else:
            v = draw(st.floats(0, 10.0 ** spread))
        if AT_BOUNDS and draw(st.integers(0, 6)) == 0:
            v = draw(st.sampled_from([lo, hi]))
        v = min(max(v, lo), hi)
        if math.isfinite(v):
            values[row["name"]] = v
    return name, values


def _parameters_test(group):
    models, ci_examples = PARAMETER_GROUPS[group]

    @_settings(ci_examples)
    @given(parameter_vectors(models), st.sampled_from(["auto", "dopri5", "rosenbrock4"]))
    def test(case, method):
        name, values = case
        cfg = PARAMETER_RUNS[name]

        def run():
            run.describe = f"{name} {method} {values}"
            if cfg.get("scenario"):
                sc = _crs_base()
                return crsim.simulate(sc.replace(parameters={**sc.parameters, **values},
                                                 horizon_days=cfg["days"],
                                                 solver={"method": method}))
            return crsim.simulate(name, doses=cfg["doses"], parameters=values, days=cfg["days"],
                                  method=method)

        run_target(f"parameters ({group})", run)

    return test


test_fuzz_parameters_within_bounds_pk = _parameters_test("pk")
test_fuzz_parameters_within_bounds_crs = _parameters_test("crs")
test_fuzz_parameters_within_bounds_tce = _parameters_test("tce")


# --- (g) damaged results files ------------------------------------------------------------------
def _results_file() -> bytes:
    if "file" not in _BASE:
        r = crsim.simulate("pk1", doses=[crsim.Dose("central", 100.0)],
                           times=np.linspace(0, 24, 25))
        p = _TMP / "good.h5"
        r.save(p)
        _BASE["file"] = p.read_bytes()
    return _BASE["file"]


def _check_loaded(r) -> None:
    for res in (r.values() if isinstance(r, dict) else [r]):
        _check_arrays("times", res.times, False)
        np.asarray(res.states, dtype=float)
        res.to_pandas()
        res.readouts


@_settings(120)
@given(st.data())
def test_fuzz_damaged_results_files(data):
    good = _results_file()
    kind = data.draw(st.sampled_from(["flip", "flip", "truncate", "overwrite"]))
    b = bytearray(good)
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(b) - 1))
            b[i] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "truncate":
        b = b[: data.draw(st.integers(0, len(b) - 1))]
    else:
        i = data.draw(st.integers(0, len(b) - 1))
        b[i:i + 8] = data.draw(st.binary(min_size=8, max_size=8))
    path = _TMP / "damaged.h5"
    path.write_bytes(bytes(b))

    def run():
        return crsim.load(path)

    run_target("results files", run, check=_check_loaded,
               allowed=(crsim.InputError, crsim.SolverError, crsim.IoError))
