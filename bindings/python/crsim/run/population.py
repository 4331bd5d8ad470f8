"""Populations of virtual patients: one scenario, parameters drawn per patient with log-normal
inter-individual variability (optionally correlated), run in batches on C++ threads, one row of
readouts per patient.

    θ_i = θ · exp(η_i),   η_i ~ N(0, Ω),   Ω = diag(ω) · R · diag(ω)

with θ the scenario's value (parameter set or override), ω the SD of η (log scale; for small ω
about the CV; ``{"cv": c}`` gives ω = sqrt(ln(1 + c²))) and R the correlation matrix.

Without a ``variability`` argument, a population varies what the scenario's parameter set declares
as published between-patient variability (``crsim.Model(...).variability``: each ω and correlation
with its source); the table's ``attrs["variability"]`` says where each ω came from and which
parameters were deliberately left at their typical values for want of a published spread.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from crsim import _core
from crsim.base.errors import input_error
from crsim.model.extension import extension
from crsim.model.model import WEIGHT_PARAMETER, Model
from crsim.run.batches import (Chunk, ChunkOut, RowJob, check_chunk_size, check_retries, edges,
                               merge_chunks, run_chunks)
from crsim.run.popfile import (POPULATION_FORMAT, POPULATION_SCHEMA, PartsWriter,  # noqa: F401
                               PopulationFile, load_population, save_population)
from crsim.scenario.scenario import Scenario

__all__ = ["population", "sample_parameters", "save_population", "load_population", "PopulationFile"]

#: Patients simulated per engine call in this process. Two calls are in flight at once (the next
#: integrates on the engine's threads, the GIL released, while the readouts of the previous are
#: computed), so at most about 2 x BATCH trajectories are held, whatever the number of patients
#: (CRS, 28 days hourly: about 0.4 MB per patient as C++ vectors and again as numpy arrays while
#: they are converted).
BATCH = 250

#: Patients drawn at a time from the random stream: parameters are drawn in blocks of this fixed
#: size (never of the chunks' size), so a patient's parameters do not depend on how the population
#: is cut into chunks or tasks, and the drawing process holds one block, not the whole table.
DRAW_BLOCK = 65536


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


#: What a population's ``attrs["variability"]["others"]`` says of the parameters it does not vary.
NOT_VARIED_NOTE = ("every other parameter is at the scenario's value for every patient: no published "
                   "between-patient variability for it is declared in the parameter set")


def without_published_variability(model: Model) -> Optional[str]:
    """Why ``model`` (with its parameter set) has no default variability for a population, in words
    ("the parameter set 'x' declares no published between-patient variability"), or None when it
    declares some (an omega > 0)."""
    if (model.variability["omega"] > 0).any():
        return None
    where = f"parameter set '{model.parameter_set}'" if model.parameter_set else \
        f"model {model.name} (it has no parameter set)"
    return f"the {where} declares no published between-patient variability"


def published_variability(model: Model) -> Tuple[Dict[str, float], Dict[Tuple[str, str], float],
                                                  Dict[str, Any]]:
    """(omegas, correlations, description) of the variability a model's parameter set declares
    (:attr:`crsim.Model.variability`): the parameters with ω > 0, their correlations, and
    ``{"default": True, "parameter_set", "sources": {name: source}, "correlation_sources":
    {"a,b": source}, "not_varied": {name: reason}, "others": NOT_VARIED_NOTE}``."""
    var, corr = model.variability, model.correlations
    missing = without_published_variability(model)
    if missing:
        raise input_error("variability", None, f"a dict parameter -> omega: {missing} to use as the "
                          f"default, e.g. {{'{model.parameter_names[0]}': 0.3}}")
    omegas = {r.name: float(r.omega) for r in var.itertuples() if r.omega > 0}
    pairs = {(r.a, r.b): float(r.r) for r in corr.itertuples() if r.a in omegas and r.b in omegas}
    info = {"default": True, "parameter_set": model.parameter_set,
            "sources": {r.name: r.source for r in var.itertuples() if r.omega > 0},
            "correlation_sources": {f"{r.a},{r.b}": r.source for r in corr.itertuples()
                                    if r.a in omegas and r.b in omegas},
            "not_varied": {r.name: r.source for r in var.itertuples() if r.omega == 0},
            "others": NOT_VARIED_NOTE}
    return omegas, pairs, info


class _Sampler:
    """The checked variability of a population and its parameter draws, block by block."""

    def __init__(self, scenario: Scenario, n: int, variability: Optional[Mapping[str, Any]],
                 correlation: Optional[Mapping[Tuple[str, str], float]], seed: int):
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 1 <= n <= MAX_PATIENTS:
            raise input_error("n", n, f"a number of patients in [1, {MAX_PATIENTS:,}] (integer; one "
                              "population table holds every patient's parameters and readouts)")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**63:
            raise input_error("seed", seed, "an integer seed in [0, 2**63)")
        model = Model(scenario.model, scenario.parameter_set)
        if variability is None:
            variability, published, self.info = published_variability(model)
            if correlation is None:
                correlation = published
            else:
                self.info = dict(self.info, correlation_sources={"*": "given by the caller"})
        else:
            self.info = {"default": False, "parameter_set": model.parameter_set,
                         "sources": {k: "given by the caller" for k in (variability if isinstance(
                             variability, Mapping) else {})},
                         "correlation_sources": {}, "not_varied": {}, "others": NOT_VARIED_NOTE}
        self.omegas = _omegas(variability, model)
        self.names = list(self.omegas)
        self.R = _correlation(correlation, self.names)
        typical = np.array([float(scenario.parameters.get(k, model.parameter_values[k])) for k in self.names])
        if np.any(typical <= 0):
            bad = self.names[int(np.argmax(typical <= 0))]
            raise input_error(f"variability[{bad!r}]", self.omegas[bad], "a parameter with a typical "
                              "value > 0 (log-normal variability)")
        self.typical = typical
        self.n, self.seed = int(n), int(seed)
        ptab = model.parameters.set_index("name").loc[self.names]
        self.lower = ptab["lower"].to_numpy(dtype=float)
        self.upper = ptab["upper"].to_numpy(dtype=float)
        self.units = list(ptab["unit"])

    @property
    def attrs(self) -> Dict[str, Any]:
        return dict(omega=dict(self.omegas), correlation=self.R,
                    typical=dict(zip(self.names, self.typical)), seed=self.seed,
                    variability=self.info)

    def blocks(self) -> Iterator[np.ndarray]:
        """The parameters of patients 0, 1, ... in blocks of DRAW_BLOCK rows (one stream of
        standard normals, k per patient, drawn in patient order)."""
        w = np.array([self.omegas[k] for k in self.names])
        L = np.linalg.cholesky(self.R)
        rng = np.random.default_rng(self.seed)
        for start in range(0, self.n, DRAW_BLOCK):
            z = rng.standard_normal((min(DRAW_BLOCK, self.n - start), len(self.names)))
            yield self.typical * np.exp((z @ L.T) * w)


def sample_parameters(scenario: Scenario, n: int, variability: Optional[Mapping[str, Any]] = None,
                      correlation: Optional[Mapping[Tuple[str, str], float]] = None,
                      seed: int = 0) -> pd.DataFrame:
    """The parameters of ``n`` virtual patients (one row each, the varied parameters as columns,
    in the model's units), drawn as described in the module docstring (``variability=None``: the
    parameter set's published variability). Same seed, same table."""
    sampler = _Sampler(scenario, n, variability, correlation, seed)
    table = pd.DataFrame(np.concatenate(list(sampler.blocks())), columns=sampler.names)
    table.index.name = "patient"
    table.attrs.update(sampler.attrs)
    return table


def _chunks(blocks: Iterator[np.ndarray], n: int, size: int) -> Iterator[Chunk]:
    """Chunks of rows cut from a stream of row blocks: the first row alone, then ``size`` rows
    at a time."""
    buffer = np.empty((0, 0))
    offset = 0  # row index of buffer[0]
    for a, b in edges(n, size):
        while offset + len(buffer) < b:
            block = next(blocks)
            buffer = block if len(buffer) == 0 else np.concatenate([buffer, block])
        yield Chunk(a, b, buffer[a - offset:b - offset].copy())
        buffer = buffer[b - offset:]
        offset = b


def population(scenario: Union[Scenario, str], n: int, variability: Optional[Mapping[str, Any]] = None,
               correlation: Optional[Mapping[Tuple[str, str], float]] = None, seed: int = 0,
               readouts: Optional[Sequence[str]] = None, threads: Optional[int] = None, *,
               client: Any = None, output: Any = None, chunk_size: Optional[int] = None,
               retries: int = 2, progress: Optional[bool] = None) -> Union[pd.DataFrame, PopulationFile]:
    """Simulates ``n`` virtual patients of one scenario and tabulates their readouts.

    Args:
        scenario: the :class:`crsim.Scenario` (or a scenario file) every patient follows: regimen,
            policies, horizon, outputs, solver. Its parameters are the typical values.
        n: number of patients.
        variability: parameter -> omega (SD of the log-normal random effect η, so θ_i = θ e^η_i) or
            ``{"cv": c}`` (omega = sqrt(ln(1 + c²))). The body-weight parameter cannot vary (per-kg
            doses are converted once). None (the default): the published variability the
            scenario's parameter set declares (:attr:`crsim.Model.variability`, e.g. Stein 2019 for
            CAR-T kinetics, Frey 2010 for tocilizumab), with its correlations; an error if the set
            declares none.
        correlation: optional ``{(a, b): r}`` between the random effects of varied parameters
            (with ``variability=None`` it replaces the published correlations).
        seed: random seed (same seed, same patients, whatever the threads, the Dask workers or
            the chunking).
        readouts: columns wanted (default: as :func:`crsim.scan`).
        threads: C++ threads (None or 0: one per hardware thread; with a Dask client, per task,
            default 1).
        client: None (this process's C++ threads), or Dask: a ``distributed.Client``, a scheduler
            address (``"tcp://host:8786"``) or ``"local:N"`` (a LocalCluster of N worker
            processes, closed at the end). Chunks of patients then run as Dask tasks; the
            parameters are drawn here, once.
        output: an HDF5 path: the rows are streamed there chunk by chunk (memory flat in ``n``;
            ``crsim.load_population(output, partial=True)`` reads the finished rows while it
            runs) and a :class:`PopulationFile` is returned instead of the table.
        chunk_size: patients per Dask task (default: about four tasks per worker thread, at most
            1000).
        retries: times a failed Dask task is tried again (Dask reschedules the task of a lost
            worker by itself as well).
        progress: a progress bar on stderr (None: only in a terminal; True: always, e.g. in a
            notebook).

    Returns:
        A DataFrame indexed by patient: the sampled parameters, then the readouts (``attrs``:
        ``units``, ``omega``, ``correlation``, ``typical``, ``seed``, ``variability``: where each
        omega came from, which parameters the set declares unvaried and why, and a note that every
        other parameter is at its typical value). A patient whose run failed
        keeps NaN readouts and its message in the ``error`` column. With ``output``: a
        :class:`PopulationFile` (path, n, failed; ``.table()`` reads it).
    """

    if isinstance(scenario, str):
        scenario = Scenario.from_file(scenario)
    if not isinstance(scenario, Scenario):
        raise input_error("scenario", scenario, "a crsim.Scenario or a scenario file path")
    sampler = _Sampler(scenario, n, variability, correlation, seed)
    chunk_size = check_chunk_size(chunk_size)
    retries = check_retries(retries)
    wanted = _wanted(scenario, readouts)
    job = _job(scenario, sampler.names, sampler.lower, sampler.upper, sampler.units, wanted, threads, client)

    def chunks(size: int) -> Iterator[Chunk]:
        return _chunks(sampler.blocks(), n, size)

    common = dict(client=client, chunk_size=chunk_size, local_size=BATCH, progress=progress,
                  desc="population", unit="patient", retries=retries)
    if output is not None:
        import json
        import os

        meta = dict(sampler.attrs, n=int(n), names=sampler.names, wanted=wanted, model=scenario.model,
                    scenario_json=json.dumps(scenario.to_dict()))
        writer = PartsWriter(output if isinstance(output, (str, os.PathLike)) else _bad_output(output), meta)
        run_chunks(job, chunks, n, lambda c, o: writer.write(c.start, c.stop, c.payload, o.frame, o.errors,
                                                             o.units), **common)
        return writer.finish()
    outs: Dict[int, Tuple[np.ndarray, ChunkOut]] = {}
    run_chunks(job, chunks, n, lambda c, o: outs.__setitem__(c.start, (c.payload, o)), **common)
    ordered = [outs[k] for k in sorted(outs)]
    params = pd.DataFrame(np.concatenate([p for p, _ in ordered]), columns=sampler.names)
    params.index.name = "patient"
    params.attrs.update(sampler.attrs)
    return _table(scenario, params, [o for _, o in ordered], wanted)


def _bad_output(output: Any) -> str:
    raise input_error("output", output, "an HDF5 file path (str or os.PathLike), or None for a table")


def _wanted(scenario: Scenario, readouts: Optional[Sequence[str]]) -> Optional[List[str]]:
    if isinstance(readouts, str):
        return [readouts]
    return list(readouts) if readouts is not None else \
        list(extension(scenario.model).scan_readouts) or None  # None: all


def _job(scenario: Scenario, names: Sequence[str], lower: np.ndarray, upper: np.ndarray,
         units: Sequence[str], wanted: Optional[List[str]], threads: Optional[int], client: Any) -> RowJob:
    if threads is not None and (not isinstance(threads, (int, np.integer)) or isinstance(threads, bool)
                                or threads < 0):
        raise input_error("threads", threads, "a number of C++ threads >= 0 (0 or None: all; with a "
                          "Dask client, per task, default 1)")
    nthreads = (0 if client is None else 1) if threads is None else int(threads)
    return RowJob(scenario, names, lower, upper, units, wanted, nthreads,
                  _core.user_models().get(scenario.model))


def _table(scenario: Scenario, params: pd.DataFrame, outs: List[ChunkOut],
           wanted: Optional[List[str]]) -> pd.DataFrame:
    readouts_table, errors, units = merge_chunks(outs, wanted)
    readouts_table.index = params.index
    table = pd.concat([params, readouts_table], axis=1)
    if any(errors):
        table["error"] = errors
    table.attrs.update(params.attrs)
    table.attrs["units"] = units
    table.attrs["model"] = scenario.model
    return table


def run_parameter_table(scenario: Scenario, params: pd.DataFrame,
                        readouts: Optional[Sequence[str]] = None,
                        threads: Optional[int] = None, client: Any = None,
                        chunk_size: Optional[int] = None, retries: int = 2,
                        progress: Optional[bool] = None, desc: str = "runs") -> pd.DataFrame:
    """Runs one patient per row of ``params`` (columns: parameter names, values in the parameter's
    unit) through the batch engine (local threads or a Dask ``client``), as :func:`population`
    does with sampled rows (and :func:`crsim.gsa` with a design's): the parameters, then the
    readouts; a row outside the parameters' bounds or whose run fails keeps NaN readouts and its
    message in ``error``."""
    n = len(params)
    chunk_size = check_chunk_size(chunk_size)
    retries = check_retries(retries)
    names = list(params.columns)
    ptab = Model(scenario.model, scenario.parameter_set).parameters.set_index("name").loc[names]
    wanted = _wanted(scenario, readouts)
    job = _job(scenario, names, ptab["lower"].to_numpy(dtype=float), ptab["upper"].to_numpy(dtype=float),
               list(ptab["unit"]), wanted, threads, client)
    values = params.to_numpy(dtype=float)
    outs: Dict[int, ChunkOut] = {}
    run_chunks(job, lambda size: (Chunk(a, b, values[a:b]) for a, b in edges(n, size)), n,
               lambda c, o: outs.__setitem__(c.start, o), client=client, chunk_size=chunk_size,
               local_size=BATCH, progress=progress, desc=desc, unit="run", retries=retries)
    return _table(scenario, params, [outs[k] for k in sorted(outs)], wanted)
