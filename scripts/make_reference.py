#!/usr/bin/env python3
"""Writes the regression references tests/reference/trajectories.h5 with the installed crsim.

    .venv/bin/python scripts/make_reference.py [--git-commit SHA] [-o PATH]

Runs every case of tests/python/reference_cases.py (CRS courses with and without drugs, both
parameter sets, every PK model, both solver methods) with the crsim installed in the running
Python (not the working tree: the references pin the code that was built and installed) and writes
one HDF5 group per case:

    /<case>/times            (T,)                 output times, h
    /<case>/states           (T, n_states)        model state units
    /<case>/observables      (T, n_observables)   observable units
    /<case>/sensitivities    (T, n_states + n_observables, n_parameters)   only for cases with
                             sensitivities: Result.sensitivities().values (states, then observables)
    /<case>/parameter_values (n_model_parameters,)  every parameter value used
    /<case>/doses            (n, 4)  time_h, amount, rate, end_h of each administration applied
    /<case>/firings          (n, 4)  condition_met_h, detected_h, administered_h, value (policy cases)

with attributes naming everything (model, parameter set, name and unit lists, solver settings,
crsim version, git commit, the case and the scenario run as JSON); file attributes record the
versions and the comparison tolerance. Each case is run twice and must reproduce bit for bit. The
file is written atomically (temporary file in the same directory, then os.replace); datasets are
float64, gzip-compressed.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

import crsim  # noqa: E402
import reference_cases as rc  # noqa: E402  (tests/python/reference_cases.py)

FORMAT = "crsim regression references, layout 1 (scripts/make_reference.py)"
# gzip level 9. States and observables: one chunk per column with the shuffle filter (the bytes of
# a smooth time course compress well). Sensitivities: one chunk per parameter without shuffle
# (gzip then finds the observables that repeat a state within each row). About 40 % smaller than
# h5py's automatic chunks.
GZIP = dict(compression="gzip", compression_opts=9)


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def core_file() -> Path:
    return Path(crsim._core.__file__)


def build_commit() -> tuple:
    """The commit the installed crsim was most likely built from: the newest commit of HEAD's
    history committed before the installed extension module was written."""
    mtime = datetime.datetime.fromtimestamp(core_file().stat().st_mtime, datetime.timezone.utc)
    sha = git("rev-list", "-1", f"--before={mtime.isoformat()}", "HEAD")
    return sha, mtime


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(case: dict):
    """The scenario dict of a case and its Result; the case is run twice and must agree exactly."""
    scenario = rc.resolve(case)
    results = [crsim.simulate(crsim.Scenario.from_dict(json.loads(json.dumps(scenario))))
               for _ in range(2)]
    a, b = results
    same = (np.array_equal(a.times, b.times) and np.array_equal(a.states, b.states)
            and np.array_equal(a.observables, b.observables))
    if same and a._sens_names:
        same = np.array_equal(a.sensitivities().values, b.sensitivities().values)
    if not same:
        raise SystemExit(f"case {case['name']}: two runs of the same scenario differ; "
                         "references would not be reproducible")
    return scenario, a


def strings(values) -> np.ndarray:
    return np.array([str(v) for v in values], dtype=h5py.string_dtype())


def write_case(grp: h5py.Group, case: dict, scenario: dict, res, meta: dict) -> None:
    def data(name, values):
        arr = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
        opts = {}
        if arr.size >= 64 and arr.ndim == 3:
            opts = dict(GZIP, chunks=arr.shape[:2] + (1,), shuffle=False)
        elif arr.size >= 64:
            opts = dict(GZIP, chunks=(arr.shape[0],) + (1,) * (arr.ndim - 1), shuffle=True)
        grp.create_dataset(name, data=arr, **opts)

    data("times", res.times)
    data("states", res.states)
    data("observables", res.observables)
    data("parameter_values", list(res.parameters.values()))
    doses = res.doses
    data("doses", doses[["time_h", "amount", "rate", "end_h"]].to_numpy(dtype=float).reshape(-1, 4))
    grp["doses"].attrs["columns"] = strings(["time_h", "amount", "rate", "end_h"])
    grp["doses"].attrs["states"] = strings(doses["state"])
    a = grp.attrs
    if res._sens_names:
        sens = res.sensitivities()
        data("sensitivities", sens.values)
        a["sensitivity_parameters"] = strings(sens.parameters)
        a["sensitivity_outputs"] = strings(sens.outputs)
    else:
        a["sensitivity_parameters"] = strings([])
        a["sensitivity_outputs"] = strings([])
    firings = res.firings
    if len(firings):
        data("firings", firings[["condition_met_h", "detected_h", "administered_h", "value"]]
             .to_numpy(dtype=float))
        grp["firings"].attrs["columns"] = strings(["condition_met_h", "detected_h",
                                                   "administered_h", "value"])
        grp["firings"].attrs["policies"] = strings(firings["policy"])
        grp["firings"].attrs["reasons"] = strings(firings["reason"])

    a["model"] = res.model.name
    a["parameter_set"] = scenario.get("parameter_set") or ""
    a["description"] = scenario.get("description", "")
    a["note"] = case.get("note", "")
    a["state_names"] = strings(res.state_names)
    a["state_units"] = strings(res.state_units)
    a["observable_names"] = strings(res.observable_names)
    a["observable_units"] = strings(res.observable_units)
    a["parameter_names"] = strings(res.parameters)
    a["parameter_units"] = strings(res.parameter_units.get(k, "") for k in res.parameters)
    a["solver_method"] = res.solver["method"]
    a["rtol"] = float(res.solver["rtol"])
    a["atol"] = float(res.solver["atol"])
    a["solver_json"] = json.dumps(res.solver)
    a["weight_kg"] = float("nan") if res.weight is None else float(res.weight)
    a["stats_json"] = json.dumps({k: v for k, v in res.stats.items()})
    a["case_json"] = json.dumps(case, sort_keys=True)          # the entry of reference_cases.py
    a["scenario_json"] = json.dumps(scenario, sort_keys=True)  # the scenario run (what tests re-run)
    a["crsim_version"] = meta["crsim_version"]
    a["git_commit"] = meta["git_commit"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", type=Path, default=rc.REFERENCE_FILE)
    ap.add_argument("--git-commit", default=None,
                    help="commit the installed crsim was built from (default: the newest commit "
                         "of HEAD's history older than the installed extension module)")
    args = ap.parse_args()

    guess, built = build_commit()
    commit = args.git_commit or guess
    if args.git_commit:
        commit = git("rev-parse", args.git_commit) or args.git_commit
    meta = {"crsim_version": crsim.__version__, "git_commit": commit}
    names = [c["name"] for c in rc.CASES]
    if len(set(names)) != len(names):
        raise SystemExit("reference_cases.CASES: case names must be unique")

    out: Path = args.output
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w", libver=("v110", "latest")) as f:
            f.attrs["format"] = FORMAT
            f.attrs["crsim_version"] = crsim.__version__
            f.attrs["crsim_location"] = str(Path(crsim.__file__).parent)
            f.attrs["core_sha256"] = sha256(core_file())
            f.attrs["core_built_utc"] = built.isoformat()
            f.attrs["git_commit"] = commit
            f.attrs["git_commit_source"] = ("given with --git-commit" if args.git_commit else
                                            "newest commit of HEAD's history older than the "
                                            "installed crsim._core")
            f.attrs["git_head_at_generation"] = git("rev-parse", "HEAD")
            f.attrs["created_utc"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
            f.attrs["python"] = platform.python_version()
            f.attrs["numpy"] = np.__version__
            f.attrs["platform"] = platform.platform()
            f.attrs["cases"] = strings(names)
            f.attrs["comparison"] = (
                f"|a - b| <= {rc.COMPARE_RTOL:g} * (|b| + floor * scale) per column; states and "
                f"observables: floor {rc.FLOOR_VALUES:g}, scale max|b| over the column; "
                f"sensitivities dy/dp: floor {rc.FLOOR_SENSITIVITIES:g}, scale max(max|dy/dp|, "
                "max|y| / |p|) over the column (tests/python/test_reference.py)")
            for case in rc.CASES:
                scenario, res = run(case)
                write_case(f.create_group(case["name"]), case, scenario, res, meta)
                s = res.sensitivities().shape if res._sens_names else "-"
                print(f"{case['name']:32s} {res.solver['method']:11s} rtol {res.solver['rtol']:g} "
                      f"atol {res.solver['atol']:g}  T={len(res.times):4d}  sens {s}  "
                      f"steps {res.stats['steps']}")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB), {len(names)} cases, crsim "
          f"{crsim.__version__}, commit {commit[:12]}")


if __name__ == "__main__":
    main()
