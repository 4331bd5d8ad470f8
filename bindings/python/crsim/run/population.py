"""Populations of virtual patients: one scenario, parameters drawn per patient with log-normal
inter-individual variability (optionally correlated), run in batches on C++ threads, one row of
readouts per patient.

    θ_i = θ · exp(η_i),   η_i ~ N(0, Ω),   Ω = diag(ω) · R · diag(ω)

with θ the scenario's value (parameter set or override), ω the SD of η (log scale; for small ω
about the CV; ``{"cv": c}`` gives ω = sqrt(ln(1 + c²))) and R the correlation matrix.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from crsim import _core
from crsim.base.errors import input_error
from crsim.model.extension import extension
from crsim.model.model import WEIGHT_PARAMETER, Model
from crsim.run.scan import readout_row
from crsim.run.simulate import to_result
from crsim.scenario.resolve import resolve_scenario
from crsim.scenario.scenario import Scenario

__all__ = ["population", "sample_parameters", "save_population", "load_population"]

#: Patients simulated per engine call. Two calls are in flight at once (the next integrates on the
#: engine's threads, the GIL released, while the readouts of the previous are computed), so at most
#: about 2 x BATCH trajectories are held, whatever the number of patients (CRS, 28 days hourly:
#: about 0.4 MB per patient as C++ vectors and again as numpy arrays while they are converted).
BATCH = 250


#: Most patients of one population: its table (parameters and readouts, about 100 bytes a patient)
#: stays within a few GB; a larger study is several populations with different seeds.
MAX_PATIENTS = 10_000_000

def _omegas(variability: Any, model: Model) -> Dict[str, float]:
    if not isinstance(variability, Mapping) or not variability:
        raise input_error("variability", variability, "a non-empty dict parameter -> omega (SD of the "
                          "log-normal random effect) or {'cv': c}, e.g. {'rho': 0.3, 'tumor_burden': 1.0}")
    out: Dict[str, float] = {}
    for name, spec in variability.items():
        field = f"variability[{name!r}]"
        if name not in model.parameter_names:
            raise input_error(field, spec, f"a parameter of model {model.name}, one of "
                              f"{{{', '.join(model.parameter_names)}}}")
        if name == WEIGHT_PARAMETER:
            raise input_error(field, spec, "a parameter other than the body weight (per-kg doses are "
                              "converted once per population; run one population per weight)")
        if isinstance(spec, Mapping) and set(spec) == {"cv"}:
            cv = spec["cv"]
            if not (isinstance(cv, (int, float)) and math.isfinite(cv) and cv >= 0):
                raise input_error(field, spec, "{'cv': c} with a finite c >= 0")
            omega = math.sqrt(math.log1p(float(cv) ** 2))
        elif isinstance(spec, (int, float)) and not isinstance(spec, bool):
            omega = float(spec)
        else:
            raise input_error(field, spec, "omega (a number >= 0, SD on the log scale) or {'cv': c}")
        if not (math.isfinite(omega) and omega >= 0):
            raise input_error(field, spec, "omega >= 0 and finite (SD on the log scale)")
        out[name] = omega
    return out


def _correlation(correlation: Any, names: List[str]) -> np.ndarray:
    R = np.eye(len(names))
    if correlation is None:
        return R
    if not isinstance(correlation, Mapping):
        raise input_error("correlation", correlation, "a dict (name_a, name_b) -> r, e.g. {('CL', 'V1'): 0.6}")
    for pair, r in correlation.items():
        field = f"correlation[{pair!r}]"
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(p in names for p in pair) and pair[0] != pair[1]):
            raise input_error(field, r, "a key (name_a, name_b) of two different parameters in variability: "
                              + ", ".join(names))
        if not (isinstance(r, (int, float)) and -1 < r < 1):
            raise input_error(field, r, "a correlation in (-1, 1)")
        i, j = names.index(pair[0]), names.index(pair[1])
        R[i, j] = R[j, i] = float(r)
    if np.linalg.eigvalsh(R).min() <= 1e-10:
        raise input_error("correlation", correlation, "a positive definite correlation matrix (these "
                          "pairwise values are inconsistent with each other)")
    return R


def sample_parameters(scenario: Scenario, n: int, variability: Mapping[str, Any],
                      correlation: Optional[Mapping[Tuple[str, str], float]] = None,
                      seed: int = 0) -> pd.DataFrame:
    """The parameters of ``n`` virtual patients (one row each, the varied parameters as columns,
    in the model's units), drawn as described in the module docstring. Same seed, same table."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 1 <= n <= MAX_PATIENTS:
        raise input_error("n", n, f"a number of patients in [1, {MAX_PATIENTS:,}] (integer; one "
                          "population table holds every patient's parameters and readouts)")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise input_error("seed", seed, "an integer seed in [0, 2**63)")
    model = Model(scenario.model, scenario.parameter_set)
    omegas = _omegas(variability, model)
    names = list(omegas)
    R = _correlation(correlation, names)
    typical = np.array([float(scenario.parameters.get(k, model.parameter_values[k])) for k in names])
    if np.any(typical <= 0):
        bad = names[int(np.argmax(typical <= 0))]
        raise input_error(f"variability[{bad!r}]", omegas[bad], "a parameter with a typical value > 0 "
                          "(log-normal variability)")
    w = np.array([omegas[k] for k in names])
    L = np.linalg.cholesky(R)
    z = np.random.default_rng(int(seed)).standard_normal((int(n), len(names)))
    eta = (z @ L.T) * w
    table = pd.DataFrame(typical * np.exp(eta), columns=names)
    table.index.name = "patient"
    table.attrs.update(omega=dict(omegas), correlation=R, typical=dict(zip(names, typical)), seed=int(seed))
    return table


def population(scenario: Union[Scenario, str], n: int, variability: Mapping[str, Any],
               correlation: Optional[Mapping[Tuple[str, str], float]] = None, seed: int = 0,
               readouts: Optional[Sequence[str]] = None, threads: Optional[int] = None) -> pd.DataFrame:
    """Simulates ``n`` virtual patients of one scenario and tabulates their readouts.

    Args:
        scenario: the :class:`crsim.Scenario` (or a scenario file) every patient follows: regimen,
            policies, horizon, outputs, solver. Its parameters are the typical values.
        n: number of patients.
        variability: parameter -> omega (SD of the log-normal random effect η, so θ_i = θ e^η_i) or
            ``{"cv": c}`` (omega = sqrt(ln(1 + c²))). The body-weight parameter cannot vary (per-kg
            doses are converted once).
        correlation: optional ``{(a, b): r}`` between the random effects of varied parameters.
        seed: random seed (same seed, same patients, whatever the number of threads).
        readouts: columns wanted (default: as :func:`crsim.scan`).
        threads: C++ threads (None or 0: one per hardware thread).

    Returns:
        A DataFrame indexed by patient: the sampled parameters, then the readouts (``attrs``:
        ``units``, ``omega``, ``correlation``, ``typical``, ``seed``). A patient whose run failed
        keeps NaN readouts and its message in the ``error`` column.
    """

    if isinstance(scenario, str):
        scenario = Scenario.from_file(scenario)
    if not isinstance(scenario, Scenario):
        raise input_error("scenario", scenario, "a crsim.Scenario or a scenario file path")
    params = sample_parameters(scenario, n, variability, correlation, seed)
    return run_parameter_table(scenario, params, readouts, threads)


def run_parameter_table(scenario: Scenario, params: pd.DataFrame,
                        readouts: Optional[Sequence[str]] = None,
                        threads: Optional[int] = None) -> pd.DataFrame:
    """Runs one patient per row of ``params`` (columns: parameter names, values in the parameter's
    unit) through the batch engine, as :func:`population` does with sampled rows (and
    :func:`crsim.gsa` with a design's): the parameters, then the readouts; a row outside the
    parameters' bounds or whose run fails keeps NaN readouts and its message in ``error``."""
    n = len(params)
    prep = resolve_scenario(scenario)
    base = prep.core
    nthreads = 0 if threads is None else int(threads)
    wanted = list(readouts) if readouts is not None else \
        list(extension(scenario.model).scan_readouts) or None  # None: all
    frames: List[pd.DataFrame] = []  # the readouts, one compact frame per chunk
    errors: List[str] = []
    units: Dict[str, str] = {}
    names = list(params.columns)
    values_all = params.to_numpy()
    # A sampled value outside the parameter's bounds (a long log-normal tail: 1 in 10,000 patients
    # beyond 3.7 omega) is that patient's error, not the population's: the patient is not run.
    ptab = Model(scenario.model, scenario.parameter_set).parameters.set_index("name").loc[names]
    lower, upper = ptab["lower"].to_numpy(dtype=float), ptab["upper"].to_numpy(dtype=float)
    outside = (values_all < lower) | (values_all > upper)

    def refused(i: int) -> str:
        j = int(np.argmax(outside[i]))
        return (f"parameters.{names[j]} = {values_all[i, j]:.12g} (sampled) is outside its bounds "
                f"[{lower[j]:g}, {upper[j]:g}] {ptab['unit'].iloc[j]}; the patient was not simulated")

    def run_chunk(start: int, stop: int) -> List[Dict[str, Any]]:
        ok = [i for i in range(start, stop) if not outside[i].any()]
        problems = [dict(base, parameters={**base["parameters"], **dict(zip(names, map(float, values_all[i])))})
                    for i in ok]
        outs = iter(_core.simulate_batch(scenario.model, problems, nthreads) if problems else ())
        return [next(outs) if not outside[i].any() else {"status": "InputError", "message": refused(i)}
                for i in range(start, stop)]

    # The first patient runs alone, so that a wrong readout name fails before the first batch; then
    # chunk k + 1 integrates (C++ threads, GIL released) while the readouts of chunk k are computed.
    # The rows come in patient order whatever the threads, so results do not depend on them.
    edges = sorted({0, min(1, n), n, *range(1, n, BATCH)})
    chunks = list(zip(edges, edges[1:]))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crsim-population") as pool:
        pending = None
        for k, (start, stop) in enumerate(chunks):
            outs = pending.result() if pending is not None else run_chunk(start, stop)
            if k == 0:  # the lone first patient's readouts first
                frames.append(_readout_frame(outs, prep, wanted, errors, units))
            pending = pool.submit(run_chunk, *chunks[k + 1]) if k + 1 < len(chunks) else None
            if k > 0:
                frames.append(_readout_frame(outs, prep, wanted, errors, units))
            del outs
    cols = wanted if wanted is not None else list(units)
    # (infer_objects: a chunk of failed runs only has object columns of NaN)
    readouts_table = pd.concat(frames, ignore_index=True).reindex(columns=cols).infer_objects()
    readouts_table.index = params.index
    table = pd.concat([params, readouts_table], axis=1)
    if any(errors):
        table["error"] = errors
    table.attrs.update(params.attrs)
    table.attrs["units"] = units
    table.attrs["model"] = scenario.model
    return table


def _readout_frame(outs: List[Dict[str, Any]], prep: Any, wanted: Optional[List[str]],
                   errors: List[str], units: Dict[str, str]) -> pd.DataFrame:
    """The readouts of a chunk's runs, one row each in order (NaN and an error for a failed run), as
    a frame of floats: a population keeps a few numbers per patient, not a dict per row."""
    rows: List[Dict[str, Any]] = []
    for out in outs:
        row: Dict[str, Any] = {}
        if out["status"] != "ok":
            errors.append(f"{out['status']}: {out['message']}")
            rows.append(row)
            continue
        errors.append("")
        values, u = readout_row(to_result(prep, out), wanted)
        row.update(values)
        units.update(u)
        rows.append(row)
    return pd.DataFrame(rows, columns=wanted) if wanted is not None else pd.DataFrame(rows)


# --- files ---------------------------------------------------------------------------------------

#: Format name and schema version of population files (docs/hdf5-schema.md, "Population files").
POPULATION_FORMAT = "crsim-population"
POPULATION_SCHEMA = 1


def save_population(table: pd.DataFrame, path: Any, scenario: Optional[Scenario] = None) -> None:
    """Writes a population table (from :func:`population`) to an HDF5 file readable with h5py:
    one dataset per column under ``/population`` (with its unit), the variability, seed and
    scenario as attributes. The file is written to a temporary name and renamed, so ``path`` never
    holds a half-written file."""
    import datetime
    import json
    import os

    try:
        import h5py
    except ImportError:
        raise input_error("path", str(path), "an HDF5 path with h5py installed (pip install h5py)") from None

    if not isinstance(table, pd.DataFrame) or "omega" not in table.attrs:
        raise input_error("table", type(table).__name__, "a table returned by crsim.population")
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise input_error("path", path, f"a file in an existing directory ({parent} does not exist)")
    tmp = f"{path}.part{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = POPULATION_FORMAT
            f.attrs["schema_version"] = POPULATION_SCHEMA
            f.attrs["crsim_version"] = _core.__version__
            f.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            g = f.create_group("population")
            g.attrs["model"] = table.attrs.get("model", "")
            g.attrs["seed"] = int(table.attrs["seed"])
            g.attrs["omega_json"] = json.dumps(table.attrs["omega"])
            g.attrs["typical_json"] = json.dumps(table.attrs["typical"])
            g.attrs["columns"] = list(map(str, table.columns))
            g.attrs["scenario_json"] = json.dumps(scenario.to_dict()) if scenario is not None else ""
            g.create_dataset("correlation", data=np.asarray(table.attrs["correlation"], dtype=float))
            g.create_dataset("patient", data=table.index.to_numpy(dtype=np.int64))
            units = table.attrs.get("units", {})
            model = Model(table.attrs["model"]) if table.attrs.get("model") else None
            punits = model.parameter_units if model is not None else {}
            cols = g.create_group("columns")
            for c in table.columns:
                if c == "error":
                    ds = cols.create_dataset(c, data=np.array(table[c].astype(str).tolist(), dtype=object),
                                             dtype=h5py.string_dtype())
                else:
                    ds = cols.create_dataset(c, data=table[c].to_numpy(dtype=float), compression="gzip")
                ds.attrs["unit"] = units.get(c, punits.get(c, ""))
        os.replace(tmp, path)
    except OSError as ex:
        raise input_error("path", path, f"a writable file path ({ex})") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_population(path: Any) -> pd.DataFrame:
    """Reads a file written by :func:`save_population` back into the same table (attrs included)."""
    import json
    import os

    import h5py

    path = os.fspath(path)
    try:
        f = h5py.File(path, "r")
    except OSError as ex:
        raise input_error("path", path, f"a readable HDF5 population file ({ex})") from None
    with f:
        if f.attrs.get("format") != POPULATION_FORMAT:
            raise input_error("path", path, f"a crsim population file (attribute format = "
                              f"{POPULATION_FORMAT!r}; this file has {f.attrs.get('format')!r})")
        if int(f.attrs.get("schema_version", -1)) > POPULATION_SCHEMA:
            raise input_error("path", path, f"population schema version <= {POPULATION_SCHEMA} "
                              f"(file: {f.attrs.get('schema_version')}; update crsim)")
        g = f["population"]
        data = {}
        units = {}
        for c in g.attrs["columns"]:
            ds = g["columns"][c]
            data[c] = [v.decode() if isinstance(v, bytes) else v for v in ds[()]] if c == "error" else ds[()]
            units[c] = str(ds.attrs["unit"])
        table = pd.DataFrame(data, index=pd.Index(g["patient"][()], name="patient"))
        omega = json.loads(g.attrs["omega_json"])
        table.attrs.update(omega=omega, typical=json.loads(g.attrs["typical_json"]),
                           correlation=g["correlation"][()], seed=int(g.attrs["seed"]),
                           model=str(g.attrs["model"]),
                           units={k: v for k, v in units.items() if k not in omega and k != "error"})
    return table
