"""Models: metadata of the built-in models and of users' own models as pandas DataFrames."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Union

import pandas as pd

from crsim import _core
from crsim.base.errors import input_error
from crsim.model.parameter_sets import model_parameter_set
from crsim.model.usermodels import is_model_file, load, load_file

__all__ = ["Model", "models", "as_model"]


_infos: Dict[tuple, Dict[str, Any]] = {}


#: A model parameter of this name (kg) is the patient's body weight (doses per kg scale with it).
WEIGHT_PARAMETER = "body_weight"


def model_info(name: str) -> Dict[str, Any]:
    """The engine's description of a model (states, parameters, observables, ...), asked once per
    model (a user model loaded again from another library is asked again). Shared: do not modify."""
    key = (name, _core.user_models().get(name))
    info = _infos.get(key)
    if info is None:
        info = _infos[key] = _core.model_info(name)
    return info


class _Tables:
    """Names and units of one model description, derived once (model descriptions do not change)."""

    def __init__(self, info: Dict[str, Any]):
        self.info = info
        self.state_names = tuple(s["name"] for s in info["states"])
        self.state_units = tuple(s["unit"] for s in info["states"])
        self.state_dose_units = tuple(s["dose_unit"] for s in info["states"])
        self.parameter_names = tuple(q["name"] for q in info["parameters"])
        self.parameter_units = {q["name"]: q["unit"] for q in info["parameters"]}
        self.observable_names = tuple(o["name"] for o in info["observables"])
        self.observable_units = tuple(o["unit"] for o in info["observables"])


_tables_of: Dict[int, _Tables] = {}


def tables(info: Dict[str, Any]) -> _Tables:
    """The names and units of a model description (from :func:`model_info`), derived once."""
    t = _tables_of.get(id(info))
    if t is None or t.info is not info:
        t = _tables_of[id(info)] = _Tables(info)
    return t


def models() -> List[str]:
    """Names of the models: the built-in ones (``crs``, ``pk1``, ``pk1_oral``, ``pk2``, ...) and the
    users' models loaded in this process (:meth:`Model.from_antimony`, :meth:`Model.from_sbml`)."""
    return list(_core.models())


class Model:
    """A model (built in, or your own: :meth:`from_antimony`, :meth:`from_sbml`): its states,
    parameters and observables with units and sources.

    ``Model(name, parameter_set=None)`` looks the model up in the engine's registry (unknown names
    raise :class:`crsim.InputError` listing the known ones); a path to a model source file
    (``.ant``, ``.xml``, ``.sbml``) loads it as :meth:`from_antimony` / :meth:`from_sbml` do. Models whose numbers live in cited
    parameter-set files (``data/parameters/*.json``, e.g. the CRS model) take their default set
    unless ``parameter_set`` names another set (file stem) or gives a path; the set is checked
    against the model (every parameter given, units equal, values within bounds). The object is
    immutable; the tables are new DataFrames on every access.

    Attributes:
        name, description, version: strings.
        sources: list of citations for the model structure and its default parameters.
        states: DataFrame (name, unit, dose_unit, description); ``dose_unit`` is empty for states
            that take no doses.
        parameters: DataFrame (name, value, unit, lower, upper, description, source); ``value``
            is the default, ``[lower, upper]`` the admissible range.
        observables: DataFrame (name, unit, description).
        parameter_values: dict name -> default value (in the parameter's unit).
        parameter_set: name of the parameter set in use (None for models with built-in defaults).
        patient: the patient covariates the set assumes, name -> value.
        variability: DataFrame (name, omega, cv, source, origin): the published between-patient
            variability the set declares (the default of :func:`crsim.population`); omega 0 rows
            are parameters the set deliberately does not vary, with the reason as their source.
        correlations: DataFrame (a, b, r, source, origin) between those random effects.
    """

    def __init__(self, name: Union[str, "Model"], parameter_set: Optional[str] = None):
        if isinstance(name, Model):
            if parameter_set is None:
                parameter_set = name.parameter_set
            name = name.name
        if not isinstance(name, str):
            raise input_error("model", name, "a model name (str), one of {" + ", ".join(models()) + "}")

        if is_model_file(name):  # a model source file of your own: compiled (cached) and loaded
            name = load_file(name)
        self._info: Dict[str, Any] = model_info(name)
        self._t = tables(self._info)
        self._set: Optional[Dict[str, Any]] = None
        spec = parameter_set or self._info.get("default_parameter_set") or None
        if spec is not None:  # read and checked once per process (until a file changes)
            self._set, self._values = model_parameter_set(name, spec)
        else:
            self._values = {p["name"]: p["default"] for p in self._info["parameters"]}

    # --- users' own models ----------------------------------------------------------------------
    @classmethod
    def from_antimony(cls, text: Union[str, "os.PathLike"], *, name: Optional[str] = None) -> "Model":
        """A model of your own, written in Antimony (text, or the path of a .ant file).

        The model is compiled to C++ and into a shared library by the system C++ compiler the first
        time (seconds; see docs/models.md), cached per user ($CRSIM_CACHE_DIR, else
        ~/.cache/crsim) and loaded: afterwards it is used by name everywhere (``crsim.simulate``,
        scenarios, ``crsim.fit``, ``crsim.population``, results files) like a built-in model, and a
        later load of the same source is instant. Parameter values come from the source.
        ``name`` overrides the model's name (default: ``model <name>() ... end`` or
        ``//@ model name=...``). Errors in the source raise :class:`crsim.InputError` naming the
        line or the element; a name of a built-in model is refused.
        """

        return cls(load(text, kind="antimony", name=name))

    @classmethod
    def from_sbml(cls, path_or_text: Union[str, "os.PathLike"], *, name: Optional[str] = None
                  ) -> "Model":
        """A model of your own from SBML (a file path, or the XML text), compiled and loaded as
        :meth:`from_antimony` does. SBML constructs crsim does not integrate (events, algebraic
        rules, delays, fast reactions, non-constant compartments, ...) raise
        :class:`crsim.InputError` naming the construct and the element id."""

        return cls(load(path_or_text, kind="sbml", name=name))

    # --- identity -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._info["name"]

    @property
    def description(self) -> str:
        return self._info["description"]

    @property
    def version(self) -> str:
        return self._info["version"]

    @property
    def sources(self) -> List[str]:
        """Citations of the model structure and of the parameter set in use."""
        out = list(self._info["sources"])
        for src in (self._set or {}).get("sources", []):
            if src not in out:
                out.append(src)
        return out

    @property
    def parameter_set(self) -> Optional[str]:
        return None if self._set is None else self._set["name"]

    @property
    def patient(self) -> Dict[str, float]:
        """Patient covariates assumed by the parameter set (name -> value in the parameter unit)."""
        if self._set is None:
            return {}
        return {k: self._values[k] for k in self._set["patient"]}

    @property
    def default_regimen(self) -> Dict[str, Dict[str, Any]]:
        """The regimen the parameter set was calibrated with (name -> {value, unit, source})."""
        return {} if self._set is None else {k: dict(v) for k, v in self._set["regimen"].items()}

    @property
    def variability(self) -> pd.DataFrame:
        """The between-patient variability the parameter set declares, from its sources: one row
        per parameter (name, omega: SD of the log-normal random effect, cv: as published or NaN,
        source, origin: the file that declares it). Rows with omega 0 say why a parameter is not
        varied. Empty for models without a parameter set or sets that declare none."""
        rows = [{"name": k, **{c: v[c] for c in ("omega", "cv", "source", "origin")}}
                for k, v in sorted((self._set or {}).get("variability", {}).items())]
        return pd.DataFrame(rows, columns=["name", "omega", "cv", "source", "origin"])

    @property
    def correlations(self) -> pd.DataFrame:
        """Correlations between the random effects of :attr:`variability` (a, b, r, source,
        origin)."""
        rows = [{"a": c["between"][0], "b": c["between"][1], "r": c["r"], "source": c["source"],
                 "origin": c["origin"]} for c in (self._set or {}).get("correlations", [])]
        return pd.DataFrame(rows, columns=["a", "b", "r", "source", "origin"])

    # --- tables -------------------------------------------------------------------------------
    @property
    def states(self) -> pd.DataFrame:
        return pd.DataFrame(self._info["states"], columns=["name", "unit", "dose_unit", "description"])

    @property
    def parameters(self) -> pd.DataFrame:
        entries = (self._set or {}).get("parameters", {})
        rows = []
        for p in self._info["parameters"]:
            row = {**p, "value": self._values[p["name"]]}
            if p["name"] in entries:
                row["source"] = entries[p["name"]]["source"]
            rows.append(row)
        return pd.DataFrame(rows, columns=["name", "value", "unit", "lower", "upper", "description",
                                           "source"])

    @property
    def observables(self) -> pd.DataFrame:
        return pd.DataFrame(self._info["observables"], columns=["name", "unit", "description"])

    # --- plain lookups ------------------------------------------------------------------------
    @property
    def parameter_values(self) -> Dict[str, float]:
        return dict(self._values)

    @property
    def state_names(self) -> List[str]:
        return list(self._t.state_names)

    @property
    def parameter_names(self) -> List[str]:
        return list(self._t.parameter_names)

    @property
    def observable_names(self) -> List[str]:
        return list(self._t.observable_names)

    @property
    def state_units(self) -> List[str]:
        return list(self._t.state_units)

    @property
    def state_dose_units(self) -> List[str]:
        """Dose unit of every state ('' when the state takes no doses)."""
        return list(self._t.state_dose_units)

    @property
    def observable_units(self) -> List[str]:
        return list(self._t.observable_units)

    @property
    def parameter_units(self) -> Dict[str, str]:
        return dict(self._t.parameter_units)

    def units(self) -> Dict[str, str]:
        """Unit of every state, observable and parameter by name."""
        out = {p["name"]: p["unit"] for p in self._info["parameters"]}
        out.update({s["name"]: s["unit"] for s in self._info["states"]})
        out.update({o["name"]: o["unit"] for o in self._info["observables"]})
        return out

    def dose_unit(self, state: str) -> str:
        """The unit doses into ``state`` are given in ('' when the state takes no doses)."""
        for s in self._info["states"]:
            if s["name"] == state:
                return s["dose_unit"]
        raise input_error("state", state, "one of {" + ", ".join(self.state_names) + "}")

    # --- Python protocol ----------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Model) and other.name == self.name
                and other.parameter_set == self.parameter_set)

    def __hash__(self) -> int:
        return hash(("crsim.Model", self.name, self.parameter_set))

    def __repr__(self) -> str:
        i = self._info
        return (f"<crsim.Model '{self.name}': {len(i['states'])} states, {len(i['parameters'])} "
                f"parameters, {len(i['observables'])} observables"
                + (f", parameter set '{self.parameter_set}'" if self._set else "")
                + f" - {self.description}>")


def as_model(model: Union[str, Model], field: str = "model") -> Model:
    """``model`` as a Model (names are looked up)."""
    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        return Model(model)
    raise input_error(field, model, "a model name (str) or crsim.Model, one of {" +
                      ", ".join(models()) + "}")
