"""Regression against stored reference trajectories (tests/reference/trajectories.h5).

The file holds, for every case of tests/python/reference_cases.py (CRS courses untreated and with
tocilizumab, siltuximab, dexamethasone iv/po or a triggered tocilizumab policy, the tisagenlecleucel
and axicabtagene parameter sets, every PK model, rosenbrock4 and dopri5), the times, states,
observables, forward sensitivities, parameter values, administrations and policy firings computed by
scripts/make_reference.py with the crsim of the commit recorded in the file (the hand-written C++
models, before they were generated from Antimony). Each case is re-run here from the scenario
stored in the file (attribute ``scenario_json``) with the installed crsim.

Tolerance, per column (one state, observable, or sensitivity d output / d parameter over time):

    |a - b| <= 1e-9 * (|b| + floor * scale)          a: re-computed, b: reference

* states and observables: floor = 1e-9, scale = max |b| over the column, i.e. 1e-9 relative with an
  absolute floor of 1e-18 of the column's largest value;
* sensitivities dy/dp: floor = 1e-2, scale = max(max |dy/dp| over the column, max |y| / |p|), i.e.
  1e-9 relative with an absolute floor of 1e-11 of the column's natural size (a normalised
  sensitivity of 1). The larger floor is needed because sensitivities cross zero and some are
  round-off only (d total_amount / dp of pk2_mm, d total / dk of robertson, d depot / dCL of the oral
  models). Measured with today's code: perturbing every parameter by ~4e-16 relative (a stand-in
  for a reordered floating-point evaluation of the same equations) moves sensitivities by up to
  ~6e-13 of their natural size (pk2 dC/dV1 near its zero crossing; with a floor of 1e-9 as for the
  states, such columns fail), and states and observables by at most ~4e-11 relative (dopri5; ~2e-12
  with rosenbrock4): under such perturbations every case passes, the worst |a - b| reaching 4 % of
  the allowed difference for states and 6 % for sensitivities.

Name lists (states, observables, parameters, sensitivity parameters and outputs), their units,
the output times and the parameter values must be identical; administrations and firings agree
to 1e-9 relative. A failure names the case, the variable and the time of the worst disagreement.
Regenerate the file (only with the code it is meant to pin) with
``.venv/bin/python scripts/make_reference.py``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import crsim  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_cases as rc  # noqa: E402

RTOL = rc.COMPARE_RTOL


def _stored_cases() -> List[str]:
    if not rc.REFERENCE_FILE.exists():
        return []
    with h5py.File(rc.REFERENCE_FILE, "r") as f:
        return [str(n) for n in f.attrs["cases"]]


def _names(attr) -> List[str]:
    return [str(s) for s in attr]


def _compare(case: str, kind: str, names: List[str], new: np.ndarray, ref: np.ndarray,
             times: Optional[np.ndarray], scale: np.ndarray, floor: float) -> List[str]:
    """Messages for the columns of ``new`` (T, n) that disagree with ``ref`` (T, n); rows are
    output times, or (``times`` None) administrations or firings."""
    if new.shape != ref.shape:
        return [f"{case}: {kind}: shape {new.shape} != reference {ref.shape}"]
    diff = np.abs(new - ref)
    allowed = RTOL * (np.abs(ref) + floor * scale[None, :])
    nan_mismatch = np.isnan(new) != np.isnan(ref)
    diff = np.where(np.isnan(new) & np.isnan(ref), 0.0, diff)
    bad = (diff > allowed) | nan_mismatch | np.isnan(diff)
    out = []
    for j in np.flatnonzero(bad.any(axis=0)):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(bad[:, j], diff[:, j] / allowed[:, j], 0.0)
        ratio = np.where(np.isnan(ratio), np.inf, ratio)
        i = int(np.argmax(ratio))
        where = f"t = {times[i]:.10g} h" if times is not None else f"{kind} {i}"
        out.append(f"{case}: {kind} {names[j]}: worst at {where}: {new[i, j]:.17g} vs reference "
                   f"{ref[i, j]:.17g} (|diff| {diff[i, j]:.3g}, allowed {allowed[i, j]:.3g}); "
                   f"{int(bad[:, j].sum())} of {len(ref)} {'times' if times is not None else 'rows'} "
                   "outside")
    return out


def _same(case: str, what: str, new, ref) -> List[str]:
    new, ref = list(new), list(ref)
    if new == ref:
        return []
    diffs = [f"{i}: {a!r} != {b!r}" for i, (a, b) in enumerate(zip(new, ref)) if a != b][:5]
    return [f"{case}: {what} differ (got {len(new)}, reference {len(ref)}; first differences: "
            f"{'; '.join(diffs) or 'one list is a prefix of the other'})"]


def test_reference_file_matches_case_table():
    """The file was made from tests/python/reference_cases.py as it is now (else: regenerate)."""
    assert rc.REFERENCE_FILE.exists(), (f"{rc.REFERENCE_FILE} is missing: run "
                                        "scripts/make_reference.py")
    with h5py.File(rc.REFERENCE_FILE, "r") as f:
        assert _names(f.attrs["cases"]) == [c["name"] for c in rc.CASES]
        for case in rc.CASES:
            stored = json.loads(f[case["name"]].attrs["case_json"])
            assert stored == json.loads(json.dumps(case)), (
                f"case {case['name']} of reference_cases.py differs from the one stored in the file")


@pytest.mark.parametrize("case", _stored_cases())
def test_reference_case(case):
    with h5py.File(rc.REFERENCE_FILE, "r") as f:
        g = f[case]
        a = dict(g.attrs)
        ref = {k: g[k][()] for k in g}
        doses_states = _names(g["doses"].attrs["states"])
        firing_policies = _names(g["firings"].attrs["policies"]) if "firings" in g else []

    scenario = crsim.Scenario.from_dict(json.loads(a["scenario_json"]))
    res = crsim.simulate(scenario)
    problems: List[str] = []

    # names, units, grid and inputs: identical
    problems += _same(case, "model", [res.model.name], [str(a["model"])])
    problems += _same(case, "state names", res.state_names, _names(a["state_names"]))
    problems += _same(case, "state units", res.state_units, _names(a["state_units"]))
    problems += _same(case, "observable names", res.observable_names, _names(a["observable_names"]))
    problems += _same(case, "observable units", res.observable_units, _names(a["observable_units"]))
    problems += _same(case, "parameter names", list(res.parameters), _names(a["parameter_names"]))
    problems += _same(case, "parameter units", [res.parameter_units.get(k, "") for k in res.parameters],
                      _names(a["parameter_units"]))
    problems += _same(case, "solver method", [res.solver["method"]], [str(a["solver_method"])])
    if problems:  # the arrays cannot be compared column by column
        pytest.fail("\n".join(problems))
    if not np.array_equal(res.times, ref["times"]):
        pytest.fail(f"{case}: output times differ from the reference ({len(res.times)} vs "
                    f"{len(ref['times'])} times)")
    pvals = np.array(list(res.parameters.values()), dtype=float)
    changed = [f"{n} = {x!r} (reference {y!r})" for n, x, y in
               zip(res.parameters, pvals, ref["parameter_values"]) if x != y]
    if changed:
        problems.append(f"{case}: parameter values differ: {'; '.join(changed[:10])}")

    t = ref["times"]

    def colmax(x):
        return np.max(np.abs(x), axis=0) if len(x) else np.zeros(x.shape[1:])

    # states and observables
    problems += _compare(case, "state", res.state_names, res.states, ref["states"], t,
                         colmax(ref["states"]), rc.FLOOR_VALUES)
    problems += _compare(case, "observable", res.observable_names, res.observables,
                         ref["observables"], t, colmax(ref["observables"]), rc.FLOOR_VALUES)

    # sensitivities (time x output x parameter; outputs = states, then observables)
    sens_pars = _names(a["sensitivity_parameters"])
    if sens_pars or "sensitivities" in ref:
        try:
            s = res.sensitivities()
        except crsim.InputError as ex:
            pytest.fail(f"{case}: no sensitivities in the re-computed result ({ex})")
        problems += _same(case, "sensitivity parameters", s.parameters, sens_pars)
        problems += _same(case, "sensitivity outputs", s.outputs, _names(a["sensitivity_outputs"]))
        S_ref = ref["sensitivities"]
        if s.values.shape != S_ref.shape:
            problems.append(f"{case}: sensitivities: shape {s.values.shape} != reference "
                            f"{S_ref.shape}")
        else:
            T, n_out, n_par = S_ref.shape
            y = np.concatenate([ref["states"], ref["observables"]], axis=1)   # (T, n_out)
            pref = dict(zip(_names(a["parameter_names"]), ref["parameter_values"]))
            x0 = dict(zip(_names(a["state_names"]), ref["states"][0]))
            pv = np.array([abs(x0[p[5:]] if p.startswith("init:") else pref[p]) for p in sens_pars])
            pv = np.where(pv > 0, pv, 1.0)
            natural = colmax(y)[:, None] / pv[None, :]                            # (n_out, n_par)
            scale = np.maximum(colmax(S_ref), natural).reshape(-1)
            names = [f"d{o}/d{p}" for o in s.outputs for p in sens_pars]
            problems += _compare(case, "sensitivity", names, s.values.reshape(T, -1),
                                 S_ref.reshape(T, -1), t, scale, rc.FLOOR_SENSITIVITIES)

    # administrations and policy firings
    d = res.doses
    problems += _same(case, "dosed states", d["state"], doses_states)
    if len(d) == len(doses_states):
        got = d[["time_h", "amount", "rate", "end_h"]].to_numpy(dtype=float).reshape(-1, 4)
        problems += _compare(case, "administration", ["time_h", "amount", "rate", "end_h"], got,
                             ref["doses"], None, colmax(ref["doses"]),
                             rc.FLOOR_VALUES)
    fr = res.firings
    problems += _same(case, "policy firings", fr["policy"], firing_policies)
    if firing_policies and len(fr) == len(firing_policies):
        cols = ["condition_met_h", "detected_h", "administered_h", "value"]
        problems += _compare(case, "firing", cols, fr[cols].to_numpy(dtype=float), ref["firings"],
                             None, colmax(ref["firings"]),
                             rc.FLOOR_VALUES)

    if problems:
        shown = problems[:25] + ([f"... and {len(problems) - 25} more"] if len(problems) > 25 else [])
        pytest.fail(f"{case}: {len(problems)} disagreement(s) with {rc.REFERENCE_FILE.name}:\n"
                    + "\n".join(shown))
