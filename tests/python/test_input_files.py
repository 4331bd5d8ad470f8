"""Scenario and data files as untrusted input: YAML 1.2 scalars, no alias expansion, bounded nesting
and size, no devices (issue 18). Each case is a minimal file; each must give an InputError (or the
documented value) quickly, never a hang, a traceback or a silently different number."""
from __future__ import annotations

import os
import time

import pytest

import crsim
from crsim.base.problems import MAX_NESTING


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("text", ["1:30", "1_0", "0x10", "0o10", "yes", "on"])
def test_yaml_1_1_scalars_are_text_and_reported(tmp_path, text):
    # YAML 1.1 would read these as 90, 10, 16, 8, true, true: a different horizon in silence
    p = _write(tmp_path, "s.yaml", f"model: pk1\nregimen: ['100 mg iv']\nhorizon_h: {text}\n")
    with pytest.raises(crsim.InputError, match=rf"horizon_h \(line 3\) = '{text}' is not allowed"):
        crsim.Scenario.from_file(p)


def test_yaml_1_2_numbers_booleans_and_null(tmp_path):
    p = _write(tmp_path, "s.yaml", "model: pk1\nregimen: ['100 mg iv']\nhorizon_h: 1e1\n"
               "solver: {rtol: 1E-8, atol: .5e-10}\nsensitivities: false\nparameter_set: ~\n")
    sc = crsim.Scenario.from_file(p)
    assert sc.horizon_h == 10.0 and sc.solver.rtol == 1e-8 and sc.solver.atol == 0.5e-10
    assert sc.sensitivities is None and sc.parameter_set is None


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for k in range(1, 9):  # 9^9 = 387 million leaves if expanded
        prev, name = chr(ord("a") + k - 1), chr(ord("a") + k)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    p = _write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    assert p.stat().st_size < 500
    t0 = time.perf_counter()
    with pytest.raises(crsim.InputError, match=r"line 2, column \d+: an alias \(\*a\) is not allowed"):
        crsim.Scenario.from_file(p)
    assert time.perf_counter() - t0 < 5


def test_deep_nesting_is_an_input_error(tmp_path):
    n = MAX_NESTING + 5
    p = _write(tmp_path, "deep.yaml", "model: pk1\nregimen: " + "[" * n + "]" * n + "\n")
    with pytest.raises(crsim.InputError, match=f"nesting deeper than {MAX_NESTING} levels"):
        crsim.Scenario.from_file(p)
    q = _write(tmp_path, "deep.json", '{"model": "pk1", "regimen": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(crsim.InputError, match="nesting deeper than"):
        crsim.Scenario.from_file(q)
    r = _write(tmp_path, "deep2.json", '{"model": "pk1", "regimen": ' + "[" * n + "]" * n + "}")
    with pytest.raises(crsim.InputError, match=f"nesting deeper than {MAX_NESTING} levels"):
        crsim.Scenario.from_file(r)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(crsim.InputError, match="a regular file"):
        crsim.Scenario.from_file(fifo)


def test_population_size_and_seed_are_bounded():
    from crsim.run.population import MAX_PATIENTS

    sc = crsim.Scenario("pk1", regimen=["100 mg iv"], horizon_h=24)
    with pytest.raises(crsim.InputError, match=r"n = 10000000000 is not allowed: a number of patients"):
        crsim.population(sc, 10_000_000_000, {"CL": 0.3})
    with pytest.raises(crsim.InputError, match=r"seed = -1 is not allowed"):
        crsim.population(sc, 5, {"CL": 0.3}, seed=-1)
    assert MAX_PATIENTS >= 1_000_000  # the 100,000-patient populations fit


@pytest.mark.parametrize("args, message", [
    (["-n", "10000000000"], "-n = 10000000000 is not allowed"),
    (["-n", "5", "--seed", "-1"], "--seed = -1 is not allowed"),
])
def test_population_cli_refuses_without_a_traceback(tmp_path, args, message):
    import subprocess
    import sys

    sc = _write(tmp_path, "s.yaml", "model: pk1\nregimen: ['100 mg iv']\nhorizon_h: 24\n")
    out = subprocess.run([sys.executable, "-m", "crsim", "population", str(sc), *args, "--vary",
                          "CL=0.3", "-o", str(tmp_path / "p.csv")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_a_repeat_count_beyond_int32_is_refused_not_wrapped():
    # 4294967297 = 2**32 + 1 once wrapped to 1 repeat in the int cast of the binding
    dose = crsim.Dose("central", 100, additional=4_294_967_297, interval=1.0)
    with pytest.raises(crsim.InputError, match=r"doses\[0\]\.additional = 4294967297 is not allowed"):
        crsim.simulate("pk1", doses=[dose], days=1)


def test_a_path_with_a_nul_is_refused_not_truncated(tmp_path):
    res = crsim.simulate("pk1", doses=[crsim.Dose("central", 100)], days=1)
    with pytest.raises(crsim.InputError, match="without NUL characters"):
        res.save(str(tmp_path / "x\0y.h5"))
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("name", ["a\x1b[31mred", "tab\there", "bell\x07"])
def test_scenario_names_with_control_characters_are_refused(name):
    # names are printed by the command line and become HDF5 group names
    with pytest.raises(crsim.InputError, match="name = .* is not allowed: a scenario name"):
        crsim.Scenario("pk1", name=name, regimen=["100 mg iv"], horizon_h=24)
