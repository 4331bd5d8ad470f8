"""The result of one simulation: arrays, names and units, tables, plots and readouts."""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from crsim.base.convert import as_names
from crsim.base.errors import input_error
from crsim.model.extension import current_name, extension
from crsim.model.model import Model, tables
from crsim.results.plot import clinical_figure, plot_result
from crsim.results.readouts import summarize
from crsim.results.sensitivities import Sensitivities
from crsim.results.store import write_records
from crsim.scenario.scenario import scenario_from_call

__all__ = ["Result", "summary_readouts"]

Readouts = Tuple[Dict[str, Union[float, str]], Dict[str, str]]


def summary_readouts(result: "Result") -> Readouts:
    """Readouts from :meth:`Result.summary`: for every observable X, ``X.max`` (its unit),
    ``X.t_max`` (h), ``X.auc`` (h*unit) and ``X.last`` (its unit), from the output grid. The
    readouts of models whose extension (:mod:`crsim.model.extension`) defines none."""
    values: Dict[str, Union[float, str]] = {}
    units: Dict[str, str] = {}
    for name, s in result.summary().items():
        for key, value, unit in (("max", s["max"], s["unit"]), ("t_max", s["t_max_h"], "h"),
                                 ("auc", s["auc"], s["auc_unit"]), ("last", s["last"], s["unit"])):
            values[f"{name}.{key}"] = float(value)
            units[f"{name}.{key}"] = str(unit)
    return values, units


class Result:
    """Trajectory of one simulation (all times in h).

    Attributes:
        model: the :class:`Model` simulated.
        times: output times, array (T,), h.
        states: array (T, n_states), in ``state_units``.
        observables: array (T, n_observables), in ``observable_units``.
        state_names, state_units, observable_names, observable_units: lists of str.
        parameters: dict name -> value used (model units).
        weight: body weight in kg, or None.
        stats: solver statistics (steps, rhs_evaluations, jacobian_evaluations, restarts,
            rejected_steps, method).
        solver: solver settings used (method, rtol, atol, max_steps, max_step, initial_step).
        scenario: the :class:`crsim.Scenario` simulated (for a plain ``simulate`` call, the
            equivalent scenario with explicit output times); None only for a loaded file whose
            scenario this crsim cannot read (its JSON is in ``scenario_json``).
        readouts, readout_units: clinical readouts (name -> number or text) and their units.
        firings: the triggered policies that fired (DataFrame; empty when none).

    ``result["C"]`` is the (T,) array of any state or observable (states first if a name is both).
    """

    def __init__(self, model: Model, raw: Any, weight: Optional[float] = None,
                 t_start: float = 0.0, solver: Optional[Dict[str, Any]] = None):
        # raw: the engine's output, a bound _core.Trajectory (arrays are views into it) or a dict
        # with the same fields (a batch run, a results file)
        def get(key: str, default: Any = KeyError) -> Any:
            value = raw.get(key, default) if isinstance(raw, Mapping) else getattr(raw, key, default)
            if value is KeyError:
                raise KeyError(key)
            return value

        t = tables(model._info)
        self.model = model
        self.times: np.ndarray = get("times")
        self.states: np.ndarray = get("states")
        self.observables: np.ndarray = get("observables")
        self.state_names: List[str] = list(t.state_names)
        self.state_units: List[str] = list(t.state_units)
        self.state_dose_units: List[str] = list(t.state_dose_units)
        self.observable_names: List[str] = list(t.observable_names)
        self.observable_units: List[str] = list(t.observable_units)
        values = np.asarray(get("parameters"), dtype=float).tolist()
        self.parameters: Dict[str, float] = dict(zip(t.parameter_names, values))
        self.parameter_units: Dict[str, str] = dict(t.parameter_units)
        self.weight = weight
        self.t_start = t_start
        self.stats: Dict[str, Any] = dict(get("stats"))
        self._sens_names: List[str] = list(get("sensitivity_names"))
        self._state_sens: np.ndarray = get("state_sensitivities")
        self._obs_sens: np.ndarray = get("observable_sensitivities")
        self._doses: Dict[str, Any] = get("doses")
        self.solver: Dict[str, Any] = dict(solver or {"method": self.stats.get("method", "rosenbrock4")})
        self._scenario: Any = None
        self._scenario_json: Optional[str] = None
        self._call: Optional[Dict[str, Any]] = None   # simulate() arguments, for .scenario
        self._readouts: Optional[Readouts] = None     # set when loaded from a file
        self._firings: Optional[Dict[str, Any]] = get("firings", None)  # None when loaded from a file
        self._policies_used = False  # set by simulate: readouts then record the firings
        # The readout trajectory (engine runs of a model with readouts; never in results files):
        # solver step points, both sides of discontinuities, located threshold crossings.
        self._readout_times: Optional[np.ndarray] = get("readout_times", None)
        self._readout_states: Optional[np.ndarray] = get("readout_states", None)
        self._readout_observables: Optional[np.ndarray] = get("readout_observables", None)

    # --- scenario -----------------------------------------------------------------------------
    @property
    def scenario(self):
        """The :class:`crsim.Scenario` of this run (built on first use for plain simulate calls)."""
        if self._scenario is None and self._call is not None:
            self._scenario = scenario_from_call(**self._call)
            self._call = None
        return self._scenario

    @scenario.setter
    def scenario(self, value) -> None:
        self._scenario = value
        self._call = None

    @property
    def scenario_json(self) -> str:
        """The scenario as JSON text (as stored in results files)."""
        if self.scenario is not None:
            return self.scenario.to_json()
        return self._scenario_json or "{}"

    # --- readouts -----------------------------------------------------------------------------
    def _readout_trajectory(self, fallback: bool = True) -> Tuple[Any, Any, Any]:
        """(times (R,), states (R, n_states), observables (R, n_observables)) of the readout
        trajectory the engine recorded along this run (docs/package.md, "Readout trajectory"):
        the state at every accepted solver step, at both sides of every discontinuity (the same
        time twice: before, then after the doses) and at two points bracketing each crossing of the
        extension's ``readout_watch`` thresholds. Its points do not depend on the output grid.
        Without one (a model without readouts, a loaded file) the output grid, or (None, None,
        None) when ``fallback`` is False."""
        if self._readout_times is not None:
            return self._readout_times, self._readout_states, self._readout_observables
        if fallback:
            return self.times, self.states, self.observables
        return None, None, None

    def _readout_pair(self) -> Readouts:
        if self._readouts is None:
            # a result without output rows (a damaged or foreign file) has only the summary
            # readouts, all NaN: a model's clinical readouts need its course
            own = extension(self.model.name).readouts if len(self.times) else None
            fn = own or summary_readouts
            values, units = fn(self)
            if self._policies_used:  # the firings travel with the readouts (and into results files)
                values, units = dict(values), dict(units)
                table = self.firings
                values["policy_firings"] = float(len(table))
                units["policy_firings"] = ""
                values["policy_firings_json"] = json.dumps(table.to_dict(orient="records"))
            self._readouts = (values, units)
        return self._readouts

    # --- triggered policies -------------------------------------------------------------------
    _FIRING_COLUMNS = ["policy", "condition_met_h", "detected_h", "administered_h", "value", "reason"]

    @property
    def firings(self) -> pd.DataFrame:
        """The firings of triggered policies, in time order: policy (name), condition_met_h (when
        the condition started to hold, located on the solver's dense output), detected_h (when it
        counted: after ``sustained_h`` and the limits), administered_h (detected + delay), value (the
        watched variable at detection) and reason (text)."""
        if self._firings is not None:
            f = self._firings
            df = pd.DataFrame({"policy": list(f["policy"]), "condition_met_h": f["condition_met"],
                               "detected_h": f["detected"], "administered_h": f["administered"],
                               "value": f["value"], "reason": list(f["reason"])},
                              columns=self._FIRING_COLUMNS)
        else:  # loaded from a file: the readout text policy_firings_json
            text = (self._readouts or ({}, {}))[0].get("policy_firings_json")
            df = pd.DataFrame(json.loads(text) if isinstance(text, str) else [], columns=self._FIRING_COLUMNS)
        return df.astype({**{c: float for c in self._FIRING_COLUMNS[1:5]}, "policy": object, "reason": object})

    @property
    def readouts(self) -> Dict[str, Union[float, str]]:
        """Clinical readouts, name -> number (NaN = did not happen) or text. Models without
        clinical readouts give the :meth:`summary` numbers: ``X.max``, ``X.t_max``, ``X.auc``,
        ``X.last`` for every observable X."""
        return dict(self._readout_pair()[0])

    @property
    def readout_units(self) -> Dict[str, str]:
        """Unit of each numeric readout."""
        return dict(self._readout_pair()[1])

    # --- files --------------------------------------------------------------------------------
    def save(self, path: Any, name: Optional[str] = None) -> None:
        """Writes this result to a crsim results file (HDF5, docs/hdf5-schema.md), replacing the
        file atomically. ``name``: the scenario group name (default the scenario's name)."""
        if name is None:
            name = self.scenario.name if self.scenario is not None else self.model.name
        write_records(path, [(name, self)])

    # --- names and units ----------------------------------------------------------------------
    @property
    def variables(self) -> List[str]:
        """State names followed by observable names."""
        return self.state_names + self.observable_names

    @property
    def units(self) -> Dict[str, str]:
        """Unit of every state and observable by name."""
        u = dict(zip(self.observable_names, self.observable_units))
        u.update(zip(self.state_names, self.state_units))
        return u

    def _check_variable(self, name: Any, field: str) -> str:
        if isinstance(name, str) and name not in self.variables:
            name = current_name(self.model.name, name)
        if not isinstance(name, str) or name not in self.variables:
            raise input_error(field, name, "a state or observable of model " + self.model.name +
                              ", one of {" + ", ".join(self.variables) + "}")
        return name

    def __contains__(self, name: object) -> bool:
        return name in self.variables

    def __getitem__(self, name: str) -> np.ndarray:
        name = self._check_variable(name, "variable")
        if name in self.state_names:
            return self.states[:, self.state_names.index(name)]
        return self.observables[:, self.observable_names.index(name)]

    # --- doses --------------------------------------------------------------------------------
    @property
    def doses(self) -> pd.DataFrame:
        """The administrations applied (repeats expanded, lag and bioavailability applied):
        state, kind (bolus/infusion), time_h, amount and amount_unit (the state's dose unit),
        rate (amount_unit/h, 0 for a bolus), end_h (infusion end; = time_h for a bolus)."""
        d = self._doses
        dose_units = dict(zip(self.state_names, self.state_dose_units))
        return pd.DataFrame({
            "state": list(d["state"]),
            "kind": ["infusion" if r > 0 else "bolus" for r in d["rate"]],
            "time_h": d["time"],
            "amount": d["amount"],
            "amount_unit": [dose_units[s] for s in d["state"]],
            "rate": d["rate"],
            "end_h": d["end"],
        })

    # --- sensitivities ------------------------------------------------------------------------
    def sensitivities(self, output_names: Union[None, str, Sequence[str]] = None,
                      parameters: Union[None, str, Sequence[str]] = None) -> Sensitivities:
        """Forward sensitivities d output / d parameter, shape (T, n_outputs, n_parameters).

        Args:
            output_names: states and/or observables (default: all states, then all observables).
            parameters: among those requested with ``simulate(..., sensitivities=...)`` (default:
                all of them, in that order).
        """
        if not self._sens_names:
            raise input_error("sensitivities", None, "a result simulated with sensitivities=[...] "
                              "(parameter names or 'init:<state>'); this one has none")
        outs = self.variables if output_names is None else [
            self._check_variable(n, f"output_names[{i}]")
            for i, n in enumerate(as_names(output_names, "output_names", "state or observable names"))]
        pars = list(self._sens_names) if parameters is None else as_names(
            parameters, "parameters", "parameter names")
        for i, p in enumerate(pars):
            if p not in self._sens_names:
                raise input_error(f"parameters[{i}]", p, "one of the sensitivities computed {" +
                                  ", ".join(self._sens_names) + "}")
        cols = [self._sens_names.index(p) for p in pars]
        blocks = []
        for name in outs:
            if name in self.state_names:
                blocks.append(self._state_sens[:, self.state_names.index(name), :][:, cols])
            else:
                blocks.append(self._obs_sens[:, self.observable_names.index(name), :][:, cols])
        values = np.stack(blocks, axis=1) if blocks else np.zeros((len(self.times), 0, len(cols)))
        model_units = {**self.parameter_units, **dict(zip(self.state_names, self.state_units))}
        punits = [model_units.get(p[5:] if p.startswith("init:") else p, "") for p in pars]
        return Sensitivities(values=values, times=self.times, outputs=list(outs), parameters=pars,
                             output_units=[self.units[o] for o in outs], parameter_units=punits)

    # --- tables -------------------------------------------------------------------------------
    def to_xarray(self):
        """The trajectory as an ``xarray.Dataset``: coordinate ``time`` (h); one variable per
        observable and per state (a state whose name an observable also has is ``<name>_state``),
        each with ``units``, ``kind`` and ``description`` attributes; the model, its version, the
        parameter set and the scenario's name as dataset attributes. Needs xarray."""
        try:
            import xarray as xr
        except ImportError:
            raise input_error("to_xarray", "xarray",
                              "an installed xarray (pip install xarray)") from None
        model = self.model
        described = {r["name"]: r["description"] for table in (model.states, model.observables)
                     for r in table.to_dict("records")}
        data = {}
        for i, n in enumerate(self.observable_names):
            data[n] = ("time", np.asarray(self.observables[:, i]),
                       {"units": self.units[n], "kind": "observable",
                        "description": described.get(n, "")})
        for i, n in enumerate(self.state_names):
            key = n if n not in data else f"{n}_state"
            data[key] = ("time", np.asarray(self.states[:, i]),
                         {"units": self.state_units[i], "kind": "state",
                          "description": described.get(n, "")})
        ds = xr.Dataset(data, coords={"time": ("time", np.asarray(self.times), {"units": "h"})})
        sc = getattr(self, "scenario", None)
        ds.attrs.update({"model": model.name, "model_version": str(model.version),
                         "parameter_set": model.parameter_set or "",
                         "scenario": getattr(sc, "name", "") or ""})
        return ds

    def to_pandas(self, form: str = "wide") -> pd.DataFrame:
        """The trajectory as a DataFrame.

        ``form="wide"``: index ``time_h``, one column per state then observable; units in
        ``df.attrs["units"]`` (and the model name in ``df.attrs["model"]``).
        ``form="long"``: columns time_h, variable, value, unit, kind (``"state"`` or
        ``"observable"``), one row per time and variable.
        """
        if form == "wide":
            data = {n: self.states[:, i] for i, n in enumerate(self.state_names)}
            for i, n in enumerate(self.observable_names):
                data.setdefault(n, self.observables[:, i])
            df = pd.DataFrame(data, index=pd.Index(self.times, name="time_h"))
            df.attrs["units"] = {n: self.units[n] for n in df.columns}
            df.attrs["model"] = self.model.name
            return df
        if form == "long":
            T = len(self.times)
            values = np.concatenate([self.states, self.observables], axis=1)
            names = self.state_names + self.observable_names
            units = self.state_units + self.observable_units
            kinds = ["state"] * len(self.state_names) + ["observable"] * len(self.observable_names)
            k = len(names)
            return pd.DataFrame({
                "time_h": np.repeat(self.times, k),
                "variable": np.tile(np.asarray(names, dtype=object), T),
                "value": values.reshape(-1),
                "unit": np.tile(np.asarray(units, dtype=object), T),
                "kind": np.tile(np.asarray(kinds, dtype=object), T),
            })
        raise input_error("form", form, "'wide' or 'long'")

    # --- plots and readouts -------------------------------------------------------------------
    def plot(self, variables: Union[None, str, Sequence[str]] = None, ax: Any = None,
             log: Optional[bool] = None):
        """The clinical course (:func:`crsim.plot`): the model's panels from its extension (log
        axes where values span decades, the ASTCT thresholds, the grade, dose and policy-firing
        markers, the scenario as title), or for a model without panels its key variables (else
        all observables, else all states), one panel each. ``variables``: these instead, one panel
        each. ``log``: True/False forces log/linear axes. ``ax``: an Axes (one variable) or a
        sequence of Axes to draw the variables into (no figure of its own). Time in h, or in days
        for runs longer than 72 h; units in the axis labels. Returns the matplotlib Figure."""
        names = None if variables is None else as_names(variables, "variables",
                                                        "state or observable names")
        if names is not None:
            if not names:
                raise input_error("variables", variables, "at least one state or observable name")
            names = [self._check_variable(n, f"variables[{i}]") for i, n in enumerate(names)]
        if log is not None and not isinstance(log, bool):
            raise input_error("log", log, "True (log axes), False (linear) or None (the model's)")
        if ax is not None:
            return plot_result(self, names if names is not None else self.default_plot_variables,
                               ax)
        return clinical_figure([self], variables=names, log=log)

    @property
    def default_plot_variables(self) -> List[str]:
        """The variables :meth:`plot` draws when none are named."""
        return list(extension(self.model.name).plot_variables or self.observable_names
                    or self.state_names)

    def summary(self) -> Dict[str, Dict[str, object]]:
        """Readouts per observable from the output grid: unit, max (Cmax for a concentration),
        t_max_h, min, last, t_first_h, t_last_h, auc (trapezoidal, first to last output time, no
        extrapolation) and auc_unit. A peak between output times is missed: use a finer grid
        around it for an accurate Cmax."""
        return {n: summarize(self.times, self.observables[:, i], u)
                for i, (n, u) in enumerate(zip(self.observable_names, self.observable_units))}

    def __repr__(self) -> str:
        t = self.times
        span = f"{t[0]:g}-{t[-1]:g} h" if len(t) else "empty"
        w = "" if self.weight is None or math.isnan(self.weight) else f", weight {self.weight:g} kg"
        return (f"<crsim.Result model '{self.model.name}': {len(t)} times ({span}), "
                f"{len(self.state_names)} states, {len(self.observable_names)} observables, "
                f"{len(self._doses['time'])} administrations{w}>")
