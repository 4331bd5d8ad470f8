"""Several subjects fitted one by one (``crsim.fit(..., by="id")``): a tidy table of estimates."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Sequence, Union

import numpy as np
import pandas as pd

from crsim.base.errors import input_error
from crsim.fitting.result import FitResult
from crsim.results.plot import readable_log_axis

__all__ = ["FitSet"]


class FitSet:
    """Independent fits, one per subject.

    Attributes:
        fits: id -> :class:`crsim.FitResult` (subjects whose fit succeeded).
        errors: id -> the exception of subjects whose fit failed (e.g. a SolverError).
        table: tidy DataFrame, one row per subject and estimated parameter: id, parameter, kind,
            unit, scale, estimate, se, rse_pct, ci_lower, ci_upper, converged.
        summary: one row per subject: id, n_observations, m2ll, aic, bic, converged, evaluations,
            seconds, error.
        seconds: wall time of the whole set.

    ``fitset[id]`` is one subject's FitResult; iterating gives the ids.
    """

    def __init__(self, fits: Dict[Any, FitResult], errors: Dict[Any, BaseException], ids: List[Any],
                 seconds: float):
        self.fits = fits
        self.errors = errors
        self.ids = ids
        self.seconds = seconds
        rows = []
        for i in ids:
            if i not in fits:
                continue
            e = fits[i].estimates.reset_index()
            e.insert(0, "id", [i] * len(e))
            e["converged"] = fits[i].converged
            rows.append(e[["id", "parameter", "kind", "unit", "scale", "estimate", "se", "rse_pct",
                           "ci_lower", "ci_upper", "converged"]])
        cols = ["id", "parameter", "kind", "unit", "scale", "estimate", "se", "rse_pct", "ci_lower",
                "ci_upper", "converged"]
        self.table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)
        srows = []
        for i in ids:
            f = fits.get(i)
            srows.append(dict(id=i, n_observations=f.n_observations if f else np.nan,
                              m2ll=f.m2ll if f else np.nan, aic=f.aic if f else np.nan,
                              bic=f.bic if f else np.nan, converged=f.converged if f else False,
                              evaluations=f.evaluations if f else 0, seconds=f.seconds if f else np.nan,
                              error="" if f else f"{type(errors[i]).__name__}: {errors[i]}"))
        self.summary = pd.DataFrame(srows)

    def __getitem__(self, id: Any) -> FitResult:
        if id in self.fits:
            return self.fits[id]
        if id in self.errors:
            raise self.errors[id]
        raise input_error("id", id, "a subject of this set, one of " + repr(self.ids[:20]))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def to_pandas(self) -> pd.DataFrame:
        """The tidy table of estimates (a copy of ``table``)."""
        return self.table.copy()

    def plot(self, parameters: Union[None, str, Sequence[str]] = None, ax: Any = None):
        """Estimates with their intervals per subject, one panel per parameter (log axis for
        log-scale parameters). Returns the matplotlib Figure."""
        import matplotlib.pyplot as plt

        names = list(dict.fromkeys(self.table["parameter"])) if parameters is None else (
            [parameters] if isinstance(parameters, str) else list(parameters))
        for i, n in enumerate(names):
            if n not in set(self.table["parameter"]):
                raise input_error(f"parameters[{i}]", n, "an estimated parameter {" +
                                  ", ".join(dict.fromkeys(self.table["parameter"])) + "}")
        if ax is None:
            fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 0.4 * len(self.ids) + 1.6),
                                     squeeze=False)
            axes = list(axes[0])
        else:
            axes = list(np.atleast_1d(ax))
            fig = axes[0].figure
        for a, n in zip(axes, names):
            t = self.table[self.table["parameter"] == n]
            y = np.arange(len(t))
            a.errorbar(t["estimate"], y, xerr=[t["estimate"] - t["ci_lower"], t["ci_upper"] - t["estimate"]],
                       fmt="o", capsize=3)
            a.set_yticks(y, [str(i) for i in t["id"]])
            if (t["scale"] == "log").all():
                a.set_xscale("log")
                readable_log_axis(a.xaxis)
            unit = t["unit"].iloc[0] if len(t) else ""
            a.set_xlabel(f"{n} ({unit})" if unit else n)
        axes[0].set_ylabel("id")
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        ok = len(self.fits)
        return (f"<crsim.FitSet: {len(self.ids)} subjects fitted one by one ({ok} succeeded, "
                f"{len(self.errors)} failed), {self.seconds:.2f} s>\n" + self.table.to_string())

    def _repr_html_(self) -> str:
        return self.table.to_html(float_format=lambda v: f"{v:.4g}")
