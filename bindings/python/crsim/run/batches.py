"""Batches of runs: chunks of rows (virtual patients, a design's parameter rows, scan settings) run
on the engine's C++ threads in this process, or as tasks on a Dask cluster.

A *job* knows how to run one chunk: :meth:`simulate` (the engine, GIL released) then
:meth:`readouts` (one row of readouts per run, its error message, the units). Locally the next
chunk integrates while the readouts of the previous one are computed; on Dask each chunk is one
task (both steps, on a worker) and at most a window of chunks is in flight, so the client holds a
bounded number of rows whatever their number. Rows come back with their start index, so a result
never depends on the chunking, the number of workers or the order in which chunks finish.

The first chunk (one row) always runs alone and any error in it is raised: a wrong readout name or
a worker without crsim fails at once, not after the whole batch. After that, a run that fails is
its row's error; a chunk whose task fails on the cluster (a worker lost more often than Dask
allows, ``retries`` exhausted) gives each of its rows the task's error message, and the other
chunks are kept.
"""
from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from crsim import _core
from crsim.base import progress as _progress
from crsim.base.errors import InputError, input_error
from crsim.run.simulate import to_result
from crsim.scenario.resolve import resolve_scenario
from crsim.scenario.scenario import Scenario
from crsim.model.extension import extension
from crsim.results.readouts import extra_readouts
from crsim.base.problems import suggest

__all__ = ["ChunkOut", "RowJob", "ScenarioJob", "run_chunks", "connect", "CLIENT_ALLOWED",
           "readout_row", "native_spec"]

CLIENT_ALLOWED = ("a dask.distributed Client, a scheduler address such as 'tcp://10.0.0.5:8786' "
                  "(or host:port), or 'local:N' (a LocalCluster of N worker processes on this machine)")
_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ucx|ws|wss|inproc)://\S+|[A-Za-z0-9_.\-\[\]:]+:\d{1,5})$")
_LOCAL = re.compile(r"^local(?::(\d+))?$")


@dataclass
class ChunkOut:
    """The rows of one chunk: ``frame`` (readouts, one row per run, NaN for a failed run),
    ``errors`` ("" or the message), ``units`` (readout -> unit, in order of first appearance),
    ``results`` (Result objects, only when a local scan keeps them)."""

    frame: pd.DataFrame
    errors: List[str]
    units: Dict[str, str]
    results: Optional[List[Any]] = None


def readout_row(res: Any, wanted: Optional[Sequence[str]]) -> Tuple[Dict[str, float], Dict[str, str]]:
    """The numeric readouts of one run (its model's readouts and the scan extras), restricted to
    ``wanted`` (all when None), with their units; an unknown name raises InputError."""
    values = {k: v for k, v in res.readouts.items() if not isinstance(v, str)}
    units = dict(res.readout_units)
    ev, eu = extra_readouts(res)
    values.update(ev)
    units.update(eu)
    names = wanted if wanted is not None else list(values)
    for name in names:
        if name not in values:
            known = sorted(values)
            raise input_error("readouts", name, f"a readout of model {res.model.name}, one of "
                              f"{{{', '.join(known)}}}{suggest(name, known)}")
    return {n: values[n] for n in names}, {n: units.get(n, "") for n in names}


def native_spec(model: str, wanted: Optional[Sequence[str]]) -> Optional[Tuple[List[Any], Dict[str, str]]]:
    """The engine's readout specs and units for ``wanted`` when the engine can compute every one of
    them itself (``ModelExtension.native_readouts``, the dose counts of ``drug_states``,
    ``policy_firings``), else None (the runs then come back to Python as Results)."""
    if wanted is None:
        return None
    ext = extension(model)
    table: Dict[str, Tuple[Any, str]] = dict(ext.native_readouts)
    for drug, states in ext.drug_states.items():
        table[f"{drug}_doses"] = (("dose_count", list(states)), "")
    table["policy_firings"] = (("policy_firings",), "")
    if not wanted or any(name not in table for name in wanted):
        return None
    return [table[name][0] for name in wanted], {name: table[name][1] for name in wanted}


def _ensure_model(model: str, library: Optional[str]) -> None:
    """On a Dask worker: a user model is loaded from the library the client compiled (a file
    system shared with the client); built-in models are always there."""
    if library is None or model in _core.user_models() or model in _core.builtin_models():
        return
    import os
    import socket

    if not os.path.isfile(library):
        raise input_error("model", model, f"a model whose compiled library {library} is readable on "
                          f"every Dask worker (not on {socket.gethostname()}): share the crsim cache "
                          "directory (CRSIM_CACHE_DIR) between the client and the workers")
    _core.load_model_library(library)


class _Job:
    """What is common to the jobs: the readouts wanted, the C++ threads per chunk, the library of
    a user model (for Dask workers)."""

    model: str
    library: Optional[str]
    wanted: Optional[List[str]]
    threads: int
    native: Optional[Tuple[List[Any], Dict[str, str]]] = None  # native_spec of the readouts wanted

    def _run(self, problems: List[Dict[str, Any]]) -> Any:
        """The engine's output for ``problems``: one dict per run (status, message, trajectory), or
        with native readouts a ``(values, errors)`` pair (the rows' readouts, "" or the message)."""
        if self.native is None:
            return _core.simulate_batch(self.model, problems, self.threads) if problems else []
        if not problems:
            return np.empty((0, len(self.native[0]))), []
        values, status, messages = _core.simulate_batch_readouts(self.model, problems, self.threads,
                                                                 self.native[0])
        return values, [m if s == "ok" else f"{s}: {m}" for s, m in zip(status, messages)]

    def _native_rows(self, values: np.ndarray, errors: List[str]) -> ChunkOut:
        return ChunkOut(pd.DataFrame(values, columns=self.wanted), list(errors), dict(self.native[1]))

    def failed(self, rows: int, message: str) -> ChunkOut:
        return ChunkOut(pd.DataFrame(index=range(rows), columns=self.wanted)
                        if self.wanted is not None else pd.DataFrame(index=range(rows)),
                        [message] * rows, {})

    def __call__(self, payload: Any) -> ChunkOut:  # one Dask task
        _ensure_model(self.model, self.library)
        return self.readouts(payload, self.simulate(payload))

    def _rows(self, outs: Sequence[Dict[str, Any]], preps: Sequence[Any], keep: bool = False,
              scenarios: Optional[Sequence[Scenario]] = None) -> ChunkOut:
        rows: List[Dict[str, Any]] = []
        errors: List[str] = []
        units: Dict[str, str] = {}
        results: Optional[List[Any]] = [] if keep else None
        for k, (out, prep) in enumerate(zip(outs, preps)):
            if out["status"] != "ok":
                errors.append(f"{out['status']}: {out['message']}")
                rows.append({})
                if results is not None:
                    results.append(None)
                continue
            errors.append("")
            res = to_result(prep, out)
            if scenarios is not None:
                res.scenario = scenarios[k]
            values, u = readout_row(res, self.wanted)
            rows.append(values)
            units.update(u)
            if results is not None:
                results.append(res)
        frame = pd.DataFrame(rows, columns=self.wanted) if self.wanted is not None else pd.DataFrame(rows)
        return ChunkOut(frame, errors, units, results)


class RowJob(_Job):
    """Runs of one scenario, one per row of parameter values (a population, a GSA design). A row
    outside the parameters' bounds is refused (its error), not run."""

    def __init__(self, scenario: Scenario, names: Sequence[str], lower: np.ndarray, upper: np.ndarray,
                 punits: Sequence[str], wanted: Optional[Sequence[str]], threads: int,
                 library: Optional[str] = None):
        self.scenario = scenario
        self.model = scenario.model
        self.names = list(names)
        self.lower, self.upper = np.asarray(lower, float), np.asarray(upper, float)
        self.punits = list(punits)
        self.wanted = list(wanted) if wanted is not None else None
        self.threads = int(threads)
        self.library = library
        self.native = native_spec(self.model, self.wanted)
        self._prep = None

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["_prep"] = None  # resolved again on the worker, once
        return state

    @property
    def prep(self) -> Any:
        if self._prep is None:
            self._prep = resolve_scenario(self.scenario)
        return self._prep

    def _refused(self, values: np.ndarray, outside: np.ndarray) -> str:
        j = int(np.argmax(outside))
        return (f"parameters.{self.names[j]} = {values[j]:.12g} (sampled) is outside its bounds "
                f"[{self.lower[j]:g}, {self.upper[j]:g}] {self.punits[j]}; the patient was not simulated")

    def simulate(self, values: np.ndarray) -> List[Dict[str, Any]]:
        base = self.prep.core
        outside = (values < self.lower) | (values > self.upper)
        ok = [i for i in range(len(values)) if not outside[i].any()]
        problems = [dict(base, parameters={**base["parameters"],
                                           **dict(zip(self.names, map(float, values[i])))}) for i in ok]
        refused = {i: self._refused(values[i], outside[i]) for i in range(len(values)) if outside[i].any()}
        if self.native is not None:
            run_values, run_errors = self._run(problems)
            table = np.full((len(values), len(self.native[0])), np.nan)
            table[ok] = run_values
            errors = [f"InputError: {refused[i]}" if i in refused else "" for i in range(len(values))]
            for i, e in zip(ok, run_errors):
                errors[i] = e
            return table, errors
        outs = iter(self._run(problems))
        return [next(outs) if i not in refused else {"status": "InputError", "message": refused[i]}
                for i in range(len(values))]

    def readouts(self, values: np.ndarray, outs: Any) -> ChunkOut:
        if self.native is not None:
            return self._native_rows(*outs)
        return self._rows(outs, [self.prep] * len(outs))


class ScenarioJob(_Job):
    """Runs of several scenarios of one model (a scan), one per row."""

    def __init__(self, model: str, wanted: Optional[Sequence[str]], threads: int,
                 library: Optional[str] = None, keep_results: bool = False):
        self.model = model
        self.wanted = list(wanted) if wanted is not None else None
        self.threads = int(threads)
        self.library = library
        self.keep_results = keep_results
        self.native = None if keep_results else native_spec(model, self.wanted)

    def simulate(self, scenarios: Sequence[Scenario]) -> Tuple[List[Any], Any]:
        preps = [resolve_scenario(sc) for sc in scenarios]
        return preps, self._run([p.core for p in preps])

    def readouts(self, scenarios: Sequence[Scenario], sim: Tuple[List[Any], Any]) -> ChunkOut:
        preps, outs = sim
        if self.native is not None:
            return self._native_rows(*outs)
        return self._rows(outs, preps, self.keep_results, scenarios)


@dataclass
class Chunk:
    start: int
    stop: int
    payload: Any = field(repr=False)


# --- Dask clients ---------------------------------------------------------------------------------

def _dask():
    try:
        import distributed
    except ImportError:
        raise input_error("client", "dask", "a Dask client with dask.distributed installed "
                          "(pip install 'dask[distributed]')") from None
    return distributed


def connect(client: Any, field_name: str = "client") -> Tuple[Any, Callable[[], None]]:
    """The Dask client to use and a function closing what was opened here: ``client`` itself (a
    ``distributed.Client``), a new client of the scheduler at an address, or a new LocalCluster
    (``local:N``: N worker processes, one thread each)."""
    if client is not None and not isinstance(client, str):
        distributed = _dask()
        if not isinstance(client, distributed.Client):
            raise input_error(field_name, client, CLIENT_ALLOWED)
        return client, lambda: None
    text = client.strip() if isinstance(client, str) else ""
    local = _LOCAL.match(text)
    if not local and not _ADDRESS.match(text):
        raise input_error(field_name, client, CLIENT_ALLOWED if field_name == "client" else
                          CLIENT_ALLOWED.split(", ", 1)[1])
    distributed = _dask()
    if local:
        workers = int(local.group(1)) if local.group(1) is not None else None
        if workers is not None and not 1 <= workers <= 1024:
            raise input_error(field_name, client, "'local:N' with N in [1, 1024] worker processes")
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=":0")
        c = distributed.Client(cluster)

        def close() -> None:
            c.close()
            cluster.close()
        return c, close
    try:
        c = distributed.Client(text)  # waits distributed.comm.timeouts.connect (30 s by default)
    except (OSError, TimeoutError) as ex:
        raise input_error(field_name, client, f"the address of a running Dask scheduler "
                          f"(connecting failed: {ex})") from None
    return c, c.close


def _cluster_threads(client: Any) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # pragma: no cover - a scheduler that does not answer: be modest
        return 1


# --- running ---------------------------------------------------------------------------------------

def _local(job: _Job, chunks: Iterator[Chunk], done: Callable[[Chunk, ChunkOut], None]) -> None:
    # chunk k + 1 integrates (C++ threads, GIL released) while the readouts of chunk k are computed
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crsim-batch") as pool:
        current = next(chunks, None)
        if current is None:
            return
        sim = job.simulate(current.payload)      # the first chunk alone: its errors come first
        while current is not None:
            following = next(chunks, None)
            pending = pool.submit(job.simulate, following.payload) if following is not None else None
            done(current, job.readouts(current.payload, sim))
            del sim
            current = following
            sim = pending.result() if pending is not None else None


def _remote(job: _Job, chunks: Iterator[Chunk], done: Callable[[Chunk, ChunkOut], None], client: Any,
            retries: int, window: Optional[int]) -> None:
    distributed = _dask()
    first = next(chunks, None)
    if first is None:
        return
    [remote_job] = client.scatter([job], broadcast=True, hash=False)
    future = client.submit(_run_task, remote_job, first.payload, pure=False, retries=retries)
    try:
        out = future.result()                # raises what the first row raised on the worker
    except InputError:
        raise
    except Exception as ex:
        raise RuntimeError(f"the Dask workers could not run the first row ({type(ex).__name__}: "
                           f"{ex}); are crsim and its models installed on the workers?") from ex
    del future
    done(first, out)
    inflight = window if window is not None else 2 * _cluster_threads(client) + 2
    pending = distributed.as_completed()
    meta: Dict[str, Tuple[Chunk, Any]] = {}  # the chunks in flight (their rows: a bounded window)

    def submit() -> bool:
        chunk = next(chunks, None)
        if chunk is None:
            return False
        f = client.submit(_run_task, remote_job, chunk.payload, pure=False, retries=retries)
        meta[f.key] = (chunk, f)
        pending.add(f)
        return True

    for _ in range(inflight):
        if not submit():
            break
    try:
        for f in pending:
            chunk, _ = meta.pop(f.key)
            try:
                out = f.result()
            except InputError:
                raise
            except Exception as ex:  # a lost worker beyond Dask's allowances, a task error
                out = job.failed(chunk.stop - chunk.start, f"Dask task failed for rows {chunk.start}-"
                                 f"{chunk.stop - 1}: {type(ex).__name__}: {ex}")
            f.release()
            done(chunk, out)
            del chunk, out
            submit()
    except BaseException:
        client.cancel([f for _, f in meta.values()], force=True)
        raise


def _run_task(job: _Job, payload: Any) -> ChunkOut:
    return job(payload)


def run_chunks(job: _Job, chunks: Callable[[int], Iterator[Chunk]], total: int,
               done: Callable[[Chunk, ChunkOut], None], client: Any = None,
               chunk_size: Optional[int] = None, local_size: int = 250, progress: Any = None,
               desc: str = "runs", unit: str = "run", retries: int = 2,
               window: Optional[int] = None) -> None:
    """Runs every chunk of ``chunks(size)`` (locally when ``client`` is None, ``size`` =
    ``chunk_size`` or ``local_size``; else on the Dask client given or reached through
    :func:`connect`, ``size`` = ``chunk_size`` or :func:`default_chunk_size` of that cluster) and
    calls ``done(chunk, out)`` with each chunk's rows: in order locally, as they finish on Dask. A
    progress bar counts the rows."""
    with _progress.bar(total, desc, progress, unit=unit) as bar:
        def counted(chunk: Chunk, out: ChunkOut) -> None:
            done(chunk, out)
            bar.update(chunk.stop - chunk.start)

        if client is None:
            _local(job, chunks(chunk_size or local_size), counted)
            return
        c, close = connect(client)
        try:
            _remote(job, chunks(chunk_size or default_chunk_size(total, c)), counted, c, retries, window)
        finally:
            close()


def edges(n: int, size: int) -> List[Tuple[int, int]]:
    """Row ranges of chunks: the first row alone (its errors come first), then ``size`` rows."""
    cuts = sorted({0, min(1, n), n, *range(1, n, size)})
    return list(zip(cuts, cuts[1:]))


def default_chunk_size(n: int, client: Any) -> int:
    """Rows per Dask task: about four tasks per worker thread of the cluster, at most 1000 rows (a
    few seconds of CRS courses), at least one."""
    return int(min(1000, max(1, math.ceil(n / (4 * _cluster_threads(client))))))


def check_chunk_size(chunk_size: Any) -> Optional[int]:
    if chunk_size is None:
        return None
    if not isinstance(chunk_size, (int, np.integer)) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise input_error("chunk_size", chunk_size, "a number of rows per task >= 1 (or None: about "
                          "four tasks per worker thread, at most 1000 rows)")
    return int(chunk_size)


def check_retries(retries: Any) -> int:
    if not isinstance(retries, (int, np.integer)) or isinstance(retries, bool) or not 0 <= retries <= 100:
        raise input_error("retries", retries, "a number of retries of a failed Dask task in [0, 100]")
    return int(retries)


def merge_chunks(outs: Sequence[ChunkOut], wanted: Optional[Sequence[str]]) -> Tuple[pd.DataFrame, List[str], Dict[str, str]]:
    """The rows of chunks given in row order: one readout frame (columns: ``wanted``, else every
    readout in order of first appearance), the errors and the units."""
    units: Dict[str, str] = {}
    errors: List[str] = []
    for o in outs:
        units.update(o.units)
        errors.extend(o.errors)
    cols = list(wanted) if wanted is not None else list(units)
    # (infer_objects: a chunk of failed runs only has object columns of NaN)
    frame = pd.concat([o.frame for o in outs], ignore_index=True).reindex(columns=cols).infer_objects()
    return frame, errors, units
