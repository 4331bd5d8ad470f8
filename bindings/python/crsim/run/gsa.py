"""Global sensitivity analysis with SALib on crsim's batch engine: which parameters drive a readout
(severe CRS, the IL-6 peak, CAR-T expansion) over ranges of the parameters, all of them varied at
once. SALib draws the design (Sobol' / Saltelli, Morris elementary effects or FAST), the patients
run on the engine's C++ threads as a population does, and SALib analyses the readouts.

    res = crsim.gsa(scenario, {"rho": (0.015, 0.06), "tumor_burden": (1e9, 1e11, "log")},
                    outputs=["hours_grade_ge3", "il6_peak"], method="sobol", n=256)
    res.table          # output, parameter, index (S1, ST / mu_star, sigma / S1, ST), value, conf
    res.plot()         # bars with confidence intervals (Sobol', FAST) or the Morris mu*-sigma plane
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from crsim.base.errors import input_error
from crsim.model.model import Model
from crsim.run.population import run_parameter_table
from crsim.scenario.scenario import Scenario

__all__ = ["gsa", "GSAResult", "METHODS"]

#: method -> the indices SALib reports (first order and total for Sobol' and FAST; mu*, sigma for
#: Morris)
METHODS = {"sobol": ("S1", "ST"), "fast": ("S1", "ST"), "morris": ("mu_star", "sigma")}


@dataclass
class GSAResult:
    """A global sensitivity analysis: ``table`` (tidy: output, parameter, index, value, conf — the
    half-width of the confidence interval at ``conf_level``), ``design`` (the parameter rows run,
    in model units, with their readouts and, for a failed run, its message in ``error``),
    ``method``, ``n`` (SALib's base sample size), ``conf_level`` and ``notes`` (an output with a
    failed run is not analysed, and a note says so)."""

    table: pd.DataFrame
    design: pd.DataFrame
    method: str
    n: int
    conf_level: float
    notes: List[str] = field(default_factory=list)

    def indices(self, output: str) -> pd.DataFrame:
        """The indices of one output as a parameter x index table (values)."""
        t = self.table[self.table["output"] == output]
        if t.empty:
            raise input_error("output", output, "an analysed output, one of {"
                              + ", ".join(dict.fromkeys(self.table["output"])) + "}")
        return t.pivot(index="parameter", columns="index", values="value")

    def plot(self, outputs: Optional[Sequence[str]] = None):
        """Sobol'/FAST: bars of S1 and ST per parameter with their confidence intervals, one panel
        per output; Morris: mu* against sigma per parameter. Returns the matplotlib Figure."""
        import matplotlib.pyplot as plt

        outs = list(dict.fromkeys(self.table["output"])) if outputs is None else list(outputs)
        fig, axes = plt.subplots(1, len(outs), figsize=(1.5 + 3.6 * len(outs), 3.4), squeeze=False)
        for ax, out in zip(axes[0], outs):
            t = self.table[self.table["output"] == out]
            if t.empty:
                raise input_error("outputs", out, "an analysed output")
            params = list(dict.fromkeys(t["parameter"]))
            if self.method == "morris":
                mu = t[t["index"] == "mu_star"].set_index("parameter").loc[params]
                sd = t[t["index"] == "sigma"].set_index("parameter").loc[params]
                ax.errorbar(mu["value"], sd["value"], xerr=mu["conf"], fmt="o", capsize=3)
                for p in params:
                    ax.annotate(p, (mu.loc[p, "value"], sd.loc[p, "value"]), fontsize=8,
                                xytext=(3, 3), textcoords="offset points")
                ax.set_xlabel("μ* (mean |elementary effect|)")
                ax.set_ylabel("σ (interaction, non-linearity)")
            else:
                x = np.arange(len(params))
                for j, index in enumerate(METHODS[self.method]):
                    part = t[t["index"] == index].set_index("parameter").loc[params]
                    ax.bar(x + (j - 0.5) * 0.38, part["value"], 0.36, yerr=part["conf"], capsize=3,
                           label={"S1": "first order", "ST": "total"}[index])
                ax.set_xticks(x)
                ax.set_xticklabels(params, rotation=30, ha="right")
                ax.set_ylabel("Sobol' index" if self.method == "sobol" else "FAST index")
                ax.axhline(0, color="0.3", lw=0.8)
                ax.legend(fontsize=8)
            ax.set_title(out, fontsize=10)
            ax.grid(True, alpha=0.3)
        fig.suptitle(f"global sensitivity ({self.method}, {len(self.design)} runs, "
                     f"{100 * self.conf_level:g} % intervals)", fontsize=10)
        fig.tight_layout()
        return fig


def _ranges(ranges: Mapping[str, Any], model: Model) -> Tuple[List[str], List[Tuple[float, float]],
                                                                  List[bool]]:
    if not isinstance(ranges, Mapping) or not ranges:
        raise input_error("ranges", ranges, "a non-empty dict parameter -> (low, high) or "
                          "(low, high, 'log')")
    names, bounds, logs = [], [], []
    table = model.parameters.set_index("name")
    for name, spec in ranges.items():
        field_ = f"ranges[{name!r}]"
        if name not in table.index:
            raise input_error(field_, name, f"a parameter of model {model.name}")
        if not (isinstance(spec, (list, tuple)) and len(spec) in (2, 3)
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                        for v in spec[:2]) and spec[0] < spec[1]):
            raise input_error(field_, spec, "(low, high) with low < high, or (low, high, 'log')")
        log = len(spec) == 3
        if log and (spec[2] != "log" or spec[0] <= 0):
            raise input_error(field_, spec, "(low, high, 'log') with low > 0")
        lo, hi = float(spec[0]), float(spec[1])
        plo, phi = float(table.loc[name, "lower"]), float(table.loc[name, "upper"])
        if lo < plo or hi > phi:
            raise input_error(field_, spec, f"a range within the parameter's bounds [{plo:g}, {phi:g}] "
                              f"{table.loc[name, 'unit']}")
        names.append(name)
        bounds.append((math.log10(lo), math.log10(hi)) if log else (lo, hi))
        logs.append(log)
    return names, bounds, logs


def gsa(scenario: Union[Scenario, str], ranges: Mapping[str, Any], outputs: Sequence[str],
        method: str = "sobol", n: int = 256, seed: int = 0, conf_level: float = 0.95,
        threads: Optional[int] = None, client: Any = None, chunk_size: Optional[int] = None,
        retries: int = 2, progress: Optional[bool] = None) -> GSAResult:
    """Global sensitivity of readouts to parameters varied together over ranges.

    Args:
        scenario: the :class:`crsim.Scenario` (or a scenario file) every run follows.
        ranges: parameter -> ``(low, high)`` (uniform) or ``(low, high, "log")`` (log-uniform), in
            the parameter's unit, within its bounds.
        outputs: readouts to analyse (as ``crsim.population`` names them, e.g. ``max_grade``,
            ``hours_grade_ge3``, ``il6_peak``; for a model without readouts ``X.max`` etc.).
        method: ``"sobol"`` (Saltelli design, first-order and total indices; n (k + 2) runs for k
            parameters), ``"morris"`` (elementary effects, mu* and sigma; n (k + 1) runs) or
            ``"fast"`` (first-order and total; n k runs; SALib warns that its bootstrap intervals
            for FAST are indicative only).
        n: SALib's base sample size (a power of 2 for Sobol').
        seed: of the design and of the bootstrap intervals (same seed, same result).
        conf_level: of the confidence intervals, in (0, 1).
        threads: C++ threads (None: one per hardware thread; with a Dask client, per task,
            default 1).
        client: None (this process's C++ threads), or a Dask ``distributed.Client``, a scheduler
            address or ``"local:N"``: the design's rows run as Dask tasks, as a population's
            (same indices as locally; docs/populations.md).
        chunk_size, retries: as for :func:`crsim.population` on Dask.
        progress: a progress bar of the runs on stderr (None: only in a terminal; True: always).

    Returns a :class:`GSAResult`. SALib (``pip install salib``) draws and analyses.
    """
    try:
        from SALib.analyze import fast as fast_analyze
        from SALib.analyze import morris as morris_analyze
        from SALib.analyze import sobol as sobol_analyze
        from SALib.sample import fast_sampler, morris as morris_sample, sobol as sobol_sample
    except ImportError:
        raise input_error("method", method, "a method of SALib, which is not installed: "
                          "pip install salib") from None
    if isinstance(scenario, str):
        scenario = Scenario.from_file(scenario)
    if not isinstance(scenario, Scenario):
        raise input_error("scenario", scenario, "a crsim.Scenario or a scenario file path")
    if method not in METHODS:
        raise input_error("method", method, "one of {" + ", ".join(METHODS) + "}")
    if not (isinstance(n, int) and not isinstance(n, bool) and n >= 4):
        raise input_error("n", n, "a whole number >= 4 (SALib's base sample size)")
    if method == "sobol" and n & (n - 1):
        raise input_error("n", n, "a power of 2 for the Sobol' design (e.g. 128, 256, 1024)")
    if not (isinstance(conf_level, float) and 0.0 < conf_level < 1.0):
        raise input_error("conf_level", conf_level, "a level in (0, 1), e.g. 0.95")
    outs = [outputs] if isinstance(outputs, str) else list(outputs)
    if not outs:
        raise input_error("outputs", outputs, "at least one readout name")
    model = Model(scenario.model, scenario.parameter_set)
    names, bounds, logs = _ranges(ranges, model)
    problem = {"num_vars": len(names), "names": names, "bounds": [list(b) for b in bounds]}
    if method == "sobol":
        X = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    elif method == "morris":
        X = morris_sample.sample(problem, n, num_levels=4, seed=seed)
    else:
        X = fast_sampler.sample(problem, n, seed=seed)
    values = np.array(X, dtype=float)
    for j, log in enumerate(logs):
        if log:
            values[:, j] = 10.0 ** values[:, j]
    params = pd.DataFrame(values, columns=names)
    design = run_parameter_table(scenario, params, outs, threads, client=client, chunk_size=chunk_size,
                                 retries=retries, progress=progress, desc=f"gsa ({method})")
    rows: List[Dict[str, Any]] = []
    notes: List[str] = []
    for out in outs:
        y = pd.to_numeric(design[out], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(y)):
            bad = int(np.sum(~np.isfinite(y)))
            notes.append(f"{out}: not analysed, {bad} of {len(y)} runs gave no finite value "
                         "(see design['error'])")
            continue
        if method == "sobol":
            si = sobol_analyze.analyze(problem, y, calc_second_order=False, conf_level=conf_level,
                                       seed=seed)
            pairs = (("S1", "S1_conf"), ("ST", "ST_conf"))
        elif method == "morris":
            si = morris_analyze.analyze(problem, X, y, conf_level=conf_level, seed=seed)
            pairs = (("mu_star", "mu_star_conf"), ("sigma", None))
        else:
            si = fast_analyze.analyze(problem, y, conf_level=conf_level, seed=seed)
            pairs = (("S1", "S1_conf"), ("ST", "ST_conf"))
        for j, name in enumerate(names):
            for index, conf in pairs:
                rows.append({"output": out, "parameter": name, "index": index,
                             "value": float(si[index][j]),
                             "conf": float(si[conf][j]) if conf is not None else float("nan")})
    table = pd.DataFrame(rows, columns=["output", "parameter", "index", "value", "conf"])
    return GSAResult(table=table, design=design, method=method, n=n, conf_level=conf_level,
                     notes=notes)
