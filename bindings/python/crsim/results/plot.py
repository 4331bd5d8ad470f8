"""Plotting a result with matplotlib: one panel per variable, units in the axis labels."""
from __future__ import annotations

from typing import Any, List, Sequence

import numpy as np

from crsim.base.errors import input_error

DAYS_ABOVE_H = 72.0  # runs longer than this are shown in days


def time_axis(times: np.ndarray):
    """(values, label): hours, or days for runs spanning more than 72 h."""
    span = float(times[-1] - times[0]) if len(times) else 0.0
    if span > DAYS_ABOVE_H:
        return times / 24.0, "time (days)"
    return times, "time (h)"


def plot_result(result: Any, variables: List[str], ax: Any = None):
    """Draws ``variables`` of ``result`` (one panel each) and returns the figure."""
    import matplotlib.pyplot as plt

    n = len(variables)
    if ax is None:
        fig, axes = plt.subplots(n, 1, sharex=True, figsize=(7.0, 1.0 + 2.2 * n), squeeze=False)
        axes = list(axes[:, 0])
    else:
        axes = list(np.ravel(ax)) if isinstance(ax, (Sequence, np.ndarray)) else [ax]
        if len(axes) != n or not all(hasattr(a, "plot") for a in axes):
            raise input_error("ax", ax, f"a matplotlib Axes (one variable) or a sequence of {n} "
                              f"Axes, one per variable ({', '.join(variables)})")
        fig = axes[0].figure
    t, tlabel = time_axis(result.times)
    units = result.units
    for a, name in zip(axes, variables):
        a.plot(t, result[name], lw=1.5)
        a.set_ylabel(f"{name} ({units[name]})")
        a.grid(True, alpha=0.3)
    axes[-1].set_xlabel(tlabel)
    if ax is None:
        axes[0].set_title(f"model {result.model.name}")
        fig.tight_layout()
    return fig
