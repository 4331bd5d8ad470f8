"""Plotting results with matplotlib: the clinical course figure (:func:`clinical_figure`: the
model's panels with log axes where values span decades, reference lines such as the ASTCT
thresholds, the grade as a step panel, dose and policy-firing markers, the scenario as title,
several results overlaid with a legend) and one panel per variable into given Axes
(:func:`plot_result`)."""
from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence, Union

import numpy as np

from crsim.base.errors import input_error
from crsim.model.extension import PlotPanel, extension

DAYS_ABOVE_H = 72.0  # runs longer than this are shown in days

#: units as a reader writes them
_UNIT_TEXT = {"cells/uL": "cells/µL", "degC": "°C", "ug/mL": "µg/mL", "1": "", "": ""}
_STYLES = ("-", "--", ":", "-.")


def time_axis(times: np.ndarray):
    """(values, label): hours, or days for runs spanning more than 72 h."""
    span = float(times[-1] - times[0]) if len(times) else 0.0
    if span > DAYS_ABOVE_H:
        return times / 24.0, "time (days)"
    return times, "time (h)"


def unit_text(unit: str) -> str:
    return _UNIT_TEXT.get(unit, unit)


def label_of(result: Any, name: str, with_unit: bool = True) -> str:
    """A variable's readable label (the extension's, else its name) with its unit."""
    text = extension(result.model.name).plot_labels.get(name, name)
    unit = unit_text(result.units.get(name, ""))
    return f"{text} ({unit})" if with_unit and unit else text


def plot_result(result: Any, variables: List[str], ax: Any = None):
    """Draws ``variables`` of ``result`` into ``ax`` (an Axes or a sequence of Axes, one per
    variable), or into a new figure of one panel per variable; returns the figure."""
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
    for a, name in zip(axes, variables):
        a.plot(t, result[name], lw=1.5)
        a.set_ylabel(label_of(result, name))
        a.grid(True, alpha=0.3)
    axes[-1].set_xlabel(tlabel)
    if ax is None:
        axes[0].set_title(_title([result]))
        fig.tight_layout()
    return fig


def _title(results: Sequence[Any]) -> str:
    names = []
    for r in results:
        sc = getattr(r, "scenario", None)
        name = getattr(sc, "name", None) if sc is not None else None
        names.append(name or f"model {r.model.name}")
    return ", ".join(dict.fromkeys(names))


def _panels(result: Any, variables: Optional[Sequence[str]],
            log: Optional[bool]) -> List[PlotPanel]:
    ext = extension(result.model.name)
    have = set(result.state_names) | set(result.observable_names)
    if variables is None and ext.plot_panels:
        out = []
        for p in ext.plot_panels:
            names = tuple(v for v in p.variables if v in have)
            if names:
                out.append(PlotPanel(names, p.title, p.log if log is None else log, p.thresholds))
        return out
    names = list(variables) if variables is not None else result.default_plot_variables
    return [PlotPanel((v,), "", bool(log)) for v in names]


def _positive(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=float).copy()
    y[~(y > 0)] = np.nan   # a log axis cannot show 0 (an undosed drug): left blank
    return y


def _style(k: int, reference: bool) -> dict:
    """Line style of result k; the reference course (k == 0 when there is one) faint grey."""
    if reference and k == 0:
        return {"color": "0.6", "lw": 1.2, "alpha": 0.8}
    return {"color": f"C{k - 1 if reference else k}", "lw": 1.5}


def _draw_panel(ax: Any, panel: PlotPanel, results: Sequence[Any], labels: Sequence[str],
                reference: bool = False) -> None:
    first = results[0]
    units = [first.units.get(v, "") for v in panel.variables]
    main_unit = units[0]
    right = None
    if any(u != main_unit for u in units):
        right = ax.twinx()
    handles = []
    for k, (res, rlabel) in enumerate(zip(results, labels)):
        t, _ = time_axis(res.times)
        for j, name in enumerate(panel.variables):
            target = ax if units[j] == main_unit else right
            y = _positive(res[name]) if panel.log else np.asarray(res[name], dtype=float)
            text = label_of(res, name, with_unit=False)
            line, = target.plot(t, y, ls=_STYLES[j % len(_STYLES)], **_style(k, reference),
                                label=text if len(results) == 1 else f"{text}, {rlabel}")
            handles.append(line)
    for a, unit in ((ax, main_unit), (right, next((u for u in units if u != main_unit), None))):
        if a is None:
            continue
        if panel.log:
            a.set_yscale("log")
        names = [label_of(first, v, with_unit=False) for v, u in zip(panel.variables, units)
                 if u == unit]
        text = unit_text(unit)
        a.set_ylabel(f"{', '.join(names)}" + (f" ({text})" if text else ""))
    for value, text in panel.thresholds:
        ax.axhline(value, color="0.45", ls=":", lw=1.0, zorder=1)
        ax.annotate(text, xy=(1.0, value), xycoords=("axes fraction", "data"), xytext=(-2, 2),
                    textcoords="offset points", ha="right", va="bottom", fontsize=7, color="0.35")
    if panel.title:
        ax.set_title(panel.title, loc="left", fontsize=9)
    if len(panel.variables) > 1:
        nv = len(panel.variables)
        first_drawn = nv if reference else 0          # the legend shows the first non-reference
        ax.legend(handles=handles[first_drawn:first_drawn + nv], fontsize=7, loc="upper right")
    ax.grid(True, alpha=0.3)


def _markers(ax: Any, results: Sequence[Any]) -> None:
    """Each administration as a triangle on the top edge of ``ax``, one colour per drug (named in
    a small legend), a policy's administrations outlined red."""
    import matplotlib.transforms as mtransforms
    from matplotlib.lines import Line2D

    trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    colours: dict = {}
    any_fired = False
    for res in results:
        doses = res.doses
        if doses is None or len(doses) == 0:
            continue
        ext = extension(res.model.name)
        drug_of = {s: d for d, states in ext.drug_states.items() for s in states}
        fired = set()
        if getattr(res, "_policies_used", False):
            fired = {round(float(x), 9) for x in res.firings["administered_h"]}
        t_scale = 24.0 if time_axis(res.times)[1] == "time (days)" else 1.0
        for state, time_h in zip(doses["state"], doses["time_h"]):
            drug = drug_of.get(state, state)
            name = ext.plot_labels.get(drug, ext.plot_labels.get(state, drug))
            colour = colours.setdefault(name, f"C{(len(colours) + 4) % 10}")
            is_fired = round(float(time_h), 9) in fired
            any_fired = any_fired or is_fired
            ax.plot([float(time_h) / t_scale], [1.0], marker="v", ms=6, transform=trans,
                    clip_on=False, zorder=5, color=colour, mec="red" if is_fired else "black",
                    mew=1.3 if is_fired else 0.4, ls="none")
    if colours:
        handles = [Line2D([], [], marker="v", ls="none", color=c, mec="black", mew=0.4, label=n)
                   for n, c in colours.items()]
        if any_fired:
            handles.append(Line2D([], [], marker="v", ls="none", color="white", mec="red",
                                  mew=1.3, label="given by a policy"))
        old = ax.get_legend()
        legend = ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.8,
                           title="doses", title_fontsize=7)
        if old is not None:
            ax.add_artist(old)
        legend.set_zorder(6)


def clinical_figure(results: Sequence[Any], labels: Optional[Sequence[str]] = None,
                    variables: Optional[Sequence[str]] = None, log: Optional[bool] = None,
                    title: Optional[str] = None, markers: bool = True, reference: Any = None):
    """The clinical course of one or several results of one model (see :func:`crsim.plot`);
    ``reference``: a result drawn first, faint grey, labelled "reference" (the explorer's
    untreated base course)."""
    import matplotlib.pyplot as plt

    results = list(results)
    has_ref = reference is not None
    if has_ref:
        results = [reference] + results
        labels = None if labels is None else ["reference"] + list(labels)
    if not results:
        raise input_error("results", results, "at least one result")
    model = results[0].model.name
    for i, r in enumerate(results):
        if r.model.name != model:
            raise input_error(f"results[{i}]", r.model.name, f"a result of the same model as "
                              f"results[0] ({model}); plot other models in their own figure")
        if len(r.times) == 0:
            raise input_error(f"results[{i}]", "a result without output times",
                              "a result with at least one output time")
    labels = list(labels) if labels is not None else [_title([r]) for r in results]
    if has_ref:
        labels[0] = "reference"
    if len(labels) != len(results):
        raise input_error("labels", labels, f"{len(results)} labels, one per result")
    if variables is not None:
        variables = [results[0]._check_variable(v, f"variables[{i}]") for i, v in enumerate(variables)]
    panels = _panels(results[0], variables, log)
    ext = extension(model)
    grade = ext.grade_course if variables is None else None
    n = len(panels) + (1 if grade is not None else 0)
    heights = [1.0] * len(panels) + ([0.6] if grade is not None else [])
    fig, axes = plt.subplots(n, 1, sharex=True, squeeze=False,
                             figsize=(7.5, 1.0 + 1.7 * sum(heights)),
                             gridspec_kw={"height_ratios": heights})
    axes = list(axes[:, 0])
    for ax, panel in zip(axes, panels):
        _draw_panel(ax, panel, results, labels, has_ref)
    if grade is not None:
        ax = axes[-1]
        for k, res in enumerate(results):
            g = grade(res)
            t, _ = time_axis(np.asarray(g.index, dtype=float))
            style = _style(k, has_ref)
            ax.step(t, np.asarray(g, dtype=float), where="post", **style)
            if not (has_ref and k == 0):
                ax.fill_between(t, 0, np.asarray(g, dtype=float), step="post", color=style["color"],
                                alpha=0.15 if len(results) == 1 else 0.08)
        flagged = []
        for label, course in ext.flag_courses.items():
            for k, res in enumerate(results):
                f = course(res)
                if not (np.asarray(f, dtype=float) > 0).any():
                    continue
                t, _ = time_axis(np.asarray(f.index, dtype=float))
                style = dict(_style(k, has_ref), linestyle=":", lw=2.0)
                ax.step(t, np.asarray(f, dtype=float), where="post", **style)
                if label not in flagged:
                    flagged.append(label)
        ax.set_ylim(-0.2, 4.6)
        ax.set_yticks([0, 1, 2, 3, 4])
        ax.set_ylabel("ASTCT grade" if not flagged else "grade")
        if flagged:
            ax.legend([plt.Line2D([], [], color="0.3"), plt.Line2D([], [], color="0.3", linestyle=":",
                                                                    linewidth=2.0)],
                      ["ASTCT CRS"] + [", ".join(flagged)], fontsize=7, loc="upper right")
        ax.grid(True, alpha=0.3)
    if markers:
        _markers(axes[0], results[1:] if has_ref else results)
        if panels and panels[0].title:
            axes[0].set_title(panels[0].title, loc="left", fontsize=9, pad=9)
    axes[-1].set_xlabel(time_axis(results[0].times)[1])
    fig.suptitle(title if title is not None else _title(results), fontsize=11)
    if len(results) > 1:
        handles = [plt.Line2D([], [], **_style(k, has_ref)) for k in range(len(results))]
        fig.legend(handles, labels, loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def plot(results: Union[Any, Sequence[Any], Mapping[str, Any]],
         labels: Optional[Sequence[str]] = None,
         variables: Optional[Sequence[str]] = None, log: Optional[bool] = None,
         title: Optional[str] = None, markers: bool = True):
    """The clinical course of one or several results of one model in one figure.

    Args:
        results: a :class:`crsim.Result`, a list of them, or a dict label -> Result.
        labels: one legend label per result (default: the dict's keys, else the scenario names).
        variables: draw these, one panel each, instead of the model's clinical panels.
        log: True/False forces log/linear axes; None keeps each panel's (the model's choice).
        title: the figure's title (default: the scenario names).
        markers: draw a triangle at each administration on the top panel (policy firings red).

    The panels come from the model's extension (``plot_panels``): for the CRS model CAR-T and
    tumour on log axes, IFN-γ and IL-6, CRP and ferritin, temperature, MAP and the oxygen need with
    the ASTCT grader's thresholds, and the ASTCT grade as a step panel; a model without panels gets
    one panel per key variable. Returns the matplotlib Figure.

    Example::

        untreated = crsim.simulate(sc)
        treated = crsim.simulate(sc.replace(policies=["tocilizumab_grade2"]))
        crsim.plot({"untreated": untreated, "tocilizumab at grade 2": treated})
    """
    if isinstance(results, Mapping):
        if labels is None:
            labels = [str(k) for k in results]
        results = list(results.values())
    elif not isinstance(results, (list, tuple)):
        results = [results]
    if variables is not None:
        if isinstance(variables, str):
            variables = [variables]
        if len(variables) == 0:
            raise input_error("variables", variables, "at least one state or observable name")
    if log is not None and not isinstance(log, bool):
        raise input_error("log", log, "True (log axes), False (linear) or None (the model's)")
    return clinical_figure(results, labels=labels, variables=variables, log=log, title=title,
                           markers=markers)


def readable_log_axis(axis: Any) -> None:
    """Ticks of a log-scale matplotlib axis (``ax.xaxis`` or ``ax.yaxis``) at 1, 2 and 5 per decade,
    labelled as plain numbers ("0.8", "2", "50"), without minor labels: a range under a decade
    then still reads cleanly instead of overlapping "8×10⁻¹9×10⁻¹10⁰"."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())
