"""An interactive explorer for notebooks: sliders and menus over a scenario, the course re-simulated
and re-drawn on every change, with the clinical summary in words. For a classroom: the model's
clinical figure (with the grade) over the base scenario's untreated course drawn faintly as a
reference, axes that do not jump between settings (they only widen), units on the controls, and
updates coalesced while a slider is being moved by keys.

Controls use the keys of :func:`crsim.scan` (``parameters.<name>``, ``regimen[i].amount``,
``patient.weight_kg``, ``strategy``, ``policy.delay_h``, ...), so whatever a scan can vary, the
explorer can put on a slider. Needs ``ipywidgets`` (``pip install ipywidgets``).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from crsim.base.errors import InputError, input_error
from crsim.model.extension import extension
from crsim.model.model import Model
from crsim.results.plot import clinical_figure
from crsim.run.demo import default_scenario
from crsim.run.scan import scan_scenarios
from crsim.run.simulate import simulate
from crsim.scenario.scenario import Scenario

__all__ = ["explore", "Explorer", "default_controls"]

#: Number of slider positions between the ends of a range.
SLIDER_STEPS = 40
#: Seconds a control must stay still before the course is re-simulated (changes in between, e.g.
#: from holding an arrow key, are coalesced into one run); only inside a running event loop
#: (Jupyter), elsewhere every change runs at once.
DEBOUNCE_S = 0.25


def default_controls(scenario: Scenario) -> Dict[str, Any]:
    """The controls the model's extension proposes (the CRS teaching explorer: tumor burden and
    CAR-T dose, log sliders over ±10-fold around the scenario's values, and the intervention
    strategy). For other models: every parameter the scenario sets, ±10-fold."""
    proposed = extension(scenario.model).explorer_controls
    if proposed is not None:
        return proposed(scenario)
    out: Dict[str, Any] = {}
    for name, value in scenario.parameters.items():
        if value > 0:
            out[f"parameters.{name}"] = (value / 10, value * 10)
    return out


def current_values(scenario: Scenario, keys: Sequence[str]) -> Dict[str, Any]:
    """The scenario's value of each control key (parameters: the scenario's or the model's)."""
    model = Model(scenario.model, scenario.parameter_set)
    out: Dict[str, Any] = {}
    for key in keys:
        if key.startswith("parameters."):
            name = key.split(".", 1)[1]
            if name not in model.parameter_names:
                raise input_error(f"controls[{key!r}]", name, "a parameter of model " + model.name)
            out[key] = float(scenario.parameters.get(name, model.parameter_values[name]))
        elif key.startswith("regimen[") and key.endswith("].amount"):
            i = int(key[len("regimen["):-len("].amount")])
            doses = scenario.doses
            if not 0 <= i < len(doses):
                raise input_error(f"controls[{key!r}]", i, f"a regimen entry index in [0, {len(doses)})")
            out[key] = float(doses[i].amount)
        elif key == "patient.weight_kg":
            out[key] = scenario.patient.weight_kg
        elif key == "strategy":
            out[key] = "none" if not scenario.policies else None
        else:
            out[key] = None
    return out


class Explorer:
    """The explorer's state: the base scenario, the current control values, the latest
    :class:`crsim.Result` (``result``) and the widget (``widget``; displayed when the Explorer is
    the value of a notebook cell). ``set(key, value)`` changes a control as a user would."""

    def __init__(self, scenario: Scenario, controls: Mapping[str, Any],
                 variables: Optional[Sequence[str]] = None):
        try:
            import ipywidgets as w
        except ImportError:
            raise InputError("crsim.explore needs ipywidgets: pip install ipywidgets") from None
        self.scenario = scenario
        self.values: Dict[str, Any] = {}
        self.result = None
        self.figure = None  # the latest course (matplotlib Figure)
        self.error: Optional[str] = None
        self._w = w
        self._variables = list(variables) if variables is not None else None
        self._sliders: Dict[str, Any] = {}
        self._ylims: Dict[int, tuple] = {}   # panel -> limits so far (axes only widen)
        self._pending = None                 # the scheduled (debounced) update
        try:  # the base scenario without any strategy: the faint reference course
            self.reference = simulate(scenario.replace(policies=[]))
        except (InputError, RuntimeError):
            self.reference = None
        current = current_values(scenario, list(controls))
        for key, spec in controls.items():
            self._sliders[key] = self._control(key, spec, current.get(key))
            self.values[key] = self._sliders[key].value
        self._summary = w.HTML()
        self._plot = w.Output()
        for key, s in self._sliders.items():
            s.observe(lambda change, k=key: self._changed(k, change["new"]), names="value")
        self.widget = w.VBox([w.VBox(list(self._sliders.values())), self._summary, self._plot])
        self._update()

    # --- controls ----------------------------------------------------------------------------
    def _control(self, key: str, spec: Any, value: Any):
        w = self._w
        labels = extension(self.scenario.model).control_labels
        label = labels.get(key) or key.replace("parameters.", "")
        unit = self._unit(key)
        if unit:
            label = f"{label} ({unit})"
        style = {"description_width": "initial"}
        layout = w.Layout(width="480px")
        if isinstance(spec, (list, tuple)) and spec and all(isinstance(v, str) for v in spec):
            options = list(spec)
            start = value if value in options else options[0]
            return w.Dropdown(options=options, value=start, description=label, style=style, layout=layout)
        if not (isinstance(spec, (list, tuple)) and len(spec) in (2, 3)
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in spec[:2])
                and spec[0] < spec[1]):
            raise input_error(f"controls[{key!r}]", spec, "(low, high) or (low, high, 'log'|'linear') "
                              "with low < high, or a list of option names")
        lo, hi = float(spec[0]), float(spec[1])
        scale = spec[2] if len(spec) == 3 else ("log" if lo > 0 and hi / lo >= 100 else "linear")
        if scale not in ("log", "linear") or (scale == "log" and lo <= 0):
            raise input_error(f"controls[{key!r}]", spec, "scale 'log' (with low > 0) or 'linear'")
        start = value if isinstance(value, (int, float)) and lo <= value <= hi else 0.5 * (lo + hi)
        if scale == "log":
            return w.FloatLogSlider(value=start, base=10, min=math.log10(lo), max=math.log10(hi),
                                    step=(math.log10(hi) - math.log10(lo)) / SLIDER_STEPS,
                                    description=label, style=style, layout=layout,
                                    continuous_update=False, readout_format=".3g")
        return w.FloatSlider(value=start, min=lo, max=hi, step=(hi - lo) / SLIDER_STEPS, description=label,
                             style=style, layout=layout, continuous_update=False, readout_format=".3g")

    def _unit(self, key: str) -> str:
        """The unit a control's value is in (a parameter's, a dose's, kg), or ''."""
        if key.startswith("parameters."):
            name = key.split(".", 1)[1]
            unit = Model(self.scenario.model, self.scenario.parameter_set).parameter_units.get(name, "")
            return "" if unit in ("", "1") else unit
        if key.startswith("regimen[") and key.endswith("].amount"):
            i = int(key[len("regimen["):-len("].amount")])
            doses = self.scenario.doses
            return doses[i].unit if 0 <= i < len(doses) else ""
        if key == "patient.weight_kg":
            return "kg"
        if key.endswith("_h"):
            return "h"
        return ""

    def _changed(self, key: str, value: Any) -> None:
        """A control moved (the widget's observer): record it and re-simulate once it stays still
        for DEBOUNCE_S inside an event loop (Jupyter), at once elsewhere."""
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or DEBOUNCE_S <= 0:
            self.set(key, value)
            return
        self.values[key] = value
        if self._pending is not None:
            self._pending.cancel()
        self._pending = loop.call_later(DEBOUNCE_S, self._update)

    def set(self, key: str, value: Any) -> "Explorer":
        """Sets a control (as moving its slider would) and re-simulates."""
        if key not in self._sliders:
            raise input_error("key", key, "a control of this explorer, one of {" + ", ".join(self._sliders) + "}")
        s = self._sliders[key]
        if hasattr(s, "options"):
            if value not in s.options:
                raise input_error(key, value, "one of {" + ", ".join(map(str, s.options)) + "}")
        else:
            lo, hi = (10 ** s.min, 10 ** s.max) if isinstance(s, self._w.FloatLogSlider) else (s.min, s.max)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and lo * (1 - 1e-12) <= value <= hi * (1 + 1e-12)):
                raise input_error(key, value, f"a number in [{lo:.4g}, {hi:.4g}] (the control's range)")
        self.values[key] = value
        if s.value != value:
            s.value = value  # fires observe -> set again with the same value; _update runs there
            return self
        self._update()
        return self

    # --- simulation and display --------------------------------------------------------------
    def current_scenario(self) -> Scenario:
        """The base scenario with the controls' current values applied."""

        grid: Dict[str, List[Any]] = {}
        for key, v in self.values.items():
            if key == "strategy":
                grid[key] = [[] if v == "none" else v]
            else:
                grid[key] = [v]
        _, scenarios = scan_scenarios(self.scenario, grid)
        return scenarios[0].replace(name=self.scenario.name)

    def _update(self) -> None:
        import matplotlib.pyplot as plt


        try:
            self.result = simulate(self.current_scenario())
            self.error = None
        except (InputError, RuntimeError) as ex:  # a setting the model cannot run: say so, keep going
            self.result, self.error = None, str(ex)
        self._summary.value = self.summary_html()
        self._plot.clear_output(wait=True)
        if self.result is not None:
            from IPython.display import display

            fig = clinical_figure([self.result], labels=["current"], variables=self._variables,
                                  reference=self.reference)
            self._steady_axes(fig)
            fig.set_size_inches(9, 1.0 + 1.5 * len(fig.axes))
            self.figure = fig
            with self._plot:
                display(fig)
            plt.close(fig)

    def _steady_axes(self, fig: Any) -> None:
        """Each panel's y-limits: the union of what it showed so far, so that a setting's course is
        read against the same axes as the one before (they widen when a course leaves them)."""
        for i, ax in enumerate(fig.axes):
            lo, hi = ax.get_ylim()
            if i in self._ylims:
                lo, hi = min(lo, self._ylims[i][0]), max(hi, self._ylims[i][1])
                ax.set_ylim(lo, hi)
            self._ylims[i] = (lo, hi)

    def summary_lines(self) -> List[str]:
        """The current run in words (the clinical summary of the model's extension, else the first
        readouts)."""
        if self.result is None:
            return [f"the run failed: {self.error}"]
        fn = extension(self.result.model.name).summary
        if fn is not None:
            return fn(self.result)
        return [f"{k}: {v:.4g}" for k, v in self.result.readouts.items() if isinstance(v, float)][:8]

    def summary_html(self) -> str:
        import html

        return "<br>".join(html.escape(line) for line in self.summary_lines())

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def explore(scenario: Union[None, str, Scenario] = None, controls: Optional[Mapping[str, Any]] = None,
            variables: Optional[Sequence[str]] = None) -> Explorer:
    """An interactive explorer of a scenario in a notebook.

    Args:
        scenario: a :class:`crsim.Scenario`, a scenario file path, or None for the default CRS
            scenario (tisagenlecleucel in paediatric B-ALL, untreated, 28 days).
        controls: key -> range or options. Keys as in :func:`crsim.scan`; a value is
            ``(low, high)`` (a slider; logarithmic when high/low >= 100), ``(low, high, "log")`` or
            ``(low, high, "linear")``, or a list of names (a menu; for ``strategy``: ``"none"`` or
            standard strategy names). Default: :func:`default_controls` (CRS: tumor burden, CAR-T
            dose, strategy).
        variables: what to plot (default: the model's key variables).

    Returns:
        An :class:`Explorer`; as the last value of a cell it shows the controls, the clinical
        summary and the course. Every change re-simulates (one CRS run takes about 20 ms).
    """

    if scenario is None:
        sc = default_scenario()
    elif isinstance(scenario, Scenario):
        sc = scenario
    elif isinstance(scenario, str):
        sc = Scenario.from_file(scenario)
    else:
        raise input_error("scenario", scenario, "a crsim.Scenario, a scenario file path, or None")
    if controls is None:
        controls = default_controls(sc)
    if not isinstance(controls, Mapping) or not controls:
        raise input_error("controls", controls, "a non-empty dict key -> (low, high) or list of options")
    return Explorer(sc, controls, variables)
