"""Incidence in virtual populations with its uncertainty: the fraction of patients whose readout
reaches a level (CRS grade >= 1, >= 2, >= 3 ...) with an exact (Clopper-Pearson) binomial
confidence interval, for one population table or several (by dose, by strategy), as a table or as
grouped bars with error bars."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from crsim.base.errors import input_error

__all__ = ["incidence", "plot_incidence"]


def _tables(tables: Union[pd.DataFrame, Mapping[str, pd.DataFrame]]) -> Mapping[str, pd.DataFrame]:
    if isinstance(tables, pd.DataFrame):
        return {"population": tables}
    if isinstance(tables, Mapping) and tables and all(isinstance(t, pd.DataFrame)
                                                      for t in tables.values()):
        return {str(k): v for k, v in tables.items()}
    raise input_error("tables", type(tables).__name__, "a population table (crsim.population) or a "
                      "non-empty dict label -> population table")


def incidence(tables: Union[pd.DataFrame, Mapping[str, pd.DataFrame]], readout: str = "max_grade",
              at_least: Sequence[float] = (1, 2, 3), confidence: float = 0.95) -> pd.DataFrame:
    """The fraction of patients with ``readout >= level`` for each level, per population.

    Args:
        tables: a population table (:func:`crsim.population`) or a dict label -> table.
        readout: the column compared with the levels (default the maximal ASTCT grade).
        at_least: the levels (default grade >= 1, >= 2, >= 3).
        confidence: of the exact Clopper-Pearson interval, in (0, 1).

    Returns a table with one row per (population, level): ``population``, ``level``, ``n`` (patients
    whose run succeeded; failed runs, NaN, are left out and counted in ``failed``), ``events``,
    ``fraction``, ``ci_low``, ``ci_high``.
    """
    from scipy.stats import binomtest

    if not (isinstance(confidence, (int, float)) and 0.0 < float(confidence) < 1.0):
        raise input_error("confidence", confidence, "a level in (0, 1), e.g. 0.95")
    levels = list(at_least) if not isinstance(at_least, (int, float)) else [at_least]
    if not levels:
        raise input_error("at_least", at_least, "at least one level")
    rows = []
    for label, table in _tables(tables).items():
        if readout not in table:
            raise input_error("readout", readout, f"a column of population '{label}' "
                              f"({', '.join(map(str, table.columns[:12]))}, ...)")
        values = pd.to_numeric(table[readout], errors="coerce")
        ok = values.dropna()
        for level in levels:
            n, k = int(len(ok)), int((ok >= level).sum())
            lo, hi = (binomtest(k, n).proportion_ci(float(confidence), method="exact")
                      if n else (np.nan, np.nan))
            rows.append({"population": label, "level": level, "n": n, "failed": int(len(values) - n),
                         "events": k, "fraction": k / n if n else np.nan,
                         "ci_low": float(lo), "ci_high": float(hi)})
    out = pd.DataFrame(rows)
    out.attrs["readout"], out.attrs["confidence"] = readout, float(confidence)
    return out


def plot_incidence(tables: Union[pd.DataFrame, Mapping[str, pd.DataFrame]],
                   readout: str = "max_grade", at_least: Sequence[float] = (1, 2, 3),
                   confidence: float = 0.95, ax: Any = None, title: Optional[str] = None):
    """Grouped bars of :func:`incidence`: one group per level, one bar per population, error bars
    the exact binomial confidence interval, the number of patients in the legend. Returns the
    matplotlib Figure."""
    import matplotlib.pyplot as plt

    inc = incidence(tables, readout, at_least, confidence)
    labels = list(dict.fromkeys(inc["population"]))
    levels = list(dict.fromkeys(inc["level"]))
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(levels) * max(1, len(labels)) ** 0.5, 3.4))
    else:
        fig = ax.figure
    width = 0.8 / len(labels)
    x = np.arange(len(levels))
    for j, label in enumerate(labels):
        part = inc[inc["population"] == label].set_index("level").loc[levels]
        y = 100 * part["fraction"].to_numpy(float)
        err = 100 * np.vstack([part["fraction"] - part["ci_low"], part["ci_high"] - part["fraction"]])
        ax.bar(x + (j - (len(labels) - 1) / 2) * width, y, width * 0.92, yerr=err, capsize=3,
               color=f"C{j}", label=f"{label} (n = {int(part['n'].iloc[0])})")
    word = "grade" if readout == "max_grade" else readout
    ax.set_xticks(x)
    ax.set_xticklabels([f"{word} ≥ {lv:g}" for lv in levels])
    ax.set_ylabel("patients (%)")
    ax.set_ylim(0, 105)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title if title is not None else
                 f"incidence with {100 * float(confidence):g} % confidence intervals (exact)",
                 fontsize=10)
    fig.tight_layout()
    return fig
