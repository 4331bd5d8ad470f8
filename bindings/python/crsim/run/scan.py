"""Scans: a grid over intervention settings (trigger grade, delay, strategy, doses, parameters), run
on C++ threads with the GIL released, summarised as one row per combination with readouts as
columns.

What is varied is named by a key (docs/policies.md):

- ``policy.<field>``: a field of the scenario's one policy (after standard strategies are expanded):
  ``trigger_grade`` (condition ``grade >= g``), ``threshold`` (same variable and comparison),
  ``when``, ``sustained_h``, ``give``, ``delay_h``, ``max_doses``, ``min_interval_h``,
  ``max_per_24h``, ``window_h``. With several policies: ``policies[i].<field>``.
- ``strategy``: a standard strategy name (or a :class:`crsim.Strategy`, or a list of policies /
  strategies) replacing the scenario's policies.
- ``parameters.<name>``: a parameter value (model unit).
- ``patient.weight_kg``, ``patient.height_cm`` (the height sets the body surface area of per-m²
  doses).
- ``regimen[i].<field>``: a field of regimen entry i as a :class:`crsim.Dose` (``amount``,
  ``time``, ``time_days``, ``duration``, ...; text entries are parsed first).
- ``horizon_days`` / ``horizon_h``.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import re
import warnings
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from crsim import _core
from crsim.spec.dosing import Dose
from crsim.base.errors import InputError, input_error
from crsim.model.extension import extension, extensions
from crsim.model.model import Model
from crsim.spec.policy import POLICY_KEYS, Policy
from crsim.model.strategies import expand, strategy
from crsim.run.batches import (Chunk, ScenarioJob, check_chunk_size, check_retries, edges,  # noqa: F401
                               merge_chunks, readout_row, run_chunks)
from crsim.scenario.resolve import regimen_doses
from crsim.scenario.scenario import Scenario
from crsim.spec.strategy import Strategy
from crsim.base.problems import suggest

__all__ = ["scan", "plot_scan", "scan_scenarios"]

_POLICY_FIELDS = tuple(k for k in POLICY_KEYS if k != "name") + ("trigger_grade", "threshold")
_DOSE_FIELDS = tuple(f.name for f in dataclasses.fields(Dose))
_KEY_FORMS = ("policy.<field>, policies[i].<field>, strategy, parameters.<name>, patient.weight_kg, "
              "patient.height_cm, regimen[i].<field>, horizon_days, horizon_h")


def _base_scenario(base: Union[str, Scenario, Model], base_policy: Any) -> Scenario:
    if isinstance(base, Scenario):
        sc = base
    elif isinstance(base, (str, Model)):
        m = base if isinstance(base, Model) else Model(base)
        proposed = extension(m.name).scan_regimen
        regimen: List[Any] = list(proposed(m)) if proposed is not None else []
        sc = Scenario(model=m.name, name=f"scan_{m.name}", parameter_set=m.parameter_set, regimen=regimen,
                      horizon_days=28, outputs={"step_h": 1.0})
    else:
        raise input_error("scenario", base, "a crsim.Scenario, a model name or a crsim.Model")
    if base_policy is not None:
        entries = base_policy if isinstance(base_policy, (list, tuple)) else [base_policy]
        sc = _with_policies(sc, entries, "base_policy")
    return _expanded(sc)


def _with_policies(sc: Scenario, entries: Sequence[Any], field: str) -> Scenario:
    """The scenario with its policies replaced; custom Strategy objects expanded."""
    pols: List[Any] = []
    extra: List[Any] = []
    for e in entries:
        if isinstance(e, Strategy):
            pols.extend(e.policies)
            extra.extend(e.regimen)
        elif isinstance(e, (str, Policy, Mapping)):
            pols.append(e)
        else:
            raise input_error(field, e, "a crsim.Policy, a crsim.Strategy, a standard strategy name, or a "
                              "list of them")
    return sc.replace(policies=pols, regimen=list(sc.regimen) + extra)


def _expanded(sc: Scenario) -> Scenario:
    """Standard strategy names replaced by their policies (their scheduled doses join the regimen),
    so that every policy can be addressed by index."""
    if not any(isinstance(e, str) for e in sc.policies):
        return sc
    pols, reg = expand(sc.policies, sc.model)
    return sc.replace(policies=pols, regimen=list(sc.regimen) + reg)


def _policy_index(pols: Sequence[Any], key: str, idx: Optional[int], model: str) -> int:
    n = len(pols)
    if idx is None:
        if n != 1:
            names = ", ".join(f"[{i}] {p.name!r}" for i, p in enumerate(pols))
            example = next((f"crsim.strategy({s.name!r})" for s in
                            extension(model).standard_strategies().values() if s.policies),
                           "crsim.Policy(...)")
            raise input_error(key, key, f"a key naming one policy: the scenario has {n} policies ({names}); "
                              "use policies[i].<field>" if n else
                              f"a scenario with a policy (give base_policy=, e.g. {example})")
        return 0
    if not 0 <= idx < n:
        raise input_error(key, key, f"a policy index in [0, {n - 1}]" if n else "a scenario with policies")
    return idx


def _apply(draft: Dict[str, Any], doses: List[Dose], model: str, key: str, value: Any) -> None:
    """Applies one scan setting to ``draft`` (the raw fields of a Scenario; ``doses``: its regimen as
    Dose records, updated alongside)."""
    m = re.fullmatch(r"(?:policy|policies\[(\d+)\])\.(\w+)", key)
    if m:
        pols = list(draft["policies"])
        i = _policy_index(pols, key, int(m.group(1)) if m.group(1) is not None else None, model)
        fieldname = m.group(2)
        if fieldname not in _POLICY_FIELDS:
            raise input_error(key, value, f"a policy field, one of {{{', '.join(_POLICY_FIELDS)}}}"
                              + suggest(fieldname, _POLICY_FIELDS))
        if fieldname == "trigger_grade" and extension(model).grade_observable is None:
            graded = [n for n, e in extensions().items() if e.grade_observable]
            raise input_error(key, value, f"a model with a grade observable ({', '.join(graded)}); "
                              f"model {model} has none: vary policy.threshold instead")
        try:
            pols[i] = pols[i].replace(**{fieldname: value})
        except InputError as ex:
            raise input_error(key, value, getattr(ex, "allowed", None) or str(ex)) from None
        draft["policies"] = pols
        return
    if key == "strategy":
        entries = value if isinstance(value, (list, tuple)) else [value]
        pols: List[Any] = []
        for e in entries:
            if isinstance(e, str):
                e = strategy(e, model)
            if isinstance(e, Strategy):
                pols.extend(e.policies)
                draft["regimen"] = list(draft["regimen"]) + list(e.regimen)
                doses.extend(regimen_doses(list(e.regimen), Model(model), len(doses)))
            elif isinstance(e, Policy):
                pols.append(e)
            else:
                raise input_error(key, e, "a standard strategy name, a crsim.Strategy or a crsim.Policy "
                                  "(or a list of them)")
        draft["policies"] = pols
        return
    m = re.fullmatch(r"parameters\.(\w+)", key)
    if m:
        draft["parameters"] = {**draft["parameters"], m.group(1): value}
        return
    if key in ("patient.weight_kg", "patient.height_cm"):
        draft["patient"] = {**draft["patient"], key.split(".")[1]: value}
        return
    m = re.fullmatch(r"regimen\[(\d+)\]\.(\w+)", key)
    if m:
        i, fieldname = int(m.group(1)), m.group(2)
        if not 0 <= i < len(doses):
            raise input_error(key, value, f"a regimen index in [0, {len(doses) - 1}]")
        if fieldname not in _DOSE_FIELDS:
            raise input_error(key, value, f"a Dose field, one of {{{', '.join(_DOSE_FIELDS)}}}"
                              + suggest(fieldname, _DOSE_FIELDS))
        d = doses[i]
        try:
            if fieldname == "time_days":
                d = dataclasses.replace(d, time=float(value) * 24.0)
            elif fieldname == "interval_days":
                d = dataclasses.replace(d, interval=float(value) * 24.0)
            else:
                d = dataclasses.replace(d, **{fieldname: value})
        except (TypeError, ValueError) as ex:
            raise input_error(key, value, f"a valid value of Dose.{fieldname} ({ex})") from None
        doses[i] = d
        reg = list(draft["regimen"])
        reg[i] = d
        draft["regimen"] = reg
        return
    if key in ("horizon_days", "horizon_h"):
        draft["horizon_days"] = draft["horizon_h"] = None
        draft[key] = value
        return
    raise input_error("grid key", key, f"a key of the form {_KEY_FORMS}")


def _label(value: Any) -> Any:
    """A table cell for a grid value: numbers and text as they are, others by name or text."""
    if isinstance(value, (int, float, str, np.integer, np.floating)) and not isinstance(value, bool):
        return value
    if isinstance(value, (Strategy, Policy)):
        return value.name
    if isinstance(value, (list, tuple)):
        return " + ".join(str(_label(v)) for v in value)
    return str(value)


def scan_scenarios(scenario: Union[str, Scenario, Model], grid: Mapping[str, Sequence[Any]],
                   base_policy: Any = None) -> Tuple[List[Dict[str, Any]], List[Scenario]]:
    """The grid's combinations (key -> value, first key varying slowest) and the checked scenario
    of each."""
    if not isinstance(grid, Mapping) or not grid:
        raise input_error("grid", grid, "a non-empty dict key -> list of values, e.g. "
                          "{'policy.trigger_grade': [1, 2, 3], 'policy.delay_h': [0, 6, 12, 24]}")
    base = _base_scenario(scenario, base_policy)
    keys = list(grid)
    values = []
    for k in keys:
        v = grid[k]
        if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) and not isinstance(v, np.ndarray):
            raise input_error(f"grid[{k!r}]", v, "a list of values")
        if len(v) == 0:
            raise input_error(f"grid[{k!r}]", v, "at least one value")
        values.append(list(v))
    # "strategy" first (it replaces the policies the other keys may address)
    order = sorted(range(len(keys)), key=lambda j: keys[j] != "strategy")
    combos: List[Dict[str, Any]] = []
    scenarios: List[Scenario] = []
    for n, combo in enumerate(itertools.product(*values)):
        draft = base._raw()
        draft["policies"] = list(base.policies)
        doses = list(base.doses)
        for j in order:
            _apply(draft, doses, base.model, keys[j], combo[j])
        draft["name"] = f"{base.name}_{n}"
        try:
            sc = Scenario(**draft)
        except InputError as ex:
            setting = ", ".join(f"{k} = {v!r}" for k, v in zip(keys, combo))
            err = InputError(f"scan setting {setting}: {ex}")
            err.field = getattr(ex, "field", "")
            err.problems = getattr(ex, "problems", [])
            raise err from None
        scenarios.append(sc)
        combos.append(dict(zip(keys, combo)))
    return combos, scenarios


#: Scan settings per engine call in this process (the progress bar moves once per chunk).
BATCH = 250


def scan(scenario: Union[str, Scenario, Model], grid: Mapping[str, Sequence[Any]],
         readouts: Optional[Sequence[str]] = None, base_policy: Any = None,
         threads: Optional[int] = None, keep_results: bool = False, client: Any = None,
         chunk_size: Optional[int] = None, retries: int = 2, progress: Optional[bool] = None) -> pd.DataFrame:
    """Runs every combination of a grid of settings and tabulates the readouts.

    Args:
        scenario: the base :class:`crsim.Scenario`, or a model name / :class:`crsim.Model` (then
            28 days, hourly output, and the regimen of the model's extension: for the CRS model the
            parameter set's CAR-T dose at t = 0).
        grid: key -> list of values; keys name what is varied (see the module docstring:
            ``policy.trigger_grade``, ``policy.delay_h``, ``strategy``, ``parameters.<name>``,
            ``regimen[i].amount``, ...). Combinations run in ``itertools.product`` order (the first
            key varies slowest).
        readouts: columns wanted (default: those of the model's extension, for the CRS model max
            grade, onset, hours at grade >= 2 and >= 3, peak IL-6, IFN-gamma and CRP, tocilizumab and
            dexamethasone doses, CAR-T Cmax and AUC0-28d, tumor at day 28; other models: all
            readouts). Any readout of ``Result.readouts`` or of the scan extras (dose counts, the
            extension's extras such as the tumor at day 28, policy_firings).
        base_policy: policies replacing the scenario's (a Policy, Strategy, standard strategy name,
            or a list of them), e.g. ``crsim.strategy("tocilizumab_grade2")``.
        threads: C++ threads (None or 0: one per hardware thread; with a Dask client, per task,
            default 1).
        keep_results: also return the :class:`crsim.Result` of every run (``table.attrs["results"]``;
            not with a Dask client).
        client: None (this process's C++ threads), or a Dask ``distributed.Client``, a scheduler
            address or ``"local:N"``: chunks of combinations run as Dask tasks (docs/populations.md).
        chunk_size: combinations per Dask task (default: about four tasks per worker thread).
        retries: times a failed Dask task is tried again (a lost worker's task is also rescheduled
            by Dask itself).
        progress: a progress bar on stderr (None: only in a terminal; True: always, e.g. in a
            notebook).

    Returns:
        A DataFrame, one row per combination: the grid keys as columns (strategies and policies by
        name), then the readouts; ``attrs["units"]`` holds the readout units, ``attrs["keys"]``
        the grid keys. Runs that failed have NaN readouts and their message in an ``error``
        column (with a warning). Draw it with :func:`crsim.plot_scan`.
    """
    combos, scenarios = scan_scenarios(scenario, grid, base_policy)
    model_name = scenarios[0].model
    chunk_size = check_chunk_size(chunk_size)
    retries = check_retries(retries)
    if client is not None and keep_results:
        raise input_error("keep_results", keep_results, "False with a Dask client (the results of "
                          "the runs stay on the workers; run the settings of interest with "
                          "crsim.simulate)")
    nthreads = (0 if client is None else 1) if threads is None else int(threads)
    wanted = list(readouts) if readouts is not None else list(extension(model_name).scan_readouts) or None
    n = len(scenarios)
    job = ScenarioJob(model_name, wanted, nthreads, _core.user_models().get(model_name), keep_results)
    outs: Dict[int, Any] = {}
    run_chunks(job, lambda size: (Chunk(a, b, scenarios[a:b]) for a, b in edges(n, size)), n,
               lambda c, o: outs.__setitem__(c.start, o), client=client, chunk_size=chunk_size,
               local_size=BATCH, progress=progress, desc="scan", unit="run", retries=retries)
    ordered = [outs[k] for k in sorted(outs)]
    values, errors, units = merge_chunks(ordered, wanted)
    labels = pd.DataFrame([{k: _label(v) for k, v in combo.items()} for combo in combos],
                          columns=list(grid))
    table = pd.concat([labels, values], axis=1)
    if any(errors):
        table["error"] = errors
        warnings.warn(f"{sum(1 for e in errors if e)} of {len(errors)} scan runs failed (see the error "
                      "column)", RuntimeWarning, stacklevel=2)
    table.attrs["units"] = units
    table.attrs["keys"] = list(grid)
    table.attrs["model"] = model_name
    if keep_results:
        table.attrs["results"] = [r for o in ordered for r in (o.results or [])]
    return table


_KEY_WORDS = {"policy.trigger_grade": "trigger: ASTCT grade ≥", "policy.delay_h": "delay (h)",
              "policy.sustained_h": "condition sustained (h)", "policy.threshold": "trigger threshold",
              "policy.max_doses": "doses at most", "policy.min_interval_h": "interval at least (h)",
              "patient.weight_kg": "body weight (kg)", "patient.height_cm": "height (cm)",
              "horizon_days": "run length (days)", "horizon_h": "run length (h)",
              "strategy": "strategy"}


def key_label(key: str, table: Optional[pd.DataFrame] = None) -> str:
    """A grid key in words with its unit (``policy.delay_h`` -> "delay (h)", ``parameters.rho`` ->
    "rho (1/h)", the extension's control label for a regimen amount)."""
    if key in _KEY_WORDS:
        return _KEY_WORDS[key]
    model = (table.attrs.get("model") if table is not None else None) or None
    m = re.fullmatch(r"parameters\.(\w+)", key)
    if m and model:
        try:
            unit = Model(model).parameter_units.get(m.group(1), "")
        except InputError:
            unit = ""
        return m.group(1) + (f" ({unit})" if unit not in ("", "1") else "")
    if model:
        label = extension(model).control_labels.get(key)
        if label:
            return label
    m = re.fullmatch(r"regimen\[(\d+)\]\.(\w+)", key)
    if m:
        return f"dose {int(m.group(1)) + 1}: {m.group(2).replace('_', ' ')}"
    return key.split(".", 1)[-1].replace("_", " ")


def _readout_title(readout: str, table: pd.DataFrame) -> str:
    unit = table.attrs.get("units", {}).get(readout, "")
    return readout.replace("_", " ") + (f" ({unit})" if unit not in ("", "1") else "")


def plot_scan(table: pd.DataFrame, readout: str, x: Optional[str] = None, y: Optional[str] = None,
              ax: Any = None, annotate: bool = True, cmap: str = "viridis_r"):
    """A heatmap of one readout of a :func:`scan` table over two grid keys (``y`` rows, ``x``
    columns; default: the first two keys), each cell annotated with its value. A one-key scan
    draws a single row. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    if not isinstance(table, pd.DataFrame) or readout not in table.columns:
        raise input_error("readout", readout, "a column of the scan table, one of {"
                          + ", ".join(map(str, getattr(table, "columns", []))) + "}")
    keys = list(table.attrs.get("keys") or [])
    if y is None and x is None:
        y, x = (keys + [None, None])[:2] if len(keys) >= 2 else (None, keys[0] if keys else None)
    for k, name in ((x, "x"), (y, "y")):
        if k is not None and k not in table.columns:
            raise input_error(name, k, "a grid key of the scan, one of {" + ", ".join(keys) + "}")
    if x is None:
        raise input_error("x", x, "a grid key of the scan")
    others = [k for k in keys if k not in (x, y)]
    if others and any(table[k].nunique() > 1 for k in others):
        raise input_error("table", f"a scan over {keys}", f"two varied keys at most for a heatmap: filter "
                          f"the table on {others} first")
    xs = list(dict.fromkeys(table[x]))
    ys = list(dict.fromkeys(table[y])) if y is not None else [None]
    grid = np.full((len(ys), len(xs)), np.nan)
    for _, r in table.iterrows():
        grid[ys.index(r[y]) if y is not None else 0, xs.index(r[x])] = r[readout]
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(xs), 1.0 + 0.8 * len(ys)))
    else:
        fig = ax.figure
    im = ax.imshow(grid, cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels([f"{v:g}" if isinstance(v, float) else str(v) for v in xs])
    ax.set_yticks(range(len(ys)))
    ax.set_yticklabels([f"{v:g}" if isinstance(v, float) else str(v) for v in ys]
                       if y is not None else [""])
    ax.set_xlabel(key_label(x, table))
    if y is not None:
        ax.set_ylabel(key_label(y, table))
    ax.set_title(_readout_title(readout, table))
    bar = fig.colorbar(im, ax=ax)
    finite = grid[np.isfinite(grid)]
    if finite.size and np.all(finite == np.round(finite)) and finite.max() - finite.min() <= 10:
        bar.set_ticks(np.arange(finite.min(), finite.max() + 1))   # grades, counts: integers only
    if annotate:
        finite = grid[np.isfinite(grid)]
        mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
        for i in range(len(ys)):
            for j in range(len(xs)):
                v = grid[i, j]
                text = "–" if not np.isfinite(v) else f"{v:.3g}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if np.isfinite(v) and (v > mid) == (cmap.endswith("_r")) else "black")
    fig.tight_layout()
    return fig
